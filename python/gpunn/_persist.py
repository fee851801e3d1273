"""Fitted estimators in gpunn's safetensors checkpoints: `est.save(path)` and `gpunn.load(path)`.
The file is the one `gpunn train --save` writes (the layers, the resolved run), so that
`gpunn eval`, `predict`, `features` and `embed` read it; the estimator's parameters, classes
and fitted bookkeeping ride along as JSON in its metadata (key `sklearn`)."""

import json

import numpy as np
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.validation import check_is_fitted

from . import _core

KEY = "sklearn"


def _plain(value):
    """A JSON-safe copy: tuples and arrays as lists, NumPy scalars as Python numbers."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def save(est, path):
    check_is_fitted(est)
    from ._estimators import ACTIVATIONS, _OUT

    layers = [(np.ascontiguousarray(w.T, dtype=np.float32), np.asarray(b, dtype=np.float32))
              for w, b in zip(est.coefs_, est.intercepts_)]
    acts = [ACTIVATIONS[est.activation]] * (len(layers) - 1) + [_OUT[est.out_activation_]]
    loss = {"softmax": "ce", "logistic": "bce", "identity": "mse"}[est.out_activation_]
    classes = getattr(est, "classes_", None)
    state = {
        "estimator": type(est).__name__,
        "params": _plain(est.get_params()),
        "classes": None if classes is None else _plain(classes),
        "label_type": getattr(getattr(est, "_label_binarizer", None), "y_type_", None),
    }
    for name in ("n_features_in_", "feature_names_in_", "n_outputs_", "n_layers_", "out_activation_",
                 "n_iter_", "t_", "loss_", "best_loss_", "loss_curve_", "validation_scores_",
                 "best_validation_score_"):
        if hasattr(est, name):
            state[name] = _plain(getattr(est, name))
    n_classes = 0 if classes is None else max(len(classes), 2)
    names = [] if classes is None else [str(c) for c in classes]
    _core.save(str(path), getattr(est, "_run", ""), layers, acts, loss, n_classes, names,
               int(est.n_iter_), {KEY: json.dumps(state)})


def load(path):
    """The estimator `est.save(path)` wrote, fitted, as it was."""
    from . import _estimators

    ck = _core.load(str(path))
    if KEY not in ck["extra"]:
        raise ValueError(f"{path}: not saved by a gpunn estimator (no '{KEY}' metadata); "
                         "load it with the gpunn command line")
    state = json.loads(ck["extra"][KEY])
    params = state.pop("params")
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    est = getattr(_estimators, state.pop("estimator"))(**params)
    est.coefs_ = [np.ascontiguousarray(w.T) for w in ck["weights"]]
    est.intercepts_ = list(ck["biases"])
    classes, label_type = state.pop("classes"), state.pop("label_type")
    for name, value in state.items():
        if name == "feature_names_in_":
            value = np.asarray(value, dtype=object)
        setattr(est, name, value)
    est._run = ck["extra"].get("run", "")
    est._state = None
    if classes is not None:
        est.classes_ = np.asarray(classes)
        est._label_binarizer = LabelBinarizer()
        if label_type == "multilabel-indicator":
            est._label_binarizer.fit(np.eye(len(classes), dtype=int))
        else:
            est._label_binarizer.fit(est.classes_)
    return est
