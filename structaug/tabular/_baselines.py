"""Baselines for the tabular methods: a plain MLP (trained by the shared Trainer) and the
factories the benchmark and the demo use to build every compared model the same way.

Every model here takes the raw table (DataFrame or array) and encodes it with
:class:`~structaug.tabular.TableEncoder` inside ``fit``, so preprocessing is
always fitted on the training fold only.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.pipeline import make_pipeline

from ..base import check_is_fitted
from ..exceptions import DataValidationError
from ..train import resolve_device
from ..validation import check_choice
from ._encoder import (
    TableEncoder,
    check_fitted_input,
    check_n_rows,
    check_regression_target,
    check_table,
    check_target,
    encode_class_labels,
)
from ._mlp import head_for

__all__ = ["BASELINES", "LabelEncodedClassifier", "MLPClassifierTorch", "MLPRegressorTorch", "make_baseline"]


class _MLPBase(BaseEstimator):
    """``TableEncoder`` → an MLP (Adam, early stopping on a held-out ``validation_fraction`` of
    the training rows): the plain-MLP baseline, the "no augmentation" twin of the tabular methods.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(256, 256)
        Hidden layer widths (``()`` is a linear model).
    dropout, lr, weight_decay, batch_size, max_epochs, patience, validation_fraction :
        Training of the MLP; early stopping watches the validation loss.
    device, random_state :
        As everywhere in structaug.
    verbose : bool, default=False
        Progress bar over epochs.

    The table is one-hot encoded and standardised on the training rows, NaN imputed
    (``TableEncoder(encoding="onehot", missing="impute")``).
    """

    def __init__(
        self,
        *,
        hidden_sizes: tuple[int, ...] = (256, 256),
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 128,
        max_epochs: int = 200,
        patience: int = 20,
        validation_fraction: float = 0.15,
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ):
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X: Any, y: Any) -> _MLPBase:
        head = head_for(self, self._task, self.random_state)
        head._validate_params()  # parameter errors before anything else (they name the head's names)
        X = check_table(X)
        y = check_target(self, y)
        check_n_rows(X, y)
        target = self._target(y)
        self.encoder_ = TableEncoder(encoding="onehot", missing="impute").fit(X)
        self.head_ = head.fit(self.encoder_.transform(X), target)
        self.n_features_in_ = self.encoder_.n_features_in_
        check_fitted_input(self, X, reset=True)
        return self

    def _forward(self, X: Any) -> torch.Tensor:
        check_is_fitted(self, "head_")
        X = check_fitted_input(self, X)  # errors name this estimator, not its encoder
        with warnings.catch_warnings():  # a feature-name mismatch has warned once already
            warnings.simplefilter("ignore", UserWarning)
            return torch.as_tensor(self.head_.decision_function(self.encoder_.transform(X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # what the inner TableEncoder(encoding="onehot", missing="impute") reads
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags


class MLPClassifierTorch(ClassifierMixin, _MLPBase):
    """Plain MLP classifier (the "no augmentation" twin of the tabular methods)."""

    _task = "classification"

    def _target(self, y: Any) -> np.ndarray:
        codes, self.classes_ = encode_class_labels(y)
        return codes

    def predict_proba(self, X: Any) -> np.ndarray:
        return torch.softmax(self._forward(X), dim=1).cpu().numpy().astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "head_")
        return self.classes_[self.predict_proba(X).argmax(1)]


class MLPRegressorTorch(RegressorMixin, _MLPBase):
    """Plain MLP regressor on a standardised target."""

    _task = "regression"

    def _target(self, y: Any) -> np.ndarray:
        t = check_regression_target(y)
        if len(t) < 2:  # as every tabular regressor: one row has no spread to learn from
            raise DataValidationError(f"a regressor needs at least 2 rows, got n_samples={len(t)}")
        self.y_mean_, self.y_scale_ = float(t.mean()), float(t.std()) or 1.0
        return ((t - self.y_mean_) / self.y_scale_).astype(np.float32)

    def predict(self, X: Any) -> np.ndarray:
        return self._forward(X)[:, 0].cpu().numpy().astype(np.float64) * self.y_scale_ + self.y_mean_


class LabelEncodedClassifier(ClassifierMixin, BaseEstimator):
    """Fit ``estimator`` on class codes ``0..C-1`` and map predictions back to the labels.

    XGBoost insists on ``0..C-1`` labels; this gives every baseline sklearn's behaviour with
    string or non-contiguous labels (``classes_`` holds the original labels).
    """

    def __init__(self, estimator: Any):
        self.estimator = estimator

    def fit(self, X: Any, y: Any) -> LabelEncodedClassifier:
        codes, self.classes_ = encode_class_labels(y)
        self.estimator_ = clone(self.estimator).fit(X, codes)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        proba = self.estimator_.predict_proba(X)
        out = np.zeros((len(proba), len(self.classes_)))
        out[:, np.asarray(self.estimator_.classes_, dtype=int)] = proba  # classes missing from a fold stay 0
        return out

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


def _encoded(model: Any) -> Any:
    # One-hot + standardise on the training fold, imputing NaN, then the sklearn-API model.
    pipe = make_pipeline(TableEncoder(encoding="onehot", missing="impute"), model)
    return LabelEncodedClassifier(pipe) if isinstance(model, ClassifierMixin) else pipe


def _xgb(task: str, seed: int, device: str) -> Any:
    import xgboost as xgb

    kw: dict[str, Any] = dict(
        n_estimators=300, learning_rate=0.1, max_depth=6, random_state=seed, n_jobs=1, verbosity=0
    )
    if str(resolve_device(device)).startswith("cuda"):
        kw["device"] = "cuda"
    return _encoded(xgb.XGBClassifier(**kw) if task == "classification" else xgb.XGBRegressor(**kw))


def _rf(task: str, seed: int, device: str) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
    return _encoded(cls(n_estimators=300, random_state=seed, n_jobs=1))


def _lgbm(task: str, seed: int, device: str) -> Any:
    import lightgbm as lgb

    cls = lgb.LGBMClassifier if task == "classification" else lgb.LGBMRegressor
    return _encoded(cls(n_estimators=300, learning_rate=0.05, random_state=seed, n_jobs=1, verbose=-1))


def _linear(task: str, seed: int, device: str) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "classification":
        return _encoded(LogisticRegression(max_iter=2000, C=1.0, random_state=seed))
    return _encoded(Ridge(alpha=1.0))


def _mlp(task: str, seed: int, device: str) -> Any:
    cls = MLPClassifierTorch if task == "classification" else MLPRegressorTorch
    return cls(random_state=seed, device=device)


#: name → factory(task, seed, device) → unfitted estimator taking the raw table.
BASELINES: dict[str, Callable[[str, int, str], Any]] = {
    "XGBoost": _xgb,
    "RandomForest": _rf,
    "LightGBM": _lgbm,
    "MLP": _mlp,
    "LogisticRegression": _linear,
}


def make_baseline(name: str, task: str, seed: int = 0, device: str = "auto") -> Any:
    """An unfitted baseline from :data:`BASELINES` (``task`` is classification/regression)."""
    check_choice(name, sorted(BASELINES), "name")
    check_choice(task, ("classification", "regression"), "task")
    return BASELINES[name](task, seed, device)
