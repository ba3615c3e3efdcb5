"""``ObservedTensor``: the observed cells of a sparse multi-way array.

A tensor of order ``N`` is stored in coordinate form: an integer index matrix
``[nnz, N]``, a float value per cell, and the mode sizes. This is what neural tensor
completion consumes (one embedding lookup per mode) and what DAIN's augmentation
produces, so the same container is used for real cells, augmented cells and splits.

Duplicate cells
---------------
A cell observed twice is ambiguous for completion. The constructor rejects duplicates by
default (``duplicates="error"``); ``duplicates="mean"`` averages the values of repeated
cells instead (what the MovieLens/CoMoDa loaders use when several ratings fall into the
same user × item × context cell); ``duplicates="sum"`` adds them (scipy's and torch's
meaning of a repeated coordinate).

Interchange
-----------
``to_sparse``/``from_sparse`` (pydata ``sparse.COO``, an optional dependency),
``to_scipy``/``from_scipy``, ``to_torch``/``from_torch`` (sparse COO) and
``to_tensorly``/``from_tensorly`` (dense tensors, and the ``CPTensor``/``TuckerTensor``
of a decomposition evaluated at chosen cells). Unobserved cells are *unknown*, not zero:
the sparse formats store exactly the observed cells (an observed 0 stays a stored entry),
and ``np.asarray(tensor)`` raises instead of guessing a fill value.

Argument checks shared by the estimators
----------------------------------------
:func:`check_tensor`, :func:`resolve_shape`, :func:`check_disjoint` and
:func:`as_cell_indices` are the one implementation of the checks every completion model
and augmenter in :mod:`structaug.tensor` runs before any work: each raises a structaug
exception naming the argument (``X``, ``validation``, ``shape``, ...).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._optional import import_optional
from ..exceptions import DataValidationError, InvalidParameterError
from ..random import RandomState
from ..splits import train_val_test_indices
from ..validation import check_choice, check_finite, check_index_range

__all__ = [
    "MAX_DENSE_CELLS",
    "ObservedTensor",
    "as_cell_indices",
    "cell_keys",
    "check_disjoint",
    "check_tensor",
    "resolve_shape",
    "tucker_at",
]

_DUPLICATE_POLICIES = ("error", "mean", "sum")

#: default limit of the conversions that allocate every cell of the tensor (``to_dense``,
#: ``to_tensorly``, ``from_tensorly`` of a CP/Tucker model): 10⁸ float64 cells are 800 MB.
MAX_DENSE_CELLS = 100_000_000


def cell_keys(indices: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """One hashable key per cell (row of ``indices``), comparable with ``np.isin``.

    Uses the flat (C-order) position while it fits in int64, else a byte view of the row.
    """
    shape = tuple(int(s) for s in shape)
    if float(np.prod(np.asarray(shape, dtype=np.float64))) < 2.0**62:
        return np.ravel_multi_index(tuple(indices.T), shape).astype(np.int64)
    rows = np.ascontiguousarray(indices.astype(np.int64))
    return rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()


def _as_index_matrix(indices, name: str) -> np.ndarray:
    """``indices`` as an int64 ``[n, order]`` matrix; integral floats are accepted, bools,
    strings, NaN and fractions are not."""
    try:
        arr = np.asarray(indices)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise DataValidationError(f"{name} could not be read as an [n, order] index array: {exc}") from exc
    if arr.ndim != 2:
        raise DataValidationError(f"{name} must be a 2-D [nnz, order] array, got shape {arr.shape}")
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise DataValidationError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise DataValidationError(f"{name} contains NaN or infinite indices")
        if not np.array_equal(arr, np.round(arr)):
            bad = arr[arr != np.round(arr)][0]
            raise DataValidationError(f"{name} must hold integer indices, found the non-integer value {bad}")
    return arr.astype(np.int64)


def _as_shape(shape, name: str = "shape") -> tuple[int, ...]:
    """Mode sizes as a tuple of ints >= 1; a string, a scalar or a fractional size is an error
    (``int(2.5)`` or ``tuple("23")`` would silently give another shape)."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise InvalidParameterError(f"{name} must be a sequence of ints (one size per mode), got {shape!r}")
    out = []
    for s in shape:
        if (
            isinstance(s, (bool, np.bool_))
            or not isinstance(s, (int, np.integer, float, np.floating))
            or not float(s).is_integer()
        ):
            raise InvalidParameterError(f"{name} must hold integer mode sizes, got {tuple(shape)!r}")
        out.append(int(s))
    if any(s < 1 for s in out):
        raise InvalidParameterError(f"{name}: mode sizes must be >= 1, got {tuple(out)}")
    return tuple(out)


class ObservedTensor:
    """Observed cells of an order-``N`` tensor (``N >= 2``) in coordinate form.

    Parameters
    ----------
    indices : array-like of int, shape (nnz, order)
        0-based index of each observed cell; float arrays are accepted only when every
        entry is integral.
    values : array-like of float, shape (nnz,)
        The observed values (finite).
    shape : sequence of int, optional
        Mode sizes; defaults to ``indices.max(0) + 1`` (DAIN's convention).
    duplicates : {"error", "mean", "sum"}
        What to do with cells that appear more than once: raise, average their values, or
        add them.

    Attributes
    ----------
    indices : ndarray of int64, shape (nnz, order)
    values : ndarray of float64, shape (nnz,)
    shape : tuple of int

    Examples
    --------
    >>> t = ObservedTensor([[0, 1, 2], [1, 0, 0]], [4.0, 3.5])
    >>> t.shape, t.nnz, t.order
    ((2, 2, 3), 2, 3)
    """

    def __init__(self, indices, values, shape: Sequence[int] | None = None, *, duplicates: str = "error"):
        check_choice(duplicates, _DUPLICATE_POLICIES, "duplicates")
        idx = _as_index_matrix(indices, "indices")
        try:
            val = np.asarray(values)
        except (TypeError, ValueError) as exc:
            raise DataValidationError(f"values could not be read as a 1-D array: {exc}") from exc
        if val.ndim != 1:
            raise DataValidationError(f"values must be 1-D, got shape {val.shape}")
        if val.dtype.kind not in "iuf" or val.dtype == bool:
            raise DataValidationError(f"values must be numeric, got dtype {val.dtype}")
        val = val.astype(np.float64)
        if len(idx) != len(val):
            raise DataValidationError(f"indices has {len(idx)} rows but values has {len(val)}")
        if idx.shape[1] < 2:
            raise DataValidationError(f"a tensor needs order >= 2, got {idx.shape[1]} index column(s)")
        check_finite(val, "values")
        if shape is None:
            if len(idx) == 0:
                raise DataValidationError("shape is required for an empty tensor")
            if (idx < 0).any():
                check_index_range(idx, [np.iinfo(np.int64).max] * idx.shape[1], "indices")
            shape = tuple(int(s) for s in idx.max(0) + 1)
        shape = _as_shape(shape)
        if len(shape) != idx.shape[1]:
            raise DataValidationError(f"shape {shape} has {len(shape)} modes but indices have {idx.shape[1]} columns")
        check_index_range(idx, list(shape), "indices")
        if len(idx):
            keys = cell_keys(idx, shape)
            uniq, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
            if len(uniq) < len(keys):
                if duplicates == "error":
                    dup = idx[first[np.argmax(counts > 1)]]
                    raise DataValidationError(
                        f"{int((counts > 1).sum())} cell(s) are observed more than once (e.g. {dup.tolist()}); "
                        "pass duplicates='mean' to average them"
                    )
                # merge repeated cells, keeping the first occurrence's position order
                sums = np.bincount(inverse, weights=val, minlength=len(uniq))
                order = np.argsort(first, kind="stable")
                idx = idx[first[order]]
                val = (sums if duplicates == "sum" else sums / counts)[order]
        self.indices = np.ascontiguousarray(idx)
        self.values = np.ascontiguousarray(val)
        self.shape = shape

    # -- basic properties -------------------------------------------------------------
    @property
    def order(self) -> int:
        """Number of modes."""
        return len(self.shape)

    @property
    def nnz(self) -> int:
        """Number of observed cells."""
        return len(self.values)

    @property
    def density(self) -> float:
        """Observed fraction of all cells."""
        return self.nnz / float(np.prod(np.asarray(self.shape, dtype=np.float64)))

    def __len__(self) -> int:
        return self.nnz

    def __repr__(self) -> str:
        dims = " x ".join(str(s) for s in self.shape)
        return f"ObservedTensor(shape={dims}, nnz={self.nnz})"

    def keys(self) -> np.ndarray:
        """Hashable per-cell keys (see :func:`cell_keys`)."""
        return cell_keys(self.indices, self.shape)

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        index_cols: Sequence[str] | None = None,
        value_col: str | None = None,
        *,
        shape: Sequence[int] | None = None,
        duplicates: str = "error",
    ) -> ObservedTensor:
        """One row per observed cell; ``index_cols`` (default: all but the last column) are the
        0-based indices, ``value_col`` (default: the last column) the value."""
        if not isinstance(frame, pd.DataFrame):
            raise InvalidParameterError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
        cols = list(frame.columns)
        value_col = cols[-1] if value_col is None else value_col
        index_cols = [c for c in cols if c != value_col] if index_cols is None else list(index_cols)
        missing = [c for c in [*index_cols, value_col] if c not in frame.columns]
        if missing:
            raise DataValidationError(f"columns {missing} are not in the frame (has {cols})")
        if frame[index_cols].isna().any().any():
            raise DataValidationError("index columns contain missing values")
        return cls(frame[index_cols].to_numpy(), frame[value_col].to_numpy(), shape, duplicates=duplicates)

    @classmethod
    def from_dense(cls, array, mask=None) -> ObservedTensor:
        """Cells of a dense array where ``mask`` is true (default: the non-NaN cells)."""
        arr = np.asarray(array, dtype=np.float64)
        if arr.ndim < 2:
            raise DataValidationError(f"a tensor needs order >= 2, got a {arr.ndim}-D array")
        if mask is None:
            mask = ~np.isnan(arr)
        mask = np.asarray(mask)
        if mask.shape != arr.shape:
            raise DataValidationError(f"mask shape {mask.shape} != array shape {arr.shape}")
        if mask.dtype != bool:
            raise DataValidationError(f"mask must be boolean, got dtype {mask.dtype}")
        idx = np.argwhere(mask)
        return cls(idx, arr[mask], arr.shape)

    @classmethod
    def from_text(
        cls, path: str | os.PathLike, *, shape: Sequence[int] | None = None, duplicates: str = "error"
    ) -> ObservedTensor:
        """DAIN's text format: ``i<TAB>j<TAB>...<TAB>value`` per line, 0-based indices."""
        from ..datasets import read_tensor_text

        idx, val = read_tensor_text(path)
        return cls(idx, val, shape, duplicates=duplicates)

    def to_text(self, path: str | os.PathLike) -> None:
        """Write DAIN's text format (inverse of :meth:`from_text`), atomically: an interrupted
        write never leaves a truncated file at ``path``."""
        from ..io import atomic_write_text

        atomic_write_text(self.to_frame().to_csv(sep="\t", header=False, index=False), path)

    def to_frame(self, index_names: Sequence[str] | None = None, value_name: str = "value") -> pd.DataFrame:
        names = list(index_names) if index_names is not None else [f"mode{m}" for m in range(self.order)]
        if len(names) != self.order:
            raise DataValidationError(f"need {self.order} index names, got {len(names)}")
        frame = pd.DataFrame(self.indices, columns=names)
        frame[value_name] = self.values
        return frame

    def to_dense(
        self, fill: float = np.nan, *, max_cells: int | None = MAX_DENSE_CELLS
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(array, mask)``: a dense array with ``fill`` in unobserved cells and the mask.

        Parameters
        ----------
        fill : float
            Value of the unobserved cells (default NaN: unknown).
        max_cells : int or None
            Refuse (:class:`DataValidationError`) a tensor with more cells than this;
            ``None`` lifts the limit.

        Returns
        -------
        array : ndarray of float64, shape ``self.shape``
        mask : ndarray of bool, shape ``self.shape``
            True at the observed cells.
        """
        _check_dense_size(self.shape, max_cells, "to_dense")
        arr = np.full(self.shape, fill, dtype=np.float64)
        mask = np.zeros(self.shape, dtype=bool)
        pos = tuple(self.indices.T)
        arr[pos] = self.values
        mask[pos] = True
        return arr, mask

    # -- interchange with numpy, pydata/sparse, scipy, torch and tensorly ---------------
    def __array__(self, dtype=None, copy=None):
        # Without this, np.asarray(tensor) silently gives a 0-d object array. A dense array
        # would have to guess what the unobserved cells hold (NaN? 0?), so refuse and say
        # which conversion to call, as pydata/sparse's COO does.
        raise InvalidParameterError(
            f"np.asarray({self!r}) is ambiguous: its unobserved cells are unknown, not 0. Call "
            ".to_dense(fill=...) for a dense (array, mask), .indices / .values for the observed cells, "
            "or .to_sparse(), .to_scipy(), .to_torch(), .to_tensorly()"
        )

    def to_sparse(self, *, fill_value: float = 0.0):
        """The observed cells as a pydata/sparse ``COO`` array (needs ``pip install sparse``).

        Parameters
        ----------
        fill_value : float
            The COO's value for unobserved cells when densified (``np.nan`` keeps them apart
            from observed zeros).

        Returns
        -------
        sparse.COO of float64, shape ``self.shape``
            ``nnz`` stored entries (an observed 0 is stored), in C order of the cells.
        """
        sparse = import_optional("sparse")  # pydata/sparse: with numba and llvmlite ~210 MB, not a dependency
        return sparse.COO(
            self.indices.T.copy(), self.values.copy(), shape=self.shape, has_duplicates=False, fill_value=fill_value
        )

    @classmethod
    def from_sparse(cls, array) -> ObservedTensor:
        """The stored entries of a pydata/sparse array (any format; ``COO`` is read directly).

        Every stored entry is an observed cell (explicit zeros included); the array's fill
        value is ignored. The cells come in the COO's (C) order.
        """
        sparse = import_optional("sparse")
        if not isinstance(array, sparse.SparseArray):
            raise InvalidParameterError(f"array must be a pydata/sparse array, got {type(array).__name__}")
        coo = array if isinstance(array, sparse.COO) else array.asformat("coo")
        return cls(coo.coords.T, coo.data, coo.shape)

    def to_scipy(self, format: str = "coo"):
        """The observed cells as a scipy sparse array.

        Parameters
        ----------
        format : {"coo", "csr", "csc"}
            ``"coo"`` works for any order on scipy >= 1.15 (n-D ``coo_array``), for order 2
            on older scipy; the compressed formats need order 2.

        Returns
        -------
        scipy.sparse.coo_array, csr_array or csc_array of float64, shape ``self.shape``
            ``nnz`` stored entries (an observed 0 stays stored: do not ``eliminate_zeros``).
        """
        import scipy.sparse as sp

        check_choice(format, ("coo", "csr", "csc"), "format")
        if format != "coo" and self.order != 2:
            raise InvalidParameterError(
                f"format={format!r} needs an order-2 tensor (scipy's compressed formats "
                f"are 2-D), this one has order {self.order}; use format='coo'"
            )
        try:
            arr = sp.coo_array((self.values, tuple(self.indices.T)), shape=self.shape, copy=True)
        except (TypeError, ValueError) as exc:  # scipy < 1.15 has 2-D COO only
            raise DataValidationError(
                f"this scipy ({exc}) cannot hold an order-{self.order} COO array; "
                "n-D coo_array needs scipy >= 1.15, or use to_sparse()"
            ) from exc
        return arr if format == "coo" else arr.asformat(format)

    @classmethod
    def from_scipy(cls, array, *, duplicates: str = "error") -> ObservedTensor:
        """The stored entries of a scipy sparse array or matrix (any format, 2-D or n-D COO).

        Every stored entry is an observed cell, explicit zeros included. A repeated
        coordinate (scipy adds them) follows ``duplicates`` (``"sum"`` is scipy's meaning).
        """
        import scipy.sparse as sp

        if not sp.issparse(array):
            raise InvalidParameterError(f"array must be a scipy sparse array or matrix, got {type(array).__name__}")
        coo = array.tocoo()
        coords = getattr(coo, "coords", None) or (coo.row, coo.col)
        return cls(np.stack(coords, axis=1), coo.data, coo.shape, duplicates=duplicates)

    def to_torch(self, *, dtype=None, device=None):
        """The observed cells as a coalesced torch sparse COO tensor.

        Parameters
        ----------
        dtype : torch.dtype, optional
            Value dtype (default float64, the container's).
        device : str or torch.device, optional

        Returns
        -------
        torch.Tensor, layout ``torch.sparse_coo``, shape ``self.shape``
            Indices ``[order, nnz]`` int64 in C order of the cells (coalesced); observed
            zeros stay stored.
        """
        import torch

        out = torch.sparse_coo_tensor(
            torch.as_tensor(self.indices.T.copy()),
            torch.as_tensor(self.values.copy(), dtype=dtype or torch.float64),
            self.shape,
            device=device,
            check_invariants=True,
        )
        return out.coalesce()  # sorts; sums nothing (cells are unique)

    @classmethod
    def from_torch(cls, tensor, *, duplicates: str = "error") -> ObservedTensor:
        """The stored entries of a torch sparse tensor (COO; 2-D CSR/CSC/BSR are converted).

        Every stored entry is an observed cell, explicit zeros included; an uncoalesced
        tensor's repeated coordinates follow ``duplicates`` (``"sum"`` is torch's meaning).
        A dense (strided) tensor is refused: say which cells are observed with
        :meth:`from_dense`.
        """
        import torch

        if not isinstance(tensor, torch.Tensor):
            raise InvalidParameterError(f"tensor must be a torch sparse tensor, got {type(tensor).__name__}")
        if tensor.layout == torch.strided:
            raise InvalidParameterError(
                "tensor is dense (strided): use ObservedTensor.from_dense(t.cpu().numpy(), "
                "mask) to say which cells are observed, or pass t.to_sparse()"
            )
        if tensor.layout != torch.sparse_coo:
            tensor = tensor.to_sparse_coo()
        if tensor.dense_dim():
            raise DataValidationError(
                f"tensor is a hybrid sparse tensor with {tensor.dense_dim()} dense "
                "dimension(s); only scalar values per cell are supported"
            )
        tensor = tensor.detach().cpu()
        # _indices/_values read an uncoalesced tensor as stored (indices() would refuse it)
        idx, val = tensor._indices(), tensor._values()
        if val.is_floating_point():
            val = val.double()  # numpy has no bfloat16
        return cls(idx.T.numpy(), val.numpy(), tuple(tensor.shape), duplicates=duplicates)

    def to_tensorly(self, fill: float = 0.0, *, return_mask: bool = False, max_cells: int | None = MAX_DENSE_CELLS):
        """A dense tensorly tensor (in tensorly's current backend) with ``fill`` in unobserved cells.

        Parameters
        ----------
        fill : float
            Value of the unobserved cells (0, as tensorly's masked decompositions expect).
        return_mask : bool
            Also return the observation mask, e.g. for ``parafac(t, rank, mask=mask)``.
        max_cells : int or None
            Refuse a tensor with more cells than this; ``None`` lifts the limit.

        Returns
        -------
        tensor : tensorly tensor of float64, shape ``self.shape``
        mask : tensorly tensor of bool, shape ``self.shape``
            Only with ``return_mask``.
        """
        import tensorly as tl

        _check_dense_size(self.shape, max_cells, "to_tensorly")
        arr, mask = self.to_dense(fill, max_cells=None)
        return (tl.tensor(arr), tl.tensor(mask)) if return_mask else tl.tensor(arr)

    @classmethod
    def from_tensorly(cls, tensor, *, cells=None, mask=None, max_cells: int | None = MAX_DENSE_CELLS) -> ObservedTensor:
        """Cells of a tensorly tensor, dense or factorised (``CPTensor``, ``TuckerTensor``).

        Parameters
        ----------
        tensor : tensorly tensor, ndarray, CPTensor or TuckerTensor
            E.g. ``TensorlyCompletion(...).fit(X).to_tensorly()``; any backend.
        cells : ObservedTensor or array-like of int, shape (n, order), optional
            The cells to read: a CP/Tucker model is evaluated at just these (never
            densified), so ``from_tensorly(model, cells=test).values`` are its predictions.
        mask : array-like of bool, optional
            Observed cells of a dense array (default: its non-NaN cells; every cell of a
            CP/Tucker model, densified under ``max_cells``). Not with ``cells``.
        max_cells : int or None
            Refuse densifying a CP/Tucker model of more cells than this.

        Returns
        -------
        ObservedTensor
            Shape: the tensorly tensor's; values float64; cells in the order of ``cells``
            (C order otherwise).
        """
        import tensorly as tl
        from tensorly.cp_tensor import CPTensor
        from tensorly.tucker_tensor import TuckerTensor

        if cells is not None and mask is not None:
            raise InvalidParameterError("pass cells= or mask=, not both")
        if isinstance(tensor, (CPTensor, TuckerTensor)):
            is_cp = isinstance(tensor, CPTensor)
            core, factors = tensor
            factors = [_np(f) for f in factors]
            core = _np(core)
            if is_cp:  # a CP model is a Tucker model with a superdiagonal core
                r = len(core)
                diag = np.zeros((r,) * len(factors))
                diag[(np.arange(r),) * len(factors)] = core
                core = diag
            shape = tuple(int(f.shape[0]) for f in factors)
            if cells is None:
                if mask is not None:
                    raise InvalidParameterError("mask= reads a dense tensor; for a CP/Tucker model pass cells=")
                _check_dense_size(shape, max_cells, "from_tensorly (a CP/Tucker model without cells=)")
                idx = np.argwhere(np.ones(shape, dtype=bool))
            else:
                idx = as_cell_indices(cells, shape, "cells")
            values = np.empty(len(idx))
            for s in range(0, len(idx), 65536):  # bounded [chunk, R...] intermediates
                values[s : s + 65536] = tucker_at(core, factors, idx[s : s + 65536])
            return cls(idx, values, shape)
        # a torch tensor is accepted whatever tensorly's current backend (is_tensor follows the backend)
        if not (tl.is_tensor(tensor) or isinstance(tensor, np.ndarray) or hasattr(tensor, "detach")):
            raise InvalidParameterError(
                f"tensor must be a tensorly tensor, CPTensor or TuckerTensor, got {type(tensor).__name__}"
            )
        arr = _np(tensor).astype(np.float64)
        if cells is not None:
            idx = as_cell_indices(cells, arr.shape, "cells")
            return cls(idx, arr[tuple(idx.T)], arr.shape)
        return cls.from_dense(arr, None if mask is None else _np(mask))

    # -- manipulation -----------------------------------------------------------------
    def subset(self, rows) -> ObservedTensor:
        """The cells at positions ``rows`` (int array or boolean mask); same shape."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            if rows.shape != (self.nnz,):
                raise DataValidationError(f"rows is a boolean mask of shape {rows.shape}, need ({self.nnz},)")
        elif rows.size and rows.dtype.kind not in "iu":
            raise DataValidationError(f"rows must be integer positions or a boolean mask, got dtype {rows.dtype}")
        elif rows.size:
            check_index_range(rows, self.nnz, "rows")  # negative positions would silently wrap around
        out = object.__new__(ObservedTensor)
        out.indices = np.ascontiguousarray(self.indices[rows])
        out.values = np.ascontiguousarray(self.values[rows])
        out.shape = self.shape
        return out

    def concat(self, *others: ObservedTensor, duplicates: str = "error") -> ObservedTensor:
        """Cells of ``self`` followed by ``others`` (same order).

        Overlapping cells are an error unless ``duplicates="mean"`` (their values averaged).
        """
        for o in others:
            if not isinstance(o, ObservedTensor):
                raise InvalidParameterError(f"can only concatenate ObservedTensor, got {type(o).__name__}")
            if o.order != self.order:
                raise DataValidationError(f"order mismatch: {self.order} vs {o.order}")
        shape = tuple(max(s) for s in zip(self.shape, *(o.shape for o in others)))
        idx = np.concatenate([self.indices, *(o.indices for o in others)])
        val = np.concatenate([self.values, *(o.values for o in others)])
        return ObservedTensor(idx, val, shape, duplicates=duplicates)

    def split(
        self, *, test_size: float = 0.1, val_size: float = 0.2, random_state: RandomState = None
    ) -> tuple[ObservedTensor, ObservedTensor, ObservedTensor]:
        """Seeded random ``(train, validation, test)`` split of the cells.

        ``round(nnz * test_size)`` cells go to test, then ``val_size`` of the rest to
        validation; the defaults give DAIN's 72 % / 18 % / 10 %. A thin wrapper of
        :func:`structaug.splits.train_val_test_indices`; each part keeps the cells' order.
        """
        train, val, test = train_val_test_indices(
            self.nnz, test_size=test_size, val_size=val_size, random_state=random_state, what="observed cells"
        )
        return self.subset(train), self.subset(val), self.subset(test)

    def check_compatible(self, other: ObservedTensor, what: str = "tensor") -> None:
        """Raise if ``other`` has a different order or indices beyond this tensor's shape."""
        if not isinstance(other, ObservedTensor):
            raise InvalidParameterError(f"{what} must be an ObservedTensor, got {type(other).__name__}")
        if other.order != self.order:
            raise DataValidationError(f"{what} has order {other.order}, but the fitted tensor has order {self.order}")
        if other.nnz:
            check_index_range(other.indices, list(self.shape), what)


# -- argument checks shared by every estimator of structaug.tensor ---------------------------
def check_tensor(X, name: str, *, allow_empty: bool = False, order: int | None = None) -> ObservedTensor:
    """Check that ``X`` is a usable :class:`ObservedTensor`; return it.

    Re-checks the container's invariants (an int64 ``[nnz, order]`` index matrix inside
    ``X.shape``, as many finite values as cells), since ``indices``/``values`` are plain
    arrays a caller may have modified after construction, then that it has cells (unless
    ``allow_empty``) and the expected ``order``.

    Raises
    ------
    InvalidParameterError
        ``X`` is not an ObservedTensor (also a ``TypeError``).
    DataValidationError
        Empty, wrong order, NaN/inf values, indices outside its shape; the message names ``name``.
    """
    if not isinstance(X, ObservedTensor):
        raise InvalidParameterError(f"{name} must be an ObservedTensor, got {type(X).__name__}")
    idx, val = X.indices, X.values
    if not isinstance(idx, np.ndarray) or idx.ndim != 2 or idx.dtype.kind not in "iu" or idx.dtype == bool:
        raise DataValidationError(f"{name}.indices must be an integer [nnz, order] array")
    if not isinstance(val, np.ndarray) or val.shape != (len(idx),) or val.dtype.kind != "f":
        raise DataValidationError(
            f"{name}.values must be a float array with one value per row of {name}.indices "
            f"({len(idx)}), got {getattr(val, 'shape', None)}"
        )
    if idx.shape[1] != len(X.shape):
        raise DataValidationError(
            f"{name}.indices has {idx.shape[1]} columns but {name}.shape {X.shape} has {len(X.shape)} modes"
        )
    if not allow_empty and len(idx) == 0:
        raise DataValidationError(f"{name} is empty (0 observed cells); at least one cell is needed")
    if order is not None and X.order != order:
        raise DataValidationError(f"{name} has order {X.order}, expected order {order}")
    check_finite(val, f"{name}.values")
    check_index_range(idx, list(X.shape), f"{name}.indices")
    return X


def resolve_shape(X: ObservedTensor, validation: ObservedTensor | None, shape, x_name: str = "X") -> tuple[int, ...]:
    """Mode sizes for a model of ``X`` (called ``x_name`` in messages): ``shape`` if given (it
    must cover every cell of ``X`` and ``validation``), else the element-wise maximum of their
    shapes."""
    if shape is None:
        return tuple(X.shape) if validation is None else tuple(max(a, b) for a, b in zip(X.shape, validation.shape))
    shape = _as_shape(shape)
    if len(shape) != X.order:
        raise DataValidationError(f"shape has {len(shape)} modes but {x_name} has order {X.order}")
    for t, name in ((X, x_name), (validation, "validation")):
        if t is not None:
            try:
                check_index_range(t.indices, list(shape), f"{name}.indices")
            except DataValidationError as exc:
                raise DataValidationError(f"{exc}: shape={shape} does not cover {name}") from None
    return shape


def check_disjoint(X: ObservedTensor, other: ObservedTensor, name: str = "validation", what: str = "X") -> None:
    """Raise when ``other`` holds cells of ``X``: validating (early stopping, influence) on
    training cells silently measures the training fit instead of generalisation."""
    shape = tuple(max(a, b) for a, b in zip(X.shape, other.shape))
    common = np.isin(cell_keys(other.indices, shape), cell_keys(X.indices, shape))
    if common.any():
        raise DataValidationError(
            f"{name} shares {int(common.sum())} of its {other.nnz} cell(s) with {what} "
            f"(e.g. {other.indices[np.argmax(common)].tolist()}); {name} must be held-out cells"
        )


def as_cell_indices(X, shape: Sequence[int], name: str = "X") -> np.ndarray:
    """Cells to predict (an ObservedTensor or an ``[n, order]`` index matrix) as int64
    indices inside the fitted ``shape``, or raise naming ``name``.

    An index ``>= shape[m]`` is an entity the model has never seen (no embedding, bias or
    factor row): it is rejected, never mapped to some other entity.
    """
    idx = X.indices if isinstance(X, ObservedTensor) else _as_index_matrix(X, name)
    order = len(shape)
    if idx.shape[1] != order:
        raise DataValidationError(
            f"{name} must have shape (n, {order}) for the fitted order-{order} tensor, got {idx.shape}"
        )
    try:
        check_index_range(idx, list(shape), name)
    except DataValidationError as exc:
        if (idx < 0).any():
            raise
        raise DataValidationError(
            f"{exc}: an entity unseen at fit time; size the model for it with "
            f"fit(..., shape=...) (fitted shape {tuple(shape)})"
        ) from None
    return idx


# -- helpers of the conversions -----------------------------------------------------------
def _np(x) -> np.ndarray:
    """A tensor of any tensorly backend (numpy, torch, ...) as a numpy array."""
    if hasattr(x, "detach"):  # torch: tensorly's to_numpy would need the pytorch backend active
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _check_dense_size(shape: Sequence[int], max_cells: int | None, what: str) -> None:
    if max_cells is None:
        return
    cells = float(np.prod(np.asarray(shape, dtype=np.float64)))
    if cells > max_cells:
        raise DataValidationError(
            f"{what} would allocate all {cells:.4g} cells of shape {tuple(shape)}, more than "
            f"max_cells={max_cells}; pass max_cells=None to allow it, or use a sparse format "
            "(to_sparse, to_scipy, to_torch)"
        )


def tucker_at(core: np.ndarray, factors: Sequence[np.ndarray], idx: np.ndarray) -> np.ndarray:
    """Values of a Tucker model (or a CP model, as a superdiagonal ``core``) at the cells ``idx``.

    Parameters
    ----------
    core : ndarray, shape (R_1, ..., R_N)
    factors : list of ndarray, shapes (I_m, R_m)
    idx : ndarray of int, shape (n, N)

    Returns
    -------
    ndarray of float64, shape (n,)
        ``Σ_r core[r] Π_m factors[m][idx[:, m], r_m]``, without densifying the model.

    Notes
    -----
    tensorly only reconstructs the full tensor (``cp_to_tensor``/``tucker_to_tensor``):
    on ml-100k's 943 × 1682 × 30 shape (47.6M cells, rank 5) reading 10K cells that way
    took 2.9 s against 0.01 s here (same values to 1e-14), and 10⁹-cell tensors do not fit.
    """
    out = np.einsum("r...,nr->n...", core, factors[0][idx[:, 0]])
    for m in range(1, len(factors)):
        out = np.einsum("nr...,nr->n...", out, factors[m][idx[:, m]])
    return out
