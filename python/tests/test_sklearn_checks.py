"""scikit-learn's own estimator checks, the contract of the Python layer: every check that
scikit-learn's MLPs pass, gpunn's pass too."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from gpunn import MLPClassifier, MLPRegressor

# scikit-learn's own test settings for its MLPs (max_iter=100), on the CPU
# path (the GPU engines are tested against the CPU reference in the Rust suite).
ESTIMATORS = [
    MLPClassifier(max_iter=100, random_state=0, device="cpu"),
    MLPRegressor(max_iter=100, random_state=0, device="cpu"),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
