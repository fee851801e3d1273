"""`gpunn export` and `est.to_onnx`: the exported models, run by ONNX's own checker and by ONNX
Runtime, compute gpunn's outputs from raw inputs (pixels 0-255, unscaled table rows) within 1e-5:
an MNIST model, a scaled table classifier, a regression in its targets' units, an autoencoder,
and the estimators' `predict_proba` and `predict`."""

import gzip

import numpy as np
import onnx
import onnxruntime as ort
from sklearn.datasets import load_diabetes, load_digits, load_wine
from sklearn.model_selection import train_test_split

from cli import ROOT, command
from gpunn import MLPClassifier, MLPRegressor, _core


def run_onnx(path, X):
    """ONNX's checker on the file, then ONNX Runtime's outputs for `X`."""
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.shape for i in session.get_inputs()] == [["batch", X.shape[1]]]
    return session.run(["output"], {"input": np.asarray(X, dtype=np.float32)})[0]


def close(onnx_out, gpunn_out):
    """Within 1e-5, relative beyond 1 (a regression in units of ~200 is 1.5e-5 an ulp in f32)."""
    assert onnx_out.shape == gpunn_out.shape
    worst = (np.abs(onnx_out - gpunn_out) / np.maximum(1, np.abs(gpunn_out))).max()
    assert worst < 1e-5, f"worst mismatch {worst:.3g}"


def export(tmp_path, model, X):
    """`gpunn export` of `model`; (ONNX Runtime's outputs, the library's) for raw inputs X."""
    out = tmp_path / (model.stem + ".onnx")
    assert "wrote" in command("export", "--model", model, "--out", out).stdout
    X = np.ascontiguousarray(X, dtype=np.float32)
    return run_onnx(out, X), _core.predict_raw(str(model), X)


def csv(path, *columns):
    np.savetxt(path, np.column_stack(columns), delimiter=",", fmt="%.6g")
    return path


def test_mnist_model_takes_raw_pixels(tmp_path):
    with gzip.open(ROOT / "data" / "mnist-sample" / "t10k-images-idx3-ubyte.gz") as f:
        pixels = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)
    model = tmp_path / "mnist.safetensors"
    command("train", "--epochs", 1, "--layers", "784,32,10", "--activation", "relu", "--device", "cpu",
            "--save", model)
    got, want = export(tmp_path, model, pixels)
    close(got, want)
    assert np.allclose(got.sum(axis=1), 1, atol=1e-5), "softmax probabilities"
    # Raw pixels, not pixels/255: the scaling is a node of the graph.
    assert np.abs(run_onnx(tmp_path / "mnist.onnx", pixels / 255.0) - want).max() > 1e-3


def test_scaled_table_classifier_regression_and_autoencoder(tmp_path):
    X, y = load_wine(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    model = tmp_path / "wine.safetensors"
    command("train", "--data", csv(tmp_path / "wine.csv", Xtr, ytr), "--layers", "13,16,8,3",
            "--activation", "tanh,leaky_relu", "--epochs", 30, "--scale", "standard", "--device", "cpu",
            "--save", model)
    got, want = export(tmp_path, model, Xte)
    close(got, want)
    assert (got.argmax(axis=1) == yte).mean() > 0.8

    X, y = load_diabetes(return_X_y=True, scaled=False)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    model = tmp_path / "diabetes.safetensors"
    command("train", "--data", csv(tmp_path / "diabetes.csv", Xtr, ytr), "--task", "regress",
            "--activation", "sigmoid", "--no-bias", "--epochs", 20, "--device", "cpu", "--save", model)
    got, want = export(tmp_path, model, Xte)
    close(got, want)
    assert 50 < got.mean() < 300, "in the targets' units (disease progression, 25-346)"

    X, _ = load_digits(return_X_y=True)
    model = tmp_path / "autoencoder.safetensors"
    command("train", "--data", csv(tmp_path / "digits.csv", X[:1200]), "--task", "autoencode",
            "--layers", "64,16,64", "--activation", "relu,identity", "--scale", "minmax", "--epochs", 10,
            "--device", "cpu", "--save", model)
    got, want = export(tmp_path, model, X[1200:])
    close(got, want)


def test_estimators_to_onnx(tmp_path):
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0, device="cpu").fit(Xtr, ytr)
    clf.to_onnx(tmp_path / "digits.onnx")
    close(run_onnx(tmp_path / "digits.onnx", Xte), clf.predict_proba(Xte))
    binary = MLPClassifier(hidden_layer_sizes=(8,), activation="logistic", max_iter=20, random_state=0,
                           device="cpu").fit(Xtr, ytr % 2)
    binary.to_onnx(tmp_path / "odd.onnx")
    close(run_onnx(tmp_path / "odd.onnx", Xte)[:, 0], binary.predict_proba(Xte)[:, 1])
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0, device="cpu")
    reg.fit(Xtr, np.column_stack([ytr, ytr * 0.5]))
    reg.to_onnx(tmp_path / "two.onnx")
    close(run_onnx(tmp_path / "two.onnx", Xte), reg.predict(Xte))
