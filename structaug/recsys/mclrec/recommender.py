"""A user-facing next-item recommender: ``fit(interactions)`` → ``recommend(users, k)``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator

from ...base import check_is_fitted
from ...exceptions import CorruptFileError, DataValidationError, InvalidParameterError
from ...io import atomic_torch_save
from ...random import check_random_state, local_torch_seed
from ...train import resolve_device
from ...validation import check_bool, check_choice, check_positive_float, check_positive_int
from ..interactions import IdVocab
from .data import build_sequences, five_core, group_by_user, pad_sequences, prefix_examples, prepare_interactions
from .models import CL4SRec, MCLRec, Popularity, check_loss_params
from .sasrec import SASRec, check_encoder_params
from .training import PRECISIONS, evaluate_ranking, fit_sequential
from .views import check_view_params

__all__ = ["SequentialRecommender"]


MODELS = ("mclrec", "cl4srec", "sasrec", "popularity")


class SequentialRecommender(BaseEstimator):
    """Train SASRec, CL4SRec or MCLRec on an interaction log and recommend next items.

    Parameters
    ----------
    model : {"mclrec", "cl4srec", "sasrec", "popularity"}
    max_len, hidden, n_layers, n_heads, inner, dropout
        Encoder settings (50, 64, 2, 2, 256, 0.5: the paper's).
    lmd : float or None
        Weight of the InfoNCE between the two data-level views; ``None`` → 0.1 for CL4SRec,
        0.0 for MCLRec (its Beauty setting).
    beta : float
        MCLRec's meta-loss weight (0.05, Beauty).
    temperature : float
        InfoNCE temperature (1.0).
    crop_ratio, mask_ratio, reorder_ratio : float
        :class:`SequenceViews` ratios (0.5, 0.5, 0.8).
    epochs : int
        Maximum training epochs (>= 1).
    batch_size, lr : int, float
        256 and 1e-3 (Adam), the paper's; ``batch_size >= 2`` (in-batch negatives), ``lr > 0``.
    patience : int or None
        With an int, each user's last interaction is held out for validation (NDCG@10),
        training stops after ``patience`` epochs without improvement and the best epoch's
        weights are kept. ``None`` trains on every interaction for ``epochs`` epochs.
    bucket : bool
        Length-bucketed batches (much faster on CPU; see :func:`~.training.batch_order`).
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
    progress : bool or None
        Epoch progress bar.

    Attributes
    ----------
    users_, items_ : IdVocab
        Raw ↔ internal ids (items from 1; 0 is padding).
    model_ : torch.nn.Module
    train_result_ : TrainResult or None

    Notes
    -----
    Input checks (all tested; docs/mclrec.md lists them): ``fit`` checks every parameter first
    (``InvalidParameterError`` naming it), then the frame, before any training. Rows are put in
    time order per user by the *time* value of ``timestamp`` (numbers, numeric strings, dates,
    ISO-8601 strings, tz-aware dates in UTC; free text or mixed kinds raise
    ``DataValidationError``), row order breaking ties; without a ``timestamp`` column row
    order is time. Exact duplicate ``(user, item, time)`` rows are dropped with a warning. An
    empty frame, missing columns, missing/boolean/infinite ids or a column mixing id types raise
    ``DataValidationError``; a non-frame raises ``InvalidParameterError``. The caller's frame is
    never modified. ``recommend``/``score``/``evaluate`` raise
    :class:`~structaug.recsys.interactions.UnknownIdError` (a ``DataValidationError`` and a
    ``KeyError``) for users or items not seen in ``fit`` (``recommend(unknown="popular")``: a
    popularity ranking for unknown users), ``InvalidParameterError`` for ``k`` outside
    ``1..n_items``, and never return a seen item with ``exclude_seen=True`` (a user with fewer
    than ``k`` unseen items is a ``DataValidationError``).
    """

    def __init__(self, *, model: str = "mclrec", max_len: int = 50, hidden: int = 64, n_layers: int = 2,
                 n_heads: int = 2, inner: int = 256, dropout: float = 0.5, lmd: float | None = None,
                 beta: float = 0.05, temperature: float = 1.0, crop_ratio: float = 0.5, mask_ratio: float = 0.5,
                 reorder_ratio: float = 0.8, epochs: int = 50, batch_size: int = 256, lr: float = 1e-3,
                 patience: int | None = None, bucket: bool = True, min_core: int | None = None,
                 precision: str = "fp32", device: str = "auto", random_state: int | None = None,
                 progress: bool | None = None):
        self.model = model
        self.max_len = max_len
        self.hidden = hidden
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.inner = inner
        self.dropout = dropout
        self.lmd = lmd
        self.beta = beta
        self.temperature = temperature
        self.crop_ratio = crop_ratio
        self.mask_ratio = mask_ratio
        self.reorder_ratio = reorder_ratio
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.bucket = bucket
        self.min_core = min_core
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------------------
    def _build_model(self, n_items: int) -> torch.nn.Module:
        enc = dict(max_len=self.max_len, hidden=self.hidden, n_layers=self.n_layers, n_heads=self.n_heads,
                   inner=self.inner, dropout=self.dropout, attn_dropout=self.dropout)
        if self.model == "sasrec":
            return SASRec(n_items, **enc)
        if self.model == "cl4srec":
            return CL4SRec(n_items, lmd=0.1 if self.lmd is None else self.lmd, temperature=self.temperature, **enc)
        if self.model == "mclrec":
            return MCLRec(n_items, lmd=0.0 if self.lmd is None else self.lmd, beta=self.beta,
                          temperature=self.temperature, **enc)
        return Popularity(n_items)

    def _validate_params(self) -> None:
        """Every parameter, checked in ``fit`` before any data is read (``InvalidParameterError``
        naming the parameter)."""
        check_choice(self.model, MODELS, "model")
        check_encoder_params(max_len=self.max_len, hidden=self.hidden, n_layers=self.n_layers, n_heads=self.n_heads,
                             inner=self.inner, dropout=self.dropout)
        check_loss_params(lmd=0.0 if self.lmd is None else self.lmd, temperature=self.temperature, beta=self.beta)
        check_view_params(crop_ratio=self.crop_ratio, mask_ratio=self.mask_ratio, reorder_ratio=self.reorder_ratio)
        check_positive_int(self.epochs, "epochs")
        # two rows at least: the contrastive losses need an in-batch negative
        check_positive_int(self.batch_size, "batch_size", minimum=2)
        check_positive_float(self.lr, "lr")
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
        if self.min_core is not None:
            check_positive_int(self.min_core, "min_core")
        check_choice(self.precision, PRECISIONS, "precision")
        check_bool(self.bucket, "bucket")
        if self.progress is not None and not isinstance(self.progress, (bool, np.bool_)):
            raise InvalidParameterError(f"progress must be True, False or None, got {self.progress!r}")
        try:
            resolve_device(self.device)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise InvalidParameterError(f"device={self.device!r} cannot be used: {exc}") from exc
        rs = self.random_state
        # a type check only: calling check_random_state here would advance a RandomState
        if not (rs is None or isinstance(rs, (np.random.Generator, np.random.RandomState))
                or (isinstance(rs, (int, np.integer)) and not isinstance(rs, bool) and rs >= 0)):
            raise InvalidParameterError(
                f"random_state must be None, a non-negative int or a numpy Generator/RandomState, got {rs!r}")

    def fit(self, interactions: pd.DataFrame, y: Any = None) -> "SequentialRecommender":
        """Train on a ``user, item[, timestamp]`` frame; returns ``self``.

        Parameters and data are checked before training starts (see the class notes); the
        caller's frame is not modified.
        """
        self._validate_params()
        df = prepare_interactions(interactions)
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
        if self.model == "popularity":
            self.model_ = self.popularity_
            return self
        valid = None
        train_seqs = log.sequences
        if self.patience is not None:
            # hold out each user's last item (users with >= 2 items) for early stopping
            train_seqs, vin, vt = [], [], []
            for seq in log.sequences:
                train_seqs.append(seq[:-1] if len(seq) >= 2 else seq)
                if len(seq) >= 2:
                    vin.append(seq[:-1])
                    vt.append(int(seq[-1]))
            if not vt:
                raise DataValidationError("patience needs users with at least 2 interactions to validate on")
            valid = (pad_sequences(vin, self.max_len), torch.as_tensor(vt))
        X, y_ = prefix_examples(train_seqs, self.max_len)
        gen = torch.Generator(device=dev).manual_seed(seed)
        views = {"crop_ratio": self.crop_ratio, "mask_ratio": self.mask_ratio, "reorder_ratio": self.reorder_ratio}
        self.train_result_ = fit_sequential(
            model, X, y_, valid=valid, epochs=self.epochs, patience=self.patience, lr=self.lr,
            batch_size=self.batch_size, device=dev, seed=seed, gen=gen, view_kwargs=views,
            bucket=self.bucket, progress=self.progress, precision=self.precision)
        model.eval()
        self.model_ = model
        return self

    # ------------------------------------------------------------------------------
    def _user_codes(self, user_ids: Sequence[Any], unknown: str) -> np.ndarray:
        """Internal user codes (-1 for unknown users with ``unknown="popular"``), checked."""
        check_choice(unknown, ("raise", "popular"), "unknown")
        if user_ids is None or isinstance(user_ids, (pd.DataFrame, dict)):
            raise InvalidParameterError(
                f"user_ids must be a list or 1-D array of user ids, got {type(user_ids).__name__}")
        raw = np.asarray(user_ids)
        if raw.ndim == 0:
            raw = raw.reshape(1)
        if raw.ndim != 1:
            raise DataValidationError(f"user_ids must be 1-D, got shape {raw.shape}")
        return self.users_.encode(raw, name="user", unknown="raise" if unknown == "raise" else "mask")

    def _histories(self, codes: np.ndarray) -> list[np.ndarray]:
        return [self.sequences_[c] if c >= 0 else np.zeros(0, dtype=np.int64) for c in codes]

    @torch.no_grad()
    def _scores(self, codes: np.ndarray, hists: list[np.ndarray]) -> torch.Tensor:
        padded = pad_sequences(hists, self.max_len)
        dev = next(iter(self.popularity_.buffers())).device
        self.model_.eval()
        out = torch.empty(len(codes), len(self.items_))
        for s in range(0, len(codes), 1024):
            part = padded[s:s + 1024].to(dev)
            known = torch.as_tensor(codes[s:s + 1024] >= 0, device=dev)
            sc = self.model_.full_scores(part).float() if bool(known.any()) else None
            pop = self.popularity_.full_scores(part).float()
            out[s:s + 1024] = (torch.where(known.unsqueeze(1), sc, pop) if sc is not None else pop).cpu()
        return out

    def score(self, user_ids: Sequence[Any], item_ids: Sequence[Any] | None = None, *,
              unknown: str = "raise") -> np.ndarray:
        """Scores [n_users, n_items] of every item (in ``items_.raw_`` order) or of ``item_ids``.

        Unknown users raise :class:`~structaug.recsys.interactions.UnknownIdError` (a
        ``DataValidationError`` and a ``KeyError``) unless ``unknown="popular"``; unknown
        ``item_ids`` always raise it. Both are checked before any scoring.
        """
        check_is_fitted(self, ["model_"])
        codes = self._user_codes(user_ids, unknown)
        cols = None
        if item_ids is not None:
            items = np.asarray(item_ids)
            if items.ndim != 1:
                raise DataValidationError(f"item_ids must be 1-D, got shape {items.shape}")
            cols = self.items_.encode(items, name="item") - 1
        scores = self._scores(codes, self._histories(codes))
        if cols is not None:
            scores = scores[:, torch.as_tensor(cols, dtype=torch.long)]
        return scores.numpy()

    def recommend(self, user_ids: Sequence[Any], k: int = 10, *, exclude_seen: bool = True,
                  unknown: str = "raise") -> np.ndarray:
        """Top-``k`` items per user, best first, as raw item ids [n_users, k].

        Parameters
        ----------
        user_ids : list-like of raw user ids
            Users seen in ``fit``; an empty list gives an empty ``[0, k]`` array.
        k : int
            List length, ``1 <= k <= n_items`` (``InvalidParameterError`` naming ``k``
            otherwise).
        exclude_seen : bool
            Remove items already in the user's history. A seen item is never returned then:
            when a queried user has fewer than ``k`` unseen items, a
            ``DataValidationError`` names those users (lower ``k`` or pass
            ``exclude_seen=False``); nothing is scored before that check.
        unknown : {"raise", "popular"}
            Users not seen in ``fit`` raise
            :class:`~structaug.recsys.interactions.UnknownIdError` (a ``DataValidationError``
            and a ``KeyError``) listing up to five of them; ``"popular"`` ranks by popularity
            for them instead (cold start; nothing to exclude).
        """
        check_is_fitted(self, ["model_"])
        n_items = len(self.items_)
        k = check_positive_int(k, "k")
        if k > n_items:
            raise InvalidParameterError(f"k={k} exceeds the number of items in the catalogue ({n_items})")
        check_bool(exclude_seen, "exclude_seen")
        codes = self._user_codes(user_ids, unknown)
        hists = self._histories(codes)
        if exclude_seen:
            n_unseen = np.array([n_items - len(np.unique(h)) for h in hists], dtype=np.int64)
            short = np.flatnonzero(n_unseen < k)
            if len(short):
                raw = np.atleast_1d(np.asarray(user_ids))
                few = {(raw[i].item() if isinstance(raw[i], np.generic) else raw[i]): int(n_unseen[i])
                       for i in short[:5]}
                raise DataValidationError(
                    f"k={k} but {len(short)} user(s) have fewer unseen items than that (user: unseen items) "
                    f"{few}; lower k or pass exclude_seen=False (seen items are never returned)")
        scores = self._scores(codes, hists)
        if exclude_seen and hists:
            rows = np.concatenate([np.full(len(h), i) for i, h in enumerate(hists)])
            cols = np.concatenate(hists) - 1
            if len(rows):
                scores[torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)] = float("-inf")
        if bool(torch.isnan(scores).any()):
            # topk ranks NaN first: a diverged model would return arbitrary lists silently
            raise DataValidationError("the model scored NaN for some items (did training diverge? try a lower lr)")
        if len(codes) == 0:
            return self.items_.raw_[np.zeros((0, k), dtype=np.int64)]
        top = scores.topk(k, dim=1).indices.numpy() + 1
        return self.items_.decode(top)

    def evaluate(self, interactions: pd.DataFrame | None = None, ks: Sequence[int] = (5, 10, 20)) -> dict[str, float]:
        """Next-item HR/NDCG@k with full ranking (no history exclusion, as in the paper's protocol).

        Parameters
        ----------
        interactions : DataFrame or None
            Held-out ``user, item[, timestamp]`` rows that come after the fitted log. Each row is
            a target, predicted from the user's fitted history followed by that user's earlier
            held-out rows (time order, as in :meth:`fit`). Users and items must have been seen in
            ``fit`` (:class:`~structaug.recsys.interactions.UnknownIdError`, a
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
        check_is_fitted(self, ["model_"])
        ks = self._check_ks(ks)
        if interactions is None:
            rows = [s for s in self.sequences_ if len(s) >= 2]
            hists, targets = [s[:-1] for s in rows], [int(s[-1]) for s in rows]
        else:
            df = prepare_interactions(interactions)
            users = self.users_.encode(df["user"].to_numpy(), name="user")
            items = self.items_.encode(df["item"].to_numpy(), name="item")
            hists, targets = [], []
            # each held-out row extends its user's history, in time order
            for u, it in zip(*group_by_user(users, items)):
                seq = np.concatenate([self.sequences_[u], it])
                base = len(self.sequences_[u])
                hists.extend(seq[:base + j] for j in range(len(it)))
                targets.extend(int(x) for x in it)
        if not targets:
            raise DataValidationError("nothing to evaluate: no user has a target item")
        dev = next(iter(self.popularity_.buffers())).device
        hist = pad_sequences(hists, self.max_len).to(dev)
        return evaluate_ranking(self.model_, hist, torch.as_tensor(targets, device=dev), ks)

    def _check_ks(self, ks: Sequence[int]) -> list[int]:
        if isinstance(ks, (int, np.integer)) and not isinstance(ks, bool):
            ks = [ks]
        if isinstance(ks, (str, bytes)) or not hasattr(ks, "__iter__"):
            raise InvalidParameterError(f"ks must be a list of positive ints, got {ks!r}")
        ks = [check_positive_int(k, "ks") for k in ks]
        if not ks:
            raise InvalidParameterError("ks is empty; give at least one cut-off")
        if max(ks) > len(self.items_):
            raise InvalidParameterError(f"ks holds k={max(ks)} above the number of items ({len(self.items_)})")
        return ks

    # ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write parameters, weights, vocabularies and histories to one file (atomically)."""
        check_is_fitted(self, ["model_"])
        state = {
            "format": 1,
            "params": self.get_params(),
            "model": {k: v.cpu() for k, v in self.model_.state_dict().items()},
            "popularity": self.popularity_.counts.cpu(),
            "users": self.users_.raw_,
            "items": self.items_.raw_,
            "sequences": self.sequences_,
        }
        return atomic_torch_save(state, path)

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | None = None) -> "SequentialRecommender":
        """Read a file written by :meth:`save` (it is a pickle: load only files you trust)."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except OSError:  # missing or unreadable: not a corrupt file
            raise
        except Exception as exc:  # truncated or foreign files fail inside pickle/zip in many ways
            raise CorruptFileError(f"{path} could not be read as a SequentialRecommender file ({exc}); "
                                   "save the model again") from exc
        if not isinstance(state, dict) or state.get("format") != 1:
            raise CorruptFileError(f"{path} is not a SequentialRecommender file")
        params = dict(state["params"])
        if device is not None:
            params["device"] = device
        rec = cls(**params)
        rec.users_ = IdVocab(state["users"], offset=0)
        rec.items_ = IdVocab(state["items"], offset=1)
        rec.sequences_ = state["sequences"]
        dev = resolve_device(rec.device)
        rec.popularity_ = Popularity(len(rec.items_)).to(dev)
        rec.popularity_.counts.copy_(state["popularity"])
        model = rec._build_model(len(rec.items_))
        try:
            model.load_state_dict(state["model"])
        except (RuntimeError, KeyError) as exc:  # weights of another shape or model
            raise CorruptFileError(f"{path}: the weights do not fit its own parameters ({exc})") from exc
        rec.model_ = model.to(dev).eval()
        rec.train_result_ = None
        return rec
