"""One sparse-dense matrix product for every method: a constant CSR matrix whose transpose
is built once, for the backward pass.

torch's own backward of ``torch.sparse.mm(A, X)`` with respect to ``X`` transposes (re-sorts)
``A`` on every call. The graph operators of GCN/GCNII (LA-GCN) and LightGCN/LLMRec are
constant during training, so :class:`SparseOperator` builds ``Aᵀ`` once and its backward
is one more ``torch.sparse.mm``.

Measured in one process (torch 2.13+cpu, PyG 2.8.1, 1 thread; a random symmetric graph with
20,000 nodes and ~400,000 entries, ``X`` [20000, 64], forward + backward of
``(A @ X).square().sum()``, median of 20, two runs on a shared machine): the cached
transpose 64-109 ms, as the two copies it replaces (graph ``_CSRMatmul`` 66-132 ms, LLMRec
``_SpMM`` 76-105 ms: the same Function); torch's own backward 155-207 ms; PyG's
``torch_geometric.utils.spmm`` 160-242 ms. All give bit-identical values and gradients. PyG has no product with a cached transpose, so this one
stays ours; the matrices are built with PyG's ``to_torch_csr_tensor`` (see
:meth:`SparseOperator.from_coo`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

__all__ = ["SparseOperator", "gcn_adjacency", "quiet_csr", "select_rows", "sparse_matmul"]


@contextmanager
def quiet_csr() -> Iterator[None]:
    """Silence torch's one-off CSR notices ("support is in beta", "invariant checks")."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        yield


def select_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows ``index`` of ``x`` in the same layout: dense, sparse COO or sparse CSR.

    torch's ``index_select`` has no CSR kernel (torch 2.13); a CSR matrix's rows are gathered
    here from its row pointers, so a batch of a sparse feature matrix stays sparse.
    """
    if x.layout != torch.sparse_csr:
        return x.index_select(0, index)
    crow, col, val = x.crow_indices(), x.col_indices(), x.values()
    index = index.to(crow.device, torch.long)
    start = crow[index]
    count = crow[index + 1] - start
    new_crow = torch.zeros(index.numel() + 1, dtype=crow.dtype, device=crow.device)
    torch.cumsum(count, 0, out=new_crow[1:])
    block = torch.repeat_interleave(torch.arange(index.numel(), device=crow.device), count)
    pos = start[block] + torch.arange(block.numel(), device=crow.device) - new_crow[:-1][block]
    with quiet_csr():
        return torch.sparse_csr_tensor(new_crow, col[pos], val[pos], (index.numel(), x.shape[1]))


class _CachedTransposeMM(torch.autograd.Function):
    """``A @ X`` whose backward multiplies by the precomputed ``Aᵀ`` (no gradient for ``A``)."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, a_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.a_t = a_t
        return torch.sparse.mm(a, x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, None, torch.Tensor]:
        return None, None, torch.sparse.mm(ctx.a_t, grad)


def sparse_matmul(a: torch.Tensor, x: torch.Tensor, a_t: torch.Tensor | None = None) -> torch.Tensor:
    """``a @ x`` for a sparse ``a`` [m, n] and a dense ``x`` [n, d] -> dense [m, d].

    With ``a_t`` (``aᵀ``, [n, m]) the backward with respect to ``x`` is ``a_t @ grad``
    instead of torch's transpose-on-every-call; ``a`` is treated as a constant (no gradient).
    Without a gradient to compute (``x`` needs none, or under ``torch.no_grad``) it is
    plain ``torch.sparse.mm``: the same forward values either way.
    """
    if a_t is None or not (torch.is_grad_enabled() and x.requires_grad):
        return torch.sparse.mm(a, x)
    return _CachedTransposeMM.apply(a, a_t, x)


class SparseOperator:
    """A constant sparse matrix ``a`` (CSR) and its transpose ``at``, built once.

    ``op @ x`` is :func:`sparse_matmul` (cached-transpose backward); ``op.T @ y`` multiplies
    by the transpose.

    Parameters
    ----------
    a : Tensor, sparse CSR (or COO) of shape (m, n)
    at : Tensor of shape (n, m), optional
        ``aᵀ`` in CSR; computed from ``a`` when omitted.

    Examples
    --------
    >>> import torch
    >>> op = SparseOperator.from_coo(torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([2., 3.]), (2, 2))
    >>> (op @ torch.eye(2)).tolist()
    [[0.0, 2.0], [3.0, 0.0]]
    """

    def __init__(self, a: torch.Tensor, at: torch.Tensor | None = None):
        with quiet_csr():
            if a.layout != torch.sparse_csr:
                a = a.coalesce().to_sparse_csr() if a.layout == torch.sparse_coo else a.to_sparse_csr()
            if at is None:
                at = a.to_sparse_coo().t().coalesce().to_sparse_csr()
        if tuple(at.shape) != tuple(a.shape)[::-1]:
            raise ValueError(f"at must have shape {tuple(a.shape)[::-1]} (the transpose of a), got {tuple(at.shape)}")
        self.a = a
        self.at = at

    @classmethod
    def from_coo(
        cls,
        rows: torch.Tensor,
        cols: torch.Tensor,
        values: torch.Tensor,
        shape: tuple[int, int],
        device: torch.device | str | None = None,
    ) -> SparseOperator:
        """The operator with ``a[rows[k], cols[k]] = values[k]`` (duplicates summed).

        Parameters
        ----------
        rows, cols : LongTensor of shape (nnz,)
        values : Tensor of shape (nnz,)
        shape : (int, int)
        device : torch.device or str, optional
            Where to put both matrices (default: where ``values`` is).

        Entries are sorted by (row, column), duplicates summed (PyG's ``to_torch_csr_tensor``;
        the same CSR as torch's COO ``coalesce``), so products sum in a fixed order.
        """
        # PyG's builder (sort by (row, col), sum duplicates) gives the same CSR, bit for bit, as
        # torch's COO coalesce + to_sparse_csr, in 134 ms instead of 218 ms for a 20k x 20k
        # matrix with 400k entries (both matrices, measured as in the module docstring): use it.
        from torch_geometric.utils import to_torch_csr_tensor

        shape = (int(shape[0]), int(shape[1]))
        rows, cols = torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)
        if not (rows.shape == cols.shape == values.shape[:1]) or rows.dim() != 1:
            raise ValueError(
                f"rows, cols and values must have one entry per non-zero, got shapes "
                f"{tuple(rows.shape)}, {tuple(cols.shape)}, {tuple(values.shape)}"
            )
        for name, idx, size in (("rows", rows, shape[0]), ("cols", cols, shape[1])):
            if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= size):
                raise IndexError(f"{name} must lie in [0, {size}), got [{int(idx.min())}, {int(idx.max())}]")
        with quiet_csr():
            a_csr = to_torch_csr_tensor(torch.stack([rows, cols]), values, size=shape)
            at_csr = to_torch_csr_tensor(torch.stack([cols, rows]), values, size=shape[::-1])
            if device is not None:
                a_csr, at_csr = a_csr.to(device), at_csr.to(device)
        return cls(a_csr, at_csr)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.a.shape[0]), int(self.a.shape[1]))

    @property
    def T(self) -> SparseOperator:
        """The transpose (shares both matrices)."""
        return SparseOperator(self.at, self.a)

    @property
    def device(self) -> torch.device:
        return self.a.device

    @property
    def dtype(self) -> torch.dtype:
        return self.a.dtype

    def to(self, device: torch.device | str) -> SparseOperator:
        """Both matrices on ``device``."""
        with quiet_csr():
            return SparseOperator(self.a.to(device), self.at.to(device))

    def to_dense(self) -> torch.Tensor:
        return self.a.to_dense()

    def __matmul__(self, x: torch.Tensor) -> torch.Tensor:
        return sparse_matmul(self.a, x, self.at)

    def __repr__(self) -> str:
        return f"SparseOperator(shape={self.shape}, nnz={int(self.a._nnz())}, dtype={self.dtype}, device={self.device})"


def gcn_adjacency(edge_index: torch.Tensor, num_nodes: int, dtype: torch.dtype = torch.float32) -> SparseOperator:
    """GCN's ``D^-1/2 (A + I) D^-1/2`` as a :class:`SparseOperator`, rows = message targets.

    Same normalisation as PyG's ``gcn_norm`` (remaining self-loops, weight 1) over
    ``edge_index`` [2, E] (source -> target); ``op @ x`` aggregates messages into targets.
    """
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    ei, w = gcn_norm(edge_index, None, num_nodes, improved=False, add_self_loops=True, dtype=dtype)
    return SparseOperator.from_coo(ei[1], ei[0], w, (num_nodes, num_nodes))
