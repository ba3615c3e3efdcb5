"""Small tensor helpers shared by the graph modules."""
from __future__ import annotations

import torch

__all__ = ["fast_dropout"]

_WORD = 8  # uint8 draws per int64 word


def fast_dropout(x: torch.Tensor, p: float, training: bool = True,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout from 8-bit uniforms carved out of 64-bit random words.

    ``torch.bernoulli_`` (behind ``F.dropout``) draws one random number per element and is
    the single largest cost of LA-GNN training on a CPU (dense generated features, several
    branches and passes per epoch). Drawing 64-bit words and comparing each byte with a
    threshold is ~10x faster. The keep probability is quantised to multiples of 1/256
    (0.4 -> 102/256) and the rescaling uses the quantised value, so the expectation is exact.
    """
    if not training or p <= 0:
        return x
    if p >= 1:
        return torch.zeros_like(x)
    n = x.numel()
    words = torch.randint(-(2**63), 2**63 - 1, ((n + _WORD - 1) // _WORD,), dtype=torch.int64,
                          device=x.device, generator=generator)
    u = words.view(torch.uint8)[:n].view(x.shape)
    thr = max(1, round((1 - p) * 256))
    mask = (u < thr).to(x.dtype).mul_(256.0 / thr)
    return x * mask
