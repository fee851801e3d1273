"""The estimators as scikit-learn users use them: against scikit-learn's own MLPs on the same
data and parameters (the README's recipes: test_readme.py), inside scikit-learn's tools (clone, pickle, Pipeline, GridSearchCV with
joblib and with a Dask cluster), and their errors and bookkeeping."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import gpunn
from gpunn import MLPClassifier, MLPRegressor
from cli import command
from parity import digits

warnings.filterwarnings("ignore", category=ConvergenceWarning)


def both(cls_name, **params):
    return getattr(gpunn, cls_name)(device="cpu", **params), getattr(sk, cls_name)(**params)


def test_version():
    assert gpunn.__version__.count(".") == 2


@pytest.mark.parametrize("two", [(5, 6), None], ids=["5-vs-6", "ten-classes"])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_classifier_accuracy_matches_scikit_learn(two, solver):
    Xtr, Xte, ytr, yte = digits(two)
    ours, theirs = both("MLPClassifier", hidden_layer_sizes=(32,), activation="tanh", solver=solver,
                        learning_rate_init=0.01 if solver == "adam" else 0.1, max_iter=40, random_state=1)
    a, b = ours.fit(Xtr, ytr).score(Xte, yte), theirs.fit(Xtr, ytr).score(Xte, yte)
    assert a >= b - 0.02, f"gpunn {a:.3f}, scikit-learn {b:.3f}"
    assert ours.classes_.tolist() == theirs.classes_.tolist()
    assert [w.shape for w in ours.coefs_] == [w.shape for w in theirs.coefs_]
    assert ours.out_activation_ == theirs.out_activation_
    assert ours.n_layers_ == theirs.n_layers_ and ours.n_outputs_ == theirs.n_outputs_
    # Same loss definition: the final losses are of the same size.
    assert abs(ours.loss_ - theirs.loss_) < 0.5 * theirs.loss_ + 0.02


def test_coefs_run_by_hand_give_predict_proba():
    Xtr, Xte, ytr, _ = digits()
    clf = MLPClassifier(hidden_layer_sizes=(20, 10), max_iter=20, random_state=0, device="cpu").fit(Xtr, ytr)
    a = Xte
    for W, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1]):
        a = np.maximum(a @ W + b, 0)
    z = a @ clf.coefs_[-1] + clf.intercepts_[-1]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(Xte), p, atol=1e-5)


def test_multilabel_and_multioutput():
    X, Y = make_multilabel_classification(n_samples=300, n_classes=4, random_state=0)
    clf = MLPClassifier(max_iter=200, random_state=0, device="cpu").fit(X, Y)
    assert clf.predict(X).shape == Y.shape and clf.predict_proba(X).shape == Y.shape
    assert clf.score(X, Y) > 0.5
    reg = MLPRegressor(max_iter=50, random_state=0, device="cpu").fit(X, Y.astype(float) * 2)
    assert reg.predict(X).shape == Y.shape


def test_string_labels_and_binary():
    Xtr, Xte, ytr, yte = digits((3, 8))
    names = np.array(["three", "eight"])[(ytr == 8).astype(int)]
    clf = MLPClassifier(max_iter=50, random_state=0, device="cpu").fit(Xtr, names)
    assert set(clf.predict(Xte)) <= {"three", "eight"}
    assert clf.predict_proba(Xte).shape == (len(Xte), 2)
    assert clf.coefs_[-1].shape[1] == 1


def test_clone_pickle_pipeline_cross_val():
    Xtr, Xte, ytr, _ = digits()
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=20, random_state=0,
                        device="cpu")
    assert clone(clf).get_params() == clf.get_params()
    clf.fit(Xtr, ytr)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(Xte), clf.predict_proba(Xte))
    pipe = make_pipeline(StandardScaler(), clone(clf)).fit(Xtr, ytr)
    assert pipe.score(Xtr, ytr) > 0.9
    assert cross_val_score(clone(clf), Xtr, ytr, cv=3).mean() > 0.8


def test_grid_search_with_joblib_processes():
    Xtr, _, ytr, _ = digits()
    grid = GridSearchCV(MLPClassifier(learning_rate_init=0.01, max_iter=20, random_state=0, device="cpu"),
                        {"hidden_layer_sizes": [(8,), (32,)], "alpha": [1e-4, 1e-2]}, cv=3, n_jobs=2)
    grid.fit(Xtr, ytr)
    assert grid.best_score_ > 0.85
    assert len(grid.cv_results_["params"]) == 4


def test_grid_search_on_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    import joblib

    Xtr, _, ytr, _ = digits()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        grid = GridSearchCV(MLPClassifier(learning_rate_init=0.01, max_iter=20, random_state=0, device="cpu"),
                            {"hidden_layer_sizes": [(8,), (32,)]}, cv=2, n_jobs=2)
        with joblib.parallel_backend("dask"):
            grid.fit(Xtr, ytr)
    assert grid.best_score_ > 0.85


def test_early_stopping_keeps_validation_scores():
    Xtr, _, ytr, _ = digits()
    clf = MLPClassifier(early_stopping=True, n_iter_no_change=3, max_iter=200, random_state=0,
                        device="cpu").fit(Xtr, ytr)
    assert clf.best_loss_ is None
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.n_iter_ < 200, "stops on the validation plateau"


def test_tol_plateau_stops_without_warning():
    Xtr, _, ytr, _ = digits()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier(tol=0.5, n_iter_no_change=2, max_iter=100, random_state=0, device="cpu").fit(Xtr, ytr)
    # scikit-learn stops when the count passes 2: after epoch 4 (it does the same here).
    assert clf.n_iter_ == 4 and clf.best_loss_ == min(clf.loss_curve_)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(max_iter=2, random_state=0, device="cpu").fit(Xtr, ytr)


def test_warm_start_and_partial_fit_continue():
    Xtr, Xte, ytr, yte = digits()
    clf = MLPClassifier(max_iter=3, warm_start=True, random_state=0, device="cpu").fit(Xtr, ytr)
    first = clf.coefs_[0].copy()
    clf.fit(Xtr, ytr)
    assert clf.n_iter_ == 6 and len(clf.loss_curve_) == 6
    assert not np.array_equal(first, clf.coefs_[0])
    inc = MLPClassifier(random_state=0, device="cpu")
    for _ in range(5):
        inc.partial_fit(Xtr, ytr, classes=np.arange(10))
    assert inc.n_iter_ == 5 and inc.loss_curve_[-1] < inc.loss_curve_[0]
    assert inc.score(Xte, yte) > 0.8


def test_verbose_prints_scikit_learns_lines(capsys):
    Xtr, _, ytr, _ = digits()
    MLPClassifier(max_iter=2, verbose=True, random_state=0, device="cpu").fit(Xtr, ytr)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Iteration 1, loss = ") and lines[1].startswith("Iteration 2, loss = ")


def test_float32_input_and_errors():
    Xtr, _, ytr, _ = digits()
    clf = MLPClassifier(max_iter=5, random_state=0, device="cpu").fit(Xtr.astype(np.float32), ytr)
    assert clf.predict_proba(Xtr.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="lbfgs"):
        MLPClassifier(solver="lbfgs").fit(Xtr, ytr)
    bad = Xtr.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier().fit(bad, ytr)
    with pytest.raises(ValueError, match="2D array"):
        MLPClassifier().fit(Xtr[:, 0], ytr)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPRegressor(hidden_layer_sizes=(0,)).fit(Xtr, ytr)


def test_pandas_frames():
    pd = pytest.importorskip("pandas")
    Xtr, _, ytr, _ = digits()
    frame = pd.DataFrame(Xtr, columns=[f"px{i}" for i in range(Xtr.shape[1])])
    clf = MLPClassifier(max_iter=5, random_state=0, device="cpu").fit(frame, pd.Series(ytr))
    assert list(clf.feature_names_in_) == list(frame.columns)
    assert clf.predict(frame).shape == (len(frame),)


def test_save_load_and_the_command_line_reads_it(tmp_path):
    import re

    Xtr, Xte, ytr, yte = digits()
    clf = MLPClassifier(hidden_layer_sizes=(24,), max_iter=15, random_state=0, device="cpu").fit(Xtr, ytr)
    path = tmp_path / "digits.safetensors"
    clf.save(path)
    again = gpunn.load(path)
    np.testing.assert_array_equal(again.predict_proba(Xte), clf.predict_proba(Xte))
    assert again.get_params() == clf.get_params()
    assert again.loss_curve_ == clf.loss_curve_ and again.n_iter_ == clf.n_iter_
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0, device="cpu").fit(Xtr, ytr * 1.0)
    reg.save(tmp_path / "reg.safetensors")
    np.testing.assert_array_equal(gpunn.load(tmp_path / "reg.safetensors").predict(Xte), reg.predict(Xte))
    # gpunn eval on the same test set gives the estimator's accuracy.
    for name, X, y in [("train.csv", Xtr, ytr), ("test.csv", Xte, yte)]:
        np.savetxt(tmp_path / name, np.column_stack([X, y]), delimiter=",", fmt="%.6g")
    out = command("eval", "--model", path, "--data", tmp_path / "train.csv", "--test", tmp_path / "test.csv",
                "--device", "cpu").stdout
    accuracy = float(re.search(r"accuracy ([0-9.]+)%", out).group(1))
    assert abs(accuracy - 100 * clf.score(Xte, yte)) < 0.006, out


def test_trains_on_the_gpu_as_on_the_cpu():
    """The same fit on the GPU engine (lavapipe in CI) and the CPU path: same start, same
    batches, so the same losses within f32 rounding."""
    import os

    Xtr, Xte, ytr, _ = digits()
    params = dict(hidden_layer_sizes=(32,), max_iter=3, random_state=0, shuffle=True)
    cpu = MLPClassifier(device="cpu", **params).fit(Xtr, ytr)
    try:
        gpu = MLPClassifier(device="software", **params).fit(Xtr, ytr)
    except (RuntimeError, ValueError) as e:
        if os.environ.get("GPUNN_REQUIRE_GPU") == "1":
            raise
        pytest.skip(f"SKIPPED: no GPU adapter ({e})")
    np.testing.assert_allclose(gpu.loss_curve_, cpu.loss_curve_, rtol=1e-3)
    np.testing.assert_allclose(gpu.predict_proba(Xte), cpu.predict_proba(Xte), atol=1e-3)


def test_ctrl_c_stops_between_steps_and_keeps_the_model():
    """Ctrl-C (SIGINT) during fit stops training at a step boundary, as scikit-learn does: a
    warning, the weights as they stand, the epochs done in the curve."""
    import _thread
    import threading

    Xtr, Xte, ytr, yte = digits()
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=100000, tol=0.0, n_iter_no_change=100000,
                        random_state=0, device="cpu")
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.warns(UserWarning, match="interrupted"):
            clf.fit(Xtr, ytr)
    finally:
        timer.cancel()
    assert 0 < clf.n_iter_ < 100000 and len(clf.loss_curve_) == clf.n_iter_
    assert clf.score(Xte, yte) > 0.8


_PEAK = """
import resource, sys, numpy as np, gpunn
X = np.random.default_rng(0).random((400_000, 50), dtype=getattr(np, sys.argv[1]))  # 80/160 MB
y = (X[:, 0] > 0.5).astype(np.int64)
small = gpunn.MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, device="cpu")
small.fit(X[:2000], y[:2000])  # the library loaded, its threads started
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
clf = gpunn.MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, batch_size=1000, device="cpu")
clf.fit(X, y)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def test_float32_arrays_train_in_place():
    """A C-contiguous float32 X is trained where it lies; other arrays are converted once."""
    X, y = digits()[0], digits()[2]
    fit = lambda X, **kw: MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, device="cpu", **kw).fit(X, y)
    assert fit(np.ascontiguousarray(X, dtype=np.float32))._trained_in_place
    assert not fit(X)._trained_in_place, "float64 becomes a float32 copy"
    assert not fit(np.asfortranarray(X, dtype=np.float32))._trained_in_place
    # early_stopping's validation split gathers the training part (a copy).
    assert not fit(X.astype(np.float32), early_stopping=True)._trained_in_place


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
def test_float32_fit_adds_little_memory():
    """Fitting 80 MB of float32 raises the process's peak memory by well under the array's
    size (a copy would add 80 MB; measured: 22 MB)."""
    out = subprocess.run([sys.executable, "-c", _PEAK, "float32"], capture_output=True, text=True,
                         check=True)
    growth = float(out.stdout.split()[-1])
    assert growth < 40, f"fitting 80 MB of float32 raised the peak by {growth:.0f} MB: a copy?"
