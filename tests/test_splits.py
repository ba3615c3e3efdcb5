"""structaug.splits: every split, checked against the code it replaced (same draws, same
rounding) and for its invariants (disjoint, covering, sizes, stratification, determinism)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from structaug.exceptions import DataValidationError, InvalidParameterError
from structaug.splits import (
    class_balanced_split,
    cv_folds,
    holdout_indices,
    leave_one_out,
    split_per_user,
    stratified_holdout_indices,
    train_val_test_indices,
)


def _partition(parts, n):
    allidx = np.concatenate([np.asarray(p) for p in parts])
    assert len(allidx) == n and np.array_equal(np.sort(allidx), np.arange(n)), "parts must partition range(n)"


# -- holdout_indices --------------------------------------------------------------------
@pytest.mark.parametrize("n,frac", [(10, 0.2), (37, 0.25), (5, 0.5), (1000, 0.1)])
def test_holdout_matches_the_inline_code_it_replaces(n, frac):
    # tensor completion / DAIN: perm = rng.permutation(n); n_val = int(round(n * frac))
    rng = np.random.default_rng(3)
    perm = rng.permutation(n)
    n_val = int(round(n * frac))
    tr, va = holdout_indices(n, frac, np.random.default_rng(3))
    assert np.array_equal(va, np.sort(perm[:n_val])) and np.array_equal(tr, np.sort(perm[n_val:]))
    _partition([tr, va], n)
    assert tr.dtype == np.int64 and va.dtype == np.int64


def test_holdout_advances_a_passed_generator_like_the_old_code():
    g1, g2 = np.random.default_rng(0), np.random.default_rng(0)
    holdout_indices(20, 0.2, g1)
    g2.permutation(20)
    assert g1.integers(1 << 30) == g2.integers(1 << 30)


def test_holdout_min_size_matches_hypertab():
    # HyperTab: n_va = max(1, int(round(frac * n)))
    for n, frac in [(10, 0.01), (12, 0.2), (11, 0.05)]:
        perm = np.random.default_rng(5).permutation(n)
        n_va = max(1, int(round(frac * n)))
        tr, va = holdout_indices(n, frac, np.random.default_rng(5), min_size=1)
        assert len(va) == n_va >= 1
        assert np.array_equal(va, np.sort(perm[:n_va])) and np.array_equal(tr, np.sort(perm[n_va:]))


def test_holdout_seed_determinism_and_values():
    tr, va = holdout_indices(10, 0.3, 0)
    assert va.tolist() == np.sort(np.random.default_rng(0).permutation(10)[:3]).tolist()
    assert np.array_equal(holdout_indices(10, 0.3, 0)[1], va)
    assert not np.array_equal(holdout_indices(10, 0.3, 1)[1], va)


def test_holdout_errors_name_the_argument():
    with pytest.raises(
        DataValidationError,
        match=r"3 observed cell\(s\) are too few to hold out val_fraction=0.1"
        r".*got 0 held out\); pass validation= explicitly",
    ):
        holdout_indices(3, 0.1, 0, name="val_fraction", what="observed cell(s)", hint="pass validation= explicitly")
    with pytest.raises(DataValidationError, match="got 2 held out"):
        holdout_indices(2, 0.9, 0)  # nothing left to train
    with pytest.raises(InvalidParameterError, match=r"validation_fraction must lie in \(0, 1\)"):
        holdout_indices(10, 1.0, 0, name="validation_fraction")
    with pytest.raises(InvalidParameterError, match="n must be an int"):
        holdout_indices(10.0, 0.2, 0)


# -- stratified_holdout_indices ------------------------------------------------------------
def test_stratified_holdout_equals_train_test_split_on_the_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.repeat([0, 1, 2, 3], 10)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.2, stratify=y, random_state=11)
    tr, va = stratified_holdout_indices(y, 0.2, 11, n_classes=4)
    assert np.array_equal(X[tr], Xtr) and np.array_equal(X[va], Xva) and np.array_equal(y[va], yva)
    assert len(va) == 8 and np.bincount(y[va]).tolist() == [2, 2, 2, 2]  # stratified
    _partition([tr, va], 40)


def test_stratified_holdout_auto_falls_back_like_the_mlp_head():
    y = np.array([0] * 9 + [1] * 9 + [3] * 2)  # class code 2 absent: bincount min is 0
    unstrat = train_test_split(np.arange(20), test_size=0.2, stratify=None, random_state=4)
    strat = train_test_split(np.arange(20), test_size=0.2, stratify=y, random_state=4)
    tr, va = stratified_holdout_indices(y, 0.2, 4, n_classes=4)
    assert np.array_equal(va, unstrat[1]) and np.array_equal(tr, unstrat[0])
    tr2, va2 = stratified_holdout_indices(y, 0.2, 4)  # 3 distinct labels, each >= 2 rows: stratified
    assert np.array_equal(va2, strat[1])
    # held-out part smaller than the number of classes: no stratification
    y5 = np.repeat(np.arange(5), 2)
    assert np.array_equal(
        stratified_holdout_indices(y5, 0.2, 0)[1], train_test_split(np.arange(10), test_size=0.2, random_state=0)[1]
    )
    # regression targets
    yr = np.linspace(0, 1, 15)
    assert np.array_equal(
        stratified_holdout_indices(yr, 0.3, 2, stratify=False)[1],
        train_test_split(np.arange(15), test_size=0.3, random_state=2)[1],
    )


def test_stratified_holdout_errors():
    with pytest.raises(InvalidParameterError, match="stratify must be one of"):
        stratified_holdout_indices(np.zeros(4), 0.5, 0, stratify="yes")
    with pytest.raises(InvalidParameterError, match=r"fraction must lie in \(0, 1\)"):
        stratified_holdout_indices(np.zeros(4), 0.0, 0)
    with pytest.raises(DataValidationError, match="y must be 1-D"):
        stratified_holdout_indices(np.zeros((4, 2)), 0.5, 0)


# -- train_val_test_indices ---------------------------------------------------------------
def test_train_val_test_matches_observed_tensor_split():
    n = 103
    n_test = int(round(n * 0.1))
    n_val = int(round((n - n_test) * 0.2))
    perm = np.random.default_rng(9).permutation(n)
    tr, va, te = train_val_test_indices(n, random_state=9)
    assert np.array_equal(te, np.sort(perm[:n_test]))
    assert np.array_equal(va, np.sort(perm[n_test : n_test + n_val]))
    assert np.array_equal(tr, np.sort(perm[n_test + n_val :]))
    assert (len(tr), len(va), len(te)) == (74, 19, 10)
    _partition([tr, va, te], n)


def test_train_val_test_errors():
    with pytest.raises(
        DataValidationError,
        match=r"4 cells are too few for a split with test_size=0.1, "
        r"val_size=0.2 \(train/val/test would get 3/1/0 cells\)",
    ):
        train_val_test_indices(4, random_state=0)
    with pytest.raises(InvalidParameterError, match="val_size must lie"):
        train_val_test_indices(100, val_size=1.5)


# -- leave_one_out ----------------------------------------------------------------------------
SEQS = [np.array([1, 2, 3, 4]), np.array([5, 6]), np.array([7, 8, 9]), np.array([10])]


def test_leave_one_out_benchmark_split():
    train, (vin, vt, vu), (tin, tt, tu) = leave_one_out(SEQS)
    assert [t.tolist() for t in train] == [[1, 2], [5, 6], [7], [10]]
    assert [v.tolist() for v in vin] == [[1, 2], [7]] and vt.tolist() == [3, 8]
    assert [v.tolist() for v in tin] == [[1, 2, 3], [7, 8]] and tt.tolist() == [4, 9]
    assert vu.tolist() == tu.tolist() == [0, 2] and vt.dtype == torch.long and vu.dtype == torch.long


def test_leave_one_out_single_holdout_for_early_stopping():
    # MCLRec.fit: users with >= 2 items validate on their last item; train on the rest
    train, (vin, vt, vu) = leave_one_out(SEQS, n_holdout=1)
    assert [t.tolist() for t in train] == [[1, 2, 3], [5], [7, 8], [10]]
    assert [v.tolist() for v in vin] == [[1, 2, 3], [5], [7, 8]] and vt.tolist() == [4, 6, 9]
    assert vu.tolist() == [0, 1, 2]


def test_leave_one_out_min_len_and_errors():
    train, (vin, vt, _), _ = leave_one_out(SEQS, min_len=4)
    assert vt.tolist() == [3] and [t.tolist() for t in train][1:] == [[5, 6], [7, 8, 9], [10]]
    with pytest.raises(InvalidParameterError, match="min_len must be >= 3"):
        leave_one_out(SEQS, min_len=2)
    with pytest.raises(InvalidParameterError, match="n_holdout must be >= 1"):
        leave_one_out(SEQS, n_holdout=0)
    with pytest.raises(DataValidationError, match="at least 3 interactions; none found"):
        leave_one_out([np.array([1, 2]), np.array([3])])


# -- split_per_user -----------------------------------------------------------------------------
@pytest.fixture
def log():
    rng = np.random.default_rng(0)
    rows = [(u, i, t) for u in range(6) for t, i in enumerate(rng.choice(50, size=3 + 2 * u, replace=False))]
    rows.append((0, rows[0][1], 99))  # a duplicate (user, item)
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"]).sample(frac=1, random_state=1)


def test_split_per_user_random_sizes_and_disjointness(log):
    before = log.copy()
    tr, va, te = split_per_user(log, 0)
    pd.testing.assert_frame_equal(log, before)  # not modified
    key = lambda d: set(zip(d.user, d.item))
    assert not (key(tr) & key(va)) and not (key(tr) & key(te)) and not (key(va) & key(te))
    assert key(tr) | key(va) | key(te) == key(log) and len(tr) + len(va) + len(te) == len(log) - 1
    sizes = log.drop_duplicates(["user", "item"]).groupby("user").size()
    for u, n in sizes.items():
        assert (va.user == u).sum() == max(1, round(n * 0.1)) == (te.user == u).sum()
    assert list(tr.columns) == ["user", "item", "timestamp"]
    for a, b in zip(split_per_user(log, 0), (tr, va, te)):
        pd.testing.assert_frame_equal(a, b)
    assert not split_per_user(log, 1)[2].equals(te)


def test_split_per_user_temporal_holds_out_the_latest(log):
    tr, va, te = split_per_user(log, 0, "temporal", (0.2, 0.2))
    for u in log.user.unique():
        assert te[te.user == u].timestamp.min() > va[va.user == u].timestamp.max() > tr[tr.user == u].timestamp.max()
    # the earliest copy of a duplicate is kept
    assert not ((te.user == 0) & (te.timestamp == 99)).any()


def test_split_per_user_custom_columns(log):
    ren = log.rename(columns={"user": "u", "item": "i", "timestamp": "ts"})
    got = split_per_user(ren, 0, "temporal", user_col="u", item_col="i", time_col="ts")
    want = split_per_user(log, 0, "temporal")
    for g, w in zip(got, want):
        assert g.to_numpy().tolist() == w.to_numpy().tolist()


def test_split_per_user_errors(log):
    with pytest.raises(InvalidParameterError, match="kind must be one of"):
        split_per_user(log, 0, "by-day")
    with pytest.raises(InvalidParameterError, match="fractions must leave some training data"):
        split_per_user(log, 0, fractions=(0.5, 0.5))
    with pytest.raises(DataValidationError, match="a temporal split needs a 'timestamp' column"):
        split_per_user(log.drop(columns="timestamp"), 0, "temporal")


# -- class_balanced_split ------------------------------------------------------------------------
def test_class_balanced_split_counts_and_disjointness():
    y = torch.tensor([0] * 30 + [1] * 30 + [2] * 5)
    tr, va, te = class_balanced_split(y, train_per_class=10, n_val=20, n_test=40, random_state=0)
    assert torch.bincount(y[tr]).tolist() == [10, 10, 5]  # a small class goes to training whole
    assert int(va.sum()) == 20 and int(te.sum()) == 65 - 25 - 20  # test gets the rest
    assert not (tr & va).any() and not (tr & te).any() and not (va & te).any()
    again = class_balanced_split(y, train_per_class=10, n_val=20, n_test=40, random_state=0)
    assert all(torch.equal(a, b) for a, b in zip(again, (tr, va, te)))
    assert tr.dtype == torch.bool


def test_class_balanced_split_draws_like_before():
    y = torch.tensor([1, 0, 1, 0, 1, 0, 2, 2])
    rng = np.random.default_rng(7)
    train = np.zeros(8, bool)
    for c in (0, 1, 2):
        train[rng.permutation(np.flatnonzero(y.numpy() == c))[:1]] = True
    rest = rng.permutation(np.flatnonzero(~train))
    tr, va, te = class_balanced_split(y, train_per_class=1, n_val=2, n_test=3, random_state=7)
    assert tr.numpy().tolist() == train.tolist()
    assert np.flatnonzero(va.numpy()).tolist() == sorted(rest[:2].tolist())
    assert np.flatnonzero(te.numpy()).tolist() == sorted(rest[2:5].tolist())
    with pytest.raises(InvalidParameterError, match="n_val must be an int"):
        class_balanced_split(y, n_val=0.5)


# -- cv_folds ------------------------------------------------------------------------------------
def test_cv_folds_match_sklearn_and_partition():
    y = pd.Series(np.repeat(["a", "b", "c"], [10, 10, 3]))
    folds = cv_folds(y, 5, classification=True, random_state=0)
    want = list(StratifiedKFold(3, shuffle=True, random_state=0).split(np.arange(23), y))  # smallest class: 3
    assert len(folds) == 3
    for (a, b), (c, d) in zip(folds, want):
        assert np.array_equal(a, c) and np.array_equal(b, d)
    _partition([te for _, te in folds], 23)
    yr = np.linspace(0, 1, 17)
    reg = cv_folds(yr, 4, classification=False, random_state=1)
    for (a, b), (c, d) in zip(reg, KFold(4, shuffle=True, random_state=1).split(np.arange(17))):
        assert np.array_equal(a, c) and np.array_equal(b, d)
    _partition([te for _, te in reg], 17)
    assert len(cv_folds(np.array([0, 0, 1, 1, 1]), 5, classification=True, random_state=0)) == 2
    with pytest.raises(InvalidParameterError, match="n_splits must be >= 2"):
        cv_folds(yr, 1, classification=False)


def test_split_per_user_zero_share_holds_out_nothing():
    import pandas as pd

    from structaug.splits import split_per_user

    log = pd.DataFrame({"user": np.repeat([0, 1], 10), "item": np.tile(np.arange(10), 2)})
    train, val, test = split_per_user(log, random_state=0, fractions=(0.0, 0.2))
    assert (len(train), len(val), len(test)) == (16, 0, 4)
    train, val, test = split_per_user(log, random_state=0, fractions=(0.1, 0.2))
    assert (len(train), len(val), len(test)) == (14, 2, 4)
