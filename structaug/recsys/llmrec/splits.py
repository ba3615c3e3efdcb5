"""Per-user train/validation/test splits of an interaction log."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...exceptions import DataValidationError

__all__ = ["split_per_user"]


def split_per_user(inter: pd.DataFrame, seed: int, kind: str = "random",
                   fractions: tuple[float, float] = (0.1, 0.1)) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-user train/validation/test split.

    ``kind="random"`` shuffles each user's items with ``seed``; ``"temporal"`` puts the latest
    ones in test and the next latest in validation. Each user with >= 3 items gets
    ``max(1, round(10%))`` validation and test items; users with fewer stay in train only.
    Duplicate (user, item) rows are dropped first.
    """
    if kind not in ("random", "temporal"):
        raise ValueError(f"kind must be 'random' or 'temporal', got {kind!r}")
    if kind == "temporal" and "timestamp" not in inter.columns:
        raise DataValidationError("a temporal split needs a 'timestamp' column")
    rng = np.random.default_rng(seed)
    df = inter.drop_duplicates(["user", "item"]).reset_index(drop=True)
    if kind == "temporal":
        df = df.sort_values(["user", "timestamp", "item"], kind="stable")
        df["_r"] = df.groupby("user").cumcount()
    else:
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
