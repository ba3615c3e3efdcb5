"""LAGNN: structaug's CVAE stage and LA-GCN epochs against the reference scripts, side by side.

The reference (SongtaoLiu0823/LAGNN, ``Citation/``) runs unchanged, imported from a checkout
outside this repository; each measurement runs in its own fresh one-thread process, and the
two sides alternate which goes first. On Cora:

* ``cvae``: CVAE training iterations (a batch of 64 (neighbour, centre) pairs, then the
  U-score model selection with 100 dropout models), the reference's defaults
  (``cvae_generate_citation.py``): its ``cvae_pretrain.generated_generator`` against
  ``LocalAugmenter(uscore_every=1).fit``. An iteration takes seconds, so each side is stopped
  after ``--iterations`` of them (from outside: a wrapper on the function each side calls once
  per iteration, ``feature_tensor_normalize`` and ``u_score``, records the time and ends the
  run); the median time between iterations, and peak resident memory (data, pairs and the
  selector GCN's pre-training included).
* ``lagcn``: LA-GCN training epochs with the reference's Cora settings (``semi.sh``: hidden 8,
  concat 1, 4 samples, lr 0.01, no early stopping): its ``lagcn.py --runs 1`` against
  ``fit_node_model("lagcn", ..., patience=None)``. Median seconds per epoch (the reference's
  from the time between its per-epoch prints), and peak memory. The reference loads its
  pre-trained CVAE from ``model/cora.pkl``, which is stored with Git LFS; the worker gives it a
  fresh CVAE of the same architecture instead (an epoch costs the same whatever the weights).

The reference was written for networkx 2 (whose ``adjacency_matrix`` returned a scipy sparse
*matrix*); beside networkx 3 its worker converts that result back to a matrix, nothing else.

Usage (the reference code stays outside this repository)::

    git clone https://github.com/SongtaoLiu0823/LAGNN /tmp/LAGNN
    OMP_NUM_THREADS=1 python benchmarks/run_lagnn_reference.py --reference /tmp/LAGNN \\
        --out benchmarks/results/lagnn_reference.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import resource
import runpy
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from structaug.bench import add_out_arguments, claim_out, markdown_header, write_script_results
from structaug.results import environment, in_fresh_process

SIDES = ["structaug", "reference"]
STAGES = ["cvae", "lagcn"]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _cora(data_dir: str | None) -> Any:
    from structaug.datasets import load_planetoid

    return load_planetoid("Cora", data_dir)


class _Enough(Exception):
    """Raised from inside a side's training loop once enough iterations were timed."""


def _stop_after(iterations: int, module: Any, name: str) -> list[float]:
    """Wrap ``module.name`` (called once per CVAE iteration) to record when each call starts and
    to end the run at call ``iterations + 1``; returns the list it fills."""
    real, stamps = getattr(module, name), []

    def timed(*a: Any, **k: Any) -> Any:
        stamps.append(time.perf_counter())
        if len(stamps) > iterations:
            raise _Enough
        return real(*a, **k)

    setattr(module, name, timed)
    return stamps


def _iteration_result(stamps: list[float]) -> dict[str, Any]:
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return {"iteration_s": statistics.median(gaps), "iterations": len(gaps), "peak_mib": _peak_mib()}


def structaug_worker(stage: str, seed: int, epochs: int, iterations: int, data_dir: str | None) -> dict[str, Any]:
    import torch

    from structaug.graph import LocalAugmenter, fit_node_model

    torch.set_num_threads(1)
    data = _cora(data_dir)
    if stage == "cvae":
        from structaug.graph import _augmenter

        stamps = _stop_after(iterations, _augmenter, "u_score")
        with contextlib.suppress(_Enough):
            LocalAugmenter(max_epochs=1, uscore_every=1, device="cpu", random_state=seed).fit(data)
        return _iteration_result(stamps)
    # the CVAE's weights do not change an epoch's cost: one quick epoch without U scores
    aug = LocalAugmenter(max_epochs=1, selection="last", device="cpu", random_state=seed).fit(data)
    res = fit_node_model(
        "lagcn", data, augmenter=aug, dataset="Cora", max_epochs=epochs, patience=None, device="cpu", random_state=seed
    )
    assert res.train_result is not None
    times = [h["epoch_time"] for h in res.train_result.history]
    return {"epoch_s": statistics.median(times), "epochs": len(times), "peak_mib": _peak_mib()}


def reference_worker(stage: str, citation: Path, seed: int, epochs: int, iterations: int) -> dict[str, Any]:
    """Run the reference's own functions and scripts, timed from outside."""
    import random

    import numpy as np
    import torch

    torch.set_num_threads(1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    sys.path.insert(0, str(citation))  # its modules read data/ and model/ relative to sys.path[0]
    os.chdir(citation)
    import networkx as nx
    import scipy.sparse as sp

    if int(nx.__version__.split(".")[0]) >= 3:  # it indexes rows of a scipy sparse matrix (networkx 2)
        to_array = nx.adjacency_matrix
        nx.adjacency_matrix = lambda *a, **k: sp.csr_matrix(to_array(*a, **k))
    import cvae_pretrain  # the reference's Citation/cvae_pretrain.py

    quiet = lambda it, *a, **k: it  # no progress bars
    if stage == "cvae":
        from utils import load_data, normalize_adj, normalize_features, sparse_mx_to_torch_sparse_tensor

        adj, features, idx_train, _, _, labels = load_data("cora")
        features = features.toarray()
        adj_n = sparse_mx_to_torch_sparse_tensor(normalize_adj(adj + sp.eye(adj.shape[0])))
        feats_n = torch.FloatTensor(normalize_features(features))
        labels = torch.max(torch.LongTensor(labels), dim=1)[1]
        # cvae_generate_citation.py's defaults, one CVAE epoch, on the CPU
        args = argparse.Namespace(
            pretrain_epochs=1, batch_size=64, latent_size=10, pretrain_lr=0.01, conditional=True,
            update_epochs=20, num_models=100, warmup=200, cuda=False,
        )  # fmt: skip
        cvae_pretrain.tqdm = quiet
        cvae_pretrain.trange = lambda n, *a, **k: range(n)
        stamps = _stop_after(iterations, cvae_pretrain, "feature_tensor_normalize")
        # it prints the U score at every iteration
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(_Enough):
            cvae_pretrain.generated_generator(
                args, torch.device("cpu"), adj, features, labels, feats_n, adj_n, torch.LongTensor(idx_train)
            )
        return _iteration_result(stamps)

    from cvae_models import VAE

    real_load = torch.load

    def load(path: Any, *a: Any, **k: Any) -> Any:
        if str(path).endswith("model/cora.pkl"):  # stored with Git LFS: a fresh CVAE of its shape
            f = 1433
            return VAE(
                encoder_layer_sizes=[f, 256],
                latent_size=10,
                decoder_layer_sizes=[256, f],
                conditional=True,
                conditional_size=f,
            )
        return real_load(path, *a, **k)

    stamps: list[float] = []

    def timed_print(*a: Any, **k: Any) -> None:
        if a and str(a[0]).startswith("Epoch:"):
            stamps.append(time.perf_counter())

    torch.load = load
    sys.argv = ["lagcn.py", "--dataset", "cora", "--epochs", str(epochs), "--runs", "1", "--hidden", "8"]
    sys.argv += ["--concat", "1", "--samples", "4", "--lr", "0.01", "--seed", str(seed)]
    import tqdm

    tqdm.trange = lambda n, *a, **k: range(n)
    try:
        runpy.run_path(str(citation / "lagcn.py"), init_globals={"print": timed_print}, run_name="__main__")
    finally:
        torch.load = real_load
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return {"epoch_s": statistics.median(gaps), "epochs": len(stamps), "peak_mib": _peak_mib()}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per (stage, side) and structaug / reference."""
    key = {"cvae": "iteration_s", "lagcn": "epoch_s"}
    out: dict[str, Any] = {}
    for st in STAGES:
        med = {
            side: {
                m: statistics.median(r[m] for r in runs if r["stage"] == st and r["side"] == side)
                for m in (key[st], "peak_mib")
            }
            for side in SIDES
        }
        ratio = {m: med["structaug"][m] / med["reference"][m] for m in med["structaug"]}
        out[st] = {"median": med, "structaug_over_reference": ratio}
    return out


def markdown(payload: dict[str, Any]) -> str:
    s, env, cfg = payload["summary"], payload["environment"], payload["config"]
    rows = [
        ("CVAE iteration (s)", "cvae", "iteration_s", ".3f"),
        ("CVAE stage peak memory (MiB)", "cvae", "peak_mib", ".0f"),
        ("LA-GCN epoch (s)", "lagcn", "epoch_s", ".4f"),
        ("LA-GCN peak memory (MiB)", "lagcn", "peak_mib", ".0f"),
    ]
    lines = markdown_header("LAGNN: structaug against the reference scripts (Cora)", env) + [
        f"One torch thread per process, {cfg['repeats']} repeat(s) per side "
        f"(alternating order); medians. CVAE: {cfg['iterations']} iterations timed per run (a batch of 64 "
        f"pairs + the U score with 100 models each). LA-GCN: {cfg['epochs']} epochs per run, hidden 8, "
        "concat 1, 4 samples, no early stopping.",
        "",
        "| measurement | structaug | reference | structaug / reference |",
        "|---|---|---|---|",
    ]
    for label, st, m, fmt in rows:
        med, ratio = s[st]["median"], s[st]["structaug_over_reference"][m]
        lines.append(f"| {label} | {med['structaug'][m]:{fmt}} | {med['reference'][m]:{fmt}} | {ratio:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--reference", type=Path, required=True, help="a checkout of SongtaoLiu0823/LAGNN (outside this repo)"
    )
    p.add_argument("--data-dir", default=None, help="structaug's data root (default: STRUCTAUG_DATA, ../shared)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--epochs", type=int, default=30, help="LA-GCN epochs timed per run")
    p.add_argument("--iterations", type=int, default=10, help="CVAE iterations timed per run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stages", default="cvae,lagcn")
    add_out_arguments(p, "lagnn_reference")
    a = p.parse_args()
    out = claim_out(p, a)
    if not (a.reference / "Citation" / "lagcn.py").is_file():
        p.error(
            f"--reference {a.reference}: no Citation/lagcn.py there (clone https://github.com/SongtaoLiu0823/LAGNN)"
        )
    stages = [s for s in a.stages.split(",") if s]
    if not stages or any(s not in STAGES for s in stages):
        p.error(f"--stages {a.stages!r}: choose from {STAGES}")
    runs: list[dict[str, Any]] = []
    for rep in range(a.repeats):
        for stage in stages:
            for side in SIDES if rep % 2 == 0 else SIDES[::-1]:
                seed = a.seed + rep
                if side == "structaug":
                    r = in_fresh_process(structaug_worker, stage, seed, a.epochs, a.iterations, a.data_dir, threads=1)
                else:
                    citation = (a.reference / "Citation").resolve()
                    r = in_fresh_process(reference_worker, stage, citation, seed, a.epochs, a.iterations, threads=1)
                runs.append({"stage": stage, "side": side, "seed": a.seed + rep, **r})
                print(f"{stage} {side:>9}: {r}", flush=True)
    payload: dict[str, Any] = {
        "benchmark": "lagnn_reference",
        "environment": environment("cpu"),
        "config": {
            "repeats": a.repeats,
            "epochs": a.epochs,
            "iterations": a.iterations,
            "seed": a.seed,
            "dataset": "Cora",
        },
        "runs": runs,
    }
    complete = set(stages) == set(STAGES)  # a partial run (--stages) has no summary table
    if complete:
        payload["summary"] = summarize(runs)
    write_script_results(out, payload, markdown(payload) if complete else None)
    print(json.dumps(payload.get("summary", {}), indent=1))


if __name__ == "__main__":
    main()
