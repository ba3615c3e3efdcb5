"""Where an MCLRec training step spends its time, per meta-update stage (CPU wall clock).

MCLRec's step is three stages (docs/mclrec.md): (1) encoder step on the next-item loss plus
the meta contrastive loss with the augmenters frozen, (2) augmenter step on the meta loss of
the updated encoder (encoder forward without autograd), (3) encoder step again. This times the
committed ``train_one_epoch`` on a random subset of Beauty's training prefixes (length-bucketed
batches of 256, as in the benchmark) with timing wrappers around the model's own methods, so
nothing of the step is re-implemented here: encoder forward (``encode``), next-item loss
(``rec_loss``), meta loss (``meta_loss``), optimiser steps and the data-level views; the rest of
each encoder stage is its backward pass. It shows how much of a step is the encoder's forward
passes and the backward passes, which no change to the losses' forwards can remove.
``--meta-forwards separate,shared`` times both of ``MCLRec(meta_forward=)``'s choices: with
"shared", stage 3's encoder forward (and its next-item loss) runs before stage 2, which trains
on its detached encodings instead of a pass of its own.

Usage::

    python benchmarks/run_mclrec_stage_time.py --threads 2 --meta-forwards separate,shared --out benchmarks/results/mclrec_stage_time.json
"""

from __future__ import annotations

import argparse
import collections
import time
from contextlib import contextmanager

import torch

from structaug.bench import add_out_arguments, claim_out, markdown_header, write_script_results
from structaug.datasets import load_seqrec
from structaug.recsys.mclrec import (
    MCLRec,
    SequenceViews,
    build_sequences,
    leave_one_out,
    prefix_examples,
    prepare_interactions,
)
from structaug.recsys.mclrec._models import META_FORWARDS
from structaug.recsys.mclrec._training import train_one_epoch
from structaug.results import environment

#: report rows, in step order: (key, label)
PARTS = [
    ("views", "data-level views (crop / mask / reorder)"),
    ("s1.encode", "stage 1: encoder forward (3 x batch)"),
    ("s1.rec_loss", "stage 1: next-item loss forward"),
    ("s1.meta_loss", "stage 1: meta contrastive loss forward"),
    ("s1.backward", "stage 1: backward (rest of the stage)"),
    ("s1.step", "stage 1: Adam (encoder)"),
    ("s2.encode", "stage 2: encoder forward, no autograd (2 x batch; none when shared)"),
    ("s2.rest", "stage 2: meta loss forward + backward, Adam (augmenters)"),
    ("s3.encode", "stage 3: encoder forward (3 x batch; before stage 2 when shared)"),
    ("s3.rec_loss", "stage 3: next-item loss forward (before stage 2 when shared)"),
    ("s3.meta_loss", "stage 3: meta contrastive loss forward"),
    ("s3.backward", "stage 3: backward (rest of the stage)"),
    ("s3.step", "stage 3: Adam (encoder)"),
]


class StageClock:
    """Wraps an MCLRec's methods (instance attributes shadow the class's) and sums wall time
    per stage and part. The stage is inferred from the call order: ``_encoder_stage`` is stage 1
    then stage 3; with ``meta_forward="shared"`` the encoder forward and next-item loss between
    them are stage 3's, the meta loss before the augmenters' optimiser step is stage 2's."""

    def __init__(self, model: MCLRec, optimizers):
        self.t = collections.defaultdict(float)
        self.shared = model.meta_forward == "shared"
        self.stage = "s2"  # between the two encoder stages
        self._aug_stepped = False
        self._encoder_calls = 0
        self._reset_calls = 0
        for name in ("encode", "rec_loss"):
            setattr(model, name, self._timed(getattr(model, name), lambda part=name: f"{self.stage}.{part}"))
        model.meta_loss = self._timed(model.meta_loss, self._meta_key)
        enc_opt, aug_opt = optimizers
        enc_opt.step = self._timed(enc_opt.step, lambda: f"{self.stage}.step")
        aug_step = self._timed(aug_opt.step, lambda: "s2.step")

        def aug_opt_step(*args, **kwargs):
            try:
                return aug_step(*args, **kwargs)
            finally:
                self._aug_stepped = True

        aug_opt.step = aug_opt_step
        timed_stage = self._timed(model._encoder_stage, lambda: f"{self.stage}.total")

        def encoder_stage(*args, **kwargs):
            self.stage = "s1" if self._encoder_calls % 2 == 0 else "s3"
            self._encoder_calls += 1
            try:
                return timed_stage(*args, **kwargs)
            finally:
                # shared: what runs between the encoder stages is stage 3's forward, plus stage 2
                self.stage = "s3" if self.shared and self.stage == "s1" else "s2"

        model._encoder_stage = encoder_stage
        step = self._timed(model.train_step, lambda: "step.total")

        def train_step(*args, **kwargs):
            self._aug_stepped = False
            return step(*args, **kwargs)

        model.train_step = train_step

    def _meta_key(self) -> str:
        if self.shared and self.stage == "s3" and not self._aug_stepped:
            return "s2.meta_loss"  # stage 2's, on stage 3's detached encodings
        return f"{self.stage}.meta_loss"

    @property
    def steps(self) -> int:
        """Training steps timed since the last :meth:`reset` (two encoder stages each)."""
        return (self._encoder_calls - self._reset_calls) // 2

    def _timed(self, fn, key):
        """``fn`` that adds its wall time to ``self.t[key()]`` (``key`` is read when it returns)."""

        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.t[key()] += time.perf_counter() - t0

        return wrapper

    @contextmanager
    def timing_views(self):
        """Time ``SequenceViews.draw``, through which the training loop makes each batch's views."""
        original = SequenceViews.draw
        SequenceViews.draw = self._timed(original, lambda: "views")
        try:
            yield
        finally:
            SequenceViews.draw = original

    def reset(self) -> None:
        self.t.clear()
        self._reset_calls = self._encoder_calls

    def per_step_ms(self) -> dict[str, float]:
        t = dict(self.t)
        # the parts timed inside each encoder stage's wall time (the rest of it is its backward),
        # and those timed outside both encoder stages besides stage 2's own work: with "shared",
        # stage 3's forward parts run before stage 2, outside its encoder stage
        every = ("encode", "rec_loss", "meta_loss", "step")
        inside = {"s1": every, "s3": ("step",) if self.shared else every}
        outside = [f"s3.{p}" for p in every[:3]] if self.shared else ["s2.encode"]
        for s, parts in inside.items():
            t[f"{s}.backward"] = t.get(f"{s}.total", 0.0) - sum(t.get(f"{s}.{p}", 0.0) for p in parts)
        # train_step draws the views itself, so they are inside its wall time; stage 2's rest is
        # its meta loss's forward and backward and the augmenters' step
        known = t.get("s1.total", 0.0) + t.get("s3.total", 0.0) + t.get("views", 0.0)
        t["s2.rest"] = t.get("step.total", 0.0) - known - sum(t.get(k, 0.0) for k in outside)
        t["total"] = t.get("step.total", 0.0)
        return {k: 1000.0 * v / max(self.steps, 1) for k, v in t.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="Beauty")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precisions", default="bf16,fp32")
    p.add_argument("--batches", type=int, default=150, help="timed batches of 256 per precision")
    p.add_argument("--warmup", type=int, default=20, help="untimed batches first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--meta-forwards", default="separate", help="MCLRec(meta_forward=) choices to time, comma-separated")
    add_out_arguments(p, "mclrec_stage_time")
    a = p.parse_args()
    claim_out(p, a)
    modes = a.meta_forwards.split(",")
    if any(m not in META_FORWARDS for m in modes):
        p.error(f"--meta-forwards: choose from {', '.join(META_FORWARDS)}, got {a.meta_forwards!r}")
    torch.set_num_threads(a.threads)
    log = build_sequences(prepare_interactions(load_seqrec(a.dataset, a.data_dir)))
    train, _, _ = leave_one_out(log.sequences)
    X, y = prefix_examples(train, 50)
    n_batches_epoch = -(-len(X) // 256)
    sub = torch.randperm(len(X), generator=torch.Generator().manual_seed(a.seed))
    warm, timed = sub[: 256 * a.warmup], sub[256 * a.warmup : 256 * (a.warmup + a.batches)]
    rows = []
    for precision, mode in [(pr, m) for pr in a.precisions.split(",") for m in modes]:
        torch.manual_seed(a.seed)
        model = MCLRec(log.n_items, lmd=0.0, beta=0.05, meta_forward=mode)
        opts = model.make_optimizers(1e-3)
        clock = StageClock(model, opts)
        gen = torch.Generator().manual_seed(a.seed)
        with clock.timing_views():
            # SequenceViews' defaults are the paper's ratios (crop 0.5, mask 0.5, reorder 0.8)
            kw = dict(batch_size=256, gen=gen, views=SequenceViews(), bucket=True, precision=precision)
            train_one_epoch(model, opts, X[warm], y[warm], **kw)
            clock.reset()
            train_one_epoch(model, opts, X[timed], y[timed], **kw)
        ms = clock.per_step_ms()
        row = {
            "precision": precision,
            "meta_forward": mode,
            "steps": clock.steps,
            "ms_per_step": {k: ms.get(k, 0.0) for k, _ in PARTS},
            "total_ms_per_step": ms["total"],
            "epoch_s_estimate": ms["total"] * n_batches_epoch / 1000.0,
        }
        enc = ms.get("s1.encode", 0) + ms.get("s3.encode", 0) + ms.get("s2.encode", 0)
        row["encoder_forward_ms"] = enc
        rows.append(row)
        print(
            f"{precision}, {mode}: {ms['total']:.1f} ms per step (~{row['epoch_s_estimate']:.0f} s per epoch of "
            f"{n_batches_epoch} batches); encoder forward {enc:.1f} ms",
            flush=True,
        )
    env = environment("cpu")
    payload = {
        "benchmark": "mclrec_stage_time",
        "environment": env,
        "config": {
            "dataset": a.dataset,
            "threads": a.threads,
            "batches": a.batches,
            "warmup": a.warmup,
            "batch_size": 256,
            "bucket": True,
            "seed": a.seed,
            "meta_forwards": modes,
            "batches_per_epoch": n_batches_epoch,
        },
        "records": rows,
    }
    lines = markdown_header(
        f"MCLRec step time by stage ({a.dataset}, {a.threads} threads, {a.batches} batches of 256)", env
    ) + [
        "",
        "| part | " + " | ".join(f"{r['precision']} {r['meta_forward']}: ms / step | %" for r in rows) + " |",
        "|---|" + "---|---|" * len(rows),
    ]
    for key, label in PARTS:
        cells = [
            f"{r['ms_per_step'][key]:.1f} | {100 * r['ms_per_step'][key] / r['total_ms_per_step']:.0f}" for r in rows
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| **step** | " + " | ".join(f"**{r['total_ms_per_step']:.1f}** | 100" for r in rows) + " |")
    lines.append("| epoch estimate (s) | " + " | ".join(f"{r['epoch_s_estimate']:.0f} | " for r in rows) + " |")
    write_script_results(a.out, payload, "\n".join(lines))


if __name__ == "__main__":
    main()
