"""`MLPClassifier` and `MLPRegressor`: scikit-learn's estimators of the same names, with its
parameters, attributes and checks, trained by the gpunn library (`gpunn._core.fit`, one call
per fit, the GIL released). This layer adds scikit-learn's validation and bookkeeping only."""

import os
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MultiOutputMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

from . import _core
from ._mapping import ACTIVATIONS, check_params, reported, run_description

_OUT = {"softmax": "softmax", "logistic": "sigmoid", "identity": "identity"}


class _BaseMLP(BaseEstimator):
    """What both estimators share: the parameters, the fit loop's bookkeeping, the forward pass."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, device="auto", tensorboard=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.device = device
        # A directory: each fit writes a TensorBoard event file there, as `gpunn train
        # --tensorboard` does (gpunn's own loss, before the scaling to scikit-learn's in
        # `loss_curve_`; a partial_fit call is a run of one epoch).
        self.tensorboard = tensorboard

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    # The subclasses say how targets become gpunn's (targets dict, n_outputs) and how the
    # output is trained: (out_activation, gpunn loss, c, per), see _mapping.

    def _fit(self, X, y, incremental, sample_weight=None):
        given = X
        sizes = check_params(self)
        first = not (hasattr(self, "coefs_") and (incremental or self.warm_start))
        X, targets, n_outputs = self._validate_input(X, y, incremental, reset=first)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
            targets["weights"] = np.ascontiguousarray(sample_weight, dtype=np.float32)
        n = X.shape[0]
        out_act, loss, c, per = self._output(n_outputs)
        if first:
            self.n_outputs_ = n_outputs
            self.n_layers_ = len(sizes) + 2
            self.out_activation_ = out_act
            self.n_iter_ = 0
            self.t_ = 0
            self.loss_curve_ = []
            self._state = None
            self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        if self.batch_size == "auto":
            batch = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
            batch = int(np.clip(self.batch_size, 1, n))
        early = bool(self.early_stopping and not incremental)
        settings = run_description(
            self, X.shape[1], sizes, n_outputs, _OUT[out_act], loss, c, per,
            seed=self._seed + (self.n_iter_ if incremental else 0), batch=batch,
            epochs=1 if incremental else self.max_iter, early_stopping=early, incremental=incremental,
        )
        if incremental and self.learning_rate == "adaptive":
            settings = settings.replace('schedule = "adaptive"', 'schedule = "constant"')
        start = {}
        if not first:
            start = dict(start=[(w.T.astype(np.float32), b.astype(np.float32))
                                for w, b in zip(self.coefs_, self.intercepts_)],
                         activations=[ACTIVATIONS[self.activation]] * len(sizes) + [_OUT[out_act]],
                         loss=loss)
            if incremental and self._state is not None:
                start["start_state"] = self._state
        if early:
            self.validation_scores_ = []
        log = None if self.tensorboard is None else os.fspath(self.tensorboard)
        out = _core.fit(settings, X, callback=self._printer(c, per, early), tensorboard=log, **targets,
                        **start)
        self._read(out, c, per, early, incremental, n)
        # Whether the caller's X was trained where it lies: handed over without a conversion
        # (float32, C-contiguous) and never copied by the library (no validation split).
        self._trained_in_place = bool(out["in_place"]) and isinstance(given, np.ndarray) \
            and np.may_share_memory(given, X)
        return self

    def _printer(self, c, per, early):
        if not self.verbose:
            return None
        base = self.n_iter_

        def show(epoch, loss, score, l2):
            print(f"Iteration {base + epoch}, loss = {reported(loss, l2, c, per):.8f}")
            if early and score is not None:
                print(f"Validation score: {score:f}")
        return show

    def _read(self, out, c, per, early, incremental, n):
        self.coefs_ = [np.ascontiguousarray(w.T) for w in out["weights"]]
        self.intercepts_ = list(out["biases"])
        self._state = list(out["state"])
        self._run = out["run"]
        epochs = out["epochs"]
        losses = [reported(loss, l2, c, per) for _, loss, _, l2 in epochs]
        self.loss_curve_ = list(self.loss_curve_) + losses
        self.n_iter_ += len(epochs)
        n_train = n - int(round(self.validation_fraction * n)) if early else n
        self.t_ += len(epochs) * n_train
        if losses:
            self.loss_ = losses[-1]
        if early:
            self.validation_scores_ = [s for _, _, s, _ in epochs]
            self.best_validation_score_ = max(self.validation_scores_)
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_) if self.loss_curve_ else None
        if out["interrupted"]:
            warnings.warn("Training interrupted by user.")
        elif out["converged"] and self.verbose:
            what = "Validation score" if early else "Training loss"
            print(f"{what} did not improve more than tol={self.tol:f} for "
                  f"{self.n_iter_no_change} consecutive epochs. Stopping.")
        elif not incremental and not out["converged"] and len(epochs) == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                          "the optimization hasn't converged yet.", ConvergenceWarning)

    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        sizes = len(self.coefs_) - 1
        layers = [(np.ascontiguousarray(w.T, dtype=np.float32), np.asarray(b, dtype=np.float32))
                  for w, b in zip(self.coefs_, self.intercepts_)]
        acts = [ACTIVATIONS[self.activation]] * sizes + [_OUT[self.out_activation_]]
        loss = {"softmax": "ce", "logistic": "bce", "identity": "mse"}[self.out_activation_]
        device = "cpu" if self.device == "auto" else self.device
        x32 = np.ascontiguousarray(X, dtype=np.float32)
        return _core.forward(layers, acts, loss, x32, device).astype(X.dtype, copy=False)

    def fit(self, X, y, sample_weight=None):
        """Fits the model to X and y (scikit-learn's `fit`); `sample_weight` weighs each
        sample's loss (each batch's loss is the weighted mean)."""
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def save(self, path):
        """Writes the fitted model to `path` as gpunn's safetensors checkpoint (atomically), which
        `gpunn.load` and the command line's `eval`, `predict`, `features` and `embed` read."""
        from . import _persist

        _persist.save(self, path)

    def to_onnx(self, path):
        """Writes the fitted network to `path` as an ONNX model (opset 13, input `input`
        `[batch, n_features_in_]`, output `output`): ONNX Runtime's `output` is
        `predict_proba`'s probabilities (the positive class's alone for a binary classifier)
        or `predict`'s values."""
        import os
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            checkpoint = os.path.join(d, "model.safetensors")
            self.save(checkpoint)
            _core.export_onnx(checkpoint, os.fspath(path))


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """scikit-learn's `MLPClassifier`, trained by gpunn (one more parameter: `device`)."""

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if reset and not (incremental and hasattr(self, "classes_")):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        elif not incremental:
            classes = np.unique(y) if y.ndim == 1 else np.arange(y.shape[1])
            if not np.isin(classes, self.classes_).all() and self.warm_start:
                raise ValueError(f"warm_start can only be used where `y` has the same classes as in the "
                                 f"previous call to fit. Previously got {self.classes_}, `y` has {classes}")
        elif len(np.setdiff1d(np.unique(y) if y.ndim == 1 else [], self.classes_)):
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                             f"'y' has {np.unique(y)}.")
        Y = self._label_binarizer.transform(y).astype(np.float32)
        X = np.ascontiguousarray(X, dtype=np.float32)
        if Y.shape[1] > 1 and type_of_target(y) == "multiclass":
            labels = np.argmax(Y, axis=1).astype(np.uint32)
            return X, dict(labels=labels, classes=Y.shape[1]), Y.shape[1]
        return X, dict(values=np.ascontiguousarray(Y), classes=max(Y.shape[1], 2)), Y.shape[1]

    def _output(self, n_outputs):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "ce", 1.0, 1.0
        return "logistic", "bce", float(n_outputs), 1.0

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One pass over X and y (scikit-learn's `partial_fit`); `classes` on the first call."""
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. {self.solver} is not stochastic.")
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(self.classes_)
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X):
        y = self._forward(X)
        if self.n_outputs_ == 1:
            y = y.ravel()
        return self._label_binarizer.inverse_transform(y)

    def predict_proba(self, X):
        y = self._forward(X)
        if self.n_outputs_ == 1:
            y = y.ravel()
        if y.ndim == 1:
            return np.vstack([1 - y, y]).T
        return y

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, MultiOutputMixin, _BaseMLP):
    """scikit-learn's `MLPRegressor`, trained by gpunn (one more parameter: `device`)."""

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000, device="auto", tensorboard=None):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver, alpha=alpha,
            batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun, device=device,
            tensorboard=tensorboard)
        self.loss = loss

    def _validate_input(self, X, y, incremental, reset):
        if self.loss != "squared_error":
            raise ValueError(f"The 'loss' parameter must be 'squared_error' in gpunn; got {self.loss!r}.")
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        Y = np.ascontiguousarray(y.reshape(len(y), -1), dtype=np.float32)
        if not reset and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, but the model was fitted with {self.n_outputs_}.")
        return np.ascontiguousarray(X, dtype=np.float32), dict(values=Y), Y.shape[1]

    def _output(self, n_outputs):
        return "identity", "half-mse", 1.0, float(n_outputs)

    def partial_fit(self, X, y, sample_weight=None):
        """One pass over X and y (scikit-learn's `partial_fit`)."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X):
        y = self._forward(X)
        if y.shape[1] == 1:
            return y.ravel()
        return y
