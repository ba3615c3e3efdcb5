"""SASRec, CL4SRec and MCLRec on one process's share of a global batch under torchrun.

Each process encodes its share of every mini-batch (``idx[rank::world]``, see
:func:`structaug.distributed.shard_batch`); the losses go through
:class:`~torch.nn.parallel.DistributedDataParallel`, which averages the gradients over the
processes. Two kinds of terms need different handling to reproduce the single-process step:

* the next-item cross-entropy is a mean over rows: each process's share mean, weighted by
  ``world * len(share) / len(batch)``, averages to the global batch's mean;
* InfoNCE and MCLRec's regulariser take their negatives from the *whole* batch: each process
  gathers every process's view encodings (:meth:`DataParallelStep.gather`; its own rows keep
  their graph, the others' are detached copies) and computes the global term. Its gradient
  reaches each process's own rows only, so the term is weighted by ``world``: DDP's average of
  the processes' gradients is then the gradient of the global term.

MCLRec's three stages step different parameters (encoder, augmenters, encoder), so they go
through two DDP wrappers: one over the encoder's parameters (built while the augmenters are
frozen, so DDP leaves them out) and one over the two augmenters. Stage 2 computes the meta loss
of the whole gathered batch in every process (the encodings need no graph there), so the
augmenters' gradients are the same everywhere and DDP's average leaves them unchanged. With
``MCLRec(meta_forward="shared")`` a third wrapper over the encoder's parameters returns stage 3's
next-item loss and gathered view encodings only: stage 2 trains on them detached, and stage 3's
meta loss is computed from them outside the wrapper (the augmenters are frozen then, so only the
encoder's gradients flow, through DDP's hooks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import distributed as dist
from torch import nn

from ... import distributed

__all__ = ["DataParallelStep"]


class DataParallelStep:
    """A sequence model's DDP-wrapped losses and the in-batch gather of one process.

    Built by :func:`~structaug.recsys.mclrec.fit_sequential` under a multi-process torchrun
    launch and passed to the model's ``train_step(..., parallel=)``; ``None`` there means one
    process.
    """

    def __init__(self) -> None:
        self._stages: dict[str, nn.Module] = {}
        self._sizes: list[int] = []
        self.scale = 1.0  # weight of this process's share mean (shard_batch's factor)

    @property
    def world(self) -> int:
        return distributed.world_size()

    def add_stage(self, name: str, module: nn.Module, loss_fn: Callable[..., Any]) -> None:
        """Wrap ``loss_fn(module, *args)`` in DDP under ``name`` (over ``module``'s parameters
        that require gradients now)."""
        wrapped = distributed.wrap(distributed.LossModule(module, loss_fn))
        if not distributed.is_wrapped(wrapped):
            raise RuntimeError("DataParallelStep needs a multi-process torchrun launch")
        self._stages[name] = wrapped

    def __call__(self, name: str, *args: Any) -> Any:
        """The stage's loss, computed through its DDP wrapper."""
        return self._stages[name](*args)

    def start_batch(self, n_rows: int, scale: float) -> None:
        """The global batch has ``n_rows`` rows; this process's share is weighted by ``scale``."""
        world = self.world
        self._sizes = [len(range(r, n_rows, world)) for r in range(world)]
        self.scale = scale

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """Every process's rows of ``t`` (this batch's shares, in rank order); this process's
        rows are ``t`` itself (with its graph), the other processes' are detached copies."""
        sizes, me = self._sizes, distributed.rank()
        if len(t) != sizes[me]:
            raise RuntimeError(f"gather: this process holds {len(t)} rows, its share is {sizes[me]}")
        buf = t.detach().new_zeros((max(sizes), *t.shape[1:]))
        buf[: len(t)] = t.detach()
        parts = [torch.empty_like(buf) for _ in sizes]
        dist.all_gather(parts, buf)
        rows = [p[:n] for p, n in zip(parts, sizes)]
        rows[me] = t
        return torch.cat(rows)
