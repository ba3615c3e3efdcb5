"""Interaction frames shared by the recommenders: validation and reversible id vocabularies.

An interaction frame has at least ``user`` and ``item`` columns (and usually
``timestamp``), one row per interaction, as RecBole and pandas users expect. Internal ids
are contiguous from ``offset`` (1 for sequences, keeping 0 as the padding id; 0 for graph
models).
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError, InvalidParameterError, UnknownIdError
from ..validation import check_choice, to_sortable_time

__all__ = ["IdVocab", "UnknownIdError", "check_interactions", "pairs_of_sorted_users", "pairs_of_users"]


# UnknownIdError lives in structaug.exceptions with the other structaug errors; re-exported here.
def check_interactions(
    df: Any,
    *,
    name: str = "interactions",
    required: Sequence[str] = ("user", "item"),
    allow_empty: bool = False,
    check_time: bool = True,
) -> pd.DataFrame:
    """Check an interaction frame; return it unchanged (never mutated).

    Parameters
    ----------
    df : DataFrame
        One row per interaction.
    name : str
        The argument's name, used in every message (``"interactions['item'] has ..."``).
    required : sequence of str
        Columns that must exist; each is an id column (no missing values, no booleans, no
        infinite numbers, one id type: not ints mixed with strings).
    allow_empty : bool
        Accept a frame without rows.
    check_time : bool
        With a ``timestamp`` column, check that it parses with
        :func:`~structaug.validation.to_sortable_time` (numbers, numeric strings, dates, ISO-8601
        strings; no missing values, no free text, no mixed kinds). Pass ``False`` when the
        caller parses the column itself right after.

    Raises
    ------
    InvalidParameterError
        ``df`` is not a DataFrame (also a ``TypeError``).
    DataValidationError
        Missing columns, an empty frame, or bad values in an id or ``timestamp`` column; the
        message names ``name`` and the column.
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidParameterError(
            f"{name} must be a pandas DataFrame with columns {list(required)}, got {type(df).__name__}"
        )
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataValidationError(f"{name} is missing column(s) {missing}; has {list(df.columns)}")
    if len(df) == 0 and not allow_empty:
        raise DataValidationError(f"{name} is empty")
    for c in required:
        col = df[c]
        if col.isna().any():
            raise DataValidationError(f"{name}[{c!r}] has {int(col.isna().sum())} missing value(s)")
        if pd.api.types.is_bool_dtype(col):
            raise DataValidationError(f"{name}[{c!r}] holds booleans, not ids; pass the id column")
        if pd.api.types.is_float_dtype(col) and not np.isfinite(col.to_numpy()).all():
            raise DataValidationError(f"{name}[{c!r}] has infinite id value(s)")
        if col.dtype == object:
            # one C pass over the whole column; numpy scalars count as their Python kind
            kind = pd.api.types.infer_dtype(col, skipna=False)
            if kind == "boolean":
                raise DataValidationError(f"{name}[{c!r}] holds booleans, not ids; pass the id column")
            if kind not in ("integer", "string", "floating", "bytes"):
                kinds = sorted({type(v).__name__.rstrip("_").rstrip("0123456789") for v in col.to_numpy()})
                if len(kinds) > 1:  # one other hashable type (e.g. tuples) is a valid id
                    raise DataValidationError(
                        f"{name}[{c!r}] mixes id types {kinds}; cast the column to one type first"
                    )
    if check_time and "timestamp" in df.columns:
        to_sortable_time(df["timestamp"], f"{name}['timestamp']")
    return df


class IdVocab:
    """A reversible mapping between raw ids (any hashable) and contiguous ints.

    Parameters
    ----------
    offset : int
        First internal id (1 keeps 0 free for padding).
    """

    def __init__(self, raw_ids: Iterable[Hashable], *, offset: int = 0):
        uniq = pd.unique(pd.Series(list(raw_ids) if not isinstance(raw_ids, (pd.Series, np.ndarray)) else raw_ids))
        with contextlib.suppress(TypeError):  # ids without an order (mixed kinds) keep first-seen order
            uniq = np.sort(uniq)
        self.offset = int(offset)
        self.raw_ = np.asarray(uniq)
        self.index_ = pd.Index(self.raw_)
        if not self.index_.is_unique:  # pragma: no cover - pd.unique guarantees it
            raise DataValidationError("duplicate ids in vocabulary")

    def __len__(self) -> int:
        return len(self.raw_)

    @property
    def size(self) -> int:
        """Number of internal ids including the reserved ones below ``offset``."""
        return len(self.raw_) + self.offset

    def encode(self, raw: Any, *, name: str = "id", unknown: str = "raise") -> np.ndarray:
        """Raw ids → internal ints.

        ``unknown="raise"`` raises :class:`UnknownIdError` (a ``DataValidationError`` and a
        ``KeyError``) listing up to five unknown ids; ``"mask"`` gives -1 for them.
        """
        check_choice(unknown, ("raise", "mask"), "unknown")
        arr = np.asarray(raw)
        pos = self.index_.get_indexer(arr.ravel())
        bad = pos < 0
        if bad.any():
            if unknown == "raise":
                sample = list(pd.unique(arr.ravel()[bad]))[:5]
                sample = [v.item() if isinstance(v, np.generic) else v for v in sample]  # 3, not np.int64(3)
                raise UnknownIdError(f"unknown {name}(s) {sample} ({int(bad.sum())} in total) not seen in fit")
            out = np.where(bad, -1, pos + self.offset)
        else:
            out = pos + self.offset
        return out.reshape(arr.shape).astype(np.int64)

    def decode(self, ids: Any) -> np.ndarray:
        """Internal ints → raw ids (``DataValidationError`` outside ``[offset, size)``)."""
        arr = np.asarray(ids, dtype=np.int64)
        if arr.size and (arr.min() < self.offset or arr.max() >= self.size):
            raise DataValidationError(
                f"internal ids must lie in [{self.offset}, {self.size}), got {arr.min()}..{arr.max()}"
            )
        return self.raw_[arr - self.offset]

    def __contains__(self, raw: Hashable) -> bool:
        return raw in self.index_

    def __repr__(self) -> str:
        return f"IdVocab(n={len(self)}, offset={self.offset})"


def pairs_of_users(query: np.ndarray, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (row, item) such that ``(query[row], item)`` is one of the pairs ``(users, items)``.

    The masking step of "recommend, excluding what the user already has": ``scores[rows, cols]``
    are the seen entries of a ``[len(query), n_items]`` score matrix. A user listed twice in
    ``query`` gets its items on both rows. Vectorised (one pass to select the queried users'
    pairs, then sort + ``searchsorted`` on those), so it stays cheap for millions of pairs.

    Parameters
    ----------
    query : int array [R]
        Internal user ids, one per score row.
    users, items : int arrays [P]
        The known (user, item) pairs.

    Returns
    -------
    rows, cols : int64 arrays
        Row indices into ``query`` and the matching item ids.
    """
    query, users, items = (np.asarray(a, dtype=np.int64).ravel() for a in (query, users, items))
    if len(users) != len(items):
        raise DataValidationError(f"users and items must have the same length, got {len(users)} and {len(items)}")
    keep = np.isin(users, query)  # a linear pass; only the queried users' pairs get sorted
    users, items = users[keep], items[keep]
    order = np.argsort(users, kind="stable")
    return pairs_of_sorted_users(query, users[order], items[order])


def pairs_of_sorted_users(query: np.ndarray, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pairs_of_users` for pairs already sorted by user (ascending).

    For callers that look up many batches of users in one fixed set of pairs: sort once, then
    each lookup is ``searchsorted`` plus output-sized work, nothing proportional to the pairs.
    """
    query = np.asarray(query, dtype=np.int64).ravel()
    start = np.searchsorted(users, query, side="left")
    count = np.searchsorted(users, query, side="right") - start
    rows = np.repeat(np.arange(len(query), dtype=np.int64), count)
    # position of each output entry inside the sorted pairs: its row's start + its rank in the row
    first = np.cumsum(count) - count
    pos = np.repeat(start - first, count) + np.arange(int(count.sum()), dtype=np.int64)
    return rows, items[pos]
