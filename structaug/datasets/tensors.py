"""Sparse tensors: DAIN's text format and the LDOS-CoMoDa context-aware ratings."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError
from ._paths import find_dataset

__all__ = ["COMODA_COLUMNS", "load_comoda", "load_dain_tensor", "read_tensor_text"]

COMODA_COLUMNS = [
    "userID",
    "itemID",
    "rating",
    "age",
    "sex",
    "city",
    "country",
    "time",
    "daytype",
    "season",
    "location",
    "weather",
    "social",
    "endEmo",
    "dominantEmo",
    "mood",
    "physical",
    "decision",
    "interaction",
    "director",
    "movieCountry",
    "movieLanguage",
    "movieYear",
    "genre1",
    "genre2",
    "genre3",
    "actor1",
    "actor2",
    "actor3",
    "budget",
]


def read_tensor_text(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read ``i<TAB>j<TAB>...<TAB>value`` lines into (indices [nnz, order] int64, values float64).

    An empty file, ragged lines, non-numeric fields or fractional indices raise
    :class:`DataValidationError` naming the file (never a pandas parser traceback).
    """
    try:
        frame = pd.read_csv(path, sep="\t", header=None)
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError(f"{path}: the tensor file is empty") from exc
    except pd.errors.ParserError as exc:
        raise DataValidationError(f"{path}: not a tab-separated tensor file ({exc})") from exc
    if frame.shape[1] < 3:
        raise DataValidationError(
            f"{path}: expected at least 2 index columns and a value column, got {frame.shape[1]} column(s)"
        )
    if not all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in frame.dtypes):
        bad = [c for c, t in frame.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
        raise DataValidationError(f"{path}: column(s) {bad} are not numeric")
    arr = frame.to_numpy(np.float64)
    idx_f = arr[:, :-1]
    if np.isnan(arr).any():
        raise DataValidationError(f"{path}: {int(np.isnan(arr).any(axis=1).sum())} line(s) have missing fields")
    if not np.all(np.equal(np.mod(idx_f, 1), 0)):
        raise DataValidationError(f"{path}: index columns must be integers")
    return idx_f.astype(np.int64), arr[:, -1]


def load_dain_tensor(name: str = "synthetic_10K", data_dir: str | os.PathLike | None = None):
    """Load ``tensors/<name>/<name>.tensor`` as (indices, values)."""
    path = find_dataset(Path("tensors") / name / f"{name}.tensor", name, data_dir)
    return read_tensor_text(path)


def load_comoda(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """LDOS-CoMoDa ratings with the 30 named columns (``-1`` = unknown context)."""
    path = find_dataset(Path("tensors") / "LDOS-CoMoDa" / "LDOS-CoMoDa.csv", "LDOS-CoMoDa", data_dir)
    return pd.read_csv(path, header=None, names=COMODA_COLUMNS)
