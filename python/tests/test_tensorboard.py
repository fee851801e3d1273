"""`--tensorboard DIR` on `gpunn train` and `gpunn sweep`, and the estimators' `tensorboard=`:
TensorBoard's own reader gets back every scalar at its epoch with the value the run reports
(its --metrics history, the sweep's curves, the estimator's loss_curve_), each layer's
histograms, and a run killed mid-way leaves a file that reads to its last finished epoch."""

import json
import signal
import subprocess
import time

import numpy as np
from sklearn.datasets import load_digits
from tensorboard.backend.event_processing import event_accumulator as ea

from cli import binary, command
from gpunn import MLPClassifier

# history key of `gpunn train --metrics` -> TensorBoard tag
TAGS = {"train_loss": "loss/train", "val_loss": "loss/validation", "train_accuracy": "accuracy/train",
        "val_accuracy": "accuracy/validation", "lr": "learning_rate", "samples_per_sec": "samples_per_sec"}


def read(run_dir):
    acc = ea.EventAccumulator(str(run_dir), size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0})
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def epochs_logged(log):
    if not log.exists():
        return 0
    acc = read(log)
    return len(scalars(acc, "loss/train")) if "loss/train" in acc.Tags()["scalars"] else 0


def test_train_logs_every_epoch(tmp_path):
    log, metrics = tmp_path / "tb", tmp_path / "m.json"
    command("train", "--epochs", 3, "--layers", "784,16,10", "--device", "cpu", "--tensorboard", log,
            "--metrics", metrics)
    history = json.loads(metrics.read_text())["history"]
    acc = read(log)
    for key, tag in TAGS.items():
        want = [(r["epoch"], r[key]) for r in history]
        got = scalars(acc, tag)
        assert [s for s, _ in got] == [1, 2, 3], tag
        np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=1e-6, err_msg=tag)
    for layer, size in [(0, 784 * 16), (1, 16 * 10)]:
        histograms = acc.Histograms(f"weights/layer{layer}")
        assert [h.step for h in histograms] == [1, 2, 3]
        assert all(h.histogram_value.num == size for h in histograms)
        assert sum(histograms[0].histogram_value.bucket) == size


def test_sweep_logs_each_configuration_and_fold(tmp_path):
    log, out = tmp_path / "tb", tmp_path / "out"
    command("sweep", "--dataset", "circles", "--lr", "0.1,0.3", "--epochs", 4, "--folds", 2, "--device", "cpu",
            "--tensorboard", log, "--out", out, "--no-retrain")
    for run in (out / "runs").glob("*.json"):
        o = json.loads(run.read_text())
        lr = o["run"]["train"]["lr"]
        for fold, curve in enumerate(o["curves"], start=1):
            got = scalars(read(log / f"lr={lr}" / f"fold{fold}"), "loss/validation")
            assert [s for s, _ in got] == [1, 2, 3, 4]
            np.testing.assert_allclose([v for _, v in got], curve, rtol=1e-6)
    assert sorted(p.name for p in log.iterdir()) == ["lr=0.1", "lr=0.3"]


def test_a_killed_run_leaves_readable_logs(tmp_path):
    log = tmp_path / "tb"
    proc = subprocess.Popen([str(binary()), "train", "--dataset", "circles", "--epochs", "100000",
                             "--device", "cpu", "--tensorboard", str(log)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and epochs_logged(log) < 3:
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)  # mid-run, wherever it is
    finally:
        proc.wait()
    got = scalars(read(log), "loss/train")
    steps = [s for s, _ in got]
    assert len(steps) >= 3 and steps == list(range(1, len(steps) + 1))
    assert all(np.isfinite(v) for _, v in got)


def test_estimator_logs_its_fit(tmp_path):
    X, y = load_digits(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0, device="cpu",
                        tensorboard=tmp_path / "tb").fit(X / 16.0, y)
    got = scalars(read(tmp_path / "tb"), "loss/train")
    assert [s for s, _ in got] == list(range(1, clf.n_iter_ + 1))
    np.testing.assert_allclose([v for _, v in got], clf.loss_curve_, rtol=1e-5)
