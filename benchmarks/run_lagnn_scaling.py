"""LA-GCN on generated graphs of 10^4 to 10^6 nodes: mini-batch (NeighborLoader) against full-batch.

For each size, on a stochastic-block-model graph (:func:`structaug.datasets.make_sbm_graph`:
8 classes, 128 bag-of-words features, average degree 10; masks redrawn here: 5 % of the
nodes for training, 1,000 for validation, 1,000 for test), in a fresh spawned process per
measurement (so each peak is its own):

* ``peak_mib`` — the peak of the process's resident memory during a first one-epoch fit
  of LA-GCN (paper settings: concat 1, 4 passes per step, consistency loss) above what it
  held just before (the graph, its features and the fitted CVAE are held before; Linux
  ``VmHWM`` reset through ``/proc/self/clear_refs``). Measured on the first fit because the
  allocator keeps freed memory: a second fit in the same process reuses it unseen;
* ``epoch_s`` — then, warm, the mean of two training epochs, each over all training nodes
  plus the validation pass: measured, not extrapolated.

``minibatch``: ``batch_size`` 1,024 training nodes, ``num_neighbors`` [10, 10], generated
features drawn per batch for the batch's nodes only. ``fullbatch``: the paper's training,
[N, 1, F] generated features per pass. The CVAE is fitted once per process on a 10^4-node
graph of the same generator (same feature distribution; ``selection="last"``, 2 epochs):
this benchmark measures the GNN's training, whose cost is what grows with the graph.
Log-log slopes of time and memory against N are fitted per mode.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/run_lagnn_scaling.py --out benchmarks/results/lagnn_scaling.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

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

N_CLASSES, N_FEATURES, AVG_DEGREE = 8, 128, 10.0
TRAIN_FRACTION, N_VAL, N_TEST = 0.05, 1000, 1000
BATCH_SIZE, NUM_NEIGHBORS = 1024, [10, 10]


def _graph(n_nodes: int):
    import torch

    from structaug.datasets import make_sbm_graph

    g = make_sbm_graph(
        n_nodes, N_CLASSES, N_FEATURES, avg_degree=AVG_DEGREE, train_per_class=1, n_val=1, random_state=0
    )
    perm = torch.randperm(n_nodes, generator=torch.Generator().manual_seed(0))
    n_train = int(TRAIN_FRACTION * n_nodes)
    for name, part in (
        ("train_mask", perm[:n_train]),
        ("val_mask", perm[n_train : n_train + N_VAL]),
        ("test_mask", perm[n_train + N_VAL : n_train + N_VAL + N_TEST]),
    ):
        mask = torch.zeros(n_nodes, dtype=torch.bool)
        mask[part] = True
        setattr(g, name, mask)
    return g


def _measure(mode: str, n_nodes: int) -> dict:
    import torch

    from structaug.graph import LocalAugmenter, fit_node_model

    torch.set_num_threads(1)
    aug = LocalAugmenter(max_epochs=2, selection="last", batch_size=1024, random_state=0, device="cpu")
    aug.fit(_graph(10_000))
    g = _graph(n_nodes)
    kw = dict(augmenter=aug, random_state=0, device="cpu", patience=None, normalize_features=False)
    if mode == "minibatch":
        kw.update(batch_size=BATCH_SIZE, num_neighbors=NUM_NEIGHBORS)
    with peak_memory_above_start() as mem:
        fit_node_model("lagcn", g, max_epochs=1, **kw)  # memory; also the warm-up of the timed fit
    t0 = time.perf_counter()
    res = fit_node_model("lagcn", g, max_epochs=2, **kw)
    wall = time.perf_counter() - t0
    return {
        "mode": mode,
        "nodes": n_nodes,
        "edges": int(g.edge_index.shape[1]),
        "train_nodes": int(g.train_mask.sum()),
        "epoch_s": res.epoch_time,
        "fit_s": wall,
        "peak_mib": mem.mib,
        "features_mib": g.x.numel() * g.x.element_size() / 2**20,
    }


def _slopes(rows: list[dict], min_nodes: int = 0) -> dict[str, dict[str, float]]:
    out = {}
    for mode in sorted({r["mode"] for r in rows}):
        rs = [r for r in rows if r["mode"] == mode and r["nodes"] >= min_nodes]
        if len(rs) >= 2:
            n = [r["nodes"] for r in rs]
            out[mode] = {k: loglog_slope(n, [r[k] for r in rs]) for k in ("epoch_s", "peak_mib")}
    return out


def _plot(rows: list[dict], slopes: dict, path: Path) -> None:
    panels = []
    for key, label in (("epoch_s", "seconds per epoch"), ("peak_mib", "peak MiB above start")):
        series = []
        for mode in slopes:
            rs = [r for r in rows if r["mode"] == mode]
            series.append(
                (f"{mode} (slope {slopes[mode][key]:.2f})", [r["nodes"] for r in rs], [r[key] for r in rs], "o-")
            )
        panels.append(("nodes", label, series))
    loglog_figure(path, panels, "LA-GCN training on SBM graphs, one CPU thread")


def _markdown(payload: dict) -> str:
    env, cfg, rows = payload["environment"], payload["config"], payload["rows"]
    table = pd.DataFrame(
        {
            "mode": [r["mode"] for r in rows],
            "nodes": [f"{r['nodes']:,}" for r in rows],
            "edges": [f"{r['edges']:,}" for r in rows],
            "training nodes": [f"{r['train_nodes']:,}" for r in rows],
            "epoch s": [f"{r['epoch_s']:.2f}" for r in rows],
            "peak MiB above start": [f"{r['peak_mib']:.0f}" for r in rows],
            "features MiB": [f"{r['features_mib']:.0f}" for r in rows],
        }
    )
    lines = markdown_header("LA-GCN scaling: mini-batch (NeighborLoader) and full-batch training", env) + [
        f"Graph: {cfg['graph']}; {cfg['masks']}. LA-GCN at the paper's "
        f"settings (concat 1, 4 passes per step, consistency loss); mini-batch: batch {cfg['batch_size']}, "
        f"neighbours {cfg['num_neighbors']}. One epoch = all training nodes + the validation pass, measured "
        "(mean of two, warm). Peak memory: resident memory during a first one-epoch fit above what the "
        "process held before it (the graph and its features are held before).",
        "",
        markdown_table(table),
        "",
        "Log-log slopes against nodes (1 = linear, 0 = flat):",
        "",
    ]
    for label, key in (("all sizes", "loglog_slopes"), ("from 10^5 nodes", "loglog_slopes_from_1e5_nodes")):
        lines += [
            f"- {m}, {label}: epoch time {s['epoch_s']:.2f}, peak memory {s['peak_mib']:.2f}"
            for m, s in payload[key].items()
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,30000,100000,300000,1000000")
    parser.add_argument("--fullbatch-max", type=int, default=300_000, help="largest size also run full-batch")
    add_out_arguments(parser, "lagnn_scaling", side_suffixes=(".md", ".png"))
    args = parser.parse_args(argv)
    out = claim_out(parser, args)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        for mode in ("minibatch", "fullbatch"):
            if mode == "fullbatch" and n > args.fullbatch_max:
                continue
            row = in_fresh_process(_measure, mode, n)
            rows.append(row)
            print(row, flush=True)
    slopes = _slopes(rows)
    # a batch's two-hop neighbourhood (up to ~10^5 nodes) covers most of a smaller graph:
    # memory can only stop growing beyond that, so the slope is also fitted from 10^5 nodes on
    large = _slopes(rows, min_nodes=100_000)
    payload = {
        "benchmark": "lagnn_scaling",
        "environment": environment("cpu"),
        "config": vars(args)
        | {
            "out": str(out),
            "graph": f"SBM, {N_CLASSES} classes, {N_FEATURES} features, average degree {AVG_DEGREE}",
            "masks": f"train {TRAIN_FRACTION:.0%} of nodes, val {N_VAL}, test {N_TEST}",
            "batch_size": BATCH_SIZE,
            "num_neighbors": NUM_NEIGHBORS,
        },
        "rows": rows,
        "loglog_slopes": slopes,
        "loglog_slopes_from_1e5_nodes": large,
    }
    text = _markdown(payload)
    write_script_results(out, payload, text)
    if slopes:
        _plot(rows, slopes, out.with_suffix(".png"))
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
