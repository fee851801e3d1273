"""Writes the corpus of broken tables that tests/it/tables_faults.rs feeds to `gpunn train`.

Run from this directory: python3 make_broken.py (needs NumPy). Each file breaks one rule; the
test names the error each must give (file, and line and column, array or key).
"""
import io
import struct
import zipfile

import numpy as np

def text(name, body):
    with open(name, "w") as f:
        f.write(body)

# CSV
text("ragged.csv", "a,b,label\n1,2,0\n3,4,1\n5,0\n6,7,1\n")
text("not_a_number.csv", "a,b,label\n1,2,0\n3,x7,1\n")
text("nan_feature.csv", "a,b,label\n1,2,0\n3,nan,1\n")
text("inf_feature.csv", "1,2,0\n3,4,1\ninf,1,0\n")
text("fractional_label.csv", "a,b,label\n1,2,0\n3,4,2.5\n")
text("negative_label.csv", "a,b,label\n1,2,0\n3,4,-1\n")
text("empty.csv", "")
text("header_only.csv", "a,b,label\n")
text("good.csv", "a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,10,0\n11,12,1\n")

# .npy
def npy(name, arr):
    np.save(name, arr)

x = np.arange(20, dtype=np.float32).reshape(10, 2)
y = np.array([0, 1] * 5, dtype=np.int64)
npy("x.npy", x)
npy("y.npy", y)
npy("y_short.npy", y[:7])
npy("complex.npy", np.zeros((10, 2), dtype=np.complex64))
npy("big_endian.npy", x.astype(">f4"))
npy("fortran.npy", np.asfortranarray(np.arange(20, dtype=np.float64).reshape(10, 2)))
npy("four_d.npy", np.zeros((2, 2, 2, 2), dtype=np.float32))
buf = io.BytesIO(); np.save(buf, x); raw = buf.getvalue()
with open("truncated.npy", "wb") as f:
    f.write(raw[:-13])
# A header that claims 10^12 rows: the reader must refuse, not allocate.
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 2), }"
hdr += " " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + "\n"
with open("huge_claim.npy", "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + raw[-80:])
with open("not_npy.npy", "wb") as f:
    f.write(b"this is not numpy\n")

# .npz
np.savez("no_labels.npz", x_train=x)
np.savez("mismatch.npz", x_train=x, y_train=y[:9])
xn = x.copy(); xn[3, 1] = np.nan
np.savez("nan.npz", x_train=xn, y_train=y)
np.savez("wrong_keys.npz", features=x, targets=y)
np.savez("bad_test.npz", x_train=x, y_train=y, x_test=np.zeros((4, 3), dtype=np.float32),
         y_test=y[:4])
with open("not_zip.npz", "wb") as f:
    f.write(b"PK\x03\x04 but not really a zip archive")
