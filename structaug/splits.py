"""Every data split structaug makes, in one module.

Each function keeps the exact random draws and rounding of the code it replaced, so a
method or benchmark that switches to it gives bit-identical results:

===============================  ==========================================================
function                         split
===============================  ==========================================================
:func:`holdout_indices`          shuffled hold-out of ``n`` rows/cells (early stopping of
                                 tensor completion, DAIN, HyperTab)
:func:`stratified_holdout_indices`  stratified hold-out of labelled rows (the tabular MLP
                                 heads; scikit-learn's ``train_test_split``)
:func:`train_val_test_indices`   shuffled train/validation/test split of ``n`` cells
                                 (``ObservedTensor.split``, DAIN's 72/18/10)
:func:`leave_one_out`            per-user time split of item sequences: last item(s) held
                                 out (MCLRec's early stopping and benchmark)
:func:`split_per_user`           per-user random or temporal train/validation/test split of
                                 an interaction log (LLMRec)
:func:`class_balanced_split`     node masks with a fixed number of training nodes per class
                                 (graph benchmarks on CitationFull/Amazon/Coauthor)
:func:`cv_folds`                 shuffled K-fold, stratified for classification (the
                                 tabular benchmark)
===============================  ==========================================================

Index-returning functions return ``(train, held_out, ...)`` in scikit-learn's order (the
training part first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from .exceptions import DataValidationError, InvalidParameterError
from .random import RandomState, check_random_state
from .validation import check_choice, check_fraction, check_positive_int, to_sortable_time

__all__ = [
    "class_balanced_split",
    "cv_folds",
    "holdout_indices",
    "leave_one_out",
    "split_per_user",
    "stratified_holdout_indices",
    "train_val_test_indices",
]


def _check_n(n: Any, name: str = "n") -> int:
    return check_positive_int(n, name, minimum=0)


def holdout_indices(
    n: int,
    fraction: float,
    random_state: RandomState = None,
    *,
    min_size: int = 0,
    name: str = "fraction",
    what: str = "rows",
    hint: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled hold-out: ``(train, held_out)`` sorted index arrays over ``range(n)``.

    ``rng.permutation(n)`` is drawn first; its first ``max(min_size, round(n * fraction))``
    entries are held out, the rest train.

    Parameters
    ----------
    n : int
        Number of rows (or cells) to split.
    fraction : float in (0, 1)
        Share held out (rounded half to even, as Python's ``round``).
    random_state : int, Generator or None
        A Generator is used (and advanced) as is.
    min_size : int, default 0
        Hold out at least this many (e.g. 1: a tiny ``fraction`` still validates on one row).
    name : str
        The caller's name for ``fraction`` (e.g. ``"validation_fraction"``), used in errors.
    what : str
        What is counted (``"rows"``, ``"observed cell(s)"``), used in errors.
    hint : str
        Appended to the error message (e.g. ``"pass validation= explicitly"``).

    Returns
    -------
    train, held_out : ndarray of int64, shapes (n - n_out,) and (n_out,)
        Disjoint, sorted, together ``range(n)``.

    Raises
    ------
    InvalidParameterError
        ``n`` or ``fraction`` is invalid (the message names ``name``).
    DataValidationError
        Fewer than one row would be held out or left to train.
    """
    n = _check_n(n)
    check_fraction(fraction, name, inclusive_high=False)
    check_positive_int(min_size, "min_size", minimum=0)
    perm = check_random_state(random_state).permutation(n)
    n_out = max(int(min_size), int(round(n * fraction)))  # no float(): keep the caller's dtype arithmetic
    if n_out < 1 or n_out >= n:
        raise DataValidationError(
            f"{n} {what} are too few to hold out {name}={fraction} (need >= 1 held-out and >= 1 "
            f"remaining, got {n_out} held out)" + (f"; {hint}" if hint else "")
        )
    return np.sort(perm[n_out:]), np.sort(perm[:n_out])


def stratified_holdout_indices(
    y: Any,
    fraction: float,
    random_state: int | None = None,
    *,
    stratify: bool | str = "auto",
    n_classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Hold-out of labelled rows through scikit-learn's ``train_test_split``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels (class labels to stratify on, or regression targets with ``stratify=False``).
    fraction : float in (0, 1)
        Share held out (``test_size``: ``ceil(fraction * n_samples)`` rows).
    random_state : int or None
        Passed to ``train_test_split``.
    stratify : bool or "auto"
        ``"auto"`` stratifies when every class can appear on both sides: each class has
        >= 2 rows and the held-out part has room for every class. ``True`` always
        stratifies (scikit-learn raises when it cannot); ``False`` never.
    n_classes : int, optional
        Number of classes when ``y`` holds codes ``0..n_classes-1`` some of which may be
        absent (an absent class then forbids stratification under ``"auto"``); default:
        the distinct labels of ``y``.

    Returns
    -------
    train, held_out : ndarray of int, shapes (n - ceil(fraction n),) and (ceil(fraction n),)
        In ``train_test_split``'s (shuffled, unsorted) order, so ``X[train]`` equals the
        ``X_train`` it returns.
    """
    from sklearn.model_selection import train_test_split

    check_fraction(fraction, "fraction", inclusive_high=False)
    check_choice(stratify, (True, False, "auto"), "stratify")
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataValidationError(f"y must be 1-D, got shape {y.shape}")
    n = len(y)
    if stratify == "auto":
        if n_classes is None:
            counts = np.unique(y, return_counts=True)[1]
            n_classes = len(counts)
        else:
            n_classes = check_positive_int(n_classes, "n_classes")
            counts = np.bincount(y, minlength=n_classes)
        n_val = int(np.ceil(fraction * n))
        stratify = bool(len(counts) and counts.min() >= 2 and n_val >= n_classes)
    idx = np.arange(n)
    train, held = train_test_split(idx, test_size=fraction, stratify=y if stratify else None, random_state=random_state)
    return train, held


def train_val_test_indices(
    n: int, *, test_size: float = 0.1, val_size: float = 0.2, random_state: RandomState = None, what: str = "cells"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffled ``(train, validation, test)`` sorted index arrays over ``range(n)``.

    ``round(n * test_size)`` go to test, then ``round((n - n_test) * val_size)`` of the rest
    to validation (the defaults give DAIN's 72 % / 18 % / 10 %). The permutation is drawn
    after the size checks; test takes its first entries, validation the next.

    Returns
    -------
    train, validation, test : ndarray of int64
        Disjoint, sorted, together ``range(n)``; each non-empty.

    Raises
    ------
    InvalidParameterError
        ``test_size`` or ``val_size`` outside (0, 1) (the message names it).
    DataValidationError
        A part would be empty.
    """
    for name, f in (("test_size", test_size), ("val_size", val_size)):
        check_fraction(f, name, inclusive_high=False)
    n = _check_n(n)
    n_test = int(round(n * test_size))
    n_val = int(round((n - n_test) * val_size))
    n_train = n - n_test - n_val
    if min(n_test, n_val, n_train) < 1:
        raise DataValidationError(
            f"{n} {what} are too few for a split with test_size={test_size}, val_size={val_size} "
            f"(train/val/test would get {n_train}/{n_val}/{n_test} {what})"
        )
    perm = check_random_state(random_state).permutation(n)
    test, val, train = perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]
    return np.sort(train), np.sort(val), np.sort(test)


def leave_one_out(
    sequences: Sequence[np.ndarray], *, n_holdout: int = 2, min_len: int | None = None
) -> tuple[Any, ...]:
    """Per-user time split of item sequences: each user's last ``n_holdout`` items are held out.

    With ``n_holdout=2`` (the MCLRec benchmark) the last item is the test target and the
    second last the validation target; with ``n_holdout=1`` (early stopping inside
    ``fit``) the last item is the validation target. Users with fewer than ``min_len``
    items keep their whole sequence for training and are not evaluated.

    Parameters
    ----------
    sequences : list of 1-D int arrays
        Each user's items in time order.
    n_holdout : int, default 2
        Items held out per user, each into its own split (one target per user in each).
    min_len : int, optional
        Shortest sequence that is split; at least ``n_holdout + 1`` (an evaluated user needs
        a non-empty history); default ``n_holdout + 1``.

    Returns
    -------
    train : list of arrays
        Every sequence minus its last ``n_holdout`` items (whole if shorter than ``min_len``).
    *held_out : ``n_holdout`` tuples ``(inputs, targets, users)``, earliest first
        ``inputs``: each evaluated user's items before the target (list of arrays);
        ``targets``: LongTensor [n_users]; ``users``: LongTensor [n_users] of sequence
        indices. ``train, valid, test = leave_one_out(seqs)``.

    Raises
    ------
    InvalidParameterError
        ``n_holdout`` < 1 or ``min_len`` < ``n_holdout + 1``.
    DataValidationError
        No sequence has ``min_len`` items.
    """
    n_holdout = check_positive_int(n_holdout, "n_holdout")
    # below n_holdout + 1 an evaluated history would be empty: an all-padding row scored as if real
    min_len = n_holdout + 1 if min_len is None else check_positive_int(min_len, "min_len", minimum=n_holdout + 1)
    train: list[np.ndarray] = []
    inputs: list[list[np.ndarray]] = [[] for _ in range(n_holdout)]
    targets: list[list[int]] = [[] for _ in range(n_holdout)]
    who: list[int] = []
    for i, s in enumerate(sequences):
        if len(s) < min_len:
            train.append(s)
            continue
        train.append(s[:-n_holdout])
        for j in range(n_holdout):
            cut = len(s) - n_holdout + j  # position of this split's target
            inputs[j].append(s[:cut])
            targets[j].append(int(s[cut]))
        who.append(i)
    if not who:
        raise DataValidationError(f"leave-one-out needs users with at least {min_len} interactions; none found")
    users = torch.as_tensor(who, dtype=torch.long)
    return (train, *((inputs[j], torch.as_tensor(targets[j]), users) for j in range(n_holdout)))


def split_per_user(
    interactions: pd.DataFrame,
    random_state: RandomState = None,
    kind: str = "random",
    fractions: tuple[float, float] = (0.1, 0.1),
    *,
    user_col: str = "user",
    item_col: str = "item",
    time_col: str = "timestamp",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-user train/validation/test split of an interaction log.

    ``kind="random"`` shuffles each user's items; ``"temporal"`` puts the latest ones in
    test and the next latest in validation. Each user with >= 3 items gets
    ``max(1, round(n * fractions[0]))`` validation and ``max(1, round(n * fractions[1]))``
    test items; users with fewer stay in train only. Duplicate (user, item) rows are dropped
    first (the earliest one is kept in a temporal split).

    Timestamps are ordered in time, not as text: numeric strings as numbers, ISO-8601
    strings as dates (:func:`structaug.validation.to_sortable_time`); a column mixing kinds
    or holding free text raises ``DataValidationError`` naming it. ``interactions`` is not
    modified.

    Parameters
    ----------
    interactions : DataFrame
        One row per interaction, with ``user_col`` and ``item_col`` (and ``time_col`` for a
        temporal split).
    random_state : int, Generator or None
        Seeds the random split (an int gives ``np.random.default_rng(int)``).
    kind : {"random", "temporal"}
    fractions : (float, float)
        ``(validation, test)`` shares per user, each in [0, 1), summing below 1.
    user_col, item_col, time_col : str
        Column names.

    Returns
    -------
    train, validation, test : DataFrame
        Rows of ``interactions`` (its columns, in order; index of the de-duplicated frame).
    """
    from .recsys import check_interactions  # lazy: structaug.splits must not import recsys eagerly

    check_choice(kind, ("random", "temporal"), "kind")
    if not isinstance(fractions, (tuple, list)) or len(fractions) != 2:
        raise InvalidParameterError(f"fractions must be a (validation, test) pair, got {fractions!r}")
    for name, f in zip(("fractions[0]", "fractions[1]"), fractions):
        check_fraction(f, name, inclusive_low=True, inclusive_high=False)
    if sum(fractions) >= 1:
        raise InvalidParameterError(f"fractions must leave some training data, got {fractions!r}")
    check_interactions(interactions, required=(user_col, item_col))
    if kind == "temporal" and time_col not in interactions.columns:
        raise DataValidationError(f"a temporal split needs a {time_col!r} column")
    rng = check_random_state(random_state)
    if kind == "temporal":
        # a private sort key: the caller's column (and frame) are left as given
        t = to_sortable_time(interactions[time_col], f"interactions[{time_col!r}]")
        df = interactions.reset_index(drop=True).assign(_t=t).sort_values([user_col, "_t", item_col], kind="stable")
        df = df.drop_duplicates([user_col, item_col])
        df["_r"] = df.groupby(user_col).cumcount()
    else:
        df = interactions.drop_duplicates([user_col, item_col]).reset_index(drop=True)
        df["_k"] = rng.random(len(df))
        df = df.sort_values([user_col, "_k"], kind="stable")
        df["_r"] = df.groupby(user_col).cumcount()
    n = df.groupby(user_col)[item_col].transform("size")
    # at least one item for a non-zero share (users with >= 3 items); a zero share holds out none
    n_te = np.maximum(1 if fractions[1] > 0 else 0, np.round(n * fractions[1])).astype(int).where(n >= 3, 0)
    n_va = np.maximum(1 if fractions[0] > 0 else 0, np.round(n * fractions[0])).astype(int).where(n >= 3, 0)
    # temporal: the latest go to test, then validation; random: the order is already random
    r_from_end = n - 1 - df["_r"]
    test = r_from_end < n_te
    val = (~test) & (r_from_end < n_te + n_va)
    cols = list(interactions.columns)
    return df.loc[~test & ~val, cols], df.loc[val, cols], df.loc[test, cols]


def class_balanced_split(
    y: torch.Tensor, *, train_per_class: int = 20, n_val: int = 500, n_test: int = 1000, random_state: RandomState = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Boolean node masks: ``train_per_class`` training nodes per class, then ``n_val`` and ``n_test``.

    Classes with fewer than ``train_per_class`` nodes put all of them in training. When
    fewer than ``n_val + n_test`` nodes remain, validation is filled first and test gets
    the rest.

    Parameters
    ----------
    y : Tensor of shape (n_nodes,)
        Node labels.
    train_per_class, n_val, n_test : int
    random_state : int, Generator or None

    Returns
    -------
    train, val, test : BoolTensor of shape (n_nodes,), on ``y``'s device
        Disjoint masks.
    """
    for name, v in (("train_per_class", train_per_class), ("n_val", n_val), ("n_test", n_test)):
        check_positive_int(v, name, minimum=0)
    rng = check_random_state(random_state)
    y_np = y.detach().cpu().numpy().reshape(-1)
    n = len(y_np)
    train = np.zeros(n, dtype=bool)
    for c in np.unique(y_np):
        idx = np.flatnonzero(y_np == c)
        train[rng.permutation(idx)[:train_per_class]] = True
    rest = rng.permutation(np.flatnonzero(~train))
    val = np.zeros(n, dtype=bool)
    test = np.zeros(n, dtype=bool)
    val[rest[:n_val]] = True
    test[rest[n_val : n_val + n_test]] = True
    as_t = lambda m: torch.as_tensor(m, device=y.device)
    return as_t(train), as_t(val), as_t(test)


def cv_folds(
    y: Any, n_splits: int = 5, *, classification: bool, random_state: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled K-fold ``[(train, test), ...]`` (scikit-learn's splitters).

    Classification uses ``StratifiedKFold`` with ``max(2, min(n_splits, smallest class
    size))`` folds (a class needs a row in every fold); regression uses ``KFold`` with
    ``n_splits`` folds.

    Parameters
    ----------
    y : array-like or Series of shape (n_samples,)
    n_splits : int >= 2
    classification : bool
    random_state : int or None

    Returns
    -------
    list of (train, test) index arrays
        Each test part disjoint from its train part; the test parts partition the rows.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    check_positive_int(n_splits, "n_splits", minimum=2)
    y = np.asarray(y)
    idx = np.arange(len(y))
    if classification:
        counts = np.unique(y, return_counts=True)[1]
        k_eff = int(max(2, min(n_splits, counts.min())))
        return list(StratifiedKFold(k_eff, shuffle=True, random_state=random_state).split(idx, y))
    return list(KFold(n_splits, shuffle=True, random_state=random_state).split(idx))
