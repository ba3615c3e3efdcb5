"""HyperTab's training schedule: masks per Adam step, learning rate and batch size, on a tabular track.

The reference takes one Adam step per (batch, mask) at lr 3e-4; structaug's default takes one
step per chunk of 25 masks at ``lr="auto"`` (3e-4 × sqrt(masks per step) = 1.5e-3). This runs
HyperTab alone on the small track of ``structaug bench tabular`` (the same tables, seeds and
folds as ``tabular_small.json``; ``--track medium``: the six medium tables of
``tabular_medium.json``, training folds capped at ``--max-train-rows``, 5,000 by default) once
per schedule and reports, per schedule, the mean balanced
accuracy over the classification tables, the RMSE of the regression tables, the fit CPU time,
and the paired difference against the first schedule listed (Wilcoxon signed-rank test over the
table × seed rows).

Each schedule is an ordinary benchmark run with its own results file in ``<out stem>_runs/``
(``--resume`` continues them: a stop costs at most one job); the summary JSON keeps every row,
its method renamed after its schedule. ::

    OMP_NUM_THREADS=1 python benchmarks/run_hypertab_schedules.py \\
        --schedules 25:auto,25:7.5e-3,25:3e-3,50:auto,100:auto,100:1.5e-2 \\
        --out benchmarks/results/hypertab_schedules.json

A schedule is ``masks:lr``, ``masks:lr:batch`` (rows per batch; unset: the estimator's 128) or
``masks:lr:batch:patience`` (early stopping on a held-out 10 % of the training rows, restoring the
best epoch; unset: none, all epochs; ``25:auto::10`` keeps the default batch).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from structaug.bench import (
    BenchConfig,
    add_out_arguments,
    claim_out,
    markdown_header,
    run_benchmark,
    script_command,
    write_script_results,
)
from structaug.bench.tabular import load_table, validate
from structaug.exceptions import InvalidParameterError
from structaug.results import environment, paired_gap

#: the 23 small tables of the committed tabular_small.json (the suite's small track without
#: sk_breast_cancer and sk_wine, which are PMLB's breast_cancer_wisconsin and wine_recognition)
SMALL_TABLES = (
    "505_tecator,analcatdata_authorship,australian,breast_cancer_wisconsin,bupa,clean1,dermatology,ecoli,glass,"
    "heart_statlog,ionosphere,molecular_biology_promoters,movement_libras,pima,sk_diabetes,sk_iris,sonar,soybean,"
    "spect,tic_tac_toe,tokyo1,vowel,wine_recognition"
)
#: the 6 tables of the committed tabular_medium.json
MEDIUM_TABLES = "sk_digits,529_pollen,phoneme,197_cpu_act,magic,adult"


def parse_schedules(text: str) -> list[tuple[int, float | str, int | None, int | None]]:
    """``"25:auto,1:3e-4,25:auto:512:10"`` → ``[(25, "auto", None, None), (1, 0.0003, None, None),
    (25, "auto", 512, 10)]`` (masks, lr, batch, patience)."""
    out: list[tuple[int, float | str, int | None, int | None]] = []
    for part in text.split(","):
        masks, _, rest = part.strip().partition(":")
        lr, _, rest = rest.partition(":")
        batch, _, patience = rest.partition(":")
        out.append(
            (
                int(masks),
                "auto" if lr in ("", "auto") else float(lr),
                int(batch) if batch else None,
                int(patience) if patience else None,
            )
        )
    return out


def label(masks: int, lr: float | str, batch: int | None = None, patience: int | None = None) -> str:
    size = "" if batch is None else f", batch {batch}"
    stop = "" if patience is None else f", patience {patience}"
    return f"HyperTab ({masks} masks/step, lr {lr if isinstance(lr, str) else format(lr, 'g')}{size}{stop})"


def summarize(records: list[dict], labels: list[str]) -> list[dict[str, Any]]:
    """Per schedule: mean balanced accuracy, regression RMSE, fit CPU, paired gap to the first."""

    def scores(lab: str, metric: str) -> dict[tuple, float]:
        return {
            (r["dataset"], r["seed"]): r["metrics"][metric]
            for r in records
            if r["method"] == lab and r["status"] == "ok" and metric in r["metrics"]
        }

    base = scores(labels[0], "balanced_accuracy")
    rows = []
    for lab in labels:
        acc = scores(lab, "balanced_accuracy")
        gap = paired_gap(acc, base)
        rmse = scores(lab, "rmse")
        tables = sorted({d for d, _ in rmse})
        cpu = sum(
            r["extra"]["fit_cpu_time_per_fold"] * r["config"]["folds"]
            for r in records
            if r["method"] == lab and r["status"] == "ok"
        )
        rows.append(
            {
                "schedule": lab,
                "rows": len(acc) + len(rmse),
                "mean_balanced_accuracy": float(np.mean(list(acc.values()))) if acc else None,
                "gap_to_first": gap["mean"],
                "up_level_down": [gap["up"], gap["level"], gap["down"]],
                "wilcoxon_p": gap["wilcoxon_p"] if lab != labels[0] else None,
                "rmse": {t: float(np.mean([v for (d, _), v in rmse.items() if d == t])) for t in tables},
                "fit_cpu_s": cpu,
            }
        )
    return rows


def markdown(payload: dict) -> str:
    env, cfg = payload["environment"], payload["config"]
    track = cfg.get("track", "small")
    cap = cfg.get("max_train_rows")
    capped = f", training folds capped at {cap:,} rows" if cap else ""
    lines = markdown_header(f"HyperTab: masks per Adam step and learning rate ({track} track)", env) + [
        f"Command: `{cfg['command']}`",
        "",
        f"HyperTab alone on {len(cfg['datasets'])} {track} tables ({', '.join(cfg['datasets'])}), seeds "
        f"{cfg['seeds']} × stratified {cfg['folds']}-fold{capped}, 100 views, {cfg.get('epochs', 50)} epochs, "
        f"{cfg.get('hidden_layers', 2)} hidden layer(s) in the target networks, one torch thread. Gap: mean "
        "paired difference in balanced accuracy to the first schedule over the classification table × seed "
        "rows (up/level/down), Wilcoxon signed-rank p. lr auto = 3e-4 × sqrt(masks per step); batches of "
        "128 rows unless the schedule names another size; a schedule with a patience holds out 10 % of the "
        "training rows and stops when the ensemble's validation loss has not improved for that many epochs "
        "(at most the epochs above), keeping the best epoch's weights.",
        "",
    ]
    head = ["schedule", "mean balanced acc.", "gap to the first (points)", "up / level / down", "p"]
    head += [f"RMSE {t}" for t in payload["summary"][0]["rmse"]] + ["fit CPU s"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in payload["summary"]:
        cells = [
            s["schedule"],
            f"{100 * s['mean_balanced_accuracy']:.2f}",
            f"{100 * s['gap_to_first']:+.2f}",
            "/".join(map(str, s["up_level_down"])),
            "" if s["wilcoxon_p"] is None else f"{s['wilcoxon_p']:.2f}",
        ]
        cells += [f"{v:.3f}" for v in s["rmse"].values()] + [f"{s['fit_cpu_s']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--schedules", default="25:auto,25:7.5e-3,25:3e-3,50:auto,100:auto,100:1.5e-2")
    p.add_argument("--track", choices=["small", "medium"], default="small")
    p.add_argument("--datasets", default=None, help="default: the track's tables of the committed suite files")
    p.add_argument(
        "--max-train-rows", type=int, default=None, help="cap on the training rows of a fold (medium default: 5000)"
    )
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=None, help="HyperTab max_epochs (default: the estimator's)")
    p.add_argument(
        "--hidden-layers", type=int, default=None, help="target-network hidden layers (default: the estimator's)"
    )
    p.add_argument("--data-dir", default=None)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the per-schedule runs in <out stem>_runs/ (with --overwrite when the summary exists)",
    )
    add_out_arguments(p, "hypertab_schedules")
    a = p.parse_args(argv)
    out = claim_out(p, a)
    try:
        schedules = parse_schedules(a.schedules)
    except ValueError:
        p.error(
            "--schedules: expected masks:lr, masks:lr:batch or masks:lr:batch:patience items "
            f"(e.g. 25:auto,25:auto:512,25:auto::10), got {a.schedules!r}"
        )
    if any(
        m < 1 or (b is not None and b < 1) or (pt is not None and pt < 1) or (isinstance(lr, float) and lr <= 0)
        for m, lr, b, pt in schedules
    ):
        p.error(f"--schedules: masks, batch and patience must be >= 1 and lr > 0 or 'auto', got {a.schedules!r}")
    default_tables = SMALL_TABLES if a.track == "small" else MEDIUM_TABLES
    datasets = [d for d in (a.datasets or default_tables).split(",") if d]
    max_rows = a.max_train_rows if a.max_train_rows is not None else (5000 if a.track == "medium" else None)
    runs = out.with_name(out.stem + "_runs")
    # one ordinary benchmark run per schedule; with --resume the runner skips the rows its
    # results file or partial file already holds (a run stopped mid-schedule included)
    cfgs = [
        BenchConfig(
            data_dir=a.data_dir,
            datasets=datasets,
            seeds=[int(s) for s in a.seeds.split(",")],
            out=runs
            / (
                f"m{masks}_lr{lr}"
                + ("" if batch is None else f"_b{batch}")
                + ("" if patience is None else f"_p{patience}")
                + ".json"
            ),
            resume=a.resume,
            extra={
                "track": a.track,
                "max_train_rows": max_rows,
                "folds": a.folds,
                "methods": "HyperTab",
                "hypertab_masks_per_step": masks,
                "hypertab_lr": lr,
                "hypertab_batch_size": batch,
                "hypertab_patience": patience,
                # None: the suite's own default resolution (the estimator's), recorded per row
                "hypertab_epochs": a.epochs,
                "hypertab_hidden_layers": a.hidden_layers,
            },
        )
        for masks, lr, batch, patience in schedules
    ]
    try:
        validate(cfgs[0])  # the suite's own name checks, before any fit (the flags are the same in every run)
    except InvalidParameterError as exc:
        p.error(str(exc))
    load_table(datasets[0], a.data_dir)  # a missing data folder fails here, before any fit
    runs.mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    labels = [label(*s) for s in schedules]
    for lab, cfg in zip(labels, cfgs):
        records += [{**r.to_dict(), "method": lab} for r in run_benchmark("tabular", cfg)]
        print(f"{lab}: done", flush=True)
    budget = records[0]["config"]["budget"]  # what the rows ran with (the same flags in every run)
    payload = {
        "benchmark": "hypertab_schedules",
        "environment": environment("cpu"),
        "config": {
            "schedules": [
                [m, lr, b, pt][: 2 if b is None and pt is None else 3 if pt is None else 4]
                for m, lr, b, pt in schedules
            ],
            "track": a.track,
            "max_train_rows": max_rows,
            "datasets": datasets,
            "seeds": [int(s) for s in a.seeds.split(",")],
            "folds": a.folds,
            "epochs": budget["hypertab_epochs"],
            "hidden_layers": budget["hypertab_hidden_layers"],
            "command": script_command(__file__, argv),
        },
        "summary": summarize(records, labels),
        "records": records,
    }
    text = markdown(payload)
    write_script_results(out, payload, text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
