"""gpunn: scikit-learn's MLPClassifier and MLPRegressor, trained by the gpunn library on any
Vulkan, Metal or DX12 GPU or on its fast CPU path.

    from gpunn import MLPClassifier      # instead of sklearn.neural_network
    clf = MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=20).fit(X, y)
"""

from ._core import __version__
from ._estimators import MLPClassifier, MLPRegressor
from ._persist import load

__all__ = ["MLPClassifier", "MLPRegressor", "load", "__version__"]
