"""Planetoid citation graphs (Cora, CiteSeer, PubMed) from local raw files, never downloaded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..exceptions import DatasetNotFoundError
from ._paths import cache_dir, files_digest, find_dataset

__all__ = ["PLANETOID_NAMES", "load_planetoid"]

PLANETOID_NAMES = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


def _raw_files(name: str) -> list[str]:
    return [f"ind.{name.lower()}.{p}" for p in _PARTS]


def load_planetoid(name: str, data_dir: str | os.PathLike | None = None, cache: str | os.PathLike | None = None):
    """Load a Planetoid graph with its public split as a PyG ``Data``.

    The raw pickles are read from ``<data root>/planetoid/<Name>/raw`` and copied to a
    writable cache folder, where ``torch_geometric.datasets.Planetoid`` writes its
    ``processed/`` files; the shared data folder is never written to.

    Parameters
    ----------
    name : {"Cora", "CiteSeer", "PubMed"} (case-insensitive)
    data_dir : path, optional
        Root laid out like ``shared/datasets`` (or the ``<Name>`` folder itself).
    cache : path, optional
        Where PyG's copy lives (default: ``$STRUCTAUG_CACHE/planetoid``).
    """
    from torch_geometric.datasets import Planetoid

    key = name.lower()
    if key not in PLANETOID_NAMES:
        raise ValueError(f"unknown Planetoid dataset {name!r}; choose from {sorted(PLANETOID_NAMES.values())}")
    canon = PLANETOID_NAMES[key]
    files = _raw_files(canon)
    rel = Path("planetoid") / canon / "raw"
    try:  # the first root holding every file: an incomplete copy does not hide a complete one
        src = find_dataset(rel, canon, data_dir, must_contain=tuple(files))
        missing = []
    except DatasetNotFoundError:
        src = find_dataset(rel, canon, data_dir)  # none complete: name what the first copy lacks
        missing = [f for f in files if not (src / f).exists()]
    if missing:
        raise DatasetNotFoundError(
            f"dataset {canon!r} at {src} is incomplete: missing {', '.join(missing)} "
            "(PyG would try to download them; structaug never does)"
        )
    # the processed cache is keyed on the raw files' content: another copy of the dataset
    # (another data folder, edited files) gets its own, never this one's
    digest = files_digest([src / f for f in files])
    root = (Path(cache) if cache is not None else cache_dir("planetoid")) / digest
    raw_dst = root / canon / "raw"
    raw_dst.mkdir(parents=True, exist_ok=True)
    for f in files:
        dst = raw_dst / f
        if not dst.exists() or dst.stat().st_size != (src / f).stat().st_size:
            shutil.copyfile(src / f, dst)
    ds = Planetoid(root=str(root), name=canon, split="public")
    data = ds[0]
    data.name = canon
    return data
