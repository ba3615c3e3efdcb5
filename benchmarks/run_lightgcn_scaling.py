"""LightGCN and LLMRec on generated logs of 10^5 to 10^7 interactions, one CPU thread.

For each size, on a generated implicit-feedback log (users: one per 10 interactions; items:
one per 100 interactions, Zipf(1.1) popularity; duplicates dropped), in a fresh spawned
process per size and method (so each peak is its own). ``lightgcn`` is plain LightGCN;
``llmrec`` first fits the LLM-free ``LLMRecAugmenter`` (hashing embedder, item-kNN candidates,
generated item years/genres and user demographics; ``augment_s`` and ``augment_peak_mib``),
then trains the same LightGCN on the augmentation with the reference's MovieLens settings
(``LLMREC_MOVIELENS``: augmented edges, side features, masked autoencoder, pruning). Each
measures:

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


def _side(log):
    """Generated item metadata (year, one of 18 genres) and user demographics for ``log``."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    item, user = np.sort(log["item"].unique()), np.sort(log["user"].unique())
    genres = np.array([f"genre{g}" for g in range(18)])
    items = pd.DataFrame(
        {
            "item": item,
            "title": [f"Item {i}" for i in item],
            "year": 1950 + item % 70,
            "genres": genres[rng.integers(0, 18, len(item))],
        }
    )
    users = pd.DataFrame(
        {
            "user": user,
            "age": rng.integers(18, 70, len(user)),
            "gender": rng.choice(["M", "F"], len(user)),
            "occupation": rng.choice(["student", "engineer", "artist", "doctor", "writer"], len(user)),
        }
    )
    return items, users


def _measure(n: int, method: str = "lightgcn") -> dict:
    import torch

    from structaug.recsys.llmrec import LLMREC_MOVIELENS, HashingEmbedder, LightGCN, LLMRecAugmenter

    torch.set_num_threads(1)
    log = _log(n)
    batch = max(DEFAULT_BATCH, len(log) // STEPS)
    extra: dict = {}
    fit_kw: dict = {}
    config: dict = {}
    if method == "llmrec":
        items, users = _side(log)
        with peak_memory_above_start() as aug_mem:
            t0 = time.perf_counter()
            augmenter = LLMRecAugmenter(
                embedder=HashingEmbedder(dim=64),
                attribute_fields=("year", "genres"),
                user_columns=("age", "gender", "occupation"),
                random_state=0,
            )
            fit_kw["augmentation"] = augmenter.fit(log, items=items, users=users).sample()
            augment_s = time.perf_counter() - t0
        extra = {"augment_s": augment_s, "augment_peak_mib": aug_mem.mib}
        config = LLMREC_MOVIELENS
    model = LightGCN(max_epochs=1, patience=None, batch_size=batch, random_state=0, device="cpu", **config)
    with peak_memory_above_start() as fit_mem:
        t0 = time.perf_counter()
        model.fit(log, **fit_kw)
        fit_s = time.perf_counter() - t0
    steps = len(log) // batch + 1  # LightGCN's batches per epoch
    step_s = model.train_result_.history[0]["epoch_time"] / steps
    users = model.users_.raw_[:REC_USERS]
    with peak_memory_above_start() as rec_mem:
        t1 = time.perf_counter()
        recs = model.recommend(users, k=K)
        rec_s = time.perf_counter() - t1
    return {
        "method": method,
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
        **extra,
    }


NAMES = {"lightgcn": "LightGCN", "llmrec": "LLMRec (LLM-free) + LightGCN"}
SLOPE_KEYS = ("step_ms", "fit_peak_mib", "recommend_s", "recommend_peak_mib", "augment_s", "augment_peak_mib")


def _slopes(rows: list[dict]) -> dict:
    """Log-log slopes against interactions, per method and measure (two sizes or more)."""
    out: dict = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        if len(mine) >= 2:
            n = [r["interactions"] for r in mine]
            out[method] = {k: loglog_slope(n, [r[k] for r in mine]) for k in SLOPE_KEYS if k in mine[0]}
    return out


def _plot(rows: list[dict], slopes: dict, path) -> None:
    def series(method: str, key: str, label: str) -> tuple:
        mine = [r for r in rows if r["method"] == method]
        n = [r["interactions"] for r in mine]
        return (f"{NAMES[method]}: {label} (slope {slopes[method][key]:.2f})", n, [r[key] for r in mine], "o-")

    methods = list(slopes)
    time_series = [series(m, "step_ms", "ms per step") for m in methods]
    mem_series = [series(m, "fit_peak_mib", "fit") for m in methods]
    if "llmrec" in slopes:
        time_series.append(series("llmrec", "augment_s", "augmentation s"))
        mem_series.append(series("llmrec", "augment_peak_mib", "augmentation"))
    panels = [("interactions", "time", time_series), ("interactions", "peak MiB above start", mem_series)]
    loglog_figure(path, panels, "LightGCN and LLMRec on generated logs, one CPU thread")


def _markdown(payload: dict) -> str:
    env, rows, slopes = payload["environment"], payload["rows"], payload["loglog_slopes"]

    def aug(r: dict) -> str:
        return f"{r['augment_s']:,.0f} s / {r['augment_peak_mib']:,.0f} MiB" if "augment_s" in r else "-"

    table = pd.DataFrame(
        {
            "method": [NAMES[r["method"]] for r in rows],
            "interactions": [f"{r['interactions']:,}" for r in rows],
            "users": [f"{r['users']:,}" for r in rows],
            "items": [f"{r['items']:,}" for r in rows],
            "augmentation (time / peak)": [aug(r) for r in rows],
            "ms / step": [f"{r['step_ms']:.0f}" for r in rows],
            "epoch s at batch 1,024 (extrapolated)": [f"{r['epoch_s_extrapolated']:,.0f}" for r in rows],
            "fit peak MiB": [f"{r['fit_peak_mib']:.0f}" for r in rows],
            "recommend s (users)": [f"{r['recommend_s']:.1f} ({r['recommend_users']:,})" for r in rows],
            "recommend peak MiB (output)": [f"{r['recommend_peak_mib']:.0f} ({r['output_mib']:.0f})" for r in rows],
        }
    )
    title = " and ".join(dict.fromkeys(NAMES[r["method"]].split(" (")[0] for r in rows)) or "LightGCN"
    lines = markdown_header(f"{title} scaling: time per step, memory and recommend() against log size", env) + [
        "Generated log: 10 interactions per user, 100 per item (Zipf 1.1 popularity). One epoch of "
        f"{rows[0]['steps'] if rows else STEPS + 1} steps per size; **epoch s at batch {DEFAULT_BATCH} is "
        "extrapolated** (ms per step x steps). `recommend`: 10,000 users, k = 20, seen items excluded; "
        "a peak of a few MiB means the call reused memory the fit had freed."
        + (
            " LLMRec: the LLM-free augmenter (hashing embedder, item-kNN candidates, generated item "
            "years/genres and user demographics), then LightGCN with `LLMREC_MOVIELENS`; its fit peak is "
            "above what the process held after the augmentation."
            if any(r["method"] == "llmrec" for r in rows)
            else ""
        ),
        "",
        markdown_table(table),
    ]
    if slopes:
        lines.append("")
        lines.append("Log-log slopes against interactions:")
        lines.append("")
        for method, per in slopes.items():
            lines.append(f"- {NAMES[method]}: " + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,300000,1000000,3000000,10000000")
    parser.add_argument("--methods", default="lightgcn,llmrec", help="comma-separated: lightgcn, llmrec")
    add_out_arguments(parser, "lightgcn_scaling", side_suffixes=(".md", ".png"))
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in NAMES]
    if bad or not methods:
        parser.error(f"--methods: unknown {bad} (choose from {', '.join(NAMES)})")
    out = claim_out(parser, args)
    rows = []
    for method in methods:
        for n in (int(s) for s in args.sizes.split(",")):
            row = in_fresh_process(_measure, n, method)
            rows.append(row)
            print(row, flush=True)
    slopes = _slopes(rows)
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
