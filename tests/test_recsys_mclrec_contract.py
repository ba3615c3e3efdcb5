"""Issue #21 for item sequences: SequentialRecommender trains through its SequenceViews
parameter (nested params, cloned, never mutated), declares what ``n`` counts, and follows the
shared recommender contract (configurable columns, long recommend frame, save/load)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from structaug.datasets import make_sequences
from structaug.exceptions import InvalidParameterError
from structaug.recsys import SequenceViews, SequentialRecommender
from structaug.recsys.base import Recommender
from structaug.recsys.mclrec import pad_sequences
from structaug.recsys.mclrec._views import make_views
from structaug.testing import check_nested_params

TINY = dict(
    hidden_size=8, n_layers=1, n_heads=1, inner_size=16, max_epochs=1, batch_size=32, device="cpu", random_state=0
)


@pytest.fixture(scope="module")
def log():
    return make_sequences(n_users=40, n_items=25, n_clusters=3, min_len=4, max_len=8, random_state=0)


def _losses(rec: SequentialRecommender) -> list[float]:
    return [h["loss"] for h in rec.train_result_.history]


# -- sample(data, n): what n counts ---------------------------------------------------------------
def test_sequence_views_declare_n_as_views_per_sequence():
    assert SequenceViews.sample_unit == "views" and SequenceViews.default_n == 2
    padded = pad_sequences([np.array([1, 2, 3, 4]), np.array([5, 6]), np.array([7])], 5)
    views = SequenceViews(random_state=0).fit(padded)
    for n in (None, 1, 3, 5):
        out = views.sample(padded, n)
        # n views of EVERY sequence: n tensors, each covering all rows
        assert views._count_sampled(out, padded) == (2 if n is None else n)
        assert all(v.shape == padded.shape for v in out)
    with pytest.raises(AssertionError, match="input's shape"):
        views._count_sampled((padded[:2],), padded)


def test_draw_is_make_views_with_the_fitted_settings():
    """The training loop's draw is the function it replaced, with the instance's settings."""
    padded = pad_sequences([np.arange(1, 9), np.arange(3, 7), np.array([2])], 8)
    views = SequenceViews(crop_ratio=0.3, mask_ratio=0.2, reorder_ratio=0.6, mask_id=10).fit(padded)
    got = views.draw(padded, 2, torch.Generator().manual_seed(5))
    want = make_views(
        padded, 2, torch.Generator().manual_seed(5), crop_ratio=0.3, mask_ratio=0.2, reorder_ratio=0.6, mask_id=10
    )
    assert all(torch.equal(a, b) for a, b in zip(got, want))
    with pytest.raises(Exception, match="not fitted"):
        SequenceViews().draw(padded, 2, torch.Generator())


# -- views= as a parameter -------------------------------------------------------------------------
def test_views_are_a_nested_parameter():
    rec = SequentialRecommender(views=SequenceViews(crop_ratio=0.3))
    check_nested_params(rec)
    assert rec.set_params(views__crop_ratio=0.4) is rec
    assert rec.views.crop_ratio == 0.4 and rec.get_params(deep=True)["views__crop_ratio"] == 0.4
    twin = clone(rec)
    assert twin.views is not rec.views and twin.views.crop_ratio == 0.4
    # the ratios live on the views only: the recommender no longer declares them a second time
    assert not {"crop_ratio", "mask_ratio", "reorder_ratio"} & set(rec.get_params(deep=False))
    with pytest.raises(ValueError, match="Invalid parameter 'crop_ratio'"):
        rec.set_params(crop_ratio=0.2)


def test_fit_clones_the_views_and_trains_through_them(log, monkeypatch):
    given = SequenceViews(crop_ratio=0.3, mask_ratio=0.4, reorder_ratio=0.5, random_state=7)
    before = given.get_params()
    calls = []
    original = SequenceViews.draw

    def counting(self, seqs, n, generator):
        calls.append((self, n, len(seqs)))
        return original(self, seqs, n, generator)

    monkeypatch.setattr(SequenceViews, "draw", counting)
    rec = SequentialRecommender(model="cl4srec", views=given, **TINY).fit(log)
    # the passed instance is untouched (not fitted, same parameters); the fitted copy is views_
    assert given.get_params() == before and not hasattr(given, "mask_id_")
    assert rec.views_ is not given and rec.views_.get_params()["crop_ratio"] == 0.3
    assert rec.views_.mask_id_ == len(rec.items_) + 1  # the model's mask token
    # every training batch drew its two views through views_
    n_examples = sum(len(s) - 1 for s in rec.sequences_)
    assert {(c[0], c[1]) for c in calls} == {(rec.views_, 2)}
    assert sum(c[2] for c in calls) == TINY["max_epochs"] * n_examples


def test_views_change_training_and_the_default_is_the_papers(log):
    default = SequentialRecommender(model="mclrec", **TINY).fit(log)
    explicit = SequentialRecommender(
        model="mclrec", views=SequenceViews(crop_ratio=0.5, mask_ratio=0.5, reorder_ratio=0.8), **TINY
    ).fit(log)
    assert _losses(default) == _losses(explicit)
    assert default.views_.get_params() == SequenceViews(mask_id=len(default.items_) + 1).get_params()
    other = SequentialRecommender(model="mclrec", views=SequenceViews(), **TINY).set_params(views__crop_ratio=0.2)
    other.fit(log)
    assert _losses(other) != _losses(default)
    masks_only = SequentialRecommender(model="cl4srec", views=SequenceViews(operators=("mask",)), **TINY).fit(log)
    assert masks_only.views_.operators == ("mask",)
    # the views' own random_state is not a training seed: the recommender's random_state is
    seeded = SequentialRecommender(model="mclrec", views=SequenceViews(random_state=123), **TINY).fit(log)
    assert _losses(seeded) == _losses(default)


def test_sasrec_and_popularity_views(log):
    sas = SequentialRecommender(model="sasrec", **TINY).fit(log)
    assert isinstance(sas.views_, SequenceViews)  # fitted, unused by SASRec's loss
    pop = SequentialRecommender(model="popularity").fit(log)
    assert pop.views_ is None and pop.train_result_ is None


def test_renamed_parameters_are_the_only_names():
    params = SequentialRecommender().get_params(deep=False)
    assert {"max_epochs", "hidden_size", "inner_size", "verbose", "views", "user_col", "item_col", "time_col"} <= set(
        params
    )
    assert not {"epochs", "hidden", "inner", "progress"} & set(params)
    assert params["verbose"] is False  # silent by default
    assert not hasattr(SequentialRecommender, "score")  # score_items, not a matrix-returning score


# -- the recommender contract ----------------------------------------------------------------------
def test_is_a_recommender_with_configurable_columns(log):
    assert issubclass(SequentialRecommender, Recommender)
    a = SequentialRecommender(model="sasrec", **TINY).fit(log)
    renamed = log.rename(columns={"user": "uid", "item": "iid", "timestamp": "ts"})
    b = SequentialRecommender(model="sasrec", user_col="uid", item_col="iid", time_col="ts", **TINY).fit(renamed)
    users = list(a.users_.raw_[:4])
    ra, rb = a.recommend(users, k=3), b.recommend(users, k=3)
    assert list(rb.columns) == ["uid", "iid", "rank", "score"]
    assert ra["item"].tolist() == rb["iid"].tolist() and ra["score"].tolist() == rb["score"].tolist()
    last = renamed.groupby("uid").tail(1)
    assert b.evaluate(last) == a.evaluate(log.groupby("user").tail(1))
    with pytest.raises(InvalidParameterError, match="three different columns"):
        SequentialRecommender(user_col="x", item_col="x").fit(renamed)


def test_save_load_keeps_views_and_scores(log, tmp_path):
    rec = SequentialRecommender(model="cl4srec", views=SequenceViews(crop_ratio=0.3), **TINY).fit(log)
    back = SequentialRecommender.load(rec.save(tmp_path / "cl4srec.pt"), device="cpu")
    assert back.views.crop_ratio == 0.3 and back.views_.mask_id_ == rec.views_.mask_id_
    users = list(rec.users_.raw_[:5])
    np.testing.assert_array_equal(back.score_items(users), rec.score_items(users))
    pd.testing.assert_frame_equal(back.recommend(users, k=4), rec.recommend(users, k=4))
