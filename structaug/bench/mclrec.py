"""MCLRec vs CL4SRec vs SASRec vs popularity: full-ranking next-item recommendation.

Protocol (CoSeRec/ICLRec/MCLRec, RecBole sequential full sort): leave-one-out by time (last
item = test, second last = validation, earlier items = training prefixes), every item ranked,
history items *not* removed from the ranking, HR and NDCG at 5/10/20 on the test item of
every user, model selected on validation NDCG@10.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ..exceptions import InvalidParameterError
from ..io import atomic_write_text
from ..results import Record, fmt_mean_std
from . import BenchConfig, Job, _given, check_writable, parse_names, positive_float, positive_int
from ._runner import run_benchmark

DEFAULT_DATASETS = ["Beauty", "Sports_and_Outdoors", "Toys_and_Games", "Yelp"]
QUICK_DATASETS = ["Beauty"]
DEFAULT_SEEDS = [0]
METHODS = ["Popularity", "SASRec", "CL4SRec", "MCLRec"]
METRICS = [
    "hr@5",
    "hr@10",
    "hr@20",
    "ndcg@5",
    "ndcg@10",
    "ndcg@20",
    "epochs",
    "s_per_epoch",
    "cpu_s_per_epoch",
    "peak_mem_mb",
]

#: MCLRec's (lambda, beta) per dataset from the paper / reference README; Toys is not in the
#: paper, so it uses Beauty's (the other Amazon set of similar size).
MCLREC_HPARAMS = {
    "Beauty": (0.0, 0.05),
    "Sports_and_Outdoors": (0.04, 0.4),
    "Yelp": (0.03, 0.1),
    "Toys_and_Games": (0.0, 0.05),
}

#: Paper Table 3 (full ranking) / reference README: {dataset: {method: {metric: value}}}.
PAPER = {
    "Beauty": {
        "SASRec": {
            "hr@5": 0.0377,
            "hr@10": 0.0624,
            "hr@20": 0.0894,
            "ndcg@5": 0.0241,
            "ndcg@10": 0.0342,
            "ndcg@20": 0.0386,
        },
        "CL4SRec": {
            "hr@5": 0.0401,
            "hr@10": 0.0642,
            "hr@20": 0.0974,
            "ndcg@5": 0.0268,
            "ndcg@10": 0.0345,
            "ndcg@20": 0.0428,
        },
        "MCLRec": {
            "hr@5": 0.0581,
            "hr@10": 0.0871,
            "hr@20": 0.1243,
            "ndcg@5": 0.0352,
            "ndcg@10": 0.0446,
            "ndcg@20": 0.0539,
        },
    },
    "Sports_and_Outdoors": {
        "SASRec": {
            "hr@5": 0.0214,
            "hr@10": 0.0333,
            "hr@20": 0.0500,
            "ndcg@5": 0.0144,
            "ndcg@10": 0.0177,
            "ndcg@20": 0.0224,
        },
        "CL4SRec": {"hr@5": 0.0231, "hr@20": 0.0557, "ndcg@5": 0.0146, "ndcg@20": 0.0238},
        "MCLRec": {
            "hr@5": 0.0328,
            "hr@10": 0.0501,
            "hr@20": 0.0734,
            "ndcg@5": 0.0204,
            "ndcg@10": 0.0260,
            "ndcg@20": 0.0319,
        },
    },
    "Yelp": {
        "SASRec": {"hr@5": 0.0160, "hr@10": 0.0260, "hr@20": 0.0443, "ndcg@5": 0.0101, "ndcg@20": 0.0179},
        "CL4SRec": {"hr@5": 0.0227, "hr@20": 0.0623, "ndcg@5": 0.0143, "ndcg@20": 0.0254},
        "MCLRec": {
            "hr@5": 0.0454,
            "hr@10": 0.0647,
            "hr@20": 0.0941,
            "ndcg@5": 0.0332,
            "ndcg@10": 0.0394,
            "ndcg@20": 0.0467,
        },
    },
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {METHODS}")
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="maximum training epochs per model, the same for all (default 300; --quick caps it at 1)",
    )
    p.add_argument(
        "--patience",
        type=positive_int,
        default=None,
        help="early-stopping patience on validation NDCG@10 (default: none, run --epochs)",
    )
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--lr", type=positive_float, default=1e-3)
    p.add_argument(
        "--no-bucket",
        action="store_true",
        help="plain shuffled batches instead of length-bucketed ones (slower on CPU)",
    )
    p.add_argument(
        "--precision",
        choices=["fp32", "bf16"],
        default="fp32",
        help="bf16: bfloat16 autocast in training forward passes "
        "(MCLRec epochs 1.2-1.4x faster on CPUs with AVX512-BF16)",
    )
    p.add_argument(
        "--meta-forward",
        choices=["separate", "shared"],
        default="separate",
        help="MCLRec's stage 2: its own encoder pass (separate, the reference's) or stage 3's "
        "encodings (shared: one encoder pass fewer per step; see docs/mclrec.md)",
    )
    p.add_argument(
        "--checkpoint-dir",
        default=None,
        help="checkpoint every epoch of every job here and resume from it; rerunning with a smaller "
        "--epochs finishes the jobs at the epoch they reached (best-validation weights)",
    )
    p.add_argument(
        "--max-users",
        type=positive_int,
        default=None,
        help="keep only the first N users (smoke runs; --quick: 2000 unless given)",
    )
    p.add_argument(
        "--max-minutes",
        type=positive_float,
        default=None,
        help="wall-clock budget per model fit: stop after the epoch that crosses it and test the "
        "best-validation weights (recorded as stopped_by_time; with --checkpoint-dir a rerun "
        "with a larger budget continues: the budget counts the time already spent)",
    )


def _settings(cfg) -> dict:
    ex = cfg.extra
    s = {
        "epochs": int(_given(ex.get("epochs"), 300)),
        "patience": ex.get("patience"),
        "batch_size": int(_given(ex.get("batch_size"), 256)),
        "lr": float(_given(ex.get("lr"), 1e-3)),
        "bucket": not ex.get("no_bucket", False),
        "max_users": ex.get("max_users"),
        "max_len": 50,
        "precision": _given(ex.get("precision"), "fp32"),
        "meta_forward": _given(ex.get("meta_forward"), "separate"),
        "checkpoint_dir": ex.get("checkpoint_dir"),
        "max_minutes": ex.get("max_minutes"),
    }
    if cfg.quick:  # documented: --quick is a smoke run of at most one epoch
        s["epochs"] = min(s["epochs"], 1)
        s["max_users"] = _given(s["max_users"], 2000)
    return s


def validate(cfg) -> None:
    """``--methods`` and ``--datasets`` name known entries (checked before any job starts).

    A dataset is known when it is one of :data:`structaug.datasets.SEQREC_NAMES` (any case)
    or a ``seqrec/<name>.txt`` file in one of the data folders. ``--checkpoint-dir`` must be
    writable; ``--epochs`` above 1 cannot go with ``--quick`` (whose one-epoch cap would
    otherwise override it).

    Raises
    ------
    InvalidParameterError
        Naming the flag (and listing the valid names).
    """
    from ..datasets import SEQREC_NAMES, candidate_dirs

    _methods(cfg)
    epochs = cfg.extra.get("epochs")
    if cfg.quick and epochs is not None and epochs > 1:  # rejected, not silently capped
        raise InvalidParameterError(
            f"--epochs {epochs} with --quick: a --quick run trains one epoch; drop --quick to train more"
        )
    if cfg.extra.get("checkpoint_dir") is not None:
        check_writable(Path(cfg.extra["checkpoint_dir"]), "--checkpoint-dir", folder=True)
    found = {p.stem for root in candidate_dirs(cfg.data_dir) for p in (root / "seqrec").glob("*.txt")}
    names = sorted(set(SEQREC_NAMES.values()) | found)
    parse_names(cfg.datasets, names, "--datasets", normalize=lambda d: SEQREC_NAMES.get(d.lower(), d))


def _methods(cfg) -> list[str]:
    return parse_names(_given(cfg.extra.get("methods"), ",".join(METHODS)), METHODS, "--methods")


def run_job(job: Job, cfg: BenchConfig) -> list[Record]:
    """One (method, dataset, seed) cell."""
    (method,), dataset, seed, settings = job.methods, job.dataset, job.seed, job.config
    data_dir, device, progress = cfg.data_dir, cfg.device, cfg.verbose
    from ..datasets import load_seqrec
    from ..recsys.mclrec import (
        CL4SRec,
        MCLRec,
        Popularity,
        SASRec,
        SequenceViews,
        build_sequences,
        evaluate_ranking,
        fit_sequential,
        leave_one_out,
        pad_sequences,
        prefix_examples,
        prepare_interactions,
    )
    from ..results import peak_memory_mib, reset_peak_memory
    from ..train import resolve_device

    # meta_forward only concerns MCLRec: recorded in its rows alone
    config = {k: v for k, v in settings.items() if k not in ("checkpoint_dir", "meta_forward")}
    meta_forward = settings.get("meta_forward", "separate")
    dev = resolve_device(device)
    reset_peak_memory(dev)  # this job's own peak, not that of earlier jobs in the worker
    df = load_seqrec(dataset, data_dir)
    canon = df.attrs.get("name", dataset)
    if settings.get("max_users"):
        keep = df["user"].drop_duplicates().iloc[: int(settings["max_users"])]
        df = df[df["user"].isin(keep)]
    log = build_sequences(prepare_interactions(df))
    train, valid, test = leave_one_out(log.sequences)
    L = settings["max_len"]
    vh, vt = pad_sequences(valid[0], L), valid[1]
    th, tt = pad_sequences(test[0], L), test[1]
    config.update({"n_users": len(log.sequences), "n_items": log.n_items})
    extra: dict = {}
    t0 = time.perf_counter()
    model: Any
    if method == "Popularity":
        model = Popularity(log.n_items).fit_counts(train).to(dev)
        fit_time = time.perf_counter() - t0
        extra.update({"epochs": 0})
        val = evaluate_ranking(model, vh.to(dev), vt.to(dev))
    else:
        X, y = prefix_examples(train, L)
        torch.manual_seed(seed)  # weight init (the Trainer re-seeds for dropout)
        if method == "SASRec":
            model = SASRec(log.n_items, max_len=L)
        elif method == "CL4SRec":
            model = CL4SRec(log.n_items, max_len=L, lmd=0.1)
        elif method == "MCLRec":
            lmd, beta = MCLREC_HPARAMS.get(canon, (0.0, 0.05))
            model = MCLRec(log.n_items, max_len=L, lmd=lmd, beta=beta, meta_forward=meta_forward)
            config.update({"lmd": lmd, "beta": beta, "meta_forward": meta_forward})
        else:
            raise ValueError(f"unknown method {method!r}")
        model = model.to(dev)
        gen = torch.Generator(device=dev).manual_seed(seed)
        ckpt = None
        if settings.get("checkpoint_dir"):
            ckpt = Path(settings["checkpoint_dir"]) / (
                f"{canon}_{method}_seed{seed}_{settings.get('precision', 'fp32')}_bs{settings['batch_size']}"
                f"_lr{settings['lr']}_users{settings.get('max_users') or 'all'}"
                + ("_shared" if method == "MCLRec" and meta_forward == "shared" else "")
                + ".pt"
            )
        res = fit_sequential(
            model,
            X,
            y,
            valid=(vh, vt),
            max_epochs=settings["epochs"],
            patience=settings["patience"],
            lr=settings["lr"],
            batch_size=settings["batch_size"],
            device=dev,
            seed=seed,
            gen=gen,
            views=SequenceViews(crop_ratio=0.5, mask_ratio=0.5, reorder_ratio=0.8),
            bucket=settings["bucket"],
            verbose=progress,
            precision=settings.get("precision", "fp32"),
            checkpoint_path=ckpt,
            max_time=None if settings.get("max_minutes") is None else 60.0 * float(settings["max_minutes"]),
        )
        fit_time = res.fit_time
        train_times = [h["epoch_time"] - h.get("val_time", 0.0) for h in res.history]
        extra.update(
            {
                "epochs": res.epochs_run,
                "best_epoch": res.best_epoch,
                "stopped_by_time": res.stopped_by_time,
                "s_per_epoch": sum(train_times) / max(len(train_times), 1),
                "cpu_s_per_epoch": sum(h.get("cpu_time", 0.0) for h in res.history) / max(len(res.history), 1),
                "val_time_per_epoch": sum(h.get("val_time", 0.0) for h in res.history) / max(len(res.history), 1),
                "history": [{k: round(v, 5) for k, v in h.items()} for h in res.history],
                "n_train_examples": int(len(X)),
            }
        )
        best = res.history[res.best_epoch] if res.best_epoch is not None else {}
        val = {k[4:]: v for k, v in best.items() if k.startswith("val_") and "@" in k}
    t1 = time.perf_counter()
    test_m = evaluate_ranking(model, th.to(dev), tt.to(dev))
    predict_time = time.perf_counter() - t1
    metrics = dict(test_m)
    metrics["epochs"] = float(extra.get("epochs", 0))
    if "s_per_epoch" in extra:
        metrics["s_per_epoch"] = float(extra["s_per_epoch"])
        metrics["cpu_s_per_epoch"] = float(extra["cpu_s_per_epoch"])
    mem = peak_memory_mib(dev)
    if mem is not None:
        metrics["peak_mem_mb"] = float(mem)
    extra["valid"] = val
    extra["paper"] = PAPER.get(canon, {}).get(method)
    return [
        Record(
            method,
            canon,
            seed,
            metrics,
            split="leave-one-out (last=test, 2nd last=valid)",
            config=config,
            fit_time=fit_time,
            predict_time=predict_time,
            extra=extra,
        )
    ]


def jobs(cfg: BenchConfig) -> list[Job]:
    """One job per (dataset, seed, method), datasets by their canonical names."""
    from ..datasets import SEQREC_NAMES

    settings = _settings(cfg)
    datasets = cfg.datasets or (QUICK_DATASETS if cfg.quick else DEFAULT_DATASETS)
    return [
        Job(SEQREC_NAMES.get(d.lower(), d), s, (m,), settings)
        for d in datasets
        for s in cfg.seeds
        for m in _methods(cfg)
    ]


def run(cfg: BenchConfig) -> list[Record]:
    """Run this benchmark as ``structaug bench mclrec`` does (see :func:`structaug.bench.run_benchmark`)."""
    return run_benchmark(sys.modules[__name__], cfg)


def paper_table(records) -> str:
    """Markdown: our HR/NDCG@10 and @20 beside the paper's, per dataset and method (mean ± std
    over seeds when a run has several; the epochs column is then the mean)."""
    rows = [
        "| dataset | method | seeds | epochs | HR@10 ours | HR@10 paper | NDCG@10 ours | NDCG@10 paper | HR@20 ours | HR@20 paper | NDCG@20 ours | NDCG@20 paper |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in (r.to_dict() if isinstance(r, Record) else r for r in records):
        if r.get("status", "ok") == "ok":
            groups.setdefault((r["dataset"], r["method"]), []).append(r["metrics"])
    f = lambda v: "—" if v is None else f"{v:.4f}"
    for (dataset, method), ms in groups.items():
        p = PAPER.get(dataset, {}).get(method, {})

        def ours(key: str, ms=ms) -> str:
            vals = [m[key] for m in ms if m.get(key) is not None]
            return fmt_mean_std(vals) if len(vals) > 1 else f(vals[0] if vals else None)

        epochs = f"{sum(m.get('epochs', 0) for m in ms) / len(ms):.1f}".removesuffix(".0")
        rows.append(
            f"| {dataset} | {method} | {len(ms)} | {epochs} | {ours('hr@10')} | {f(p.get('hr@10'))} | "
            f"{ours('ndcg@10')} | {f(p.get('ndcg@10'))} | {ours('hr@20')} | {f(p.get('hr@20'))} | "
            f"{ours('ndcg@20')} | {f(p.get('ndcg@20'))} |"
        )
    return "\n".join(rows)


def report(records, out_path) -> None:
    """Append the paper comparison to the markdown summary the CLI wrote."""
    md = Path(out_path).with_suffix(".md")
    text = md.read_text(encoding="utf-8") if md.exists() else ""
    text += "\n## Beside the paper (Table 3, full ranking)\n\n" + paper_table(records) + "\n"
    atomic_write_text(text, md)
