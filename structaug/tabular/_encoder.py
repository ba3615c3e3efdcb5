"""The table encoder and label helpers shared by every tabular method (HyperTab, T-JEPA, baselines).

One place decides how a user's table becomes the float matrix a torch model reads, so that
every method in :mod:`structaug.tabular` (and every method in ``structaug bench tabular``)
sees the same numbers and the same errors.

:class:`TableEncoder` (an sklearn transformer, fit on the training fold only)
    * **Input**: a pandas DataFrame (any mix of numeric, ``bool``, ``category``, ``object``
      and ``string`` columns) or a 2-D array (numeric, or ``object`` holding strings).
    * **Categorical columns** are the ``category``/``object``/``string`` columns of a
      DataFrame, the non-numeric columns of an object array, plus any listed in
      ``categorical_features``. Their levels are learnt in ``fit`` (sorted) and coded
      ``0..K-1``; code ``K`` is reserved for "unknown": a level not seen in ``fit`` (when
      ``handle_unknown="unknown"``) or a missing value (when ``missing="impute"``). So
      ``cardinalities_[j] = K_j + 1`` is the embedding-table size a model needs.
    * **Numerical columns** are standardised with the training mean and std. A constant
      column (std 0) is kept and maps to 0 everywhere; it is listed in
      ``constant_features_`` (a documented behaviour, not an error: a fold may well make a
      rare feature constant).
    * **Missing values** (NaN/None/``pd.NA``): ``missing="error"`` (default, like most
      sklearn estimators) raises :class:`~structaug.exceptions.DataValidationError` naming
      the columns; ``missing="impute"`` fills numerical NaN with the training median (0
      after standardisation) and sends categorical NaN to the "unknown" code.
      ``inf`` is always an error. ``NaT`` in a date column is a missing value too.
    * **Dates and durations** (``datetime64``, timezone-aware, ``timedelta64`` columns) are
      numerical: nanoseconds, standardised, in time order.
    * **Rejected with a** :class:`~structaug.exceptions.DataValidationError` **naming X and
      the column**: an ``object`` column of numbers mixed with text (``[1.5, "?"]``: convert
      it, or list it in ``categorical_features`` to keep it as categories — guessing either
      way would be a silent wrong result), duplicate column names, complex values, and
      dtypes that are neither numbers nor text (``period``, ``interval``). Empty, 1-D, 3-D
      and sparse ``X`` get sklearn's messages prefixed with ``"X: "`` (:func:`check_table`).
    * **Output** (``transform``): a C-contiguous ``float32`` matrix, whatever the input dtype
      (declared in the scikit-learn tags: ``transformer_tags.preserves_dtype == ["float32"]``).
      ``encoding="ordinal"`` keeps one column per input column, in input order:
      standardised numbers, and integer codes (as floats) for categoricals; use
      ``numerical_columns_``/``categorical_columns_``/``cardinalities_`` to split it (what
      T-JEPA's per-feature tokenizer needs). ``encoding="onehot"`` expands each categorical
      column into ``K+1`` indicator columns (the last one = unknown/missing) and records in
      ``feature_groups_`` which input column every output column came from (what HyperTab
      needs so that a feature mask drops a whole categorical feature, not half of it).

Labels
    :func:`encode_class_labels` turns any sklearn-acceptable class labels (ints, strings,
    bools, mixed objects) into codes ``0..C-1`` plus ``classes_``, and raises a clear error
    for a single class, missing labels or continuous targets.
    :func:`check_regression_target` returns a finite 1-D float target.

Example
-------
>>> enc = TableEncoder(encoding="ordinal").fit(X_train)       # doctest: +SKIP
>>> Z = enc.transform(X_test)                                  # float32 (n, n_features_out_)
>>> Z[:, enc.numerical_columns_], Z[:, enc.categorical_columns_].astype(int), enc.cardinalities_
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_feature_names, _num_samples, check_array, check_is_fitted, column_or_1d

from ..exceptions import DataValidationError, InvalidParameterError, StructaugError
from ..validation import check_bool, check_choice

__all__ = [
    "TableEncoder",
    "check_fitted_input",
    "check_n_features",
    "check_n_rows",
    "check_regression_target",
    "check_table",
    "check_target",
    "data_errors",
    "encode_class_labels",
]


@contextmanager
def data_errors(name: str) -> Iterator[None]:
    """Turn the ``ValueError``/``TypeError`` of an sklearn/pandas input check into a
    :class:`DataValidationError` whose message starts with the argument's name.

    sklearn's own wording is kept after the name (``"X: Found array with 0 sample(s) ..."``),
    so its estimator checks, which match those words, still pass.
    """
    try:
        yield
    except StructaugError:
        raise
    except (ValueError, TypeError) as exc:
        raise DataValidationError(f"{name}: {exc}") from exc


def check_table(X: Any, name: str = "X") -> Any:
    """The one input check for a table: a non-empty DataFrame or a 2-D array, else an error naming ``name``.

    A DataFrame is returned untouched (its dtypes matter to :class:`TableEncoder`) after
    checking it has rows, columns and unique column names; anything else goes through
    sklearn's ``check_array`` (dense, 2-D, non-complex, at least one row and column; strings
    and NaN are left to the encoder).
    """
    if isinstance(X, pd.DataFrame):
        if X.shape[1] == 0:
            raise DataValidationError(f"{name} has 0 feature(s) (shape={X.shape}); at least one column is required")
        if X.shape[0] == 0:
            raise DataValidationError(
                f"{name}: Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required"
            )
        dup = X.columns[X.columns.duplicated()].unique().tolist()
        if dup:
            raise DataValidationError(f"{name} has duplicate column names {dup[:10]}; every column needs its own name")
        return X
    with data_errors(name):
        return check_array(X, dtype=None, ensure_all_finite=False, ensure_2d=True, accept_sparse=False)


def _feature_names(est: Any, X: Any, *, reset: bool) -> None:
    """sklearn's feature-name bookkeeping, its errors (renamed or reordered columns) naming X."""
    with data_errors("X"):
        _check_feature_names(est, X, reset=reset)


def check_target(est: Any, y: Any) -> Any:
    """sklearn's conventions for ``y`` in ``fit``: ``None`` is an error, a column vector warns and is raveled.

    pandas objects are returned as they are (their dtype decides label handling).
    """
    if y is None:
        raise DataValidationError(f"{type(est).__name__} requires y to be passed, but the target y is None")
    if isinstance(y, (pd.Series, pd.DataFrame)):
        return y
    with data_errors("y"):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)  # sklearn's DataConversionWarning
    if y.ndim != 1:
        raise DataValidationError(f"y must be 1-D (one target per row), got shape {y.shape}")
    return y


def _is_categorical_series(s: pd.Series) -> bool:
    dt = s.dtype
    return (
        isinstance(dt, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dt) or pd.api.types.is_string_dtype(dt)
    ) and not pd.api.types.is_bool_dtype(dt)


def _as_frame(X: Any) -> tuple[pd.DataFrame, bool]:
    """Return ``(frame, was_dataframe)``; arrays go through sklearn's ``check_array``."""
    X = check_table(X)
    if isinstance(X, pd.DataFrame):
        return X, True
    arr = X
    if arr.dtype.kind in "biuf":
        return pd.DataFrame(arr), False
    if arr.dtype.kind in "OUS":
        return pd.DataFrame(arr.astype(object)), False
    raise DataValidationError(f"X must be numeric or hold strings/objects, got dtype {arr.dtype}")


def _column_as_float(name: Any, s: pd.Series) -> np.ndarray:
    """A numerical column as float64 with NaN for every missing value (NaN, None, ``pd.NA``, NaT).

    Dates and durations become nanoseconds (then standardised like any number); ``NaT``
    must become NaN here — numpy's own cast turns it into -9.2e18, a silently absurd value.
    """
    dt = s.dtype
    if pd.api.types.is_complex_dtype(dt):
        raise DataValidationError(f"X column {name!r} is complex ({dt}); TableEncoder needs real numbers")
    if isinstance(dt, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        dt = s.dtype
    if pd.api.types.is_datetime64_dtype(dt) or pd.api.types.is_timedelta64_dtype(dt):
        unit = "datetime64[ns]" if pd.api.types.is_datetime64_dtype(dt) else "timedelta64[ns]"
        isna = s.isna().to_numpy()
        v = s.astype(unit).to_numpy().view(np.int64).astype(np.float64)
        v[isna] = np.nan
        return v
    try:
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(
            f"X column {name!r} has dtype {dt}, which TableEncoder cannot read as numbers ({exc}); "
            "convert it to numbers, or to strings/category for a categorical column"
        ) from exc


def _is_list_like(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray, pd.Index, pd.Series, set, frozenset))


def _try_numeric(s: pd.Series) -> pd.Series | None:
    """An object column that is entirely numbers (or missing) → float Series, else None."""
    try:
        return pd.to_numeric(s, errors="raise").astype(np.float64)
    except (TypeError, ValueError):
        return None


class TableEncoder(TransformerMixin, BaseEstimator):
    """Encode a mixed-type table into a standardised ``float32`` matrix (see module docs).

    Parameters
    ----------
    encoding : {"ordinal", "onehot"}
        How categorical columns appear in the output (one code column, or ``K+1`` indicators).
    categorical_features : "auto" or sequence of int/str
        ``"auto"``: the ``category``/``object``/``string`` columns. A sequence adds the given
        column positions (ints) or names (strs) to those, e.g. integer-coded categoricals.
    missing : {"error", "impute"}
        What to do with NaN/None in ``X`` (``inf`` is always an error).
    handle_unknown : {"unknown", "error"}
        A categorical level not seen in ``fit``: code it as "unknown", or raise.
    standardize : bool
        Standardise numerical columns with the training mean/std.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str (only when fit on a DataFrame with string column names)
    numerical_columns_, categorical_columns_ : ndarray of int
        Input column positions of each kind (in ``encoding="ordinal"`` these are also the
        output positions).
    categories_ : list of ndarray
        Levels of each categorical column, in ``categorical_columns_`` order.
    cardinalities_ : list of int
        ``len(categories_[j]) + 1`` (the extra code is unknown/missing).
    mean_, scale_ : ndarray
        Standardisation of the numerical columns (``scale_`` is 1 for constant columns).
    medians_ : ndarray
        Training medians of the numerical columns (used by ``missing="impute"``).
    constant_features_ : ndarray of int
        Input positions of numerical columns that were constant in ``fit``.
    feature_groups_ : ndarray of int, shape (n_features_out_,)
        Input column each output column comes from.
    n_features_out_ : int
    """

    def __init__(
        self,
        *,
        encoding: str = "ordinal",
        categorical_features: Any = "auto",
        missing: str = "error",
        handle_unknown: str = "unknown",
        standardize: bool = True,
    ):
        self.encoding = encoding
        self.categorical_features = categorical_features
        self.missing = missing
        self.handle_unknown = handle_unknown
        self.standardize = standardize

    # -- helpers -------------------------------------------------------------------------
    def _validate_params(self) -> None:
        check_choice(self.encoding, ("ordinal", "onehot"), "encoding")
        check_choice(self.missing, ("error", "impute"), "missing")
        check_choice(self.handle_unknown, ("unknown", "error"), "handle_unknown")
        check_bool(self.standardize, "standardize")
        cf = self.categorical_features
        if (isinstance(cf, str) and cf != "auto") or (not isinstance(cf, str) and not _is_list_like(cf)):
            raise InvalidParameterError(
                f"categorical_features must be 'auto' or a list of column positions/names, got {cf!r}"
            )

    def _user_categorical(self, df: pd.DataFrame) -> set[int]:
        cf = self.categorical_features
        if isinstance(cf, str):
            return set()  # "auto" (checked in _validate_params)
        out: set[int] = set()
        cols = list(df.columns)
        for c in cf:
            if isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_)):
                if not 0 <= c < df.shape[1]:
                    raise InvalidParameterError(
                        f"categorical_features index {c} out of range for X with {df.shape[1]} columns"
                    )
                out.add(int(c))
            elif c in cols:
                out.add(cols.index(c))
            else:
                raise InvalidParameterError(f"categorical_features names column {c!r}, which X does not have")
        return out

    @staticmethod
    def _check_no_inf(name: str, values: np.ndarray) -> None:
        if np.isinf(values).any():
            raise DataValidationError(
                f"X contains infinite values in column {name!r}; inf (unlike NaN) has no imputation — "
                "replace it before fitting"
            )

    @staticmethod
    def _check_not_mixed(name: Any, s: pd.Series) -> None:
        """Reject an object column of mostly numbers with some text (``[1.5, 2.0, "?"]``, ``["3", "n/a"]``).

        Encoding it as categorical would silently turn a numerical feature into one level per
        distinct number; encoding it as numbers would need a guess at what the text means.
        """
        try:
            levels = s.dropna().unique()
        except TypeError:  # unhashable values (dicts): not numbers-with-text, leave them categorical
            return
        numeric, text = 0, []
        for v in levels:
            if isinstance(v, (bool, np.bool_)):
                continue
            if isinstance(v, (int, float, np.integer, np.floating)):
                numeric += 1
            elif isinstance(v, str):
                try:
                    float(v)
                    numeric += 1
                except ValueError:
                    text.append(v)
        if text and numeric and 2 * numeric >= len(levels):
            raise DataValidationError(
                f"X column {name!r} holds numbers mixed with text {text[:5]}; convert it first: "
                "pd.to_numeric(col, errors='coerce') (then missing='impute') if the text marks missing "
                "values, or list the column in categorical_features to keep every value as a category"
            )

    def _missing_error(self, cols: Sequence[Any]) -> DataValidationError:
        return DataValidationError(
            f"Input X contains NaN (missing values) in column(s) {list(cols)[:10]}; "
            "impute them first or use missing='impute' (median for numbers, an 'unknown' code for categories)"
        )

    # -- sklearn API ------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> TableEncoder:
        """Learn column kinds, category levels and standardisation from ``X``."""
        self._validate_params()
        df, _ = _as_frame(X)
        _feature_names(self, X, reset=True)
        self.n_features_in_ = int(df.shape[1])
        forced = self._user_categorical(df)
        num_idx, cat_idx, cats = [], [], []
        num_values = []
        nan_cols = []
        for j, col in enumerate(df.columns):
            s = df.iloc[:, j]
            numeric = None
            if j not in forced and not _is_categorical_series(s):
                numeric = _column_as_float(col, s)
            elif j not in forced and pd.api.types.is_object_dtype(s.dtype):
                as_num = _try_numeric(s)  # object arrays of plain numbers stay numerical
                numeric = None if as_num is None else as_num.to_numpy()
                if numeric is None:
                    self._check_not_mixed(col, s)
            if numeric is not None:
                self._check_no_inf(col, numeric)
                if np.isnan(numeric).any():
                    nan_cols.append(col)
                num_idx.append(j)
                num_values.append(numeric)
            else:
                if s.isna().any():
                    nan_cols.append(col)
                levels = s.dropna().unique()
                if isinstance(s.dtype, pd.CategoricalDtype):
                    levels = np.asarray(s.cat.categories)
                try:
                    levels = np.sort(np.asarray(levels, dtype=object))
                except TypeError:  # mixed types: sort by their string form
                    levels = np.asarray(sorted(levels, key=str), dtype=object)
                cat_idx.append(j)
                cats.append(levels)
        if nan_cols and self.missing == "error":
            raise self._missing_error(nan_cols)
        self.numerical_columns_ = np.asarray(num_idx, dtype=np.int64)
        self.categorical_columns_ = np.asarray(cat_idx, dtype=np.int64)
        self.categories_ = cats
        self.cardinalities_ = [len(c) + 1 for c in cats]
        if num_values:
            M = np.column_stack(num_values)
            with np.errstate(all="ignore"):
                med = np.nanmedian(M, axis=0) if np.isnan(M).any() else np.median(M, axis=0)
            med = np.where(np.isnan(med), 0.0, med)  # an all-NaN column imputes to 0
            M = np.where(np.isnan(M), med, M)
            mean, std = M.mean(axis=0), M.std(axis=0)
        else:
            med = mean = std = np.zeros(0)
        const = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
        self.medians_ = med
        self.constant_features_ = self.numerical_columns_[const]
        if self.standardize:
            self.mean_, self.scale_ = mean, np.where(const, 1.0, std)
        else:
            self.mean_, self.scale_ = np.zeros_like(mean), np.ones_like(std)
        groups = []
        cat_pos = {j: k for k, j in enumerate(cat_idx)}
        for j in range(df.shape[1]):
            width = self.cardinalities_[cat_pos[j]] if (j in cat_pos and self.encoding == "onehot") else 1
            groups.extend([j] * width)
        self.feature_groups_ = np.asarray(groups, dtype=np.int64)
        self.n_features_out_ = len(groups)
        self._level_maps = [{v: i for i, v in enumerate(c)} for c in cats]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Encode ``X`` with the levels and statistics learnt in ``fit`` → ``float32`` matrix."""
        check_is_fitted(self, "feature_groups_")
        df, _ = _as_frame(X)
        # names and column count; an array's frame has integer column names, i.e. no names
        check_fitted_input(self, df)
        n = df.shape[0]
        out = np.zeros((n, self.n_features_out_), dtype=np.float32)
        starts = np.searchsorted(self.feature_groups_, np.arange(df.shape[1]))
        nan_cols = []
        for k, j in enumerate(self.numerical_columns_):
            s = df.iloc[:, j]
            try:
                v = _column_as_float(df.columns[j], s)
            except DataValidationError:
                v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
                if np.isnan(v).sum() > s.isna().sum():
                    raise DataValidationError(
                        f"X column {df.columns[j]!r} was numerical in fit but holds non-numeric values now"
                    ) from None
            self._check_no_inf(df.columns[j], v)
            if np.isnan(v).any():
                nan_cols.append(df.columns[j])
                v = np.where(np.isnan(v), self.medians_[k], v)
            out[:, starts[j]] = (v - self.mean_[k]) / self.scale_[k]
        for k, j in enumerate(self.categorical_columns_):
            s = df.iloc[:, j]
            unknown = len(self.categories_[k])
            isna = s.isna().to_numpy()
            if isna.any():
                nan_cols.append(df.columns[j])
            lookup = self._level_maps[k]
            codes = np.fromiter((lookup.get(v, -1) for v in s.to_numpy(dtype=object)), dtype=np.int64, count=n)
            new = (codes < 0) & ~isna
            if new.any() and self.handle_unknown == "error":
                bad = pd.unique(s[new])[:5]
                raise DataValidationError(
                    f"X column {df.columns[j]!r} has categories not seen in fit: {list(bad)}; "
                    "use handle_unknown='unknown' to map them to the reserved unknown code"
                )
            codes[codes < 0] = unknown
            if self.encoding == "ordinal":
                out[:, starts[j]] = codes
            else:
                out[np.arange(n), starts[j] + codes] = 1.0
        if nan_cols and self.missing == "error":
            raise self._missing_error(nan_cols)
        return np.ascontiguousarray(out)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "feature_groups_")
        names = getattr(self, "feature_names_in_", None)
        names = [str(c) for c in names] if names is not None else [f"x{j}" for j in range(self.n_features_in_)]
        out = []
        cat_pos = {int(j): k for k, j in enumerate(self.categorical_columns_)}
        for j, name in enumerate(names):
            if self.encoding == "onehot" and j in cat_pos:
                out.extend([f"{name}={v}" for v in self.categories_[cat_pos[j]]] + [f"{name}=<unknown>"])
            else:
                out.append(name)
        return np.asarray(out, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "impute"
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        # transform always returns float32 (what the torch models read): float32 input stays
        # float32, float64 input does not stay float64 (scikit-learn's default claim)
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def check_fitted_input(est: Any, X: Any, *, reset: bool = False) -> Any:
    """sklearn's input checks for a table estimator, naming ``est`` in its messages.

    ``reset=True`` (in ``fit``) records ``feature_names_in_`` (or drops a stale one);
    ``reset=False`` (after ``fit``) checks the names and that ``X`` has ``n_features_in_``
    columns. Returns ``X`` as a DataFrame untouched or otherwise as a 2-D array.
    """
    X = check_table(X)
    _feature_names(est, X, reset=reset)
    if not reset:
        check_n_features(est, X.shape[1])
    return X


def check_n_features(est: Any, n_features: int) -> None:
    """The one wrong-width message of every fitted table model (scikit-learn's wording)."""
    if n_features != est.n_features_in_:
        raise DataValidationError(
            f"X has {n_features} features, but {type(est).__name__} is expecting {est.n_features_in_} features as input"
        )


def check_n_rows(X: Any, y: Any) -> int:
    """Raise a clear error when ``X`` and ``y`` disagree on the number of rows."""
    with data_errors("X"):
        nx = _num_samples(X)
    with data_errors("y"):
        ny = _num_samples(y)
    if nx != ny:
        raise DataValidationError(
            f"Found input variables with inconsistent numbers of samples: X has {nx} rows, y has {ny}"
        )
    return nx


def encode_class_labels(y: Any, *, min_classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Class labels → ``(codes int64 0..C-1, classes_)``, sklearn-style.

    Accepts ints, floats that are whole numbers, bools and strings (``classes_`` keeps the
    original labels, sorted, so ``predict`` returns what the user passed in). Raises
    :class:`DataValidationError` (a ``ValueError``) for continuous or mixed-type targets
    (with sklearn's "Unknown label type" wording), infinite values, missing labels, 2-D
    targets or fewer than ``min_classes`` distinct classes.
    """
    if isinstance(y, (pd.Series, pd.DataFrame)):
        if isinstance(y, pd.DataFrame):
            if y.shape[1] != 1:
                raise DataValidationError(f"y must be 1-D, got a DataFrame with {y.shape[1]} columns")
            y = y.iloc[:, 0]
        if y.isna().any():
            raise DataValidationError(f"y contains {int(y.isna().sum())} missing label(s)")
        y = y.to_numpy()
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise DataValidationError(f"y must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise DataValidationError(f"y contains {int(np.isnan(arr).sum())} missing label(s)")
    if arr.dtype.kind == "f" and np.isinf(arr).any():
        raise DataValidationError(f"y contains {int(np.isinf(arr).sum())} infinite label(s)")
    if arr.dtype == object and pd.isna(arr).any():
        raise DataValidationError(f"y contains {int(pd.isna(arr).sum())} missing label(s)")
    with data_errors("y"):
        check_classification_targets(arr)
        kind = type_of_target(arr)
    if kind not in ("binary", "multiclass"):
        raise DataValidationError(f"y must hold one label per row, got target type {kind!r}")
    try:
        classes, codes = np.unique(arr, return_inverse=True)
    except TypeError:  # mixed label types: order by string form
        order = {v: i for i, v in enumerate(sorted(set(arr.tolist()), key=str))}
        classes = np.asarray(sorted(order, key=lambda v: order[v]), dtype=object)
        codes = np.asarray([order[v] for v in arr.tolist()])
    if len(classes) < min_classes:
        raise DataValidationError(
            f"y has {len(classes)} class(es) ({list(classes)[:3]}); a classifier needs at least {min_classes}"
        )
    return codes.astype(np.int64).reshape(-1), classes


def check_regression_target(y: Any) -> np.ndarray:
    """A finite 1-D float64 regression target (or a clear error)."""
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise DataValidationError(f"y must be 1-D, got a DataFrame with {y.shape[1]} columns")
        y = y.iloc[:, 0]
    try:
        if isinstance(y, pd.Series):
            y = y.to_numpy(dtype=np.float64, na_value=np.nan)
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr.ravel()
        if arr.ndim != 1:
            raise DataValidationError(f"y must be 1-D, got shape {arr.shape}")
        if arr.dtype.kind == "c":  # astype(float) would drop the imaginary part with only a warning
            raise DataValidationError(f"y: Complex data not supported (dtype {arr.dtype})")
        if arr.dtype.kind in "mM":  # dates/durations: astype would reinterpret them as raw integers
            raise TypeError(f"dtype {arr.dtype}")
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, DataValidationError):
            raise
        raise DataValidationError(f"y must be numeric for a regressor ({exc})") from exc
    if not np.isfinite(arr).all():
        raise DataValidationError(f"y contains {int((~np.isfinite(arr)).sum())} NaN or infinite value(s)")
    return arr
