"""PyG's other citation/co-purchase/co-author graphs from local raw ``.npz`` files.

``torch_geometric.datasets.CitationFull``, ``Amazon`` and ``Coauthor`` each read one raw
``.npz`` file (and try to download it when it is missing). These loaders find that file
under the data root, copy it to a writable cache where PyG writes its ``processed/``
folder, and never download. None of these graphs ships a public split, so
:func:`structaug.splits.class_balanced_split` draws the usual semi-supervised one (Shchur et al., 2018):
``train_per_class`` labelled nodes per class, then ``n_val`` validation and ``n_test``
test nodes from the rest, all seeded.

Layouts (relative to the data root, e.g. ``shared/datasets``)::

    citation_full/<lowercase name>/raw/<lowercase name>.npz    # Cora, Cora_ML, CiteSeer, DBLP, PubMed
    amazon/<Computers|Photo>/raw/amazon_electronics_<name>.npz
    coauthor/<CS|Physics>/raw/ms_academic_<cs|phy>.npz
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..exceptions import DatasetNotFoundError
from ..splits import class_balanced_split
from ._paths import cache_dir, files_digest, find_dataset

__all__ = ["PYG_RAW_GRAPHS", "load_pyg_graph"]

#: lower-case name -> (family folder, PyG class name, folder name, PyG ``name`` argument, raw file)
PYG_RAW_GRAPHS: dict[str, tuple[str, str, str, str, str]] = {
    **{
        n.lower(): ("citation_full", "CitationFull", n.lower(), n, f"{n.lower()}.npz")
        for n in ("Cora", "Cora_ML", "CiteSeer", "DBLP", "PubMed")
    },
    "computers": ("amazon", "Amazon", "Computers", "Computers", "amazon_electronics_computers.npz"),
    "photo": ("amazon", "Amazon", "Photo", "Photo", "amazon_electronics_photo.npz"),
    "cs": ("coauthor", "Coauthor", "CS", "CS", "ms_academic_cs.npz"),
    "physics": ("coauthor", "Coauthor", "Physics", "Physics", "ms_academic_phy.npz"),
}


def load_pyg_graph(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    cache: str | os.PathLike | None = None,
    split_seed: int = 0,
    train_per_class: int = 20,
    n_val: int = 500,
    n_test: int = 1000,
):
    """Load a CitationFull / Amazon / Coauthor graph offline with a seeded split.

    Parameters
    ----------
    name : str
        ``Cora``, ``Cora_ML``, ``CiteSeer``, ``DBLP``, ``PubMed`` (CitationFull versions),
        ``Computers``, ``Photo`` (Amazon) or ``CS``, ``Physics`` (Coauthor);
        case-insensitive. A ``CitationFull-`` prefix is accepted (``CitationFull-Cora``)
        to tell the full Cora apart from Planetoid's.
    data_dir : path, optional
        Data root laid out as in the module docstring.
    cache : path, optional
        Where PyG's copy and ``processed/`` live (default ``$STRUCTAUG_CACHE/pyg_raw``).
    split_seed : int
        Seed of :func:`structaug.splits.class_balanced_split`.

    Returns
    -------
    torch_geometric.data.Data
        With ``train_mask``, ``val_mask``, ``test_mask`` and ``name``.
    """
    import torch_geometric.datasets as pyg_datasets

    key = name.lower()
    if key.startswith("citationfull-"):
        key = key[len("citationfull-") :]
    if key not in PYG_RAW_GRAPHS:
        raise ValueError(f"unknown graph {name!r}; choose from {sorted(v[3] for v in PYG_RAW_GRAPHS.values())}")
    family, cls_name, folder, pyg_name, raw_file = PYG_RAW_GRAPHS[key]
    src = find_dataset(Path(family) / folder / "raw", pyg_name, data_dir, must_contain=(raw_file,))
    # keyed on the raw file's content, so a processed cache is never another version's
    digest = files_digest([src / raw_file])
    root = (Path(cache) if cache is not None else cache_dir("pyg_raw", family)) / digest
    raw_dst = root / folder / "raw"
    raw_dst.mkdir(parents=True, exist_ok=True)
    dst = raw_dst / raw_file
    if not dst.exists() or dst.stat().st_size != (src / raw_file).stat().st_size:
        shutil.copyfile(src / raw_file, dst)
    if not dst.exists():  # pragma: no cover - copy failed silently
        raise DatasetNotFoundError(f"could not stage {raw_file} for {pyg_name}")
    data = getattr(pyg_datasets, cls_name)(root=str(root), name=pyg_name)[0]
    data.train_mask, data.val_mask, data.test_mask = class_balanced_split(
        data.y, train_per_class=train_per_class, n_val=n_val, n_test=n_test, random_state=split_seed
    )
    data.name = pyg_name
    return data
