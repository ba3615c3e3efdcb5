"""PMLB tables (``<name>/<name>.tsv.gz`` with a ``target`` column, plus ``index.csv``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from ..exceptions import DataValidationError, InvalidParameterError
from ._paths import find_dataset

__all__ = ["load_pmlb", "pmlb_feature_types", "pmlb_index"]


def _root(data_dir) -> Path:
    return find_dataset(Path("tabular") / "pmlb", "pmlb", data_dir, must_contain=("index.csv",))


def pmlb_index(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """The ``index.csv`` listing (name, task, n_rows, n_features, n_classes)."""
    return pd.read_csv(_root(data_dir) / "index.csv")


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or name in (".", "..") or "/" in name or "\\" in name:
        raise InvalidParameterError(f"name must be a PMLB table name such as 'iris', got {name!r}")
    return name


def pmlb_feature_types(name: str, data_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Feature name → ``continuous``/``categorical``/``binary`` from ``metadata.yaml``."""
    _check_name(name)
    return _feature_types(_root(data_dir) / name / "metadata.yaml")


def _feature_types(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\s*-\s*name:\s*(.+?)\s*$", line)
        if m:
            current = m.group(1).strip("'\"")
            continue
        m = re.match(r"\s+type:\s*(\w+)", line)
        if m and current is not None:
            out[current] = m.group(1)
            current = None
    return out


def load_pmlb(name: str, data_dir: str | os.PathLike | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """Return ``(X, y)``; ``y`` is the ``target`` column, selected by name.

    Raises
    ------
    InvalidParameterError
        ``name`` is not a plain table name (empty, not a string, or a path such as ``"../x"``,
        which would read a file outside the PMLB folder).
    DatasetNotFoundError
        No searched folder holds the table.
    DataValidationError
        The table has no ``target`` column.
    """
    _check_name(name)
    # every root is searched for the table itself (the error names each path tried)
    path = find_dataset(Path("tabular") / "pmlb" / name / f"{name}.tsv.gz", f"PMLB {name}", data_dir)
    df = pd.read_csv(path, sep="\t")
    if "target" not in df.columns:
        raise DataValidationError(f"{path} has no 'target' column")
    y = df.pop("target")
    types = _feature_types(path.parent / "metadata.yaml")  # beside the table that was read
    for col, kind in types.items():
        if kind == "categorical" and col in df.columns:
            df[col] = df[col].astype("category")
    df.attrs["name"] = name
    return df, y
