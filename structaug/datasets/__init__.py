"""Dataset loaders (local files only) and generators.

Each loader takes ``data_dir``; without it, ``$STRUCTAUG_DATA`` and then
``../shared/datasets`` next to the repository are searched, and a missing dataset raises
:class:`~structaug.exceptions.DatasetNotFoundError` naming every path tried.
"""
from __future__ import annotations

import os
from pathlib import Path

from ._paths import cache_dir, candidate_dirs, find_dataset
from .movielens import MovieLens, load_movielens100k
from .planetoid import PLANETOID_NAMES, load_planetoid
from .pmlb import load_pmlb, pmlb_feature_types, pmlb_index
from .pyg_raw import PYG_RAW_GRAPHS, class_balanced_split, load_pyg_graph
from .seqrec import SEQREC_NAMES, load_seqrec, read_seqrec_file
from .synthetic import make_interactions, make_lowrank_tensor, make_sbm_graph, make_sequences
from .tensors import load_comoda, load_dain_tensor, read_tensor_text

__all__ = [
    "available_datasets", "cache_dir", "candidate_dirs", "find_dataset",
    "load_planetoid", "load_seqrec", "read_seqrec_file", "load_movielens100k", "MovieLens",
    "load_pmlb", "pmlb_index", "pmlb_feature_types", "load_dain_tensor", "load_comoda",
    "read_tensor_text", "make_sbm_graph", "make_sequences", "make_lowrank_tensor",
    "make_interactions", "PLANETOID_NAMES", "SEQREC_NAMES", "load_pyg_graph", "class_balanced_split",
    "PYG_RAW_GRAPHS",
]

#: (family, name, path relative to the data root)
KNOWN_DATASETS: list[tuple[str, str, str]] = [
    ("graph", "Cora", "planetoid/Cora/raw/ind.cora.graph"),
    ("graph", "CiteSeer", "planetoid/CiteSeer/raw/ind.citeseer.graph"),
    ("graph", "PubMed", "planetoid/PubMed/raw/ind.pubmed.allx"),
    ("graph", "Cora_ML (CitationFull)", "citation_full/cora_ml/raw/cora_ml.npz"),
    ("sequence", "Beauty", "seqrec/Beauty.txt"),
    ("sequence", "Sports_and_Outdoors", "seqrec/Sports_and_Outdoors.txt"),
    ("sequence", "Toys_and_Games", "seqrec/Toys_and_Games.txt"),
    ("sequence", "Yelp", "seqrec/Yelp.txt"),
    ("recsys", "ml-100k", "movielens/ml-100k/u.data"),
    ("tensor", "synthetic_10K", "tensors/synthetic_10K/synthetic_10K.tensor"),
    ("tensor", "LDOS-CoMoDa", "tensors/LDOS-CoMoDa/LDOS-CoMoDa.csv"),
    ("table", "pmlb (index.csv)", "tabular/pmlb/index.csv"),
]


def available_datasets(data_dir: str | os.PathLike | None = None) -> list[dict]:
    """One row per known dataset: family, name, whether found and where."""
    roots = candidate_dirs(data_dir)
    rows = []
    for family, name, rel in KNOWN_DATASETS:
        hit = next((r / rel for r in roots if (r / rel).exists()), None)
        rows.append({"family": family, "name": name, "found": hit is not None,
                     "path": str(hit.parent if hit else Path(rel).parent)})
    return rows
