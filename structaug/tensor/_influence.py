"""TracIn-style influence of training cells on the validation loss (DAIN, Sec. 3.2).

For the last (linear) layer ``ŷ = wᵀh + b`` under MSE, the gradient of one training cell's
loss is ``2 (ŷ_i - y_i) [h_i, 1]`` and the gradient of the validation loss is
``(2 / n_val) Σ_v (ŷ_v - y_v) [h_v, 1]``. DAIN restricts influence to this layer (cheap:
one forward pass per cell, no per-sample backward) and sums the dot product over the
checkpoints of every epoch up to the best one, as TracIn does. The scores for all cells of
one epoch are a single matrix-vector product per batch, so the cost is linear in nnz.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from ..exceptions import DataValidationError
from ..train import predict_batched
from ._completion import EmbeddingMLP
from ._container import ObservedTensor, check_tensor

__all__ = ["TracInTracker", "entity_importance", "last_layer_gradients"]


@torch.no_grad()
def last_layer_gradients(
    model: EmbeddingMLP, idx: torch.Tensor, values: torch.Tensor, batch_size: int = 8192
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-cell ``[h, 1]`` features and residuals ``ŷ - y`` for the head layer.

    Returns ``(features [n, d+1], residuals [n])``; the per-cell gradient of the squared
    error with respect to ``(head.weight, head.bias)`` is ``2 * residual * features``.
    """

    def run(i: torch.Tensor) -> torch.Tensor:
        h = model.hidden(i)
        pred = model.head(h).squeeze(-1)
        return torch.cat([h, torch.ones_like(pred)[:, None], pred[:, None]], dim=1)

    out = predict_batched(run, [idx], batch_size=batch_size)
    return out[:, :-1], out[:, -1] - values


class TracInTracker:
    """Accumulates per-epoch cell influences; pass as ``epoch_callback`` to
    :meth:`NeuralTensorCompletion.fit`.

    Parameters
    ----------
    train, validation : ObservedTensor
        The cells the model trains on and the cells whose loss defines influence.
    device : torch.device
    batch_size : int
        Cells per forward pass when scoring.

    Attributes
    ----------
    per_epoch : list of ndarray (float64, nnz_train)
        ``∇ℓ(train cell) · ∇L(validation)`` at the end of each epoch.
    seconds : float
        Time spent scoring (so it can be reported apart from training).
    """

    def __init__(
        self,
        train: ObservedTensor,
        validation: ObservedTensor,
        device: torch.device | str = "cpu",
        batch_size: int = 8192,
    ):
        # an empty validation set would make the validation gradient 0/0 = NaN for every cell
        check_tensor(train, "train")
        check_tensor(validation, "validation", order=train.order)
        self.device = torch.device(device)
        self.ti = torch.as_tensor(train.indices, device=self.device)
        self.tv = torch.as_tensor(train.values, dtype=torch.float32, device=self.device)
        self.vi = torch.as_tensor(validation.indices, device=self.device)
        self.vv = torch.as_tensor(validation.values, dtype=torch.float32, device=self.device)
        self.batch_size = int(batch_size)
        self.per_epoch: list[np.ndarray] = []
        self.seconds = 0.0

    @torch.no_grad()
    def __call__(self, model: EmbeddingMLP, epoch: int) -> None:
        t0 = time.perf_counter()
        model.eval()
        fv, rv = last_layer_gradients(model, self.vi, self.vv, self.batch_size)
        # Gradient of the (mean) validation MSE w.r.t. the head's weight and bias.
        g_val = (2.0 / len(rv)) * (rv[:, None] * fv).sum(0)
        scores = []
        for start in range(0, len(self.tv), self.batch_size):
            sl = slice(start, start + self.batch_size)
            ft, rt = last_layer_gradients(model, self.ti[sl], self.tv[sl], self.batch_size)
            scores.append(2.0 * rt * (ft @ g_val))
        self.per_epoch.append(torch.cat(scores).double().cpu().numpy())
        self.seconds += time.perf_counter() - t0

    def cell_importance(self, best_epoch: int | None) -> np.ndarray:
        """Influence summed over the epochs ``0 .. best_epoch`` (TracIn over checkpoints)."""
        if not self.per_epoch:
            raise RuntimeError("no epoch was tracked; pass the tracker as epoch_callback to fit")
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
