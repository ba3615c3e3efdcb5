"""MCLRec's learnable augmenter: an MLP on an encoder representation, L2-normalised."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...nn import MLP

__all__ = ["LearnableAugmenter"]


class LearnableAugmenter(nn.Module):
    """``h → normalize(MLP(h))`` with sizes ``64 → 32 → 16 → 64`` and GELU (MCLRec, Sec. 3.3).

    It produces a *model-level* view of a sequence representation; MCLRec trains two of them
    (one per data-level view) in the meta-update's second stage. Default PyTorch init, as in
    the reference (the augmenters live outside the encoder's N(0, 0.02) initialisation).
    """

    def __init__(self, sizes: Sequence[int] = (64, 32, 16, 64), act: str = "gelu"):
        super().__init__()
        if sizes[0] != sizes[-1]:
            raise ValueError(f"a learnable augmenter maps hidden → hidden; sizes {list(sizes)} do not")
        self.mlp = MLP(list(sizes), act=act)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.mlp(h), p=2, dim=1)
