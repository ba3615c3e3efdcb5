"""Data-parallel training under ``torchrun``: torch's own process group and DistributedDataParallel.

Launch an unchanged training script with ``torchrun --nproc_per_node N script.py``: every
process runs the script on the same data; the estimators that support it
(:class:`~structaug.tensor.NeuralTensorCompletion` and the MLP head of the T-JEPA estimators,
through :func:`~structaug.train.minibatch_epoch`; :class:`~structaug.recsys.LightGCN` and
``MFBPR``, LLMRec's recommenders, whose BPR batches are sharded; SASRec, CL4SRec and MCLRec;
HyperTab; the T-JEPA encoder) join the process group torchrun describes (gloo on CPUs, NCCL on GPUs, one GPU per process:
``cuda:LOCAL_RANK``), wrap their network in :class:`torch.nn.parallel.DistributedDataParallel`
and give each process a disjoint share of every mini-batch, so one optimizer step sees the same
global batch as a single process would. The :class:`~structaug.train.Trainer` averages each
epoch's metrics over the processes (so early stopping decides the same everywhere), follows
process 0 for the time budget, writes checkpoints from process 0 only and resumes every process
from them (the path must be on a file system all processes see).

Nothing here starts processes or talks to other machines: torchrun (or any launcher that sets
``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) does. Outside such a launch every
function below is a no-op for a world of one process.
"""

from __future__ import annotations

import atexit
import gc
import os
from collections.abc import Callable
from typing import Any

import torch
from torch import distributed as dist
from torch import nn

__all__ = [
    "LossModule",
    "all_gather_objects",
    "barrier",
    "broadcast_flag",
    "init_from_env",
    "is_distributed",
    "is_main",
    "is_wrapped",
    "launched",
    "local_cuda_device",
    "mean_over_ranks",
    "rank",
    "shard_batch",
    "sum_over_ranks",
    "sum_tensor_over_ranks",
    "world_size",
    "wrap",
]


def launched() -> bool:
    """Whether this process was started by torchrun (or a launcher like it) with more than one process."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def local_cuda_device() -> torch.device:
    """``cuda:LOCAL_RANK`` under a multi-process launch (one GPU per process), else ``cuda``."""
    if launched():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cuda")


def init_from_env(device: torch.device | str | None = None) -> bool:
    """Join the process group that the launcher's environment describes, once per process.

    The backend is NCCL when ``device`` is a CUDA device, gloo otherwise. Returns
    :func:`is_distributed`; without a multi-process launch nothing happens.
    """
    if not launched() or not dist.is_available():
        return False
    if not dist.is_initialized():
        cuda = device is not None and torch.device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(local_cuda_device())
        dist.init_process_group(backend="nccl" if cuda else "gloo")
        atexit.register(_release_at_exit)
    return is_distributed()


def _release_at_exit() -> None:
    """Free the DDP wrappers and the process group while the interpreter is still whole.

    DDP wrappers caught in reference cycles (a loss closure that refers back to its wrapper) are
    otherwise collected only during interpreter finalisation, and with them the last reference
    to gloo's process group: its worker threads then release work holding Python tensors, need
    the GIL, are ended by the finalising interpreter, and the process aborts ("terminate called
    without an active exception", SIGABRT) after a run that finished. Under two loaded torchrun
    processes that happened at exit in 7 of 25 runs even with ``destroy_process_group()`` called
    at the end of the script; with this handler in none of 50 (docs/scaling.md). ``atexit``
    handlers run before finalisation. Registered by :func:`init_from_env` when it starts the
    group (a group the user's script started is the script's to release); after the script's own
    ``destroy_process_group()`` only the collection runs.
    """
    gc.collect()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_distributed() -> bool:
    """Whether a process group of more than one process is active."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Whether this process writes files (rank 0, or the only process)."""
    return rank() == 0


def wrap(model: nn.Module, **ddp_options: Any) -> nn.Module:
    """``model`` in :class:`~torch.nn.parallel.DistributedDataParallel` under a multi-process
    launch (joining the process group first), else ``model`` itself.

    DDP copies process 0's weights to the others when it wraps, then averages gradients over
    the processes in every backward pass. Call the returned module in the training loss (the
    gradients are only synchronised for passes through it); evaluate with ``model``.
    ``ddp_options`` go to DDP (e.g. ``find_unused_parameters=True`` for a model whose loss
    does not use every parameter in every step).
    """
    param = next(model.parameters(), None)
    device = param.device if param is not None else None
    if not init_from_env(device):
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device is not None and device.type == "cuda":
        return DistributedDataParallel(model, device_ids=[device.index], **ddp_options)
    return DistributedDataParallel(model, **ddp_options)


class LossModule(nn.Module):
    """``loss_fn(model, *args)`` as the forward of a module holding ``model``.

    For :func:`wrap` when a training loss uses parts of the model outside its ``forward``
    (an auxiliary decoder, a penalty on embedding rows): DDP only synchronises gradients that
    flow from its own forward pass, so the whole loss must be computed inside one.
    """

    def __init__(self, model: nn.Module, loss_fn: Callable[..., torch.Tensor]):
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, *args: Any) -> torch.Tensor:
        return self.loss_fn(self.model, *args)


def is_wrapped(module: nn.Module) -> bool:
    """Whether ``module`` is a DistributedDataParallel wrapper (what :func:`wrap` returns under a launch)."""
    from torch.nn.parallel import DistributedDataParallel

    return isinstance(module, DistributedDataParallel)


def shard_batch(idx: torch.Tensor) -> tuple[torch.Tensor, float] | None:
    """This process's share of one global batch and the factor its mean loss is scaled by.

    ``None`` when the batch has fewer rows than processes (every process skips it, so DDP's
    all-reduce stays in step). The factor ``world * len(share) / len(batch)`` makes DDP's
    average of the processes' mean losses the mean over the whole batch when the shares are
    unequal (it is 1 when they are equal).
    """
    world = world_size()
    if len(idx) < world:
        return None
    local = idx[rank() :: world]
    return local, world * len(local) / len(idx)


def _comm_device() -> torch.device:
    """Where the backend can reduce a tensor: NCCL on this process's GPU, gloo on the CPU."""
    return local_cuda_device() if dist.get_backend() == "nccl" else torch.device("cpu")


def _comm_tensor(values: list[float], dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, device=_comm_device())


def mean_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """Each value averaged over the processes: the same result in every process (identical
    values come back unchanged with 2 or 4 processes; with others, to the last bit)."""
    if not is_distributed() or not values:
        return values
    keys = sorted(values)
    t = _comm_tensor([float(values[k]) for k in keys], torch.float64)
    dist.all_reduce(t)
    t /= world_size()
    return {k: float(v) for k, v in zip(keys, t.tolist())}


def sum_over_ranks(*values: float) -> list[float]:
    """The values summed over the processes."""
    if not is_distributed():
        return [float(v) for v in values]
    t = _comm_tensor([float(v) for v in values], torch.float64)
    dist.all_reduce(t)
    return [float(v) for v in t.tolist()]


def sum_tensor_over_ranks(t: torch.Tensor) -> torch.Tensor:
    """``t`` summed element-wise over the processes, on ``t``'s device (``t`` itself without a
    process group)."""
    if not is_distributed():
        return t
    buf = t.to(_comm_device(), copy=True)
    dist.all_reduce(buf)
    return buf.to(t.device)


def broadcast_flag(flag: bool) -> bool:
    """Process 0's ``flag`` on every process (a decision that must be the same everywhere)."""
    if not is_distributed():
        return bool(flag)
    t = _comm_tensor([1.0 if flag else 0.0], torch.float64)
    dist.broadcast(t, src=0)
    return bool(t.item())


def all_gather_objects(obj: Any) -> list[Any]:
    """Every process's ``obj``, by rank (``[obj]`` without a process group)."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    """Wait for every process (no-op without a process group)."""
    if is_distributed():
        dist.barrier()
