"""Where DAIN's new cells go: their entities against the training cells' and random cells'.

DAIN draws each new cell's entity per mode in proportion to the entity's importance (the summed
influence of its training cells); ``RandomCellAugmenter`` draws unobserved cells uniformly. For
each mode this reports which entities the new cells land on, measured by how many training cells
those entities have: the share of cells on the most-observed tenth of the entities and on the
least-observed quarter, the median training count of a cell's entity, and how many distinct
entities are reached — for DAIN's cells, random cells and the training cells themselves. Both
augmenters start from the same fitted network (the one DAIN scores), as in ``structaug bench dain``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/run_dain_placement.py --dataset ml-100k --seeds 0,1,2 \\
        --out benchmarks/results/dain_placement.json
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch

from structaug.bench import (
    add_out_arguments,
    claim_out,
    markdown_header,
    nonneg_int,
    script_command,
    write_script_results,
)
from structaug.bench.dain import hidden_sizes
from structaug.results import environment
from structaug.tensor import (
    InfluenceAugmenter,
    NeuralTensorCompletion,
    ObservedTensor,
    RandomCellAugmenter,
    load_tensor_dataset,
)

SOURCES = ("DAIN", "random", "training")
ML_100K_MODES = ["mode 0 (users)", "mode 1 (items)", "mode 2 (time)"]


def placement(cells: ObservedTensor, train: ObservedTensor, shape: tuple[int, ...]) -> list[dict[str, float]]:
    """Per mode: where ``cells``' entities stand among the entities ranked by their training counts."""
    out = []
    for m, n in enumerate(shape):
        count = np.bincount(train.indices[:, m], minlength=n)
        idx = cells.indices[:, m]
        out.append(
            {
                "top_decile_share": float(np.mean(count[idx] >= np.quantile(count, 0.9))),
                "bottom_quartile_share": float(np.mean(count[idx] <= np.quantile(count, 0.25))),
                "median_train_count": float(np.median(count[idx])),
                "distinct_entities": int(len(np.unique(idx))),
            }
        )
    return out


def one_seed(tensor: ObservedTensor, seed: int, hidden: tuple[int, ...], factor_rank: int) -> dict[str, Any]:
    tr, va, _ = tensor.split(random_state=seed)
    est = NeuralTensorCompletion(
        hidden_sizes=hidden,
        entity_biases=True,
        factor_rank=factor_rank,
        device="cpu",
        random_state=seed,
    )
    dain = InfluenceAugmenter(estimator=est, random_state=seed).fit(tr, validation=va, shape=tensor.shape)
    rnd = RandomCellAugmenter(random_state=seed).fit(tr, validation=va, prefit=dain.estimator_)
    sets = {"DAIN": dain.sample(), "random": rnd.sample(), "training": tr}
    return {"seed": seed, "n_new": sets["DAIN"].nnz, **{k: placement(c, tr, tensor.shape) for k, c in sets.items()}}


def markdown(payload: dict) -> str:
    cfg = payload["config"]
    lines = markdown_header(f"DAIN: where the new cells go ({cfg['dataset']})", payload["environment"]) + [
        f"Command: `{cfg['command']}`",
        "",
        f"NeuralTensorCompletion(hidden_sizes={tuple(cfg['hidden_sizes'])}, entity_biases=True, "
        f"factor_rank={cfg['factor_rank']}), reference budget (50 epochs, patience 10), seeds {cfg['seeds']}; "
        "new cells: 0.5 × the training cells. Per mode, entities ranked by their number of training cells: the "
        "share of cells on the top tenth and on the bottom quarter, the median training count of a cell's "
        "entity, and the distinct entities reached; means over seeds.",
        "",
        "| mode | cells | on the top 10 % | on the bottom 25 % | median training count | distinct entities |",
        "|---|---|---|---|---|---|",
    ]
    runs = payload["runs"]
    for m, name in enumerate(cfg["mode_names"]):
        for src in SOURCES:
            vals = {k: float(np.mean([r[src][m][k] for r in runs])) for k in runs[0][src][m]}
            lines.append(
                f"| {name} | {src} | {vals['top_decile_share']:.3f} | {vals['bottom_quartile_share']:.3f} "
                f"| {vals['median_train_count']:.0f} | {vals['distinct_entities']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="ml-100k", help="a tensor of structaug bench dain (or 'lowrank')")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--hidden-sizes", type=hidden_sizes, default=(), help="MLP widths or 'none' (default: none)")
    p.add_argument("--factor-rank", type=nonneg_int, default=16)
    p.add_argument("--data-dir", default=None)
    add_out_arguments(p, "dain_placement")
    a = p.parse_args(argv)
    out = claim_out(p, a)
    seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    torch.set_num_threads(1)
    tensor = load_tensor_dataset(a.dataset, a.data_dir)  # a missing data folder fails here, before any fit
    payload = {
        "benchmark": "dain_placement",
        "environment": environment("cpu"),
        "config": {
            "dataset": a.dataset,
            "seeds": seeds,
            "hidden_sizes": list(a.hidden_sizes),
            "factor_rank": a.factor_rank,
            "mode_names": ML_100K_MODES if a.dataset == "ml-100k" else [f"mode {m}" for m in range(tensor.order)],
            "command": script_command(__file__, argv),
        },
        "runs": [],
    }
    for seed in seeds:  # written after every seed: a stop keeps what finished
        payload["runs"].append(one_seed(tensor, seed, tuple(a.hidden_sizes), a.factor_rank))
        write_script_results(out, payload, markdown(payload))
    print(markdown(payload), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
