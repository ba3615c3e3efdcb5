"""HyperTab variants beyond the schedule, on the tables the HyperTab paper shares with the small track.

#23 asks whether HyperTab's gap to RandomForest on the small tables is the budget, the backbone
or the method. ``hypertab_selection`` chose the budget and depth (100 epochs, one hidden layer)
on the 8 paper-shared tables; this script tries what that selection left out, on the same 8
tables, seeds and folds (the suite's own: ``structaug.bench.tabular``):

* ``ens3x34`` — three hypernetworks of 34 views each (102 target networks, about the default's
  cost), probabilities averaged over all of them;
* ``ens3`` — three hypernetworks of 100 views each (3x the cost);
* ``hidden20`` / ``hidden32`` / ``hidden64`` — wider target networks (the paper's 10 hidden units);
* ``h32e3x34`` — ``ens3x34`` with 32 hidden units;
* ``sub75`` — views of 75 % of the features (the paper's 50 %);
* ``subwidth`` — 75 % on tables of fewer than 20 features, 50 % otherwise.

Every variant is HyperTab at the library defaults otherwise (``missing="impute"`` as in the
suite), one thread. Per variant: mean balanced accuracy over the 8 tables x seeds (each the
mean over the folds), the paired difference against ``default`` (up/down over table x seed
rows, Wilcoxon signed-rank p), and the fit CPU seconds. Rows are appended to
``<out>.partial.jsonl`` as they finish; ``--resume`` skips the rows it holds. ::

    OMP_NUM_THREADS=1 python benchmarks/run_hypertab_variants.py \\
        --out benchmarks/results/hypertab_variants.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from structaug.bench import add_out_arguments, claim_out, markdown_header, write_script_results
from structaug.bench.tabular import _scores, _splits, _table
from structaug.results import environment, markdown_table, paired_gap
from structaug.tabular.hypertab import FeatureSubsetViews, HyperTabClassifier

#: the small-track tables that HyperTab's paper (its README's table) also reports
PAPER_TABLES = (
    "breast_cancer_wisconsin",
    "sonar",
    "dermatology",
    "glass",
    "molecular_biology_promoters",
    "ionosphere",
    "movement_libras",
    "heart_statlog",
)


class HypernetworkEnsemble(ClassifierMixin, BaseEstimator):
    """Several independently seeded HyperTabs; predicts the mean of their class probabilities."""

    def __init__(self, members: tuple = ()):
        self.members = members

    def fit(self, X: Any, y: Any) -> HypernetworkEnsemble:
        self.members_ = [clone(m).fit(X, y) for m in self.members]
        self.classes_ = self.members_[0].classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.mean([m.predict_proba(X) for m in self.members_], axis=0)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


def _hypertab(seed: int, n_views: int = 100, subsample: float = 0.5, **params: Any) -> HyperTabClassifier:
    views = FeatureSubsetViews(n_views=n_views, subsample=subsample)
    return HyperTabClassifier(views=views, missing="impute", device="cpu", random_state=seed, **params)


def _ensemble(seed: int, k: int, **kw: Any) -> HypernetworkEnsemble:
    return HypernetworkEnsemble(tuple(_hypertab(seed * 1000 + j, **kw) for j in range(k)))


#: name -> (what it is, factory(seed, n_features) -> classifier)
VARIANTS: dict[str, tuple[str, Callable[[int, int], Any]]] = {
    "default": ("library defaults (100 views, 10 hidden units, 50 % of the features)", lambda s, d: _hypertab(s)),
    "ens3x34": ("3 hypernetworks x 34 views", lambda s, d: _ensemble(s, 3, n_views=34)),
    "ens3": ("3 hypernetworks x 100 views", lambda s, d: _ensemble(s, 3)),
    "hidden20": ("20 hidden units", lambda s, d: _hypertab(s, hidden_size=20)),
    "hidden32": ("32 hidden units", lambda s, d: _hypertab(s, hidden_size=32)),
    "hidden64": ("64 hidden units", lambda s, d: _hypertab(s, hidden_size=64)),
    "h32e3x34": (
        "3 hypernetworks x 34 views, 32 hidden units",
        lambda s, d: _ensemble(s, 3, n_views=34, hidden_size=32),
    ),
    "sub75": ("views of 75 % of the features", lambda s, d: _hypertab(s, subsample=0.75)),
    "subwidth": (
        "views of 75 % of the features below 20 features, else 50 %",
        lambda s, d: _hypertab(s, subsample=0.75 if d < 20 else 0.5),
    ),
}


def _row(variant: str, table: str, seed: int, folds: int) -> dict[str, Any]:
    X, y, task, info = _table(table, None, folds)
    accs, cpu = [], 0.0
    for tr, te in _splits(y, task, folds, seed):
        est = VARIANTS[variant][1](seed, info["n_features"])
        c0 = time.process_time()
        est.fit(X.iloc[tr], y.iloc[tr])
        cpu += time.process_time() - c0
        accs.append(_scores(task, y.iloc[te].to_numpy(), np.asarray(est.predict(X.iloc[te])))["balanced_accuracy"])
    return {
        "variant": variant,
        "table": table,
        "seed": seed,
        "balanced_accuracy": float(np.mean(accs)),
        "fit_cpu_s": cpu,
    }


def summarize(rows: list[dict]) -> list[dict]:
    def scores(variant: str) -> dict[tuple, float]:
        return {(r["table"], r["seed"]): r["balanced_accuracy"] for r in rows if r["variant"] == variant}

    base = scores("default")
    out = []
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant]
        gap = paired_gap(scores(variant), base)
        out.append(
            {
                "variant": variant,
                "description": VARIANTS[variant][0],
                "rows": len(mine),
                "mean_balanced_accuracy": float(100 * np.mean([r["balanced_accuracy"] for r in mine])),
                "minus_default": 100 * gap["mean"] if variant != "default" else None,
                "up": gap["up"],
                "down": gap["down"],
                "wilcoxon_p": gap["wilcoxon_p"] if variant != "default" else None,
                "fit_cpu_s": float(sum(r["fit_cpu_s"] for r in mine)),
                "per_table": {
                    t: float(100 * np.mean([r["balanced_accuracy"] for r in mine if r["table"] == t]))
                    for t in sorted({r["table"] for r in mine})
                },
            }
        )
    return out


def _markdown(payload: dict) -> str:
    summary, cfg = payload["summary"], payload["config"]
    table = pd.DataFrame(
        {
            "variant": [s["variant"] for s in summary],
            "what": [s["description"] for s in summary],
            "mean balanced acc. (%)": [f"{s['mean_balanced_accuracy']:.2f}" for s in summary],
            "− default (up/down)": [
                "—" if s["minus_default"] is None else f"{s['minus_default']:+.2f} ({s['up']}/{s['down']})"
                for s in summary
            ],
            "Wilcoxon p": ["—" if s["wilcoxon_p"] is None else f"{s['wilcoxon_p']:.3f}" for s in summary],
            "fit CPU s": [f"{s['fit_cpu_s']:.0f}" for s in summary],
        }
    )
    tables = list(summary[0]["per_table"])
    per_table = pd.DataFrame(
        {
            "variant": [s["variant"] for s in summary],
            **{t: [f"{s['per_table'][t]:.2f}" for s in summary] for t in tables},
        }
    )
    lines = markdown_header("HyperTab variants on the paper-shared small tables", payload["environment"]) + [
        f"{len(cfg['tables'])} tables × {len(cfg['seeds'])} seeds × stratified {cfg['folds']}-fold (the tabular "
        "suite's folds), one thread; every variant at the library defaults otherwise. − default: paired over the "
        f"table × seed rows. Command: `{cfg['command']}`.",
        "",
        markdown_table(table),
        "",
        "Per table (balanced accuracy %, mean over seeds × folds):",
        "",
        markdown_table(per_table),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {', '.join(VARIANTS)}")
    parser.add_argument("--tables", default=",".join(PAPER_TABLES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--resume", action="store_true", help="keep the rows of <out>.partial.jsonl, run the rest")
    add_out_arguments(parser, "hypertab_variants")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or "default" not in variants:
        parser.error(f"--variants: unknown {unknown} or no 'default' (the paired baseline)")
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    out = claim_out(parser, args)
    partial = out.with_suffix(".partial.jsonl")
    rows: list[dict] = []
    if partial.exists():
        if not args.resume:
            parser.error(f"{partial} exists: pass --resume to continue it, or remove it")
        rows = [json.loads(line) for line in partial.read_text().splitlines() if line.strip()]
    done = {(r["variant"], r["table"], r["seed"]) for r in rows}
    with open(partial, "a", encoding="utf-8") as fh:
        for variant in variants:
            for table in tables:
                for seed in range(args.seeds):
                    if (variant, table, seed) in done:
                        continue
                    row = _row(variant, table, seed, args.folds)
                    rows.append(row)
                    fh.write(json.dumps(row) + "\n")
                    fh.flush()
                    print(row, flush=True)
    cfg = vars(args) | {"out": str(out), "tables": tables, "seeds": list(range(args.seeds)), "variants": variants}
    cfg["command"] = (
        "OMP_NUM_THREADS=1 python benchmarks/run_hypertab_variants.py "
        + (f"--variants {args.variants} " if args.variants != ",".join(VARIANTS) else "")
        + "--out ..."
    )
    payload = {
        "benchmark": "hypertab_variants",
        "environment": environment("cpu"),
        "config": cfg,
        "rows": rows,
        "summary": summarize(rows),
    }
    text = _markdown(payload)
    write_script_results(out, payload, text)
    partial.unlink()
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
