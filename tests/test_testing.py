"""structaug.testing: check_recommender catches broken recommenders; the example factories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from structaug.recsys.base import Recommender
from structaug.recsys.interactions import IdVocab
from structaug.testing import Example, check_recommender, example, example_data, small_instance


class ItemKNN(Recommender):
    """Toy recommender: a user's score for an item is its co-occurrence with the user's items."""

    def __init__(
        self, *, shrink: float = 1.0, random_state=None, user_col="user", item_col="item", time_col="timestamp"
    ):
        self.shrink = shrink
        self.random_state = random_state
        self.user_col = user_col
        self.item_col = item_col
        self.time_col = time_col

    def _fit(self, frame, **fit_params):
        self.users_ = IdVocab(frame["user"])
        self.items_ = IdVocab(frame["item"])
        u = self.users_.encode(frame["user"].to_numpy())
        i = self.items_.encode(frame["item"].to_numpy())
        m = np.zeros((len(self.users_), len(self.items_)))
        m[u, i] = 1.0
        self.matrix_ = m
        co = m.T @ m
        np.fill_diagonal(co, 0.0)
        self.sim_ = co / (co.sum(1, keepdims=True) + self.shrink)

    def _score_users(self, codes):
        # a tiny tie-breaking term keeps rankings strict (check_recommender compares scores)
        return torch.as_tensor(self.matrix_[codes] @ self.sim_ + 1e-6 * np.arange(len(self.items_))[::-1])

    def _seen_pairs(self, codes):
        rows, cols = np.nonzero(self.matrix_[codes])
        return rows, cols

    def _popularity(self):
        return self.matrix_.sum(0)


class ForgetsSeen(ItemKNN):
    def _seen_pairs(self, codes):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)


class Unseeded(ItemKNN):
    def _fit(self, frame, **fit_params):
        super()._fit(frame)
        self.sim_ = self.sim_ + np.random.default_rng().random(self.sim_.shape)  # ignores random_state


class ScoresMatrix(ItemKNN):
    def score(self, interactions):  # the old API: a matrix, not sklearn's number
        return self.matrix_


@pytest.fixture(scope="module")
def log():
    return example_data("LightGCN")


def test_check_recommender_passes_a_correct_recommender(log, tmp_path):
    check_recommender(ItemKNN(random_state=0), log, tmp_dir=str(tmp_path))


@pytest.mark.parametrize(
    "cls,match",
    [
        (ForgetsSeen, "ForgetsSeen.recommend returned a seen item"),
        (Unseeded, "Unseeded: the same random_state gave different recommendations"),
        (ScoresMatrix, r"ScoresMatrix.score returned an array of shape \(16, 30\); it must return a number"),
    ],
)
def test_check_recommender_catches(cls, match, log, tmp_path):
    with pytest.raises(AssertionError, match=match):
        check_recommender(cls(random_state=0), log, tmp_dir=str(tmp_path))


def test_examples_are_small_and_seeded():
    ex = example("LocalAugmenter")
    assert isinstance(ex, Example) and ex.data.num_nodes == 60 and ex.params["max_epochs"] == 2
    a, b = example_data("FeatureSubsetViews"), example_data("FeatureSubsetViews")
    assert a.shape == (30, 6) and np.array_equal(a, b)
    assert not np.array_equal(a, example_data("FeatureSubsetViews", random_state=1))
    log = example("MFBPR").data
    assert isinstance(log, pd.DataFrame) and {"user", "item"} <= set(log.columns)
    with pytest.raises(KeyError, match="no example data for str"):
        example(str)


def test_small_instance_budget_and_overrides():
    from structaug.tensor import InfluenceAugmenter, NeuralTensorCompletion

    aug = small_instance(InfluenceAugmenter, random_state=2)
    est = aug.estimator
    assert isinstance(est, NeuralTensorCompletion) and est.max_epochs == 2 and est.device == "cpu"
    assert aug.random_state == 2
    assert small_instance(aug, augment_ratio=0.25).augment_ratio == 0.25 and aug.augment_ratio == 0.5
