"""Per-user train/validation/test splits of an interaction log."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...exceptions import DataValidationError, InvalidParameterError
from ...validation import check_choice, check_fraction, to_sortable_time
from ..interactions import check_interactions

__all__ = ["split_per_user"]


def split_per_user(inter: pd.DataFrame, seed: int, kind: str = "random",
                   fractions: tuple[float, float] = (0.1, 0.1)) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-user train/validation/test split.

    ``kind="random"`` shuffles each user's items with ``seed``; ``"temporal"`` puts the latest
    ones in test and the next latest in validation. Each user with >= 3 items gets
    ``max(1, round(10%))`` validation and test items; users with fewer stay in train only.
    Duplicate (user, item) rows are dropped first (the earliest one is kept in a temporal split).

    Timestamps are ordered in time, not as text: numeric strings as numbers, ISO-8601 strings
    as dates (:func:`structaug.validation.to_sortable_time`); a column mixing kinds or holding
    free text raises ``DataValidationError`` naming ``timestamp``. ``inter`` is not modified.
    """
    check_choice(kind, ("random", "temporal"), "kind")
    if not isinstance(fractions, (tuple, list)) or len(fractions) != 2:
        raise InvalidParameterError(f"fractions must be a (validation, test) pair, got {fractions!r}")
    for name, f in zip(("fractions[0]", "fractions[1]"), fractions):
        check_fraction(f, name, inclusive_low=True, inclusive_high=False)
    if sum(fractions) >= 1:
        raise InvalidParameterError(f"fractions must leave some training data, got {fractions!r}")
    check_interactions(inter)
    if kind == "temporal" and "timestamp" not in inter.columns:
        raise DataValidationError("a temporal split needs a 'timestamp' column")
    rng = np.random.default_rng(seed)
    if kind == "temporal":
        # a private sort key: the caller's column (and frame) are left as given
        t = to_sortable_time(inter["timestamp"], "interactions['timestamp']")
        df = inter.reset_index(drop=True).assign(_t=t).sort_values(["user", "_t", "item"], kind="stable")
        df = df.drop_duplicates(["user", "item"])
        df["_r"] = df.groupby("user").cumcount()
    else:
        df = inter.drop_duplicates(["user", "item"]).reset_index(drop=True)
        df["_k"] = rng.random(len(df))
        df = df.sort_values(["user", "_k"], kind="stable")
        df["_r"] = df.groupby("user").cumcount()
    n = df.groupby("user")["item"].transform("size")
    n_te = np.maximum(1, np.round(n * fractions[1])).astype(int).where(n >= 3, 0)
    n_va = np.maximum(1, np.round(n * fractions[0])).astype(int).where(n >= 3, 0)
    # temporal: the latest go to test, then validation; random: the order is already random
    r_from_end = n - 1 - df["_r"]
    test = r_from_end < n_te
    val = (~test) & (r_from_end < n_te + n_va)
    cols = [c for c in inter.columns]
    return df.loc[~test & ~val, cols], df.loc[val, cols], df.loc[test, cols]
