"""From an interaction log to padded item sequences: cleaning, 5-core, leave-one-out, prefixes.

Layout conventions (RecBole's, which CL4SRec/MCLRec build on):

* internal item ids are ``1..n_items`` (an :class:`~structaug.recsys.IdVocab` with
  ``offset=1``); ``0`` is padding and ``n_items + 1`` is the mask token of the views;
* a padded batch is *left-aligned*: a sequence of length ``L`` fills columns ``0..L-1`` and
  zeros follow, so the representation of a sequence is the encoder output at ``L - 1``;
* sequences longer than ``max_len`` keep their most recent ``max_len`` items.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ...exceptions import DataValidationError
from ...splits import leave_one_out  # the one per-user time split; re-exported for the sequence pipeline
from ...validation import check_positive_int, to_sortable_time
from ..interactions import IdVocab, check_interactions

__all__ = [
    "SequenceLog",
    "build_sequences",
    "five_core",
    "leave_one_out",
    "pad_sequences",
    "prefix_examples",
    "prepare_interactions",
    "sequence_lengths",
]


def prepare_interactions(df: pd.DataFrame, *, drop_duplicates: bool = True, name: str = "interactions") -> pd.DataFrame:
    """Validate a ``user, item[, timestamp]`` frame and put each user's rows in time order.

    * Rows are sorted by ``(user, time)`` with a stable sort, so a log whose timestamps are
      not monotonic in row order is reordered (ties keep their row order). Without a
      ``timestamp`` column the row order is taken as the time order.
    * Timestamps are compared as times, not as text
      (:func:`~structaug.validation.to_sortable_time`): numbers, numeric strings (``"10"``
      comes after ``"2"``), ``datetime64`` (timezone-aware ones compared in UTC) and ISO-8601
      strings. Free text, missing values, infinities, booleans and a column mixing kinds (ints
      and strings, dates and numbers) raise ``DataValidationError`` naming
      ``interactions['timestamp']``. The returned frame keeps the original timestamp values.
    * Exact duplicate rows (same user, item and time) are dropped with a warning; the same item
      consumed again at another time is a genuine repeat and is kept.
    * Item or user columns that mix id types (ints and strings), hold booleans or missing
      values raise ``DataValidationError``; a non-frame raises ``InvalidParameterError``.

    The caller's frame is never modified; the result is a new frame with a fresh index.
    """
    check_interactions(df, name=name, check_time=False)
    has_time = "timestamp" in df.columns
    cols = ["user", "item"] + (["timestamp"] if has_time else [])
    out = df[cols].copy()
    if has_time:
        # sort key: times as numbers (text order would put "10" before "2")
        t = to_sortable_time(out["timestamp"], f"{name}['timestamp']")
    else:
        out["timestamp"] = np.arange(len(out))
        t = out["timestamp"].to_numpy()
    # the columns themselves, not .to_numpy(): a categorical user column sorts in its category
    # order, as it did when the frame itself was sorted
    key = pd.DataFrame({"user": out["user"], "item": out["item"], "t": t})
    if drop_duplicates:
        dup = key.duplicated(["user", "item", "t"]).to_numpy()
        if dup.any():
            warnings.warn(f"dropped {int(dup.sum())} exact duplicate (user, item, timestamp) row(s)", stacklevel=3)
            out, key = out[~dup], key[~dup]
    order = key.sort_values(["user", "t"], kind="mergesort").index
    return out.iloc[key.index.get_indexer(order)].reset_index(drop=True)


def five_core(df: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Iteratively keep users and items with at least ``k`` interactions (the "k-core")."""
    check_positive_int(k, "k")
    out = df
    while True:
        uc = out["user"].map(out["user"].value_counts())
        ic = out["item"].map(out["item"].value_counts())
        keep = (uc >= k) & (ic >= k)
        if keep.all():
            break
        out = out[keep]
    if len(out) == 0:
        raise DataValidationError(f"no interactions survive {k}-core filtering")
    return out.reset_index(drop=True)


@dataclass
class SequenceLog:
    """Per-user item sequences (internal ids, time order) plus the two vocabularies."""

    users: IdVocab
    items: IdVocab
    sequences: list[np.ndarray] = field(repr=False)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def mask_id(self) -> int:
        """The mask token of :class:`SequenceViews`: one past the last item id."""
        return len(self.items) + 1


def build_sequences(df: pd.DataFrame, *, min_len: int = 1) -> SequenceLog:
    """Group a frame from :func:`prepare_interactions` into per-user sequences.

    Users with fewer than ``min_len`` interactions are dropped (``DataValidationError`` when
    none are left).
    """
    check_positive_int(min_len, "min_len")
    counts = df.groupby("user", sort=False)["item"].transform("size")
    df = df[counts >= min_len]
    if len(df) == 0:
        raise DataValidationError(f"no user has at least {min_len} interaction(s)")
    users = IdVocab(df["user"].to_numpy(), offset=0)
    items = IdVocab(df["item"].to_numpy(), offset=1)
    u = users.encode(df["user"].to_numpy(), name="user")
    it = items.encode(df["item"].to_numpy(), name="item")
    return SequenceLog(users, items, group_by_user(u, it)[1])


def group_by_user(users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(user codes in ascending order, each one's items)`` from rows in time order per user.

    The sort by code is stable, so each user's items keep their (time) order.
    """
    if len(users) == 0:
        return users, []
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    bounds = np.flatnonzero(np.diff(users)) + 1
    return users[np.concatenate([[0], bounds])], np.split(items, bounds)


def pad_sequences(sequences: list[np.ndarray], max_len: int) -> torch.Tensor:
    """Left-aligned zero-padded LongTensor [n, max_len] of the last ``max_len`` items of each."""
    check_positive_int(max_len, "max_len")
    out = np.zeros((len(sequences), max_len), dtype=np.int64)
    for i, s in enumerate(sequences):
        s = s[-max_len:]
        out[i, : len(s)] = s
    return torch.from_numpy(out)


def prefix_examples(sequences: list[np.ndarray], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (prefix → next item) pair of every sequence, as RecBole's sequential loader makes.

    A sequence ``[a, b, c, d]`` gives ``[a]→b``, ``[a, b]→c``, ``[a, b, c]→d``; prefixes keep
    their last ``max_len`` items. Vectorised over all sequences at once.

    Returns
    -------
    inputs : LongTensor [N, max_len] (left-aligned, zero-padded), targets : LongTensor [N]
    """
    check_positive_int(max_len, "max_len")
    lens = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    keep = lens >= 2
    if not keep.any():
        raise DataValidationError("no training sequence has two or more items; nothing to learn from")
    flat = np.concatenate([s for s, k in zip(sequences, keep) if k])
    lens = lens[keep]
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    # target positions: every position except each sequence's first
    seq_of = np.repeat(np.arange(len(lens)), lens - 1)
    offs = np.arange(len(seq_of)) - np.repeat(np.cumsum(lens - 1) - (lens - 1), lens - 1) + 1
    tgt_pos = starts[seq_of] + offs  # flat index of each target
    begin = np.maximum(starts[seq_of], tgt_pos - max_len)
    idx = begin[:, None] + np.arange(max_len)[None, :]
    valid = idx < tgt_pos[:, None]
    inputs = np.where(valid, flat[np.minimum(idx, len(flat) - 1)], 0)
    return torch.from_numpy(inputs.astype(np.int64)), torch.from_numpy(flat[tgt_pos].astype(np.int64))


def sequence_lengths(padded: torch.Tensor) -> torch.Tensor:
    """Lengths of left-aligned padded sequences (number of non-zero entries per row)."""
    return (padded != 0).sum(1)
