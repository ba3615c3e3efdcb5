"""One trainer for every torch model in structaug.

The trainer owns the epoch loop, not the step: each method passes a ``train_epoch(epoch)``
callable (a full-batch GNN step, a mini-batch loop, MCLRec's three-stage meta update ...)
and optionally ``validate(epoch)``. The trainer adds what every method needs the same way:
device choice, seeding, early stopping with patience, best-weight restore, a tqdm bar,
metric history, and atomic checkpoint/resume that reproduces an uninterrupted run exactly
(weights, optimizer moments, RNG states and history are all saved).
"""

from __future__ import annotations

import copy
import math
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from . import distributed
from .exceptions import (
    CheckpointMismatchError,
    CorruptFileError,
    DataValidationError,
    DeviceUnavailableError,
    InvalidParameterError,
)
from .io import check_writable, load_verified, remove_orphan_tmps, save_verified
from .io import fingerprint as _digest
from .random import preserved_torch_rng, seed_everything
from .validation import check_bool, check_choice, check_consistent_length, check_positive_float, check_positive_int

__all__ = [
    "TrainResult",
    "Trainer",
    "adam",
    "batch_indices",
    "batch_rows",
    "minibatch_epoch",
    "predict_batched",
    "progress_enabled",
    "resolve_device",
    "same_device",
    "training_table",
]

Metrics = dict[str, float]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/``None`` → CUDA when available, else CPU; otherwise ``torch.device(device)``.

    Raises
    ------
    InvalidParameterError
        ``device`` is not a device name (``"tpu"``, ``"cuda:x"``, a bare int).
    DeviceUnavailableError
        A CUDA device was asked for on a machine without one (a ``RuntimeError``).
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        # under torchrun each process takes its own GPU (cuda:LOCAL_RANK)
        return distributed.local_cuda_device() if torch.cuda.is_available() else torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise InvalidParameterError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device, got {type(device).__name__} {device!r}"
        )
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise InvalidParameterError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device, got {device!r} ({exc})"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(f"device={str(device)!r} was requested but CUDA is not available on this machine")
    if dev.type == "cuda" and dev.index is None:
        return distributed.local_cuda_device()
    return dev


def same_device(a: str | torch.device, b: str | torch.device) -> bool:
    """Whether two device specs name the same device (``"cuda"`` and ``"cuda:0"`` do, on a
    process whose current CUDA device is 0)."""
    a, b = torch.device(a), torch.device(b)
    if a.type != b.type:
        return False
    if a.type != "cuda":
        return a.index == b.index or a.index is None or b.index is None
    cur = torch.cuda.current_device() if torch.cuda.is_available() else 0
    return (cur if a.index is None else a.index) == (cur if b.index is None else b.index)


def progress_enabled(verbose: bool | None) -> bool:
    """Progress bars are on with ``verbose=True``, off with ``False``; ``None`` follows
    ``STRUCTAUG_PROGRESS`` (on unless it is ``0``/``false``)."""
    if verbose is not None:
        return bool(verbose)
    return os.environ.get("STRUCTAUG_PROGRESS", "1") not in ("0", "false", "False")


def adam(params, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """:class:`torch.optim.Adam`, fused into one kernel per step where this torch supports it.

    Same update rule; fused runs it as one multi-tensor kernel instead of ~10 element-wise ops
    per parameter (an SASRec-size encoder's step: 4.0 → 0.7 ms on 2 CPU threads). Torch
    builds without fused Adam on the parameters' device (before 2.4 on CPUs) get the default.
    Build it after the model is on its device.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def _check_tensors(tensors: Sequence[torch.Tensor], name: str = "tensors") -> int:
    """Rows shared by ``tensors`` (a non-empty sequence of equally long tensors)."""
    if isinstance(tensors, torch.Tensor) or not isinstance(tensors, (list, tuple)) or not tensors:
        raise InvalidParameterError(
            f"{name} must be a non-empty list or tuple of tensors, got {type(tensors).__name__}"
        )
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor) or t.dim() == 0:
            got = "a 0-d tensor" if isinstance(t, torch.Tensor) else type(t).__name__
            raise InvalidParameterError(f"{name}[{i}] must be a tensor with a row dimension, got {got}")
    # rows of unequal tensors would be silently paired up to the shortest one
    return check_consistent_length(tensors, [f"{name}[{i}]" for i in range(len(tensors))])


#: A training table of at least this many bytes stays in host memory when the model trains on
#: an accelerator: each step copies only its batch's rows to the device (:func:`batch_rows`), so
#: device memory holds the model and a batch, not the table. Smaller tables are copied once.
HOST_TABLE_BYTES = 1 << 28


def training_table(array: Any, device: torch.device | str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``array`` as the tensor a training loop indexes: on ``device``, or in host memory when
    ``device`` is not the CPU and the table holds at least :data:`HOST_TABLE_BYTES`."""
    t = torch.as_tensor(array, dtype=dtype)
    device = torch.device(device)
    if device.type != "cpu" and t.numel() * t.element_size() >= HOST_TABLE_BYTES:
        return t
    return t.to(device)


def batch_rows(table: torch.Tensor, idx: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """``table[idx]`` on ``device``, wherever :func:`training_table` left ``table`` (a no-op
    move when both are already there)."""
    return table[idx.to(table.device)].to(device)


def batch_indices(
    n: int,
    batch_size: int,
    *,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Iterator[torch.Tensor]:
    """Yield index tensors covering ``range(n)`` in batches (shuffled with ``generator``).

    Raises :class:`~structaug.exceptions.InvalidParameterError` at the call (not at the first
    ``next``) when ``n`` is negative or ``batch_size`` is not a positive int.
    """
    n = check_positive_int(n, "n", minimum=0)
    batch_size = check_positive_int(batch_size, "batch_size")
    if shuffle:
        gen_dev = generator.device if generator is not None else "cpu"
        order = torch.randperm(n, generator=generator, device=gen_dev).to(device)
    else:
        order = torch.arange(n, device=device)
    return iter(order.split(batch_size) if n else ())


def minibatch_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[..., torch.Tensor],
    tensors: Sequence[torch.Tensor],
    *,
    batch_size: int,
    generator: torch.Generator | None = None,
    grad_clip: float | None = None,
) -> Metrics:
    """One shuffled pass over ``tensors`` (on the model's device, or large ones in host memory
    from :func:`training_table`: each batch's rows are moved); ``loss_fn(*batch)``.

    Under a multi-process ``torchrun`` launch (:mod:`structaug.distributed`) every process
    draws the same shuffled order and, when ``model`` is the
    :func:`~structaug.distributed.wrap`-ped (DDP) network that ``loss_fn`` calls, takes its share
    of each batch (``idx[rank::world]``); DDP's backward pass averages the gradients, so a step
    sees the whole global batch (each share's loss is weighted by its size). A last batch
    smaller than the number of processes is skipped, and the returned loss is the mean over
    every process's rows. An unwrapped model trains on every row in every process.

    Raises
    ------
    InvalidParameterError
        ``batch_size`` is not a positive int, ``grad_clip`` not a positive number.
    DataValidationError
        ``tensors`` have no rows (an epoch of nothing would report a loss of 0) or different
        numbers of rows.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    if grad_clip is not None:
        grad_clip = check_positive_float(grad_clip, "grad_clip")
    n = _check_tensors(tensors)
    if n == 0:
        raise DataValidationError("tensors have no rows: an epoch needs at least one example")
    model.train()
    total, count = 0.0, 0
    parallel = distributed.is_wrapped(model)  # shares only for a DDP model: others train alike everywhere
    scale = 1.0
    param = next(model.parameters(), None)
    device = param.device if param is not None else tensors[0].device
    for idx in batch_indices(n, batch_size, generator=generator, device=tensors[0].device):
        if parallel:
            share = distributed.shard_batch(idx)
            if share is None:  # fewer rows than processes: every process skips it
                continue
            idx, scale = share
        batch = [batch_rows(t, idx, device) for t in tensors]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(*batch)
        (loss * scale if parallel else loss).backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        total += float(loss.detach()) * len(idx)
        count += len(idx)
    if parallel:
        total, rows = distributed.sum_over_ranks(total, count)
        count = int(rows)
    return {"loss": total / count}


def predict_batched(
    fn: Callable[..., torch.Tensor], tensors: Sequence[torch.Tensor], batch_size: int = 4096
) -> torch.Tensor:
    """Apply ``fn`` to row batches of ``tensors`` and concatenate the outputs.

    Tensors without rows give ``torch.empty(0)`` (``fn`` is not called). Raises
    :class:`~structaug.exceptions.InvalidParameterError` for a ``batch_size`` that is not a
    positive int and :class:`~structaug.exceptions.DataValidationError` for tensors with
    different numbers of rows.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    n = _check_tensors(tensors)
    if n == 0:
        return torch.empty(0)
    out: torch.Tensor | None = None
    parts: list[torch.Tensor] = []  # only for an fn whose output rows are not its input rows
    with torch.no_grad():
        for i in range(0, n, batch_size):
            rows = min(batch_size, n - i)
            part = fn(*[t[i : i + batch_size] for t in tensors])
            if parts or part.dim() == 0 or part.shape[0] != rows:
                parts.extend([] if out is None else [out[:i]])
                out = None
                parts.append(part)
                continue
            if out is None:
                # filled in place: the output is held once, not once in parts and again
                # concatenated (a 1M-row T-JEPA representation is 5.4 GB)
                out = part.new_empty((n, *part.shape[1:]))
            out[i : i + rows] = part
    return torch.cat(parts) if parts else out  # type: ignore[return-value]  # n > 0: one of them is set


@dataclass
class TrainResult:
    """What a :meth:`Trainer.fit` call did."""

    history: list[Metrics] = field(default_factory=list)
    best_epoch: int | None = None
    best_score: float | None = None
    epochs_run: int = 0
    stopped_early: bool = False
    stopped_by_time: bool = False
    fit_time: float = 0.0
    resumed_from: int | None = None

    @property
    def time_per_epoch(self) -> float:
        return self.fit_time / max(self.epochs_run, 1)


def _as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


# -- checkpoint fingerprints ---------------------------------------------------------------
CHECKPOINT_FORMAT = 2
_START_OVER = (
    "delete the file, point checkpoint_path (the benchmarks' --checkpoint-dir) elsewhere, "
    "or pass resume=False to start over"
)
# what each fingerprint part covers, in the order mismatches are reported
_PARTS = {
    "data": "data",
    "config": "configuration",
    "model": "model architecture",
    "optimizer": "optimizer(s)",
    "trainer": "Trainer settings",
    "state": "generators/stateful objects",
}
# optimizer flags that choose a kernel, not the update: a resume on a build without fused Adam is fine
_OPT_IMPL_FLAGS = frozenset({"fused", "foreach", "capturable", "differentiable"})
_PLAIN = (bool, int, float, str, type(None))
# a module's or optimizer's attribute: compared when both sides have it, so a torch release that
# adds one (Adam's decoupled_weight_decay) does not orphan every checkpoint
_ATTRIBUTE = re.compile(r"^(module '.*' \w+|optimizer \d+ (?!group )\w+)$")
_SHORT = 80


_NOT_PLAIN = object()


def _plain(v: Any) -> Any:
    """``v`` with numpy scalars as Python ones and lists as tuples, or ``_NOT_PLAIN``."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, _PLAIN):
        return v
    if isinstance(v, (list, tuple)):
        items = tuple(_plain(e) for e in v)
        if all(e is not _NOT_PLAIN for e in items):
            return items
    return _NOT_PLAIN


def _describe(v: Any) -> str:
    """A fingerprint entry: the value's repr when short and plain, else its SHA-256."""
    p = _plain(v)
    if p is not _NOT_PLAIN:
        r = repr(p)
        if len(r) <= _SHORT:
            return r
    return "sha256:" + _digest(v)


def _given_part(name: str, value: Any) -> dict[str, str]:
    """A caller's fingerprint part, one entry per key/item so a mismatch can say which one."""
    if isinstance(value, Mapping):
        return {f"{name}[{k!r}]": _describe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and _plain(value) is _NOT_PLAIN:
        return {f"{name}[{i}]": _describe(v) for i, v in enumerate(value)}
    return {name: _describe(value)}


def _model_part(model: torch.nn.Module) -> dict[str, str]:
    """Module classes with their plain hyperparameters, and state_dict keys, shapes, dtypes."""
    part: dict[str, str] = {}
    for name, tensor in model.state_dict().items():
        shape: tuple[int, ...] | str
        try:
            shape = tuple(tensor.shape)
        except Exception:  # an uninitialised lazy parameter
            shape = "uninitialised"
        part[f"tensor {name!r}"] = f"{shape} {str(tensor.dtype).replace('torch.', '')}"
    for name, module in model.named_modules():
        key = f"module {name or '<root>'!r}"
        part[key] = f"{type(module).__module__}.{type(module).__qualname__}"
        for k, v in sorted(vars(module).items()):
            if not k.startswith("_") and k not in ("training", "device") and _plain(v) is not _NOT_PLAIN:
                part[f"{key} {k}"] = _describe(v)
    return part


def _optimizer_part(optimizers: list[torch.optim.Optimizer]) -> dict[str, str]:
    """Each optimizer's class and constructor settings, and its parameter groups' shapes."""
    part: dict[str, str] = {"count": repr(len(optimizers))}
    for i, opt in enumerate(optimizers):
        part[f"optimizer {i}"] = type(opt).__qualname__
        for k, v in sorted(opt.defaults.items()):
            if k not in _OPT_IMPL_FLAGS:
                part[f"optimizer {i} {k}"] = _describe(v)
        for j, group in enumerate(opt.param_groups):
            part[f"optimizer {i} group {j} parameter shapes"] = _describe([tuple(p.shape) for p in group["params"]])
    return part


def _state_part(generators: list, stateful: list) -> dict[str, str]:
    gens = []
    for g in generators:
        if isinstance(g, torch.Generator):
            gens.append(f"torch.Generator({torch.device(g.device).type})")
        else:
            gens.append(f"numpy.Generator({type(g.bit_generator).__name__})")
    return {"generators": repr(gens), "stateful": repr([type(o).__qualname__ for o in stateful])}


def _mismatches(saved: Mapping[str, Mapping[str, str]], now: Mapping[str, Mapping[str, str]]) -> list[str]:
    """One line per fingerprint part that differs, naming its first differing entries."""

    def clip(v: str | None) -> str:
        if v is None:
            return "absent"
        return v if len(v) <= _SHORT else v[:_SHORT] + "..."

    out = []
    for part in [*_PARTS, *sorted((set(saved) | set(now)) - set(_PARTS))]:
        a, b = saved.get(part), now.get(part)
        if a == b:
            continue
        what = _PARTS.get(part, part)
        if a is None:
            out.append(f"{what} ({part!r}): this run fingerprints it, the checkpoint has no {part!r} fingerprint")
            continue
        if b is None:
            out.append(f"{what} ({part!r}): the checkpoint has a {part!r} fingerprint, this run gives none")
            continue
        keys = [*b, *(k for k in a if k not in b)]
        diffs = [
            f"{k}: checkpoint {clip(a.get(k))}, this run {clip(b.get(k))}"
            for k in keys
            if a.get(k) != b.get(k) and not (_ATTRIBUTE.match(k) and (k not in a or k not in b))
        ]
        if not diffs:
            continue
        more = f"; and {len(diffs) - 3} more" if len(diffs) > 3 else ""
        out.append(f"{what} ({part!r}) differs: " + "; ".join(diffs[:3]) + more)
    return out


def _is_format1(path: Path) -> bool:
    """Whether ``path`` is a checkpoint written before checksums and fingerprints (format 1)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return False
    return isinstance(obj, dict) and obj.get("format") == 1 and "model" in obj


class Trainer:
    """Epoch loop with early stopping, best-weight restore, progress and checkpoints.

    Parameters
    ----------
    max_epochs : int
        Upper bound on epochs (>= 0).
    patience : int or None
        Stop after this many epochs without improvement of ``monitor``; ``None`` never stops
        early.
    monitor : str
        Metric key (from ``train_epoch``'s or ``validate``'s dict) that selects the best epoch.
        ``"__last__"`` (or a key that never appears, when there is neither ``patience`` nor a
        ``validate``) keeps the last epoch. An epoch without it raises
        :class:`~structaug.exceptions.InvalidParameterError` when ``patience`` is set, when
        ``validate`` is given, or when an earlier epoch had it: a misspelt monitor would
        otherwise silently turn early stopping and best-weight restore off.
    mode : {"min", "max"}
        Whether lower or higher ``monitor`` is better.
    min_delta : float
        Smallest change that counts as an improvement (finite, >= 0).
    device : str, torch.device or None
        Where the model must be: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...; ``fit``
        refuses a model elsewhere (the Trainer cannot move the data that ``train_epoch`` holds).
        ``None`` (default): wherever the model is, nothing checked.
    seed : int or None
        Seeds torch's global RNG at the start of a fresh (not resumed) run, for dropout and
        other global draws during training; ``fit`` gives the caller's global RNG states back
        when it returns (as it does after restoring a checkpoint's). The model exists before
        ``fit``: seed its initialisation yourself (:func:`structaug.random.local_torch_seed`).
    verbose : bool or None, default False
        tqdm bar over epochs (silent by default, as every structaug estimator); ``None`` follows
        ``STRUCTAUG_PROGRESS`` (what the benchmarks' ``--no-progress`` sets).
    checkpoint_path : path or None
        Where to write the checkpoint after every ``checkpoint_every`` epochs (atomically).
        If it exists when ``fit`` starts and ``resume`` is true, training continues from it,
        after the checks below.
    checkpoint_every : int
        Epochs between checkpoints (>= 1); the last epoch, an early stop and a time stop are
        always checkpointed.
    resume : bool
        Continue from an existing checkpoint (``False``: start over and overwrite it).
    restore_best : bool
        Load the best epoch's weights into the model at the end.
    max_time : float or None
        Wall-clock budget in seconds (time before a resume included): training stops after
        the first epoch that ends past it, like Lightning's ``max_time``, and the best epoch
        so far is the result (``TrainResult.stopped_by_time``). ``None``: no budget.
    desc : str
        Label of the progress bar.

    Raises
    ------
    InvalidParameterError
        A parameter has a wrong type or value (the message names it).

    Notes
    -----
    **Checkpoints.** A checkpoint (format 2) is a torch file written by
    :func:`structaug.io.save_verified`: the SHA-256 of the serialized payload is stored next
    to it, and the file replaces the previous one atomically (temporary files of writers that
    were killed are removed by the next write). The payload holds the weights, the
    optimizers', ``stateful`` objects' and generators' states, torch's global RNG states, the
    history, the best epoch's weights and score, the patience counter, the elapsed time, and
    the run's *fingerprint*: for each part, a few named entries (a short value or a SHA-256),

    * ``"model"`` (automatic): every module's class and plain hyperparameters (``p`` of a
      dropout, ``lmd`` of MCLRec ...) and every ``state_dict`` key's shape and dtype;
    * ``"optimizer"`` (automatic): each optimizer's class and constructor settings (``lr``,
      ``betas``, ``weight_decay`` ...; not ``fused``/``foreach``) and its groups' parameter
      shapes;
    * ``"trainer"`` (automatic): ``seed``, ``monitor``, ``mode``, ``min_delta``,
      ``restore_best``;
    * ``"state"`` (automatic): the kinds of ``generators`` (torch ones with their device
      type) and of the ``stateful`` objects;
    * the parts given to :meth:`fit` as ``fingerprint`` (e.g. ``"data"``, ``"config"``).

    A module or optimizer attribute that only one side has (one a newer torch added) is not
    a mismatch; every other entry must be equal. The training budget (``max_epochs``,
    ``max_time``, ``patience``) and the model's device are not fingerprinted: a checkpoint of 30 epochs resumes with ``max_epochs=60``; one from a run
    that stopped early, or already went past ``max_epochs``, is returned as it is (its
    history, best epoch and best weights), without training.

    **Resume guarantees.** Before anything is loaded, ``fit`` checks the checksum (a
    truncated or bit-flipped file raises :class:`~structaug.exceptions.CorruptFileError`),
    then compares the fingerprints, computed on the objects as passed to ``fit``, with the
    checkpoint's: any difference raises
    :class:`~structaug.exceptions.CheckpointMismatchError` naming the part(s) and entries
    that differ and the path. A checkpoint from before fingerprints (format 1) is refused
    the same way, since it cannot be checked. A load that fails anyway (a ``stateful``
    object that rejects its state) also raises ``CheckpointMismatchError`` and leaves the
    model, optimizers and generators as they were. A resumed run then reproduces the
    uninterrupted run exactly (same weights, history and best epoch).
    Checkpoints are pickles: load only your own.
    """

    def __init__(
        self,
        *,
        max_epochs: int = 100,
        patience: int | None = None,
        monitor: str = "val_loss",
        mode: str = "min",
        min_delta: float = 0.0,
        device: str | torch.device | None = None,
        seed: int | None = None,
        verbose: bool | None = False,
        checkpoint_path: str | os.PathLike | None = None,
        checkpoint_every: int = 1,
        resume: bool = True,
        restore_best: bool = True,
        max_time: float | None = None,
        desc: str = "train",
    ):
        self.max_epochs = check_positive_int(max_epochs, "max_epochs", minimum=0)
        self.patience = None if patience is None else check_positive_int(patience, "patience")
        if not isinstance(monitor, str):
            raise InvalidParameterError(
                f"monitor must be a metric name (str), got {type(monitor).__name__} {monitor!r}"
            )
        self.monitor = monitor
        self.mode = check_choice(mode, ("min", "max"), "mode")
        self.min_delta = check_positive_float(min_delta, "min_delta", allow_zero=True)
        # InvalidParameterError for a malformed value, DeviceUnavailableError for missing CUDA
        self.device = None if device is None else resolve_device(device)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise InvalidParameterError(f"seed must be an int or None, got {type(seed).__name__} {seed!r}")
        self.seed = None if seed is None else int(seed)
        if verbose is not None and not (isinstance(verbose, (bool, np.bool_)) or verbose in (0, 1)):
            raise InvalidParameterError(
                f"verbose must be True, False or None, got {type(verbose).__name__} {verbose!r}"
            )
        self.verbose = verbose
        if checkpoint_path is not None and not isinstance(checkpoint_path, (str, os.PathLike)):
            raise InvalidParameterError(
                f"checkpoint_path must be a path (str or os.PathLike) or None, got {type(checkpoint_path).__name__}"
            )
        if checkpoint_path is not None and os.fspath(checkpoint_path) == "":
            raise InvalidParameterError("checkpoint_path must not be empty (None turns checkpoints off)")
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
        self.checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every")
        self.resume = check_bool(resume, "resume")  # "False" would be true
        self.restore_best = check_bool(restore_best, "restore_best")
        self.max_time = None if max_time is None else check_positive_float(max_time, "max_time")
        self.desc = str(desc)

    # ------------------------------------------------------------------------------
    def _improved(self, score: float, best: float | None) -> bool:
        if best is None or math.isnan(best):
            return not math.isnan(score)
        if self.mode == "min":
            return score < best - self.min_delta
        return score > best + self.min_delta

    def fit(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | Sequence[torch.optim.Optimizer] | None,
        train_epoch: Callable[[int], Mapping[str, float] | None],
        validate: Callable[[int], Mapping[str, float] | None] | None = None,
        *,
        generators: Iterable[torch.Generator | np.random.Generator] = (),
        stateful: Iterable[Any] = (),
        fingerprint: Mapping[str, Any] | None = None,
    ) -> TrainResult:
        """Run the epoch loop.

        Parameters
        ----------
        model : torch.nn.Module
            On ``device`` when the Trainer was given one; its weights are checkpointed and restored.
        optimizer : Optimizer or list of them (or None)
            Their states are checkpointed too.
        train_epoch : callable
            ``train_epoch(epoch) -> dict`` runs one epoch of updates.
        validate : callable, optional
            ``validate(epoch) -> dict`` evaluates; its keys are merged into the history. It runs
            with autograd on (wrap it in ``torch.no_grad()`` unless it needs gradients).
        generators : iterable
            torch/numpy generators the epoch functions draw from; their states are saved so a
            resumed run draws the same numbers as an uninterrupted one.
        stateful : iterable
            Other objects with ``state_dict``/``load_state_dict`` (schedulers, EMA models).
        fingerprint : mapping, optional
            What this run's checkpoint must match besides the automatic parts (see the class
            notes): part name -> object, e.g. ``{"data": (X, y, X_valid), "config":
            {"lr": lr, "batch_size": bs}}``. A mapping value is fingerprinted per key and a
            list/tuple per item, so a mismatch names the key; values are hashed with
            :func:`structaug.io.fingerprint` (arrays, tensors, frames, plain values, or a
            digest string computed beforehand) and need a stable ``repr`` otherwise. Leave
            the budget (epochs, time, patience) out. A part named like an automatic one is
            added to it. Only used with ``checkpoint_path``.

        Raises
        ------
        InvalidParameterError
            An argument has a wrong type, or ``checkpoint_path`` cannot be written.
        CorruptFileError
            The checkpoint fails its checksum or cannot be read.
        CheckpointMismatchError
            The checkpoint was written for other data, configuration, model, optimizer or
            Trainer settings, or before fingerprints existed.
        """
        self._check_fit_args(model, optimizer, train_epoch, validate, fingerprint)
        generators, stateful = list(generators), list(stateful)
        for i, g in enumerate(generators):
            if not isinstance(g, (torch.Generator, np.random.Generator)):
                raise InvalidParameterError(
                    f"generators[{i}] must be a torch.Generator or numpy Generator, got {type(g).__name__}"
                )
        for i, o in enumerate(stateful):
            if not (callable(getattr(o, "state_dict", None)) and callable(getattr(o, "load_state_dict", None))):
                raise InvalidParameterError(f"stateful[{i}] ({type(o).__name__}) has no state_dict/load_state_dict")
        # A seeded or resumed run overwrites torch's global RNG (for dropout); the caller gets
        # its own stream back, so an estimator's fit leaves the user's RNG as it found it.
        overwrites_rng = self.seed is not None or self._checkpoint_exists()
        with preserved_torch_rng() if overwrites_rng else nullcontext():
            return self._fit(
                model,
                optimizer,
                train_epoch,
                validate,
                generators=generators,
                stateful=stateful,
                fingerprint=fingerprint,
            )

    def _check_fit_args(self, model, optimizer, train_epoch, validate, fingerprint) -> None:
        if not isinstance(model, torch.nn.Module):
            raise InvalidParameterError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        for i, opt in enumerate(_as_list(optimizer)):
            if not isinstance(opt, torch.optim.Optimizer):
                raise InvalidParameterError(
                    f"optimizer{'' if not isinstance(optimizer, (list, tuple)) else f'[{i}]'} "
                    f"must be a torch.optim.Optimizer, got {type(opt).__name__}"
                )
        if not callable(train_epoch):
            raise InvalidParameterError(f"train_epoch must be callable, got {type(train_epoch).__name__}")
        if validate is not None and not callable(validate):
            raise InvalidParameterError(f"validate must be callable or None, got {type(validate).__name__}")
        if fingerprint is not None:
            if not isinstance(fingerprint, Mapping):
                raise InvalidParameterError(
                    f"fingerprint must be a mapping of part name -> object, e.g. "
                    f"{{'data': (X, y)}}, got {type(fingerprint).__name__}"
                )
            bad = [k for k in fingerprint if not isinstance(k, str) or not k]
            if bad:
                raise InvalidParameterError(f"fingerprint keys must be non-empty part names (str), got {bad!r}")
        if self.checkpoint_path is not None:
            path = self.checkpoint_path
            if path.is_dir():
                raise InvalidParameterError(f"checkpoint_path {path} is a folder; give a file path in it")
            try:  # fail now, not after the first epoch's work
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InvalidParameterError(f"checkpoint_path {path}: its folder cannot be created ({exc})") from exc
            # a probe file, not os.access (which says yes to root and ignores ACLs and NFS)
            check_writable(path, "checkpoint_path")

    def _fingerprint(self, model, optimizers, generators, stateful, given) -> dict[str, dict[str, str]]:
        parts: dict[str, dict[str, str]] = {
            "model": _model_part(model),
            "optimizer": _optimizer_part(optimizers),
            "trainer": {k: repr(getattr(self, k)) for k in ("seed", "monitor", "mode", "min_delta", "restore_best")},
            "state": _state_part(generators, stateful),
        }
        for name, value in (given or {}).items():
            entries = _given_part(name, value)
            if name in parts:  # a caller's "model" part adds to the automatic one
                entries = {f"given {k}": v for k, v in entries.items()}
            parts.setdefault(name, {}).update(entries)
        return parts

    def _fit(self, model, optimizer, train_epoch, validate, *, generators, stateful, fingerprint) -> TrainResult:
        param = next(model.parameters(), None)
        if param is not None and self.device is not None and not same_device(param.device, self.device):
            raise InvalidParameterError(
                f"model is on {param.device} but the Trainer runs on {self.device}; move it with model.to(device) first"
            )
        optimizers = _as_list(optimizer)
        result = TrainResult()
        best_state: dict[str, torch.Tensor] | None = None
        wait = 0
        start_epoch = 0
        elapsed_before = 0.0
        parts: dict[str, dict[str, str]] = {}
        if self.checkpoint_path is not None:
            if distributed.is_main():  # another process may be writing the file it names
                remove_orphan_tmps(self.checkpoint_path)
            # computed on the objects as given, before a checkpoint touches them
            parts = self._fingerprint(model, optimizers, generators, stateful, fingerprint)

        ckpt = self._load_checkpoint()
        if ckpt is not None:
            problems = _mismatches(ckpt["fingerprint"], parts)
            if problems:
                raise CheckpointMismatchError(
                    f"checkpoint {self.checkpoint_path} was written for another run: "
                    + " | ".join(problems)
                    + f". Nothing was loaded; {_START_OVER}."
                )
            self._restore(ckpt, model, optimizers, stateful, generators)
            result.history = ckpt["history"]
            result.best_epoch = ckpt["best_epoch"]
            result.best_score = ckpt["best_score"]
            best_state = ckpt["best_state"]
            wait = ckpt["wait"]
            start_epoch = ckpt["epoch"] + 1
            elapsed_before = ckpt["elapsed"]
            result.resumed_from = ckpt["epoch"]
            if ckpt.get("stopped"):
                start_epoch = self.max_epochs  # that run had already finished
                result.stopped_early = True
        elif self.seed is not None:
            # the same seed in every process: a model trained in every process without DDP stays
            # identical everywhere (DDP's shares differ by data, not by dropout stream)
            seed_everything(self.seed)

        t0 = time.perf_counter()
        bar = tqdm(
            range(start_epoch, self.max_epochs),
            desc=self.desc,
            disable=not progress_enabled(self.verbose) or not distributed.is_main(),
            leave=False,
            dynamic_ncols=True,
        )
        stopped = result.stopped_early
        seen_monitor = any(self.monitor in h for h in result.history)
        for epoch in bar:
            ep_t0 = time.perf_counter()
            metrics: Metrics = {"epoch": float(epoch)}
            out = train_epoch(epoch)
            if out:
                metrics.update({k: float(v) for k, v in out.items()})
            if validate is not None:
                # not wrapped in no_grad: a validate that needs gradients gets them
                vout = validate(epoch)
                if vout:
                    metrics.update({k: float(v) for k, v in vout.items()})
            metrics["epoch_time"] = time.perf_counter() - ep_t0
            if distributed.is_distributed():
                # one history on every process: early stopping and the best epoch agree everywhere
                metrics.update(distributed.mean_over_ranks({k: v for k, v in metrics.items() if k != "epoch"}))
            result.history.append(metrics)

            score = metrics.get(self.monitor)
            if (
                score is None
                and self.monitor != "__last__"
                and (self.patience is not None or validate is not None or seen_monitor)
            ):
                # a misspelt monitor would otherwise switch early stopping and best-weight restore off
                # without a word (validate's metrics are what a monitor normally names)
                why = (
                    "patience needs it every epoch"
                    if self.patience is not None
                    else "it appeared in an earlier epoch"
                    if seen_monitor
                    else "with validate given, the best epoch is chosen by it; pass monitor='__last__' to keep "
                    "the last epoch"
                )
                raise InvalidParameterError(
                    f"monitor {self.monitor!r} is not among epoch {epoch}'s metrics {sorted(metrics)}; {why}"
                )
            seen_monitor = seen_monitor or score is not None
            if score is None:
                result.best_epoch, result.best_score = epoch, None
                best_state = None  # last weights are the result
            elif self._improved(score, result.best_score):
                result.best_epoch, result.best_score = epoch, float(score)
                best_state = _cpu_state(model) if self.restore_best else None
                wait = 0
            else:
                wait += 1
            bar.set_postfix(
                {k: f"{v:.4g}" for k, v in metrics.items() if k not in ("epoch", "epoch_time")}, refresh=False
            )

            stopped = self.patience is not None and wait >= self.patience
            out_of_time = (
                not stopped
                and epoch + 1 < self.max_epochs
                and self.max_time is not None
                and elapsed_before + time.perf_counter() - t0 >= self.max_time
            )
            if self.max_time is not None:
                out_of_time = distributed.broadcast_flag(out_of_time)  # process 0's clock decides
            # a time stop is not saved as "stopped": a later run with a larger budget continues
            result.stopped_by_time = out_of_time
            if self.checkpoint_path is not None and (
                (epoch + 1) % self.checkpoint_every == 0 or stopped or out_of_time or epoch + 1 == self.max_epochs
            ):
                self._save_checkpoint(
                    model,
                    optimizers,
                    stateful,
                    generators,
                    result,
                    best_state,
                    wait,
                    epoch,
                    elapsed_before + time.perf_counter() - t0,
                    stopped,
                    parts,
                )
            if stopped:
                result.stopped_early = True
                break
            if out_of_time:
                break
        bar.close()

        result.epochs_run = len(result.history)
        result.fit_time = elapsed_before + time.perf_counter() - t0
        if self.restore_best and best_state is not None:
            model.load_state_dict(best_state)
        return result

    # ------------------------------------------------------------------------------
    def _rng_states(self, generators: list) -> dict[str, Any]:
        states: dict[str, Any] = {"torch": torch.get_rng_state(), "gens": []}
        if torch.cuda.is_available():
            states["cuda"] = torch.cuda.get_rng_state_all()
        for g in generators:
            if isinstance(g, torch.Generator):
                states["gens"].append(g.get_state())
            else:
                states["gens"].append(copy.deepcopy(g.bit_generator.state))
        return states

    def _set_rng_states(self, states: dict[str, Any], generators: list) -> None:
        torch.set_rng_state(states["torch"])
        if "cuda" in states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states["cuda"])
        for g, st in zip(generators, states["gens"]):
            if isinstance(g, torch.Generator):
                g.set_state(st)
            else:
                g.bit_generator.state = st

    def _restore(self, ckpt: dict[str, Any], model, optimizers, stateful, generators) -> None:
        """Load a checked checkpoint's states; on any failure put everything back and raise."""
        before = (
            _cpu_state(model),
            [copy.deepcopy(o.state_dict()) for o in optimizers],
            [copy.deepcopy(s.state_dict()) for s in stateful],
            self._rng_states(generators),
        )
        try:
            if (len(ckpt["optimizers"]), len(ckpt["stateful"]), len(ckpt["rng"]["gens"])) != (
                len(optimizers),
                len(stateful),
                len(generators),
            ):
                raise ValueError("it holds states for a different number of optimizers, stateful objects or generators")
            model.load_state_dict(ckpt["model"])
            for opt, st in zip(optimizers, ckpt["optimizers"]):
                opt.load_state_dict(st)
            for obj, st in zip(stateful, ckpt["stateful"]):
                obj.load_state_dict(st)
            ranks = ckpt.get("rng_ranks")
            written_by = len(ranks) if ranks else 1
            if written_by != distributed.world_size():
                warnings.warn(
                    f"checkpoint {self.checkpoint_path} was written by {written_by} process(es) and is resumed "
                    f"by {distributed.world_size()}: training continues, but not as the first run would have",
                    UserWarning,
                    stacklevel=4,
                )
            mine = ranks[distributed.rank()] if ranks and written_by == distributed.world_size() else ckpt["rng"]
            self._set_rng_states(mine, generators)
        except Exception as exc:
            # load_state_dict copies the matching tensors before it raises: undo that
            model.load_state_dict(before[0])
            for opt, st in zip(optimizers, before[1]):
                opt.load_state_dict(st)
            for obj, st in zip(stateful, before[2]):
                obj.load_state_dict(st)
            self._set_rng_states(before[3], generators)
            raise CheckpointMismatchError(
                f"checkpoint {self.checkpoint_path} does not fit this model/optimizers "
                f"({type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}). "
                f"Nothing was loaded; {_START_OVER}."
            ) from exc

    def _save_checkpoint(
        self, model, optimizers, stateful, generators, result, best_state, wait, epoch, elapsed, stopped, parts
    ) -> None:
        rng = self._rng_states(generators)
        # under torchrun: every process's RNG states, written by process 0
        parallel = distributed.is_distributed()
        rng_ranks = distributed.all_gather_objects(rng) if parallel else None
        if not distributed.is_main():
            # until process 0 has written the file; its failure stops every process, not only its own
            if not distributed.broadcast_flag(False):
                raise OSError(f"process 0 could not write the checkpoint {self.checkpoint_path}; see its error")
            return
        try:
            self._write_checkpoint(
                model, optimizers, stateful, rng, rng_ranks, result, best_state, wait, epoch, elapsed, stopped, parts
            )
        except BaseException:
            if parallel:
                distributed.broadcast_flag(False)
            raise
        if parallel:
            distributed.broadcast_flag(True)

    def _write_checkpoint(
        self, model, optimizers, stateful, rng, rng_ranks, result, best_state, wait, epoch, elapsed, stopped, parts
    ) -> None:
        save_verified(
            {
                "format": CHECKPOINT_FORMAT,
                "fingerprint": parts,
                "model": _cpu_state(model),
                "optimizers": [o.state_dict() for o in optimizers],
                "stateful": [s.state_dict() for s in stateful],
                "rng": rng,
                "rng_ranks": rng_ranks,
                "history": result.history,
                "best_epoch": result.best_epoch,
                "best_score": result.best_score,
                "best_state": best_state,
                "wait": wait,
                "epoch": epoch,
                "elapsed": elapsed,
                "stopped": stopped,
            },
            self.checkpoint_path,  # type: ignore[arg-type]  # only called with a checkpoint path
        )

    def _checkpoint_exists(self) -> bool:
        return self.checkpoint_path is not None and self.resume and self.checkpoint_path.exists()

    def _load_checkpoint(self) -> dict[str, Any] | None:
        """The checkpoint's payload after its checksum and format checks, or ``None``."""
        if not self._checkpoint_exists():
            return None
        path = self.checkpoint_path
        assert path is not None  # _checkpoint_exists checked it
        try:
            ckpt = load_verified(path, what="checkpoint", start_over=_START_OVER)
        except CorruptFileError:
            if _is_format1(path):
                raise CheckpointMismatchError(
                    f"checkpoint {path} was written by an older structaug (format 1, without checksum and "
                    "data/config fingerprints), so it cannot be checked against this run and is not used. "
                    f"Nothing was loaded; {_START_OVER} (retraining from epoch 0)."
                ) from None
            raise
        keys = (
            "fingerprint",
            "model",
            "optimizers",
            "stateful",
            "rng",
            "history",
            "best_epoch",
            "best_score",
            "best_state",
            "wait",
            "epoch",
            "elapsed",
        )
        if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or any(k not in ckpt for k in keys):
            got = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
            raise CheckpointMismatchError(
                f"checkpoint {path} is not a Trainer checkpoint of format {CHECKPOINT_FORMAT} (format: {got!r}); "
                f"nothing was loaded; {_START_OVER}."
            )
        return ckpt
