#!/usr/bin/env python3
"""Regenerate the IDX fixtures in this directory (Python 3 standard library only).

    python3 tests/data/idx/make_fixtures.py

Every file is tiny and byte-for-byte reproducible (gzip mtime 0, no file name in the
header). README.md lists what the reader must say about each; tests/it/data_idx.rs checks it.
"""

import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = 0x00000803
LABELS = 0x00000801


def images(count, rows, cols, pixels, magic=IMAGES):
    return struct.pack(">IIII", magic, count, rows, cols) + bytes(pixels)


def labels(values, count=None, magic=LABELS):
    return struct.pack(">II", magic, len(values) if count is None else count) + bytes(values)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def noise(n, seed):
    """Deterministic pseudo-random bytes (a 32-bit LCG), incompressible enough for cut tests."""
    out, x = bytearray(), seed
    for _ in range(n):
        x = (x * 1664525 + 1013904223) & 0xFFFFFFFF
        out.append(x >> 24)
    return bytes(out)


# 3 images of 2x2 and their labels: the reference "good" pair.
GOOD_IMAGES = images(3, 2, 2, range(0, 240, 20))
GOOD_LABELS = labels([1, 0, 2])
# A bigger, noisy file so that cutting its gzip stream lands inside the compressed data.
NOISY_IMAGES = images(4, 8, 8, noise(256, 7))

FIXTURES = {
    # --- valid -------------------------------------------------------------------------------
    "good-images-idx3-ubyte": GOOD_IMAGES,
    "good-labels-idx1-ubyte": GOOD_LABELS,
    "good-images-idx3-ubyte.gz": gz(GOOD_IMAGES),
    "good-labels-idx1-ubyte.gz": gz(GOOD_LABELS),
    # gzip content under a name without .gz: detected by its magic.
    "good-images-gzip-content-idx3-ubyte": gz(GOOD_IMAGES),
    # Two concatenated gzip members, as `cat a.gz b.gz` makes: one file.
    "good-images-two-members-idx3-ubyte.gz": gz(GOOD_IMAGES[:10]) + gz(GOOD_IMAGES[10:]),
    # An MNIST-style directory using every accepted spelling of the names.
    "tiny/train-images-idx3-ubyte.gz": gz(images(4, 2, 3, range(0, 240, 10))),
    "tiny/train-labels-idx1-ubyte": labels([0, 1, 2, 1]),
    "tiny/t10k-images.idx3-ubyte": images(2, 2, 3, range(100, 112)),
    "tiny/t10k-labels.idx1-ubyte.gz": gz(labels([2, 0])),
    # --- wrong magic -------------------------------------------------------------------------
    "images-magic-labels-idx3-ubyte": GOOD_LABELS,  # a labels file where images are expected
    "labels-magic-images-idx1-ubyte": GOOD_IMAGES,  # an images file where labels are expected
    "images-float-idx3-ubyte": images(1, 1, 1, b"\0\0\0\0", magic=0x00000D03),
    "garbage-idx3-ubyte": b"GARBAGE!" + noise(56, 3),
    # --- bad dimensions ----------------------------------------------------------------------
    "images-zero-rows-idx3-ubyte": images(3, 0, 2, b""),
    "images-zero-count-idx3-ubyte": images(0, 28, 28, b""),
    "labels-zero-count-idx1-ubyte": labels([]),
    "images-overflow-idx3-ubyte": images(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, b""),
    # --- wrong size --------------------------------------------------------------------------
    "empty-idx3-ubyte": b"",
    "images-short-header-idx3-ubyte": GOOD_IMAGES[:10],
    "images-truncated-idx3-ubyte": GOOD_IMAGES[:-3],
    "images-truncated-idx3-ubyte.gz": gz(GOOD_IMAGES[:-3]),
    "labels-truncated-idx1-ubyte": GOOD_LABELS[:-1],
    # Headers that claim gigabytes backed by a few bytes: must fail fast, without allocating.
    "images-huge-count-idx3-ubyte": images(0xFFFFFFFF, 28, 28, bytes(784)),
    "images-huge-count-idx3-ubyte.gz": gz(images(0xFFFFFFFF, 28, 28, bytes(784))),
    "labels-huge-count-idx1-ubyte": labels([1, 2, 3], count=0xFFFFFFFF),
    "labels-huge-count-idx1-ubyte.gz": gz(labels([1, 2, 3], count=0xFFFFFFFF)),
    "images-trailing-idx3-ubyte": GOOD_IMAGES + b"extra",
    "images-trailing-idx3-ubyte.gz": gz(GOOD_IMAGES + b"extra"),
    "labels-trailing-idx1-ubyte": GOOD_LABELS + b"\x07",
    # --- gzip problems -----------------------------------------------------------------------
    "images-not-gzip-idx3-ubyte.gz": GOOD_IMAGES,
    "images-cut-idx3-ubyte.gz": gz(NOISY_IMAGES)[: len(gz(NOISY_IMAGES)) // 2],
    "images-cut-trailer-idx3-ubyte.gz": gz(NOISY_IMAGES)[:-4],
    "images-bad-crc-idx3-ubyte.gz": (lambda z: z[:-8] + bytes([z[-8] ^ 0xFF]) + z[-7:])(gz(NOISY_IMAGES)),
    "images-garbage-after-gzip-idx3-ubyte.gz": gz(GOOD_IMAGES) + b"junk",
    "images-empty-gzip-idx3-ubyte.gz": gz(b""),
    # --- pairs -------------------------------------------------------------------------------
    "mismatch-labels-idx1-ubyte": labels([1, 0]),  # 2 labels for good-images' 3 images
    "label-255-labels-idx1-ubyte": labels([1, 255, 0]),
}


def main():
    for name, data in FIXTURES.items():
        path = os.path.join(HERE, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    total = sum(len(d) for d in FIXTURES.values())
    print(f"wrote {len(FIXTURES)} fixtures, {total} bytes")


if __name__ == "__main__":
    main()
