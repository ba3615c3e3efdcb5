"""Interaction frames shared by the recommenders: validation and reversible id vocabularies.

An interaction frame has at least ``user`` and ``item`` columns (and usually
``timestamp``), one row per interaction, as RecBole and pandas users expect. Internal ids
are contiguous from ``offset`` (1 for sequences, keeping 0 as the padding id; 0 for graph
models).
"""
from __future__ import annotations

from typing import Any, Hashable, Iterable, Sequence

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError

__all__ = ["IdVocab", "check_interactions"]


def check_interactions(df: Any, *, name: str = "interactions", required: Sequence[str] = ("user", "item"),
                       allow_empty: bool = False) -> pd.DataFrame:
    """Check an interaction frame; return it unchanged (never mutated).

    Raises ``TypeError`` for a non-frame, ``DataValidationError`` for missing columns, nulls,
    an empty frame or a column mixing id types (e.g. ints and strings).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame with columns {list(required)}, got {type(df).__name__}")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataValidationError(f"{name} is missing column(s) {missing}; has {list(df.columns)}")
    if len(df) == 0 and not allow_empty:
        raise DataValidationError(f"{name} is empty")
    for c in required:
        col = df[c]
        if col.isna().any():
            raise DataValidationError(f"{name}[{c!r}] has {int(col.isna().sum())} missing value(s)")
        if col.dtype == object:
            kinds = {type(v).__name__ for v in col.to_numpy()[:100_000]}
            # numpy scalars count as their Python kind (np.int64 ~ int, np.str_ ~ str, np.float64 ~ float)
            kinds = {"int" if k.startswith(("int", "uint")) else "str" if k == "str_"
                     else "float" if k.startswith("float") else k for k in kinds}
            if len(kinds) > 1:
                raise DataValidationError(
                    f"{name}[{c!r}] mixes id types {sorted(kinds)}; cast the column to one type first"
                )
    if "timestamp" in df.columns and df["timestamp"].isna().any():
        raise DataValidationError(f"{name}['timestamp'] has missing values")
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
        try:
            uniq = np.sort(uniq)
        except TypeError:
            pass
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
        """Raw ids → internal ints. ``unknown="raise"`` names the unknown ids; ``"mask"`` gives -1."""
        arr = np.asarray(raw)
        pos = self.index_.get_indexer(arr.ravel())
        bad = pos < 0
        if bad.any():
            if unknown == "raise":
                sample = list(pd.unique(arr.ravel()[bad]))[:5]
                raise KeyError(f"unknown {name}(s) {sample} ({int(bad.sum())} in total) not seen in fit")
            out = np.where(bad, -1, pos + self.offset)
        else:
            out = pos + self.offset
        return out.reshape(arr.shape).astype(np.int64)

    def decode(self, ids: Any) -> np.ndarray:
        """Internal ints → raw ids."""
        arr = np.asarray(ids, dtype=np.int64)
        if arr.size and (arr.min() < self.offset or arr.max() >= self.size):
            raise IndexError(f"internal ids must lie in [{self.offset}, {self.size}), got {arr.min()}..{arr.max()}")
        return self.raw_[arr - self.offset]

    def __contains__(self, raw: Hashable) -> bool:
        return raw in self.index_

    def __repr__(self) -> str:
        return f"IdVocab(n={len(self)}, offset={self.offset})"
