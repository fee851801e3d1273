"""The README's side-by-side figures for the Python package (between `<!-- python parity:
begin -->` and `<!-- python parity: end -->`): each row's recipe run through scikit-learn and
gpunn again, both figures as stated (within 0.5 points, or 0.005 of R²)."""

import re
import warnings
from pathlib import Path

import pytest
from sklearn import neural_network as sk
from sklearn.exceptions import ConvergenceWarning

import gpunn
from parity import RECIPES

README = Path(__file__).resolve().parents[2] / "README.md"


def rows():
    text = README.read_text()
    block = text.split("<!-- python parity: begin -->")[1].split("<!-- python parity: end -->")[0]
    out = []
    for line in block.splitlines():
        m = re.match(r"\|\s*`([\w-]+)`.*\|\s*([-0-9.]+)(%?)\s*\|\s*([-0-9.]+)(%?)\s*\|\s*$", line)
        if m:
            scale = 100.0 if m.group(3) else 1.0
            out.append((m.group(1), float(m.group(2)) / scale, float(m.group(4)) / scale, scale))
    return out


def test_the_table_has_every_recipe():
    assert sorted(r[0] for r in rows()) == sorted(RECIPES)


@pytest.mark.parametrize("row", rows(), ids=lambda r: r[0])
def test_readme_parity_figures(row):
    name, want_sk, want_gpunn, scale = row
    tol = 0.005
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        got_sk = RECIPES[name](sk)
        got_gpunn = RECIPES[name](gpunn, device="cpu")
    assert abs(got_sk - want_sk) <= tol, f"{name}: scikit-learn {got_sk:.4f}, README {want_sk:.4f}"
    assert abs(got_gpunn - want_gpunn) <= tol, f"{name}: gpunn {got_gpunn:.4f}, README {want_gpunn:.4f}"
