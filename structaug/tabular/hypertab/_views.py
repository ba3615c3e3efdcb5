"""HyperTab's augmentation: random feature-subset views of a table.

HyperTab (Wydmański et al., 2023) treats every random subset of a table's features as a
*view* of each row: a row seen through ``n_views`` different feature subsets gives
``n_views`` training examples, which is what lets a neural network learn from a few hundred
rows. :class:`FeatureSubsetViews` draws those subsets as binary masks (exactly
``max(1, int(subsample * n_features))`` features each, uniformly without replacement, as in
the reference implementation) and returns the masked views.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from ...base import Augmenter, SampleRNG
from ...exceptions import DataValidationError, InvalidParameterError
from ...validation import check_fraction, check_positive_int
from .._encoder import check_n_features

__all__ = ["FeatureSubsetViews"]


class _NonNumericError(DataValidationError, TypeError):
    """Objects in ``X`` that are neither numbers nor text (a ``TypeError`` too, as numpy's own)."""


def draw_subset_masks(n_groups: int, n_masks: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``n_masks`` boolean rows over ``n_groups`` with exactly ``k`` ``True`` each.

    Vectorised: the ``k`` smallest of a row of uniforms are a uniform ``k``-subset.
    """
    if n_masks == 0:
        return np.zeros((0, n_groups), dtype=bool)
    keys = rng.random((n_masks, n_groups))
    chosen = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < n_groups else np.tile(np.arange(n_groups), (n_masks, 1))
    masks = np.zeros((n_masks, n_groups), dtype=bool)
    np.put_along_axis(masks, chosen, True, axis=1)
    return masks


class FeatureSubsetViews(Augmenter):
    """Random feature-subset views (HyperTab's augmentation).

    Parameters
    ----------
    subsample : float, default 0.5
        Fraction of features in each view (the paper's default); each view keeps exactly
        ``max(1, int(subsample * n_features))`` features.
    n_views : int, default 100
        Views drawn by ``sample`` when ``n`` is not given (the paper's ensemble size): the
        class's ``default_n`` is ``None`` because this parameter sets it.
    fill_value : float, default 0.0
        Value written into the dropped features of a view. After standardisation 0 is the
        training mean, the least informative value. ``NaN`` is allowed (dropped features
        then read as missing to a NaN-aware model); ``inf`` and non-numbers are not.
    random_state : int, Generator or None

    Attributes
    ----------
    n_features_in_ : int
        Columns of the data seen in ``fit``.
    n_groups_ : int
        Number of maskable units (features, or feature groups when ``feature_groups`` was
        passed to ``fit``, e.g. the one-hot columns of one categorical feature).
    n_selected_ : int
        Units kept in each view.
    feature_groups_ : ndarray of int, shape (n_features_in_,)
        Unit of every column.

    Notes
    -----
    The table must be numeric (numbers or booleans): a view writes ``fill_value`` into
    dropped cells, which has no meaning for a text or ``category`` column. Such columns
    raise a :class:`~structaug.exceptions.DataValidationError` naming them in ``fit`` and
    ``sample``; encode them first with
    ``TableEncoder(encoding="onehot")`` and pass ``feature_groups=encoder.feature_groups_``
    to ``fit`` so each categorical feature is kept or dropped whole (what HyperTab does).
    Values are not otherwise read: NaN and inf in ``X`` pass through unchanged in the kept
    cells, and a table with 0 rows gives views with 0 rows.

    ``sample_unit = "views"``: ``sample(X, n)`` returns ``n`` views of EVERY row of ``X``,
    stacked along a new first axis, shape
    ``(n, n_rows, n_features)`` and the type of ``X`` (numpy array, torch tensor on ``X``'s
    device and dtype, or a list of DataFrames for a DataFrame). ``sample(None, n)`` returns
    only the boolean masks, shape ``(n, n_features_in_)`` — what HyperTab's hypernetwork
    consumes. With the same ``random_state`` the same views come back.

    Examples
    --------
    >>> views = FeatureSubsetViews(subsample=0.5, random_state=0).fit(X)   # doctest: +SKIP
    >>> V = views.sample(X, n=10)                                          # doctest: +SKIP
    """

    #: ``sample(X, n)``: ``n`` feature-subset views of every row of ``X``
    sample_unit: ClassVar[str] = "views"
    #: ``n=None`` means the ``n_views`` parameter
    default_n: ClassVar[int | None] = None

    def __init__(
        self, *, subsample: float = 0.5, n_views: int = 100, fill_value: float = 0.0, random_state: Any = None
    ):
        self.subsample = subsample
        self.n_views = n_views
        self.fill_value = fill_value
        self.random_state = random_state

    def _validate_params(self) -> None:
        check_fraction(self.subsample, "subsample")
        check_positive_int(self.n_views, "n_views")
        fv = self.fill_value
        if (
            isinstance(fv, (bool, np.bool_))
            or not isinstance(fv, (int, float, np.integer, np.floating))
            or np.isinf(fv)
        ):
            raise InvalidParameterError(f"fill_value must be a finite number or NaN, got {type(fv).__name__} {fv!r}")

    # scikit-learn's fit(X, y=None) (its estimator checks pass y positionally), narrower than
    # Augmenter.fit(data, **kwargs) on purpose
    def fit(self, X: Any, y: Any = None, *, feature_groups: Any = None) -> FeatureSubsetViews:  # type: ignore[override]
        """Learn the number of columns (and their groups) of ``X``; ``y`` is ignored.

        Parameters
        ----------
        X : array-like, DataFrame or Tensor of shape (n_rows, n_features), or int
            A numeric table (only its width is read), or the number of features.
        y : None
            Ignored; accepted so that ``fit(X, y)`` works as for any scikit-learn estimator.
        feature_groups : array-like of int, shape (n_features,), optional
            Group of every column (``0..G-1``, e.g. ``TableEncoder.feature_groups_``): a view
            keeps or drops each group whole.

        Returns
        -------
        self
        """
        return super().fit(X, feature_groups=feature_groups)

    def sample(self, data: Any = None, n: int | None = None, *, random_state: Any = None) -> Any:
        """``n`` feature-subset views of every row of ``data`` (or ``n`` masks when ``data`` is None).

        Parameters
        ----------
        data : array-like, DataFrame or Tensor of shape (n_rows, n_features_in_), or None
        n : int or None
            ``sample_unit = "views"``: ``sample(data, n)`` returns ``n`` augmented views of
            EVERY row of ``data``; ``None`` means the ``n_views`` parameter.
        random_state : int, Generator or None
            Overrides the augmenter's own sampling stream for this call.

        Returns
        -------
        ndarray or Tensor of shape (n, n_rows, n_features_in_), list of ``n`` DataFrames, or
        bool ndarray of shape (n, n_features_in_) (the masks) when ``data`` is None
        """
        return super().sample(data, n, random_state=random_state)

    def _count_sampled(self, out: Any, data: Any) -> int:
        """Views per row in ``out = sample(data, n)``: the length of the first axis (or list)."""
        if isinstance(out, list):
            if not all(v.shape == data.shape for v in out):
                raise AssertionError(f"every view must have the input's shape {tuple(data.shape)}")
            return len(out)
        if data is not None and tuple(out.shape[1:]) != tuple(data.shape):
            raise AssertionError(f"views of shape {tuple(out.shape[1:])}, input {tuple(data.shape)}")
        return int(out.shape[0])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # values are not read: NaN and inf pass through the kept cells
        tags.requires_fit = True
        return tags

    def _fit(self, data: Any, feature_groups: Any = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"FeatureSubsetViews.fit got unexpected keyword argument(s) {sorted(kwargs)}")
        n_features = self._n_columns(data, fitting=True)
        self._check_numeric(data)
        if feature_groups is None:
            groups = np.arange(n_features)
        else:
            raw = np.asarray(feature_groups)
            if raw.dtype.kind not in "iu":  # 0.5 would be truncated to group 0 without a word
                raise DataValidationError(f"feature_groups must hold integer group labels, got dtype {raw.dtype}")
            groups = raw.astype(np.int64)
            if groups.shape != (n_features,):
                raise DataValidationError(
                    f"feature_groups must have one entry per column ({n_features}), got shape {groups.shape}"
                )
            if groups.min() < 0 or len(np.unique(groups)) != groups.max() + 1:
                raise DataValidationError("feature_groups must label columns with 0..G-1, each group used")
        self.n_features_in_ = n_features
        self.feature_groups_ = groups
        self.n_groups_ = int(groups.max()) + 1
        self.n_selected_ = max(1, int(float(self.subsample) * self.n_groups_))

    @staticmethod
    def _n_columns(data: Any, *, fitting: bool = False) -> int:
        if isinstance(data, (int, np.integer)) and not isinstance(data, bool):
            return check_positive_int(data, "n_features")
        if sp.issparse(data):
            raise DataValidationError(
                "X: sparse input is not supported by FeatureSubsetViews; pass a dense table (X.toarray())"
            )
        shape = getattr(data, "shape", None)
        if shape is None:
            try:
                shape = np.asarray(data).shape
            except ValueError as exc:  # ragged rows
                raise DataValidationError(f"X could not be read as a table: {exc}") from exc
        if len(shape) != 2:
            raise DataValidationError(f"X must be a 2-D table (rows x features), got shape {tuple(shape)}")
        if shape[1] < 1:  # scikit-learn's wording, then ours
            raise DataValidationError(
                f"X: Found array with 0 feature(s) (shape={tuple(shape)}) while a minimum of 1 "
                "is required; a view needs at least one feature"
            )
        if fitting and shape[0] < 1:  # sample() on 0 rows is fine (0-row views); fit learns from rows
            raise DataValidationError(
                f"X: Found array with 0 sample(s) (shape={tuple(shape)}) while a minimum of 1 is required"
            )
        return int(shape[1])

    @staticmethod
    def _check_numeric(data: Any) -> None:
        """Reject text/category columns: a fill value cannot stand for a dropped category."""
        if isinstance(data, (int, np.integer)) or (isinstance(data, torch.Tensor) and not data.is_complex()):
            return
        if isinstance(data, pd.DataFrame):
            bad = [
                c
                for c, dt in data.dtypes.items()
                if not (pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt))
                or pd.api.types.is_complex_dtype(dt)
            ]
        else:
            arr = np.asarray(data)
            if arr.dtype.kind in "biuf":
                return
            if arr.dtype.kind == "c":
                raise DataValidationError(
                    f"X: Complex data not supported (dtype {arr.dtype}); FeatureSubsetViews needs real numbers"
                )
            if arr.dtype.kind != "O":
                raise DataValidationError(f"X must be numeric, got dtype {arr.dtype}")
            numbers = (int, float, np.integer, np.floating)
            other = sorted({type(v).__name__ for v in arr.ravel() if not isinstance(v, (*numbers, str))})
            if other:  # neither numbers nor text: a TypeError, as numpy's float() conversion gives
                raise _NonNumericError(
                    f"X holds {other[:5]} objects: float() argument must be a string or a "
                    "real number; FeatureSubsetViews needs a numeric table"
                )
            bad = [j for j in range(arr.shape[1]) if any(not isinstance(v, numbers) for v in arr[:, j])]
        if bad:
            raise DataValidationError(
                f"X has non-numeric (text or category) column(s) {bad[:10]}; FeatureSubsetViews needs numbers. "
                "Encode the table first: enc = TableEncoder(encoding='onehot').fit(X), then "
                "FeatureSubsetViews().fit(enc.transform(X), feature_groups=enc.feature_groups_) keeps each "
                "categorical feature whole"
            )

    def masks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` column masks (bool, ``(n, n_features_in_)``) from ``rng``."""
        group_masks = draw_subset_masks(self.n_groups_, n, self.n_selected_, rng)
        return group_masks[:, self.feature_groups_]

    def _sample(self, data: Any, n: int | None, rng: SampleRNG) -> Any:
        n = self.n_views if n is None else n
        masks = self.masks(n, rng.np)
        if data is None:
            return masks
        check_n_features(self, self._n_columns(data))
        self._check_numeric(data)
        if isinstance(data, torch.Tensor):
            m = torch.as_tensor(masks, device=data.device).unsqueeze(1)
            fill = torch.as_tensor(self.fill_value, dtype=data.dtype, device=data.device)
            return torch.where(m, data.unsqueeze(0), fill)
        if isinstance(data, pd.DataFrame):
            # a full-shape condition: pandas 3.0's where(Series, scalar, axis=1) raises a TypeError
            return [
                data.where(
                    pd.DataFrame(np.broadcast_to(m, data.shape), index=data.index, columns=data.columns),
                    self.fill_value,
                )
                for m in masks
            ]
        arr = np.asarray(data)
        return np.where(masks[:, None, :], arr[None], np.asarray(self.fill_value, dtype=arr.dtype))
