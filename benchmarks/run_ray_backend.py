"""The Ray backend against the serial and process ones: wall time and identical records.

Runs the same ``structaug bench tabular`` jobs (the small track, a smoke budget unless
``--full``) four ways in this process, one after the other: ``serial`` (one job at a time
in this process), ``process`` with 2 workers, and ``ray`` (a local Ray started for the run)
with 1 and 2 workers. Each run writes its own results file under a temporary folder; the
script then checks that every (method, dataset, seed, fold-averaged) metric is the same in
all four and records the wall times and their ratios to the serial run. Ray's start-up
(a local Ray takes seconds to start) is part of its wall time, as a user would see it.

Run with ``OMP_NUM_THREADS=1`` so the serial run uses one thread like the workers (BLAS
sums in another order with more threads, which moves the last digit of some metrics).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/run_ray_backend.py --out benchmarks/results/ray_backend.json
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from structaug.bench import (
    BenchConfig,
    add_out_arguments,
    claim_out,
    markdown_header,
    run_benchmark,
    write_script_results,
)
from structaug.results import environment

RUNS = [("serial", 1), ("process", 2), ("ray", 1), ("ray", 2)]
METHODS = "LogisticRegression,RandomForest,XGBoost,LightGBM,MLP,HyperTab"


def _metrics(records) -> dict[tuple, dict]:
    return {(r.method, r.dataset, r.seed): r.metrics for r in records if r.status == "ok"}


def _same(a: dict, b: dict) -> bool:
    """Equal, NaN equal to NaN (a metric a method does not report)."""
    if a.keys() != b.keys():
        return False
    for k, x in a.items():
        y = b[k]
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            continue
        if x != y:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=None, help="comma-separated small-track tables (default: all)")
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--full", action="store_true", help="the benchmark's full budget, not --quick's")
    add_out_arguments(parser, "ray_backend")
    args = parser.parse_args(argv)
    out = claim_out(parser, args)

    extra = {"track": "small", "methods": args.methods, "folds": args.folds}
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend, workers in RUNS:
            cfg = BenchConfig(
                datasets=args.datasets.split(",") if args.datasets else None,
                seeds=list(range(args.seeds)),
                quick=not args.full,
                out=Path(tmp) / f"{backend}{workers}.json",
                workers=workers,
                backend=backend,
                extra=dict(extra),
            )
            t0 = time.perf_counter()
            records = run_benchmark("tabular", cfg)
            wall = time.perf_counter() - t0
            results[(backend, workers)] = _metrics(records)
            rows.append(
                {
                    "backend": backend,
                    "workers": workers,
                    "wall_s": wall,
                    "rows": len(records),
                    "ok": sum(r.status == "ok" for r in records),
                    "job_cpu_s": sum(r.fit_time or 0.0 for r in records),
                }
            )
            print(f"{backend} x{workers}: {wall:.1f} s, {rows[-1]['ok']}/{len(records)} rows ok", flush=True)
    base = results[("serial", 1)]
    serial_s = rows[0]["wall_s"]
    for row in rows:
        got = results[(row["backend"], row["workers"])]
        row["same_records_as_serial"] = got.keys() == base.keys() and all(_same(got[k], base[k]) for k in base)
        row["speedup_vs_serial"] = serial_s / row["wall_s"]
    payload = {
        "benchmark": "ray_backend",
        "environment": environment(),
        "config": {**extra, "seeds": args.seeds, "datasets": args.datasets, "quick": not args.full},
        "rows": rows,
    }
    lines = markdown_header(
        "Benchmark backends: serial, process and Ray on the small tabular track", payload["environment"]
    ) + [
        f"Jobs: `bench tabular --track small{' --quick' if not args.full else ''} --seeds {args.seeds} "
        f"--folds {args.folds} --methods {args.methods}`"
        + (" (a smoke budget, below the benchmark's: `--quick`)" if not args.full else ""),
        "",
        "| backend | workers | wall s | vs serial | rows ok | CPU-s in jobs | same records as serial |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['workers']} | {r['wall_s']:.1f} | {r['speedup_vs_serial']:.2f}× | "
            f"{r['ok']}/{r['rows']} | {r['job_cpu_s']:.1f} | {'yes' if r['same_records_as_serial'] else 'NO'} |"
        )
    write_script_results(out, payload, "\n".join(lines))
    print("\n".join(lines))
    return 0 if all(r["same_records_as_serial"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
