"""LAGNN: GCN/GAT/GCNII vs LA-GCN/LA-GAT/LA-GCNII, XGBoost baselines and a random-neighbour control.

One CVAE (``LocalAugmenter``, paper defaults, seed 0) is fitted per dataset and shared by
every seed's LA models, as the reference does with its single pre-trained CVAE per dataset;
seeds vary the GNNs' initialisation, dropout and feature sampling. Planetoid graphs use the
public split; other PyG graphs (``--datasets Cora_ML``, ``Computers``, ``CS`` ...) use one
seeded 20-per-class / 500 / 1000 split. One job per (dataset, seed, method); the runner
keeps every finished row, so an interrupted run can continue with ``--resume``.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..datasets import load_planetoid
from ..exceptions import CheckpointMismatchError, DatasetNotFoundError, InvalidParameterError
from ..io import fingerprint, load_verified, save_verified
from ..results import Record, peak_memory_mib, reset_peak_memory
from ..train import resolve_device
from . import BenchConfig, Job, SkipJob, _given, parse_names, positive_int
from ._runner import run_benchmark

__all__ = [
    "DEFAULT_DATASETS",
    "DEFAULT_SEEDS",
    "METHODS",
    "METRICS",
    "add_arguments",
    "jobs",
    "report",
    "run",
    "run_job",
]

DEFAULT_DATASETS = ["Cora", "CiteSeer", "PubMed"]
QUICK_DATASETS = ["Cora"]
DEFAULT_SEEDS = list(range(10))
QUICK_SEEDS = [0, 1]
METRICS = ["test_acc", "val_acc", "epochs", "epoch_s", "epoch_cpu_s", "cvae_fit_s", "peak_mem_mib"]
#: method name -> model kind of structaug.graph.fit_node_model (None: not a GNN)
METHODS: dict[str, str | None] = {
    "GCN": "gcn",
    "LA-GCN": "lagcn",
    "GAT": "gat",
    "LA-GAT": "lagat",
    "GCNII": "gcnii",
    "LA-GCNII": "lagcnii",
    "RandNbr-GCN": "lagcn",
    "XGBoost": None,
    "XGBoost+SIGN": None,
}
DEFAULT_METHODS = ["GCN", "LA-GCN", "GAT", "LA-GAT", "GCNII", "LA-GCNII", "RandNbr-GCN", "XGBoost", "XGBoost+SIGN"]
_PLANETOID = {"cora", "citeseer", "pubmed"}

#: Paper numbers (test accuracy %, Cora / CiteSeer / PubMed) quoted in docs/lagnn.md.
PAPER = {
    "GCN": (81.5, 70.3, 79.0),
    "LA-GCN": (84.1, 74.5, 81.7),
    "GAT": (83.0, 72.5, 79.0),
    "LA-GAT": (84.2, 73.3, 81.4),
    "GCNII": (85.5, 73.4, 80.3),  # the GCNII paper's (Chen et al., 2020), 64/32/16 layers
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--methods", help=f"comma-separated subset of {', '.join(METHODS)} (default: all)")
    parser.add_argument(
        "--patience",
        type=positive_int,
        default=None,
        help="early-stopping patience on validation loss (default: 200, ours; the reference "
        "trains all epochs and keeps the best validation loss)",
    )
    parser.add_argument(
        "--max-epochs", type=positive_int, default=None, help="cap every GNN's epochs (default: paper's; --quick: 100)"
    )
    parser.add_argument(
        "--uscore-every",
        type=positive_int,
        default=1,
        help="score the CVAE every N iterations (paper: 1; larger is faster on a CPU)",
    )
    parser.add_argument(
        "--num-models", type=positive_int, default=100, help="MC-dropout passes per U score (paper: 100)"
    )
    parser.add_argument(
        "--cvae-epochs",
        type=positive_int,
        default=None,
        help="CVAE epochs over all edges (paper and default: 10; --quick: 2)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="train the GNNs in mini-batches of this many training nodes through PyG's NeighborLoader "
        "(default: full-batch, the paper's training; see docs/scaling.md)",
    )
    parser.add_argument(
        "--num-neighbors",
        type=_num_neighbors,
        default=None,
        help="neighbours sampled per hop with --batch-size, e.g. 10,10 (-1: all; default 10,10)",
    )


def _num_neighbors(text: str) -> list[int]:
    """An argparse type: ``"10,10"`` -> ``[10, 10]``; entries >= 1 or -1 (all neighbours)."""
    try:
        values = [int(p) for p in str(text).split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 and v != -1 for v in values):
        raise argparse.ArgumentTypeError(f"entries must be >= 1 or -1 (all neighbours), got {text!r}")
    return values


def _methods(cfg) -> list[str]:
    return parse_names(_given((cfg.extra or {}).get("methods"), ",".join(DEFAULT_METHODS)), METHODS, "--methods")


def validate(cfg) -> None:
    """``--methods`` and ``--datasets`` name known entries, ``--num-neighbors`` comes with
    ``--batch-size`` (checked before any job starts).

    Datasets: the Planetoid graphs and :data:`structaug.datasets.PYG_RAW_GRAPHS` (any case,
    ``CitationFull-`` prefix allowed).

    Raises
    ------
    InvalidParameterError
        Naming the flag and listing the valid names.
    """
    from ..datasets import PLANETOID_NAMES, PYG_RAW_GRAPHS

    _methods(cfg)
    extra = cfg.extra or {}
    if extra.get("num_neighbors") is not None and extra.get("batch_size") is None:
        raise InvalidParameterError("--num-neighbors samples mini-batches: give --batch-size too")
    # lower-case name -> spelling; "CitationFull-Cora" is PyG's full Cora, "Cora" Planetoid's
    display = {**{k: v[3] for k, v in PYG_RAW_GRAPHS.items()}, **PLANETOID_NAMES}
    display.update({f"citationfull-{k}": f"CitationFull-{v[3]}" for k, v in PYG_RAW_GRAPHS.items()})
    parse_names(cfg.datasets, list(display.values()), "--datasets", normalize=lambda d: display.get(d.lower(), d))


def _load(name: str, data_dir: str | None):
    key = name.lower()
    if key in _PLANETOID:
        return load_planetoid(name, data_dir)
    from ..datasets.pyg_raw import load_pyg_graph

    return load_pyg_graph(name, data_dir, split_seed=0)


def _sign_features(x: np.ndarray, edge_index: torch.Tensor, hops: int = 2) -> np.ndarray:
    """[X, ÂX, Â²X] with Â the mean over in-neighbours (SIGN-style precomputed propagation)."""
    import scipy.sparse as sp

    n = x.shape[0]
    src, dst = edge_index.cpu().numpy()
    a = sp.csr_matrix((np.ones(len(src)), (dst, src)), shape=(n, n))
    deg = np.asarray(a.sum(1)).ravel()
    a = sp.diags(1.0 / np.maximum(deg, 1)) @ a
    out, cur = [x], x
    for _ in range(hops):
        cur = a @ cur
        out.append(cur)
    return np.hstack(out)


def _xgboost(x: np.ndarray, data, seed: int) -> tuple[dict[str, float], float]:
    from xgboost import XGBClassifier

    from ..metrics import accuracy

    y = data.y.cpu().numpy()
    tr, va, te = (getattr(data, f"{k}_mask").cpu().numpy() for k in ("train", "val", "test"))
    t0 = time.perf_counter()
    clf = XGBClassifier(
        n_estimators=500,
        max_depth=4,
        learning_rate=0.1,
        subsample=0.8,
        colsample_bytree=0.3,
        early_stopping_rounds=50,
        n_jobs=1,
        random_state=seed,
        eval_metric="mlogloss",
    )
    clf.fit(x[tr], y[tr], eval_set=[(x[va], y[va])], verbose=False)
    fit_s = time.perf_counter() - t0
    return {"test_acc": accuracy(y[te], clf.predict(x[te])), "val_acc": accuracy(y[va], clf.predict(x[va]))}, fit_s


def _fitted_augmenter(name: str, data, device: torch.device, cvae_kw: dict[str, Any], progress: bool):
    """Fit the dataset's CVAE (seed 0), or reuse the one a previous (interrupted) run cached."""
    from ..datasets import cache_dir
    from ..graph import LocalAugmenter

    tag = "_".join(f"{k}{v}" for k, v in sorted(cvae_kw.items()))
    # the file is named by what the CVAE was fitted on, not by the dataset's name alone: another
    # data folder's "Cora" (or changed features) gets its own cache instead of this one's CVAE
    digest = fingerprint(
        {
            "x": data.x,
            "edge_index": data.edge_index,
            "y": data.y,
            "train_mask": data.train_mask,
            "val_mask": data.val_mask,
            "cvae": cvae_kw,
        }
    )
    path = cache_dir("lagnn") / f"{name}_{tag}_seed0_{digest[:16]}.pt"
    if path.exists():
        # checksummed: a corrupt cache is a CorruptFileError, never a CVAE of garbage weights
        cached = load_verified(path, what="CVAE cache", start_over="delete it to refit the CVAE", map_location=device)
        if not isinstance(cached, dict) or cached.get("fingerprint") != digest:
            raise CheckpointMismatchError(
                f"CVAE cache {path} was fitted on other data or settings than this run's; delete it to refit the CVAE"
            )
        aug = cached["augmenter"]
        print(f"[lagnn] {name}: reusing the CVAE cached at {path} (fitted in {aug.fit_time_:.0f}s)", flush=True)
        return aug
    print(f"[lagnn] {name}: fitting the CVAE ({cvae_kw})", flush=True)
    aug = LocalAugmenter(random_state=0, device=str(device), verbose=bool(progress), **cvae_kw).fit(data)
    # atomic: parallel runs poll for this file, so a half-written one is never exposed
    save_verified({"fingerprint": digest, "augmenter": aug}, path)
    return aug


def _keep_freed_memory() -> None:
    """Make glibc keep freed heap memory for reuse instead of returning it to the OS.

    An LA-GNN epoch allocates several dense ``[N, F]`` buffers per pass (decoder output,
    dropout mask, saved activations). glibc serves blocks that large with fresh ``mmap``s and
    unmaps them on free, so every pass pays page faults and zeroing (~10-15 % of a Cora
    LA-GCN epoch on one core). Serving them from the heap and never trimming it reuses the
    pages; the process keeps its peak footprint. Benchmark process only (a process-wide
    setting), no-op where ``mallopt`` is unavailable.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
    except OSError:
        mallopt = None
    if mallopt is None:
        return
    m_trim_threshold, m_mmap_max = -1, -4
    mallopt(m_trim_threshold, 2**31 - 1)
    mallopt(m_mmap_max, 0)


def _settings(cfg: BenchConfig) -> dict[str, Any]:
    """What every job needs: the GNN overrides, the CVAE's settings and the methods run."""
    extra = cfg.extra or {}
    overrides: dict[str, Any] = {}
    if extra.get("patience") is not None:
        overrides["patience"] = extra["patience"]
    if extra.get("max_epochs") is not None or cfg.quick:
        overrides["max_epochs"] = _given(extra.get("max_epochs"), 100)
    if extra.get("batch_size") is not None:  # recorded in each row's config.overrides
        overrides["batch_size"] = extra["batch_size"]
        overrides["num_neighbors"] = _given(extra.get("num_neighbors"), [10, 10])
    cvae_kw = dict(
        max_epochs=_given(extra.get("cvae_epochs"), 2 if cfg.quick else 10),
        uscore_every=_given(extra.get("uscore_every"), 1),
        num_models=_given(extra.get("num_models"), 100),
    )
    return {"overrides": overrides, "cvae": cvae_kw, "methods": _methods(cfg)}


def _canonical(name: str) -> str:
    """The graph's name as the benchmark records it (``cora`` -> ``Cora``)."""
    from ..datasets import PLANETOID_NAMES, PYG_RAW_GRAPHS

    key = name.lower()
    if key in PLANETOID_NAMES:
        return PLANETOID_NAMES[key]
    if key.startswith("citationfull-") and key[len("citationfull-") :] in PYG_RAW_GRAPHS:
        return f"CitationFull-{PYG_RAW_GRAPHS[key[len('citationfull-') :]][3]}"
    return PYG_RAW_GRAPHS[key][3] if key in PYG_RAW_GRAPHS else name


def jobs(cfg: BenchConfig) -> list[Job]:
    """One job per (graph, seed, method)."""
    st = _settings(cfg)
    datasets = cfg.datasets or (QUICK_DATASETS if cfg.quick else DEFAULT_DATASETS)
    # --quick's two seeds are the CLI's default (QUICK_SEEDS), not a cap on --seeds
    return [Job(_canonical(ds), seed, (m,), st) for ds in datasets for seed in cfg.seeds for m in st["methods"]]


@functools.lru_cache(maxsize=2)
def _graph(name: str, data_dir: str | None):
    """The graph, loaded once per process; a missing one skips its jobs."""
    try:
        return _load(name, data_dir)
    except (DatasetNotFoundError, FileNotFoundError) as exc:
        raise SkipJob(str(exc)) from None


@functools.lru_cache(maxsize=2)
def _augmenter(name: str, data_dir: str | None, device: str, cvae: tuple, verbose: bool):
    """The dataset's fitted CVAE (seed 0), shared by every seed's LA models (as the reference's one
    pre-trained CVAE per dataset)."""
    data = _graph(name, data_dir)
    name = getattr(data, "name", name)  # the CVAE cache's name, as before
    cvae_kw = dict(cvae)
    aug = _fitted_augmenter(name, data, torch.device(device), cvae_kw, verbose)
    cvae_s = aug.fit_time_
    print(
        f"[lagnn] {name}: CVAE fitted in {cvae_s:.0f}s, selected iteration "
        f"{aug.selected_iteration_} of {aug.n_iterations_}",
        flush=True,
    )
    return aug


@functools.lru_cache(maxsize=2)
def _sign(name: str, data_dir: str | None) -> np.ndarray:
    data = _graph(name, data_dir)
    return _sign_features(data.x.cpu().numpy(), data.edge_index)


def run_job(job: Job, cfg: BenchConfig) -> list[Record]:
    """One (graph, seed, method) row."""
    from ..graph import RandomNeighborAugmenter, fit_node_model

    _keep_freed_memory()
    (method,), seed = job.methods, job.seed
    overrides, cvae_kw = job.config["overrides"], job.config["cvae"]
    device = resolve_device(cfg.device)
    data = _graph(job.dataset, cfg.data_dir)
    name = getattr(data, "name", job.dataset)  # PyG's name (CitationFull-Cora's is "Cora"): the model's config
    split = "public" if job.dataset.lower() in _PLANETOID else "20/class+500+1000 (seed 0)"
    aug: Any = None
    cvae_s: Any = None
    if any((METHODS[m] or "").startswith("la") and m != "RandNbr-GCN" for m in job.config["methods"]):
        aug = _augmenter(job.dataset, cfg.data_dir, str(device), tuple(cvae_kw.items()), cfg.verbose)
        cvae_s = aug.fit_time_
        data = data.to(device)  # as before #21 (PyG moves it in place): same row sums, same numbers
    x_np = data.x.cpu().numpy()
    kind = METHODS[method]
    reset_peak_memory(device)  # each row's peak_mem_mib is its own job's high-water mark
    if kind is None:
        feats = x_np if method == "XGBoost" else _sign(job.dataset, cfg.data_dir)
        scores, fit_s = _xgboost(feats, data, seed)
        metrics: dict[str, Any] = {**scores, "peak_mem_mib": peak_memory_mib("cpu")}
        rec = Record(
            method, job.dataset, seed, metrics, split=split, fit_time=fit_s, config={"n_features": int(feats.shape[1])}
        )
    else:
        smp: Any
        if method == "RandNbr-GCN":
            smp = RandomNeighborAugmenter().fit(data)
        else:
            smp = aug if kind.startswith("la") else None
        cpu0 = time.process_time()  # CPU seconds: wall time is unreliable on a shared CPU
        res = fit_node_model(kind, data, augmenter=smp, dataset=name, random_state=seed, device=device, **overrides)
        cpu_s = time.process_time() - cpu0
        metrics = {
            "test_acc": res.test_acc,
            "val_acc": res.val_acc,
            "epochs": res.epochs_run,
            "epoch_s": res.epoch_time,
            "epoch_cpu_s": cpu_s / max(res.epochs_run, 1),
            "peak_mem_mib": peak_memory_mib(device, res.peak_memory_mib),
        }
        if kind.startswith("la") and method != "RandNbr-GCN":
            metrics["cvae_fit_s"] = cvae_s
        rec = Record(
            method,
            job.dataset,
            seed,
            metrics,
            split=split,
            fit_time=res.fit_time,
            config={"kind": kind, "overrides": overrides, "cvae": cvae_kw if smp is not None and smp is aug else None},
            extra={"best_epoch": res.best_epoch, "cvae_selected_iteration": getattr(aug, "selected_iteration_", None)},
        )
    return [rec]


def run(cfg: BenchConfig) -> list[Record]:
    """Run this benchmark as ``structaug bench lagnn`` does (see :func:`structaug.bench.run_benchmark`)."""
    return run_benchmark(sys.modules[__name__], cfg)


def report(records: list, out_path: str | Path) -> None:
    """Append a paper-vs-ours table (test accuracy %, mean ± std) to the markdown summary."""
    rows = [r.to_dict() if hasattr(r, "to_dict") else r for r in records]
    ok = [r for r in rows if r.get("status", "ok") == "ok" and "test_acc" in r["metrics"]]
    if not ok:
        return
    order = ["Cora", "CiteSeer", "PubMed"]
    lines = [
        "",
        "## Test accuracy (%) beside the paper",
        "",
        "| method | " + " | ".join(f"{d} ours | {d} paper" for d in order) + " |",
        "|---|" + "---|---|" * len(order),
    ]
    for method in METHODS:
        cells, any_row = [], False
        for i, d in enumerate(order):
            acc = [100 * r["metrics"]["test_acc"] for r in ok if r["method"] == method and r["dataset"] == d]
            ours = (
                f"{np.mean(acc):.1f} ± {np.std(acc, ddof=1) if len(acc) > 1 else 0:.1f} (n={len(acc)})" if acc else "—"
            )
            any_row |= bool(acc)
            paper = PAPER.get(method)
            cells += [ours, f"{paper[i]:.1f}" if paper else "—"]
        if any_row:
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    failed: dict[tuple[str, str], str] = {}  # (dataset, status) -> its first message
    for r in rows:
        if r.get("status") in ("skipped", "error"):
            failed.setdefault((r["dataset"], r["status"]), str(r["error"]).splitlines()[0])
    for (ds, status), msg in failed.items():
        lines.append(f"\n{ds}: {status} — {msg}")
    md = Path(out_path).with_suffix(".md")
    with open(md, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
