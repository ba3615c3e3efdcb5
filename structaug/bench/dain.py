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
import json
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..io import atomic_write_text
from ..results import Record, fmt_mean_std
from . import BenchConfig, _given, parse_names, partial_rows, positive_float, positive_int, positive_int_list

DEFAULT_DATASETS = ["ml-100k", "LDOS-CoMoDa", "covid19_serology", "synthetic_10K"]
QUICK_DATASETS = ["LDOS-CoMoDa", "lowrank"]
SUPPORTS_WORKERS = True  # --workers runs jobs in parallel processes
DEFAULT_SEEDS = [0, 1, 2]
METRICS = ["rmse", "mae"]
NEURAL_METHODS = ("neural", "neural+random", "dain")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help="max epochs per neural model (default 50; quick 5)")
    parser.add_argument("--patience", type=positive_int, default=None,
                        help="early-stopping patience (default 10; quick 2)")
    parser.add_argument("--aug-ratio", type=positive_float, default=0.5,
                        help="augmented cells as a share of training cells")
    parser.add_argument("--ranks", type=positive_int_list, default=[2, 5, 10], help="CP/Tucker ranks, comma-separated")
    parser.add_argument("--tensor-iters", type=positive_int, default=None,
                        help="ALS iterations for tensorly CP/Tucker (default 100; 15 on ml-100k's 47.6M-cell array)")
    parser.add_argument("--methods", default=None, help="comma-separated subset of methods (default all)")


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
        "hidden": (64, 64, 16) if quick else (1024, 1024, 128),
        "methods": parse_names(ex.get("methods"), None, "--methods"),
    }


def method_names(ranks: list[int]) -> list[str]:
    """Every method this benchmark can run with these CP/Tucker ranks."""
    return [*NEURAL_METHODS, "global_mean", "entity_mean", "xgboost_te",
            *(f"cp_r{r}" for r in ranks), *(f"tucker_r{r}" for r in ranks)]


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
    return {"rmse": rmse(test.values, pred), "mae": mae(test.values, pred),
            "val_rmse": rmse(val.values, model.predict(val)), "_predict_time": pt}


def _record(method: str, dataset: str, seed: int, metrics: dict[str, float], fit_time: float,
            config: dict, extra: dict | None = None) -> Record:
    pt = metrics.pop("_predict_time", None)
    return Record(method=method, dataset=dataset, seed=seed, metrics=metrics, split="random 72/18/10",
                  config=config, fit_time=fit_time, predict_time=pt, extra=extra or {})


def _neural_trio(tensor, tr, va, te, seed: int, st: dict, device: str) -> dict[str, Record]:
    from ..tensor import InfluenceAugmenter, NeuralTensorCompletion, RandomCellAugmenter, fit_augmented

    est = NeuralTensorCompletion(hidden_sizes=st["hidden"], max_epochs=st["epochs"], patience=st["patience"],
                                 device=device, random_state=seed)
    conf = {k: est.get_params()[k] for k in ("embedding_dim", "hidden_sizes", "lr", "batch_size", "max_epochs",
                                              "patience")}
    conf["aug_ratio"] = st["aug_ratio"]
    aug = InfluenceAugmenter(estimator=est, augment_ratio=st["aug_ratio"], random_state=seed)
    aug.fit(tr, validation=va, shape=tensor.shape)
    tm = aug.timings_
    base = aug.estimator_
    out = {"neural": _record("neural", "", seed, _metrics(base, te, va), tm["train_s"], conf,
                             {"epochs": tm["epochs"], "best_epoch": tm["best_epoch"]})}

    cells = aug.sample()
    sample_s = aug.last_sample_seconds_
    retrain_est = NeuralTensorCompletion(**{**est.get_params(), "random_state": seed + 10_000})
    t0 = time.perf_counter()
    dain = fit_augmented(retrain_est, tr, cells, va)
    retrain_s = time.perf_counter() - t0
    stages = {"train_s": tm["train_s"], "influence_s": tm["influence_s"], "sample_s": sample_s,
              "retrain_s": retrain_s, "n_aug": cells.nnz, "epochs": dain.result_.epochs_run,
              "best_epoch": dain.best_epoch_}
    out["dain"] = _record("dain", "", seed, _metrics(dain, te, va), sum(stages[k] for k in
                          ("train_s", "influence_s", "sample_s", "retrain_s")), conf, stages)

    rnd = RandomCellAugmenter(augment_ratio=st["aug_ratio"], random_state=seed).fit(tr, validation=va, prefit=base)
    rcells = rnd.sample()
    t0 = time.perf_counter()
    rmodel = fit_augmented(retrain_est, tr, rcells, va)
    r_s = time.perf_counter() - t0
    out["neural+random"] = _record("neural+random", "", seed, _metrics(rmodel, te, va),
                                   tm["train_s"] + rnd.last_sample_seconds_ + r_s, conf,
                                   {"train_s": tm["train_s"], "sample_s": rnd.last_sample_seconds_, "retrain_s": r_s,
                                    "n_aug": rcells.nnz, "epochs": rmodel.result_.epochs_run})
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
            makers[f"cp_r{r}"] = lambda r=r: TensorlyCompletion(method="cp", rank=r, n_iter_max=iters,
                                                                random_state=seed)
        makers[f"tucker_r{r}"] = lambda r=r: TensorlyCompletion(method="tucker", rank=r, n_iter_max=iters,
                                                                max_dense_cells=10_000_000, random_state=seed)
    return makers


def partial_file(out: Path) -> Path:
    """``<out>.partial.jsonl``: each finished row is appended here as it comes."""
    return Path(str(out) + ".partial.jsonl")


def _partial_path(cfg: BenchConfig) -> Path | None:
    return partial_file(cfg.out) if cfg.out is not None else None


class _Sink(list):
    """A list of records that also appends each one to ``<out>.partial.jsonl`` as it comes,
    so an interrupted run can be resumed (``--resume``) without losing finished cells."""

    def __init__(self, path: Path | None):
        super().__init__()
        self.path = path

    def append(self, rec: Record) -> None:
        super().append(rec)
        if self.path is not None and rec.status == "ok":
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec.to_dict()) + "\n")


def _run_task(name: str, seeds: list[int], cfg: BenchConfig, done: set) -> list[Record]:
    from ..tensor import load_tensor_dataset

    st = _settings(cfg)
    out = _Sink(_partial_path(cfg))
    log = lambda msg: print(f"[dain] {name}: {msg}", flush=True)  # noqa: E731
    try:
        tensor = load_tensor_dataset(name, cfg.data_dir)
    except Exception as exc:  # a missing or broken dataset is recorded, not fatal
        log(f"load failed: {exc}")
        return [Record(method="(load)", dataset=name, seed=s, metrics={}, status="error", error=str(exc))
                for s in seeds]
    log(f"{tensor} density {tensor.density:.2e}")
    for seed in seeds:
        tr, va, te = tensor.split(random_state=seed)
        wanted = lambda m: (st["methods"] is None or m in st["methods"]) and (m, name, seed) not in done  # noqa: E731
        if any(wanted(m) for m in NEURAL_METHODS):
            try:
                trio = _neural_trio(tensor, tr, va, te, seed, st, cfg.device)
                for m, rec in trio.items():
                    if wanted(m):
                        rec.dataset = name
                        out.append(rec)
                        log(f"seed {seed} {m}: rmse {rec.metrics['rmse']:.4f} ({rec.fit_time:.0f}s)")
            except Exception as exc:
                traceback.print_exc()
                for m in NEURAL_METHODS:
                    if wanted(m):
                        out.append(Record(method=m, dataset=name, seed=seed, metrics={}, status="error",
                                          error=str(exc)))
        makers = _baselines(name, tensor, seed, st)
        for method in st["methods"] or []:  # asked for by name but not run on this tensor: say so
            if method not in NEURAL_METHODS and method not in makers and wanted(method):
                out.append(Record(method=method, dataset=name, seed=seed, metrics={}, status="skipped",
                                  error=f"{method} is not run on tensors of over 10M cells (dense ALS)"))
        for method, make in makers.items():
            if not wanted(method):
                continue
            try:
                model = make()
                t0 = time.perf_counter()
                model.fit(tr, validation=va, shape=tensor.shape)
                fit_s = time.perf_counter() - t0
                rec = _record(method, name, seed, _metrics(model, te, va), fit_s, model.get_params())
                log(f"seed {seed} {method}: rmse {rec.metrics['rmse']:.4f} ({fit_s:.0f}s)")
            except Exception as exc:
                rec = Record(method=method, dataset=name, seed=seed, metrics={}, status="error", error=str(exc))
                log(f"seed {seed} {method}: {exc}")
            out.append(rec)
    return out


def run(cfg: BenchConfig) -> list[Record]:
    """Run every (dataset, seed, method) not already in ``cfg.extra["previous"]``."""
    parse_names(cfg.extra.get("methods"), method_names(_settings(cfg)["ranks"]), "--methods")
    previous = [Record(**r) for r in cfg.extra.get("previous", []) + partial_rows(_partial_path(cfg), cfg.resume, owned=cfg.out_owned)]
    uniq: dict[tuple, Record] = {}
    for r in previous:
        if r.status == "ok":
            uniq.setdefault((r.method, r.dataset, r.seed), r)
    previous = list(uniq.values())
    done = set(uniq)
    names = cfg.datasets or (QUICK_DATASETS if cfg.quick else DEFAULT_DATASETS)
    light = BenchConfig(**{**vars(cfg), "extra": {k: v for k, v in cfg.extra.items() if k != "previous"}})
    if cfg.workers > 1:
        # one task per (dataset, seed) so a large tensor's seeds spread over the workers
        tasks = [(n, [s]) for n in names for s in cfg.seeds]
        with ProcessPoolExecutor(max_workers=cfg.workers) as pool:
            futures = [pool.submit(_run_task, n, s, light, done) for n, s in tasks]
            parts = [f.result() for f in futures]
    else:
        parts = [_run_task(n, list(cfg.seeds), light, done) for n in names]
    return previous + [r for part in parts for r in part]


def report(records: list, out_path: Path) -> None:
    """Write ``<out>_stages.md``: DAIN's time per stage and its RMSE gaps to the controls."""
    rows = [r.to_dict() if isinstance(r, Record) else r for r in records]
    ok = [r for r in rows if r.get("status", "ok") == "ok"]
    datasets = list(dict.fromkeys(r["dataset"] for r in ok))
    lines = ["# DAIN: time per stage and RMSE gaps", "",
             "Seconds per stage (mean ± std over seeds) of DAIN's pipeline; gaps are per-seed test-RMSE differences "
             "(negative = DAIN better).", "",
             "| dataset | train_s | influence_s | sample_s | retrain_s | n_aug | DAIN − neural | DAIN − random |",
             "|---|---|---|---|---|---|---|---|"]
    for ds in datasets:
        by = {(r["method"], r["seed"]): r for r in ok if r["dataset"] == ds}
        dain = [r for (m, _), r in by.items() if m == "dain"]
        if not dain:
            continue
        cells = [fmt_mean_std([r["extra"].get(k) for r in dain], 2) for k in ("train_s", "influence_s", "sample_s",
                                                                              "retrain_s")]
        n_aug = f"{np.mean([r['extra'].get('n_aug', 0) for r in dain]):.0f}"
        gaps = []
        for ctrl in ("neural", "neural+random"):
            g = [r["metrics"]["rmse"] - by[(ctrl, r["seed"])]["metrics"]["rmse"] for r in dain if (ctrl, r["seed"]) in by]
            gaps.append(fmt_mean_std(g, 4))
        lines.append(f"| {ds} | " + " | ".join(cells) + f" | {n_aug} | " + " | ".join(gaps) + " |")
    atomic_write_text("\n".join(lines) + "\n", Path(out_path).with_name(Path(out_path).stem + "_stages.md"))
