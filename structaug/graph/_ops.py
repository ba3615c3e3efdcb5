"""Small tensor helpers shared by the graph modules."""
from __future__ import annotations

import warnings

import torch

__all__ = ["fast_dropout", "to_sparse_features", "row_normalize_"]

_WORD = 8  # uint8 draws per int64 word


def _random_bytes(n: int, device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
    """``n`` uniform bytes cut out of ``ceil(n / 8)`` random int64 words (one RNG call)."""
    words = torch.randint(-(2**63), 2**63 - 1, ((n + _WORD - 1) // _WORD,), dtype=torch.int64,
                          device=device, generator=generator)
    return words.view(torch.uint8)[:n]


def fast_dropout(x: torch.Tensor, p: float, training: bool = True,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout from 8-bit uniforms carved out of 64-bit random words.

    ``torch.bernoulli_`` (behind ``F.dropout``) draws one random number per element and is
    the single largest cost of LA-GNN training on a CPU (dense generated features, several
    branches and passes per epoch). Drawing 64-bit words and comparing each byte with a
    threshold is ~10x faster. The keep probability is quantised to multiples of 1/256
    (0.4 -> 102/256) and the rescaling uses the quantised value, so the expectation is exact.

    ``x`` may be a sparse CSR matrix (e.g. bag-of-words features): only its stored entries
    are masked, with the *same* random bytes the dense version would use at those positions
    (the full draw is made so the generator advances identically), so
    ``fast_dropout(x.to_sparse_csr()).to_dense()`` equals ``fast_dropout(x)`` bit for bit.
    """
    if not training or p <= 0:
        return x
    if p >= 1:
        if x.layout == torch.sparse_csr:
            return torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), torch.zeros_like(x.values()),
                                           x.shape, check_invariants=False)
        return torch.zeros_like(x)
    if x.layout == torch.sparse_csr:
        return _sparse_csr_dropout(x, p, generator)
    u = _random_bytes(x.numel(), x.device, generator).view(x.shape)
    thr = max(1, round((1 - p) * 256))
    # The comparison is written straight into a float buffer and scaled in place (no bool
    # mask and float copy of it): the same values as before at about half the cost.
    mask = torch.empty_like(x)
    torch.lt(u, thr, out=mask)
    mask.mul_(256.0 / thr)
    if x.requires_grad and torch.is_grad_enabled():
        return x * mask  # out of place: autograd keeps the mask for the backward pass
    # Inputs without gradient (features, generated features): reuse the mask's buffer for
    # the result, one [N, F] allocation instead of two (fresh large buffers cost page faults).
    return mask.mul_(x)


def _sparse_csr_dropout(x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    crow, col, val = x.crow_indices(), x.col_indices(), x.values()
    n_rows, n_cols = x.shape
    u = _random_bytes(n_rows * n_cols, x.device, generator)
    rows = torch.repeat_interleave(torch.arange(n_rows, device=x.device), crow.diff())
    thr = max(1, round((1 - p) * 256))
    keep_val = torch.empty_like(val)
    torch.lt(u[rows * n_cols + col], thr, out=keep_val)
    keep_val.mul_(val).mul_(256.0 / thr)
    # same index arrays as the valid input, so the invariant check is skipped
    return torch.sparse_csr_tensor(crow, col, keep_val, x.shape, check_invariants=False)


def to_sparse_features(x: torch.Tensor, max_density: float = 0.25) -> torch.Tensor:
    """``x`` as a sparse CSR matrix when at most ``max_density`` of it is non-zero, else ``x``.

    Bag-of-words node features (Cora: 1.3 % non-zero) make the first layer's dense
    ``[N, F] @ [F, h]`` product and its dropout mostly work on zeros; a CSR product is
    ~50x cheaper and gives the same values up to float summation order.
    """
    if x.layout != torch.strided or x.dim() != 2 or x.numel() == 0:
        return x
    if float((x != 0).sum()) > max_density * x.numel():
        return x
    with warnings.catch_warnings():  # torch's one-off "sparse CSR support is in beta" notice
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return x.to_sparse_csr()


def row_normalize_(x: torch.Tensor) -> torch.Tensor:
    """In-place :func:`~structaug.graph.cvae.row_normalize` (same values, no new [N, F] buffer)."""
    s = x.sum(dim=-1, keepdim=True)
    return x.div_(torch.where(s == 0, torch.ones_like(s), s))
