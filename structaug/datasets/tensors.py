"""Sparse tensors: DAIN's text format and the LDOS-CoMoDa context-aware ratings."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError
from ._paths import find_dataset

__all__ = ["read_tensor_text", "load_dain_tensor", "load_comoda", "COMODA_COLUMNS"]

COMODA_COLUMNS = [
    "userID", "itemID", "rating", "age", "sex", "city", "country", "time", "daytype",
    "season", "location", "weather", "social", "endEmo", "dominantEmo", "mood", "physical",
    "decision", "interaction", "director", "movieCountry", "movieLanguage", "movieYear",
    "genre1", "genre2", "genre3", "actor1", "actor2", "actor3", "budget",
]


def read_tensor_text(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read ``i<TAB>j<TAB>...<TAB>value`` lines into (indices [nnz, order] int64, values float64)."""
    arr = pd.read_csv(path, sep="\t", header=None).to_numpy()
    if arr.ndim != 2 or arr.shape[1] < 3:
        raise DataValidationError(f"{path}: expected at least 2 index columns and a value column")
    idx_f = arr[:, :-1]
    if not np.all(np.equal(np.mod(idx_f, 1), 0)):
        raise DataValidationError(f"{path}: index columns must be integers")
    return idx_f.astype(np.int64), arr[:, -1].astype(np.float64)


def load_dain_tensor(name: str = "synthetic_10K", data_dir: str | os.PathLike | None = None):
    """Load ``tensors/<name>/<name>.tensor`` as (indices, values)."""
    path = find_dataset(Path("tensors") / name / f"{name}.tensor", name, data_dir)
    return read_tensor_text(path)


def load_comoda(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """LDOS-CoMoDa ratings with the 30 named columns (``-1`` = unknown context)."""
    path = find_dataset(Path("tensors") / "LDOS-CoMoDa" / "LDOS-CoMoDa.csv", "LDOS-CoMoDa", data_dir)
    return pd.read_csv(path, header=None, names=COMODA_COLUMNS)
