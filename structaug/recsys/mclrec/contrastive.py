"""Contrastive objectives: InfoNCE with in-batch negatives and MCLRec's margin regulariser."""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["info_nce", "margin_regulariser", "similarity"]


def similarity(a: torch.Tensor, b: torch.Tensor, temperature: float = 1.0, sim: str = "dot") -> torch.Tensor:
    """[2N, 2N] similarities of ``cat(a, b)`` with itself (``"dot"`` or ``"cos"``) / temperature."""
    z = torch.cat([a, b], 0)
    if sim == "cos":
        z = F.normalize(z, dim=1)
    elif sim != "dot":
        raise ValueError(f"sim must be 'dot' or 'cos', got {sim!r}")
    return (z @ z.T) / temperature


def _positive_index(n: int, device) -> torch.Tensor:
    # row i of cat(a, b) is paired with row i + n and vice versa
    return torch.cat([torch.arange(n, 2 * n, device=device), torch.arange(0, n, device=device)])


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 1.0, sim: str = "dot") -> torch.Tensor:
    """NT-Xent between paired rows of ``a`` and ``b``: each of the 2N rows has one positive and
    the other 2(N-1) rows of the batch as negatives (SimCLR, CL4SRec)."""
    n = a.shape[0]
    s = similarity(a, b, temperature, sim)
    s = s.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=s.device), float("-inf"))
    return F.cross_entropy(s, _positive_index(n, s.device))


def margin_regulariser(a: torch.Tensor, b: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """MCLRec's contrastive regulariser R on one pair of views (dot similarity).

    With ``p`` a row's positive similarity and ``m`` its hardest (largest) negative, the two
    margins are ``lo = min(p, m)`` and ``hi = max(p, m)``; R is
    ``mean(relu(p - lo)) + mean_over_negatives(relu(hi - s_neg))``, which is zero only when
    the positive and every negative collapse onto one similarity level. It keeps the learnable
    augmenters from drifting to views that are trivially easy or impossible to match,
    following the reference implementation's ``meta_contrast_rl`` term.
    """
    n = a.shape[0]
    s = similarity(a, b, temperature, "dot")
    rows = torch.arange(2 * n, device=s.device)
    pos_idx = _positive_index(n, s.device)
    pos = s[rows, pos_idx]
    neg_mask = torch.ones_like(s, dtype=torch.bool)
    neg_mask[rows, rows] = False
    neg_mask[rows, pos_idx] = False
    hardest = s.masked_fill(~neg_mask, float("-inf")).max(1).values
    lo, hi = torch.minimum(pos, hardest), torch.maximum(pos, hardest)
    term_pos = F.relu(pos - lo).mean()
    term_neg = (F.relu(hi.unsqueeze(1) - s) * neg_mask).sum() / neg_mask.sum().clamp(min=1)
    return term_pos + term_neg
