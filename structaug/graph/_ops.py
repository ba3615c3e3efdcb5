"""Small tensor helpers shared by the graph modules."""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterator

import torch

__all__ = ["to_sparse_features", "row_normalize_", "gcn_adjacency", "csr_matmul"]


@contextmanager
def _quiet_csr() -> Iterator[None]:
    """Silence torch's one-off CSR notices ("support is in beta", "invariant checks disabled")."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        yield


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
    with _quiet_csr():
        return x.to_sparse_csr()


def row_normalize_(x: torch.Tensor) -> torch.Tensor:
    """In-place :func:`~structaug.graph.cvae.row_normalize` (same values, no new [N, F] buffer)."""
    s = x.sum(dim=-1, keepdim=True)
    return x.div_(torch.where(s == 0, torch.ones_like(s), s))


class _CSRMatmul(torch.autograd.Function):
    """``adj @ x`` whose backward multiplies by a precomputed ``adjᵀ``.

    torch's own backward for a CSR product transposes (re-sorts) ``adj`` on every call;
    in a 64-layer GCNII that sort was ~15 % of an epoch.
    """

    @staticmethod
    def forward(ctx, adj: torch.Tensor, adj_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.adj_t = adj_t
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return None, None, torch.sparse.mm(ctx.adj_t, grad)


def gcn_adjacency(edge_index: torch.Tensor, num_nodes: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """GCN's ``D^-1/2 (A + I) D^-1/2`` as a CSR matrix, rows = message targets.

    Same normalisation as PyG's ``gcn_norm`` (remaining self-loops, weight 1) over
    ``edge_index`` [2, E] (source → target). The transpose is built once and attached for
    :func:`csr_matmul`'s backward.
    """
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric.utils import to_torch_csr_tensor

    ei, w = gcn_norm(edge_index, None, num_nodes, improved=False, add_self_loops=True, dtype=dtype)
    with _quiet_csr():
        adj = to_torch_csr_tensor(ei.flip(0), w, size=(num_nodes, num_nodes))
        adj._structaug_transpose = to_torch_csr_tensor(ei, w, size=(num_nodes, num_nodes))
    return adj


def csr_matmul(adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``adj @ x`` for a CSR ``adj``; uses the transpose :func:`gcn_adjacency` attached for backward."""
    adj_t = getattr(adj, "_structaug_transpose", None)
    if adj_t is None or not (torch.is_grad_enabled() and x.requires_grad):
        return torch.sparse.mm(adj, x)
    return _CSRMatmul.apply(adj, adj_t, x)
