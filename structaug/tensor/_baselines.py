"""Non-neural completion baselines with the same ``fit(train, validation=)`` /
``predict(indices)`` interface as :class:`NeuralTensorCompletion`.

* :class:`MeanCompletion` — the global mean, or global mean plus one shrunken bias per
  entity of every mode (backfitted, the classic "baseline predictor" of recommenders).
* :class:`TensorlyCompletion` — tensorly's masked CP (``parafac(mask=...)``) or Tucker
  (``tucker(mask=...)``) on the dense array with unobserved cells imputed by EM.
* :class:`XGBoostCompletion` — gradient-boosted trees on target-encoded indices (the mean
  value and log count of each index of each mode; out-of-fold for training cells).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from .._optional import import_optional
from ..base import check_is_fitted
from ..exceptions import DataValidationError
from ..metrics import rmse
from ..random import check_random_state, spawn_seed
from ..validation import check_bool, check_choice, check_positive_float, check_positive_int
from ._container import ObservedTensor, as_cell_indices, check_disjoint, check_tensor, resolve_shape, tucker_at

__all__ = ["MeanCompletion", "TensorlyCompletion", "XGBoostCompletion"]


class _IndexRegressor(RegressorMixin, BaseEstimator):
    """Shared input checks: every bad argument is refused before any work (see docs/dain.md)."""

    #: set last in ``fit``: a fit that fails half-way leaves no model to predict with
    _fitted_attr = "shape_"

    def _validate_params(self) -> None:  # pragma: no cover - every subclass overrides
        pass

    def _check_fit_input(
        self, X: ObservedTensor, validation: ObservedTensor | None, shape: Sequence[int] | None
    ) -> tuple[int, ...]:
        """Check parameters, ``X``, ``validation`` and ``shape``; return the model's shape."""
        self._validate_params()
        check_tensor(X, "X")
        if validation is not None:
            check_tensor(validation, "validation", order=X.order)
            check_disjoint(X, validation)
        return resolve_shape(X, validation, shape)

    def _check_indices(self, X) -> np.ndarray:
        check_is_fitted(self, [self._fitted_attr])
        return as_cell_indices(X, self.shape_, "X")

    def score(self, X: ObservedTensor, y=None) -> float:
        """Negative RMSE on ``X``'s cells (``X`` must be a non-empty ObservedTensor)."""
        check_is_fitted(self, [self._fitted_attr])
        check_tensor(X, "X")
        return -rmse(X.values, self.predict(X))


class MeanCompletion(_IndexRegressor):
    """Global mean (``kind="global"``) or global mean + per-entity biases (``kind="entity"``).

    Parameters
    ----------
    kind : {"global", "entity"}
    reg : float
        Shrinkage of each bias towards 0 (pseudo-count), so rare entities stay near the mean.
    n_sweeps : int
        Backfitting sweeps over the modes.
    """

    def __init__(self, *, kind: str = "entity", reg: float = 5.0, n_sweeps: int = 10):
        self.kind = kind
        self.reg = reg
        self.n_sweeps = n_sweeps

    def fit(
        self, X: ObservedTensor, y=None, *, validation: ObservedTensor | None = None, shape: Sequence[int] | None = None
    ) -> MeanCompletion:
        self.shape_ = self._check_fit_input(X, validation, shape)
        self.mean_ = float(X.values.mean())
        self.biases_ = [np.zeros(s) for s in self.shape_]
        if self.kind == "entity":
            resid = X.values - self.mean_
            for _ in range(int(self.n_sweeps)):
                for m, size in enumerate(self.shape_):
                    col = X.indices[:, m]
                    partial = resid + self.biases_[m][col]
                    b = np.bincount(col, weights=partial, minlength=size) / (
                        np.bincount(col, minlength=size) + float(self.reg)
                    )
                    resid = partial - b[col]
                    self.biases_[m] = b
        return self

    def _validate_params(self) -> None:
        check_choice(self.kind, ("global", "entity"), "kind")
        check_positive_float(self.reg, "reg", allow_zero=True)
        check_positive_int(self.n_sweeps, "n_sweeps")  # 0 sweeps would silently give the global mean

    def predict(self, X) -> np.ndarray:
        idx = self._check_indices(X)
        out = np.full(len(idx), self.mean_)
        for m, b in enumerate(self.biases_):
            out += b[idx[:, m]]
        return out


class TensorlyCompletion(_IndexRegressor):
    """Masked CP or Tucker completion with tensorly (EM imputation of unobserved cells).

    Parameters
    ----------
    method : {"cp", "tucker"}
    rank : int
        CP rank, or the Tucker rank of every mode (capped at the mode size).
    n_iter_max : int
        ALS/HOOI iterations.
    max_dense_cells : int
        Refuse tensors whose dense array would exceed this many cells (tensorly's masked
        decompositions work on the dense array; DAIN's synthetic_10K is 10⁹ cells).
    random_state : int or None
        Seeds the random initialisation.
    """

    _fitted_attr = "factors_"

    def __init__(
        self,
        *,
        method: str = "cp",
        rank: int = 5,
        n_iter_max: int = 100,
        max_dense_cells: int = 60_000_000,
        random_state=None,
    ):
        self.method = method
        self.rank = rank
        self.n_iter_max = n_iter_max
        self.max_dense_cells = max_dense_cells
        self.random_state = random_state

    def fit(
        self, X: ObservedTensor, y=None, *, validation: ObservedTensor | None = None, shape: Sequence[int] | None = None
    ) -> TensorlyCompletion:
        import tensorly as tl
        from tensorly.decomposition import parafac, tucker

        shape = self._check_fit_input(X, validation, shape)
        cells = float(np.prod(np.asarray(shape, dtype=np.float64)))
        if cells > self.max_dense_cells:
            raise DataValidationError(
                f"tensorly's masked {self.method.upper()} needs the dense {shape} array ({cells:.3g} cells), "
                f"more than max_dense_cells={self.max_dense_cells:.3g}"
            )
        self.shape_ = shape
        seed = spawn_seed(check_random_state(self.random_state))
        self.mean_ = float(X.values.mean())
        dense = np.zeros(self.shape_)
        mask = np.zeros(self.shape_)
        dense[tuple(X.indices.T)] = X.values - self.mean_  # centred: unobserved cells start at the mean
        mask[tuple(X.indices.T)] = 1.0
        # numpy for this fit only: ``tl.set_backend`` would switch the caller's global backend
        # (e.g. "pytorch") for the rest of the process; the context restores it on exit.
        with tl.backend_context("numpy"):
            if not dense.any():
                # constant values (e.g. a single cell): the centred array is all zeros, which CP's
                # normal equations cannot solve (singular); the exact answer is the mean everywhere
                ranks = [int(self.rank) if self.method == "cp" else min(int(self.rank), s) for s in shape]
                core = np.zeros(ranks)
                factors = [np.zeros((s, r)) for s, r in zip(shape, ranks)]
            elif self.method == "cp":
                try:
                    weights, factors = parafac(
                        dense,
                        int(self.rank),
                        mask=mask,
                        init="random",
                        n_iter_max=int(self.n_iter_max),
                        random_state=seed,
                        tol=1e-7,
                    )
                except np.linalg.LinAlgError as exc:
                    raise DataValidationError(
                        f"tensorly's CP failed on X ({exc}): too few cells per entity for "
                        f"rank={self.rank}; try a lower rank"
                    ) from exc
                r = len(weights)
                core = np.zeros((r,) * len(self.shape_))
                core[(np.arange(r),) * len(self.shape_)] = weights
            else:
                ranks = [min(int(self.rank), s) for s in self.shape_]
                core, factors = tucker(
                    dense, ranks, mask=mask, init="svd", n_iter_max=int(self.n_iter_max), random_state=seed, tol=1e-6
                )
        core, factors = np.asarray(core), [np.asarray(f) for f in factors]
        if not (np.isfinite(core).all() and all(np.isfinite(f).all() for f in factors)):
            raise DataValidationError(
                f"tensorly's {self.method.upper()} diverged (non-finite factors) on X; try a lower rank"
            )
        self.core_ = core
        self.factors_ = factors
        return self

    def _validate_params(self) -> None:
        check_choice(self.method, ("cp", "tucker"), "method")
        check_positive_int(self.rank, "rank")
        check_positive_int(self.n_iter_max, "n_iter_max")
        check_positive_int(self.max_dense_cells, "max_dense_cells")

    def to_tensorly(self, *, include_mean: bool = True):
        """The fitted model as a tensorly ``CPTensor`` (``method="cp"``) or ``TuckerTensor``.

        Parameters
        ----------
        include_mean : bool
            Fold the training mean (the model is fitted to centred values) into the
            decomposition, so its full tensor equals :meth:`predict` everywhere: one more CP
            component (weight ``mean_``, all-ones factor columns) or one more Tucker rank per
            mode (core entry ``mean_`` at the new corner). ``False`` gives the decomposition
            of the centred values, at the fitted ranks.

        Returns
        -------
        CPTensor or TuckerTensor
            Factors ``[shape_[m], R]`` (float64 numpy arrays); read predictions at chosen
            cells with ``ObservedTensor.from_tensorly(model, cells=...)``.
        """
        from tensorly.cp_tensor import CPTensor
        from tensorly.tucker_tensor import TuckerTensor

        check_is_fitted(self, [self._fitted_attr])
        check_bool(include_mean, "include_mean")
        order = len(self.shape_)
        factors = [f.copy() for f in self.factors_]
        if self.method == "cp":
            r = self.core_.shape[0]
            weights = self.core_[(np.arange(r),) * order].copy()  # the superdiagonal fit() wrote
            if include_mean:
                weights = np.append(weights, self.mean_)
                factors = [np.hstack([f, np.ones((len(f), 1))]) for f in factors]
            return CPTensor((weights, factors))
        core = self.core_.copy()
        if include_mean:
            core = np.pad(core, [(0, 1)] * order)
            core[(-1,) * order] = self.mean_
            factors = [np.hstack([f, np.ones((len(f), 1))]) for f in factors]
        return TuckerTensor((core, factors))

    def predict(self, X) -> np.ndarray:
        idx = self._check_indices(X)
        out = np.empty(len(idx))
        for s in range(0, len(idx), 65536):
            out[s : s + 65536] = tucker_at(self.core_, self.factors_, idx[s : s + 65536])
        return out + self.mean_


class XGBoostCompletion(_IndexRegressor):
    """XGBoost on target-encoded indices.

    Each cell becomes ``2 × order`` features: for every mode, the smoothed mean value of the
    cell's index and the log count of its cells. Training cells are encoded out-of-fold
    (``n_folds``) so a cell's own value never leaks into its features. (scikit-learn's
    ``TargetEncoder(smooth=m)`` uses the same smoothed mean, but its folds are a ``KFold``
    split where ours are a seeded random fold per cell: switching would move the benchmark's
    ``xgboost_te`` numbers, so the encoding stays here.)

    Parameters
    ----------
    n_estimators, max_depth, learning_rate : XGBoost settings
        Early stopping on the validation cells (when given) picks the number of trees.
    smoothing : float
        Pseudo-count pulling rare indices' means towards the global mean.
    n_folds : int
    n_jobs : int
    random_state : int or None
    """

    _fitted_attr = "model_"

    def __init__(
        self,
        *,
        n_estimators: int = 500,
        max_depth: int = 6,
        learning_rate: float = 0.05,
        smoothing: float = 5.0,
        n_folds: int = 5,
        n_jobs: int = 1,
        random_state=None,
    ):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.smoothing = smoothing
        self.n_folds = n_folds
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _encode(self, idx: np.ndarray, stats: list[tuple[np.ndarray, np.ndarray]], mean: float) -> np.ndarray:
        cols = []
        for m, (sums, counts) in enumerate(stats):
            s, c = sums[idx[:, m]], counts[idx[:, m]]
            cols.append((s + self.smoothing * mean) / (c + self.smoothing))
            cols.append(np.log1p(c))
        return np.stack(cols, axis=1)

    def _stats(self, X: ObservedTensor, rows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (
                np.bincount(X.indices[rows, m], weights=X.values[rows], minlength=s),
                np.bincount(X.indices[rows, m], minlength=s).astype(np.float64),
            )
            for m, s in enumerate(self.shape_)
        ]

    def fit(
        self, X: ObservedTensor, y=None, *, validation: ObservedTensor | None = None, shape: Sequence[int] | None = None
    ) -> XGBoostCompletion:
        shape = self._check_fit_input(X, validation, shape)  # bad input is named before a missing xgboost
        XGBRegressor = import_optional("xgboost").XGBRegressor  # the optional `trees` extra
        self.shape_ = shape
        rng = check_random_state(self.random_state)
        self.mean_ = float(X.values.mean())
        folds = rng.integers(0, int(self.n_folds), X.nnz)
        feats = np.empty((X.nnz, 2 * len(self.shape_)))
        for f in range(int(self.n_folds)):
            out = folds == f
            feats[out] = self._encode(X.indices[out], self._stats(X, np.where(~out)[0]), self.mean_)
        self.stats_ = self._stats(X, np.arange(X.nnz))
        params = dict(
            n_estimators=int(self.n_estimators),
            max_depth=int(self.max_depth),
            learning_rate=float(self.learning_rate),
            n_jobs=int(self.n_jobs),
            random_state=spawn_seed(rng),
            tree_method="hist",
        )
        if validation is not None:
            vfeats = self._encode(validation.indices, self.stats_, self.mean_)
            model = XGBRegressor(early_stopping_rounds=30, **params)
            model.fit(feats, X.values, eval_set=[(vfeats, validation.values)], verbose=False)
        else:
            model = XGBRegressor(**params).fit(feats, X.values)
        self.model_ = model
        return self

    def _validate_params(self) -> None:
        check_positive_int(self.n_estimators, "n_estimators")
        check_positive_int(self.max_depth, "max_depth")
        check_positive_float(self.learning_rate, "learning_rate")
        check_positive_float(self.smoothing, "smoothing", allow_zero=True)
        # one fold has no other fold to encode from: every feature would be the global mean
        check_positive_int(self.n_folds, "n_folds", minimum=2)

    def predict(self, X) -> np.ndarray:
        idx = self._check_indices(X)
        return self.model_.predict(self._encode(idx, self.stats_, self.mean_)).astype(np.float64)
