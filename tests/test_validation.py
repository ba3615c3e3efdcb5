"""Every validation error path names the argument and the problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from structaug.exceptions import DataValidationError
from structaug.validation import (
    check_consistent_length,
    check_finite,
    check_float_matrix,
    check_fraction,
    check_index_range,
    check_positive_int,
    check_shape,
    check_type,
)


def test_check_type():
    assert check_type(3, int, "k") == 3
    with pytest.raises(TypeError, match="k must be a int or float, got str"):
        check_type("x", (int, float), "k")


@pytest.mark.parametrize("x", [np.array([1.0, np.nan]), torch.tensor([np.inf, 1.0])])
def test_check_finite(x):
    with pytest.raises(DataValidationError, match="X contains 1 NaN or infinite"):
        check_finite(x, "X")


def test_check_finite_ignores_ints():
    check_finite(np.array([1, 2]), "X")


def test_check_shape():
    check_shape(np.zeros((3, 2)), "X", ndim=2, shape=(None, 2))
    with pytest.raises(DataValidationError, match="X must be a 2-D array, got shape \\(3,\\)"):
        check_shape(np.zeros(3), "X", ndim=2)
    with pytest.raises(DataValidationError, match="must have shape \\('\\*', 4\\)"):
        check_shape(np.zeros((3, 2)), "X", shape=(None, 4))
    with pytest.raises(DataValidationError, match="X is empty"):
        check_shape(np.zeros((0, 2)), "X", ndim=2)


def test_check_float_matrix():
    out = check_float_matrix([[1, 2], [3, 4]], "X")
    assert out.dtype == np.float64 and out.shape == (2, 2)
    with pytest.raises(DataValidationError, match="non-numeric"):
        check_float_matrix(np.array([["a", 1]], dtype=object), "X")
    with pytest.raises(DataValidationError, match="must be numeric"):
        check_float_matrix(np.array([["a", "b"]]), "X")
    with pytest.raises(DataValidationError, match="NaN"):
        check_float_matrix([[1.0, float("nan")]], "X")
    with pytest.raises(DataValidationError, match="could not be read"):
        check_float_matrix([[1.0], [1.0, 2.0]], "X")


def test_check_index_range():
    check_index_range(torch.tensor([[0, 1], [2, 0]]), [3, 2], "idx")
    with pytest.raises(DataValidationError, match="idx \\(mode 1\\) has index 2 out of range for size 2"):
        check_index_range(np.array([[0, 2]]), [3, 2], "idx")
    with pytest.raises(DataValidationError, match="negative index -1"):
        check_index_range(np.array([-1, 0]), 5, "edge_index")
    with pytest.raises(DataValidationError, match="integer indices"):
        check_index_range(np.array([0.5]), 5, "edge_index")


def test_check_consistent_length():
    assert check_consistent_length([[1, 2], [3, 4]], ["X", "y"]) == 2
    with pytest.raises(DataValidationError, match="X=2, y=3"):
        check_consistent_length([[1, 2], [1, 2, 3]], ["X", "y"])


def test_scalar_params():
    assert check_positive_int(3, "k") == 3
    with pytest.raises(ValueError, match="k must be >= 1"):
        check_positive_int(0, "k")
    with pytest.raises(TypeError):
        check_positive_int(2.0, "k")
    assert check_fraction(0.5, "p") == 0.5
    with pytest.raises(ValueError, match="p must lie in \\(0, 1\\]"):
        check_fraction(0, "p")


def test_to_sortable_time_keeps_integer_precision_and_numeric_order():
    import pandas as pd

    from structaug.validation import to_sortable_time

    # Python ints in an object column: float64 would merge these two nanosecond epochs
    t = to_sortable_time(pd.Series([1600000000000000001, 1600000000000000000], dtype=object))
    assert t[0] != t[1] and t[0] > t[1]
    assert list(to_sortable_time(pd.Series(["10", "2", "3"]))) == [10, 2, 3]  # numbers, not text
    with pytest.raises(DataValidationError, match="mixes value kinds"):
        to_sortable_time(pd.Series([1, "2"], dtype=object), "ts")


@pytest.mark.parametrize("as_tensor", [True, False])
def test_check_finite_in_row_blocks_counts_every_bad_value(monkeypatch, as_tensor):
    import structaug.validation as validation

    monkeypatch.setattr(validation, "_FINITE_BLOCK", 10)  # 37 x 3 -> blocks of 3 rows
    a = np.random.default_rng(0).random((37, 3)).astype(np.float32)
    validation.check_finite(torch.as_tensor(a) if as_tensor else a, "x")
    a[5, 1], a[20, 0], a[36, 2] = np.nan, -np.inf, np.inf  # in the first, a middle and the last block
    with pytest.raises(DataValidationError, match="x contains 3 NaN"):
        validation.check_finite(torch.as_tensor(a) if as_tensor else a, "x")
