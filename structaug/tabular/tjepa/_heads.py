"""Downstream heads on T-JEPA representations: :class:`TJEPAClassifier`, :class:`TJEPARegressor`.

Both pre-train a :class:`~structaug.tabular.TJEPA` encoder on ``X`` (labels
unused), standardise its representation, and fit a supervised head on it: an MLP trained by
the shared :class:`~structaug.train.Trainer` with early stopping on a held-out part of the
training rows (``head="mlp"``, the paper's protocol), or XGBoost (``head="xgboost"``).

The private ``MLPHead`` (``structaug.tabular._mlp``, shared with the plain-MLP baseline) is the head; the
T-JEPA benchmark uses it on the raw encoded features as the "no T-JEPA" baseline so both sides
get exactly the same head and training budget.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.preprocessing import StandardScaler

from ...base import check_is_fitted, reset_fitted
from ...exceptions import DataValidationError, InvalidParameterError
from ...random import check_random_state, spawn_seed
from ...validation import check_bool, check_choice, check_positive_int
from .._encoder import (
    check_fitted_input,
    check_n_rows,
    check_regression_target,
    check_table,
    check_target,
    encode_class_labels,
)
from .._mlp import MLPHead, head_for
from ._estimator import TJEPA

__all__ = ["TJEPAClassifier", "TJEPARegressor"]


def _check_head(head: str) -> None:
    check_choice(head, ("mlp", "xgboost"), "head")


class _TJEPAHeadBase(BaseEstimator):
    """Shared fit logic: pre-train the encoder, standardise its output, fit the head."""

    _task = "classification"

    def __init__(
        self,
        *,
        encoder: TJEPA | None = None,
        pretrain_epochs: int | None = None,
        head: str = "mlp",
        hidden_sizes: Sequence[int] = (256, 256),
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 128,
        max_epochs: int = 200,
        patience: int = 16,
        validation_fraction: float = 0.1,
        xgb_params: dict | None = None,
        pretrained: bool = False,
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = False,
    ):
        self.encoder = encoder
        self.pretrain_epochs = pretrain_epochs
        self.head = head
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.xgb_params = xgb_params
        self.pretrained = pretrained
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _validate_params(self) -> None:
        """Check this estimator's, its encoder's and its head's parameters before any pre-training."""
        _check_head(self.head)
        check_bool(self.pretrained, "pretrained")
        check_bool(self.verbose, "verbose")
        if self.pretrain_epochs is not None:
            check_positive_int(self.pretrain_epochs, "pretrain_epochs")
        if self.xgb_params is not None and not isinstance(self.xgb_params, dict):
            raise InvalidParameterError(f"xgb_params must be a dict or None, got {type(self.xgb_params).__name__}")
        if self.pretrained:
            if not isinstance(self.encoder, TJEPA):
                raise InvalidParameterError(
                    f"pretrained=True needs a fitted TJEPA as encoder, got {type(self.encoder).__name__}"
                )
            check_is_fitted(self.encoder, "network_")
        else:
            if self.encoder is not None and not isinstance(self.encoder, TJEPA):
                raise InvalidParameterError(f"encoder must be a TJEPA or None, got {type(self.encoder).__name__}")
            self._encoder_config()._validate_params()
        if self.head == "mlp":
            self._mlp_head(seed=None)._validate_params()

    def _encoder_config(self) -> TJEPA:
        """The encoder to pre-train: a clone of ``encoder`` with this estimator's overrides (no seed yet)."""
        enc = clone(self.encoder) if self.encoder is not None else TJEPA()
        if enc.device == "auto":
            enc.set_params(device=self.device)
        if self.verbose:  # silent unless one of the two asks for progress output
            enc.set_params(verbose=True)
        if self.pretrain_epochs is not None:
            enc.set_params(max_epochs=self.pretrain_epochs)
        return enc

    def _mlp_head(self, seed: int | None) -> MLPHead:
        return head_for(self, self._task, seed)

    def _fit_encoder(self, X: Any, rng: np.random.Generator) -> np.ndarray:
        self.encoder_ = self._fitted_encoder(X, rng)
        self.scaler_ = StandardScaler()
        return self.scaler_.fit_transform(self.encoder_.transform(X))

    def _fitted_encoder(self, X: Any, rng: np.random.Generator) -> TJEPA:
        if self.pretrained:
            # One pre-training shared by several heads: use the fitted encoder as it is
            # (checked to be a fitted TJEPA in _validate_params).
            assert self.encoder is not None
            return self.encoder
        # the classifier's seed/device/verbose reach an encoder left at its defaults
        enc = self._encoder_config()
        if enc.random_state is None:
            enc.set_params(random_state=spawn_seed(rng))
        return enc.fit(X)

    def _features(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "head_")
        X = check_fitted_input(self, X)  # errors name this estimator, not the inner encoder
        with warnings.catch_warnings():  # a feature-name mismatch has warned once already
            warnings.simplefilter("ignore", UserWarning)
            return self.scaler_.transform(self.encoder_.transform(X)).astype(np.float32)

    def _fit_head(self, R: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        _check_head(self.head)
        seed = spawn_seed(rng)
        if self.head == "mlp":
            self.head_ = self._mlp_head(seed).fit(R, y)
            return
        import xgboost as xgb

        params = {"n_jobs": 1, "random_state": seed, **(self.xgb_params or {})}
        if self._task == "classification":
            self.head_ = xgb.XGBClassifier(**params).fit(R, y)
        else:
            self.head_ = xgb.XGBRegressor(**params).fit(R, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        enc = self.encoder if self.encoder is not None else TJEPA()
        tags.input_tags.allow_nan = enc.missing == "impute"
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags


class TJEPAClassifier(ClassifierMixin, _TJEPAHeadBase):
    """T-JEPA representation + a classification head (MLP by default, or XGBoost).

    Parameters
    ----------
    encoder : TJEPA or None
        The (unfitted) encoder configuration; cloned in ``fit``. ``None`` → ``TJEPA()``.
        Its ``random_state``/``device`` inherit this estimator's when unset (``None``/``"auto"``),
        and ``verbose=True`` here turns on the encoder's progress output too.
    pretrain_epochs : int or None
        Overrides the encoder's ``max_epochs`` (T-JEPA pre-training epochs) when set;
        ``max_epochs`` below is the *head's* epoch budget.
    head : {"mlp", "xgboost"}
        The downstream model on the standardised representation.
    hidden_sizes, dropout, lr, weight_decay, batch_size, max_epochs, patience, validation_fraction :
        The MLP head (see :class:`MLPHead`).
    xgb_params : dict or None
        Keyword arguments of ``xgboost.XGBClassifier`` for ``head="xgboost"``.
    pretrained : bool, default False
        ``encoder`` is an already *fitted* :class:`TJEPA`: ``fit`` uses it as it is (no clone,
        no pre-training; ``pretrain_epochs`` is ignored) and only fits the scaler and the head.
        This lets several heads share one pre-training (the benchmark's T-JEPA+MLP and
        T-JEPA+XGBoost). ``sklearn.base.clone`` returns an *unfitted* encoder, so do not use
        it inside cross-validation; ``fit`` then raises ``NotFittedError``.
    device, random_state :
        As everywhere in structaug.
    verbose : bool, default=False
        Progress bars (pre-training and head); silent by default.

    Attributes
    ----------
    classes_ : ndarray
    encoder_ : TJEPA
    scaler_ : StandardScaler
    head_ : MLPHead or xgboost model
    n_features_in_ : int
    """

    _task = "classification"

    def fit(self, X: Any, y: Any) -> TJEPAClassifier:
        """Pre-train the encoder on ``X``, then fit the head on ``(representation, y)``."""
        reset_fitted(self)  # a failed refit must not keep the previous model
        self._validate_params()
        check_table(X)  # X's shape errors first, as for every table model (the encoder re-reads X)
        y = check_target(self, y)
        check_n_rows(X, y)
        codes, self.classes_ = encode_class_labels(y)
        rng = check_random_state(self.random_state)
        R = self._fit_encoder(X, rng)
        self._fit_head(R, codes, rng)
        self.n_features_in_ = self.encoder_.n_features_in_
        check_fitted_input(self, X, reset=True)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order."""
        R = self._features(X)
        if isinstance(self.head_, MLPHead):  # the fitted head, whatever set_params did since
            logits = torch.as_tensor(self.head_.decision_function(R))
            return torch.softmax(logits, dim=1).numpy().astype(np.float64)
        return self.head_.predict_proba(R).astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label per row (labels as passed to ``fit``)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class TJEPARegressor(RegressorMixin, _TJEPAHeadBase):
    """T-JEPA representation + a regression head (MLP on a standardised target, or XGBoost).

    Same parameters as :class:`TJEPAClassifier` (``xgb_params`` go to ``XGBRegressor``).
    ``score`` is R², as for every sklearn regressor.
    """

    _task = "regression"

    def fit(self, X: Any, y: Any) -> TJEPARegressor:
        reset_fitted(self)  # a failed refit must not keep the previous model
        self._validate_params()
        check_table(X)  # X's shape errors first, as for every table model (the encoder re-reads X)
        y = check_target(self, y)
        check_n_rows(X, y)
        target = check_regression_target(y)
        if len(target) < 2:
            raise DataValidationError(f"a regressor needs at least 2 rows, got n_samples={len(target)}")
        rng = check_random_state(self.random_state)
        R = self._fit_encoder(X, rng)
        # the MLP regresses a standardised target (a constant target gives scale 1)
        self.y_mean_ = float(target.mean())
        self.y_scale_ = float(target.std()) or 1.0
        self._fit_head(R, ((target - self.y_mean_) / self.y_scale_).astype(np.float32), rng)
        self.n_features_in_ = self.encoder_.n_features_in_
        check_fitted_input(self, X, reset=True)
        return self

    def predict(self, X: Any) -> np.ndarray:
        R = self._features(X)
        if isinstance(self.head_, MLPHead):
            out = self.head_.decision_function(R).reshape(-1)
        else:
            out = self.head_.predict(R).reshape(-1)
        return out.astype(np.float64) * self.y_scale_ + self.y_mean_
