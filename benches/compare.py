#!/usr/bin/env python3
"""Training throughput in one run: gpunn (CPU and GPU) against a plain-NumPy MLP and PyTorch.

Same model, batch, data shape and optimiser everywhere: an MLP with ReLU hidden layers and a
softmax-cross-entropy output, plain SGD, MNIST-shaped inputs (784 u8 pixels scaled to [0,1],
10 classes). Each contender trains a warm-up, then a fixed number of timed steps; the figure
is samples per second. Everything runs back to back on this machine, so the ratios are
comparable even when the machine is noisy; absolute numbers vary from run to run.

    python3 benches/compare.py                       # 784-128-64-10, batch 128
    python3 benches/compare.py --layers 784,1024,1024,10 --batch 256 --steps 100
    python3 benches/compare.py --devices cpu,software --repeat 3

PyTorch is used where it is installed (python3 -m pip install torch); NumPy is required.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gpunn(device, layers, batch, steps):
    exe = os.path.join(ROOT, "target", "release", "gpunn")
    if not os.path.exists(exe):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    out = subprocess.run(
        [exe, "bench", "--json", "--device", device, "--layers", layers,
         "--batch-size", str(batch), "--steps", str(steps)],
        check=True, capture_output=True, text=True,
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["samples_per_sec"], r["adapter"]


def data(n, dim, classes, seed=42):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, dim), dtype=np.uint8)
    y = rng.integers(0, classes, size=n)
    return x, y


def numpy_mlp(sizes, batch, steps, lr=0.01):
    """A from-scratch float32 MLP: the same mathematics as gpunn's CPU reference."""
    rng = np.random.default_rng(0)
    ws = [(rng.standard_normal((o, i)) * np.sqrt(2.0 / i)).astype(np.float32)
          for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(o, np.float32) for o in sizes[1:]]
    x_all, y_all = data(batch * 64, sizes[0], sizes[-1])

    def step(s):
        i = (s % 64) * batch
        x = x_all[i:i + batch].astype(np.float32) / 255.0
        y = y_all[i:i + batch]
        acts = [x]
        for l, (w, b) in enumerate(zip(ws, bs)):
            z = acts[-1] @ w.T + b
            acts.append(np.maximum(z, 0) if l + 1 < len(ws) else z)
        z = acts[-1]
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(batch), y] -= 1.0
        dz = p / batch
        for l in range(len(ws) - 1, -1, -1):
            a = acts[l]
            dw = dz.T @ a
            db = dz.sum(axis=0)
            if l > 0:
                dz_prev = (dz @ ws[l]) * (a > 0)
            ws[l] -= lr * dw
            bs[l] -= lr * db
            if l > 0:
                dz = dz_prev

    for s in range(max(5, steps // 10)):
        step(s)
    t = time.perf_counter()
    for s in range(steps):
        step(s)
    return batch * steps / (time.perf_counter() - t)


def torch_mlp(sizes, batch, steps, lr=0.01):
    import torch
    torch.manual_seed(0)
    layers = []
    for l, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(i, o))
        if l + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    x_all, y_all = data(batch * 64, sizes[0], sizes[-1])
    x_all = torch.from_numpy(x_all)
    y_all = torch.from_numpy(y_all)

    def step(s):
        i = (s % 64) * batch
        x = x_all[i:i + batch].float() / 255.0
        opt.zero_grad()
        loss_fn(model(x), y_all[i:i + batch]).backward()
        opt.step()

    for s in range(max(5, steps // 10)):
        step(s)
    t = time.perf_counter()
    for s in range(steps):
        step(s)
    return batch * steps / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", default="784,128,64,10")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--devices", default="cpu,software", help="gpunn devices to run")
    ap.add_argument("--repeat", type=int, default=1, help="runs per contender; the median counts")
    args = ap.parse_args()
    sizes = [int(s) for s in args.layers.split(",")]

    contenders = []
    for d in args.devices.split(","):
        contenders.append((f"gpunn --device {d}", lambda d=d: gpunn(d, args.layers, args.batch, args.steps)))
    contenders.append(("numpy (float32, from scratch)", lambda: (numpy_mlp(sizes, args.batch, args.steps), "")))
    try:
        import torch
        contenders.append((f"pytorch {torch.__version__} cpu ({torch.get_num_threads()} threads)",
                           lambda: (torch_mlp(sizes, args.batch, args.steps), "")))
    except ImportError:
        print("(PyTorch is not installed: python3 -m pip install torch to include it)", file=sys.stderr)

    results = {}
    for _ in range(args.repeat):
        for name, fn in contenders:
            sps, detail = fn()
            results.setdefault(name, []).append(sps)
            if detail:
                results.setdefault(name + "#detail", [detail])
    print(f"model {args.layers}, batch {args.batch}, {args.steps} timed steps, median of {args.repeat}")
    med = {n: statistics.median(v) for n, v in results.items() if not n.endswith("#detail")}
    for name, v in med.items():
        detail = results.get(name + "#detail", [""])[0]
        print(f"  {name:<40} {v:>12.0f} samples/s  {detail}")
    names = list(med)
    print("ratios (row / column):")
    print(" " * 42 + "".join(f"{n[:14]:>16}" for n in names))
    for a in names:
        print(f"  {a[:40]:<40}" + "".join(f"{med[a] / med[b]:>16.2f}" for b in names))


if __name__ == "__main__":
    main()
