"""scikit-learn's MLP parameters as a gpunn run description (the keys of `gpunn train
--config`), and the scale between the two libraries' losses.

The updates are scikit-learn's exactly; its losses and gpunn's differ by constant factors:
- multiclass: cross-entropy over softmax, mean over samples: the same (c = 1);
- binary (one logistic output): the same (c = 1);
- multilabel (k logistic outputs): scikit-learn sums over the outputs, gpunn's bce averages
  (c = k: loss_sklearn = k * loss_gpunn);
- regression: scikit-learn's gradient is that of sum((y - p)^2) / 2 over the outputs, mean over
  samples: gpunn's half-mse (c = 1); but the loss it reports is the mean over the k outputs
  too (per = k), plus the L2 term.
So: SGD's rate times c, Adam's epsilon divided by c (Adam is otherwise invariant to the scale),
alpha divided by c (gpunn's alpha is relative to its own loss); a reported loss is
c * ((loss - l2) / per + l2), l2 being the L2 term in it; tol on the training loss is
tol * per / c (exact without alpha; with it gpunn's plateau counts the data loss per output and
the L2 term in the ratio per : 1 rather than 1 : 1).
"""

import numbers

ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
SOLVERS = ("sgd", "adam")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
DEVICES = ("auto", "cpu", "vulkan", "metal", "dx12", "gl", "software")


def _toml(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    return repr(float(value))


def to_toml(sections):
    """`{"train": {"epochs": 10}, "seed": 1}` as TOML."""
    lines = [f"{k} = {_toml(v)}" for k, v in sections.items() if not isinstance(v, dict)]
    for name, table in sections.items():
        if isinstance(table, dict):
            lines.append(f"[{name}]")
            lines += [f"{k} = {_toml(v)}" for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


def check_params(est):
    """scikit-learn's checks of the constructor parameters, as ValueError."""
    sizes = est.hidden_layer_sizes
    if isinstance(sizes, numbers.Integral):
        sizes = [sizes]
    sizes = list(sizes)
    if not all(isinstance(s, numbers.Integral) for s in sizes) or any(s <= 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    if est.activation not in ACTIVATIONS:
        raise ValueError(
            f"The 'activation' parameter must be one of {sorted(ACTIVATIONS)}; got {est.activation!r}."
        )
    if est.solver not in SOLVERS:
        raise ValueError(
            f"The 'solver' parameter must be one of {list(SOLVERS)} in gpunn "
            f"(lbfgs is scikit-learn's full-batch solver, which gpunn does not implement); got {est.solver!r}."
        )
    if est.learning_rate not in LEARNING_RATES:
        raise ValueError(
            f"The 'learning_rate' parameter must be one of {list(LEARNING_RATES)}; got {est.learning_rate!r}."
        )
    if est.device not in DEVICES:
        raise ValueError(f"The 'device' parameter must be one of {list(DEVICES)}; got {est.device!r}.")
    checks = [
        ("alpha", est.alpha, 0.0, None, True),
        ("learning_rate_init", est.learning_rate_init, 0.0, None, False),
        ("power_t", est.power_t, 0.0, None, True),
        ("tol", est.tol, 0.0, None, True),
        ("momentum", est.momentum, 0.0, 1.0, True),
        ("beta_1", est.beta_1, 0.0, 1.0, True),
        ("beta_2", est.beta_2, 0.0, 1.0, True),
        ("epsilon", est.epsilon, 0.0, None, False),
        ("validation_fraction", est.validation_fraction, 0.0, 1.0, False),
    ]
    for name, value, low, high, closed in checks:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        ok = ok and (value >= low if closed else value > low) and (high is None or value <= high)
        if name in ("beta_1", "beta_2", "validation_fraction") and ok:
            ok = value < 1.0
        if not ok:
            raise ValueError(f"The '{name}' parameter of {type(est).__name__} must be in range; got {value!r}.")
    for name in ("max_iter", "n_iter_no_change"):
        value = getattr(est, name)
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"The '{name}' parameter must be an int >= 1; got {value!r}.")
    b = est.batch_size
    if not (b == "auto" or (isinstance(b, numbers.Integral) and not isinstance(b, bool) and b >= 1)):
        raise ValueError(f"The 'batch_size' parameter must be 'auto' or an int >= 1; got {b!r}.")
    return [int(s) for s in sizes]


def reported(loss, l2, c, per):
    """scikit-learn's figure for a gpunn training loss (see the module's documentation)."""
    return c * ((loss - l2) / per + l2)


def run_description(est, n_features, sizes, n_outputs, out_activation, loss, c, per, seed, batch,
                    epochs, early_stopping, incremental):
    """The gpunn run of one fit (or one partial_fit pass)."""
    sgd = est.solver == "sgd"
    train = {
        "epochs": int(epochs),
        "batch_size": int(batch),
        "lr": float(est.learning_rate_init) * (c if sgd else 1.0),
        "schedule": est.learning_rate if sgd else "constant",
        "power_t": float(est.power_t),
        "shuffle": bool(est.shuffle),
        "alpha": float(est.alpha) / c,
    }
    if not incremental:
        train["n_iter_no_change"] = int(est.n_iter_no_change)
        train["tol"] = float(est.tol) if early_stopping else float(est.tol) * per / c
        train["stop_on"] = "val-score" if early_stopping else "train-loss"
    optimizer = {"kind": est.solver}
    if sgd:
        optimizer.update(momentum=float(est.momentum), nesterov=bool(est.nesterovs_momentum and est.momentum > 0))
    else:
        optimizer.update(beta1=float(est.beta_1), beta2=float(est.beta_2), eps=float(est.epsilon) / c)
    hidden = ACTIVATIONS[est.activation]
    return to_toml({
        "seed": int(seed),
        "device": est.device,
        "data": {"val_split": float(est.validation_fraction) if early_stopping else 0.0, "scale": "none"},
        "model": {
            "layers": [int(n_features), *sizes, int(n_outputs)],
            "activations": [hidden] * len(sizes) + [out_activation],
            "loss": loss,
            "init": "sklearn",
        },
        "train": train,
        "optimizer": optimizer,
    })
