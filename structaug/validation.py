"""Input validation helpers that raise specific, named errors.

Every helper takes the argument's ``name`` so a message reads like
``"X must be a 2-D array, got shape (5,)"`` rather than a stack trace from deep in torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from .exceptions import DataValidationError, InvalidParameterError

ArrayLike = Any


def check_type(obj: Any, types: type | tuple[type, ...], name: str) -> Any:
    """Raise :class:`InvalidParameterError` (a ``TypeError``) unless ``obj`` is an instance of ``types``."""
    if not isinstance(obj, types):
        names = " or ".join(t.__name__ for t in types) if isinstance(types, tuple) else types.__name__
        raise InvalidParameterError(f"{name} must be a {names}, got {type(obj).__name__}")
    return obj


#: elements per block of :func:`check_finite`: its boolean mask stays a few MiB, not the
#: size of the checked array (a 10^6 x 128 feature matrix would need a 128 MiB mask)
_FINITE_BLOCK = 1 << 22


def _row_blocks(x: Any) -> Iterator[Any]:
    """Views of ``x`` in blocks of whole rows with about ``_FINITE_BLOCK`` elements each."""
    n = x.size if isinstance(x, np.ndarray) else x.numel()
    if x.ndim == 0 or n <= _FINITE_BLOCK:
        yield x
        return
    per_row = max(1, int(np.prod(x.shape[1:])))
    rows = max(1, _FINITE_BLOCK // per_row)
    for s in range(0, x.shape[0], rows):
        yield x[s : s + rows]


def check_finite(x: ArrayLike, name: str) -> None:
    """Raise ``DataValidationError`` if a float array or tensor holds NaN or inf.

    Checked in blocks of rows, so the check needs memory for one block, not for the array.
    """
    if isinstance(x, torch.Tensor):
        if x.is_floating_point() and not all(bool(torch.isfinite(b).all()) for b in _row_blocks(x)):
            n_bad = sum(int((~torch.isfinite(b)).sum()) for b in _row_blocks(x))
            raise DataValidationError(f"{name} contains {n_bad} NaN or infinite value(s)")
        return
    arr = np.asarray(x)
    if arr.dtype.kind in "fc" and not all(np.isfinite(b).all() for b in _row_blocks(arr)):
        n_bad = sum(int((~np.isfinite(b)).sum()) for b in _row_blocks(arr))
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
    if shape is not None and (len(shape) != len(s) or any(e is not None and e != a for e, a in zip(shape, s))):
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
            raise DataValidationError(f"{name} has non-numeric values; encode them first ({exc})") from exc
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
        pairs = ", ".join(f"{n}={k}" for n, k in zip(names, lengths))
        raise DataValidationError(f"inconsistent numbers of rows: {pairs}")
    return lengths[0] if lengths else 0


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Check an integer parameter is at least ``minimum``; raise :class:`InvalidParameterError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidParameterError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise InvalidParameterError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Check a real parameter is finite and > 0 (>= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameterError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise InvalidParameterError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {value!r}")
    return v


def check_fraction(value: Any, name: str, *, inclusive_low: bool = False, inclusive_high: bool = True) -> float:
    """Check a float parameter lies in (0, 1] (bounds configurable)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameterError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    v = float(value)
    lo_ok = v >= 0 if inclusive_low else v > 0
    hi_ok = v <= 1 if inclusive_high else v < 1
    if not (lo_ok and hi_ok):
        lo = "[" if inclusive_low else "("
        hi = "]" if inclusive_high else ")"
        raise InvalidParameterError(f"{name} must lie in {lo}0, 1{hi}, got {value}")
    return v


def check_choice(value: Any, choices: Iterable[Any], name: str) -> Any:
    """Check ``value`` is one of ``choices``; the error lists them."""
    choices = list(choices)
    if value not in choices:
        raise InvalidParameterError(f"{name} must be one of {choices}, got {value!r}")
    return value


def to_sortable_time(values: Any, name: str = "timestamp") -> np.ndarray:
    """Return timestamps as an array that sorts in time order, or raise.

    * numeric (int, float, bool excluded) → kept as float64/int64; NaN/inf rejected;
    * datetime64 / timezone-aware → int64 nanoseconds;
    * strings → parsed as numbers when every value is numeric (``"10"`` after ``"2"``, not
      text order), else as ISO-8601 dates (``pd.to_datetime(format="ISO8601")``);
      anything else is rejected — sorting mixed or free text as text silently reorders
      histories;
    * a column mixing kinds (ints and strings, dates and numbers) is rejected.

    Raises
    ------
    DataValidationError
        Naming ``name`` and the offending values.
    """
    import pandas as pd

    s = (
        values
        if isinstance(values, pd.Series)
        else pd.Series(np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values)
    )
    if len(s) == 0:
        return np.zeros(0, dtype=np.int64)
    if s.isna().any():
        raise DataValidationError(f"{name} has {int(s.isna().sum())} missing value(s)")
    if pd.api.types.is_bool_dtype(s):
        raise DataValidationError(f"{name} must hold numbers or dates, got booleans")
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        return s.astype("datetime64[ns]").to_numpy().astype(np.int64)
    if pd.api.types.is_timedelta64_dtype(s):
        return s.to_numpy().astype(np.int64)
    if pd.api.types.is_numeric_dtype(s):
        arr = s.to_numpy()
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise DataValidationError(f"{name} has {int((~np.isfinite(arr)).sum())} infinite value(s)")
        return arr
    # object / string column: every value must be of one kind
    kinds = set()
    for v in s.to_numpy():
        if isinstance(v, (bool, np.bool_)):
            kinds.add("bool")
        elif isinstance(v, (int, float, np.integer, np.floating)):
            kinds.add("number")
        elif isinstance(v, str):
            kinds.add("str")
        elif isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "isoformat"):
            kinds.add("date")
        else:
            kinds.add(type(v).__name__)
    if len(kinds) > 1:
        raise DataValidationError(
            f"{name} mixes value kinds {sorted(kinds)}; give one kind (numbers, dates, or strings of one of them)"
        )
    kind = kinds.pop()
    if kind == "number":
        # pd.to_numeric keeps Python ints as int64: float64 would merge nanosecond epochs
        # (1.6e18) that differ in their last digits into one time
        return to_sortable_time(pd.to_numeric(s), name)
    if kind == "date":
        return to_sortable_time(pd.to_datetime(s, utc=True), name)
    if kind == "str":
        num = pd.to_numeric(s, errors="coerce")
        if not num.isna().any():
            return to_sortable_time(num, name)
        try:
            dt = pd.to_datetime(s, format="ISO8601", utc=True)
        except (ValueError, TypeError) as exc:
            bad = s[num.isna()].iloc[0]
            raise DataValidationError(
                f"{name} holds strings that are neither numbers nor ISO-8601 dates (e.g. {bad!r}); "
                "convert the column with pd.to_numeric or pd.to_datetime first"
            ) from exc
        return to_sortable_time(dt, name)
    raise DataValidationError(f"{name} must hold numbers or dates, got {kind} values")


def check_bool(value: Any, name: str) -> bool:
    """A flag must be a real ``bool`` (``"no"`` would be truthy and flip the meaning)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidParameterError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_widths(value: Any, name: str, *, allow_empty: bool = False) -> tuple[int, ...]:
    """Hidden-layer widths: a sequence of ints >= 1 (a 0-wide layer silently cuts the network)."""
    if isinstance(value, (str, bytes)) or (not isinstance(value, Sequence) and not isinstance(value, np.ndarray)):
        raise InvalidParameterError(f"{name} must be a sequence of ints >= 1, got {type(value).__name__} {value!r}")
    widths = tuple(value)
    if not widths and not allow_empty:
        raise InvalidParameterError(f"{name} must list at least one layer width, got {value!r}")
    for i, w in enumerate(widths):
        check_positive_int(w, f"{name}[{i}]")
    return tuple(int(w) for w in widths)


def check_optional_positive_int(value: Any, name: str) -> int | None:
    """``None`` (the feature is off) or an int >= 1, e.g. ``patience``."""
    return None if value is None else check_positive_int(value, name)


def check_dropout(value: Any, name: str) -> float:
    """A dropout probability in ``[0, 1)`` (1 would zero every activation)."""
    return check_fraction(value, name, inclusive_low=True, inclusive_high=False)
