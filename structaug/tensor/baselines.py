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

from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from ..base import check_is_fitted
from ..exceptions import DataValidationError
from ..random import check_random_state, spawn_seed
from ..validation import check_index_range
from .container import ObservedTensor

__all__ = ["MeanCompletion", "TensorlyCompletion", "XGBoostCompletion"]


class _IndexRegressor(RegressorMixin, BaseEstimator):
    def _check_fit_input(self, X: ObservedTensor) -> None:
        if not isinstance(X, ObservedTensor):
            raise TypeError(f"X must be an ObservedTensor, got {type(X).__name__}")

    def _check_indices(self, X) -> np.ndarray:
        check_is_fitted(self, ["shape_"])
        idx = np.asarray(X.indices if isinstance(X, ObservedTensor) else X)
        if idx.ndim != 2 or idx.shape[1] != len(self.shape_):
            raise DataValidationError(f"indices must have shape (n, {len(self.shape_)}), got {idx.shape}")
        if idx.dtype.kind not in "iu":
            raise DataValidationError(f"indices must be integers, got dtype {idx.dtype}")
        check_index_range(idx, list(self.shape_), "indices")
        return idx.astype(np.int64)

    def score(self, X: ObservedTensor, y=None) -> float:
        """Negative RMSE on ``X``'s cells."""
        return -float(np.sqrt(np.mean((self.predict(X) - X.values) ** 2)))


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

    def fit(self, X: ObservedTensor, y=None, *, validation: ObservedTensor | None = None,
            shape: Sequence[int] | None = None) -> "MeanCompletion":
        self._check_fit_input(X)
        if self.kind not in ("global", "entity"):
            raise ValueError(f"kind must be 'global' or 'entity', got {self.kind!r}")
        self.shape_ = tuple(X.shape if shape is None else shape)
        self.mean_ = float(X.values.mean())
        self.biases_ = [np.zeros(s) for s in self.shape_]
        if self.kind == "entity":
            resid = X.values - self.mean_
            for _ in range(int(self.n_sweeps)):
                for m, size in enumerate(self.shape_):
                    col = X.indices[:, m]
                    partial = resid + self.biases_[m][col]
                    b = np.bincount(col, weights=partial, minlength=size) / (
                        np.bincount(col, minlength=size) + float(self.reg))
                    resid = partial - b[col]
                    self.biases_[m] = b
        return self

    def predict(self, X) -> np.ndarray:
        idx = self._check_indices(X)
        out = np.full(len(idx), self.mean_)
        for m, b in enumerate(self.biases_):
            out += b[idx[:, m]]
        return out


def _tucker_at(core: np.ndarray, factors: Sequence[np.ndarray], idx: np.ndarray) -> np.ndarray:
    """Values of a Tucker (or, with a superdiagonal core, CP) model at the cells ``idx``."""
    out = np.einsum("r...,nr->n...", core, factors[0][idx[:, 0]])
    for m in range(1, len(factors)):
        out = np.einsum("nr...,nr->n...", out, factors[m][idx[:, m]])
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

    def __init__(self, *, method: str = "cp", rank: int = 5, n_iter_max: int = 100,
                 max_dense_cells: int = 60_000_000, random_state=None):
        self.method = method
        self.rank = rank
        self.n_iter_max = n_iter_max
        self.max_dense_cells = max_dense_cells
        self.random_state = random_state

    def fit(self, X: ObservedTensor, y=None, *, validation: ObservedTensor | None = None,
            shape: Sequence[int] | None = None) -> "TensorlyCompletion":
        import tensorly as tl
        from tensorly.decomposition import parafac, tucker

        self._check_fit_input(X)
        if self.method not in ("cp", "tucker"):
            raise ValueError(f"method must be 'cp' or 'tucker', got {self.method!r}")
        self.shape_ = tuple(X.shape if shape is None else shape)
        cells = float(np.prod(np.asarray(self.shape_, dtype=np.float64)))
        if cells > self.max_dense_cells:
            raise DataValidationError(
                f"tensorly's masked {self.method.upper()} needs the dense {self.shape_} array ({cells:.3g} cells), "
                f"more than max_dense_cells={self.max_dense_cells:.3g}")
        seed = spawn_seed(check_random_state(self.random_state))
        self.mean_ = float(X.values.mean())
        dense = np.zeros(self.shape_)
        mask = np.zeros(self.shape_)
        dense[tuple(X.indices.T)] = X.values - self.mean_  # centred: unobserved cells start at the mean
        mask[tuple(X.indices.T)] = 1.0
        tl.set_backend("numpy")
        if self.method == "cp":
            cp = parafac(dense, int(self.rank), mask=mask, init="random", n_iter_max=int(self.n_iter_max),
                         random_state=seed, tol=1e-7)
            weights, factors = cp
            r = len(weights)
            core = np.zeros((r,) * len(self.shape_))
            core[(np.arange(r),) * len(self.shape_)] = weights
        else:
            ranks = [min(int(self.rank), s) for s in self.shape_]
            core, factors = tucker(dense, ranks, mask=mask, init="svd", n_iter_max=int(self.n_iter_max),
                                   random_state=seed, tol=1e-6)
        self.core_ = np.asarray(core)
        self.factors_ = [np.asarray(f) for f in factors]
        return self

    def predict(self, X) -> np.ndarray:
        idx = self._check_indices(X)
        out = np.empty(len(idx))
        for s in range(0, len(idx), 65536):
            out[s:s + 65536] = _tucker_at(self.core_, self.factors_, idx[s:s + 65536])
        return out + self.mean_


class XGBoostCompletion(_IndexRegressor):
    """XGBoost on target-encoded indices.

    Each cell becomes ``2 × order`` features: for every mode, the smoothed mean value of the
    cell's index and the log count of its cells. Training cells are encoded out-of-fold
    (``n_folds``) so a cell's own value never leaks into its features.

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

    def __init__(self, *, n_estimators: int = 500, max_depth: int = 6, learning_rate: float = 0.05,
                 smoothing: float = 5.0, n_folds: int = 5, n_jobs: int = 1, random_state=None):
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
        return [(np.bincount(X.indices[rows, m], weights=X.values[rows], minlength=s),
                 np.bincount(X.indices[rows, m], minlength=s).astype(np.float64)) for m, s in enumerate(self.shape_)]

    def fit(self, X: ObservedTensor, y=None, *, validation: ObservedTensor | None = None,
            shape: Sequence[int] | None = None) -> "XGBoostCompletion":
        from xgboost import XGBRegressor

        self._check_fit_input(X)
        self.shape_ = tuple(X.shape if shape is None else shape)
        rng = check_random_state(self.random_state)
        self.mean_ = float(X.values.mean())
        folds = rng.integers(0, int(self.n_folds), X.nnz)
        feats = np.empty((X.nnz, 2 * len(self.shape_)))
        for f in range(int(self.n_folds)):
            out = folds == f
            feats[out] = self._encode(X.indices[out], self._stats(X, np.where(~out)[0]), self.mean_)
        self.stats_ = self._stats(X, np.arange(X.nnz))
        params = dict(n_estimators=int(self.n_estimators), max_depth=int(self.max_depth),
                      learning_rate=float(self.learning_rate), n_jobs=int(self.n_jobs),
                      random_state=spawn_seed(rng), tree_method="hist")
        if validation is not None:
            vfeats = self._encode(self._check_val(validation), self.stats_, self.mean_)
            self.model_ = XGBRegressor(early_stopping_rounds=30, **params)
            self.model_.fit(feats, X.values, eval_set=[(vfeats, validation.values)], verbose=False)
        else:
            self.model_ = XGBRegressor(**params).fit(feats, X.values)
        return self

    def _check_val(self, validation: ObservedTensor) -> np.ndarray:
        if validation.order != len(self.shape_):
            raise DataValidationError(f"validation has order {validation.order}, expected {len(self.shape_)}")
        check_index_range(validation.indices, list(self.shape_), "validation.indices")
        return validation.indices

    def predict(self, X) -> np.ndarray:
        idx = self._check_indices(X)
        return self.model_.predict(self._encode(idx, self.stats_, self.mean_)).astype(np.float64)
