"""Dataset loaders (local files only) and generators.

Each loader takes ``data_dir``; without it, ``$STRUCTAUG_DATA`` and then
``../shared/datasets`` next to the repository are searched, and a missing dataset raises
:class:`~structaug.exceptions.DatasetNotFoundError` naming every path tried.

Every dataset has one name (:data:`KNOWN_DATASETS`, printed by ``structaug datasets``),
taken by its loader and by every ``structaug bench ... --datasets`` that runs on it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..splits import class_balanced_split  # moved to structaug.splits (#21); kept importable here
from ._paths import cache_dir, candidate_dirs, find_dataset
from .movielens import MovieLens, load_movielens100k
from .planetoid import PLANETOID_NAMES, load_planetoid
from .pmlb import load_pmlb, pmlb_feature_types, pmlb_index
from .pyg_raw import PYG_RAW_GRAPHS, load_pyg_graph
from .seqrec import SEQREC_NAMES, load_seqrec, read_seqrec_file
from .synthetic import make_interactions, make_lowrank_tensor, make_sbm_graph, make_sequences
from .tensors import load_comoda, load_dain_tensor, read_tensor_text

__all__ = [
    "KNOWN_DATASETS",
    "PLANETOID_NAMES",
    "PYG_RAW_GRAPHS",
    "SEQREC_NAMES",
    "MovieLens",
    "available_datasets",
    "cache_dir",
    "candidate_dirs",
    "class_balanced_split",
    "find_dataset",
    "load_comoda",
    "load_dain_tensor",
    "load_movielens100k",
    "load_planetoid",
    "load_pmlb",
    "load_pyg_graph",
    "load_seqrec",
    "make_interactions",
    "make_lowrank_tensor",
    "make_sbm_graph",
    "make_sequences",
    "pmlb_feature_types",
    "pmlb_index",
    "read_seqrec_file",
    "read_tensor_text",
]

#: every dataset ``structaug datasets`` lists: (family, the name to pass to ``--datasets`` and to
#: the loaders, the benchmarks that take it, path relative to the data root; None: generated,
#: or shipped with a library). One name per dataset: this one is accepted everywhere.
KNOWN_DATASETS: list[tuple[str, str, tuple[str, ...], str | None]] = [
    ("graph", "Cora", ("lagnn",), "planetoid/Cora/raw/ind.cora.graph"),
    ("graph", "CiteSeer", ("lagnn",), "planetoid/CiteSeer/raw/ind.citeseer.graph"),
    ("graph", "PubMed", ("lagnn",), "planetoid/PubMed/raw/ind.pubmed.allx"),
    # PyG's CitationFull/Amazon/Coauthor graphs; the full Cora/CiteSeer/PubMed take a prefix,
    # the plain name is Planetoid's
    *[
        ("graph", f"CitationFull-{v[3]}" if k in PLANETOID_NAMES else v[3], ("lagnn",), f"{v[0]}/{v[2]}/raw/{v[4]}")
        for k, v in PYG_RAW_GRAPHS.items()
    ],
    ("sequence", "Beauty", ("mclrec",), "seqrec/Beauty.txt"),
    ("sequence", "Sports_and_Outdoors", ("mclrec",), "seqrec/Sports_and_Outdoors.txt"),
    ("sequence", "Toys_and_Games", ("mclrec",), "seqrec/Toys_and_Games.txt"),
    ("sequence", "Yelp", ("mclrec",), "seqrec/Yelp.txt"),
    ("recsys", "ml-100k", ("llmrec", "dain"), "movielens/ml-100k/u.data"),
    ("recsys", "synthetic", ("llmrec",), None),
    ("tensor", "synthetic_10K", ("dain",), "tensors/synthetic_10K/synthetic_10K.tensor"),
    ("tensor", "LDOS-CoMoDa", ("dain",), "tensors/LDOS-CoMoDa/LDOS-CoMoDa.csv"),
    ("tensor", "covid19_serology", ("dain",), None),
    ("tensor", "lowrank", ("dain",), None),
    *[
        ("table", name, ("tabular",), None)
        for name in ("sk_breast_cancer", "sk_wine", "sk_iris", "sk_digits", "sk_diabetes")
    ],
]

_SOURCES = {
    "synthetic": "generated (make_interactions)",
    "lowrank": "generated (make_lowrank_tensor)",
    "covid19_serology": "ships with tensorly",
}


def available_datasets(data_dir: str | os.PathLike | None = None) -> list[dict]:
    """One row per known dataset: ``family``, ``name`` (the name every loader and benchmark
    takes), ``benchmarks`` (the ``structaug bench`` commands that take it), ``found`` and
    ``path`` (where it was found, or where it is looked for; for generated or library-shipped
    data, where it comes from).

    PMLB tables are listed by ``pmlb_index`` (each by its PMLB name).
    """
    roots = candidate_dirs(data_dir)
    rows = []
    for family, name, benchmarks, rel in KNOWN_DATASETS:
        if rel is None:
            found, path = True, _SOURCES.get(name, "ships with scikit-learn")
        else:
            hit = next((r / rel for r in roots if (r / rel).exists()), None)
            found, path = hit is not None, str(hit.parent if hit else Path(rel).parent)
        rows.append({"family": family, "name": name, "benchmarks": list(benchmarks), "found": found, "path": path})
    return rows
