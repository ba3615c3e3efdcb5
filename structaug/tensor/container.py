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
same user × item × context cell).

Argument checks shared by the estimators
----------------------------------------
:func:`check_tensor`, :func:`resolve_shape`, :func:`check_disjoint` and
:func:`as_cell_indices` are the one implementation of the checks every completion model
and augmenter in :mod:`structaug.tensor` runs before any work: each raises a structaug
exception naming the argument (``X``, ``validation``, ``shape``, ...).
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError, InvalidParameterError
from ..random import RandomState, check_random_state
from ..validation import check_choice, check_finite, check_fraction, check_index_range

__all__ = ["ObservedTensor", "cell_keys", "check_tensor", "resolve_shape", "check_disjoint", "as_cell_indices"]

_DUPLICATE_POLICIES = ("error", "mean")


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
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer, float, np.floating)) \
                or not float(s).is_integer():
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
    duplicates : {"error", "mean"}
        What to do with cells that appear more than once: raise, or average their values.

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
                # average repeated cells, keeping the first occurrence's position order
                sums = np.bincount(inverse, weights=val, minlength=len(uniq))
                order = np.argsort(first, kind="stable")
                idx = idx[first[order]]
                val = (sums / counts)[order]
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
    def from_frame(cls, frame: pd.DataFrame, index_cols: Sequence[str] | None = None, value_col: str | None = None,
                   *, shape: Sequence[int] | None = None, duplicates: str = "error") -> "ObservedTensor":
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
    def from_dense(cls, array, mask=None) -> "ObservedTensor":
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
    def from_text(cls, path: str | os.PathLike, *, shape: Sequence[int] | None = None,
                  duplicates: str = "error") -> "ObservedTensor":
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

    def to_dense(self, fill: float = np.nan) -> tuple[np.ndarray, np.ndarray]:
        """``(array, mask)``: a dense array with ``fill`` in unobserved cells and the mask."""
        arr = np.full(self.shape, fill, dtype=np.float64)
        mask = np.zeros(self.shape, dtype=bool)
        pos = tuple(self.indices.T)
        arr[pos] = self.values
        mask[pos] = True
        return arr, mask

    # -- manipulation -----------------------------------------------------------------
    def subset(self, rows) -> "ObservedTensor":
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

    def concat(self, *others: "ObservedTensor", duplicates: str = "error") -> "ObservedTensor":
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

    def split(self, *, test_size: float = 0.1, val_size: float = 0.2,
              random_state: RandomState = None) -> tuple["ObservedTensor", "ObservedTensor", "ObservedTensor"]:
        """Seeded random ``(train, validation, test)`` split.

        ``test_size`` of all cells go to test, then ``val_size`` of the rest to validation;
        the defaults give DAIN's 72 % / 18 % / 10 %.
        """
        for name, f in (("test_size", test_size), ("val_size", val_size)):
            check_fraction(f, name, inclusive_high=False)
        n = self.nnz
        n_test = int(round(n * test_size))
        n_val = int(round((n - n_test) * val_size))
        n_train = n - n_test - n_val
        if min(n_test, n_val, n_train) < 1:
            raise DataValidationError(
                f"a tensor with {n} observed cells is too small for a split with test_size={test_size}, "
                f"val_size={val_size} (train/val/test would get {n_train}/{n_val}/{n_test} cells)"
            )
        perm = check_random_state(random_state).permutation(n)
        test, val, train = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
        return self.subset(np.sort(train)), self.subset(np.sort(val)), self.subset(np.sort(test))

    def check_compatible(self, other: "ObservedTensor", what: str = "tensor") -> None:
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
        raise DataValidationError(f"{name}.values must be a float array with one value per row of {name}.indices "
                                  f"({len(idx)}), got {getattr(val, 'shape', None)}")
    if idx.shape[1] != len(X.shape):
        raise DataValidationError(f"{name}.indices has {idx.shape[1]} columns but {name}.shape {X.shape} "
                                  f"has {len(X.shape)} modes")
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
            f"(e.g. {other.indices[np.argmax(common)].tolist()}); {name} must be held-out cells")


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
            f"{name} must have shape (n, {order}) for the fitted order-{order} tensor, got {idx.shape}")
    try:
        check_index_range(idx, list(shape), name)
    except DataValidationError as exc:
        if (idx < 0).any():
            raise
        raise DataValidationError(f"{exc}: an entity unseen at fit time; size the model for it with "
                                  f"fit(..., shape=...) (fitted shape {tuple(shape)})") from None
    return idx
