"""structaug.sparse: the one sparse matmul (cached-transpose backward) and its builders."""

from __future__ import annotations

import pytest
import torch

from structaug.sparse import SparseOperator, gcn_adjacency, sparse_matmul


def _random_op(n=30, m=20, nnz=120, seed=0):
    g = torch.Generator().manual_seed(seed)
    flat = torch.randperm(n * m, generator=g)[:nnz]
    rows, cols = flat // m, flat % m
    vals = torch.rand(nnz, generator=g, dtype=torch.float64)
    return rows, cols, vals


def test_from_coo_matches_dense_and_the_old_coalesce_builder():
    rows, cols, vals = _random_op()
    op = SparseOperator.from_coo(rows, cols, vals, (30, 20))
    dense = torch.zeros(30, 20, dtype=torch.float64).index_put_((rows, cols), vals)
    assert torch.equal(op.to_dense(), dense) and torch.equal(op.at.to_dense(), dense.T)
    assert op.shape == (30, 20) and op.T.shape == (20, 30) and op.dtype == torch.float64
    # the builder it replaced (LLMRec SparseOp.build): COO coalesce, then CSR
    old = torch.sparse_coo_tensor(torch.stack([rows, cols]), vals, (30, 20)).coalesce().to_sparse_csr()
    for a, b in (
        (old.crow_indices(), op.a.crow_indices()),
        (old.col_indices(), op.a.col_indices()),
        (old.values(), op.a.values()),
    ):
        assert torch.equal(a, b)


def test_duplicates_are_summed():
    op = SparseOperator.from_coo(
        torch.tensor([0, 0, 1]), torch.tensor([1, 1, 0]), torch.tensor([1.0, 2.0, 5.0]), (2, 2)
    )
    assert op.to_dense().tolist() == [[0.0, 3.0], [5.0, 0.0]] and op.at.to_dense().tolist() == [[0.0, 5.0], [3.0, 0.0]]


def test_matmul_values_and_gradient_equal_torch():
    rows, cols, vals = _random_op()
    op = SparseOperator.from_coo(rows, cols, vals, (30, 20))
    dense = op.to_dense()
    x = torch.randn(20, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    y = op @ x
    (y.square().sum()).backward()
    x2 = x.detach().clone().requires_grad_(True)
    y2 = torch.sparse.mm(op.a, x2)  # torch's own backward
    y2.square().sum().backward()
    assert torch.equal(y, y2) and torch.equal(x.grad, x2.grad)
    assert torch.allclose(y, dense @ x.detach())
    assert torch.autograd.gradcheck(lambda t: op @ t, (x.detach().clone().requires_grad_(True),))


def test_backward_uses_the_cached_transpose():
    rows, cols, vals = _random_op(seed=2)
    op = SparseOperator.from_coo(rows, cols, vals, (30, 20))
    x = torch.randn(20, 3, dtype=torch.float64, requires_grad=True)
    # a deliberately wrong "transpose" shows which matrix the backward multiplies by
    fake_t = SparseOperator.from_coo(cols, rows, 2 * vals, (20, 30)).a
    sparse_matmul(op.a, x, fake_t).sum().backward()
    assert torch.allclose(x.grad, 2 * op.at.to_dense().sum(1, keepdim=True).expand(20, 3) * 1.0)
    assert torch.allclose(x.grad, (2 * op.to_dense()).T @ torch.ones(30, 3, dtype=torch.float64))


def test_no_grad_path_is_plain_spmm_and_transpose_op():
    rows, cols, vals = _random_op(seed=3)
    op = SparseOperator.from_coo(rows, cols, vals, (30, 20))
    x = torch.randn(20, 2, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(op @ x, torch.sparse.mm(op.a, x))
    z = torch.randn(30, 2, dtype=torch.float64)
    assert torch.allclose(op.T @ z, op.to_dense().T @ z)
    assert SparseOperator(op.a).at.to_dense().equal(op.at.to_dense())  # transpose built when omitted
    assert "SparseOperator(shape=(30, 20), nnz=120" in repr(op)


def test_gcn_adjacency_equals_pyg_gcn_conv_propagation():
    from torch_geometric.nn import GCNConv

    ei = torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]])
    adj = gcn_adjacency(ei, 6)  # node 5 isolated: self-loop only
    conv = GCNConv(3, 3, bias=False)
    torch.nn.init.eye_(conv.lin.weight)
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(adj @ x, conv(x, ei), atol=1e-6)
    assert torch.equal(adj.at.to_dense(), adj.to_dense().T)


def test_errors():
    with pytest.raises(IndexError, match=r"cols must lie in \[0, 2\), got \[0, 5\]"):
        SparseOperator.from_coo(torch.tensor([0, 1]), torch.tensor([0, 5]), torch.ones(2), (2, 2))
    with pytest.raises(ValueError, match="one entry per non-zero"):
        SparseOperator.from_coo(torch.tensor([0, 1]), torch.tensor([0]), torch.ones(2), (2, 2))
    a = SparseOperator.from_coo(torch.tensor([0]), torch.tensor([1]), torch.ones(1), (2, 3))
    with pytest.raises(ValueError, match=r"at must have shape \(3, 2\)"):
        SparseOperator(a.a, a.a)
