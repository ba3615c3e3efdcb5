"""Helpers shared by the recommenders (structaug.recsys.interactions)."""

import numpy as np
import pytest

from structaug.exceptions import DataValidationError, InvalidParameterError
from structaug.recsys.interactions import IdVocab, UnknownIdError, pairs_of_sorted_users, pairs_of_users


def _loop(query, users, items):
    out = set()
    for r, q in enumerate(query):
        for u, i in zip(users, items):
            if u == q:
                out.add((r, i))
    return out


def test_pairs_of_users_matches_a_loop():
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 30, 500), rng.integers(0, 50, 500)
    query = np.array([3, 7, 3, 29, 31, 0])  # a repeated user and one (31) without pairs
    rows, cols = pairs_of_users(query, users, items)
    assert len(rows) == len(cols) == sum(int((users == q).sum()) for q in query)
    assert set(zip(rows.tolist(), cols.tolist())) == _loop(query, users, items)
    assert not (rows == 4).any()  # user 31 has no pairs
    # both rows of the repeated user get its items
    assert set(cols[rows == 0].tolist()) == set(cols[rows == 2].tolist()) == set(items[users == 3].tolist())
    # the pre-sorted entry point gives the same pairs in the same order
    order = np.argsort(users, kind="stable")
    r2, c2 = pairs_of_sorted_users(query, users[order], items[order])
    assert r2.tolist() == rows.tolist() and c2.tolist() == cols.tolist()


def test_pairs_of_users_masks_a_score_matrix_and_handles_empty_input():
    scores = np.zeros((2, 4))
    scores[pairs_of_users(np.array([1, 0]), np.array([0, 1, 1]), np.array([2, 0, 3]))] = -np.inf
    assert np.isinf(scores).tolist() == [[True, False, False, True], [False, False, True, False]]
    rows, cols = pairs_of_users(np.array([], dtype=int), np.array([0]), np.array([1]))
    assert rows.shape == cols.shape == (0,)
    rows, cols = pairs_of_users(np.array([0, 1]), np.array([], dtype=int), np.array([], dtype=int))
    assert rows.shape == cols.shape == (0,)
    with pytest.raises(DataValidationError, match="same length"):
        pairs_of_users(np.array([0]), np.array([0, 1]), np.array([1]))


def test_id_vocab_round_trip_and_unknown_ids():
    v = IdVocab(["b", "a", "c", "a"], offset=1)
    assert v.raw_.tolist() == ["a", "b", "c"] and v.size == 4
    codes = v.encode(["c", "a"])
    assert codes.tolist() == [3, 1] and v.decode(codes).tolist() == ["c", "a"]
    with pytest.raises(UnknownIdError, match=r"^unknown user\(s\) \['z'\] \(1 in total\)") as err:
        v.encode(["z"], name="user")
    # both a structaug error and the KeyError it used to be
    assert isinstance(err.value, DataValidationError) and isinstance(err.value, KeyError)
    assert v.encode(["z", "a"], unknown="mask").tolist() == [-1, 1]
    with pytest.raises(InvalidParameterError, match="unknown must be one of"):
        v.encode(["a"], unknown="skip")
    with pytest.raises(DataValidationError, match=r"internal ids must lie in \[1, 4\)"):
        v.decode([0])
