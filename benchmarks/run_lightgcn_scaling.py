"""LightGCN (the LLMRec backbone) on generated logs of 10^5 to 10^7 interactions, one CPU thread.

For each size, on a generated implicit-feedback log (users: one per 10 interactions; items:
one per 100 interactions, Zipf(1.1) popularity; duplicates dropped), in a fresh spawned
process per size (so each peak is its own):

* ``step_ms`` — milliseconds per optimizer step (one full-graph propagation, the BPR loss of
  a batch, backward, Adam), from one epoch of ``LightGCN(max_epochs=1)`` at a batch size that
  makes that epoch 21 steps (``n // batch + 1``); ``epoch_s_extrapolated`` is ``step_ms`` times the steps of one
  epoch at the default batch of 1,024 (**extrapolated**, not a measured epoch: LightGCN
  propagates the whole graph in every step, as the reference does, so an epoch at batch 1,024
  is quadratic in the log's size);
* ``fit_peak_mib`` — peak resident memory of that fit above what the process held before it;
* ``recommend_s`` / ``recommend_peak_mib`` — ``recommend(users, k=20)`` for 10,000 users (all
  of them at the smallest size; scored against every item in blocks of users with a top-k per
  block, seen items excluded) and its peak above its start; the returned frame is part of
  that peak (``output_mib``). Ranking every user is users x items work, quadratic in the
  log's size, so a fixed number of users shows what one more user costs.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/run_lightgcn_scaling.py --out benchmarks/results/lightgcn_scaling.json
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from structaug.bench import add_out_arguments, claim_out, markdown_header, write_script_results
from structaug.results import (
    environment,
    in_fresh_process,
    loglog_figure,
    loglog_slope,
    markdown_table,
    peak_memory_above_start,
)

DEFAULT_BATCH, STEPS, K, REC_USERS = 1024, 20, 20, 10_000


def _log(n: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n_users, n_items = max(n // 10, 10), max(n // 100, 10)
    pop = 1.0 / np.arange(1, n_items + 1) ** 1.1
    frame = pd.DataFrame({"user": rng.integers(0, n_users, n), "item": rng.choice(n_items, n, p=pop / pop.sum())})
    return frame.drop_duplicates(ignore_index=True)


def _measure(n: int) -> dict:
    import torch

    from structaug.recsys.llmrec import LightGCN

    torch.set_num_threads(1)
    log = _log(n)
    batch = max(DEFAULT_BATCH, len(log) // STEPS)
    model = LightGCN(max_epochs=1, patience=None, batch_size=batch, random_state=0, device="cpu")
    with peak_memory_above_start() as fit_mem:
        t0 = time.perf_counter()
        model.fit(log)
        fit_s = time.perf_counter() - t0
    steps = len(log) // batch + 1  # LightGCN's batches per epoch
    step_s = model.train_result_.history[0]["epoch_time"] / steps
    users = model.users_.raw_[:REC_USERS]
    with peak_memory_above_start() as rec_mem:
        t1 = time.perf_counter()
        recs = model.recommend(users, k=K)
        rec_s = time.perf_counter() - t1
    return {
        "interactions": len(log),
        "users": len(model.users_),
        "items": len(model.items_),
        "batch_size": batch,
        "steps": steps,
        "step_ms": 1000 * step_s,
        "epoch_s_extrapolated": step_s * (len(log) // DEFAULT_BATCH + 1),
        "fit_s": fit_s,
        "fit_peak_mib": fit_mem.mib,
        "recommend_users": len(users),
        "recommend_s": rec_s,
        "recommend_peak_mib": rec_mem.mib,
        "output_mib": float(recs.memory_usage(deep=True).sum()) / 2**20,
    }


def _plot(rows: list[dict], slopes: dict, path) -> None:
    n = [r["interactions"] for r in rows]

    def series(key: str, label: str) -> tuple:
        return (f"{label} (slope {slopes[key]:.2f})", n, [r[key] for r in rows], "o-")

    panels = [
        (
            "interactions",
            "time",
            [series("step_ms", "ms per step"), series("recommend_s", "recommend s (10,000 users)")],
        ),
        (
            "interactions",
            "peak MiB above start",
            [series("fit_peak_mib", "fit"), series("recommend_peak_mib", "recommend")],
        ),
    ]
    loglog_figure(path, panels, "LightGCN on generated logs, one CPU thread")


def _markdown(payload: dict) -> str:
    env, rows, slopes = payload["environment"], payload["rows"], payload["loglog_slopes"]
    table = pd.DataFrame(
        {
            "interactions": [f"{r['interactions']:,}" for r in rows],
            "users": [f"{r['users']:,}" for r in rows],
            "items": [f"{r['items']:,}" for r in rows],
            "ms / step": [f"{r['step_ms']:.0f}" for r in rows],
            "epoch s at batch 1,024 (extrapolated)": [f"{r['epoch_s_extrapolated']:,.0f}" for r in rows],
            "fit peak MiB": [f"{r['fit_peak_mib']:.0f}" for r in rows],
            "recommend s (users)": [f"{r['recommend_s']:.1f} ({r['recommend_users']:,})" for r in rows],
            "recommend peak MiB (output)": [f"{r['recommend_peak_mib']:.0f} ({r['output_mib']:.0f})" for r in rows],
        }
    )
    lines = markdown_header("LightGCN scaling: time per step, memory and recommend() against log size", env) + [
        "Generated log: 10 interactions per user, 100 per item (Zipf 1.1 popularity). One epoch of "
        f"{rows[0]['steps'] if rows else STEPS + 1} steps per size; **epoch s at batch {DEFAULT_BATCH} is "
        "extrapolated** (ms per step x steps). `recommend`: 10,000 users, k = 20, seen items excluded.",
        "",
        markdown_table(table),
    ]
    if slopes:
        lines += ["", "Log-log slopes against interactions: " + ", ".join(f"{k} {v:.2f}" for k, v in slopes.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,300000,1000000,3000000,10000000")
    add_out_arguments(parser, "lightgcn_scaling", side_suffixes=(".md", ".png"))
    args = parser.parse_args(argv)
    out = claim_out(parser, args)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        row = in_fresh_process(_measure, n)
        rows.append(row)
        print(row, flush=True)
    keys = ("step_ms", "fit_peak_mib", "recommend_s", "recommend_peak_mib")
    slopes = (
        {k: loglog_slope([r["interactions"] for r in rows], [r[k] for r in rows]) for k in keys}
        if len(rows) >= 2
        else {}
    )
    payload = {
        "benchmark": "lightgcn_scaling",
        "environment": environment("cpu"),
        "config": vars(args) | {"out": str(out), "steps_measured": STEPS, "default_batch": DEFAULT_BATCH, "k": K},
        "rows": rows,
        "loglog_slopes": slopes,
    }
    text = _markdown(payload)
    write_script_results(out, payload, text)
    if slopes:
        _plot(rows, slopes, out.with_suffix(".png"))
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
