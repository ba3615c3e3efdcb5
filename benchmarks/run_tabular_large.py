"""What HyperTab and T-JEPA cost on large tables (10^5 and 10^6 rows), on one machine.

For each size, on a generated classification table (``make_classification``, 20 numeric
features), in a fresh spawned process per measurement (so each peak RSS is its own):

* ``fit_step_ms`` — milliseconds per optimizer step, from one epoch of a fit on 20,000 rows
  with the library's defaults (HyperTab: batch 128, 100 views, one view per step; the T-JEPA
  encoder: batch 64, 4 layers x 64, no validation split), and the steps one epoch takes at
  this size; ``epoch_s`` is their
  product (**extrapolated**, not a measured epoch of the large table);
* ``predict_s`` / ``predict_peak_mib`` — ``predict_proba`` (HyperTab) or ``transform``
  (T-JEPA) on all rows of the table with the model fitted above, and the peak of the process's
  resident memory during that call above what it held just before (Linux: the peak is reset
  through ``/proc/self/clear_refs`` before the call and read from ``VmHWM``); ``output_mib``
  is the size of what the call returns (part of that peak).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/run_tabular_large.py --out benchmarks/results/tabular_large.json
"""

from __future__ import annotations

import argparse
import math
import time

from structaug.bench import add_out_arguments, claim_out, markdown_header, write_script_results
from structaug.results import environment, in_fresh_process, peak_memory_above_start

FIT_ROWS = 20_000


def _measure(method: str, n_rows: int) -> dict:
    import numpy as np
    import torch
    from sklearn.datasets import make_classification

    torch.set_num_threads(1)
    X, y = make_classification(n_rows, 20, n_informative=10, random_state=0)
    X = X.astype(np.float32)
    if method == "HyperTab":
        from structaug.tabular import HyperTabClassifier

        est = HyperTabClassifier(max_epochs=1, random_state=0)
        # Adam steps: per batch, one per chunk of masks_per_step of the 100 views
        per_batch = math.ceil(100 / est.masks_per_step)
        steps = math.ceil(FIT_ROWS / est.batch_size) * per_batch
        steps_full = math.ceil(n_rows / est.batch_size) * per_batch
    else:
        from structaug.tabular import TJEPA

        est = TJEPA(max_epochs=1, patience=None, random_state=0)  # the self-supervised encoder
        steps = math.ceil(FIT_ROWS / est.batch_size)
        steps_full = math.ceil(n_rows / est.batch_size)
    t0 = time.perf_counter()
    est.fit(X[:FIT_ROWS], y[:FIT_ROWS]) if method == "HyperTab" else est.fit(X[:FIT_ROWS])
    fit_s = time.perf_counter() - t0
    with peak_memory_above_start() as mem:
        t1 = time.perf_counter()
        if method == "HyperTab":
            out = est.predict_proba(X)
        else:
            out = est.transform(X)
        predict_s = time.perf_counter() - t1
    return {
        "method": method,
        "rows": n_rows,
        "fit_rows": FIT_ROWS,
        "fit_s": fit_s,
        "fit_step_ms": 1000 * fit_s / steps,
        "steps_per_epoch": steps_full,
        "epoch_s_extrapolated": fit_s / steps * steps_full,
        "predict_s": predict_s,
        "predict_peak_mib": mem.mib,
        "output_mib": out.nbytes / 2**20,
        "table_mib": X.nbytes / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--methods", default="HyperTab,T-JEPA")
    add_out_arguments(parser, "tabular_large")
    args = parser.parse_args(argv)
    out = claim_out(parser, args)
    rows = []
    for method in args.methods.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            row = in_fresh_process(_measure, method, n)
            rows.append(row)
            print(row, flush=True)
    payload = {"benchmark": "tabular_large", "environment": environment(), "config": vars(args) | {"out": str(out)}}
    payload["rows"] = rows
    lines = markdown_header("HyperTab and T-JEPA on large tables", payload["environment"]) + [
        f"Generated table: make_classification, 20 features; fits on the first {FIT_ROWS:,} rows, one "
        "epoch, library defaults; **epoch s is extrapolated** (s per step x steps per epoch at that size).",
        "",
        "| method | rows | ms / optimizer step | steps / epoch | epoch s (extrapolated) | predict / transform s | "
        "peak memory above the start of the call, MiB | of which the output | table MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['rows']:,} | {r['fit_step_ms']:.2f} | {r['steps_per_epoch']:,} | "
            f"{r['epoch_s_extrapolated']:.0f} | {r['predict_s']:.1f} | {r['predict_peak_mib']:.0f} | "
            f"{r['output_mib']:.0f} | {r['table_mib']:.0f} |"
        )
    write_script_results(out, payload, "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
