#!/usr/bin/env python3
"""Regenerate the checkpoint fixtures in this directory (Python 3 standard library only).

    python3 tests/data/checkpoints/make_fixtures.py

A gpunn checkpoint is a safetensors file: an 8-byte little-endian header length, a JSON header
(tensor names, dtypes, shapes, data offsets and a `__metadata__` string map), then the raw
tensor data. Every fixture here is a small variation of one good 784-4-10 model trained on
nothing (deterministic weights), so `gpunn eval` (on the bundled mnist-sample) and
`gpunn predict` accept the good one. README.md lists what the reader must say about each
broken one; tests/it/faults.rs feeds them through the CLI, and fuzz/ uses them as seeds.
"""

import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [784, 4, 10]


def values(n, seed):
    """n deterministic floats in [-0.05, 0.05) (a 32-bit LCG)."""
    out, x = [], seed
    for _ in range(n):
        x = (x * 1664525 + 1013904223) & 0xFFFFFFFF
        out.append(((x >> 8) / float(1 << 24) - 0.5) * 0.1)
    return out


def f32(vals):
    return struct.pack("<%df" % len(vals), *vals)


def tensors(sizes=SIZES):
    """The layer tensors, in file order: (name, dtype, shape, bytes)."""
    out = []
    for i in range(len(sizes) - 1):
        n_in, n_out = sizes[i], sizes[i + 1]
        out.append(("layers.%d.weight" % i, "F32", [n_out, n_in], f32(values(n_out * n_in, 2 * i + 1))))
        out.append(("layers.%d.bias" % i, "F32", [n_out], f32(values(n_out, 2 * i + 2))))
    return out


META = {
    "format": "gpunn-mlp",
    "version": "1",
    "layers": "784,4,10",
    "activations": "relu,softmax",
    "loss": "ce",
    "input_shape": "28,28",
    "classes": "10",
    "dataset": "mnist-sample",
    "epoch": "1",
    "class_names": "0,1,2,3,4,5,6,7,8,9",
}


def safetensors(ts, meta=META, header_len=None):
    header, offset, data = {}, 0, b""
    if meta is not None:
        header["__metadata__"] = meta
    for name, dtype, shape, raw in ts:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)  # the alignment padding safetensors writers add
    n = len(text) if header_len is None else header_len
    return struct.pack("<Q", n) + text + data


def with_meta(**kv):
    m = dict(META)
    for k, v in kv.items():
        if v is None:
            m.pop(k, None)
        else:
            m[k] = v
    return m


def replace(name, dtype=None, shape=None, raw=None):
    out = []
    for n, d, s, r in tensors():
        if n == name:
            d, s, r = dtype or d, shape or s, raw if raw is not None else r
        out.append((n, d, s, r))
    return out


GOOD = safetensors(tensors())
W0 = tensors()[0][3]
NAN_W0 = b"\x00\x00\xc0\x7f" + W0[4:]

FIXTURES = {
    # --- valid ---------------------------------------------------------------------------------
    "good.safetensors": GOOD,
    # --- not a safetensors file ----------------------------------------------------------------
    "empty.safetensors": b"",
    "short.safetensors": b"\x10\x00\x00",
    "garbage.safetensors": bytes((i * 73 + 41) & 0xFF for i in range(600)),
    "text.safetensors": b"this is a text file, not a model\n" * 4,
    "huge-header-len.safetensors": safetensors(tensors(), header_len=0xFFFFFFFFFFFFFFF0),
    "header-len-beyond-file.safetensors": safetensors(tensors(), header_len=len(GOOD)),
    "header-not-json.safetensors": struct.pack("<Q", 16) + b"{not json at all" + b"\x00" * 8,
    "truncated.safetensors": GOOD[: len(GOOD) - 100],
    "trailing.safetensors": GOOD + b"\x00" * 12,
    # --- safetensors, but not a valid gpunn network ----------------------------------------------
    "no-metadata.safetensors": safetensors(tensors(), meta=None),
    "wrong-format.safetensors": safetensors(tensors(), meta=with_meta(format="pytorch")),
    "wrong-version.safetensors": safetensors(tensors(), meta=with_meta(version="9")),
    "no-layers-key.safetensors": safetensors(tensors(), meta=with_meta(layers=None)),
    "zero-layer-size.safetensors": safetensors(tensors(), meta=with_meta(layers="784,0,10")),
    "bad-activation.safetensors": safetensors(tensors(), meta=with_meta(activations="relu,swish")),
    "bad-input-shape.safetensors": safetensors(tensors(), meta=with_meta(input_shape="28,27")),
    "missing-tensor.safetensors": safetensors([t for t in tensors() if t[0] != "layers.1.bias"]),
    "extra-tensor.safetensors": safetensors(tensors() + [("layers.2.weight", "F32", [1], f32([0.0]))]),
    "shape-transposed.safetensors": safetensors(replace("layers.0.weight", shape=[784, 4])),
    "shape-disagrees.safetensors": safetensors(
        tensors(), meta=with_meta(layers="784,5,10")
    ),
    "wrong-dtype.safetensors": safetensors(replace("layers.1.bias", dtype="I32")),
    "nan-weight.safetensors": safetensors(replace("layers.0.weight", raw=NAN_W0)),
    "classes-too-few.safetensors": safetensors(tensors(), meta=with_meta(classes="3")),
    "classes-huge.safetensors": safetensors(tensors(), meta=with_meta(classes="18446744073709551615")),
    "dataset-missing-dir.safetensors": safetensors(tensors(), meta=with_meta(dataset="/nonexistent/gpunn-data")),
    "dataset-disagrees.safetensors": safetensors(tensors(), meta=with_meta(dataset="circles")),
    "not-784-inputs.safetensors": safetensors(
        tensors([2, 3, 2]), meta=with_meta(layers="2,3,2", input_shape="2", classes="2", dataset="circles")
    ),
}


def main():
    for name, data in FIXTURES.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    print("wrote %d fixtures to %s" % (len(FIXTURES), HERE))


if __name__ == "__main__":
    main()
