"""Operators issued per training batch by SASRec, CL4SRec and MCLRec (torch profiler, CPU).

On a GPU, small models are bound by how many kernels the host issues, so the count of aten
operators per batch is a device-independent proxy for a launch-bound step's cost (on CPU, Adam
runs per tensor where CUDA uses multi-tensor kernels, so absolute counts differ on a GPU; the
ratio is what docs/mclrec.md quotes).

Usage::

    python benchmarks/run_mclrec_opcount.py --out benchmarks/results/mclrec_opcount.json
"""

from __future__ import annotations

import argparse
import collections

import torch
from torch.profiler import ProfilerActivity, profile

from structaug.bench import add_out_arguments, claim_out, write_script_results
from structaug.recsys.mclrec import CL4SRec, MCLRec, SASRec, SequenceViews
from structaug.recsys.mclrec._training import train_one_epoch
from structaug.results import environment

VIEWS = SequenceViews(crop_ratio=0.5, mask_ratio=0.5, reorder_ratio=0.8)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-items", type=int, default=2000)
    add_out_arguments(p, "mclrec_opcount", side_suffixes=())
    a = p.parse_args()
    claim_out(p, a)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    X = torch.randint(1, a.n_items + 1, (256, 50), generator=g)
    y = torch.randint(1, a.n_items + 1, (256,), generator=g)
    rows = []
    for name, model in [
        ("SASRec", SASRec(a.n_items)),
        ("CL4SRec", CL4SRec(a.n_items, lmd=0.1)),
        ("MCLRec", MCLRec(a.n_items, lmd=0.04, beta=0.4)),
    ]:
        opts = model.make_optimizers(1e-3)
        train_one_epoch(model, opts, X, y, batch_size=256, gen=g, views=VIEWS)  # warm-up batch
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            train_one_epoch(model, opts, X, y, batch_size=256, gen=g, views=VIEWS)
        ops = [e.name for e in prof.events() if e.name.startswith("aten::")]
        rows.append({"model": name, "aten_ops_per_batch": len(ops), "top": collections.Counter(ops).most_common(8)})
        print(f"{name:8s} {len(ops):6d} aten ops per batch of 256", flush=True)
    write_script_results(
        a.out,
        {
            "benchmark": "mclrec_opcount",
            "environment": environment("cpu"),
            "config": {"n_items": a.n_items, "batch_size": 256, "max_len": 50},
            "records": rows,
        },
    )


if __name__ == "__main__":
    main()
