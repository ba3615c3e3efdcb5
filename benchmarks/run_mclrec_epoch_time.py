"""Wall and CPU time of one full training epoch on Beauty, per model and precision.

The MCLRec issue asks for "an epoch of MCLRec on Beauty (22k users, 12k items) on 2 CPU cores
well under a minute". This times whole epochs (131,413 training prefixes, 514 batches of 256,
length-bucketed as in the benchmark) of SASRec, CL4SRec and MCLRec with the committed training
loop, at float32 and at bf16 autocast, with ``--threads`` torch threads, and records the
environment. Run it on an otherwise idle machine: wall time is the number the goal is about.

On a GPU (``--device cuda``) the first epoch of each model includes CUDA/cuBLAS start-up;
``--epochs 2`` times a second, warm epoch too (each epoch is recorded).

Usage::

    python benchmarks/run_mclrec_epoch_time.py --threads 2 --out benchmarks/results/mclrec_epoch_time.json
    python benchmarks/run_mclrec_epoch_time.py --device cuda --epochs 2 --out benchmarks/results/mclrec_epoch_time_gpu.json
"""

from __future__ import annotations

import argparse
import time

import torch

from structaug.bench import add_out_arguments, claim_out, markdown_header, write_script_results
from structaug.datasets import load_seqrec
from structaug.recsys.mclrec import (
    CL4SRec,
    MCLRec,
    SASRec,
    SequenceViews,
    build_sequences,
    leave_one_out,
    prefix_examples,
    prepare_interactions,
)
from structaug.recsys.mclrec._training import PRECISIONS, train_one_epoch
from structaug.results import environment
from structaug.train import resolve_device

MODELS = {
    "SASRec": lambda n: SASRec(n),
    "CL4SRec": lambda n: CL4SRec(n, lmd=0.1),
    "MCLRec": lambda n: MCLRec(n, lmd=0.0, beta=0.05),
    # stage 2 trains on stage 3's encodings: one encoder pass over 2 x the batch fewer per step
    "MCLRec-shared": lambda n: MCLRec(n, lmd=0.0, beta=0.05, meta_forward="shared"),
}
VIEWS = SequenceViews(crop_ratio=0.5, mask_ratio=0.5, reorder_ratio=0.8)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="Beauty")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", default="SASRec,CL4SRec,MCLRec", help=f"comma-separated, of {', '.join(MODELS)}")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--epochs", type=int, default=1, help="epochs timed per model and precision")
    add_out_arguments(p, "mclrec_epoch_time")
    a = p.parse_args()
    claim_out(p, a)
    # names checked before the dataset loads (a typo used to end in a KeyError after it)
    for flag, given, known in (("--models", a.models, MODELS), ("--precisions", a.precisions, PRECISIONS)):
        unknown = [x for x in given.split(",") if x not in known]
        if unknown:
            p.error(f"{flag}: unknown {unknown}; choose from {', '.join(known)}")
    torch.set_num_threads(a.threads)
    log = build_sequences(prepare_interactions(load_seqrec(a.dataset, a.data_dir)))
    train, _, _ = leave_one_out(log.sequences)
    dev = resolve_device(a.device)
    X, y = prefix_examples(train, 50)
    X, y = X.to(dev), y.to(dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    rows: list[dict] = []
    env = environment(dev)

    def save() -> None:  # after every row: a run stopped at a time limit keeps what it measured
        payload = {
            "benchmark": "mclrec_epoch_time",
            "environment": env,
            "config": {
                "dataset": a.dataset,
                "threads": a.threads,
                "device": str(dev),
                "epochs": a.epochs,
                "n_train_examples": int(len(X)),
                "n_items": log.n_items,
                "batch_size": 256,
                "bucket": True,
                "seed": a.seed,
            },
            "records": rows,
        }
        lines = markdown_header(
            f"One training epoch on {a.dataset} ({len(X):,} prefixes, {a.threads} threads)", env
        ) + [
            "",
            "| model | precision | epoch | wall s / epoch | CPU s / epoch |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['model']} | {r['precision']} | {r['epoch']} | {r['wall_s']:.2f} | {r['cpu_s']:.1f} |" for r in rows
        ]
        write_script_results(a.out, payload, "\n".join(lines))

    for name in a.models.split(","):
        for precision in a.precisions.split(","):
            torch.manual_seed(a.seed)
            model = MODELS[name](log.n_items).to(dev)
            opts = model.make_optimizers(1e-3)
            gen = torch.Generator(device=dev).manual_seed(a.seed)
            for epoch in range(a.epochs):
                sync()
                t0, c0 = time.perf_counter(), time.process_time()
                out = train_one_epoch(
                    model, opts, X, y, batch_size=256, gen=gen, views=VIEWS, bucket=True, precision=precision
                )
                sync()
                row = {
                    "model": name,
                    "precision": precision,
                    "epoch": epoch,
                    "wall_s": time.perf_counter() - t0,
                    "cpu_s": time.process_time() - c0,
                    "loss": out.get("loss"),
                }
                rows.append(row)
                save()
                print(
                    f"{name:8s} {precision} epoch {epoch}: {row['wall_s']:.1f} s wall, {row['cpu_s']:.1f} s CPU, "
                    f"loss {row['loss']:.3f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
