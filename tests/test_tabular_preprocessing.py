"""TableEncoder and the label helpers shared by HyperTab, T-JEPA and the tabular baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from structaug.exceptions import DataValidationError
from structaug.tabular._encoder import (
    TableEncoder,
    check_n_rows,
    check_regression_target,
    encode_class_labels,
)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "num": [1.0, 2.0, 3.0, 4.0, 5.0],
            "cat": pd.Categorical(["a", "b", "a", "c", "b"]),
            "obj": ["x", "y", "x", "x", "y"],
            "const": [7, 7, 7, 7, 7],
            "flag": [True, False, True, True, False],
        }
    )


def test_ordinal_layout_and_dtype(frame):
    enc = TableEncoder().fit(frame)
    Z = enc.transform(frame)
    assert Z.dtype == np.float32 and Z.flags.c_contiguous and Z.shape == (5, 5)
    assert enc.numerical_columns_.tolist() == [0, 3, 4]
    assert enc.categorical_columns_.tolist() == [1, 2]
    assert enc.cardinalities_ == [4, 3]  # levels + the reserved unknown code
    assert Z[:, 1].tolist() == [0, 1, 0, 2, 1]
    num = Z[:, 0]
    assert abs(num.mean()) < 1e-6 and abs(num.std() - 1) < 1e-5  # standardised on fit data
    assert np.all(Z[:, 3] == 0) and enc.constant_features_.tolist() == [3]  # constant column → 0, kept


def test_onehot_groups_and_unknown_category(frame):
    enc = TableEncoder(encoding="onehot").fit(frame)
    assert enc.n_features_out_ == 1 + 4 + 3 + 1 + 1
    assert enc.feature_groups_.tolist() == [0, 1, 1, 1, 1, 2, 2, 2, 3, 4]
    new = frame.copy()
    new["obj"] = ["z", "y", "x", "x", "y"]  # unseen level at predict time
    Z = enc.transform(new)
    assert Z[0, 5:8].tolist() == [0, 0, 1]  # the unknown indicator
    assert np.all(Z[:, 1:5].sum(1) == 1)
    assert len(enc.get_feature_names_out()) == enc.n_features_out_


def test_unknown_category_can_raise(frame):
    enc = TableEncoder(handle_unknown="error").fit(frame)
    new = frame.assign(obj=["z", "y", "x", "x", "y"])
    with pytest.raises(DataValidationError, match="not seen in fit"):
        enc.transform(new)


def test_missing_policy(frame):
    bad = frame.assign(num=[1.0, np.nan, 3.0, 4.0, 5.0])
    with pytest.raises(DataValidationError, match="NaN"):
        TableEncoder().fit(bad)
    enc = TableEncoder(missing="impute").fit(bad)
    Z = enc.transform(frame.assign(num=[np.nan, 1, 1, 1, 1], obj=[None, "x", "y", "x", "x"]))
    assert np.isfinite(Z).all()
    # NaN → training median (3.5 → a finite standardised value); missing category → unknown code
    assert Z[0, 2] == len(enc.categories_[1])
    with pytest.raises(DataValidationError, match="NaN"):
        TableEncoder().fit(frame).transform(bad)


def test_inf_is_always_an_error(frame):
    with pytest.raises(DataValidationError, match="inf"):
        TableEncoder(missing="impute").fit(frame.assign(num=[1, np.inf, 3, 4, 5]))


def test_numpy_inputs_and_column_count():
    X = np.random.default_rng(0).normal(size=(20, 3))
    enc = TableEncoder().fit(X)
    assert enc.n_features_in_ == 3 and not hasattr(enc, "feature_names_in_")
    with pytest.raises(DataValidationError, match="X has 2 features, but TableEncoder is expecting 3"):
        enc.transform(X[:, :2])
    obj = np.array([["a", 1.0], ["b", 2.0], ["a", 3.0]], dtype=object)
    enc2 = TableEncoder().fit(obj)
    assert enc2.categorical_columns_.tolist() == [0] and enc2.numerical_columns_.tolist() == [1]


def test_more_features_than_rows_is_fine():
    X = np.random.default_rng(0).normal(size=(5, 40))
    assert TableEncoder().fit_transform(X).shape == (5, 40)


def test_user_categorical_and_sklearn_contract(frame):
    enc = TableEncoder(categorical_features=["num"])
    assert clone(enc).get_params() == enc.get_params()
    with pytest.raises(NotFittedError):
        enc.transform(frame)
    enc.fit(frame)
    assert 0 in enc.categorical_columns_.tolist()
    with pytest.raises(ValueError, match="encoding"):
        TableEncoder(encoding="bogus").fit(frame)


def test_class_labels():
    codes, classes = encode_class_labels(np.array(["dog", "cat", "dog", "emu"]))
    assert classes.tolist() == ["cat", "dog", "emu"] and codes.tolist() == [1, 0, 1, 2]
    with pytest.raises(DataValidationError, match="1 class"):
        encode_class_labels([3, 3, 3])
    with pytest.raises(ValueError, match="Unknown label type"):
        encode_class_labels([0.1, 0.7, 0.3])
    with pytest.raises(DataValidationError, match="missing"):
        encode_class_labels(pd.Series(["a", None, "b"]))


def test_regression_target_and_rows():
    assert check_regression_target(pd.Series([1, 2, 3])).dtype == np.float64
    with pytest.raises(DataValidationError, match="NaN or infinite"):
        check_regression_target([1.0, np.inf])
    with pytest.raises(DataValidationError, match="inconsistent numbers of samples"):
        check_n_rows(np.zeros((3, 2)), [0, 1])
