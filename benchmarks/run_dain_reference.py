"""DAIN: structaug's pipeline against the reference script (srijankr/DAIN), side by side.

Both run the whole DAIN pipeline on the reference's ``synthetic_10K`` tensor with the
reference's settings (150 → 1024 → 1024 → 128 → 1, Adam 1e-3, batches of 1024, up to 50
epochs, patience 10, 50 % new cells, a fresh model retrained on real + new cells), on the same
split: the reference splits with scikit-learn's ``train_test_split`` (90/10, then 80/20) from
NumPy's global random state, and our worker makes the same two calls after the same
``np.random.seed``, so both sides train, validate and test on the same cells (checked: the
test and validation cells' hashes are recorded and compared). Each side runs in its own fresh
process with one torch thread; the order alternates between repeats so drift in the machine's
load does not favour one side.

Stages (seconds, wall clock):

* ``train``: the first model's training epochs (early stopping included).
* ``influence``: ours, ``InfluenceAugmenter.timings_["influence_s"]`` (recording during
  training + entity importance). The reference records ``[h] × residual`` for every cell and
  epoch during training (inside its ``train``) and then, after training, multiplies and sums
  them cell by cell (Step 2), copies the model with that record, and sums entity importances
  (Step 3): the time from the end of its training to its first ``np.random.choice``.
* ``sample``: drawing the new cells and valuing them with the model.
* ``retrain``: the second model's training on real + new cells.

The reference prints "Test RMSE" values that are mean squared errors (it never takes the root);
the worker records their square roots. The reference code stays outside this repository::

    git clone https://github.com/srijankr/DAIN /tmp/DAIN
    OMP_NUM_THREADS=1 python benchmarks/run_dain_reference.py --reference /tmp/DAIN --repeats 3 \\
        --out benchmarks/results/dain_reference.json
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import math
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from structaug.bench import add_out_arguments, claim_out, markdown_header, write_script_results
from structaug.results import alternating_runs, environment, in_fresh_process

STAGES = ["train", "influence", "sample", "retrain", "total"]
SIDES = ["structaug", "reference"]


def _digest(rows: Any) -> str:
    """Order-free hash of a set of row numbers (the split check)."""
    import numpy as np

    return hashlib.sha256(np.sort(np.asarray(rows, dtype=np.int64)).tobytes()).hexdigest()[:16]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def reference_split(data: Path, seed: int) -> tuple[Any, Any, dict[str, Any]]:
    """The reference's split, as its ``main`` makes it: ``(cells [n, order], values [n], rows)``
    with ``rows`` the train/validation/test row numbers."""
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import train_test_split

    table = pd.read_csv(data, sep="\t", header=None).values
    cells, values = table[:, :-1].astype(np.int64), table[:, -1].astype(np.float32)
    np.random.seed(seed)
    rows = np.arange(len(cells))
    _, _, _, _, i_train, i_test = train_test_split(cells, values, rows, test_size=1 - 0.9)
    _, _, _, _, i_train, i_val = train_test_split(cells[i_train], values[i_train], i_train, test_size=0.2)
    return cells, values, {"train": i_train, "validation": i_val, "test": i_test}


def structaug_worker(data: Path, seed: int, epochs: int) -> dict[str, Any]:
    import torch

    from structaug.tensor import InfluenceAugmenter, NeuralTensorCompletion, ObservedTensor, fit_augmented

    torch.set_num_threads(1)
    t_start = time.perf_counter()
    cells, values, rows = reference_split(data, seed)
    shape = tuple(int(v) + 1 for v in cells.max(0))  # the reference's dimensionality
    part = {k: ObservedTensor(cells[r], values[r], shape) for k, r in rows.items()}
    est = NeuralTensorCompletion(max_epochs=epochs, patience=10, device="cpu", random_state=seed)
    aug = InfluenceAugmenter(estimator=est, random_state=seed).fit(part["train"], validation=part["validation"])
    new = aug.sample()
    t0 = time.perf_counter()
    final = fit_augmented(est, part["train"], new, part["validation"])
    retrain = time.perf_counter() - t0
    return {
        "stages": {
            "train": aug.timings_["train_s"],
            "influence": aug.timings_["influence_s"],
            "sample": aug.last_sample_seconds_,
            "retrain": retrain,
            "total": time.perf_counter() - t_start,
        },
        "test_rmse_before": -aug.estimator_.score(part["test"]),
        "test_rmse_after": -final.score(part["test"]),
        "best_epochs": [aug.timings_["best_epoch"], final.best_epoch_],
        "n_new": new.nnz,
        "split": {k: _digest(r) for k, r in rows.items() if k != "train"},
        "peak_mib": _peak_mib(),
    }


def reference_worker(reference: Path, data: Path, seed: int, epochs: int) -> dict[str, Any]:
    """Run the reference's ``main()`` unchanged, timing its stages through its own functions."""
    import random

    import numpy as np
    import torch

    torch.set_num_threads(1)
    random.seed(seed)
    torch.manual_seed(seed)
    np.random.seed(seed)  # its split draws from NumPy's global state (see reference_split)
    sys.path.insert(0, str(reference / "src"))
    os.chdir(tempfile.mkdtemp(prefix="dain_ref_"))  # it appends to output/<name>
    import main as ref  # the reference's src/main.py

    marks: list[tuple[str, float, float]] = []
    split_rows: list[Any] = []

    def timed(name: str, fn: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            out = fn(*args, **kwargs)
            marks.append((name, t0, time.perf_counter()))
            return out

        return run

    def recorded_split(*args: Any, **kwargs: Any) -> Any:
        out = split_call(*args, **kwargs)
        split_rows.append((out[-2], out[-1]))
        return out

    split_call = ref.train_test_split
    ref.train_test_split = recorded_split
    ref.model_train_and_test = timed("train", ref.model_train_and_test)
    ref.data_augmentation = timed("augment", ref.data_augmentation)
    choice = np.random.choice  # the reference draws with it only in Step 4
    np.random.choice = timed("choice", choice)
    sys.argv = ["main.py", "--path", str(data), "--epochs", str(epochs), "--output", "bench.txt"]
    printed = io.StringIO()
    t_start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(printed):
            ref.main()
    finally:
        np.random.choice = choice
    total = time.perf_counter() - t_start
    train = [m for m in marks if m[0] == "train"]
    augment = [m for m in marks if m[0] == "augment"]
    first_choice = min(m[1] for m in marks if m[0] == "choice")
    mse = [
        float(v)
        for v in re.findall(r"Test RMSE (?:before|after) 50% data augmentation = ([0-9.eE+-]+)", printed.getvalue())
    ]
    best_epochs = [int(v) for v in re.findall(r"@ \(Epoch,validation loss\) \((\d+),", printed.getvalue())]
    return {
        "stages": {
            "train": train[0][2] - train[0][1],
            # Step 2 (after training, inside the first data_augmentation) + copy + Step 3
            "influence": (augment[0][2] - train[0][2]) + (first_choice - augment[0][2]),
            "sample": augment[1][1] - first_choice,
            "retrain": augment[1][2] - augment[1][1],
            "total": total,
        },
        "test_rmse_before": math.sqrt(mse[0]),
        "test_rmse_after": math.sqrt(mse[1]),
        "best_epochs": best_epochs,  # of the first and the retrained model (0-based, as ours)
        "split": {"validation": _digest(split_rows[1][1]), "test": _digest(split_rows[0][1])},
        "peak_mib": _peak_mib(),
    }


def run_side(side: str, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """One side in a fresh one-thread process (its own memory peak, nothing cached from the other)."""
    if side == "structaug":
        return in_fresh_process(structaug_worker, args.data, seed, args.epochs, threads=1)
    return in_fresh_process(
        reference_worker, args.reference.resolve(), args.data.resolve(), seed, args.epochs, threads=1
    )


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median per stage and side, and ours / reference."""
    med = {
        side: {s: statistics.median(r["stages"][s] for r in runs if r["side"] == side) for s in STAGES}
        for side in SIDES
    }
    ratio = {s: med["structaug"][s] / med["reference"][s] for s in STAGES if med["reference"][s] > 0}
    share = {side: med[side]["influence"] / med[side]["train"] for side in SIDES}
    rmse = {
        side: {
            k: statistics.mean(r[k] for r in runs if r["side"] == side) for k in ("test_rmse_before", "test_rmse_after")
        }
        for side in SIDES
    }
    peak = {side: statistics.median(r["peak_mib"] for r in runs if r["side"] == side) for side in SIDES}
    return {"median_s": med, "ratio": ratio, "influence_share_of_train": share, "test_rmse": rmse, "peak_mib": peak}


def markdown(payload: dict[str, Any]) -> str:
    s = payload["summary"]
    env = payload["environment"]
    lines = markdown_header("DAIN: structaug against the reference script (synthetic_10K)", env) + [
        f"One torch thread per process, {payload['config']['repeats']} repeat(s) per side "
        f"(alternating order), up to {payload['config']['epochs']} epochs with patience 10, the same split "
        f"(same cells on both sides: {payload['same_split']}). Median seconds per stage:",
        "",
        "| stage | structaug | reference | structaug / reference |",
        "|---|---|---|---|",
    ]
    for st in STAGES:
        ratio = s["ratio"].get(st)
        lines.append(
            f"| {st} | {s['median_s']['structaug'][st]:.2f} | {s['median_s']['reference'][st]:.2f} | "
            + (f"{ratio:.3f}" if ratio is not None else "—")
            + " |"
        )
    lines += [
        "",
        "| | structaug | reference |",
        "|---|---|---|",
        "| influence / train | "
        + " | ".join(f"{100 * s['influence_share_of_train'][side]:.1f} %" for side in SIDES)
        + " |",
        "| test RMSE before / after augmentation (mean) | "
        + " | ".join(
            f"{s['test_rmse'][side]['test_rmse_before']:.4f} / {s['test_rmse'][side]['test_rmse_after']:.4f}"
            for side in SIDES
        )
        + " |",
        "| peak resident memory (MiB, median) | " + " | ".join(f"{s['peak_mib'][side]:.0f}" for side in SIDES) + " |",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path, required=True, help="a checkout of srijankr/DAIN (outside this repo)")
    p.add_argument("--data", type=Path, default=None, help="default: <reference>/data/synthetic_10K.tensor")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--seed", type=int, default=0, help="the first repeat's seed (then +1 each)")
    add_out_arguments(p, "dain_reference")
    a = p.parse_args()
    if a.data is None:
        a.data = a.reference / "data" / "synthetic_10K.tensor"
    out = claim_out(p, a)
    if a.epochs < 2:  # with one epoch the reference's influence step squeezes away its epoch axis and fails
        p.error(f"--epochs {a.epochs}: the reference script needs at least 2")
    if not (a.reference / "src" / "main.py").is_file():
        p.error(f"--reference {a.reference}: no src/main.py there (clone https://github.com/srijankr/DAIN)")
    if not a.data.is_file():
        p.error(f"--data {a.data}: no such file")

    runs = alternating_runs(
        SIDES,
        a.repeats,
        a.seed,
        lambda side, seed: run_side(side, a, seed),
        lambda side, seed, r: f"seed {seed} {side:>9}: " + ", ".join(f"{k} {v:.2f}s" for k, v in r["stages"].items()),
    )
    splits = {(r["seed"], r["side"]): r["split"] for r in runs}
    same = all(splits[(r["seed"], "structaug")] == splits[(r["seed"], "reference")] for r in runs)
    payload = {
        "benchmark": "dain_reference",
        "environment": environment("cpu"),
        "config": {"repeats": a.repeats, "epochs": a.epochs, "seed": a.seed, "data": a.data.name},
        "same_split": same,
        "runs": runs,
    }
    payload["summary"] = summarize(runs)
    md = markdown(payload)
    write_script_results(out, payload, md)
    print(md)


if __name__ == "__main__":
    main()
