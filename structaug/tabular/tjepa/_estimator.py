"""The :class:`TJEPA` self-supervised encoder as a scikit-learn transformer.

``fit(X)`` trains the context encoder and predictor to regress, in latent space, the
target-encoder tokens of masked feature subsets from a disjoint context subset; the target
encoder follows by EMA. ``transform(X)`` returns the target encoder's representation of
the full rows (no masking), which a downstream model consumes.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, clone

from ... import distributed
from ...base import check_is_fitted, reset_fitted
from ...exceptions import DataValidationError, InvalidParameterError
from ...random import check_random_state, local_torch_seed, spawn_seed
from ...train import Trainer, batch_indices, batch_rows, predict_batched, resolve_device, training_table
from ...validation import (
    check_bool,
    check_choice,
    check_dropout,
    check_fraction,
    check_optional_positive_int,
    check_positive_float,
    check_positive_int,
)
from .._encoder import TableEncoder, check_fitted_input
from ._masking import JEPAMasking
from ._network import TJEPANetwork

__all__ = ["TJEPA", "RepresentationCollapseWarning"]


class RepresentationCollapseWarning(RuntimeWarning):
    """The learnt representation is (almost) the same for every row."""


def _cosine(step: int, total: int, start: float, end: float) -> float:
    progress = min(1.0, step / max(1, total))
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))


class TJEPA(TransformerMixin, BaseEstimator):
    """T-JEPA: augmentation-free self-supervised representations of tabular rows.

    Defaults are the reference implementation's (``jose-melo/t-jepa``, ``src/configs.py``):
    a 4-layer, 64-wide, 8-head transformer encoder with one [REG] token, a 2-layer
    transformer predictor, context and target shares drawn in ``[0.2, 0.4]``, four targets
    per context, EMA momentum 0.996 → 1 over training, AdamW with a warm-up then cosine
    learning rate and a cosine weight-decay schedule, batch 64, 100 epochs, patience 10.

    Parameters
    ----------
    hidden_size, n_layers, n_heads, inner_size, dropout :
        Encoder token width (the transformer's ``d_model``), depth, attention heads,
        feed-forward width and dropout.
    n_reg_tokens : int, default=1
        Regularisation ([REG]) tokens: learnt tokens always present in the context and
        target encoders' input. The paper shows they keep training out of the collapsed
        regime (the representation becomes row-independent without them).
    type_embedding : bool, default=True
        Add a learnt numerical-vs-categorical embedding to feature tokens.
    predictor_hidden_size, predictor_n_layers, predictor_n_heads, predictor_inner_size, predictor_dropout :
        The predictor transformer's shape (same meanings, for the predictor).
    masking : JEPAMasking or None, default=None
        The context/target masking the encoder trains with (shares of features per context
        and target, targets per context). ``None`` builds ``JEPAMasking()`` (the paper's
        defaults). Cloned in ``fit`` (the instance passed is never fitted or changed) and
        stored fitted as ``masking_``; reach its parameters with
        ``set_params(masking__n_targets=...)``. The masks drawn during training come from
        this estimator's ``random_state`` (one seed drives batch order and masks);
        ``masking.random_state`` only seeds ``masking_.sample``.
    ema_start, ema_end : float
        Target-encoder EMA momentum, linearly increased per step from start to end.
    lr, start_lr, final_lr, warmup_epochs :
        Linear warm-up from ``start_lr`` to ``lr`` over ``warmup_epochs``, then cosine to
        ``final_lr`` (the I-JEPA schedule the reference uses).
    weight_decay, final_weight_decay : float
        AdamW weight decay, cosine-scheduled (biases and norms are never decayed).
    grad_clip : float or None, default=1.0
        Element-wise gradient clipping value (the reference clamps gradients).
    batch_size, max_epochs, patience : int
        Mini-batch size, epoch budget, and early stopping on the training loss.
    representation : {"flatten", "reg"}, default="flatten"
        ``transform`` output: all ``R + D`` target tokens flattened (the paper's downstream
        input, ``(R + D) · hidden_size`` columns) or only the [REG] tokens (``R · hidden_size``).
    categorical_features, missing, handle_unknown :
        Passed to the shared :class:`~structaug.tabular.TableEncoder`
        (``missing="error"`` rejects NaN; ``"impute"`` fills medians / an unknown code;
        unseen categories map to a reserved "unknown" embedding by default).
    collapse_probe_size : int, default=512
        Rows on which the per-epoch representation variance is measured.
    device : str, default="auto"
        ``"auto"`` uses CUDA when available.
    random_state : int or None
    verbose : bool, default=False
        Progress bar over epochs (silent by default, e.g. inside cross-validation).

    Attributes
    ----------
    encoder_ : TableEncoder
    masking_ : JEPAMasking
        The fitted clone of ``masking``.
    network_ : TJEPANetwork
    train_result_ : TrainResult
        The Trainer's record, as on every structaug model (``history_``, ``n_epochs_`` and
        ``fit_time_`` are shortcuts into it).
    history_ : list of dict
        Per epoch: ``loss``, ``lr``, ``momentum``, ``rep_var`` (mean per-dimension variance
        of the representation over the probe rows), ``rep_std_min``, ``epoch_time``.
    n_epochs_ : int
    n_features_in_ : int
    n_features_out_ : int
    device_ : torch.device
    """

    def __init__(
        self,
        *,
        hidden_size: int = 64,
        n_layers: int = 4,
        n_heads: int = 8,
        inner_size: int = 256,
        dropout: float = 0.1,
        n_reg_tokens: int = 1,
        type_embedding: bool = True,
        predictor_hidden_size: int = 64,
        predictor_n_layers: int = 2,
        predictor_n_heads: int = 4,
        predictor_inner_size: int = 256,
        predictor_dropout: float = 0.1,
        masking: JEPAMasking | None = None,
        ema_start: float = 0.996,
        ema_end: float = 1.0,
        lr: float = 1e-4,
        start_lr: float = 0.0,
        final_lr: float = 0.0,
        warmup_epochs: int = 5,
        weight_decay: float = 1e-5,
        final_weight_decay: float = 1e-2,
        grad_clip: float | None = 1.0,
        batch_size: int = 64,
        max_epochs: int = 100,
        patience: int | None = 10,
        representation: str = "flatten",
        categorical_features: Any = "auto",
        missing: str = "error",
        handle_unknown: str = "unknown",
        collapse_probe_size: int = 512,
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = False,
    ):
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.inner_size = inner_size
        self.dropout = dropout
        self.n_reg_tokens = n_reg_tokens
        self.type_embedding = type_embedding
        self.predictor_hidden_size = predictor_hidden_size
        self.predictor_n_layers = predictor_n_layers
        self.predictor_n_heads = predictor_n_heads
        self.predictor_inner_size = predictor_inner_size
        self.predictor_dropout = predictor_dropout
        self.masking = masking
        self.ema_start = ema_start
        self.ema_end = ema_end
        self.lr = lr
        self.start_lr = start_lr
        self.final_lr = final_lr
        self.warmup_epochs = warmup_epochs
        self.weight_decay = weight_decay
        self.final_weight_decay = final_weight_decay
        self.grad_clip = grad_clip
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.representation = representation
        self.categorical_features = categorical_features
        self.missing = missing
        self.handle_unknown = handle_unknown
        self.collapse_probe_size = collapse_probe_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------------------
    def _validate_params(self) -> torch.device:
        """Check every hyperparameter before any work (InvalidParameterError naming it); return the device."""
        for name in (
            "hidden_size",
            "n_layers",
            "n_heads",
            "inner_size",
            "predictor_hidden_size",
            "predictor_n_layers",
            "predictor_n_heads",
            "predictor_inner_size",
            "batch_size",
            "collapse_probe_size",
        ):
            check_positive_int(getattr(self, name), name)
        # max_epochs >= 1: zero epochs would hand back the random initialisation as a representation
        check_positive_int(self.max_epochs, "max_epochs")
        check_positive_int(self.n_reg_tokens, "n_reg_tokens", minimum=0)
        check_positive_int(self.warmup_epochs, "warmup_epochs", minimum=0)
        check_optional_positive_int(self.patience, "patience")
        for width, heads, wname, hname in (
            (self.hidden_size, self.n_heads, "hidden_size", "n_heads"),
            (self.predictor_hidden_size, self.predictor_n_heads, "predictor_hidden_size", "predictor_n_heads"),
        ):
            if width % 2:
                raise InvalidParameterError(f"{wname} must be even (sine/cosine position codes), got {width}")
            if width % heads:
                raise InvalidParameterError(f"{wname} ({width}) must be divisible by {hname} ({heads})")
        check_dropout(self.dropout, "dropout")
        check_dropout(self.predictor_dropout, "predictor_dropout")
        check_bool(self.type_embedding, "type_embedding")
        check_bool(self.verbose, "verbose")
        check_choice(self.representation, ("flatten", "reg"), "representation")
        if self.representation == "reg" and self.n_reg_tokens == 0:
            raise InvalidParameterError("representation='reg' needs n_reg_tokens >= 1, got n_reg_tokens=0")
        check_fraction(self.ema_start, "ema_start", inclusive_low=True)
        check_fraction(self.ema_end, "ema_end", inclusive_low=True)
        if self.ema_start > self.ema_end:
            raise InvalidParameterError(
                f"need ema_start <= ema_end, got ema_start={self.ema_start}, ema_end={self.ema_end}"
            )
        check_positive_float(self.lr, "lr")
        check_positive_float(self.start_lr, "start_lr", allow_zero=True)
        check_positive_float(self.final_lr, "final_lr", allow_zero=True)
        check_positive_float(self.weight_decay, "weight_decay", allow_zero=True)
        check_positive_float(self.final_weight_decay, "final_weight_decay", allow_zero=True)
        if self.grad_clip is not None:  # 0 would clamp every gradient to 0: nothing would train
            check_positive_float(self.grad_clip, "grad_clip")
        if self.masking is not None and not isinstance(self.masking, JEPAMasking):
            raise InvalidParameterError(f"masking must be a JEPAMasking or None, got {type(self.masking).__name__}")
        self._masking()._validate_params()  # its own checks, named after its parameters
        TableEncoder(
            categorical_features=self.categorical_features, missing=self.missing, handle_unknown=self.handle_unknown
        )._validate_params()
        return resolve_device(self.device)  # InvalidParameterError / DeviceUnavailableError before any work

    def _masking(self) -> JEPAMasking:
        """A fresh clone of ``masking`` (``JEPAMasking()`` for ``None``): the passed instance is never fitted."""
        return clone(self.masking) if self.masking is not None else JEPAMasking()

    def _network(self, enc: TableEncoder) -> TJEPANetwork:
        return TJEPANetwork(
            numerical_columns=enc.numerical_columns_.tolist(),
            categorical_columns=enc.categorical_columns_.tolist(),
            cardinalities=list(enc.cardinalities_),
            d_model=self.hidden_size,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            d_feedforward=self.inner_size,
            dropout=self.dropout,
            n_reg_tokens=self.n_reg_tokens,
            type_embedding=self.type_embedding,
            d_predictor=self.predictor_hidden_size,
            predictor_layers=self.predictor_n_layers,
            predictor_heads=self.predictor_n_heads,
            predictor_feedforward=self.predictor_inner_size,
            predictor_dropout=self.predictor_dropout,
        )

    def _optimizer(self, net: TJEPANetwork) -> torch.optim.AdamW:
        # As in I-JEPA/T-JEPA: no weight decay on biases and 1-D (norm) parameters.
        decay: list[torch.nn.Parameter] = []
        no_decay: list[torch.nn.Parameter] = []
        for name, p in net.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim == 1 or name.endswith("bias") else decay).append(p)
        return torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": self.weight_decay, "decay": True},
                {"params": no_decay, "weight_decay": 0.0, "decay": False},
            ],
            lr=self.lr,
        )

    def fit(self, X: Any, y: Any = None) -> TJEPA:
        """Pre-train on the rows of ``X`` (``y`` is ignored: T-JEPA is self-supervised)."""
        reset_fitted(self)  # a failed refit must not keep the previous model
        dev = self._validate_params()
        enc = TableEncoder(
            encoding="ordinal",
            categorical_features=self.categorical_features,
            missing=self.missing,
            handle_unknown=self.handle_unknown,
        )
        Z = enc.fit_transform(X)
        if Z.shape[0] < 2:
            raise DataValidationError(f"T-JEPA needs at least 2 rows to learn from, got n_samples={Z.shape[0]}")
        rng = check_random_state(self.random_state)
        seed = spawn_seed(rng)
        masking = self._masking()
        masking_seed = spawn_seed(rng)  # drawn whether used or not: the streams below stay put
        if masking.random_state is None:  # seeds only masking_.sample(), not the training masks
            masking.set_params(random_state=masking_seed)
        masking.fit(Z)
        # training masks: a stream of this estimator's random_state, as batch order and init
        mask_rng = np.random.default_rng(spawn_seed(rng))
        # Weight init under a local seed, so fit is reproducible without touching the caller's RNG.
        with local_torch_seed(seed):
            net = self._network(enc).to(dev)
        opt = self._optimizer(net)
        # on a GPU a large table stays in host memory and each step moves its batch's rows
        x_all = training_table(Z, dev)
        n = len(x_all)
        shuffle = torch.Generator(device=dev).manual_seed(seed)
        probe = torch.as_tensor(np.sort(rng.permutation(n)[: self.collapse_probe_size]), device=dev)
        steps_per_epoch = math.ceil(n / self.batch_size)
        total_steps = max(1, steps_per_epoch * self.max_epochs)
        warmup_steps = self.warmup_epochs * steps_per_epoch
        state = {"step": 0}
        # under a multi-process torchrun launch: the JEPA loss inside DDP; every process draws the
        # same batches and masks and trains on its share of the rows (one process: step is the
        # plain LossModule, the same call). The target encoder gets no gradient (it follows the
        # context encoder by EMA, alike in every process), hence find_unused_parameters.
        step = distributed.wrap(
            distributed.LossModule(net, lambda m, x, c, t: m.jepa_loss(x, c, t)), find_unused_parameters=True
        )
        parallel = distributed.is_wrapped(step)

        def schedule(step: int) -> tuple[float, float, float]:
            if step < warmup_steps:
                lr = self.start_lr + (self.lr - self.start_lr) * (step + 1) / warmup_steps
            else:
                lr = _cosine(step - warmup_steps, total_steps - warmup_steps, self.lr, self.final_lr)
            wd = _cosine(step, total_steps, self.weight_decay, self.final_weight_decay)
            momentum = self.ema_start + (self.ema_end - self.ema_start) * step / total_steps
            return lr, wd, momentum

        def train_epoch(epoch: int) -> dict[str, float]:
            net.train()
            total, lr, m = 0.0, self.lr, self.ema_start
            for idx in batch_indices(n, self.batch_size, generator=shuffle, device=dev):
                lr, wd, m = schedule(state["step"])
                for g in opt.param_groups:
                    g["lr"] = lr
                    if g["decay"]:
                        g["weight_decay"] = wd
                ctx, tgt = masking.draw(len(idx), mask_rng)
                ctx_t, tgt_t = torch.as_tensor(ctx, device=dev), torch.as_tensor(tgt, device=dev)
                scale = 1.0
                if parallel:
                    share = distributed.shard_batch(torch.arange(len(idx), device=dev))
                    if share is None:  # fewer rows than processes: every process skips it
                        state["step"] += 1
                        continue
                    rows, scale = share
                    idx, ctx_t, tgt_t = idx[rows], ctx_t[rows], tgt_t[rows]
                loss = step(batch_rows(x_all, idx, dev), ctx_t, tgt_t)
                opt.zero_grad(set_to_none=True)
                (loss * scale if parallel else loss).backward()
                if self.grad_clip is not None:
                    torch.nn.utils.clip_grad_value_(net.parameters(), self.grad_clip)
                opt.step()
                net.ema_update(m)  # target encoder follows the context encoder every step
                state["step"] += 1
                total += float(loss.detach()) * len(idx)
            if parallel:  # every process's rows (the Trainer then averages identical values)
                (total,) = distributed.sum_over_ranks(total)
            return {"loss": total / n, "lr": lr, "momentum": m}

        def collapse_probe(epoch: int) -> dict[str, float]:
            net.eval()
            rep = net.represent(batch_rows(x_all, probe, dev), self.representation)
            var = rep.var(dim=0, unbiased=False) if len(rep) > 1 else torch.zeros(rep.shape[1], device=dev)
            return {"rep_var": float(var.mean()), "rep_std_min": float(var.min().sqrt())}

        trainer = Trainer(
            max_epochs=self.max_epochs,
            patience=self.patience,
            monitor="loss",
            mode="min",
            device=dev,
            seed=seed,
            verbose=self.verbose,
            restore_best=False,
            desc="T-JEPA",
        )
        result = trainer.fit(net, opt, train_epoch, collapse_probe, generators=[shuffle])
        net.eval()
        self.encoder_ = enc
        self.masking_ = masking
        self.network_ = net
        self.device_ = dev
        self.representation_ = self.representation  # what transform returns, fixed at fit
        self.train_result_ = result  # as every structaug model; the next three are its shortcuts
        self.history_ = result.history
        self.n_epochs_ = result.epochs_run
        self.fit_time_ = result.fit_time
        self.n_features_in_ = enc.n_features_in_
        check_fitted_input(self, X, reset=True)  # feature_names_in_, or none after a refit on an array
        width = self.n_reg_tokens + (Z.shape[1] if self.representation == "flatten" else 0)
        self.n_features_out_ = width * self.hidden_size
        final_var = collapse_probe(-1)["rep_var"]
        if final_var < 1e-8:
            warnings.warn(
                f"T-JEPA representation collapsed (variance {final_var:.2e} across rows); use more [REG] "
                "tokens (n_reg_tokens), a lower lr or more epochs",
                RepresentationCollapseWarning,
                stacklevel=2,
            )
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Target-encoder representation of the full rows of ``X``: ``float32 (n, n_features_out_)``."""
        check_is_fitted(self, "network_")
        X = check_fitted_input(self, X)  # errors name T-JEPA, not the inner TableEncoder
        with warnings.catch_warnings():  # a feature-name mismatch has warned once already
            warnings.simplefilter("ignore", UserWarning)
            Z = self.encoder_.transform(X)
        x = torch.as_tensor(Z, device=self.device_)
        self.network_.eval()
        out = predict_batched(lambda b: self.network_.represent(b, self.representation_), [x], batch_size=1024)
        return out.cpu().numpy().astype(np.float32, copy=False)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "network_")
        return np.asarray([f"tjepa{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "impute"
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.requires_fit = True
        tags.transformer_tags.preserves_dtype = []  # always float32 (the network's dtype)
        return tags
