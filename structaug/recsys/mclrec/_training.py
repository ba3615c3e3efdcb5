"""Epoch and evaluation loops shared by SASRec, CL4SRec and MCLRec (driven by the shared Trainer)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from functools import partial

import numpy as np
import torch
from sklearn.base import clone

from ... import distributed
from ...exceptions import DataValidationError, InvalidParameterError
from ...metrics import mean_metrics, topk_metrics
from ...train import Trainer, TrainResult
from ...validation import check_choice
from ._data import sequence_lengths
from ._parallel import DataParallelStep
from ._views import OPERATORS, SequenceViews

__all__ = ["autocast_factory", "batch_order", "evaluate_ranking", "fit_sequential", "fitted_views", "train_one_epoch"]

PRECISIONS = ("fp32", "bf16")


def _cpu_has_bf16() -> bool:
    try:  # private helper; absent in some builds
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False


def autocast_factory(device: torch.device, precision: str = "fp32"):
    """A zero-argument factory of the context the training forward passes run in.

    ``"fp32"``: no autocast. ``"bf16"``: :func:`torch.autocast` to bfloat16 (weights, optimizer
    state and the loss reductions stay float32). On CPUs with AVX512-BF16 or AMX this makes an
    MCLRec epoch on Beauty 1.2–1.4x faster (2 threads: 77 → 64 s on an AMD EPYC, 101 → 84 s on an
    AMX Xeon; SASRec: no gain or slower); without them
    bf16 matmuls are emulated and slower, so a warning is raised. Evaluation runs in float32.
    """
    check_choice(precision, PRECISIONS, "precision")
    if precision == "fp32":
        return nullcontext
    if device.type == "cpu" and not _cpu_has_bf16():
        warnings.warn(
            "precision='bf16' on a CPU without AVX512-BF16/AMX: bf16 matmuls are emulated and "
            "likely slower than float32",
            RuntimeWarning,
            stacklevel=2,
        )
    return partial(torch.autocast, device.type, dtype=torch.bfloat16)


def batch_order(
    lengths: torch.Tensor, batch_size: int, gen: torch.Generator, *, bucket: bool = False, bucket_span: int = 50
) -> list[torch.Tensor]:
    """Shuffled mini-batch indices.

    ``bucket=True`` shuffles, then sorts by length inside chunks of ``bucket_span`` batches and
    shuffles the batches (a bucket iterator): batches hold sequences of similar length, so the
    encoder, which trims all-padding columns, runs on far shorter tensors. Every example is
    still seen once per epoch; only the in-batch negatives of InfoNCE are length-correlated.
    """
    n = len(lengths)
    order = torch.randperm(n, generator=gen, device=gen.device).to(lengths.device)
    if not bucket:
        return list(order.split(batch_size))
    chunk = batch_size * bucket_span
    batches = []
    for start in range(0, n, chunk):
        idx = order[start : start + chunk]
        idx = idx[torch.sort(lengths[idx], stable=True).indices]
        batches.extend(idx.split(batch_size))
    perm = torch.randperm(len(batches), generator=gen, device=gen.device).tolist()
    return [batches[i] for i in perm]


def fitted_views(views: SequenceViews | None, model, inputs: torch.Tensor) -> SequenceViews:
    """The fitted :class:`SequenceViews` a training run draws from.

    ``None`` → ``SequenceViews()`` (the paper's ratios). An unfitted instance is cloned (the
    caller's is never changed), given the model's mask token when its ``mask_id`` is ``None``,
    and fitted on ``inputs``; a fitted one is used as it is. Either way its mask token must be
    the model's (``n_items + 1``): any other id would be read as a real item or fall outside the
    embedding table.
    """
    if views is None:
        views = SequenceViews()
    if not isinstance(views, SequenceViews):
        raise InvalidParameterError(f"views must be a SequenceViews instance or None, got {type(views).__name__}")
    mask_id = getattr(model, "mask_id", None)
    if not getattr(views, "is_fitted_", False):
        views = clone(views)
        if views.mask_id is None and mask_id is not None:
            views.set_params(mask_id=mask_id)
        views.fit(inputs)
    if mask_id is not None and views.mask_id_ != mask_id:
        raise InvalidParameterError(
            f"views has mask_id {views.mask_id_} but the model's mask token is {mask_id} "
            "(n_items + 1); leave views' mask_id as None"
        )
    return views


def train_one_epoch(
    model,
    optimizers,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    batch_size: int,
    gen: torch.Generator,
    views: SequenceViews | None = None,
    bucket: bool = False,
    precision: str = "fp32",
    parallel: DataParallelStep | None = None,
) -> dict[str, float]:
    """One pass over the (prefix → next item) examples; returns mean step losses.

    ``views`` is resolved by :func:`fitted_views` (``None``: the paper's ratios; pass the
    fitted instance to skip refitting it every epoch): each batch's two views are drawn
    through it with ``gen``, the generator that also orders the batches.

    ``parallel`` (under a multi-process torchrun launch, see :func:`fit_sequential`): every
    process orders the batches and draws each batch's views alike, as one process would, and
    trains on its share of each (``idx[rank::world]``); the losses are averaged over every row.
    """
    amp = autocast_factory(inputs.device, precision)
    views = fitted_views(views, model, inputs)
    model.train()
    pair = lambda s: tuple(views.draw(s, 2, gen))
    sums: dict[str, float] = {}
    count = 0
    lengths = sequence_lengths(inputs)
    for idx in batch_order(lengths, batch_size, gen, bucket=bucket):
        if parallel is not None:
            share = distributed.shard_batch(idx)
            if share is None:  # fewer rows than processes: every process skips it
                continue
            local, scale = share
            parallel.start_batch(len(idx), scale)
            # the whole batch's views (the draws one process makes), then this process's rows
            mine = slice(distributed.rank(), None, distributed.world_size())
            views_of = lambda s, idx=idx, mine=mine: tuple(v[mine] for v in pair(inputs[idx]))
            out = model.train_step(inputs[local], targets[local], optimizers, views_of, amp=amp, parallel=parallel)
            idx = local
        else:
            out = model.train_step(inputs[idx], targets[idx], optimizers, pair, amp=amp)
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + v * len(idx)
        count += len(idx)
    if parallel is not None:
        keys = sorted(sums)
        totals = distributed.sum_over_ranks(*(sums[k] for k in keys), count)
        sums, count = dict(zip(keys, totals[:-1])), int(totals[-1])
    return {k: v / max(count, 1) for k, v in sums.items()}


@torch.no_grad()
def _check_targets(model, targets: torch.Tensor, n_rows: int, name: str) -> None:
    """Next-item targets: one real item id (1..n_items) per history row."""
    if not isinstance(targets, torch.Tensor) or targets.dim() != 1:
        raise DataValidationError(
            f"{name} must be a 1-D tensor of item ids, got "
            f"{tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__}"
        )
    if len(targets) != n_rows:
        raise DataValidationError(f"{name} has {len(targets)} rows but the histories have {n_rows}")
    if targets.is_floating_point() or targets.dtype == torch.bool:
        raise DataValidationError(f"{name} must hold integer item ids, got dtype {targets.dtype}")
    n_items = getattr(model, "n_items", None)  # a bare scorer without it: topk_metrics checks the top end
    if len(targets):
        lo, hi = int(targets.min()), int(targets.max())
        if lo < 1 or (n_items is not None and hi > n_items):
            raise DataValidationError(
                f"{name} has item id {lo if lo < 1 else hi} outside 1..{n_items if n_items is not None else 'n_items'}"
            )


def _check_histories(model, histories: torch.Tensor, name: str) -> None:
    """SASRec-family models check ids and width themselves; others (Popularity) need 2-D ids."""
    if hasattr(model, "check_input"):
        model.check_input(histories, name)
    elif not isinstance(histories, torch.Tensor) or histories.dim() != 2:
        raise DataValidationError(f"{name} must be a 2-D tensor [n, max_len] of item ids")


def evaluate_ranking(
    model,
    histories: torch.Tensor,
    targets: torch.Tensor,
    ks: Sequence[int] = (5, 10, 20),
    *,
    batch_size: int = 1024,
    seen: list[np.ndarray] | None = None,
) -> dict[str, float]:
    """Full-ranking HR/NDCG@k of the next item over every item.

    ``seen`` (per-row arrays of item ids) excludes those items from the ranking; the
    CoSeRec/ICLRec/MCLRec protocol (RecBole's sequential full-sort evaluation) does not, so the
    benchmark passes ``None``.
    """
    _check_histories(model, histories, "histories")
    _check_targets(model, targets, len(histories), "targets")
    model.eval()
    # evaluate in length order so the encoder trims padding; means do not depend on order
    order = torch.sort(sequence_lengths(histories), stable=True).indices
    batches = []
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        scores = model.full_scores(histories[idx]).float()
        seen_pair = None
        if seen is not None:
            rows, cols = [], []
            for r, i in enumerate(idx.tolist()):
                items = np.asarray(seen[i], dtype=np.int64)
                rows.append(np.full(len(items), r))
                cols.append(items - 1)
            seen_pair = (torch.as_tensor(np.concatenate(rows)), torch.as_tensor(np.concatenate(cols)))
        m = topk_metrics(scores, targets[idx] - 1, ks, seen=seen_pair)
        batches.append({k: v for k, v in m.items() if k.startswith(("hr@", "ndcg@"))})
    return mean_metrics(batches)


def fit_sequential(
    model,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    valid=None,
    max_epochs: int = 50,
    patience: int | None = None,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    batch_size: int = 256,
    device: torch.device,
    seed: int | None,
    gen: torch.Generator,
    views: SequenceViews | None = None,
    bucket: bool = False,
    verbose: bool = False,
    monitor: str = "val_ndcg@10",
    eval_batch_size: int = 1024,
    checkpoint_path=None,
    precision: str = "fp32",
    max_time: float | None = None,
) -> TrainResult:
    """Train ``model`` through :class:`~structaug.train.Trainer` (best-validation restore).

    Parameters
    ----------
    model : SASRec, CL4SRec or MCLRec
    inputs : LongTensor of shape (n_examples, max_len)
        Left-aligned padded prefixes (:func:`~structaug.recsys.mclrec.prefix_examples`).
    targets : LongTensor of shape (n_examples,)
        Next item of each prefix (ids ``1..n_items``).
    valid : (LongTensor (n_valid, max_len), LongTensor (n_valid,)) or None
        Validation histories and targets; ``monitor`` (NDCG@10) selects the best epoch.
    max_epochs, patience : int, int or None
        Epoch budget and early-stopping patience.
    gen : torch.Generator
        The training stream on ``device``: batch order and every batch's views.
    views : SequenceViews or None
        The data-level views CL4SRec/MCLRec contrast (``None``: ``SequenceViews()``, the
        paper's ratios); see :func:`fitted_views`. SASRec ignores it.
    verbose : bool
        Epoch progress bar (silent by default).
    precision : {"fp32", "bf16"}
        Autocast in training forward passes only (see :func:`autocast_factory`).
    max_time : float or None
        Wall-clock budget in seconds (the Trainer's).

    With ``checkpoint_path``, the checkpoint is fingerprinted with the training and validation
    tensors (``"data"``) and the settings that change the result (``"config"``: lr,
    weight_decay, batch_size, the view ratios, bucket, precision, monitor; the model, its
    hyperparameters, the optimizers and the seed are fingerprinted by the Trainer). Resuming
    one made for other data or settings raises
    :class:`~structaug.exceptions.CheckpointMismatchError`; ``max_epochs``, ``patience`` and
    ``max_time`` are the budget and may change between runs.
    """
    autocast_factory(device, precision)  # fail (or warn) before any work
    # ids out of range would otherwise surface as an IndexError at the first step (a device
    # assert on CUDA), after the Trainer has started
    _check_histories(model, inputs, "inputs")
    _check_targets(model, targets, len(inputs), "targets")
    if valid is not None:
        _check_histories(model, valid[0], "valid[0] (validation histories)")
        _check_targets(model, valid[1], len(valid[0]), "valid[1] (validation targets)")
    views = fitted_views(views, model, inputs)
    fingerprint = None
    if checkpoint_path is not None:
        # the keys checkpoints have always had (ratios only; operators when not all three), so
        # checkpoints written before views became an augmenter parameter still resume
        view_cfg = {f"view_{k}": getattr(views, k) for k in ("crop_ratio", "mask_ratio", "reorder_ratio")}
        if tuple(views.operators) != OPERATORS:
            view_cfg["view_operators"] = list(views.operators)
        # hashed as given (on the CPU, before the move): the same data gives the same digest on any device
        fingerprint = {
            "data": (inputs, targets) + (tuple(valid) if valid is not None else ()),
            "config": {
                "lr": lr,
                "weight_decay": weight_decay,
                "batch_size": batch_size,
                "bucket": bucket,
                "precision": precision,
                "monitor": monitor,
                **dict(sorted(view_cfg.items())),
            },
        }
    optimizers = model.make_optimizers(lr, weight_decay)
    inputs, targets = inputs.to(device), targets.to(device)

    # under a multi-process torchrun launch: the model's training losses inside DDP
    parallel: DataParallelStep | None = None
    if distributed.init_from_env(device):
        parallel = DataParallelStep()
        model.add_parallel_stages(parallel)

    def train_epoch(epoch: int) -> dict[str, float]:
        c0 = time.process_time()  # CPU seconds: comparable across runs on a shared machine
        out = train_one_epoch(
            model,
            optimizers,
            inputs,
            targets,
            batch_size=batch_size,
            gen=gen,
            views=views,
            bucket=bucket,
            precision=precision,
            parallel=parallel,
        )
        out["cpu_time"] = time.process_time() - c0
        return out

    validate: Callable[[int], dict[str, float]] | None = None
    if valid is not None:
        vh, vt = valid[0].to(device), valid[1].to(device)

        def _validate(epoch: int) -> dict[str, float]:
            t0 = time.perf_counter()
            m = evaluate_ranking(model, vh, vt, batch_size=eval_batch_size)
            out = {f"val_{k}": v for k, v in m.items()}
            out["val_time"] = time.perf_counter() - t0
            return out

        validate = _validate

    trainer = Trainer(
        max_epochs=max_epochs,
        patience=patience if valid is not None else None,
        monitor=monitor,
        mode="max",
        device=device,
        seed=seed,
        verbose=verbose,
        checkpoint_path=checkpoint_path,
        max_time=max_time,
        desc=type(model).__name__,
    )
    return trainer.fit(model, optimizers, train_epoch, validate, generators=[gen], fingerprint=fingerprint)
