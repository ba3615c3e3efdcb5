"""DAIN: influence-guided augmentation for neural tensor completion vs. its controls and CP/Tucker/XGBoost.

For every tensor and seed (72/18/10 split, the reference's ratios) it runs: the neural
model without augmentation (DAIN's first stage), the neural model retrained on real +
random cells (control; same count, same value model), DAIN (real + influence-sampled
cells), tensorly's masked CP and Tucker at a few ranks, XGBoost on target-encoded
indices, and global / entity-bias means. Metrics are test RMSE (a real square root) and
MAE; DAIN's records carry the time of each stage.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write_text
from ..results import Record, fmt_mean_std
from . import (
    BenchConfig,
    Job,
    SkipJob,
    _given,
    nonneg_float,
    nonneg_int,
    parse_names,
    positive_float,
    positive_int,
    positive_int_list,
)
from ._runner import run_benchmark

DEFAULT_DATASETS = ["ml-100k", "LDOS-CoMoDa", "covid19_serology", "synthetic_10K"]
QUICK_DATASETS = ["LDOS-CoMoDa", "lowrank"]
DEFAULT_SEEDS = [0, 1, 2]
METRICS = ["rmse", "mae"]
NEURAL_METHODS = ("neural", "neural+random", "dain")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--epochs", type=positive_int, default=None, help="max epochs per neural model (default 50; quick 5)"
    )
    parser.add_argument(
        "--patience", type=positive_int, default=None, help="early-stopping patience (default 10; quick 2)"
    )
    parser.add_argument(
        "--aug-ratio", type=positive_float, default=0.5, help="augmented cells as a share of training cells"
    )
    parser.add_argument("--ranks", type=positive_int_list, default=[2, 5, 10], help="CP/Tucker ranks, comma-separated")
    parser.add_argument(
        "--tensor-iters",
        type=positive_int,
        default=None,
        help="ALS iterations for tensorly CP/Tucker (default 100; 15 on ml-100k's 47.6M-cell array)",
    )
    parser.add_argument("--methods", default=None, help="comma-separated subset of methods (default all)")
    parser.add_argument(
        "--entity-biases",
        action="store_true",
        default=None,
        help="neural models get a global offset + per-entity biases, started from entity_mean's (not in the reference)",
    )
    parser.add_argument(
        "--hidden-sizes",
        type=hidden_sizes,
        default=None,
        help="MLP widths of the neural models, comma-separated, or 'none' for a linear head on the embeddings "
        "(default 1024,1024,128, the reference's; quick 64,64,16)",
    )
    parser.add_argument(
        "--factor-rank",
        type=nonneg_int,
        default=None,
        help="width of the neural models' pairwise factorization term (default 0: none, the reference network)",
    )
    parser.add_argument(
        "--factor-reg", type=nonneg_float, default=None, help="L2 penalty on the factors a batch uses (default 0.1)"
    )
    parser.add_argument(
        "--weight-decay", type=nonneg_float, default=None, help="Adam L2 penalty of the neural models (default 0)"
    )
    parser.add_argument(
        "--lr-schedule",
        choices=["plateau"],
        default=None,
        help="'plateau': halve the learning rate after an epoch without validation improvement (default: constant)",
    )


def hidden_sizes(text: str) -> tuple[int, ...]:
    """An argparse type: ``"1024,1024,128"`` -> ``(1024, 1024, 128)``; ``"none"`` -> ``()`` (a linear head)."""
    if str(text).strip().lower() == "none":
        return ()
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated widths >= 1 or 'none', got {text!r}")
    return tuple(positive_int(p) for p in parts)


def _settings(cfg: BenchConfig) -> dict[str, Any]:
    ex = cfg.extra
    quick = cfg.quick
    ranks = _given(ex.get("ranks"), [2, 5, 10])
    return {
        "epochs": _given(ex.get("epochs"), 5 if quick else 50),
        "patience": _given(ex.get("patience"), 2 if quick else 10),
        "aug_ratio": float(_given(ex.get("aug_ratio"), 0.5)),
        "ranks": positive_int_list(ranks) if isinstance(ranks, str) else [int(r) for r in ranks],
        "tensor_iters": ex.get("tensor_iters"),
        "hidden": tuple(_given(ex.get("hidden_sizes"), (64, 64, 16) if quick else (1024, 1024, 128))),
        "methods": parse_names(ex.get("methods"), None, "--methods"),
        "entity_biases": bool(ex.get("entity_biases") or False),
        "weight_decay": float(_given(ex.get("weight_decay"), 0.0)),
        "lr_schedule": ex.get("lr_schedule"),
        "factor_rank": int(_given(ex.get("factor_rank"), 0)),
        "factor_reg": float(_given(ex.get("factor_reg"), 0.1)),
    }


def method_names(ranks: list[int]) -> list[str]:
    """Every method this benchmark can run with these CP/Tucker ranks."""
    return [
        *NEURAL_METHODS,
        "global_mean",
        "entity_mean",
        "xgboost_te",
        *(f"cp_r{r}" for r in ranks),
        *(f"tucker_r{r}" for r in ranks),
    ]


def validate(cfg: BenchConfig) -> None:
    """``--methods`` and ``--datasets`` name known entries (checked before any job starts).

    Raises
    ------
    InvalidParameterError
        Naming the flag and listing the valid names.
    """
    from ..tensor import TENSOR_DATASETS

    st = _settings(cfg)
    parse_names(cfg.extra.get("methods"), method_names(st["ranks"]), "--methods")
    parse_names(cfg.datasets, TENSOR_DATASETS, "--datasets")


def _metrics(model, test, val) -> dict[str, float]:
    from ..metrics import mae, rmse

    t0 = time.perf_counter()
    pred = model.predict(test)
    pt = time.perf_counter() - t0
    return {
        "rmse": rmse(test.values, pred),
        "mae": mae(test.values, pred),
        "val_rmse": rmse(val.values, model.predict(val)),
        "_predict_time": pt,
    }


def _record(
    method: str,
    dataset: str,
    seed: int,
    metrics: dict[str, float],
    fit_time: float,
    config: dict,
    extra: dict | None = None,
) -> Record:
    pt = metrics.pop("_predict_time", None)
    return Record(
        method=method,
        dataset=dataset,
        seed=seed,
        metrics=metrics,
        split="random 72/18/10",
        config=config,
        fit_time=fit_time,
        predict_time=pt,
        extra=extra or {},
    )


def _neural_trio(tensor, tr, va, te, seed: int, st: dict, device: str) -> dict[str, Record]:
    from ..tensor import InfluenceAugmenter, NeuralTensorCompletion, RandomCellAugmenter, fit_augmented

    est = NeuralTensorCompletion(
        hidden_sizes=st["hidden"],
        max_epochs=st["epochs"],
        patience=st["patience"],
        # .get: settings recorded before these options existed (a --resume of an older run) lack them
        entity_biases=st.get("entity_biases", False),
        weight_decay=st.get("weight_decay", 0.0),
        lr_schedule=st.get("lr_schedule"),
        factor_rank=st.get("factor_rank", 0),
        factor_reg=st.get("factor_reg", 0.1),
        device=device,
        random_state=seed,
    )
    params = est.get_params()
    conf = {
        k: params[k]
        for k in ("embedding_dim", "hidden_sizes", "lr", "batch_size", "max_epochs", "patience")
        + ("entity_biases", "weight_decay", "lr_schedule", "factor_rank", "factor_reg")
    }
    conf["aug_ratio"] = st["aug_ratio"]
    aug = InfluenceAugmenter(estimator=est, augment_ratio=st["aug_ratio"], random_state=seed)
    conf["tracin"] = aug.tracin  # how influence pairs the gradients (the default changed on 2026-12-05)
    aug.fit(tr, validation=va, shape=tensor.shape)
    tm: dict[str, Any] = aug.timings_
    base = aug.estimator_
    out = {
        "neural": _record(
            "neural",
            "",
            seed,
            _metrics(base, te, va),
            tm["train_s"],
            conf,
            {"epochs": tm["epochs"], "best_epoch": tm["best_epoch"]},
        )
    }

    cells = aug.sample()
    sample_s = aug.last_sample_seconds_
    retrain_est = NeuralTensorCompletion(**{**est.get_params(), "random_state": seed + 10_000})
    t0 = time.perf_counter()
    dain = fit_augmented(retrain_est, tr, cells, va)
    retrain_s = time.perf_counter() - t0
    stages: dict[str, Any] = {
        "train_s": tm["train_s"],
        "influence_s": tm["influence_s"],
        "sample_s": sample_s,
        "retrain_s": retrain_s,
        "n_aug": cells.nnz,
        "epochs": dain.train_result_.epochs_run,
        "best_epoch": dain.best_epoch_,
    }
    out["dain"] = _record(
        "dain",
        "",
        seed,
        _metrics(dain, te, va),
        sum(stages[k] for k in ("train_s", "influence_s", "sample_s", "retrain_s")),
        conf,
        stages,
    )

    rnd = RandomCellAugmenter(augment_ratio=st["aug_ratio"], random_state=seed).fit(tr, validation=va, prefit=base)
    rcells = rnd.sample()
    t0 = time.perf_counter()
    rmodel = fit_augmented(retrain_est, tr, rcells, va)
    r_s = time.perf_counter() - t0
    out["neural+random"] = _record(
        "neural+random",
        "",
        seed,
        _metrics(rmodel, te, va),
        tm["train_s"] + rnd.last_sample_seconds_ + r_s,
        conf,
        {
            "train_s": tm["train_s"],
            "sample_s": rnd.last_sample_seconds_,
            "retrain_s": r_s,
            "n_aug": rcells.nnz,
            "epochs": rmodel.train_result_.epochs_run,
        },
    )
    return out


def _baselines(dataset: str, tensor, seed: int, st: dict) -> dict[str, Callable[[], Any]]:
    from ..tensor import MeanCompletion, TensorlyCompletion, XGBoostCompletion

    # tensorly works on the dense array: on ml-100k (47.6M cells) one CP sweep takes seconds and
    # Tucker's HOOI SVDs minutes, so large arrays get fewer sweeps, CP ranks <= 5 and no Tucker.
    big = float(np.prod(np.asarray(tensor.shape, dtype=float))) > 10_000_000
    iters = _given(st["tensor_iters"], 15 if big else 100)
    makers: dict[str, Callable[[], Any]] = {
        "global_mean": lambda: MeanCompletion(kind="global"),
        "entity_mean": lambda: MeanCompletion(kind="entity"),
        "xgboost_te": lambda: XGBoostCompletion(random_state=seed),
    }
    for r in st["ranks"]:
        if not (big and r > 5):
            makers[f"cp_r{r}"] = functools.partial(
                TensorlyCompletion, method="cp", rank=r, n_iter_max=iters, random_state=seed
            )
        makers[f"tucker_r{r}"] = functools.partial(
            TensorlyCompletion, method="tucker", rank=r, n_iter_max=iters, max_dense_cells=10_000_000, random_state=seed
        )
    return makers


def _baseline_order(ranks: list[int]) -> list[str]:
    """The non-neural methods in the order they run (and are reported): as :func:`_baselines`."""
    return ["global_mean", "entity_mean", "xgboost_te", *(f"{k}_r{r}" for r in ranks for k in ("cp", "tucker"))]


def jobs(cfg: BenchConfig) -> list[Job]:
    """Per tensor and seed: one job for the neural trio (DAIN's first stage is the
    un-augmented model and its retraining set is shared by the random control), then one
    job per baseline."""
    st = _settings(cfg)
    wanted = st["methods"]
    names = cfg.datasets or (QUICK_DATASETS if cfg.quick else DEFAULT_DATASETS)
    out: list[Job] = []
    for name in names:
        for seed in cfg.seeds:
            # the order _neural_trio produces them in (and today's reports show)
            trio = tuple(m for m in ("neural", "dain", "neural+random") if wanted is None or m in wanted)
            if trio:
                out.append(Job(name, seed, trio, st))
            out += [Job(name, seed, (m,), st) for m in _baseline_order(st["ranks"]) if wanted is None or m in wanted]
    return out


@functools.lru_cache(maxsize=2)
def _tensor(name: str, data_dir: str | None):
    """The tensor, loaded once per process (its jobs share it)."""
    from ..tensor import load_tensor_dataset

    return load_tensor_dataset(name, data_dir)


def run_job(job: Job, cfg: BenchConfig) -> list[Record]:
    """The neural trio's three records, or one baseline's record."""
    st = job.config
    tensor = _tensor(job.dataset, cfg.data_dir)
    tr, va, te = tensor.split(random_state=job.seed)
    if job.methods[0] in NEURAL_METHODS:
        trio = _neural_trio(tensor, tr, va, te, job.seed, st, cfg.device)
        recs = [trio[m] for m in job.methods]
        for rec in recs:
            rec.dataset = job.dataset
        return recs
    (method,) = job.methods
    makers = _baselines(job.dataset, tensor, job.seed, st)
    if method not in makers:
        raise SkipJob(f"{method} is not run on tensors of over 10M cells (dense ALS)")
    model = makers[method]()
    t0 = time.perf_counter()
    model.fit(tr, validation=va, shape=tensor.shape)
    fit_s = time.perf_counter() - t0
    return [_record(method, job.dataset, job.seed, _metrics(model, te, va), fit_s, model.get_params())]


def run(cfg: BenchConfig) -> list[Record]:
    """Run this benchmark as ``structaug bench dain`` does (see :func:`structaug.bench.run_benchmark`)."""
    return run_benchmark(sys.modules[__name__], cfg)


def report(records: list, out_path: Path) -> None:
    """Write ``<out>_stages.md``: DAIN's time per stage and its RMSE gaps to the controls."""
    rows = [r.to_dict() if isinstance(r, Record) else r for r in records]
    ok = [r for r in rows if r.get("status", "ok") == "ok"]
    datasets = list(dict.fromkeys(r["dataset"] for r in ok))
    lines = [
        "# DAIN: time per stage and RMSE gaps",
        "",
        "Seconds per stage (mean ± std over seeds) of DAIN's pipeline; gaps are per-seed test-RMSE differences "
        "(negative = DAIN better).",
        "",
        "| dataset | train_s | influence_s | sample_s | retrain_s | n_aug | DAIN − neural | DAIN − random |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ds in datasets:
        by = {(r["method"], r["seed"]): r for r in ok if r["dataset"] == ds}
        dain = [r for (m, _), r in by.items() if m == "dain"]
        if not dain:
            continue
        cells = [
            fmt_mean_std([r["extra"].get(k) for r in dain], 2)
            for k in ("train_s", "influence_s", "sample_s", "retrain_s")
        ]
        n_aug = f"{np.mean([r['extra'].get('n_aug', 0) for r in dain]):.0f}"
        gaps = []
        for ctrl in ("neural", "neural+random"):
            g = [
                r["metrics"]["rmse"] - by[(ctrl, r["seed"])]["metrics"]["rmse"] for r in dain if (ctrl, r["seed"]) in by
            ]
            gaps.append(fmt_mean_std(g, 4))
        lines.append(f"| {ds} | " + " | ".join(cells) + f" | {n_aug} | " + " | ".join(gaps) + " |")
    atomic_write_text("\n".join(lines) + "\n", Path(out_path).with_name(Path(out_path).stem + "_stages.md"))
