"""LAGNN: GCN/GAT/GCNII vs LA-GCN/LA-GAT/LA-GCNII, XGBoost baselines and a random-neighbour control.

One CVAE (``LocalAugmenter``, paper defaults, seed 0) is fitted per dataset and shared by
every seed's LA models, as the reference does with its single pre-trained CVAE per dataset;
seeds vary the GNNs' initialisation, dropout and feature sampling. Planetoid graphs use the
public split; other PyG graphs (``--datasets Cora_ML``, ``Computers``, ``CS`` ...) use one
seeded 20-per-class / 500 / 1000 split. Results are written after every record, so an
interrupted run can continue with ``--resume``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..datasets import load_planetoid
from ..exceptions import CheckpointMismatchError, DatasetNotFoundError
from ..io import fingerprint, load_verified, save_verified
from ..results import Record, peak_memory_mib, reset_peak_memory
from ..train import resolve_device
from . import _given, parse_names, positive_int, save_progress

__all__ = ["run", "report", "add_arguments", "DEFAULT_DATASETS", "DEFAULT_SEEDS", "METRICS", "METHODS"]

DEFAULT_DATASETS = ["Cora", "CiteSeer", "PubMed"]
QUICK_DATASETS = ["Cora"]
DEFAULT_SEEDS = list(range(10))
QUICK_SEEDS = [0, 1]
METRICS = ["test_acc", "val_acc", "epochs", "epoch_s", "epoch_cpu_s", "cvae_fit_s", "peak_mem_mib"]
#: method name -> model kind of structaug.graph.fit_node_model (None: not a GNN)
METHODS: dict[str, str | None] = {
    "GCN": "gcn", "LA-GCN": "lagcn", "GAT": "gat", "LA-GAT": "lagat", "GCNII": "gcnii",
    "LA-GCNII": "lagcnii", "RandNbr-GCN": "lagcn", "XGBoost": None, "XGBoost+SIGN": None,
}
DEFAULT_METHODS = ["GCN", "LA-GCN", "GAT", "LA-GAT", "GCNII", "LA-GCNII", "RandNbr-GCN", "XGBoost", "XGBoost+SIGN"]
_PLANETOID = {"cora", "citeseer", "pubmed"}

#: Paper numbers (test accuracy %, Cora / CiteSeer / PubMed) quoted in docs/lagnn.md.
PAPER = {
    "GCN": (81.5, 70.3, 79.0), "LA-GCN": (84.1, 74.5, 81.7),
    "GAT": (83.0, 72.5, 79.0), "LA-GAT": (84.2, 73.3, 81.4),
    "GCNII": (85.5, 73.4, 80.3),  # the GCNII paper's (Chen et al., 2020), 64/32/16 layers
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--methods", help=f"comma-separated subset of {', '.join(METHODS)} (default: all)")
    parser.add_argument("--patience", type=positive_int, default=None,
                        help="early-stopping patience on validation loss (default: 200, ours; the reference "
                             "trains all epochs and keeps the best validation loss)")
    parser.add_argument("--max-epochs", type=positive_int, default=None,
                        help="cap every GNN's epochs (default: paper's; --quick: 100)")
    parser.add_argument("--uscore-every", type=positive_int, default=1,
                        help="score the CVAE every N iterations (paper: 1; larger is faster on a CPU)")
    parser.add_argument("--num-models", type=positive_int, default=100,
                        help="MC-dropout passes per U score (paper: 100)")
    parser.add_argument("--cvae-epochs", type=positive_int, default=None,
                        help="CVAE epochs over all edges (paper and default: 10; --quick: 2)")


def _methods(cfg) -> list[str]:
    return parse_names(_given((cfg.extra or {}).get("methods"), ",".join(DEFAULT_METHODS)), METHODS, "--methods")


def validate(cfg) -> None:
    """``--methods`` and ``--datasets`` name known entries (checked before any job starts).

    Datasets: the Planetoid graphs and :data:`structaug.datasets.PYG_RAW_GRAPHS` (any case,
    ``CitationFull-`` prefix allowed).

    Raises
    ------
    InvalidParameterError
        Naming the flag and listing the valid names.
    """
    from ..datasets import PLANETOID_NAMES, PYG_RAW_GRAPHS

    _methods(cfg)
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

    y = data.y.cpu().numpy()
    tr, va, te = (getattr(data, f"{k}_mask").cpu().numpy() for k in ("train", "val", "test"))
    t0 = time.perf_counter()
    clf = XGBClassifier(n_estimators=500, max_depth=4, learning_rate=0.1, subsample=0.8,
                        colsample_bytree=0.3, early_stopping_rounds=50, n_jobs=1, random_state=seed,
                        eval_metric="mlogloss")
    clf.fit(x[tr], y[tr], eval_set=[(x[va], y[va])], verbose=False)
    fit_s = time.perf_counter() - t0
    return {"test_acc": float((clf.predict(x[te]) == y[te]).mean()),
            "val_acc": float((clf.predict(x[va]) == y[va]).mean())}, fit_s


def _fitted_augmenter(name: str, data, device: torch.device, cvae_kw: dict[str, Any], progress: bool):
    """Fit the dataset's CVAE (seed 0), or reuse the one a previous (interrupted) run cached."""
    from ..datasets import cache_dir
    from ..graph import LocalAugmenter

    tag = "_".join(f"{k}{v}" for k, v in sorted(cvae_kw.items()))
    # the file is named by what the CVAE was fitted on, not by the dataset's name alone: another
    # data folder's "Cora" (or changed features) gets its own cache instead of this one's CVAE
    digest = fingerprint({"x": data.x, "edge_index": data.edge_index, "y": data.y,
                          "train_mask": data.train_mask, "val_mask": data.val_mask, "cvae": cvae_kw})
    path = cache_dir("lagnn") / f"{name}_{tag}_seed0_{digest[:16]}.pt"
    if path.exists():
        # checksummed: a corrupt cache is a CorruptFileError, never a CVAE of garbage weights
        cached = load_verified(path, what="CVAE cache", start_over="delete it to refit the CVAE",
                               map_location=device)
        if not isinstance(cached, dict) or cached.get("fingerprint") != digest:
            raise CheckpointMismatchError(f"CVAE cache {path} was fitted on other data or settings than this "
                                          "run's; delete it to refit the CVAE")
        aug = cached["augmenter"]
        print(f"[lagnn] {name}: reusing the CVAE cached at {path} (fitted in {aug.fit_time_:.0f}s)", flush=True)
        return aug
    print(f"[lagnn] {name}: fitting the CVAE ({cvae_kw})", flush=True)
    aug = LocalAugmenter(random_state=0, device=str(device), progress=progress, **cvae_kw).fit(data)
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


def run(cfg) -> list[Record]:
    from ..graph import RandomNeighborSampler, fit_node_model

    _keep_freed_memory()
    extra = cfg.extra or {}
    methods = _methods(cfg)
    datasets = cfg.datasets or (QUICK_DATASETS if cfg.quick else DEFAULT_DATASETS)
    seeds = list(cfg.seeds)  # --quick's two seeds are the CLI's default (QUICK_SEEDS), not a cap
    device = resolve_device(cfg.device)
    overrides: dict[str, Any] = {}
    if extra.get("patience") is not None:
        overrides["patience"] = extra["patience"]
    if extra.get("max_epochs") is not None or cfg.quick:
        overrides["epochs"] = _given(extra.get("max_epochs"), 100)
    previous = [r for r in extra.get("previous", []) or []]
    done = {(r["method"], r["dataset"], r["seed"]) for r in previous if r.get("status", "ok") == "ok"}
    records: list[Any] = [r for r in previous if (r["method"], r["dataset"], r["seed"]) in done]
    cvae_kw = dict(epochs=_given(extra.get("cvae_epochs"), 2 if cfg.quick else 10),
                   uscore_every=_given(extra.get("uscore_every"), 1), num_models=_given(extra.get("num_models"), 100))

    for ds in datasets:
        try:
            data = _load(ds, cfg.data_dir)
        except (DatasetNotFoundError, FileNotFoundError) as exc:
            msg = f"skipped {ds}: {str(exc).splitlines()[0]}"
            print(f"[lagnn] {msg}")
            records.append(Record("all", ds, -1, {}, status="skipped", error=str(exc)))
            continue
        except Exception as exc:  # a broken dataset must not stop the others
            records.append(Record("all", ds, -1, {}, status="error", error=repr(exc)))
            continue
        name = getattr(data, "name", ds)
        split = "public" if ds.lower() in _PLANETOID else "20/class+500+1000 (seed 0)"
        todo = [(m, s) for s in seeds for m in methods if (m, name, s) not in done]
        if not todo:
            continue
        aug, cvae_s, sampler = None, None, None
        if any(METHODS[m] and METHODS[m].startswith("la") and m != "RandNbr-GCN" for m, _ in todo):
            aug = _fitted_augmenter(name, data, device, cvae_kw, cfg.progress)
            cvae_s = aug.fit_time_
            print(f"[lagnn] {name}: CVAE fitted in {cvae_s:.0f}s, selected iteration "
                  f"{aug.selected_iteration_} of {aug.n_iterations_}", flush=True)
            sampler = aug.feature_sampler(data.to(device))
        x_np = data.x.cpu().numpy()
        sign = _sign_features(x_np, data.edge_index) if "XGBoost+SIGN" in methods else None
        for method, seed in todo:
            kind = METHODS[method]
            reset_peak_memory(device)  # each row's peak_mem_mib is its own job's high-water mark
            t0 = time.perf_counter()
            try:
                if kind is None:
                    feats = x_np if method == "XGBoost" else sign
                    metrics, fit_s = _xgboost(feats, data, seed)
                    metrics["peak_mem_mib"] = peak_memory_mib("cpu")
                    rec = Record(method, name, seed, metrics, split=split, fit_time=fit_s,
                                 config={"n_features": int(feats.shape[1])})
                else:
                    if method == "RandNbr-GCN":
                        smp = RandomNeighborSampler(data.x.to(device), data.edge_index.to(device))
                    else:
                        smp = sampler if kind.startswith("la") else None
                    cpu0 = time.process_time()  # CPU seconds: wall time is unreliable on a shared CPU
                    res = fit_node_model(kind, data, sampler=smp, dataset=name, seed=seed, device=device,
                                         progress=False, **overrides)
                    cpu_s = time.process_time() - cpu0
                    metrics = {"test_acc": res.test_acc, "val_acc": res.val_acc, "epochs": res.epochs_run,
                               "epoch_s": res.epoch_time, "epoch_cpu_s": cpu_s / max(res.epochs_run, 1),
                               "peak_mem_mib": peak_memory_mib(device, res.peak_memory_mib)}
                    if kind.startswith("la") and method != "RandNbr-GCN":
                        metrics["cvae_fit_s"] = cvae_s
                    rec = Record(method, name, seed, metrics, split=split, fit_time=res.fit_time,
                                 config={"kind": kind, "overrides": overrides, "cvae": cvae_kw if smp is not None and smp is sampler else None},
                                 extra={"best_epoch": res.best_epoch,
                                        "cvae_selected_iteration": getattr(aug, "selected_iteration_", None)})
            except Exception as exc:
                rec = Record(method, name, seed, {}, split=split, status="error", error=repr(exc),
                             fit_time=time.perf_counter() - t0)
            records.append(rec)
            m = rec.metrics
            print(f"[lagnn] {name} {method} seed {seed}: test_acc={m.get('test_acc', float('nan')):.4f} "
                  f"({time.perf_counter() - t0:.0f}s){'' if rec.status == 'ok' else ' ' + str(rec.error)}", flush=True)
            save_progress(records, cfg, "lagnn", METRICS)
    return records


def report(records: list, out_path: str | Path) -> None:
    """Append a paper-vs-ours table (test accuracy %, mean ± std) to the markdown summary."""
    rows = [r.to_dict() if hasattr(r, "to_dict") else r for r in records]
    ok = [r for r in rows if r.get("status", "ok") == "ok" and "test_acc" in r["metrics"]]
    if not ok:
        return
    order = ["Cora", "CiteSeer", "PubMed"]
    lines = ["", "## Test accuracy (%) beside the paper", "",
             "| method | " + " | ".join(f"{d} ours | {d} paper" for d in order) + " |",
             "|---|" + "---|---|" * len(order)]
    for method in METHODS:
        cells, any_row = [], False
        for i, d in enumerate(order):
            acc = [100 * r["metrics"]["test_acc"] for r in ok if r["method"] == method and r["dataset"] == d]
            ours = f"{np.mean(acc):.1f} ± {np.std(acc, ddof=1) if len(acc) > 1 else 0:.1f} (n={len(acc)})" if acc else "—"
            any_row |= bool(acc)
            paper = PAPER.get(method)
            cells += [ours, f"{paper[i]:.1f}" if paper else "—"]
        if any_row:
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    skipped = [r for r in rows if r.get("status") in ("skipped", "error") and r["method"] == "all"]
    for r in skipped:
        lines.append(f"\n{r['dataset']}: {r['status']} — {str(r['error']).splitlines()[0]}")
    md = Path(out_path).with_suffix(".md")
    with open(md, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
