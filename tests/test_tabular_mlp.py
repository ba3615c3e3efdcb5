"""The plain-MLP baselines (MLPClassifierTorch, MLPRegressorTorch) and their shared MLP head.

scikit-learn's estimator checks with a tiny budget, and the validation hold-out the head
takes through structaug.splits.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.utils.estimator_checks import parametrize_with_checks

from structaug.tabular import MLPClassifierTorch, MLPRegressorTorch
from structaug.tabular._mlp import MLPHead

# the smallest budget found that passes check_classifiers_train's accuracy bar; the float32
# regressor meets check_methods_subset_invariance's 1e-7 at this budget (not at 20 epochs)
MLP_KW = dict(hidden_sizes=(16,), max_epochs=30, lr=1e-2, device="cpu", random_state=0)


@parametrize_with_checks([MLPClassifierTorch(**MLP_KW), MLPRegressorTorch(**MLP_KW)])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


def test_baselines_declare_what_their_encoder_reads():
    tags = MLPClassifierTorch().__sklearn_tags__().input_tags
    assert tags.allow_nan and tags.categorical and tags.string  # TableEncoder(missing="impute")
    X = np.random.default_rng(0).normal(size=(30, 3))
    X[0, 1] = np.nan
    y = (X[:, 0] > 0).astype(int)
    proba = MLPClassifierTorch(**{**MLP_KW, "max_epochs": 2}).fit(X, y).predict_proba(X)
    assert proba.shape == (30, 2) and np.isfinite(proba).all()


def test_head_validation_holdout_is_stratified_and_sized(monkeypatch):
    # 40 rows, classes 30/10, validation_fraction=0.25: 10 held out, stratified 3:1 (ceil, as sklearn)
    import structaug.tabular._mlp as mlp_mod

    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    y = np.r_[np.zeros(30, int), np.ones(10, int)]
    seen = {}
    real = mlp_mod.stratified_holdout_indices

    def spy(*a, **kw):
        tr, va = real(*a, **kw)
        seen.update(tr=tr, va=va, kw=kw)
        return tr, va

    monkeypatch.setattr(mlp_mod, "stratified_holdout_indices", spy)
    MLPHead(hidden_sizes=(4,), max_epochs=1, validation_fraction=0.25, device="cpu", random_state=0).fit(X, y)
    tr, va = seen["tr"], seen["va"]
    assert len(va) == 10 and len(tr) == 30 and not set(tr) & set(va)
    assert np.bincount(y[va]).tolist() == [8, 2] or np.bincount(y[va]).tolist() == [7, 3]
    assert seen["kw"]["stratify"] == "auto"
