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
from ...exceptions import DataValidationError
from ...io import atomic_torch_save
from ...random import check_random_state, local_torch_seed
from ...train import resolve_device
from ...validation import check_positive_int
from ..interactions import IdVocab
from .data import build_sequences, five_core, group_by_user, pad_sequences, prefix_examples, prepare_interactions
from .models import CL4SRec, MCLRec, Popularity
from .sasrec import SASRec
from .training import PRECISIONS, evaluate_ranking, fit_sequential

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
        Maximum training epochs.
    batch_size, lr : int, float
        256 and 1e-3 (Adam), the paper's.
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
    Input handling (all tested): rows are put in time order per user (stable sort on
    ``timestamp``, row order breaking ties; row order is time without a ``timestamp`` column);
    exact duplicate ``(user, item, timestamp)`` rows are dropped with a warning; a column mixing
    id types raises ``DataValidationError``; an empty frame raises ``DataValidationError``.
    ``recommend`` raises ``KeyError`` for users not seen in ``fit`` unless
    ``unknown="popular"`` (cold-start fallback: most popular items), and ``ValueError`` when
    ``k`` exceeds the number of items.
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
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        check_positive_int(self.max_len, "max_len")
        check_positive_int(self.epochs, "epochs", minimum=0)
        check_positive_int(self.batch_size, "batch_size", minimum=2)
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
        if self.min_core is not None:
            check_positive_int(self.min_core, "min_core")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    def fit(self, interactions: pd.DataFrame, y: Any = None) -> "SequentialRecommender":
        """Train on a ``user, item[, timestamp]`` frame; returns ``self``."""
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
    def _histories(self, user_ids: Sequence[Any], unknown: str) -> tuple[torch.Tensor, np.ndarray, list[np.ndarray]]:
        if unknown not in ("raise", "popular"):
            raise ValueError(f"unknown must be 'raise' or 'popular', got {unknown!r}")
        raw = np.asarray(user_ids)
        if raw.ndim == 0:
            raw = raw.reshape(1)
        if raw.ndim != 1:
            raise DataValidationError(f"user_ids must be 1-D, got shape {raw.shape}")
        codes = self.users_.encode(raw, name="user", unknown="raise" if unknown == "raise" else "mask")
        hists = [self.sequences_[c] if c >= 0 else np.zeros(0, dtype=np.int64) for c in codes]
        return pad_sequences(hists, self.max_len), codes, hists

    @torch.no_grad()
    def _scores(self, user_ids, unknown: str) -> tuple[torch.Tensor, list[np.ndarray]]:
        check_is_fitted(self, ["model_"])
        padded, codes, hists = self._histories(user_ids, unknown)
        dev = next(iter(self.popularity_.buffers())).device
        self.model_.eval()
        out = torch.empty(len(codes), len(self.items_))
        for s in range(0, len(codes), 1024):
            part = padded[s:s + 1024].to(dev)
            known = torch.as_tensor(codes[s:s + 1024] >= 0, device=dev)
            sc = self.model_.full_scores(part).float() if bool(known.any()) else None
            pop = self.popularity_.full_scores(part).float()
            out[s:s + 1024] = (torch.where(known.unsqueeze(1), sc, pop) if sc is not None else pop).cpu()
        return out, hists

    def score(self, user_ids: Sequence[Any], item_ids: Sequence[Any] | None = None, *,
              unknown: str = "raise") -> np.ndarray:
        """Scores [n_users, n_items] of every item (in ``items_.raw_`` order) or of ``item_ids``."""
        scores, _ = self._scores(user_ids, unknown)
        if item_ids is not None:
            cols = self.items_.encode(np.asarray(item_ids), name="item") - 1
            scores = scores[:, torch.as_tensor(cols)]
        return scores.numpy()

    def recommend(self, user_ids: Sequence[Any], k: int = 10, *, exclude_seen: bool = True,
                  unknown: str = "raise") -> np.ndarray:
        """Top-``k`` items per user, best first, as raw item ids [n_users, k].

        ``exclude_seen`` removes items already in the user's history (when a user has seen
        more than ``n_items - k`` items, the tail of their list is filled with seen items,
        lowest-scored last). ``unknown="popular"`` ranks by popularity for users not seen in
        ``fit`` instead of raising ``KeyError``.
        """
        check_is_fitted(self, ["model_"])
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        if k > len(self.items_):
            raise ValueError(f"k={k} exceeds the number of items in the catalogue ({len(self.items_)})")
        scores, hists = self._scores(user_ids, unknown)
        if exclude_seen:
            rows = np.concatenate([np.full(len(h), i) for i, h in enumerate(hists)]) if hists else np.zeros(0)
            cols = np.concatenate(hists) - 1 if hists else np.zeros(0)
            if len(rows):
                # below every unseen score but still ordered, so lists are always k long
                penalty = float(scores.max() - scores.min()) + 1.0
                scores[rows, cols] -= penalty
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
            ``fit`` (``KeyError`` names the unknown ones). ``None`` scores each fitted user's last
            item given the items before it: with ``patience`` set that item was held out for
            validation, without it the model trained on it (an in-sample number).
        ks : sequence of int
            Cut-offs.

        Returns
        -------
        dict
            ``hr@k`` and ``ndcg@k`` for each ``k``, averaged over the targets.
        """
        check_is_fitted(self, ["model_"])
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
        state = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(state, dict) or state.get("format") != 1:
            raise DataValidationError(f"{path} is not a SequentialRecommender file")
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
        model.load_state_dict(state["model"])
        rec.model_ = model.to(dev).eval()
        rec.train_result_ = None
        return rec
