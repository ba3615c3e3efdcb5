"""A user-facing next-item recommender: ``fit(interactions)`` → ``recommend(users, k)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone

from ...base import check_is_fitted
from ...exceptions import DataValidationError, InvalidParameterError
from ...random import check_random_state, local_torch_seed
from ...splits import leave_one_out
from ...train import resolve_device
from ...validation import check_bool, check_choice, check_positive_float, check_positive_int
from ..base import Recommender
from ._data import build_sequences, five_core, group_by_user, pad_sequences, prefix_examples, prepare_interactions
from ._models import META_FORWARDS, CL4SRec, MCLRec, Popularity, check_loss_params
from ._sasrec import SASRec, check_encoder_params
from ._training import PRECISIONS, evaluate_ranking, fit_sequential, fitted_views
from ._views import SequenceViews

__all__ = ["SequentialRecommender"]


MODELS = ("mclrec", "cl4srec", "sasrec", "popularity")
# histories encoded per forward pass when scoring: bounds memory at block x n_items floats
_SCORE_BLOCK = 1024


class SequentialRecommender(Recommender):
    """Train SASRec, CL4SRec or MCLRec on an interaction log and recommend next items.

    The recommender contract of :class:`~structaug.recsys.base.Recommender`: ``fit`` on a
    frame, ``recommend(users, k)`` → a long frame ``user, item, rank, score``,
    ``score_items``, ``save``/``load``; plus :meth:`evaluate`, the paper's full-ranking protocol.

    Parameters
    ----------
    model : {"mclrec", "cl4srec", "sasrec", "popularity"}
    max_len, hidden_size, n_layers, n_heads, inner_size, dropout
        Encoder settings (50, 64, 2, 2, 256, 0.5: the paper's): longest history, transformer
        width ``d_model``, blocks, heads, feed-forward width, hidden and attention dropout.
    lmd : float or None
        Weight of the InfoNCE between the two data-level views; ``None`` → 0.1 for CL4SRec,
        0.0 for MCLRec (its Beauty setting).
    beta : float
        MCLRec's meta-loss weight (0.05, Beauty).
    meta_forward : {"separate", "shared"}
        MCLRec only: whether its stage 2 (the augmenters' update) runs an encoder pass of its own
        with its own dropout masks (``"separate"``, the reference's) or trains on stage 3's
        encodings (``"shared"``: one encoder pass over 2 × the batch fewer per step; see
        :class:`~structaug.recsys.MCLRec` and docs/mclrec.md).
    temperature : float
        InfoNCE temperature (1.0).
    views : SequenceViews or None
        The data-level views CL4SRec and MCLRec contrast (crop / mask / reorder). ``None``:
        ``SequenceViews()`` (crop 0.5, mask 0.5, reorder 0.8, the paper's). ``fit`` clones it
        (the instance passed is never changed), gives it the mask token ``n_items + 1`` and
        fits it on the training prefixes: the fitted copy is ``views_``. Nested parameters
        work as in scikit-learn: ``set_params(views__crop_ratio=0.4)``. Its ``mask_id`` must be
        left ``None``; its ``random_state`` is not used: each batch's views are drawn through
        ``views_.draw`` from the training generator, which ``random_state`` below seeds.
    max_epochs : int
        Epoch budget (>= 1).
    batch_size, lr : int, float
        256 and 1e-3 (Adam), the paper's; ``batch_size >= 2`` (in-batch negatives), ``lr > 0``.
    patience : int or None
        With an int, each user's last interaction is held out for validation (NDCG@10),
        training stops after ``patience`` epochs without improvement and the best epoch's
        weights are kept. ``None`` trains on every interaction for ``max_epochs`` epochs.
    bucket : bool
        Length-bucketed batches (much faster on CPU; see :func:`~structaug.recsys.mclrec._training.batch_order`).
    min_core : int or None
        Apply k-core filtering (e.g. 5) before training.
    precision : {"fp32", "bf16"}
        "bf16" runs training forward passes under bfloat16 autocast: an MCLRec epoch 1.2–1.4x faster
        on CPUs with AVX512-BF16/AMX (slower on a GPU at these kernel sizes), same quality in our
        Beauty check (see docs/mclrec.md); a warning is raised on CPUs without bf16 support.
    device : str
        "auto", "cpu" or "cuda".
    random_state : int or None
        Seeds weight initialisation, dropout, batch order and views.
    verbose : bool
        Epoch progress bar (default ``False``: silent).
    user_col, item_col, time_col : str
        Column names of the interaction frames (``"user"``, ``"item"``, ``"timestamp"``);
        without ``time_col`` the row order is the time order. ``recommend`` names its first
        two columns ``user_col`` and ``item_col``.

    Attributes
    ----------
    users_, items_ : IdVocab
        Raw ↔ internal ids (items from 1; 0 is padding).
    sequences_ : list of int64 arrays
        Each fitted user's item history (internal ids, time order).
    model_ : torch.nn.Module
    views_ : SequenceViews or None
        The fitted copy of ``views`` training drew from (``None`` for ``model="popularity"``).
    train_result_ : TrainResult or None

    Notes
    -----
    Input checks (all tested; docs/mclrec.md lists them): ``fit`` checks every parameter first
    (``InvalidParameterError`` naming it), then the frame, before any training. Rows are put in
    time order per user by the *time* value of ``time_col`` (numbers, numeric strings, dates,
    ISO-8601 strings, tz-aware dates in UTC; free text or mixed kinds raise
    ``DataValidationError``), row order breaking ties; without a ``time_col`` column row
    order is time. Exact duplicate ``(user, item, time)`` rows are dropped with a warning. An
    empty frame, missing columns, missing/boolean/infinite ids or a column mixing id types raise
    ``DataValidationError``; a non-frame raises ``InvalidParameterError``. The caller's frame is
    never modified. ``recommend``/``score_items``/``evaluate`` raise
    :class:`~structaug.exceptions.UnknownIdError` (a ``DataValidationError`` and a
    ``KeyError``) for users or items not seen in ``fit`` (``unknown="popular"``: a popularity
    ranking for unknown users), ``InvalidParameterError`` for ``k`` outside ``1..n_items``,
    and never return a seen item with ``exclude_seen=True`` (a user with fewer than ``k``
    unseen items gets fewer rows).
    """

    _fitted_attributes: ClassVar[list[str]] = ["users_", "items_", "model_"]

    def __init__(
        self,
        *,
        model: str = "mclrec",
        max_len: int = 50,
        hidden_size: int = 64,
        n_layers: int = 2,
        n_heads: int = 2,
        inner_size: int = 256,
        dropout: float = 0.5,
        lmd: float | None = None,
        beta: float = 0.05,
        meta_forward: str = "separate",
        temperature: float = 1.0,
        views: SequenceViews | None = None,
        max_epochs: int = 50,
        batch_size: int = 256,
        lr: float = 1e-3,
        patience: int | None = None,
        bucket: bool = True,
        min_core: int | None = None,
        precision: str = "fp32",
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = False,
        user_col: str = "user",
        item_col: str = "item",
        time_col: str = "timestamp",
    ):
        self.model = model
        self.max_len = max_len
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.inner_size = inner_size
        self.dropout = dropout
        self.lmd = lmd
        self.beta = beta
        self.meta_forward = meta_forward
        self.temperature = temperature
        self.views = views
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.bucket = bucket
        self.min_core = min_core
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.user_col = user_col
        self.item_col = item_col
        self.time_col = time_col

    # ------------------------------------------------------------------------------
    def _build_model(self, n_items: int) -> SASRec | Popularity:
        enc: dict[str, Any] = dict(
            max_len=self.max_len,
            hidden_size=self.hidden_size,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            inner_size=self.inner_size,
            dropout=self.dropout,
            attn_dropout=self.dropout,
        )
        if self.model == "sasrec":
            return SASRec(n_items, **enc)
        if self.model == "cl4srec":
            return CL4SRec(n_items, lmd=0.1 if self.lmd is None else self.lmd, temperature=self.temperature, **enc)
        if self.model == "mclrec":
            return MCLRec(
                n_items,
                lmd=0.0 if self.lmd is None else self.lmd,
                beta=self.beta,
                meta_forward=self.meta_forward,
                temperature=self.temperature,
                **enc,
            )
        return Popularity(n_items)

    def _validate_params(self) -> None:
        """Every parameter, checked in ``fit`` before any data is read (``InvalidParameterError``
        naming the parameter)."""
        check_choice(self.model, MODELS, "model")
        check_encoder_params(
            max_len=self.max_len,
            hidden_size=self.hidden_size,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            inner_size=self.inner_size,
            dropout=self.dropout,
        )
        check_loss_params(lmd=0.0 if self.lmd is None else self.lmd, temperature=self.temperature, beta=self.beta)
        check_choice(self.meta_forward, META_FORWARDS, "meta_forward")
        if self.views is not None:
            if not isinstance(self.views, SequenceViews):
                raise InvalidParameterError(
                    f"views must be a SequenceViews instance or None, got {type(self.views).__name__}"
                )
            if self.views.mask_id is not None:
                raise InvalidParameterError(
                    "views: leave mask_id as None; the recommender sets it to the "
                    f"model's mask token (n_items + 1), got mask_id={self.views.mask_id!r}"
                )
            clone(self.views)._validate_params()  # names the bad ratio (crop_ratio, ...) before any data
        check_positive_int(self.max_epochs, "max_epochs")
        # two rows at least: the contrastive losses need an in-batch negative
        check_positive_int(self.batch_size, "batch_size", minimum=2)
        check_positive_float(self.lr, "lr")
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
        if self.min_core is not None:
            check_positive_int(self.min_core, "min_core")
        check_choice(self.precision, PRECISIONS, "precision")
        check_bool(self.bucket, "bucket")
        check_bool(self.verbose, "verbose")
        try:
            resolve_device(self.device)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise InvalidParameterError(f"device={self.device!r} cannot be used: {exc}") from exc
        rs = self.random_state
        # a type check only: calling check_random_state here would advance a RandomState
        if not (
            rs is None
            or isinstance(rs, (np.random.Generator, np.random.RandomState))
            or (isinstance(rs, (int, np.integer)) and not isinstance(rs, bool) and rs >= 0)
        ):
            raise InvalidParameterError(
                f"random_state must be None, a non-negative int or a numpy Generator/RandomState, got {rs!r}"
            )

    def _fit(self, frame: pd.DataFrame, **fit_params: Any) -> None:
        """Train on the checked ``user, item[, timestamp]`` frame the base class hands over."""
        if fit_params:
            raise InvalidParameterError(f"SequentialRecommender.fit takes no fit parameters, got {sorted(fit_params)}")
        # scoring pads histories to the length the model was built for, whatever set_params does later
        self.max_len_ = int(self.max_len)
        df = prepare_interactions(frame)
        if self.min_core:
            df = five_core(df, self.min_core)
        log = build_sequences(df)
        self.users_, self.items_ = log.users, log.items
        self.sequences_ = log.sequences
        seed = int(check_random_state(self.random_state).integers(2**31 - 1))
        dev = resolve_device(self.device)
        with local_torch_seed(seed):
            model = self._build_model(log.n_items).to(dev)
        self.popularity_ = Popularity(log.n_items).fit_counts(log.sequences).to(dev)
        self.train_result_ = None
        self.views_ = None
        if self.model == "popularity":
            self.model_: SASRec | Popularity = self.popularity_
            return
        valid = None
        train_seqs = log.sequences
        if self.patience is not None:
            # hold out each user's last item (users with >= 2 items) for early stopping
            try:
                train_seqs, (vin, vt, _) = leave_one_out(log.sequences, n_holdout=1)
            except DataValidationError as exc:
                raise DataValidationError(
                    f"patience needs users with at least 2 interactions to validate on ({exc})"
                ) from exc
            valid = (pad_sequences(vin, self.max_len), vt)
        X, y_ = prefix_examples(train_seqs, self.max_len)
        self.views_ = fitted_views(self.views, model, X)
        gen = torch.Generator(device=dev).manual_seed(seed)
        self.train_result_ = fit_sequential(
            model,
            X,
            y_,
            valid=valid,
            max_epochs=self.max_epochs,
            patience=self.patience,
            lr=self.lr,
            batch_size=self.batch_size,
            device=dev,
            seed=seed,
            gen=gen,
            views=self.views_,
            bucket=self.bucket,
            verbose=self.verbose,
            precision=self.precision,
        )
        model.eval()
        self.model_ = model

    # -- the Recommender hooks -----------------------------------------------------------
    @torch.no_grad()
    def _score_users(self, codes: np.ndarray) -> torch.Tensor:
        """Scores ``[len(codes), n_items]`` of known users from their fitted histories."""
        padded = pad_sequences([self.sequences_[c] for c in codes], self.max_len_)
        dev = next(iter(self.popularity_.buffers())).device
        self.model_.eval()
        out = torch.empty(len(codes), len(self.items_))
        for s in range(0, len(codes), _SCORE_BLOCK):
            out[s : s + _SCORE_BLOCK] = self.model_.full_scores(padded[s : s + _SCORE_BLOCK].to(dev)).float().cpu()
        return out

    def _seen_pairs(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hists = [self.sequences_[c] for c in codes]
        if not hists:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        rows = np.concatenate([np.full(len(h), i, dtype=np.int64) for i, h in enumerate(hists)])
        return rows, np.concatenate(hists).astype(np.int64) - 1  # item id j is column j - 1

    def _popularity(self) -> np.ndarray:
        return self.popularity_.counts.cpu().numpy()

    def _set_state(self, state: dict[str, Any], device: str | None) -> None:
        """Fitted state from :meth:`load`, with the model on ``device`` (else the saved ``device``)."""
        super()._set_state(state, device)
        dev = resolve_device(self.device)
        self.popularity_ = self.popularity_.to(dev)
        self.model_ = self.popularity_ if self.model == "popularity" else self.model_.to(dev).eval()

    # ------------------------------------------------------------------------------
    def evaluate(self, interactions: pd.DataFrame | None = None, ks: Sequence[int] = (5, 10, 20)) -> dict[str, float]:
        """Next-item HR/NDCG@k with full ranking (no history exclusion, as in the paper's protocol).

        Parameters
        ----------
        interactions : DataFrame or None
            Held-out rows (columns ``user_col``, ``item_col``[, ``time_col``]) that come after
            the fitted log. Each row is
            a target, predicted from the user's fitted history followed by that user's earlier
            held-out rows (time order, as in :meth:`fit`). Users and items must have been seen in
            ``fit`` (:class:`~structaug.exceptions.UnknownIdError`, a
            ``DataValidationError`` and a ``KeyError``, names the unknown ones, before any
            scoring). ``None`` scores each fitted user's last
            item given the items before it: with ``patience`` set that item was held out for
            validation, without it the model trained on it (an in-sample number).
        ks : sequence of int
            Cut-offs, each in ``1..n_items`` (``InvalidParameterError`` naming ``ks``).

        Returns
        -------
        dict
            ``hr@k`` and ``ndcg@k`` for each ``k``, averaged over the targets.
        """
        check_is_fitted(self, self._fitted_attributes)
        ks = self._check_ks(ks)
        if interactions is None:
            rows = [s for s in self.sequences_ if len(s) >= 2]
            hists, targets = [s[:-1] for s in rows], [int(s[-1]) for s in rows]
        else:
            df = prepare_interactions(self._interactions_frame(interactions, "interactions"))
            users = self.users_.encode(df["user"].to_numpy(), name="user")
            items = self.items_.encode(df["item"].to_numpy(), name="item")
            hists, targets = [], []
            # each held-out row extends its user's history, in time order
            for u, it in zip(*group_by_user(users, items)):
                seq = np.concatenate([self.sequences_[u], it])
                base = len(self.sequences_[u])
                hists.extend(seq[: base + j] for j in range(len(it)))
                targets.extend(int(x) for x in it)
        if not targets:
            raise DataValidationError("nothing to evaluate: no user has a target item")
        dev = next(iter(self.popularity_.buffers())).device
        hist = pad_sequences(hists, self.max_len_).to(dev)
        return evaluate_ranking(self.model_, hist, torch.as_tensor(targets, device=dev), ks)

    def _check_ks(self, ks: Sequence[int]) -> list[int]:
        if isinstance(ks, (int, np.integer)) and not isinstance(ks, bool):
            ks = [int(ks)]
        if isinstance(ks, (str, bytes)) or not hasattr(ks, "__iter__"):
            raise InvalidParameterError(f"ks must be a list of positive ints, got {ks!r}")
        ks = [check_positive_int(k, "ks") for k in ks]
        if not ks:
            raise InvalidParameterError("ks is empty; give at least one cut-off")
        if max(ks) > len(self.items_):
            raise InvalidParameterError(f"ks holds k={max(ks)} above the number of items ({len(self.items_)})")
        return ks
