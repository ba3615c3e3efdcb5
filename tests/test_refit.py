"""A refit that fails half-way leaves an unfitted estimator; fitted models ignore later set_params."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from structaug.datasets import make_sequences
from structaug.exceptions import DataValidationError, NotFittedError


def test_failed_refit_of_a_recommender_keeps_nothing_of_the_old_model():
    from structaug.recsys import SequentialRecommender

    log = make_sequences(n_users=20, n_items=30, max_len=6)
    rec = SequentialRecommender(
        model="sasrec", max_epochs=1, patience=2, hidden_size=8, inner_size=8, random_state=0, device="cpu"
    ).fit(log)
    users = list(log["user"].unique()[:2])
    assert len(rec.recommend(users, k=3)) == 6
    one_each = pd.DataFrame({"user": [f"u{i}" for i in range(40)], "item": np.arange(40)})
    with pytest.raises(DataValidationError):  # patience needs users with 2 interactions
        rec.fit(one_each)
    with pytest.raises(NotFittedError):
        rec.recommend(["u0"], k=1)
    assert not hasattr(rec, "model_")


def test_failed_refit_of_hypertab_keeps_nothing_of_the_old_model():
    from structaug.tabular import FeatureSubsetViews, HyperTabClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 4)), np.array(["a", "b"] * 20)
    clf = HyperTabClassifier(views=FeatureSubsetViews(n_views=4), max_epochs=1, device="cpu", random_state=0)
    clf.fit(X, y)
    assert set(clf.predict(X)) <= {"a", "b"}
    clf.set_params(max_epochs=0)  # refused when the refit starts
    with pytest.raises(ValueError, match="max_epochs"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_scoring_uses_the_fitted_max_len_not_a_later_set_params():
    from structaug.recsys import SequentialRecommender

    log = make_sequences(n_users=20, n_items=30, max_len=8)
    rec = SequentialRecommender(
        model="sasrec", max_epochs=1, hidden_size=8, inner_size=8, max_len=10, random_state=0, device="cpu"
    ).fit(log)
    users = list(log["user"].unique()[:3])
    before = rec.recommend(users, k=5)
    rec.set_params(max_len=2)
    pd.testing.assert_frame_equal(rec.recommend(users, k=5), before)
    assert rec.max_len_ == 10


def test_tjepa_transform_uses_the_fitted_representation():
    from structaug.tabular import TJEPA

    X = np.random.default_rng(0).normal(size=(30, 4))
    enc = TJEPA(max_epochs=1, hidden_size=8, n_layers=1, n_heads=1, device="cpu", random_state=0).fit(X)
    Z = enc.transform(X)
    enc.set_params(representation="reg" if enc.representation != "reg" else "flatten")
    np.testing.assert_array_equal(enc.transform(X), Z)
    assert Z.shape[1] == enc.n_features_out_


def test_lightgcn_patience_none_trains_max_epochs_with_validation():
    from structaug.datasets import make_interactions
    from structaug.recsys import LightGCN

    log = make_interactions(n_users=30, n_items=25)[0]
    val = log.groupby("user").tail(1)
    train = log.drop(val.index)
    rec = LightGCN(max_epochs=3, patience=None, embedding_dim=8, device="cpu", random_state=0).fit(
        train, validation=val
    )
    assert rec.train_result_.epochs_run == 3


def test_mlp_baselines_take_verbose():
    from structaug.tabular import MLPClassifierTorch

    X, y = np.random.default_rng(0).normal(size=(30, 3)), np.arange(30) % 2
    clf = MLPClassifierTorch(max_epochs=1, verbose=False, device="cpu", random_state=0).fit(X, y)
    assert clf.get_params()["verbose"] is False and clf.head_.verbose is False
