"""DAIN scaling: time of each stage against the number of observed cells.

The paper claims DAIN's cost is near-linear in nnz. On generated low-rank tensors of
10K → 1M cells (density held at 0.1 %) we time, with one epoch per training stage and
the reference architecture (150 → 1024 → 1024 → 128 → 1, batch 1024):

* ``train``     — one epoch of the neural completion model (without influence scoring),
* ``influence`` — TracIn scoring of every training cell for that epoch + entity importance
  (the default ``tracin="recorded"``: from the training forward pass, as the reference does),
* ``sample``    — drawing 50 % × n_train new cells and valuing them with the model,
* ``retrain``   — one epoch of a fresh model on real + augmented cells,

then fit ``log(time) = a + slope · log(nnz)`` per stage (slope 1 = linear), and report each
stage's throughput in cells per second (training and influence: training cells; sampling: new
cells; retraining: real + new cells) and influence's share of the training time. Results are
written after every size, so an interrupted run keeps what it finished.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/run_dain_scaling.py --max-nnz 1000000 \
        --out benchmarks/results/dain_scaling.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from structaug.bench import add_out_arguments, claim_out, markdown_header, write_script_results
from structaug.results import environment, loglog_figure, loglog_slope
from structaug.tensor import InfluenceAugmenter, NeuralTensorCompletion, fit_augmented, make_tensor

STAGES = ["train", "influence", "sample", "retrain"]


def one_size(nnz: int, *, density: float, third: int, seed: int, device: str) -> dict:
    side = int(math.ceil(math.sqrt(nnz / (third * density))))
    shape = (side, side, third)
    t0 = time.perf_counter()
    tensor = make_tensor(shape, nnz=nnz, rank=5, random_state=seed)
    gen_s = time.perf_counter() - t0
    tr, va, te = tensor.split(random_state=seed)
    est = NeuralTensorCompletion(max_epochs=1, patience=None, device=device, random_state=seed)
    aug = InfluenceAugmenter(estimator=est, random_state=seed).fit(tr, validation=va, shape=shape)
    cells = aug.sample()
    t1 = time.perf_counter()
    model = fit_augmented(est, tr, cells, va)
    retrain_s = time.perf_counter() - t1
    return {
        "nnz": nnz,
        "n_train": tr.nnz,
        "n_aug": cells.nnz,
        "shape": list(shape),
        "generate_s": gen_s,
        "train": aug.timings_["train_s"],
        "influence": aug.timings_["influence_s"],
        "sample": aug.last_sample_seconds_,
        "retrain": retrain_s,
        "test_rmse": -model.score(te),
    }


def throughput(r: dict) -> dict[str, float]:
    """Cells per second of each stage (the cells that stage works on)."""
    cells = {
        "train": r["n_train"],
        "influence": r["n_train"],
        "sample": r["n_aug"],
        "retrain": r["n_train"] + r["n_aug"],
    }
    return {s: cells[s] / max(r[s], 1e-9) for s in STAGES}


def slopes(rows: list[dict]) -> dict[str, float]:
    if len(rows) < 2:
        return {}
    x = [r["nnz"] for r in rows]
    return {s: loglog_slope(x, [max(r[s], 1e-6) for r in rows]) for s in STAGES + ["total"]}


def write_outputs(rows: list[dict], out: Path, meta: dict) -> None:
    for r in rows:
        r["total"] = sum(r[s] for s in STAGES)
        r["cells_per_s"] = throughput(r)
        r["influence_share_of_train"] = r["influence"] / r["train"]
    sl = slopes(rows)
    payload = {
        "benchmark": "dain_scaling",
        "environment": environment("cpu"),
        "config": meta,
        "rows": rows,
        "loglog_slopes": sl,
    }
    lines = markdown_header("DAIN scaling (time per stage vs observed cells)", payload["environment"]) + [
        "One epoch per training stage, reference architecture; generated rank-5 tensors at 0.1 % density.",
        "",
        "| nnz | n_train | n_aug | train_s | influence_s | sample_s | retrain_s | total_s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['nnz']:,} | {r['n_train']:,} | {r['n_aug']:,} | "
            + " | ".join(f"{r[s]:.3f}" for s in STAGES + ["total"])
            + " |"
        )
    if sl:
        lines += ["", "Fitted log-log slope (1.0 = linear): " + ", ".join(f"{s} {v:.2f}" for s, v in sl.items())]
    lines += ["", "Throughput (cells per second) and influence's share of the training time:", ""]
    lines.append("| nnz | " + " | ".join(f"{s} cells/s" for s in STAGES) + " | influence / train |")
    lines.append("|---|" + "---|" * (len(STAGES) + 1))
    for r in rows:
        cps = r["cells_per_s"]
        lines.append(
            f"| {r['nnz']:,} | "
            + " | ".join(f"{cps[s]:,.0f}" for s in STAGES)
            + f" | {100 * r['influence_share_of_train']:.2f} % |"
        )
    write_script_results(out, payload, "\n".join(lines))
    if len(rows) >= 2:
        x = [float(r["nnz"]) for r in rows]
        series = [(f"{s} (slope {sl[s]:.2f})", x, [r[s] for r in rows], "o-") for s in STAGES + ["total"]]
        series.append(("linear reference", x, [rows[0]["total"] * v / x[0] for v in x], "k:"))
        loglog_figure(
            out.with_suffix(".png"),
            [("observed cells (nnz)", "seconds", series)],
            "DAIN time per stage (1 epoch per training stage, CPU)",
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,30000,100000,300000,1000000")
    p.add_argument("--max-nnz", type=int, default=1_000_000, help="skip sizes above this")
    p.add_argument("--density", type=float, default=1e-3)
    p.add_argument("--third", type=int, default=20, help="size of the third mode")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    add_out_arguments(p, "dain_scaling", side_suffixes=(".md", ".png"))
    a = p.parse_args()
    claim_out(p, a)
    torch.set_num_threads(a.threads)
    sizes = [int(s) for s in a.sizes.split(",") if int(s) <= a.max_nnz]
    meta = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}
    rows: list[dict] = []
    for n in sizes:
        row = one_size(n, density=a.density, third=a.third, seed=a.seed, device=a.device)
        rows.append(row)
        print(f"nnz {n:>9,}: " + ", ".join(f"{s} {row[s]:.2f}s" for s in STAGES), flush=True)
        write_outputs(rows, a.out, meta)
    print(json.dumps(slopes(rows), indent=1))


if __name__ == "__main__":
    main()
