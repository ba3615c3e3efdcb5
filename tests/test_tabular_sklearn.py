"""scikit-learn's estimator checks over every public tabular estimator and transformer.

HyperTab's estimators run them in test_tabular_hypertab.py, T-JEPA's (slow) in
test_tabular_tjepa.py and the plain-MLP baselines' in test_tabular_mlp.py; here the augmenter
and the encoder. No check is skipped (check_array_api_input skips itself without
SCIPY_ARRAY_API).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

import structaug.tabular as tab
from structaug.tabular import FeatureSubsetViews, TableEncoder


@parametrize_with_checks([FeatureSubsetViews(n_views=3, random_state=0), TableEncoder()])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


def test_public_names_are_curated():
    # every public name resolves, and the private helpers stay out of the user API
    assert {
        "TableEncoder",
        "FeatureSubsetViews",
        "HyperTabClassifier",
        "TJEPA",
        "JEPAMasking",
        "MLPClassifierTorch",
    } <= set(tab.__all__)
    for name in tab.__all__:
        assert getattr(tab, name).__name__ == name
    assert "MLPHead" not in tab.__all__ and not hasattr(tab.tjepa, "MLPHead")
    assert set(tab.hypertab.__all__) == {"FeatureSubsetViews", "HyperTabClassifier", "HyperTabRegressor"}


def test_table_encoder_declares_float32_output():
    enc = TableEncoder()
    assert enc.__sklearn_tags__().transformer_tags.preserves_dtype == ["float32"]
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    assert enc.fit_transform(X).dtype == np.float32
    assert enc.fit_transform(X.astype(np.float32)).dtype == np.float32


def test_feature_subset_views_fit_takes_y_and_n_counts_views_per_row():
    X = np.random.default_rng(0).normal(size=(6, 5))
    aug = FeatureSubsetViews(n_views=4, random_state=0)
    assert aug.fit(X, np.arange(6)) is aug  # y is accepted and ignored, as by any transformer
    assert FeatureSubsetViews.sample_unit == "views" and FeatureSubsetViews.default_n is None
    V = aug.sample(X)  # n=None: the n_views parameter
    assert V.shape == (4, 6, 5) and aug._count_sampled(V, X) == 4
    V = aug.sample(X, 2)
    assert V.shape == (2, 6, 5) and aug._count_sampled(V, X) == 2
    frames = aug.sample(pd.DataFrame(X), 3)
    assert len(frames) == 3 == aug._count_sampled(frames, pd.DataFrame(X))
    T = aug.sample(torch.as_tensor(X), 3)
    assert T.shape == (3, 6, 5) and aug._count_sampled(T, torch.as_tensor(X)) == 3
    masks = aug.sample(None, 7)
    assert masks.shape == (7, 5) and aug._count_sampled(masks, None) == 7


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((0, 3)), "0 sample"),
        (np.zeros((4, 0)), "0 feature"),
        (np.zeros((4, 3), dtype=complex), "Complex data not supported"),
    ],
)
def test_feature_subset_views_fit_rejects_unusable_tables(X, match):
    with pytest.raises(ValueError, match=match):
        FeatureSubsetViews().fit(X)


def test_feature_subset_views_rejects_sparse_and_objects_with_named_errors():
    import scipy.sparse as sp

    with pytest.raises(ValueError, match="sparse input is not supported"):
        FeatureSubsetViews().fit(sp.csr_matrix(np.eye(3)))
    X = np.ones((3, 2), dtype=object)
    X[0, 0] = {"a": 1}
    with pytest.raises(TypeError, match="neither|must be a string or a real number"):
        FeatureSubsetViews().fit(X)
    # zero rows remain valid in sample: views with zero rows
    aug = FeatureSubsetViews(random_state=0).fit(np.ones((3, 2)))
    assert aug.sample(np.zeros((0, 2)), 2).shape == (2, 0, 2)
