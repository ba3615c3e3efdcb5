"""Input validation helpers that raise specific, named errors.

Every helper takes the argument's ``name`` so a message reads like
``"X must be a 2-D array, got shape (5,)"`` rather than a stack trace from deep in torch.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import torch

from .exceptions import DataValidationError

ArrayLike = Any


def check_type(obj: Any, types: type | tuple[type, ...], name: str) -> Any:
    """Raise ``TypeError`` unless ``obj`` is an instance of ``types``."""
    if not isinstance(obj, types):
        names = (
            " or ".join(t.__name__ for t in types) if isinstance(types, tuple) else types.__name__
        )
        raise TypeError(f"{name} must be a {names}, got {type(obj).__name__}")
    return obj


def check_finite(x: ArrayLike, name: str) -> None:
    """Raise ``DataValidationError`` if a float array or tensor holds NaN or inf."""
    if isinstance(x, torch.Tensor):
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            n_bad = int((~torch.isfinite(x)).sum())
            raise DataValidationError(f"{name} contains {n_bad} NaN or infinite value(s)")
        return
    arr = np.asarray(x)
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        n_bad = int((~np.isfinite(arr)).sum())
        raise DataValidationError(f"{name} contains {n_bad} NaN or infinite value(s)")


def check_shape(
    x: ArrayLike,
    name: str,
    *,
    ndim: int | None = None,
    shape: Sequence[int | None] | None = None,
    allow_empty: bool = False,
) -> None:
    """Check dimensionality and (partial) shape; ``None`` in ``shape`` matches any size."""
    s = tuple(x.shape)
    if ndim is not None and len(s) != ndim:
        raise DataValidationError(f"{name} must be a {ndim}-D array, got shape {s}")
    if shape is not None:
        if len(shape) != len(s) or any(e is not None and e != a for e, a in zip(shape, s)):
            want = tuple("*" if e is None else e for e in shape)
            raise DataValidationError(f"{name} must have shape {want}, got {s}")
    if not allow_empty and (len(s) == 0 or s[0] == 0):
        raise DataValidationError(f"{name} is empty (shape {s}); at least one row is needed")


def check_float_matrix(x: ArrayLike, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """Return ``x`` as a finite 2-D float numpy array, or raise a specific error."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise DataValidationError(f"{name} could not be read as an array: {exc}") from exc
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise DataValidationError(
                f"{name} has non-numeric values; encode them first ({exc})"
            ) from exc
    if arr.dtype.kind not in "biuf":
        raise DataValidationError(f"{name} must be numeric, got dtype {arr.dtype}")
    check_shape(arr, name, ndim=2, allow_empty=allow_empty)
    arr = arr.astype(np.float64, copy=False)
    check_finite(arr, name)
    return arr


def check_index_range(idx: ArrayLike, size: int | Sequence[int], name: str) -> None:
    """Check that integer indices lie in ``[0, size)`` (per column when ``size`` is a list)."""
    t = idx if isinstance(idx, torch.Tensor) else torch.as_tensor(np.asarray(idx))
    if t.is_floating_point() or t.dtype == torch.bool:
        raise DataValidationError(f"{name} must hold integer indices, got dtype {t.dtype}")
    if t.numel() == 0:
        return
    sizes = [size] if isinstance(size, (int, np.integer)) else list(size)
    cols = [t.reshape(-1)] if len(sizes) == 1 else [t[:, m] for m in range(len(sizes))]
    for m, (col, n) in enumerate(zip(cols, sizes)):
        lo, hi = int(col.min()), int(col.max())
        where = "" if len(sizes) == 1 else f" (mode {m})"
        if lo < 0:
            raise DataValidationError(f"{name}{where} has a negative index {lo}")
        if hi >= n:
            raise DataValidationError(f"{name}{where} has index {hi} out of range for size {n}")


def check_consistent_length(arrays: Iterable[ArrayLike], names: Sequence[str]) -> int:
    """Check all arrays have the same number of rows; return it."""
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        pairs = ", ".join(f"{n}={l}" for n, l in zip(names, lengths))
        raise DataValidationError(f"inconsistent numbers of rows: {pairs}")
    return lengths[0] if lengths else 0


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Check an integer parameter is at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_fraction(value: Any, name: str, *, inclusive_low: bool = False, inclusive_high: bool = True) -> float:
    """Check a float parameter lies in (0, 1] (bounds configurable)."""
    v = float(value)
    lo_ok = v >= 0 if inclusive_low else v > 0
    hi_ok = v <= 1 if inclusive_high else v < 1
    if not (lo_ok and hi_ok):
        lo = "[" if inclusive_low else "("
        hi = "]" if inclusive_high else ")"
        raise ValueError(f"{name} must lie in {lo}0, 1{hi}, got {value}")
    return v
