"""Contrastive objectives: InfoNCE with in-batch negatives and MCLRec's margin regulariser."""
from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

__all__ = ["info_nce", "margin_regulariser", "contrastive_terms", "similarity"]


def similarity(a: torch.Tensor, b: torch.Tensor, temperature: float = 1.0, sim: str = "dot") -> torch.Tensor:
    """[2N, 2N] similarities of ``cat(a, b)`` with itself (``"dot"`` or ``"cos"``) / temperature."""
    z = torch.cat([a, b], 0)
    if sim == "cos":
        z = F.normalize(z, dim=1)
    elif sim != "dot":
        raise ValueError(f"sim must be 'dot' or 'cos', got {sim!r}")
    return (z @ z.T) / temperature


@lru_cache(maxsize=16)
def _pair_masks(n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(pos_idx, self_pair, not_neg)`` for a [2n, 2n] similarity matrix of ``cat(a, b)``.

    Row i is paired with row i + n and vice versa; ``not_neg`` marks the diagonal and the
    positive of each row. Built once per batch size: MCLRec needs them nine times per step.
    """
    with torch.inference_mode(False):  # cached: must stay usable by autograd later
        pos_idx = torch.cat([torch.arange(n, 2 * n, device=device), torch.arange(0, n, device=device)])
        rows = torch.arange(2 * n, device=device)
        self_pair = torch.eye(2 * n, dtype=torch.bool, device=device)
        not_neg = self_pair.clone()
        not_neg[rows, pos_idx] = True
    return pos_idx, self_pair, not_neg


def _nce(s: torch.Tensor) -> torch.Tensor:
    pos_idx, self_pair, _ = _pair_masks(len(s) // 2, s.device)
    return F.cross_entropy(s.masked_fill(self_pair, float("-inf")), pos_idx)


def _margin(s: torch.Tensor) -> torch.Tensor:
    pos_idx, _, not_neg = _pair_masks(len(s) // 2, s.device)
    pos = s[torch.arange(len(s), device=s.device), pos_idx]
    hardest = s.masked_fill(not_neg, float("-inf")).max(1).values
    lo, hi = torch.minimum(pos, hardest), torch.maximum(pos, hardest)
    term_pos = F.relu(pos - lo).mean()
    n_neg = s.numel() - 2 * len(s)
    term_neg = F.relu(hi.unsqueeze(1) - s).masked_fill(not_neg, 0.0).sum() / max(n_neg, 1)
    return term_pos + term_neg


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 1.0, sim: str = "dot") -> torch.Tensor:
    """NT-Xent between paired rows of ``a`` and ``b``: each of the 2N rows has one positive and
    the other 2(N-1) rows of the batch as negatives (SimCLR, CL4SRec)."""
    s = similarity(a, b, temperature, sim)
    return _nce(s)


def margin_regulariser(a: torch.Tensor, b: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """MCLRec's contrastive regulariser R on one pair of views (dot similarity).

    With ``p`` a row's positive similarity and ``m`` its hardest (largest) negative, the two
    margins are ``lo = min(p, m)`` and ``hi = max(p, m)``; R is
    ``mean(relu(p - lo)) + mean_over_negatives(relu(hi - s_neg))``, which is zero only when
    the positive and every negative collapse onto one similarity level. It keeps the learnable
    augmenters from drifting to views that are trivially easy or impossible to match,
    following the reference implementation's ``meta_contrast_rl`` term.
    """
    s = similarity(a, b, temperature, "dot")
    return _margin(s)


def contrastive_terms(a: torch.Tensor, b: torch.Tensor, temperature: float = 1.0,
                      regulariser: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(info_nce(a, b), margin_regulariser(a, b))`` (dot similarity) from one similarity matrix.

    MCLRec needs both on the same pair; sharing the [2N, 2N] matrix halves the work.
    """
    s = similarity(a, b, temperature, "dot")
    return _nce(s), (_margin(s) if regulariser else None)
