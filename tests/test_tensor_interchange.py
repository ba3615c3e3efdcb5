"""ObservedTensor <-> numpy / pydata sparse / scipy sparse / torch sparse / tensorly (issue #21).

Round trips keep the cells, their values (bit for bit), the shape and the float64 dtype; an
observed 0 stays an observed cell; np.asarray refuses instead of guessing a fill value.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import tensorly as tl
import torch
from tensorly.decomposition import parafac

from structaug.exceptions import DataValidationError, InvalidParameterError
from structaug.tensor import ObservedTensor, TensorlyCompletion, make_tensor
from structaug.tensor._container import cell_keys

# values with an observed 0 and a negative: both must survive every round trip
T3 = ObservedTensor([[2, 0, 1], [0, 1, 2], [1, 3, 0], [0, 0, 0]], [4.5, 0.0, -1.25, 7.0], shape=(3, 4, 3))
T2 = ObservedTensor([[1, 2], [0, 0], [2, 1]], [0.0, -3.5, 2.0], shape=(3, 4))


def canonical(t: ObservedTensor) -> tuple[list, list, tuple]:
    """Cells sorted by key: conversions may reorder cells (sparse formats keep C order)."""
    order = np.argsort(cell_keys(t.indices, t.shape))
    return t.indices[order].tolist(), t.values[order].tolist(), t.shape


def assert_same_cells(a: ObservedTensor, b: ObservedTensor) -> None:
    assert a.indices.dtype == b.indices.dtype == np.int64 and a.values.dtype == b.values.dtype == np.float64
    assert canonical(a) == canonical(b)


def test_np_asarray_refuses_and_names_the_conversions():
    for conv in (np.asarray, np.array):
        with pytest.raises(InvalidParameterError, match=r"ambiguous.*to_dense\(fill=\.\.\.\).*to_sparse"):
            conv(T3)
    # the explicit conversion: NaN (unknown) in the unobserved cells, and the mask
    arr, mask = T3.to_dense()
    assert arr.shape == T3.shape and mask.sum() == 4 and np.isnan(arr[~mask]).all() and arr[0, 1, 2] == 0.0


@pytest.mark.parametrize("t", [T2, T3], ids=["order2", "order3"])
def test_scipy_coo_round_trip(t):
    s = t.to_scipy()
    assert isinstance(s, sp.coo_array) and s.shape == t.shape and s.nnz == t.nnz and s.dtype == np.float64
    back = ObservedTensor.from_scipy(s)
    assert_same_cells(back, t)
    s.data[:] = 99.0  # the array owns its values: writing to it leaves the tensor alone
    assert 99.0 not in t.values


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_scipy_compressed_formats_keep_observed_zeros(fmt):
    s = T2.to_scipy(fmt)
    assert s.format == fmt and s.nnz == 3  # the observed 0 at (1, 2) is a stored entry
    np.testing.assert_array_equal(s.toarray(), [[-3.5, 0, 0, 0], [0, 0, 0.0, 0], [0, 2.0, 0, 0]])
    assert_same_cells(ObservedTensor.from_scipy(s), T2)
    # a scipy *matrix* (the old API) reads the same
    assert_same_cells(ObservedTensor.from_scipy(sp.csr_matrix(s)), T2)
    with pytest.raises(InvalidParameterError, match="format='csr' needs an order-2 tensor"):
        T3.to_scipy("csr")
    with pytest.raises(InvalidParameterError, match="format must be one of"):
        T2.to_scipy("dok")


def test_scipy_repeated_coordinates_follow_the_duplicates_policy():
    s = sp.coo_array(([1.0, 2.0, 5.0], ([0, 0, 1], [1, 1, 0])), shape=(2, 2))  # (0, 1) twice
    with pytest.raises(DataValidationError, match="observed more than once"):
        ObservedTensor.from_scipy(s)
    summed = ObservedTensor.from_scipy(s, duplicates="sum")  # scipy's own meaning
    assert canonical(summed)[:2] == ([[0, 1], [1, 0]], [3.0, 5.0])
    np.testing.assert_array_equal(summed.to_scipy().toarray(), s.toarray())
    with pytest.raises(InvalidParameterError, match="scipy sparse array or matrix"):
        ObservedTensor.from_scipy(np.eye(2))


@pytest.mark.parametrize("t", [T2, T3], ids=["order2", "order3"])
def test_torch_round_trip(t):
    x = t.to_torch()
    assert x.layout == torch.sparse_coo and x.is_coalesced() and x.dtype == torch.float64
    assert tuple(x.shape) == t.shape and x._nnz() == t.nnz
    assert_same_cells(ObservedTensor.from_torch(x), t)
    dense = x.to_dense().numpy()
    arr, mask = t.to_dense(0.0)
    np.testing.assert_array_equal(dense, arr)
    # float32 for a model: values are rounded to float32 and come back as float64
    x32 = t.to_torch(dtype=torch.float32)
    assert x32.dtype == torch.float32
    assert canonical(ObservedTensor.from_torch(x32))[1] == canonical(t)[1]  # these values are exact in float32


def test_torch_uncoalesced_csr_dense_and_hybrid_inputs():
    i = torch.tensor([[0, 0, 1], [1, 1, 0]])
    x = torch.sparse_coo_tensor(i, torch.tensor([1.0, 2.0, 0.0]), (2, 2), check_invariants=True)  # (0, 1) twice
    with pytest.raises(DataValidationError, match="observed more than once"):
        ObservedTensor.from_torch(x)
    summed = ObservedTensor.from_torch(x, duplicates="sum")
    assert canonical(summed)[:2] == ([[0, 1], [1, 0]], [3.0, 0.0])  # the stored 0 at (1, 0) is a cell
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta"
        csr = T2.to_torch().to_sparse_csr()
    assert_same_cells(ObservedTensor.from_torch(csr), T2)
    with pytest.raises(InvalidParameterError, match="dense .*from_dense"):
        ObservedTensor.from_torch(torch.ones(2, 2))
    hybrid = torch.sparse_coo_tensor(torch.tensor([[0], [1]]), torch.ones(1, 3), (2, 2, 3), check_invariants=True)
    with pytest.raises(DataValidationError, match="dense dimension"):
        ObservedTensor.from_torch(hybrid)
    with pytest.raises(InvalidParameterError, match="torch sparse tensor"):
        ObservedTensor.from_torch(np.ones((2, 2)))


def test_pydata_sparse_round_trip():
    sparse = pytest.importorskip("sparse")
    c = T3.to_sparse()
    assert isinstance(c, sparse.COO) and c.shape == T3.shape and c.nnz == T3.nnz and c.dtype == np.float64
    assert_same_cells(ObservedTensor.from_sparse(c), T3)
    arr, _ = T3.to_dense(0.0)
    np.testing.assert_array_equal(c.todense(), arr)
    assert np.isnan(T3.to_sparse(fill_value=np.nan).todense()).sum() == 3 * 4 * 3 - 4
    assert_same_cells(ObservedTensor.from_sparse(c.asformat("gcxs")), T3)
    with pytest.raises(InvalidParameterError, match="pydata/sparse array"):
        ObservedTensor.from_sparse(T3.to_scipy())


def test_pydata_sparse_missing_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sparse", None)  # as if not installed
    with pytest.raises(ImportError, match=r"sparse, which is not installed: pip install"):
        T3.to_sparse()
    with pytest.raises(ImportError, match=r"sparse, which is not installed: pip install"):
        ObservedTensor.from_sparse(object())


def test_tensorly_dense_round_trip_and_mask():
    d, mask = T3.to_tensorly(return_mask=True)
    arr, m = T3.to_dense(0.0)
    np.testing.assert_array_equal(tl.to_numpy(d), arr)
    np.testing.assert_array_equal(tl.to_numpy(mask), m)
    assert_same_cells(ObservedTensor.from_tensorly(d, mask=mask), T3)
    # without a mask every non-NaN cell of a dense tensor is observed
    assert ObservedTensor.from_tensorly(d).nnz == 3 * 4 * 3
    # cells= reads just those cells, in their order
    part = ObservedTensor.from_tensorly(d, cells=T3.indices[::-1])
    assert part.indices.tolist() == T3.indices[::-1].tolist() and part.values.tolist() == T3.values[::-1].tolist()
    with pytest.raises(InvalidParameterError, match="cells= or mask="):
        ObservedTensor.from_tensorly(d, cells=T3, mask=mask)
    with pytest.raises(InvalidParameterError, match="tensorly tensor"):
        ObservedTensor.from_tensorly([[1.0]])


def test_tensorly_pytorch_backend():
    with tl.backend_context("pytorch"):
        d, mask = T3.to_tensorly(return_mask=True)
        assert isinstance(d, torch.Tensor) and d.dtype == torch.float64 and mask.dtype == torch.bool
        assert_same_cells(ObservedTensor.from_tensorly(d, cells=T3), T3)
        assert_same_cells(ObservedTensor.from_tensorly(d, mask=mask), T3)
    # a torch tensor made under that backend still reads back under the default numpy backend
    assert_same_cells(ObservedTensor.from_tensorly(d, mask=mask), T3)


@pytest.mark.parametrize("method", ["cp", "tucker"])
def test_tensorly_completion_exports_a_decomposition_equal_to_predict(method):
    t = make_tensor((9, 7, 5), nnz=150, rank=2, random_state=0)
    tr, _, te = t.split(random_state=0)
    model = TensorlyCompletion(method=method, rank=2, n_iter_max=15, random_state=0).fit(tr, shape=t.shape)
    dec = model.to_tensorly()
    assert type(dec).__name__ == ("CPTensor" if method == "cp" else "TuckerTensor")
    got = ObservedTensor.from_tensorly(dec, cells=te)  # evaluated at the cells, never densified
    assert got.shape == t.shape and got.indices.tolist() == te.indices.tolist()
    np.testing.assert_allclose(got.values, model.predict(te), rtol=0, atol=1e-12)
    # tensorly's own dense reconstruction agrees (the mean is folded into the decomposition)
    full = tl.to_numpy(dec.to_tensor())
    np.testing.assert_allclose(full[tuple(te.indices.T)], model.predict(te), rtol=0, atol=1e-12)
    dense_read = ObservedTensor.from_tensorly(dec)
    assert dense_read.nnz == 9 * 7 * 5
    centred = ObservedTensor.from_tensorly(model.to_tensorly(include_mean=False), cells=te)
    np.testing.assert_allclose(centred.values, model.predict(te) - model.mean_, rtol=0, atol=1e-12)


def test_tensorly_parafac_result_converts_back():
    t = make_tensor((6, 5, 4), nnz=60, rank=2, random_state=1)
    d, mask = t.to_tensorly(return_mask=True)
    cp = parafac(d, 2, mask=mask, init="random", n_iter_max=20, random_state=0)
    got = ObservedTensor.from_tensorly(cp, cells=t)
    np.testing.assert_allclose(got.values, tl.to_numpy(cp.to_tensor())[tuple(t.indices.T)], rtol=0, atol=1e-12)


def test_dense_conversions_are_size_guarded():
    big = ObservedTensor([[0, 0, 0]], [1.0], shape=(1000, 1000, 1000))
    for call in (big.to_dense, big.to_tensorly):
        with pytest.raises(DataValidationError, match="max_cells=100000000"):
            call()
    with pytest.raises(DataValidationError, match="max_cells=10"):
        T3.to_dense(max_cells=10)
    assert T3.to_dense(max_cells=36)[1].sum() == 4  # exactly at the limit is fine
    factors = [np.ones((1000, 1))] * 3
    cp = tl.cp_tensor.CPTensor((np.ones(1), factors))
    with pytest.raises(DataValidationError, match="CP/Tucker model without cells"):
        ObservedTensor.from_tensorly(cp)
    one = ObservedTensor.from_tensorly(cp, cells=[[999, 0, 5]])  # evaluating a cell needs no dense array
    assert one.values.tolist() == [1.0] and one.shape == (1000, 1000, 1000)
    with pytest.raises(DataValidationError, match="unseen"):
        ObservedTensor.from_tensorly(cp, cells=[[1000, 0, 0]])
