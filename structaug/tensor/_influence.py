"""TracIn-style influence of training cells on the validation loss (DAIN, Sec. 3.2).

For the last (linear) layer ``ŷ = wᵀh + b`` under MSE, the gradient of one training cell's
loss is ``2 (ŷ_i - y_i) [h_i, 1]`` and the gradient of the validation loss is
``(2 / n_val) Σ_v (ŷ_v - y_v) [h_v, 1]``. DAIN restricts influence to this layer and sums the
dot product over the epochs up to the best one, as TracIn sums over checkpoints.

Two ways to pair the gradients (``mode``):

* ``"recorded"`` (default, the reference code): each training cell's gradient at the weights of
  its mini-batch just before that batch's optimiser step, taken from the training forward pass
  itself, against the validation gradient at the start of the epoch (the previous epoch's
  validation pass; the untrained weights for epoch 0). Costs one dot product per cell and batch.
* ``"checkpoint"`` (TracIn's definition): both gradients at the checkpoint after each epoch;
  one more forward pass over every training cell per epoch (≈ 40 % of an epoch on CPU).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from .. import distributed
from ..exceptions import DataValidationError
from ..validation import check_choice
from ._completion import EmbeddingMLP, predict_with_hidden
from ._container import ObservedTensor, check_tensor

__all__ = ["TRACIN_MODES", "TracInTracker", "entity_importance", "last_layer_gradients"]

#: the ways :class:`TracInTracker` pairs training and validation gradients
TRACIN_MODES = ("recorded", "checkpoint")


@torch.no_grad()
def last_layer_gradients(
    model: EmbeddingMLP, idx: torch.Tensor, values: torch.Tensor, batch_size: int = 8192
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-cell ``[h, 1]`` features and residuals ``ŷ - y`` for the head layer.

    Returns ``(features [n, d+1], residuals [n])``; the per-cell gradient of the squared
    error with respect to ``(head.weight, head.bias)`` is ``2 * residual * features``.
    """
    pred, h = predict_with_hidden(model, idx, batch_size)
    return torch.cat([h, torch.ones_like(pred)[:, None]], dim=1), pred - values


class TracInTracker:
    """Accumulates per-epoch cell influences; pass as ``tracker`` to
    :meth:`NeuralTensorCompletion.fit`.

    Parameters
    ----------
    train, validation : ObservedTensor
        The cells the model trains on (in ``fit``'s order) and the cells whose loss defines
        influence.
    device : torch.device
    batch_size : int
        Cells per forward pass when scoring at checkpoints.
    mode : {"recorded", "checkpoint"}
        How training and validation gradients are paired (module docstring): recorded during
        training as the reference code does (no extra pass), or at each epoch's checkpoint.

    Attributes
    ----------
    per_epoch : list of ndarray (float64, nnz_train)
        ``∇ℓ(train cell) · ∇L(validation)`` of each epoch.
    seconds : float
        Time spent on influence (so it can be reported apart from training).
    """

    def __init__(
        self,
        train: ObservedTensor,
        validation: ObservedTensor,
        device: torch.device | str = "cpu",
        batch_size: int = 8192,
        mode: str = "recorded",
    ):
        # an empty validation set would make the validation gradient 0/0 = NaN for every cell
        check_tensor(train, "train")
        check_tensor(validation, "validation", order=train.order)
        self.mode = check_choice(mode, TRACIN_MODES, "mode")
        self.device = torch.device(device)
        self.ti = torch.as_tensor(train.indices, device=self.device)
        self.tv = torch.as_tensor(train.values, dtype=torch.float32, device=self.device)
        self.n_validation = validation.nnz
        self.batch_size = int(batch_size)
        self.per_epoch: list[np.ndarray] = []
        self.seconds = 0.0
        self._g_val: torch.Tensor | None = None  # validation gradient [d + 1] at the latest weights
        self._running: torch.Tensor | None = None  # "recorded": this epoch's scores so far

    @torch.no_grad()
    def on_train_batch(self, rows: torch.Tensor, hidden: torch.Tensor, residual: torch.Tensor) -> None:
        if self.mode != "recorded":
            return
        t0 = time.perf_counter()
        if self._g_val is None or self._running is None:
            raise RuntimeError("on_validation(model, -1, ...) must run before the first training batch")
        g = self._g_val
        self._running[rows] = 2.0 * residual * (hidden @ g[:-1] + g[-1])
        self.seconds += time.perf_counter() - t0

    @torch.no_grad()
    def on_validation(self, model: EmbeddingMLP, epoch: int, hidden: torch.Tensor, residual: torch.Tensor) -> None:
        t0 = time.perf_counter()
        if len(residual) != self.n_validation:
            raise DataValidationError(
                f"on_validation got {len(residual)} cell(s), the tracker's validation tensor has {self.n_validation}"
            )
        # gradient of the (mean) validation MSE w.r.t. the head's weight and bias
        g_val = (2.0 / len(residual)) * torch.cat([(residual[:, None] * hidden).sum(0), residual.sum()[None]])
        if self.mode == "recorded":
            if epoch >= 0:
                assert self._running is not None
                # under torchrun each process scored its share of every batch: the shares add up
                self.per_epoch.append(distributed.sum_tensor_over_ranks(self._running).double().cpu().numpy())
            self._running = torch.zeros(len(self.tv), device=self.device)
        elif epoch >= 0:
            model.eval()
            scores = []
            for start in range(0, len(self.tv), self.batch_size):
                sl = slice(start, start + self.batch_size)
                ft, rt = last_layer_gradients(model, self.ti[sl], self.tv[sl], self.batch_size)
                scores.append(2.0 * rt * (ft @ g_val))
            self.per_epoch.append(torch.cat(scores).double().cpu().numpy())
        self._g_val = g_val
        self.seconds += time.perf_counter() - t0

    def cell_importance(self, best_epoch: int | None) -> np.ndarray:
        """Influence summed over the epochs ``0 .. best_epoch`` (TracIn over checkpoints)."""
        if not self.per_epoch:
            raise RuntimeError("no epoch was tracked; pass the tracker as tracker= to NeuralTensorCompletion.fit")
        last = len(self.per_epoch) - 1 if best_epoch is None else int(best_epoch)
        if not 0 <= last < len(self.per_epoch):
            # a slice past the end would silently sum every tracked epoch instead
            raise DataValidationError(f"best_epoch={best_epoch} is outside the {len(self.per_epoch)} tracked epoch(s)")
        return np.sum(self.per_epoch[: last + 1], axis=0)


def entity_importance(
    tensor: ObservedTensor, cell_importance: np.ndarray, *, shape: Sequence[int] | None = None, absolute: bool = True
) -> list[np.ndarray]:
    """Per-mode sampling distributions over entities (indices).

    An entity's importance is the sum of its cells' importances (their absolute values, as
    in the reference code, when ``absolute``), normalised to a probability vector per mode.
    Entities without training cells get probability 0; a mode whose scores are all zero
    falls back to uniform over its observed entities.
    """
    check_tensor(tensor, "tensor")
    shape = tuple(tensor.shape if shape is None else shape)
    cell_importance = np.asarray(cell_importance, dtype=np.float64)
    if cell_importance.shape != (tensor.nnz,):
        raise DataValidationError(
            f"cell_importance has shape {cell_importance.shape}, need one score per cell of tensor ({tensor.nnz},)"
        )
    if not np.isfinite(cell_importance).all():
        # NaN/inf (a diverged model) would silently turn every mode into uniform sampling
        raise DataValidationError(
            f"{int((~np.isfinite(cell_importance)).sum())} cell importance score(s) are "
            "not finite; the completion model probably diverged"
        )
    scores = np.abs(cell_importance) if absolute else np.clip(cell_importance, 0.0, None)
    probs = []
    for m, size in enumerate(shape):
        s = np.bincount(tensor.indices[:, m], weights=scores, minlength=size).astype(np.float64)
        total = s.sum()
        if not np.isfinite(total) or total <= 0:
            s = (np.bincount(tensor.indices[:, m], minlength=size) > 0).astype(np.float64)
            total = s.sum()
        probs.append(s / total)
    return probs
