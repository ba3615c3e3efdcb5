"""Contrastive objectives: InfoNCE with in-batch negatives and MCLRec's margin regulariser."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import torch
import torch.nn.functional as F

__all__ = ["contrastive_terms", "info_nce", "margin_regulariser", "similarity"]


class _Scores(NamedTuple):
    """Similarities of ``z = cat(a, b)`` (2n rows): row i's positive is row i ± n."""

    matrix: torch.Tensor  # [2n, 2n], every pair
    positive: torch.Tensor  # [2n], z_i · z_{i±n}
    self_sim: torch.Tensor  # [2n], z_i · z_i (the diagonal)


def _scores(a: torch.Tensor, b: torch.Tensor, temperature: float, sim: str) -> _Scores:
    z = torch.cat([a, b], 0)
    if sim == "cos":
        z = F.normalize(z, dim=1)
    elif sim != "dot":
        raise ValueError(f"sim must be 'dot' or 'cos', got {sim!r}")
    n = len(a)
    # The positives and the diagonal come from row-wise products, not from views of the
    # matrix: a diagonal view's backward allocates and zero-fills a whole [2n, 2n] gradient,
    # which cost MCLRec (nine pairs per step) a third of its contrastive time.
    pos = (z[:n] * z[n:]).sum(1)
    out = _Scores(z @ z.T, torch.cat([pos, pos]), (z * z).sum(1))
    if temperature != 1.0:  # MCLRec's temperature is 1: skip three passes
        out = _Scores(*(t / temperature for t in out))
    return out


def similarity(a: torch.Tensor, b: torch.Tensor, temperature: float = 1.0, sim: str = "dot") -> torch.Tensor:
    """[2N, 2N] similarities of ``cat(a, b)`` with itself (``"dot"`` or ``"cos"``) / temperature."""
    return _scores(a, b, temperature, sim).matrix


@lru_cache(maxsize=16)
def _excluded(n2: int, negatives_only: bool, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Additive [2n, 2n] mask: -inf on the diagonal (and, with ``negatives_only``, on each
    row's positive), 0 elsewhere. An add leaves no [2n, 2n] work for the backward pass."""
    with torch.inference_mode(False):  # cached: must stay usable by autograd later
        m = torch.zeros(n2, n2, device=device, dtype=dtype)
        for k in (0, n2 // 2, -(n2 // 2)) if negatives_only else (0,):
            m.diagonal(k).fill_(float("-inf"))
    return m


def _nce(s: _Scores) -> torch.Tensor:
    # cross-entropy of each row's positive against every other row (all but the diagonal)
    others = s.matrix + _excluded(len(s.matrix), False, s.matrix.device, s.matrix.dtype)
    return (torch.logsumexp(others, 1) - s.positive).mean()


def _margin(s: _Scores) -> torch.Tensor:
    mat, pos = s.matrix, s.positive
    if len(mat) < 4:  # a one-row batch has no negatives: R is 0, not relu(p - (-inf)) = inf
        return mat.new_zeros(()) + 0.0 * pos.sum()  # keeps the graph for a later backward
    hardest = (mat + _excluded(len(mat), True, mat.device, mat.dtype)).max(1).values
    lo, hi = torch.minimum(pos, hardest), torch.maximum(pos, hardest)
    term_pos = F.relu(pos - lo).mean()
    n_neg = mat.numel() - 2 * len(mat)
    # the sum over negatives is the row sum less the diagonal and positive terms (hi >= pos)
    excluded = F.relu(hi - s.self_sim) + (hi - pos)
    term_neg = (F.relu(hi.unsqueeze(1) - mat).sum() - excluded.sum()) / max(n_neg, 1)
    return term_pos + term_neg


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 1.0, sim: str = "dot") -> torch.Tensor:
    """NT-Xent between paired rows of ``a`` and ``b``: each of the 2N rows has one positive and
    the other 2(N-1) rows of the batch as negatives (SimCLR, CL4SRec)."""
    return _nce(_scores(a, b, temperature, sim))


def margin_regulariser(a: torch.Tensor, b: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """MCLRec's contrastive regulariser R on one pair of views (dot similarity).

    With ``p`` a row's positive similarity and ``m`` its hardest (largest) negative, the two
    margins are ``lo = min(p, m)`` and ``hi = max(p, m)``; R is
    ``mean(relu(p - lo)) + mean_over_negatives(relu(hi - s_neg))``, which is zero exactly when,
    in every row, all negatives share one similarity and the positive is not above it. It keeps the learnable
    augmenters from drifting to views that are trivially easy or impossible to match,
    following the reference implementation's ``meta_contrast_rl`` term.
    """
    return _margin(_scores(a, b, temperature, "dot"))


def contrastive_terms(
    a: torch.Tensor, b: torch.Tensor, temperature: float = 1.0, regulariser: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(info_nce(a, b), margin_regulariser(a, b))`` (dot similarity) from one similarity matrix.

    MCLRec needs both on the same pair; sharing the [2N, 2N] matrix halves the work.
    """
    s = _scores(a, b, temperature, "dot")
    return _nce(s), (_margin(s) if regulariser else None)
