"""Small tensor helpers shared by the graph modules (the sparse product is :mod:`structaug.sparse`)."""

from __future__ import annotations

import torch

from ..sparse import quiet_csr

__all__ = ["row_normalize_", "to_sparse_features"]


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
    with quiet_csr():
        return x.to_sparse_csr()


def row_normalize_(x: torch.Tensor) -> torch.Tensor:
    """In-place :func:`~structaug.graph._cvae.row_normalize` (same values, no new [N, F] buffer)."""
    s = x.sum(dim=-1, keepdim=True)
    return x.div_(torch.where(s == 0, torch.ones_like(s), s))
