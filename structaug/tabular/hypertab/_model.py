"""HyperTab: a hypernetwork that writes one small network per feature subset.

Wydmański, Bulenok & Śmieja, "HyperTab: Hypernetwork Approach for Deep Learning on Small
Tabular Datasets" (DSAA 2023); reference code ``wwydmanski/hypertab``.

How it works
------------
1. The ``views`` augmenter, a :class:`~structaug.tabular.FeatureSubsetViews` (passed as a
   parameter, cloned and fitted in ``fit``, ``views_``), draws ``n_views`` binary feature
   masks, each keeping ``max(1, int(subsample * d))`` of the ``d`` input features (a
   one-hot categorical counts as one feature and is kept or dropped whole; paper: ``subsample=0.5``,
   ``n_views=100``, the augmenter's defaults). The pool is fixed at ``fit`` time and used both
   for training and for the test-time ensemble, as in the reference implementation.
2. The hypernetwork ``H`` (an MLP ``d → 128 → 64 → 64 → |θ|``, the reference architecture)
   maps a mask ``m`` to the flat weight vector ``θ_m`` of a target network
   ``k → h → C`` (``h = hidden_size = 10``, ReLU) that reads only the ``k`` selected
   features of a row: one hidden layer, as in the paper and PyPI 0.6.2 (the default,
   ``n_hidden_layers=1``); ``n_hidden_layers=2`` is the reference's current code (commit
   ``0c6e551``, 2024: ``k → h → h → C``).
3. Training minimises the cross-entropy (MSE for regression) of every target network on
   every row, end to end through ``H``. The reference takes one optimizer step per
   (batch, mask) pair; we take one step per (batch, chunk of ``masks_per_step`` masks) and
   evaluate the chunk's target networks at once (one GEMM for the first layer, then
   ``torch.baddbmm``). ``masks_per_step=1`` is the reference schedule; the default, 25 masks
   per step at the reference's learning rate times 5 (``lr="auto"``: times
   ``sqrt(masks_per_step)``), takes 25× fewer steps at the same small-track accuracy.
4. Prediction averages the ``n_views`` target networks' class probabilities (regression:
   outputs), again all at once.

Inputs go through :class:`~structaug.tabular.TableEncoder` (one-hot
categoricals grouped so that a mask keeps or drops a whole categorical feature;
standardised numbers), so DataFrames with ``category``/``object`` columns and string labels
work out of the box.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone

from ... import distributed
from ...base import check_is_fitted, reset_fitted
from ...exceptions import DataValidationError, InvalidParameterError
from ...nn import MLP
from ...random import check_random_state, local_torch_seed
from ...splits import holdout_indices
from ...train import Trainer, adam, batch_indices, batch_rows, resolve_device, training_table
from ...validation import (
    check_bool,
    check_choice,
    check_fraction,
    check_positive_float,
    check_positive_int,
    check_widths,
)
from .._encoder import (
    TableEncoder,
    check_fitted_input,
    check_n_rows,
    check_regression_target,
    check_table,
    check_target,
    encode_class_labels,
)
from ._views import FeatureSubsetViews

__all__ = ["HyperTabClassifier", "HyperTabNet", "HyperTabRegressor"]

#: the reference's Adam learning rate, at one mask per step (``lr="auto"`` scales it)
REFERENCE_LR = 3e-4

#: rows encoded at once when predicting (a block of a 1M-row table, not all of it)
_ENCODE_ROWS = 65536


class HyperTabNet(torch.nn.Module):
    """Hypernetwork plus the batched evaluation of the target networks it writes.

    Parameters
    ----------
    n_inputs : int
        Columns of the encoded table (``d``; the hypernetwork reads a ``d``-dim mask).
    subset_width : int
        Columns a target network reads (the widest mask; narrower masks are padded with a
        zero column, whose generated weights then multiply zeros).
    n_outputs : int
        Classes (or 1 for regression).
    hidden_size : int
        Width of the target network's hidden layers.
    hypernet_hidden_sizes : tuple of int
        Hidden widths of the hypernetwork.
    n_hidden_layers : int
        Hidden layers of the target network (1: the paper's, the estimators' default; 2: the
        reference's current code).
    """

    def __init__(
        self,
        n_inputs: int,
        subset_width: int,
        n_outputs: int,
        *,
        hidden_size: int = 10,
        hypernet_hidden_sizes: tuple[int, ...] = (128, 64, 64),
        n_hidden_layers: int = 1,
    ):
        super().__init__()
        k, h, c = subset_width, hidden_size, n_outputs
        # (out, in) of each target layer
        self.shapes = [(h, k), *[(h, h)] * (n_hidden_layers - 1), (c, h)]
        self.n_target_params = sum(o * i + o for o, i in self.shapes)
        # Reference: Linear(d,128)-ReLU-Linear(128,64)-ReLU-Linear(64,64) then Linear(64,|θ|).
        self.body = MLP([n_inputs, *hypernet_hidden_sizes])
        self.head = torch.nn.Linear(hypernet_hidden_sizes[-1], self.n_target_params)

    def weights(self, masks: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Masks ``(M, d)`` → per layer ``(W (M, out, in), b (M, out))``."""
        theta = self.head(self.body(masks))
        out, off = [], 0
        for o, i in self.shapes:
            w = theta[:, off : off + o * i].reshape(-1, o, i)
            off += o * i
            b = theta[:, off : off + o]
            off += o
            out.append((w, b))
        return out

    def forward(self, x_padded: torch.Tensor, masks: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Outputs of every target network on every row: ``(M, B, n_outputs)``.

        ``x_padded`` is ``(B, d + 1)`` (last column zeros), ``index`` ``(M, k)`` the columns
        each mask selects (padded with ``d``).
        """
        (w1, b1), *rest = self.weights(masks)
        m, h, k = w1.shape
        dtype = x_padded.dtype
        # First layer as one GEMM over the whole table: each network's k generated input weights
        # are scattered into a dense (h, d + 1) block (zeros for the columns it does not read), so
        # x @ W is every network's first layer at once. Same values as gathering each network's k
        # columns and a batched matmul (to float rounding), ~15 % less CPU time per training step
        # at 25 networks per step (one thread; d = 60, k = 30) and no (B, M, k) gathered copy.
        # The pad column d (index of narrower masks, maybe repeated) meets zeros in x_padded.
        dense = w1.new_zeros(m, h, x_padded.shape[1]).scatter(2, index.unsqueeze(1).expand(m, h, k), w1)
        z = x_padded @ dense.to(dtype).reshape(m * h, -1).T  # (B, M * h)
        out = torch.relu(z.reshape(-1, m, h).transpose(0, 1) + b1.to(dtype).unsqueeze(1))  # (M, B, h)
        for j, (w, b) in enumerate(rest):
            w, b = w.to(dtype), b.to(dtype)
            out = torch.baddbmm(b.unsqueeze(1), out, w.transpose(1, 2))  # all M networks in one bmm
            if j < len(rest) - 1:
                out = torch.relu(out)
        return out


def _label_equal(classes: np.ndarray, label: Any) -> np.ndarray:
    """Elementwise ``classes == label`` on Python scalars: no broadcasting, no mixed-type warnings."""
    return np.asarray([bool(c == label) for c in classes.tolist()], dtype=bool)


class _HyperTabBase(BaseEstimator):
    """Shared fit/predict machinery; subclasses define the task (loss, outputs, labels)."""

    _task = "classification"

    def __init__(
        self,
        *,
        views: FeatureSubsetViews | None = None,
        hidden_size: int = 10,
        hypernet_hidden_sizes: tuple[int, ...] = (128, 64, 64),
        n_hidden_layers: int = 1,
        max_epochs: int = 100,
        lr: float | str = "auto",
        batch_size: int = 128,
        masks_per_step: int = 25,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.1,
        patience: int | None = None,
        categorical_features: Any = "auto",
        missing: str = "error",
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ):
        self.views = views
        self.hidden_size = hidden_size
        self.hypernet_hidden_sizes = hypernet_hidden_sizes
        self.n_hidden_layers = n_hidden_layers
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.masks_per_step = masks_per_step
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.categorical_features = categorical_features
        self.missing = missing
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- hooks for the two tasks ---------------------------------------------------------
    def _encode_target(self, y: Any) -> tuple[np.ndarray, int]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _loss(
        self, out: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None, ensemble: bool = False
    ) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- validation ------------------------------------------------------------------------
    def _validate_params(self) -> torch.device:
        """Check every hyperparameter before any work (InvalidParameterError naming it); return the device."""
        if self.views is not None and not isinstance(self.views, FeatureSubsetViews):
            raise InvalidParameterError(f"views must be a FeatureSubsetViews or None, got {type(self.views).__name__}")
        self._views()._validate_params()  # the augmenter's own checks (subsample, n_views), named after them
        # max_epochs >= 1: zero epochs would return the random initialisation as a "fitted" model
        for name in ("hidden_size", "n_hidden_layers", "max_epochs", "batch_size", "masks_per_step"):
            check_positive_int(getattr(self, name), name)
        if self.patience is not None:  # None: no validation split, all max_epochs (the paper's schedule)
            check_positive_int(self.patience, "patience")
        check_widths(self.hypernet_hidden_sizes, "hypernet_hidden_sizes")
        if not (isinstance(self.lr, str) and self.lr == "auto"):
            check_positive_float(self.lr, "lr")
        check_positive_float(self.weight_decay, "weight_decay", allow_zero=True)
        check_bool(self.verbose, "verbose")
        check_fraction(self.validation_fraction, "validation_fraction", inclusive_high=False)
        check_choice(self.missing, ("error", "impute"), "missing")
        self._validate_task_params()
        # the encoder's own parameter checks (categorical_features) before it sees data
        TableEncoder(
            encoding="onehot", categorical_features=self.categorical_features, missing=self.missing
        )._validate_params()
        return resolve_device(self.device)  # InvalidParameterError / DeviceUnavailableError before any work

    def _validate_task_params(self) -> None:
        """Task-specific parameters (the classifier's ``class_weight``)."""

    def _views(self) -> FeatureSubsetViews:
        """A fresh clone of ``views`` (``FeatureSubsetViews()`` for ``None``): the passed instance is never fitted."""
        return clone(self.views) if self.views is not None else FeatureSubsetViews()

    def _check_X_y(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        X = check_table(X)  # sklearn's messages for sparse, 1-D, complex, empty input, naming X
        y = check_target(self, y)
        check_n_rows(X, y)
        target, _ = self._encode_target(y)  # labels first: they are cheap and often the mistake
        self.encoder_ = TableEncoder(
            encoding="onehot", categorical_features=self.categorical_features, missing=self.missing
        ).fit(X)
        Z = self.encoder_.transform(X)
        check_fitted_input(self, X, reset=True)  # feature_names_in_, or none after a refit on an array
        self.n_features_in_ = self.encoder_.n_features_in_
        return Z, target

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> _HyperTabBase:
        """Encode ``X``, draw the mask pool and train the hypernetwork through :class:`Trainer`."""
        reset_fitted(self)  # a failed refit must not keep the previous model
        dev = self._validate_params()
        Z, target = self._check_X_y(X, y)
        rng = check_random_state(self.random_state)
        seed = int(rng.integers(2**31 - 1))

        # The fixed pool of feature subsets (the paper's "test nodes"), over input features, drawn
        # from the augmenter's own stream: seeded by views.random_state, or by ours when unset.
        views = self._views()
        if views.random_state is None:
            views.set_params(random_state=seed)
        views.fit(Z, feature_groups=self.encoder_.feature_groups_)
        masks = views.sample(None)  # (M, d) bool over encoded columns, M = views.n_views
        n_views = len(masks)
        d = Z.shape[1]
        width = int(masks.sum(axis=1).max())
        index = np.full((n_views, width), d, dtype=np.int64)  # pad with the zero column
        for m, row in enumerate(masks):  # M small integer lists; no networks involved
            cols = np.flatnonzero(row)
            index[m, : len(cols)] = cols
        self.views_ = views
        self.masks_ = masks

        n_out = self._n_outputs(target)
        with local_torch_seed(seed):  # seeded init without touching the caller's RNG
            net = HyperTabNet(
                d,
                width,
                n_out,
                hidden_size=self.hidden_size,
                hypernet_hidden_sizes=tuple(self.hypernet_hidden_sizes),
                n_hidden_layers=self.n_hidden_layers,
            ).to(dev)
        mask_t = torch.as_tensor(masks, dtype=torch.float32, device=dev)
        index_t = torch.as_tensor(index, device=dev)
        # on a GPU a large table stays in host memory and each step moves its batch's rows
        x_all = training_table(self._pad(torch.as_tensor(Z)), dev)
        y_all = training_table(target, dev)

        # Optional early stopping on a held-out split of the training rows.
        tr_idx = np.arange(len(Z))
        va_idx = None
        if self.patience is not None and len(Z) < 10:
            warnings.warn(
                f"patience (early stopping) needs at least 10 training rows, got {len(Z)}: training all "
                f"{self.max_epochs} epochs without a validation split",
                UserWarning,
                stacklevel=3,
            )
        if self.patience is not None and len(Z) >= 10:
            tr_idx, va_idx = holdout_indices(
                len(Z), self.validation_fraction, rng, min_size=1, name="validation_fraction"
            )
        x_tr, y_tr = x_all[tr_idx], y_all[tr_idx]
        weight = self._class_weight(target[tr_idx], dev)

        # fused Adam: ~0.13 ms per step of this hypernetwork against ~0.4 ms for the per-tensor
        # loop (torch 2.13, one thread); the same update rule, different last bits
        self.lr_ = self._learning_rate()
        opt = adam(net.parameters(), lr=self.lr_, weight_decay=self.weight_decay)
        gen = torch.Generator(device="cpu").manual_seed(seed)
        # under a multi-process torchrun launch: DDP, every process draws the same batches and
        # views and trains on its share of each batch's rows (one process: ddp is net itself)
        ddp = distributed.wrap(net)
        parallel = distributed.is_wrapped(ddp)

        def train_epoch(epoch: int) -> dict[str, float]:
            net.train()
            total, steps = 0.0, 0
            scale = 1.0
            for rows in batch_indices(len(x_tr), self.batch_size, generator=gen):
                if parallel:
                    share = distributed.shard_batch(rows)
                    if share is None:  # fewer rows than processes: every process skips it
                        torch.randperm(n_views, generator=gen)  # the same draws as every process
                        continue
                    rows, scale = share
                xb, yb = batch_rows(x_tr, rows, dev), batch_rows(y_tr, rows, dev)
                order = torch.randperm(n_views, generator=gen).to(dev)
                for start in range(0, n_views, self.masks_per_step):
                    chunk = order[start : start + self.masks_per_step]
                    out = ddp(xb, mask_t[chunk], index_t[chunk])  # (m, B, C)
                    loss = self._loss(out, yb, weight)
                    opt.zero_grad(set_to_none=True)
                    (loss * scale if parallel else loss).backward()
                    opt.step()
                    total += float(loss.detach())
                    steps += 1
            if parallel:
                total, steps_all = distributed.sum_over_ranks(total, steps)
                steps = int(steps_all)
            return {"loss": total / max(steps, 1)}

        validate = None
        if va_idx is not None:
            x_va, y_va = x_all[va_idx], y_all[va_idx].to(dev)

            step = self._chunk_rows(len(masks), x_va.shape[1])

            @torch.no_grad()
            def ensemble_val_loss(epoch: int) -> dict[str, float]:
                net.eval()
                if len(x_va) <= step:  # one pass (every table of the benchmarks)
                    loss = self._loss(net(x_va.to(dev), mask_t, index_t), y_va, weight, ensemble=True)
                    return {"val_loss": float(loss.detach())}
                # large tables: rows in chunks, so n_views x rows x hidden stays small; the
                # loss is the (class-weighted) mean over every row, as in one pass
                num = den = 0.0
                for i in range(0, len(x_va), step):
                    yb = y_va[i : i + step]
                    loss = self._loss(net(x_va[i : i + step].to(dev), mask_t, index_t), yb, weight, ensemble=True)
                    w = float(len(yb)) if weight is None else float(weight[yb].sum())
                    num, den = num + float(loss) * w, den + w
                return {"val_loss": num / den}

            validate = ensemble_val_loss

        trainer = Trainer(
            max_epochs=self.max_epochs,
            patience=self.patience if validate else None,
            monitor="val_loss" if validate else "loss",
            device=dev,
            seed=seed,
            # without validation the paper's fixed budget keeps the last epoch's weights
            restore_best=validate is not None,
            verbose=self.verbose,
            desc=type(self).__name__,
        )
        self.train_result_ = trainer.fit(net, opt, train_epoch, validate, generators=[gen])
        net.eval()
        self.net_ = net
        self.device_ = str(dev)
        self._mask_t, self._index_t = mask_t, index_t
        return self

    def _learning_rate(self) -> float:
        """``lr``, or for ``"auto"`` the reference's 3e-4 scaled by ``sqrt(masks_per_step)``.

        The square-root rule (an average over ``m`` masks has ~``sqrt(m)`` less gradient noise)
        gives the reference's rate at one mask per step; at 25 masks it matched the one-mask
        schedule's balanced accuracy on the small track, where linear scaling (7.5e-3) lost
        accuracy (benchmarks/results/hypertab_schedules.md, docs/hypertab.md).
        """
        if isinstance(self.lr, str):
            return REFERENCE_LR * float(np.sqrt(self.masks_per_step))
        return float(self.lr)

    @staticmethod
    def _pad(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x.new_zeros(len(x), 1)], dim=1)

    def _n_outputs(self, target: np.ndarray) -> int:
        return 1

    def _class_weight(self, target: np.ndarray, dev: torch.device) -> torch.Tensor | None:
        return None

    def _chunk_rows(self, n_views: int, width: int) -> int:
        """Rows per forward pass so that ``n_views x rows x max(hidden, width)`` stays ~4M values."""
        return max(1, 2**22 // max(1, n_views * max(self.hidden_size, width)))

    @torch.no_grad()
    def _ensemble_outputs(self, X: Any, reduce: Any = None) -> torch.Tensor:
        """Every target network's output on every row, ``(n_views, n, C)``, in row chunks; with
        ``reduce`` (``(n_views, rows, C) -> (rows, ...)``), its result per chunk, concatenated.

        Reducing per chunk keeps memory flat in the number of rows: the full ``(n_views, n, C)``
        float64 array is 1.6 GB for 1M rows, 100 views and two classes. The rows are encoded in
        blocks of ``_ENCODE_ROWS`` too (the encoder works row by row), so the encoded float64
        copies of a large table are never all held at once.
        """
        check_is_fitted(self, "net_")
        X = check_fitted_input(self, X)
        self.net_.eval()
        n = X.shape[0]
        dim = 1 if reduce is None else 0  # where the rows are in a chunk's result
        result: torch.Tensor | None = None
        for start in range(0, n, _ENCODE_ROWS):
            part = X.iloc[start : start + _ENCODE_ROWS] if hasattr(X, "iloc") else X[start : start + _ENCODE_ROWS]
            with warnings.catch_warnings():  # the feature-name check above already warned once
                warnings.simplefilter("ignore", UserWarning)
                Z = self.encoder_.transform(part)
            # float64 for the (cheap) target networks: predictions then do not depend on how rows
            # are batched (sklearn's sample-order invariance check compares to 1e-7).
            x = self._pad(torch.as_tensor(Z, device=self.device_, dtype=torch.float64))
            step = self._chunk_rows(len(self.masks_), x.shape[1])
            for i in range(0, len(x), step):
                out = self.net_(x[i : i + step], self._mask_t, self._index_t)
                out = out if reduce is None else reduce(out)
                if result is None:
                    # one output, filled in place: many small results left between the chunks'
                    # large temporaries fragment the heap (glibc kept ~2 MB per chunk: 2.9 GB
                    # for 1M rows, all of it released by malloc_trim)
                    shape = list(out.shape)
                    shape[dim] = n
                    result = out.new_empty(shape)
                result.narrow(dim, start + i, out.shape[dim]).copy_(out)
        if result is None:  # no rows (the encoder refuses them before this)
            raise DataValidationError("X has no rows")
        return result

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        # Move tensors to the CPU so a pickle made on a GPU machine loads anywhere.
        for key in ("_mask_t", "_index_t"):
            if key in state:
                state[key] = state[key].cpu()
        if "net_" in state and state.get("device_", "cpu") != "cpu":
            state["net_"] = copy.deepcopy(state["net_"]).to("cpu")
            state["device_"] = "cpu"
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "impute"
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.non_deterministic = self.random_state is None
        return tags


class HyperTabClassifier(ClassifierMixin, _HyperTabBase):
    """HyperTab classifier (see the module docstring for the method).

    Parameters
    ----------
    views : FeatureSubsetViews or None, default None
        The augmentation: its ``subsample`` is the fraction of features each target network
        sees (paper: 0.5) and its ``n_views`` the number of feature subsets = target networks
        in the ensemble (the paper's ``test_nodes``, 100). ``None`` builds
        ``FeatureSubsetViews()`` (those paper defaults). Cloned in ``fit`` (the instance passed
        is never fitted or changed) and stored fitted as ``views_``; reach its parameters with
        ``set_params(views__subsample=0.3)`` (e.g. in ``GridSearchCV``). The mask pool is
        drawn from its own stream, seeded by ``views.random_state`` or, when that is ``None``,
        by this estimator's ``random_state``.
    hidden_size : int, default 10
        Width of the target networks' hidden layers (the reference's ``hidden_dims`` default).
    hypernet_hidden_sizes : tuple of int, default (128, 64, 64)
        Hidden widths of the hypernetwork (reference architecture).
    n_hidden_layers : int, default 1
        Hidden layers of each target network: 1 as in the paper and the PyPI package 0.6.2,
        2 as in the reference's current code. Chosen with ``max_epochs`` on the small-track
        tables the paper shares (docs/hypertab.md, "Defaults").
    max_epochs : int, default 100
        Passes over the training rows. The reference's default is 50 at one Adam step per
        mask; at 25 masks per step 50 epochs under-train (docs/hypertab.md, "Defaults").
    lr : float or "auto", default "auto"
        Adam learning rate. ``"auto"``: the reference's 3e-4 times ``sqrt(masks_per_step)``
        (1.5e-3 at the default 25 masks per step; 3e-4, the reference's, at one). The fitted
        value is ``lr_``.
    batch_size : int, default 128
        Rows per batch (reference default).
    masks_per_step : int, default 25
        Target networks per optimizer step, evaluated in one batched matmul. The reference
        takes one Adam step per (batch, mask) pair: ``masks_per_step=1`` (with ``lr="auto"``)
        is its schedule. The default, 25, takes 25× fewer steps and gave the same balanced
        accuracy on the small tabular track (see docs/hypertab.md), at ~1/10 of the CPU time.
    weight_decay : float, default 0.0
    patience : int or None, default None
        ``None``: train all ``max_epochs`` (the paper's fixed schedule). An int: hold out
        ``validation_fraction`` of the rows and stop when the ensemble's validation loss has not
        improved for ``patience`` epochs, restoring the best weights (as every structaug model's
        ``patience``). On tables of thousands of rows ``batch_size=256, patience=10`` kept the
        defaults' mean balanced accuracy at 0.23x their CPU time (docs/hypertab.md).
    validation_fraction : float, default 0.1
        The held-out share when ``patience`` is set.
    class_weight : None or "balanced" or dict, default None
        Re-weight the loss like sklearn's ``class_weight``.
    categorical_features : "auto" or list
        Passed to :class:`TableEncoder`.
    missing : {"error", "impute"}
        NaN policy (see :class:`TableEncoder`).
    device : str, default "auto"
        CUDA when available, else CPU.
    random_state : int or None
        Seeds the mask pool, initialisation and batch order: two fits with the same seed give
        the same predictions (on the CPU).
    verbose : bool, default False
        Show a progress bar.

    Attributes
    ----------
    classes_ : ndarray
        Class labels (as passed, e.g. strings).
    n_features_in_ : int
    feature_names_in_ : ndarray (when fit on a DataFrame)
    encoder_ : TableEncoder
    views_ : FeatureSubsetViews
        The fitted clone of ``views``.
    masks_ : ndarray of bool, shape (n_views, n_encoded_features)
    net_ : HyperTabNet
    train_result_ : structaug.train.TrainResult
    lr_ : float
        The learning rate used (``lr``, or its ``"auto"`` value).
    """

    def __init__(
        self,
        *,
        views: FeatureSubsetViews | None = None,
        hidden_size: int = 10,
        hypernet_hidden_sizes: tuple[int, ...] = (128, 64, 64),
        n_hidden_layers: int = 1,
        max_epochs: int = 100,
        lr: float | str = "auto",
        batch_size: int = 128,
        masks_per_step: int = 25,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.1,
        patience: int | None = None,
        class_weight: Any = None,
        categorical_features: Any = "auto",
        missing: str = "error",
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ):
        super().__init__(
            views=views,
            hidden_size=hidden_size,
            hypernet_hidden_sizes=hypernet_hidden_sizes,
            n_hidden_layers=n_hidden_layers,
            max_epochs=max_epochs,
            lr=lr,
            batch_size=batch_size,
            masks_per_step=masks_per_step,
            weight_decay=weight_decay,
            validation_fraction=validation_fraction,
            patience=patience,
            categorical_features=categorical_features,
            missing=missing,
            device=device,
            random_state=random_state,
            verbose=verbose,
        )
        self.class_weight = class_weight

    def _n_outputs(self, target: np.ndarray) -> int:
        return len(self.classes_)

    def _class_weight(self, target: np.ndarray, dev: torch.device) -> torch.Tensor | None:
        cw = self.class_weight
        if cw is None:
            return None
        from sklearn.utils.class_weight import compute_class_weight

        if isinstance(cw, str):  # "balanced" (checked in _validate_params)
            present = np.unique(target)
            w = np.ones(len(self.classes_))
            w[present] = compute_class_weight("balanced", classes=present, y=target)
        else:
            w = np.asarray([float(cw.get(c, 1.0)) for c in self.classes_])
        return torch.as_tensor(w, dtype=torch.float32, device=dev)

    def _validate_task_params(self) -> None:
        cw = self.class_weight
        if cw is None or (isinstance(cw, str) and cw == "balanced"):
            return
        if not isinstance(cw, dict):
            raise InvalidParameterError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")
        for label, weight in cw.items():
            check_positive_float(weight, f"class_weight[{label!r}]", allow_zero=True)

    def _encode_target(self, y: Any) -> tuple[np.ndarray, int]:
        codes, classes = encode_class_labels(y)
        self.classes_ = classes
        if isinstance(self.class_weight, dict):
            # a misspelt or wrongly typed label would otherwise be ignored silently (weight 1)
            unknown = [k for k in self.class_weight if not np.any(_label_equal(classes, k))]
            if unknown:
                raise InvalidParameterError(
                    f"class_weight has labels {unknown[:5]} that are not classes of y {list(classes)[:10]}"
                )
        return codes, len(classes)

    def _loss(
        self, out: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None, ensemble: bool = False
    ) -> torch.Tensor:
        if ensemble:  # validation: the loss of the averaged ensemble, what predict uses
            logp = torch.log(torch.softmax(out, dim=-1).mean(0).clamp_min(1e-12))
            return F.nll_loss(logp, y, weight=weight)
        m, b, c = out.shape
        return F.cross_entropy(out.reshape(m * b, c), y.repeat(m), weight=weight)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Mean class probabilities of the ``n_views`` target networks, ``(n, n_classes)``."""
        probs = self._ensemble_outputs(X, reduce=lambda out: torch.softmax(out, dim=-1).mean(0))
        return probs.cpu().numpy().astype(np.float64)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """Class with the highest ensemble probability (original label values)."""
        check_is_fitted(self, "net_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class HyperTabRegressor(RegressorMixin, _HyperTabBase):
    """HyperTab for regression: the same hypernetwork, MSE on a standardised target, ensemble mean.

    Parameters are those of :class:`HyperTabClassifier` without ``class_weight``. The target is
    standardised with the training mean/std (``y_mean_``, ``y_scale_``) and predictions are
    mapped back.
    """

    _task = "regression"

    def _encode_target(self, y: Any) -> tuple[np.ndarray, int]:
        t = check_regression_target(y)
        if len(t) < 2:  # one row has no spread to learn from; T-JEPA's regressor says the same
            raise DataValidationError(f"a regressor needs at least 2 rows, got n_samples={len(t)}")
        self.y_mean_ = float(t.mean())
        std = float(t.std())
        self.y_scale_ = std if std > 0 else 1.0
        return ((t - self.y_mean_) / self.y_scale_).astype(np.float32), 1

    def _loss(
        self, out: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None, ensemble: bool = False
    ) -> torch.Tensor:
        out = out[..., 0]
        if ensemble:
            return F.mse_loss(out.mean(0), y)
        return F.mse_loss(out, y.unsqueeze(0).expand_as(out))

    def predict(self, X: Any) -> np.ndarray:
        """Mean of the ``n_views`` target networks' predictions."""
        out = self._ensemble_outputs(X, reduce=lambda o: o[..., 0].mean(0))
        return out.cpu().numpy().astype(np.float64) * self.y_scale_ + self.y_mean_
