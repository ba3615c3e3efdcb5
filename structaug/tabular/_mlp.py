"""The MLP head shared by the tabular models: the plain-MLP baseline (``MLPClassifierTorch``,
``MLPRegressorTorch``), T-JEPA's downstream head, and the T-JEPA benchmark's raw-feature MLP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .. import distributed
from ..base import check_is_fitted, reset_fitted
from ..exceptions import DataValidationError
from ..nn import MLP
from ..random import check_random_state, local_torch_seed, spawn_seed
from ..splits import stratified_holdout_indices
from ..train import Trainer, minibatch_epoch, predict_batched, resolve_device, training_table
from ..validation import (
    check_bool,
    check_choice,
    check_dropout,
    check_finite,
    check_float_matrix,
    check_fraction,
    check_optional_positive_int,
    check_positive_float,
    check_positive_int,
    check_widths,
)
from ._encoder import check_n_features, check_n_rows

__all__ = ["HEAD_PARAMS", "MLPHead", "head_for"]

#: the MLPHead parameters an estimator that trains one exposes under the same names
HEAD_PARAMS = (
    "hidden_sizes",
    "dropout",
    "lr",
    "weight_decay",
    "batch_size",
    "max_epochs",
    "patience",
    "validation_fraction",
    "device",
    "verbose",
)


def head_for(estimator: Any, task: str, random_state: Any) -> MLPHead:
    """The :class:`MLPHead` an estimator's own same-named parameters describe.

    One place for the plain-MLP baselines and T-JEPA's MLP head, so a parameter added to the
    head cannot be passed by one and forgotten by the other.
    """
    return MLPHead(task=task, random_state=random_state, **{k: getattr(estimator, k) for k in HEAD_PARAMS})


class MLPHead(BaseEstimator):
    """An MLP on a float matrix, trained with early stopping on a validation split.

    Parameters
    ----------
    task : {"classification", "regression"}
    hidden_sizes : sequence of int, default=(256, 256)
    dropout : float, default=0.1
    lr, weight_decay : float
        Adam step size and L2 penalty.
    batch_size, max_epochs, patience : int
        Early stopping watches the validation loss (cross-entropy / MSE).
    validation_fraction : float, default=0.1
        Part of the training rows held out for early stopping (stratified for classes).
    device, random_state :
        As everywhere in structaug.
    verbose : bool, default=False
        Progress bar over epochs.

    The head expects classes already coded ``0..C-1`` (classification) or a float target;
    :class:`TJEPAClassifier`/:class:`TJEPARegressor` do that coding for users.
    """

    def __init__(
        self,
        *,
        task: str = "classification",
        hidden_sizes: Sequence[int] = (256, 256),
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 128,
        max_epochs: int = 200,
        patience: int = 16,
        validation_fraction: float = 0.1,
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = False,
    ):
        self.task = task
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

    def _validate_params(self) -> torch.device:
        """Check every hyperparameter (InvalidParameterError naming it); return the device.

        :class:`~structaug.tabular.TJEPAClassifier` calls this on its head before pre-training
        the encoder, so a bad head parameter never costs a pre-training run.
        """
        check_choice(self.task, ("classification", "regression"), "task")
        check_widths(self.hidden_sizes, "hidden_sizes", allow_empty=True)  # () is a linear model
        check_dropout(self.dropout, "dropout")
        check_positive_float(self.lr, "lr")
        check_positive_float(self.weight_decay, "weight_decay", allow_zero=True)
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.max_epochs, "max_epochs")  # 0 epochs: an untrained head
        check_optional_positive_int(self.patience, "patience")
        check_fraction(self.validation_fraction, "validation_fraction", inclusive_high=False)
        check_bool(self.verbose, "verbose")
        return resolve_device(self.device)  # InvalidParameterError / DeviceUnavailableError before any work

    def fit(self, X: Any, y: Any) -> MLPHead:
        reset_fitted(self)  # a failed refit must not keep the previous model
        dev = self._validate_params()
        X = check_float_matrix(X, "X").astype(np.float32)
        check_n_rows(X, y)
        y = np.asarray(y)
        clf = self.task == "classification"
        if y.ndim != 1:
            raise DataValidationError(f"y must be 1-D, got shape {y.shape}")
        if clf and (y.dtype.kind not in "iu" or y.min() < 0):
            # the head indexes its logits with y: other labels must be coded first
            raise DataValidationError(
                "y must hold class codes 0..C-1 (ints >= 0) for MLPHead(task='classification'); "
                "use TJEPAClassifier, or encode_class_labels, for arbitrary labels"
            )
        if not clf:
            check_finite(np.asarray(y, dtype=np.float64), "y")
        rng = check_random_state(self.random_state)
        seed = spawn_seed(rng)
        n_out = int(y.max()) + 1 if clf else 1
        if len(X) >= 10:
            # classes: stratified when every class can appear on both sides of the split
            tr, va = stratified_holdout_indices(
                y, self.validation_fraction, seed, stratify="auto" if clf else False, n_classes=n_out if clf else None
            )
            Xtr, Xva, ytr, yva = X[tr], X[va], y[tr], y[va]
        else:  # too few rows to hold any out: monitor the training loss
            Xtr, Xva, ytr, yva = X, X, y, y
        ydt = torch.long if clf else torch.float32
        # a large table (e.g. a 1M-row T-JEPA representation) stays in host memory on a GPU
        xtr, xva = training_table(Xtr, dev), training_table(Xva, dev)
        ytr_t, yva_t = training_table(ytr, dev, ydt), training_table(yva, dev, ydt)
        with local_torch_seed(seed):
            model = MLP([X.shape[1], *self.hidden_sizes, n_out], dropout=self.dropout).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        crit = (
            (lambda out, t: torch.nn.functional.cross_entropy(out, t))
            if clf
            else (lambda out, t: torch.nn.functional.mse_loss(out.squeeze(-1), t))
        )
        gen = torch.Generator(device=dev).manual_seed(seed)

        def validate(epoch: int) -> dict[str, float]:
            model.eval()
            pred = predict_batched(lambda xb: model(xb.to(dev)), [xva])
            return {"val_loss": float(crit(pred, yva_t.to(dev)))}

        trainer = Trainer(
            max_epochs=self.max_epochs,
            patience=self.patience,
            monitor="val_loss",
            mode="min",
            device=dev,
            seed=seed,
            verbose=self.verbose,
            desc="MLP head",
        )
        net = distributed.wrap(model)  # DDP under a multi-process torchrun launch, else model itself
        result = trainer.fit(
            model,
            opt,
            lambda e: minibatch_epoch(
                net, opt, lambda xb, yb: crit(net(xb), yb), [xtr, ytr_t], batch_size=self.batch_size, generator=gen
            ),
            validate,
            generators=[gen],
        )
        model.eval()
        self.model_, self.device_, self.history_ = model, dev, result.history
        self.train_result_ = result
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits (classification) or predictions (regression) as a numpy array."""
        check_is_fitted(self, "model_")
        X = check_float_matrix(X, "X").astype(np.float32)
        check_n_features(self, X.shape[1])  # not a torch matmul error
        out = predict_batched(self.model_, [torch.as_tensor(X, device=self.device_)])
        return out.cpu().numpy()
