#!/usr/bin/env python3
"""The reports' grid search, timed in one run: `gpunn sweep` against scikit-learn's
GridSearchCV, and against the same configurations trained one after another with `gpunn train`.

The grid (the reports' GridSearchCV): the first 8,000 Fashion-MNIST training images (pixels
/255), hidden layers 128,64,32 with tanh, solver adam or sgd x batch size 64, 128, 256 x
learning rate 1e-4, 2e-5, 1e-5, 3-fold cross-validation: 18 configurations, 54 fits, each for
--epochs epochs (both sides the same number). scikit-learn runs with n_jobs=-1 and never stops
early (n_iter_no_change above the epochs); its other settings are its defaults (the reports'
recipe: L2 alpha 1e-4, sgd with Nesterov momentum 0.9), gpunn's plain SGD and Adam. It runs
twice: on x / 255.0 as the reports do (float64, which it then computes in), and on float32.

    python3 benches/sweep.py                  # 5 epochs; needs NumPy, scikit-learn
    python3 benches/sweep.py --epochs 20 --skip-sklearn
    python3 benches/sweep.py --device vulkan  # the grid on a GPU, against the same on the CPU

The sweep also runs validating only after the last epoch (--validate-every EPOCHS), the work
GridSearchCV does. Then, without folds (a 1/3 validation split), the sweep against a loop of `gpunn train`
processes over the same 18 configurations, and the sweep's throughput as the grid grows (2, 6
and 18 configurations). Fashion-MNIST is read from $GPUNN_DATA/fashion-mnist,
/usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist) or ./data/fashion-mnist.
"""
import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXE = os.path.join(ROOT, "target", "release", "gpunn")


def idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion():
    for d in [os.path.join(os.environ.get("GPUNN_DATA", ""), "fashion-mnist"),
              "/usr/share/datasets/fashion-mnist", os.path.join(ROOT, "data", "fashion-mnist")]:
        for ext in ["", ".gz"]:
            p = os.path.join(d, "train-images-idx3-ubyte" + ext)
            if os.path.exists(p):
                get = lambda n: idx(os.path.join(d, n + ext))
                return (get("train-images-idx3-ubyte"), get("train-labels-idx1-ubyte"),
                        get("t10k-images-idx3-ubyte"), get("t10k-labels-idx1-ubyte"))
    sys.exit("Fashion-MNIST not found (apt-get install dataset-fashion-mnist, or gpunn data fetch)")


def timed(cmd):
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t, out.stdout


GRID = ["--optimizer", "adam,sgd", "--batch-size", "64,128,256", "--lr", "1e-4,2e-5,1e-5"]
MODEL = ["--layers", "784,128,64,32,10", "--activation", "tanh"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--skip-sequential", action="store_true")
    ap.add_argument("--device", default="cpu",
                    help="where gpunn trains (cpu, vulkan, software, ...); on a GPU the folds sweep "
                         "also runs on the CPU for comparison")
    a = ap.parse_args()
    model = MODEL + ["--device", a.device]
    if not os.path.exists(EXE):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    xtr, ytr, xte, yte = fashion()
    x, y = xtr[:8000], ytr[:8000]
    tmp = tempfile.mkdtemp(prefix="gpunn-sweep-bench-")
    data = os.path.join(tmp, "fashion8k.npz")
    np.savez(data, x_train=x, y_train=y.astype(np.int64), x_test=xte[:2000],
             y_test=yte[:2000].astype(np.int64))
    e = a.epochs
    fits, samples = 54, 54 * (8000 * 2 // 3) * e
    print(f"grid: 18 configurations x 3 folds = {fits} fits, {e} epochs each "
          f"({samples / 1e6:.2f}M training samples in all), {os.cpu_count()} cores")

    secs, out = timed([EXE, "sweep", "--data", data, *model, *GRID, "--folds", "3",
                       "--epochs", str(e), "--no-retrain", "--out", os.path.join(tmp, "cv")])
    print(f"gpunn sweep --folds 3 ({a.device}): {secs:7.1f} s  {samples / secs / 1e3:7.0f}k samples/s")
    print("\n".join(out.strip().splitlines()[1:5]))
    # The same work as GridSearchCV, which scores each fit once, at the end.
    once, _ = timed([EXE, "sweep", "--data", data, *model, *GRID, "--folds", "3", "--epochs",
                     str(e), "--validate-every", str(e), "--no-retrain"])
    print(f"  validating after the last epoch only: {once:7.1f} s  "
          f"{samples / once / 1e3:7.0f}k samples/s")
    if a.device != "cpu":
        cpu, _ = timed([EXE, "sweep", "--data", data, *MODEL, "--device", "cpu", *GRID,
                        "--folds", "3", "--epochs", str(e), "--no-retrain"])
        print(f"gpunn sweep --folds 3 (cpu):    {cpu:7.1f} s  {samples / cpu / 1e3:7.0f}k samples/s")
        print(f"the sweep on {a.device} runs at {cpu / secs:.2f}x the speed of the sweep on the CPU")

    if not a.skip_sklearn:
        from sklearn.model_selection import GridSearchCV
        from sklearn.neural_network import MLPClassifier
        from sklearn.exceptions import ConvergenceWarning
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        grid = {"solver": ["adam", "sgd"], "batch_size": [64, 128, 256],
                "learning_rate_init": [1e-4, 2e-5, 1e-5]}
        # x / 255.0 is float64, which scikit-learn then computes in (the reports' recipe); fed
        # float32 it computes in float32, as gpunn does.
        for dtype in [np.float64, np.float32]:
            mlp = MLPClassifier(hidden_layer_sizes=(128, 64, 32), activation="tanh",
                                max_iter=e, n_iter_no_change=e + 1, random_state=0)
            gs = GridSearchCV(mlp, grid, cv=3, n_jobs=-1, refit=False)
            t = time.perf_counter()
            gs.fit((x.reshape(len(x), -1) / 255.0).astype(dtype), y)
            sk = time.perf_counter() - t
            name = np.dtype(dtype).name
            print(f"scikit-learn GridSearchCV, {name}: {sk:7.1f} s  {samples / sk / 1e3:7.0f}k "
                  f"samples/s  (best {gs.best_params_}, accuracy {gs.best_score_:.4f})")
            print(f"gpunn sweep is {sk / secs:.2f}x faster than GridSearchCV on {name} "
                  f"({sk / once:.2f}x validating once, as GridSearchCV scores)")

    # Without folds: the sweep against `gpunn train` one configuration after another.
    val = ["--val-split", "0.3333"]
    one = 18 * round(8000 * (1 - 0.3333)) * e
    secs, _ = timed([EXE, "sweep", "--data", data, *model, *GRID, *val, "--epochs", str(e),
                     "--no-retrain"])
    print(f"gpunn sweep, 18 configurations: {secs:7.1f} s  {one / secs / 1e3:7.0f}k samples/s")
    if not a.skip_sequential:
        t = time.perf_counter()
        for opt in ["adam", "sgd"]:
            for b in ["64", "128", "256"]:
                for lr in ["1e-4", "2e-5", "1e-5"]:
                    subprocess.run([EXE, "train", "--data", data, *model, "--optimizer", opt,
                                    "--batch-size", b, "--lr", lr, *val, "--epochs", str(e)],
                                   check=True, capture_output=True)
        seq = time.perf_counter() - t
        print(f"gpunn train x 18, in turn:      {seq:7.1f} s  {one / seq / 1e3:7.0f}k samples/s")
        print(f"the sweep is {seq / secs:.2f}x faster than training them one after another")
    for n, grid in [(2, ["--optimizer", "adam,sgd"]),
                    (6, ["--optimizer", "adam,sgd", "--batch-size", "64,128,256"])]:
        s, _ = timed([EXE, "sweep", "--data", data, *model, *grid, "--lr", "1e-4", *val,
                      "--epochs", str(e), "--no-retrain"])
        per = n * round(8000 * (1 - 0.3333)) * e
        print(f"gpunn sweep, {n:2} configurations: {s:7.1f} s  {per / s / 1e3:7.0f}k samples/s")


if __name__ == "__main__":
    main()
