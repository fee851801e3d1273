"""scikit-learn's own estimator checks, the contract of the Python layer: every check that
scikit-learn's MLPs pass, gpunn's pass too, but one that asks for float64 agreement."""

import numpy as np
from sklearn.utils.estimator_checks import parametrize_with_checks

from gpunn import MLPClassifier, MLPRegressor

# scikit-learn's own test settings for its MLPs (max_iter=100), on the CPU path (the GPU
# engines are tested against the CPU reference in the Rust suite).
ESTIMATORS = [
    MLPClassifier(max_iter=100, random_state=0, device="cpu"),
    MLPRegressor(max_iter=100, random_state=0, device="cpu"),
]

# gpunn trains in float32. Fitting with integer sample weights and fitting on the repeated
# rows give the same predictions to float32 rounding (1 ulp, 1.2e-7 absolute: checked at
# float32 tolerance by test_sample_weights_equal_repeated_rows below), which is above this
# check's float64 tolerance (rtol 1e-7).
FLOAT32 = {
    "check_sample_weight_equivalence_on_dense_data":
        "float32 training: equal to repeated rows within float32 rounding, not rtol 1e-7",
}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: FLOAT32)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_sample_weights_equal_repeated_rows():
    """The same check at float32 tolerance, and a weight that matters."""
    rng = np.random.RandomState(0)
    X = rng.rand(15, 30)
    y = rng.randint(0, 3, size=15)
    sw = rng.randint(0, 5, size=15)
    for est, target in [(MLPClassifier, y), (MLPRegressor, y * 1.5)]:
        weighted = est(max_iter=100, random_state=0, device="cpu").fit(X, target, sample_weight=sw)
        repeated = est(max_iter=100, random_state=0, device="cpu").fit(X.repeat(sw, axis=0), target.repeat(sw))
        method = "predict_proba" if est is MLPClassifier else "predict"
        a, b = getattr(weighted, method)(X), getattr(repeated, method)(X)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        plain = est(max_iter=100, random_state=0, device="cpu").fit(X, target)
        assert np.abs(getattr(plain, method)(X) - a).max() > 1e-3, "the weights change nothing"
