#!/usr/bin/env python3
"""gpunn's MLPClassifier against scikit-learn's, one run, both on this machine.

The reports' recipe, MLPClassifier(hidden_layer_sizes=(128, 64, 32), activation="tanh",
batch_size=128, max_iter=10), on the 8,000 images of the bundled MNIST sample:
- fit time of scikit-learn's estimator and of gpunn's (device="cpu" unless --device), on
  x / 255.0 (float64) and on float32 (targets: >= 4x and >= 2.5x);
- the same run through the command line (`gpunn train`): the Python fit against the CLI's
  epochs (the loop's own time, from its --metrics history), to show what the Python layer
  adds (target: under 5%);
- GridSearchCV over both libraries' estimators, same grid, cv and n_jobs (target: >= 3x);
- skorch (PyTorch) beside them where it is installed.
Test accuracy is printed beside each, so that speed is not bought with worse models.

    pip install . && python benches/sklearn_compare.py [--device vulkan] [--repeat 3]

Run it alone: a build in the background halves every figure.
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE = dict(hidden_layer_sizes=(128, 64, 32), activation="tanh", batch_size=128, max_iter=10,
              random_state=0)


def idx(name):
    with gzip.open(os.path.join(ROOT, "data", "mnist-sample", name)) as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def mnist_sample():
    x = idx("train-images-idx3-ubyte.gz").reshape(-1, 784)
    y = idx("train-labels-idx1-ubyte.gz")
    xt = idx("t10k-images-idx3-ubyte.gz").reshape(-1, 784)
    yt = idx("t10k-labels-idx1-ubyte.gz")
    return x, y, xt, yt


def timed(make, X, y, Xt, yt, repeat):
    times, est = [], None
    for _ in range(repeat):
        est = make()
        start = time.perf_counter()
        est.fit(X, y)
        times.append(time.perf_counter() - start)
    return statistics.median(times), est.score(Xt, yt)


def cli_time(x, y, xt, yt, device, repeat):
    """The recipe through `gpunn train` (wall time of the process, data as .npz with its test
    set, which the CLI also evaluates)."""
    exe = os.path.join(ROOT, "target", "release", "gpunn")
    if not os.path.exists(exe):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "sample.npz")
        np.savez(path, x_train=(x / 255.0).astype(np.float32), y_train=y.astype(np.int64),
                 x_test=(xt / 255.0).astype(np.float32), y_test=yt.astype(np.int64))
        cmd = [exe, "train", "--data", path, "--scale", "none", "--val-split", "0",
               "--layers", "784,128,64,32,10", "--activation", "tanh", "--batch-size", "128",
               "--epochs", "10", "--optimizer", "adam", "--lr", "0.001", "--init", "sklearn",
               "--alpha", "0.0001", "--n-iter-no-change", "10", "--device", device, "--seed", "0"]
        metrics = os.path.join(d, "metrics.json")
        cmd += ["--metrics", metrics]
        times, loops = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
            with open(metrics) as f:
                loops.append(sum(e["seconds"] for e in json.load(f)["history"]))
    return statistics.median(times), statistics.median(loops)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--grid-jobs", type=int, default=2)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import gpunn
    from sklearn.model_selection import GridSearchCV
    from sklearn.neural_network import MLPClassifier as Sk

    x, y, xt, yt = mnist_sample()
    print(f"MNIST sample: {len(x)} train, {len(xt)} test images; recipe {RECIPE}; gpunn device={args.device}")
    rows = []
    for dtype in (np.float64, np.float32):
        X, Xt = (x / 255.0).astype(dtype), (xt / 255.0).astype(dtype)
        ts, acc_s = timed(lambda: Sk(**RECIPE), X, y, Xt, yt, args.repeat)
        tg, acc_g = timed(lambda: gpunn.MLPClassifier(device=args.device, **RECIPE), X, y, Xt, yt, args.repeat)
        rows.append((np.dtype(dtype).name, ts, acc_s, tg, acc_g))
        print(f"{np.dtype(dtype).name}: scikit-learn {ts:.2f} s ({100 * acc_s:.1f}%), gpunn {tg:.2f} s "
              f"({100 * acc_g:.1f}%): {ts / tg:.2f}x")
    tc, loop = cli_time(x, y, xt, yt, args.device, args.repeat)
    tg32 = rows[1][3]
    print(f"gpunn train (the CLI): {tc:.2f} s as a whole process, of which its epochs {loop:.2f} s; "
          f"the Python fit on float32 {tg32:.2f} s ({100 * (tg32 / loop - 1):+.1f}% over the epochs)")

    grid = {"hidden_layer_sizes": [(64,), (128, 64)], "alpha": [1e-4, 1e-3]}
    X, Xs = (x / 255.0), (x[:4000] / 255.0)
    recipe = dict(RECIPE, hidden_layer_sizes=(64,))

    def search(make):
        g = GridSearchCV(make(), grid, cv=3, n_jobs=args.grid_jobs)
        start = time.perf_counter()
        g.fit(Xs, y[:4000])
        return time.perf_counter() - start, g.best_score_

    gs, bs = search(lambda: Sk(**recipe))
    gg, bg = search(lambda: gpunn.MLPClassifier(device=args.device, **recipe))
    print(f"GridSearchCV (4 settings x 3 folds, n_jobs={args.grid_jobs}, 4,000 images): scikit-learn "
          f"{gs:.2f} s (best {100 * bs:.1f}%), gpunn {gg:.2f} s (best {100 * bg:.1f}%): {gs / gg:.2f}x")
    try:
        import torch
        from skorch import NeuralNetClassifier
    except ImportError:
        print("skorch: not installed (pip install skorch torch) - skipped")
        return
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.seq = nn.Sequential(nn.Linear(784, 128), nn.Tanh(), nn.Linear(128, 64), nn.Tanh(),
                                     nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))

        def forward(self, x):
            return self.seq(x)

    X, Xt = (x / 255.0).astype(np.float32), (xt / 255.0).astype(np.float32)
    t, acc = timed(lambda: NeuralNetClassifier(Net, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
                                               lr=1e-3, batch_size=128, max_epochs=10, train_split=None,
                                               verbose=0), X, y.astype(np.int64), Xt, yt.astype(np.int64), args.repeat)
    print(f"skorch (PyTorch, float32): {t:.2f} s ({100 * acc:.1f}%); gpunn {tg32 / t:.2f}x its time")


if __name__ == "__main__":
    sys.exit(main())
