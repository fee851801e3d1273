"""Exports the small real tables and toy sets the tests and README examples train on.

Run from this directory: python3 make_tables.py  (needs scikit-learn and NumPy).
- breast_cancer.csv: scikit-learn's Wisconsin breast cancer table (569 x 30 features, a header,
  the class 0 = malignant / 1 = benign in the last column 'target').
- diabetes.csv: scikit-learn's diabetes table (442 x 10 features, the disease progression a year
  later in 'progression'), for regression.
- circles.csv: make_circles(n_samples=400, factor=0.5, noise=0.08, random_state=0), no header.
- wine.npz: scikit-learn's wine table (178 x 13, classes 0-2) as x_train/y_train (float64,
  int64), for the NumPy reader.
"""
import numpy as np
from sklearn import datasets

def write_csv(path, x, y, names, target, fmt="%.6g"):
    with open(path, "w") as f:
        if names is not None:
            f.write(",".join(list(names) + [target]) + "\n")
        for row, t in zip(x, y):
            f.write(",".join(fmt % v for v in row) + "," + (fmt % t) + "\n")

bc = datasets.load_breast_cancer()
write_csv("breast_cancer.csv", bc.data, bc.target,
          [n.replace(" ", "_") for n in bc.feature_names], "target")
db = datasets.load_diabetes(scaled=False)
write_csv("diabetes.csv", db.data, db.target, db.feature_names, "progression")
x, y = datasets.make_circles(n_samples=400, factor=0.5, noise=0.08, random_state=0)
write_csv("circles.csv", x, y, None, None)
wine = datasets.load_wine()
np.savez("wine.npz", x_train=wine.data.astype(np.float64), y_train=wine.target.astype(np.int64))
