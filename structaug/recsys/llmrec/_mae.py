"""LLMRec's feature enhancement: masked feature auto-encoding with a scaled-cosine loss.

During training a fraction ``mask_rate`` of user-profile rows and item-attribute rows is
replaced by the column mean (a [MASK] vector); a small decoder maps the propagated,
projected features of those nodes back to the original input features, scored with the
scaled-cosine error of GraphMAE, ``(1 - cos(x, y)) ** alpha`` (paper/reference: alpha 2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FeatureDecoder", "mask_rows", "sce_loss"]


def mask_rows(x: torch.Tensor, rate: float, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace ``int(rate * n)`` random rows of ``x`` by the column mean; returns (masked copy, rows).

    The input is never modified (the reference overwrote its feature buffers in place, so
    masks accumulated over steps).
    """
    n = x.shape[0]
    k = int(rate * n)
    if k == 0:
        return x, torch.empty(0, dtype=torch.long, device=x.device)
    rows = torch.randperm(n, generator=generator, device=generator.device if generator is not None else "cpu")[:k].to(
        x.device
    )
    out = x.clone()
    out[rows] = x.mean(0)
    return out, rows


def sce_loss(pred: torch.Tensor, target: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Scaled cosine error ``mean((1 - cos(pred, target)) ** alpha)``."""
    if pred.numel() == 0:
        return pred.sum() * 0.0
    cos = (F.normalize(pred, dim=-1) * F.normalize(target, dim=-1)).sum(-1)
    return (1 - cos).pow(alpha).mean()


class FeatureDecoder(nn.Module):
    """``Linear(dim → feat_dim)`` + LeakyReLU, one for users and one shared by item fields."""

    def __init__(self, dim: int, user_dim: int | None, item_dim: int | None):
        super().__init__()
        self.user = nn.Sequential(nn.Linear(dim, user_dim), nn.LeakyReLU()) if user_dim else None
        self.item = nn.Sequential(nn.Linear(dim, item_dim), nn.LeakyReLU()) if item_dim else None
