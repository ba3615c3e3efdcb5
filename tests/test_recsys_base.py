"""The shared recommender contract (structaug.recsys.base.Recommender) on a tiny concrete model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from structaug.exceptions import CorruptFileError, DataValidationError, InvalidParameterError, UnknownIdError
from structaug.recsys.base import Recommender
from structaug.recsys.interactions import IdVocab, pairs_of_users


class TableRecommender(Recommender):
    """Scores = a fixed user x item table given at construction (for testing the base)."""

    def __init__(self, *, table=None, user_col="user", item_col="item", time_col="timestamp", device="cpu"):
        self.table = table
        self.user_col = user_col
        self.item_col = item_col
        self.time_col = time_col
        self.device = device

    def _fit(self, frame, **fit_params):
        self.users_ = IdVocab(frame["user"])
        self.items_ = IdVocab(frame["item"])
        self.pairs_ = (self.users_.encode(frame["user"]), self.items_.encode(frame["item"]))
        self.counts_ = np.bincount(self.pairs_[1], minlength=len(self.items_)).astype(float)
        self.fit_columns_ = list(frame.columns)

    def _score_users(self, codes):
        return torch.as_tensor(np.asarray(self.table, dtype=np.float32)[codes])

    def _seen_pairs(self, codes):
        return pairs_of_users(codes, *self.pairs_)

    def _popularity(self):
        return self.counts_


LOG = pd.DataFrame({"user": ["a", "a", "b", "c", "c", "c"], "item": [10, 11, 11, 12, 10, 11]})
# users a, b, c (sorted) x items 10, 11, 12, 13? -> only 10, 11, 12 exist
TABLE = [[0.5, 0.9, 0.1], [0.3, 0.3, 0.3], [1.0, 2.0, 3.0]]


def fitted(**kw):
    return TableRecommender(table=TABLE, **kw).fit(LOG)


def test_recommend_long_frame_ranks_and_ties():
    rec = fitted()
    out = rec.recommend(["b", "a"], k=3, exclude_seen=False)
    assert list(out.columns) == ["user", "item", "rank", "score"]
    # b: all tied -> item order 10, 11, 12; a: 11 (0.9), 10 (0.5), 12 (0.1)
    assert out["user"].tolist() == ["b"] * 3 + ["a"] * 3
    assert out["item"].tolist() == [10, 11, 12, 11, 10, 12]
    assert out["rank"].tolist() == [1, 2, 3, 1, 2, 3]
    np.testing.assert_allclose(out["score"], [0.3, 0.3, 0.3, 0.9, 0.5, 0.1], rtol=1e-6)
    assert out["rank"].dtype == np.int64 and out["score"].dtype == np.float64


def test_exclude_seen_gives_fewer_rows_never_a_seen_item():
    rec = fitted()
    out = rec.recommend(["a", "c", "b"], k=2)
    assert out[out.user == "a"]["item"].tolist() == [12]  # 10, 11 seen
    assert out[out.user == "c"].empty  # saw everything
    assert out[out.user == "b"]["item"].tolist() == [10, 12]  # 11 seen; tie -> lower first
    assert out[out.user == "b"]["rank"].tolist() == [1, 2]


def test_ties_broken_by_column_beyond_k():
    rec = TableRecommender(table=[[1.0] * 3] * 3).fit(LOG)
    out = rec.recommend(["a", "b", "c"], k=1, exclude_seen=False)
    assert out["item"].tolist() == [10, 10, 10]


def test_unknown_users_policy():
    rec = fitted()
    with pytest.raises(UnknownIdError, match="zz"):
        rec.recommend(["a", "zz"], k=1)
    out = rec.recommend(["zz"], k=3, unknown="popular")
    assert out["item"].tolist() == [11, 10, 12]  # counts 3, 2, 1
    with pytest.raises(InvalidParameterError, match="unknown"):
        rec.recommend(["a"], k=1, unknown="ignore")


@pytest.mark.parametrize("k", [0, 4, -1, 1.5, True])
def test_k_outside_catalogue(k):
    with pytest.raises(InvalidParameterError, match="k"):
        fitted().recommend(["a"], k=k)


@pytest.mark.parametrize("users", ["a", None, 3, [["a"]]])
def test_users_must_be_1d(users):
    with pytest.raises(DataValidationError, match="users"):
        fitted().recommend(users, k=1)


def test_empty_users_gives_empty_frame():
    out = fitted().recommend([], k=2)
    assert out.empty and list(out.columns) == ["user", "item", "rank", "score"]


def test_score_items_matrix_and_subset():
    rec = fitted()
    np.testing.assert_allclose(rec.score_items(["c"]), [[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(rec.score_items(["c", "a"], items=[12, 10]), [[3.0, 1.0], [0.1, 0.5]], rtol=1e-6)
    with pytest.raises(UnknownIdError):
        rec.score_items(["a"], items=[99])
    assert not hasattr(Recommender, "score")  # sklearn's score returns a number, not a matrix


def test_column_names_configurable_and_frame_untouched():
    log = LOG.rename(columns={"user": "uid", "item": "iid"}).assign(user=0)  # a stray 'user' column
    before = log.copy()
    rec = TableRecommender(table=TABLE, user_col="uid", item_col="iid").fit(log)
    pd.testing.assert_frame_equal(log, before)
    assert rec.fit_columns_ == ["user", "item"]
    out = rec.recommend(["a"], k=1)
    assert list(out.columns) == ["uid", "iid", "rank", "score"] and out["iid"].tolist() == [12]
    with pytest.raises(DataValidationError, match="uid"):
        TableRecommender(table=TABLE, user_col="uid").fit(LOG)


def test_bad_column_parameters():
    with pytest.raises(InvalidParameterError, match="user_col"):
        TableRecommender(table=TABLE, user_col="").fit(LOG)
    with pytest.raises(InvalidParameterError, match="different"):
        TableRecommender(table=TABLE, item_col="user").fit(LOG)


def test_time_column_checked_and_renamed():
    log = LOG.assign(ts=[f"2020-01-0{i + 1}" for i in range(6)])
    rec = TableRecommender(table=TABLE, time_col="ts").fit(log)
    assert rec.fit_columns_ == ["user", "item", "timestamp"]
    with pytest.raises(DataValidationError, match="ts"):
        TableRecommender(table=TABLE, time_col="ts").fit(log.assign(ts=["x"] * 6))


def test_not_fitted():
    from structaug.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="TableRecommender"):
        TableRecommender(table=TABLE).recommend(["a"], k=1)


def test_nan_scores_refused():
    rec = TableRecommender(table=[[np.nan, 1, 2]] * 3).fit(LOG)
    with pytest.raises(DataValidationError, match="NaN"):
        rec.recommend(["a"], k=1)


def test_save_load_round_trip(tmp_path):
    rec = fitted()
    path = rec.save(tmp_path / "m.pt")
    back = TableRecommender.load(path)
    pd.testing.assert_frame_equal(back.recommend(["a", "b"], k=2), rec.recommend(["a", "b"], k=2))
    assert TableRecommender.load(path, device="meta").device == "meta"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "bad.pt").write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError):
        TableRecommender.load(tmp_path / "bad.pt")

    class Other(TableRecommender):
        pass

    with pytest.raises(CorruptFileError, match="holds a"):
        Other.load(path)


def test_blocks_match_one_shot(monkeypatch):
    import structaug.recsys.base as base

    rng = np.random.default_rng(0)
    users = [f"u{i}" for i in range(7)]
    log = pd.DataFrame({"user": np.repeat(users, 3), "item": rng.integers(0, 20, 21)})
    table = rng.integers(0, 4, (7, len(np.unique(log.item)))).astype(float)  # many ties
    rec = TableRecommender(table=table).fit(log)
    full = rec.recommend(users, k=5)
    monkeypatch.setattr(base, "_BLOCK", 2)
    pd.testing.assert_frame_equal(rec.recommend(users, k=5), full)
    # a large catalogue shrinks the block by the score budget (here 3 users x 16 items)
    monkeypatch.setattr(base, "_BLOCK", 1024)
    monkeypatch.setattr(base, "_BLOCK_SCORES", 3 * table.shape[1])
    assert base._block_rows(table.shape[1]) == 3 and base._block_rows(10**9) == 1
    pd.testing.assert_frame_equal(rec.recommend(users, k=5), full)
    np.testing.assert_array_equal(rec.score_items(users), table.astype(np.float32))
    # reference: stable argsort by -score with seen items removed
    for u, grp in full.groupby("user", sort=False):
        c = rec.users_.encode([u])[0]
        s = table[c].copy()
        s[rec.pairs_[1][rec.pairs_[0] == c]] = -np.inf
        order = [j for j in np.argsort(-s, kind="stable") if np.isfinite(s[j])][:5]
        assert grp["item"].tolist() == rec.items_.raw_[order].tolist()
