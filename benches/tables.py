#!/usr/bin/env python3
"""Big tables: reading and holding them, against pandas, on this machine, one run.

For 1 M, 4 M and 16 M rows of 20 float features and a 0/1 label (CSV written by NumPy with
%.6g, as in the issue that asked for this; and the same as a float32 .npy pair), per file:
- `gpunn train --data FILE --epochs 1 --device cpu`: wall time and peak RSS
  (`/usr/bin/time -v`), the epoch's own time (its --metrics history) and so what the rest
  (reading, splitting, scaling, testing) took;
- the data as f32 (rows x 20 x 4 bytes) and the peak over it (target: at most 1.5x plus a fixed
  overhead);
- pandas `read_csv` of the same file (wall time, in its own process) beside gpunn's read
  (`gpunn train --dry-run`, which reads and resolves the run, then stops).

    python benches/tables.py [--rows 1000000,4000000,16000000] [--dir /tmp/gpunn-tables]

Files are generated once into --dir and reused (16 M rows is 3 GB of CSV). Build the binary
first (`cargo build --release`); GPUNN_BIN overrides target/release/gpunn. Run it alone: a
build in the background halves every figure.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FEATURES = 20


def write_files(rows, directory):
    """`rows` x (20 features + label) as CSV and as a .npy pair, made once."""
    csv, x, y = (directory / f"t{rows}.{ext}" for ext in ("csv", "x.npy", "y.npy"))
    if csv.exists() and x.exists() and y.exists():
        return csv, x, y
    rng = np.random.default_rng(rows)
    xs = np.lib.format.open_memmap(x, mode="w+", dtype=np.float32, shape=(rows, FEATURES))
    ys = np.lib.format.open_memmap(y, mode="w+", dtype=np.int64, shape=(rows,))
    w = rng.standard_normal(FEATURES)
    with open(csv, "w") as f:
        f.write(",".join([f"f{i}" for i in range(FEATURES)] + ["label"]) + "\n")
        for start in range(0, rows, 250_000):
            n = min(250_000, rows - start)
            chunk = rng.standard_normal((n, FEATURES))
            label = (chunk @ w + 0.5 * rng.standard_normal(n) > 0).astype(np.int64)
            np.savetxt(f, np.column_stack([chunk, label]), fmt="%.6g", delimiter=",")
            xs[start:start + n] = chunk
            ys[start:start + n] = label
    xs.flush()
    ys.flush()
    return csv, x, y


def timed(cmd):
    """Wall seconds, peak RSS in MB (/usr/bin/time -v) and stdout of `cmd`."""
    start = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-v", *map(str, cmd)], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{out.stderr[-2000:]}")
    kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    return wall, kib / 1024, out.stdout


def pandas_read(csv):
    code = ("import sys, time, pandas as pd; t = time.perf_counter(); pd.read_csv(sys.argv[1]); "
            "print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code, str(csv)], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="1000000,4000000,16000000")
    ap.add_argument("--dir", default="/tmp/gpunn-tables")
    a = ap.parse_args()
    binary = Path(os.environ.get("GPUNN_BIN", ROOT / "target" / "release" / "gpunn"))
    directory = Path(a.dir)
    directory.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores; gpunn {binary}")
    print("| rows | file | as f32 | read: pandas | read: gpunn | train --epochs 1: wall | of which the epoch "
          "| peak RSS | peak / f32 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for rows in [int(r) for r in a.rows.split(",")]:
        csv, x, y = write_files(rows, directory)
        f32 = rows * FEATURES * 4 / 1e6
        for label, data in [("CSV", ["--data", csv]), (".npy", ["--data", x, "--labels", y])]:
            common = [*data, "--epochs", 1, "--device", "cpu"]
            read_wall, _, _ = timed([binary, "train", *common, "--dry-run"])
            metrics = directory / "metrics.json"
            wall, peak, _ = timed([binary, "train", *common, "--metrics", metrics])
            epoch = sum(r["seconds"] for r in json.loads(metrics.read_text())["history"])
            pandas = f"{pandas_read(csv):.2f} s" if label == "CSV" else "-"
            size = (csv.stat().st_size if label == "CSV" else x.stat().st_size + y.stat().st_size) / 1e6
            print(f"| {rows / 1e6:g} M ({label}) | {size:,.0f} MB | {f32:,.0f} MB | {pandas} | {read_wall:.2f} s "
                  f"| {wall:.2f} s | {epoch:.2f} s | {peak:,.0f} MB | {peak / f32:.2f} |", flush=True)


if __name__ == "__main__":
    main()
