"""Tabular suite: HyperTab and T-JEPA against XGBoost, RandomForest, LightGBM, MLP and a linear model.

Data: the PMLB tables listed in ``<data-dir>/tabular/pmlb/index.csv`` plus scikit-learn's
shipped tables (``sk_breast_cancer``, ``sk_wine``, ``sk_iris``, ``sk_digits``,
``sk_diabetes``). Tracks: *small* (< 1,000 rows, HyperTab's regime) and *medium*
(1,000–50,000 rows, T-JEPA's).

Protocol: for every seed ``s`` the same ``StratifiedKFold(k, shuffle=True, random_state=s)``
(``KFold`` for regression) folds are given to every method; all preprocessing happens
inside each model's ``fit`` on the training fold (:class:`TableEncoder`); no tuning on test
folds (fixed, documented hyperparameters). One :class:`Record` per (method, dataset, seed)
holds the metrics averaged over the ``k`` folds (per-fold values in ``extra``), so the
reported ± is the standard deviation over the repeated k-fold seeds. T-JEPA+MLP and
T-JEPA+XGBoost share one T-JEPA pre-training per (seed, fold) (``TJEPAClassifier(pretrained=True)``);
both records include its cost. Fit time is recorded as wall and CPU (``time.process_time``)
seconds.

Jobs: one per (dataset, seed, method), T-JEPA's two heads in one job (they share its
pre-training); the runner (:mod:`structaug.bench._runner`) runs them, ``--workers`` at a time,
and keeps finished rows for ``--resume``. A method that raises is recorded with
``status="error"`` and the rest complete.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._optional import import_optional
from ..results import Record, fmt_mean_std, markdown_header, markdown_table
from . import BenchConfig, Job, _given, int_at_least, parse_names, positive_float, positive_int
from ._runner import run_benchmark

__all__ = [
    "DEFAULT_DATASETS",
    "METHODS",
    "METRICS",
    "add_arguments",
    "jobs",
    "load_table",
    "report",
    "run",
    "run_job",
]

SMALL_PMLB = [
    "sonar",
    "ionosphere",
    "clean1",
    "movement_libras",
    "analcatdata_authorship",
    "molecular_biology_promoters",
    "breast_cancer_wisconsin",
    "heart_statlog",
    "pima",
    "glass",
    "wine_recognition",
    "dermatology",
    "soybean",
    "ecoli",
    "bupa",
    "tokyo1",
    "spect",
    "australian",
    "vowel",
    "tic_tac_toe",
]
SKLEARN_TABLES = {
    "sk_breast_cancer": "load_breast_cancer",
    "sk_wine": "load_wine",
    "sk_iris": "load_iris",
    "sk_digits": "load_digits",
    "sk_diabetes": "load_diabetes",
}
MEDIUM_PMLB = ["spambase", "phoneme", "mushroom", "magic", "adult", "197_cpu_act", "529_pollen", "215_2dplanes"]
DEFAULT_DATASETS = (
    SMALL_PMLB + ["505_tecator", "sk_breast_cancer", "sk_wine", "sk_iris", "sk_diabetes"] + MEDIUM_PMLB + ["sk_digits"]
)
QUICK_DATASETS = ["sonar", "wine_recognition", "sk_iris"]
DEFAULT_SEEDS = [0, 1, 2]
QUICK_SEEDS = [0]
METRICS = ["accuracy", "balanced_accuracy", "rmse", "r2"]
METHODS = [
    "HyperTab",
    "T-JEPA+MLP",
    "T-JEPA+XGBoost",
    "XGBoost",
    "RandomForest",
    "LightGBM",
    "MLP",
    "LogisticRegression",
    "hypertab (reference)",
]
NEURAL = ["HyperTab", "T-JEPA+MLP", "T-JEPA+XGBoost", "MLP", "hypertab (reference)"]
SMALL_MAX_ROWS = 1000
TIE_TOL = 0.005  # |Δ balanced accuracy| (or relative Δ RMSE) below this counts as a tie


# ----------------------------------------------------------------------------------------
# data
def load_table(name: str, data_dir: str | None = None) -> tuple[pd.DataFrame, pd.Series, str]:
    """``(X, y, task)`` for a PMLB name or an ``sk_*`` scikit-learn table."""
    if name in SKLEARN_TABLES:
        import sklearn.datasets as skd

        bunch = getattr(skd, SKLEARN_TABLES[name])(as_frame=True)
        task = "regression" if name == "sk_diabetes" else "classification"
        return bunch.data, bunch.target, task
    from ..datasets import load_pmlb, pmlb_index

    idx = pmlb_index(data_dir).set_index("name")
    X, y = load_pmlb(name, data_dir)
    task = (
        str(idx.loc[name, "task"]) if name in idx.index else ("classification" if y.nunique() <= 20 else "regression")
    )
    return X, y, task


def _track(n_rows: int) -> str:
    return "small" if n_rows < SMALL_MAX_ROWS else "medium"


# ----------------------------------------------------------------------------------------
# methods: name → factory(task, seed, cfg) → estimator with fit/predict on the raw table
def _hypertab_default(name: str) -> Any:
    from ..tabular.hypertab import HyperTabClassifier

    return HyperTabClassifier().get_params()[name]


def _budget(cfg_extra: dict[str, Any], quick: bool) -> dict[str, Any]:
    return {
        "hypertab_epochs": _given(cfg_extra.get("hypertab_epochs"), 20 if quick else _hypertab_default("max_epochs")),
        "hypertab_views": _given(cfg_extra.get("hypertab_views"), 20 if quick else 100),
        # unset: the estimator's own defaults (its schedule), recorded as the values used
        "hypertab_masks_per_step": _given(
            cfg_extra.get("hypertab_masks_per_step"), _hypertab_default("masks_per_step")
        ),
        "hypertab_lr": _given(cfg_extra.get("hypertab_lr"), _hypertab_default("lr")),
        "hypertab_hidden_layers": _given(cfg_extra.get("hypertab_hidden_layers"), _hypertab_default("n_hidden_layers")),
        "hypertab_patience": _given(cfg_extra.get("hypertab_patience"), _hypertab_default("patience")),
        "hypertab_batch_size": _given(cfg_extra.get("hypertab_batch_size"), _hypertab_default("batch_size")),
        "tjepa_epochs": _given(cfg_extra.get("tjepa_epochs"), 3 if quick else 30),
        "tjepa_encoder": _given(cfg_extra.get("tjepa_encoder"), "cpu" if quick else "paper"),
    }


# A CPU-sized T-JEPA for the suite's reduced budget (``--tjepa-encoder cpu``): 2 layers of width
# 32 for encoder and predictor, a larger learning rate with a 1-epoch warm-up because the
# epoch budget is short. The estimator's own defaults stay the paper's (``paper``).
TJEPA_CPU_CONFIG: dict[str, Any] = dict(
    hidden_size=32,
    n_layers=2,
    n_heads=4,
    inner_size=128,
    predictor_hidden_size=32,
    predictor_n_layers=2,
    predictor_n_heads=4,
    predictor_inner_size=128,
    lr=1e-3,
    warmup_epochs=1,
    patience=None,
)
TJEPA_METHODS = ("T-JEPA+MLP", "T-JEPA+XGBoost")


def _hypertab(task: str, seed: int, budget: dict, device: str) -> Any:
    from ..tabular.hypertab import FeatureSubsetViews, HyperTabClassifier, HyperTabRegressor

    cls = HyperTabClassifier if task == "classification" else HyperTabRegressor
    return cls(
        max_epochs=budget["hypertab_epochs"],
        views=FeatureSubsetViews(n_views=budget["hypertab_views"]),
        missing="impute",
        masks_per_step=budget["hypertab_masks_per_step"],
        lr=budget["hypertab_lr"],
        # .get: budgets recorded before these options existed resume with the values of then
        # (two hidden layers, no early stopping, batches of 128), not with today's defaults
        n_hidden_layers=budget.get("hypertab_hidden_layers", 2),
        patience=budget.get("hypertab_patience"),
        batch_size=budget.get("hypertab_batch_size", 128),
        device=device,
        random_state=seed,
    )


def _tjepa_module():
    import importlib

    return importlib.import_module("structaug.tabular.tjepa")


def _tjepa(task: str, seed: int, budget: dict, device: str, head: str) -> Any:
    """T-JEPA pre-trained on the training fold, then its MLP (paper) or XGBoost head."""
    mod = _tjepa_module()
    size = budget.get("tjepa_encoder", "paper")
    if size not in ("paper", "cpu"):
        raise ValueError(f"tjepa_encoder must be 'paper' or 'cpu', got {size!r}")
    # set_params refuses a name the estimator does not have: a renamed parameter cannot be dropped silently
    enc = mod.TJEPA().set_params(**(TJEPA_CPU_CONFIG if size == "cpu" else {}))
    enc.set_params(max_epochs=budget["tjepa_epochs"], missing="impute", device=device, random_state=seed, verbose=False)
    cls = mod.TJEPAClassifier if task == "classification" else mod.TJEPARegressor
    return cls(encoder=enc, head=head, device=device, random_state=seed, verbose=False)


def _reference_hypertab(task: str, seed: int, budget: dict, device: str) -> Any:
    if task != "classification":
        raise _Skip("the reference hypertab package has no regressor")
    try:
        import importlib

        importlib.import_module("hypertab")
    except Exception as exc:  # ImportError, or torchvision failing beside this torch build
        raise _Skip(f"reference package 'hypertab' not importable: {type(exc).__name__}: {exc}".strip()) from None
    return _ReferenceHyperTab(n_views=budget["hypertab_views"], epochs=budget["hypertab_epochs"], seed=seed)


class _ReferenceHyperTab:
    """The PyPI ``hypertab.HyperTabClassifier`` behind our :class:`TableEncoder`.

    The package needs a float matrix and labels ``0..C-1`` (its ``predict`` returns class
    indices) and draws masks, initialisation and batch order from the global numpy/torch
    generators, which are therefore seeded before ``fit``.
    """

    def __init__(self, n_views: int, epochs: int, seed: int, subsample: float = 0.5, batch_size: int = 128):
        self.n_views, self.epochs, self.seed = n_views, epochs, seed
        self.subsample, self.batch_size = subsample, batch_size

    def fit(self, X: Any, y: Any) -> _ReferenceHyperTab:
        import hypertab
        import torch

        from ..tabular._encoder import TableEncoder, encode_class_labels

        self.encoder_ = TableEncoder(encoding="onehot", missing="impute").fit(X)
        Z = np.ascontiguousarray(self.encoder_.transform(X), dtype=np.float32)
        codes, self.classes_ = encode_class_labels(y)
        np.random.seed(self.seed)
        torch.manual_seed(self.seed)
        self.model_ = hypertab.HyperTabClassifier(
            subsample=self.subsample,
            device="cpu",
            test_nodes=self.n_views,
            epochs=self.epochs,
            batch_size=self.batch_size,
        )
        self.model_.fit(Z, np.asarray(codes, dtype=np.int64))
        return self

    def predict(self, X: Any) -> np.ndarray:
        Z = np.ascontiguousarray(self.encoder_.transform(X), dtype=np.float32)
        return self.classes_[np.asarray(self.model_.predict(Z), dtype=np.int64)]


class _Skip(Exception):
    """A method that cannot run here (recorded with ``status='skipped'``)."""


def _factory(method: str) -> Callable[[str, int, dict, str], Any]:
    from ..tabular._baselines import make_baseline

    if method == "HyperTab":
        return _hypertab
    if method in ("T-JEPA+MLP", "T-JEPA+XGBoost"):

        def f(task, seed, budget, device, _m=method):
            try:
                _tjepa_module()
            except Exception as exc:
                raise _Skip(f"structaug.tabular.tjepa not importable: {type(exc).__name__}: {exc}") from None
            return _tjepa(task, seed, budget, device, "mlp" if _m == "T-JEPA+MLP" else "xgboost")

        return f
    if method == "hypertab (reference)":
        return _reference_hypertab
    return lambda task, seed, budget, device: make_baseline(method, task, seed, device)


# ----------------------------------------------------------------------------------------
def _splits(y: pd.Series, task: str, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from ..splits import cv_folds

    return cv_folds(y, k, classification=task == "classification", random_state=seed)


def _scores(task: str, y_true: Any, y_pred: Any) -> dict[str, float]:
    from ..metrics import accuracy, balanced_accuracy, r2, rmse

    if task == "classification":
        return {"accuracy": accuracy(y_true, y_pred), "balanced_accuracy": balanced_accuracy(y_true, y_pred)}
    return {"rmse": rmse(y_true, y_pred), "r2": r2(y_true, y_pred)}


def _drop_rare_classes(X: pd.DataFrame, y: pd.Series, k: int) -> tuple[pd.DataFrame, pd.Series, int]:
    """Classes with fewer than 2 rows cannot be stratified; drop them (recorded)."""
    counts = y.value_counts()
    rare = counts[counts < 2].index
    if len(rare) == 0:
        return X, y, 0
    keep = ~y.isin(rare).to_numpy()
    return X[keep].reset_index(drop=True), y[keep].reset_index(drop=True), int((~keep).sum())


@functools.lru_cache(maxsize=2)
def _table(name: str, data_dir: str | None, folds: int) -> tuple[pd.DataFrame, pd.Series, str, dict]:
    """``(X, y, task, info)`` of a table, loaded once per process (its jobs share it)."""
    X, y, task = load_table(name, data_dir)
    X, y = X.reset_index(drop=True), y.reset_index(drop=True)
    dropped = 0
    if task == "classification":
        X, y, dropped = _drop_rare_classes(X, y, folds)
    info = {
        "n_rows": int(len(X)),
        "n_features": int(X.shape[1]),
        "task": task,
        "track": _track(len(X)),
        "dropped_rare_class_rows": dropped,
        "n_classes": int(y.nunique()) if task == "classification" else None,
    }
    return X, y, task, info


def run_job(job: Job, cfg: BenchConfig) -> list[Record]:
    """The records of ``job.methods`` on one table and seed, each averaged over the k folds."""
    import torch

    # one thread, as the suite always ran (parallel runs use one-thread worker processes)
    torch.set_num_threads(1)
    os.environ.setdefault("STRUCTAUG_PROGRESS", "0")
    name, seed, folds = job.dataset, job.seed, job.config["folds"]
    budget, max_train_rows, device = job.config["budget"], job.config["max_train_rows"], cfg.device
    X, y, task, info = _table(name, cfg.data_dir, folds)
    out: list[Record] = []
    splits = _splits(y, task, folds, seed)
    # T-JEPA+MLP and T-JEPA+XGBoost share one pre-training per (seed, fold): the heads differ,
    # the encoder would be identical (same seed, same rows). Both records count its cost.
    pretrained: dict[int, tuple[Any, float, float]] = {}
    for method in job.methods:
        fold_metrics, fit_t, fit_cpu, pred_t, pre_t, pre_cpu = [], [], [], [], [], []
        rec_cfg = {"folds": len(splits), "budget": budget, "max_train_rows": max_train_rows}
        try:
            for f, (tr, te) in enumerate(splits):
                if max_train_rows and len(tr) > max_train_rows:
                    # Uniform random subsample of the training fold (medium track on a CPU budget).
                    rs = np.random.default_rng(seed * 1000 + f)
                    tr = np.sort(rs.choice(tr, max_train_rows, replace=False))
                est = _factory(method)(task, seed, budget, device)
                extra_wall = extra_cpu = 0.0
                if method in TJEPA_METHODS:
                    if f not in pretrained:
                        from sklearn.base import clone

                        t0, c0 = time.perf_counter(), time.process_time()
                        enc = clone(est.encoder).fit(X.iloc[tr])
                        pretrained[f] = (enc, time.perf_counter() - t0, time.process_time() - c0)
                    enc, extra_wall, extra_cpu = pretrained[f]
                    est.set_params(encoder=enc, pretrained=True)
                    pre_t.append(extra_wall)
                    pre_cpu.append(extra_cpu)
                t0, c0 = time.perf_counter(), time.process_time()
                est.fit(X.iloc[tr], y.iloc[tr])
                fit_t.append(time.perf_counter() - t0 + extra_wall)
                fit_cpu.append(time.process_time() - c0 + extra_cpu)
                t0 = time.perf_counter()
                pred = est.predict(X.iloc[te])
                pred_t.append(time.perf_counter() - t0)
                fold_metrics.append(_scores(task, y.iloc[te].to_numpy(), np.asarray(pred)))
            metrics = {k: float(np.mean([m[k] for m in fold_metrics])) for k in fold_metrics[0]}
            out.append(
                Record(
                    method,
                    name,
                    seed,
                    metrics,
                    split=f"{len(splits)}-fold seed {seed}",
                    config=rec_cfg,
                    fit_time=float(np.sum(fit_t)),
                    predict_time=float(np.sum(pred_t)),
                    extra={
                        **info,
                        "per_fold": fold_metrics,
                        "fit_time_per_fold": float(np.mean(fit_t)),
                        "fit_cpu_time_per_fold": float(np.mean(fit_cpu)),
                        **(
                            {
                                "pretrain_time_per_fold": float(np.mean(pre_t)),
                                "pretrain_cpu_time_per_fold": float(np.mean(pre_cpu)),
                            }
                            if pre_t
                            else {}
                        ),
                    },
                )
            )
        except _Skip as exc:
            out.append(Record(method, name, seed, {}, config=rec_cfg, extra=info, status="skipped", error=str(exc)))
        except Exception as exc:  # one head failing does not lose the other head's row
            out.append(
                Record(
                    method,
                    name,
                    seed,
                    {},
                    config=rec_cfg,
                    extra=info,
                    status="error",
                    error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}",
                )
            )
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--track",
        choices=["small", "medium", "all"],
        default="all",
        help="keep only datasets of this size track (small < 1000 rows)",
    )
    parser.add_argument(
        "--folds",
        type=int_at_least(2),
        default=None,
        help="k of the repeated (stratified) k-fold, >= 2 (default 3; --quick: 2)",
    )
    parser.add_argument("--methods", default=None, help=f"comma-separated subset of: {', '.join(METHODS)}")
    parser.add_argument(
        "--hypertab-epochs",
        type=positive_int,
        default=None,
        help="HyperTab epochs (default: the estimator's, 100; the paper's 50 at one mask per step)",
    )
    parser.add_argument("--hypertab-views", type=positive_int, default=None, help="HyperTab n_views (paper: 100)")
    parser.add_argument(
        "--hypertab-masks-per-step",
        type=positive_int,
        default=None,
        help="HyperTab target nets per optimizer step (default: the estimator's, 25; 1 = the paper's schedule)",
    )
    parser.add_argument(
        "--hypertab-lr",
        type=positive_float,
        default=None,
        help="HyperTab Adam learning rate (default: the estimator's 'auto', 3e-4 x sqrt(masks per step))",
    )
    parser.add_argument(
        "--hypertab-hidden-layers",
        type=positive_int,
        default=None,
        help="HyperTab target-network hidden layers (default: the estimator's, 1 as in the paper; 2: the "
        "reference's current code)",
    )
    parser.add_argument(
        "--hypertab-patience",
        type=positive_int,
        default=None,
        help="HyperTab early stopping: hold out the estimator's validation_fraction of each training fold "
        "and stop after this many epochs without a better validation loss (default: none, all epochs)",
    )
    parser.add_argument(
        "--hypertab-batch-size",
        type=positive_int,
        default=None,
        help="HyperTab rows per batch (default: the estimator's, 128 as in the reference)",
    )
    parser.add_argument("--tjepa-epochs", type=positive_int, default=None, help="T-JEPA pre-training epochs")
    parser.add_argument(
        "--tjepa-encoder",
        choices=["paper", "cpu"],
        default=None,
        help="T-JEPA size: the paper's defaults, or a 2-layer width-32 encoder/predictor with "
        "lr 1e-3 and 1 warm-up epoch for a CPU budget (default: paper; --quick: cpu)",
    )
    parser.add_argument(
        "--max-train-rows",
        type=positive_int,
        default=None,
        help="subsample each training fold to at most this many rows (CPU budget for the medium track)",
    )


def _methods(cfg) -> list[str]:
    return parse_names(_given(cfg.extra.get("methods"), ",".join(METHODS)), METHODS, "--methods")


def dataset_names(data_dir: str | None = None) -> list[str]:
    """The tables this suite knows: scikit-learn's, its PMLB lists and every name in the PMLB index."""
    names = list(SKLEARN_TABLES) + SMALL_PMLB + MEDIUM_PMLB + DEFAULT_DATASETS
    try:
        from ..datasets import pmlb_index

        names += [str(n) for n in pmlb_index(data_dir)["name"]]
    except (OSError, KeyError, ValueError):  # no index here: the built-in lists only
        pass
    return sorted(set(names))


def validate(cfg) -> None:
    """``--methods`` and ``--datasets`` name known entries (checked before any job starts).

    Raises
    ------
    InvalidParameterError
        Naming the flag and listing the valid names.
    """
    _methods(cfg)
    parse_names(cfg.datasets, dataset_names(cfg.data_dir), "--datasets")


def jobs(cfg: BenchConfig) -> list[Job]:
    """One job per (table, seed, method); T-JEPA's two heads are one job (one pre-training)."""
    extra = cfg.extra
    methods = _methods(cfg)
    names = cfg.datasets or (QUICK_DATASETS if cfg.quick else DEFAULT_DATASETS)
    track = _given(extra.get("track"), "all")
    if track != "all":
        names = [n for n in names if _track(_n_rows(n, cfg.data_dir)) == track]
    config = {
        "folds": int(_given(extra.get("folds"), 2 if cfg.quick else 3)),
        "budget": _budget(extra, cfg.quick),
        "max_train_rows": extra.get("max_train_rows"),
    }
    groups: list[tuple[str, ...]] = []
    for m in methods:
        if m in TJEPA_METHODS:
            tj = tuple(t for t in methods if t in TJEPA_METHODS)
            if tj not in groups:
                groups.append(tj)
        else:
            groups.append((m,))
    # --quick's one seed is the CLI's default (QUICK_SEEDS), not a cap on --seeds
    return [Job(n, s, g, config) for n in names for s in cfg.seeds for g in groups]


def run(cfg: BenchConfig) -> list[Record]:
    """Run the suite as ``structaug bench tabular`` does (see :func:`structaug.bench.run_benchmark`)."""
    return run_benchmark(sys.modules[__name__], cfg)


def _n_rows(name: str, data_dir: str | None) -> int:
    if name in SKLEARN_TABLES:
        return {"sk_breast_cancer": 569, "sk_wine": 178, "sk_iris": 150, "sk_digits": 1797, "sk_diabetes": 442}[name]
    try:
        from ..datasets import pmlb_index

        idx = pmlb_index(data_dir).set_index("name")
        return int(idx.loc[name, "n_rows"])
    except Exception:
        return 0


# ----------------------------------------------------------------------------------------
# report: per-dataset table, mean ranks per track, W/T/L vs XGBoost, rank plot
def _as_dicts(records: list) -> list[dict]:
    return [r.to_dict() if isinstance(r, Record) else dict(r) for r in records]


def summary_tables(records: list) -> dict[str, Any]:
    """Per-dataset mean±std, mean ranks per track and W/T/L vs XGBoost (as data)."""
    rows = [r for r in _as_dicts(records) if r.get("status") == "ok"]
    if not rows:
        return {"per_dataset": pd.DataFrame(), "ranks": {}, "wtl": {}}
    per = []
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["method"]), []).append(r)
    means: dict[str, dict[str, float]] = {}
    info: dict[str, dict] = {}
    for (ds, m), rs in sorted(groups.items()):
        task = rs[0]["extra"].get("task", "classification")
        info[ds] = rs[0]["extra"]
        key = "balanced_accuracy" if task == "classification" else "rmse"
        means.setdefault(ds, {})[m] = float(np.mean([r["metrics"][key] for r in rs]))
        row = {
            "track": rs[0]["extra"].get("track"),
            "dataset": ds,
            "rows": rs[0]["extra"].get("n_rows"),
            "method": m,
            "seeds": len(rs),
        }
        for k in ("accuracy", "balanced_accuracy") if task == "classification" else ("rmse", "r2"):
            row[k] = fmt_mean_std([r["metrics"][k] for r in rs], 4)
        row["fit_s"] = f"{np.mean([r['extra'].get('fit_time_per_fold', r['fit_time']) for r in rs]):.2f}"
        cpu = [r["extra"]["fit_cpu_time_per_fold"] for r in rs if "fit_cpu_time_per_fold" in r["extra"]]
        row["fit_cpu_s"] = f"{np.mean(cpu):.2f}" if cpu else ""
        row["predict_s"] = f"{np.mean([r['predict_time'] / max(1, r['config'].get('folds', 1)) for r in rs]):.3f}"
        per.append(row)
    per_df = pd.DataFrame(per)
    cols = [
        "track",
        "dataset",
        "rows",
        "method",
        "seeds",
        "accuracy",
        "balanced_accuracy",
        "rmse",
        "r2",
        "fit_s",
        "fit_cpu_s",
        "predict_s",
    ]
    per_df = per_df[[c for c in cols if c in per_df.columns]].fillna("")
    ranks: dict[str, dict[str, Any]] = {}
    wtl: dict[str, dict[str, list[int]]] = {}
    for track in ("small", "medium"):
        dss = [d for d in means if info[d].get("track") == track]
        if not dss:
            continue
        methods = sorted({m for d in dss for m in means[d]})
        # Rank only over datasets every method finished, so ranks are comparable.
        full = [d for d in dss if all(m in means[d] for m in methods)]
        if not full:
            continue
        mat = []
        for d in full:
            higher_better = info[d].get("task") == "classification"
            vals = pd.Series({m: means[d][m] for m in methods})
            mat.append((vals.rank(ascending=not higher_better, method="average")).to_dict())
        rk = pd.DataFrame(mat).mean().sort_values()
        ranks[track] = {"mean_rank": rk.to_dict(), "n_datasets": len(full), "datasets": full}
        if "XGBoost" in methods:
            wtl[track] = {}
            for m in methods:
                if m == "XGBoost":
                    continue
                win = tie = loss = 0
                for d in full:
                    a, b = means[d][m], means[d]["XGBoost"]
                    if info[d].get("task") == "classification":
                        diff = a - b
                    else:
                        diff = (b - a) / max(abs(b), 1e-12)
                    if abs(diff) <= TIE_TOL:
                        tie += 1
                    elif diff > 0:
                        win += 1
                    else:
                        loss += 1
                wtl[track][m] = [win, tie, loss]
    return {"per_dataset": per_df, "ranks": ranks, "wtl": wtl}


def report(records: list, out_path: str | os.PathLike) -> None:
    """Rewrite ``<out>.md`` with the full report and save ``<out>_ranks.png``."""
    import json as _json

    from ..io import atomic_write_text

    out_path = Path(out_path)
    recs = _as_dicts(records)
    s = summary_tables(recs)
    env = {}
    try:
        env = _json.loads(out_path.read_text())["environment"]
        cfg = _json.loads(out_path.read_text())["config"]
    except Exception:
        cfg = {}
    lines = markdown_header("tabular suite", env) if env else ["# tabular suite", ""]
    if cfg:
        ex = cfg.get("extra", {})
        lines += [
            f"Config: seeds={cfg.get('seeds')}, folds={_given(ex.get('folds'), 2 if cfg.get('quick') else 3)}, track={ex.get('track', 'all')}, "
            f"budget={_recorded_budget(recs) or _budget(ex, cfg.get('quick', False))}, "
            f"max_train_rows={ex.get('max_train_rows')}, "
            f"workers={cfg.get('workers')}",
            "",
        ]
        if isinstance(cfg.get("cpu_budget"), dict) and cfg["cpu_budget"].get("note"):
            lines += [f"Budget: {cfg['cpu_budget']['note']}", ""]
        if cfg.get("note"):  # e.g. which rows a later run replaced (then Device/Commit are that run's)
            lines += [f"Note: {cfg['note']}", ""]
    lines += [
        "fit_s / predict_s: wall-clock seconds per fold (inflated when the machine is shared); fit_cpu_s: "
        "CPU seconds of the fitting process per fold (T-JEPA rows include the pre-training that "
        "T-JEPA+MLP and T-JEPA+XGBoost share). "
        "LogisticRegression is Ridge (α=1) on regression tables.",
        "",
        "Metric used for ranks: balanced accuracy (classification, higher is better), RMSE (regression, "
        "lower is better); each dataset's score is the mean over seeds of the k-fold mean. "
        f"W/T/L vs XGBoost: a tie is |Δ| ≤ {TIE_TOL} (balanced accuracy) or relative RMSE.",
        "",
    ]
    for track, r in s["ranks"].items():
        cpu = _total_fit_cpu(recs, r["datasets"])
        lines += [
            f"## {track} track: mean rank over {r['n_datasets']} datasets",
            "",
            "| method | mean rank | W/T/L vs XGBoost | total fit CPU s |",
            "|---|---|---|---|",
        ]
        for m, v in r["mean_rank"].items():
            w = s["wtl"].get(track, {}).get(m)
            lines.append(
                f"| {m} | {v:.2f} | {'/'.join(map(str, w)) if w else '—'} | {f'{cpu[m]:.0f}' if m in cpu else '—'} |"
            )
        lines.append("")
        if cpu:
            shared = _shared_pretrain_cpu(recs, r["datasets"]) if "T-JEPA+MLP" in cpu else 0.0
            total = sum(cpu.values()) - shared
            lines += [
                f"Total fit CPU of this track's rows: {total:.0f} s ({total / 60:.1f} min of one core"
                + (f"; T-JEPA pre-training, {shared:.0f} s, counted once" if shared else "")
                + ").",
                "",
            ]
    skipped: dict[tuple[str, str, str], set[str]] = {}
    for r in recs:
        if r.get("status") in ("skipped", "error"):
            skipped.setdefault((r["method"], r["status"], (r.get("error") or "").splitlines()[0][:200]), set()).add(
                r["dataset"]
            )
    if skipped:
        lines += ["## Skipped / failed", "", "| method | status | datasets | reason |", "|---|---|---|---|"]
        for (m, st, why), dss in sorted(skipped.items()):
            lines.append(
                f"| {m} | {st} | {len(dss)} ({', '.join(sorted(dss)[:4])}{'…' if len(dss) > 4 else ''}) | {why} |"
            )
        lines.append("")
    lines += ["## Per dataset (mean ± std over seeds)", "", markdown_table(s["per_dataset"]), ""]
    png = out_path.with_name(out_path.stem + "_ranks.png")
    if s["ranks"]:
        try:
            _rank_plot(s["ranks"], png)
            lines += [f"![mean ranks]({png.name})", ""]
        except ImportError as exc:  # plotting is an extra; the table above holds the same ranks
            lines += [f"(rank plot not drawn: {exc})", ""]
    atomic_write_text("\n".join(lines), out_path.with_suffix(".md"))


def _recorded_budget(recs: list[dict]) -> dict[str, Any]:
    """The HyperTab and T-JEPA settings the rows were run with, as each row recorded them.

    Not recomputed from the run's flags: an unset flag resolves to the estimator's *current*
    default, which a later release may change (the report of an old file would then misstate
    its budget). A setting with several values across rows (rows merged from runs) lists them;
    a setting older rows did not record is absent.
    """
    seen: dict[str, list[Any]] = {}
    for r in recs:
        prefix = "hypertab_" if r["method"] == "HyperTab" else "tjepa_" if r["method"] in TJEPA_METHODS else None
        budget = (r.get("config") or {}).get("budget") or {}
        for key, value in budget.items() if prefix else ():
            if key.startswith(prefix) and value not in seen.setdefault(key, []):
                seen[key].append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in sorted(seen.items())}


def _total_fit_cpu(recs: list[dict], datasets: list[str]) -> dict[str, float]:
    """Fit CPU seconds summed over folds and seeds, per method (rows that recorded them)."""
    out: dict[str, float] = {}
    for r in recs:
        if r.get("status") == "ok" and r["dataset"] in datasets and "fit_cpu_time_per_fold" in r["extra"]:
            out[r["method"]] = out.get(r["method"], 0.0) + r["extra"]["fit_cpu_time_per_fold"] * r["config"]["folds"]
    return out


def _shared_pretrain_cpu(recs: list[dict], datasets: list[str]) -> float:
    """CPU seconds of the T-JEPA pre-training that both T-JEPA rows include (to count it once)."""
    tot = 0.0
    for r in recs:
        if (
            r.get("status") == "ok"
            and r["method"] == "T-JEPA+XGBoost"
            and r["dataset"] in datasets
            and "pretrain_cpu_time_per_fold" in r["extra"]
        ):
            tot += r["extra"]["pretrain_cpu_time_per_fold"] * r["config"]["folds"]
    return tot


def _rank_plot(ranks: dict[str, dict], path: Path) -> None:
    matplotlib = import_optional("matplotlib")
    matplotlib.use("Agg")
    plt = import_optional("matplotlib.pyplot")

    fig, axes = plt.subplots(1, len(ranks), figsize=(5.5 * len(ranks), 3.2), squeeze=False)
    for ax, (track, r) in zip(axes[0], ranks.items()):
        items = sorted(r["mean_rank"].items(), key=lambda kv: kv[1])
        names = [k for k, _ in items][::-1]
        vals = [v for _, v in items][::-1]
        colors = ["tab:red" if n in NEURAL else "tab:blue" for n in names]
        ax.barh(names, vals, color=colors)
        ax.set_xlabel("mean rank (lower is better)")
        ax.set_title(f"{track} track ({r['n_datasets']} datasets)")
        for y, v in enumerate(vals):
            ax.text(v, y, f" {v:.2f}", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
