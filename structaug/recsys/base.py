"""The recommender contract shared by every structaug recommender.

``fit(interactions)`` on a pandas frame (one row per interaction), then
``recommend(users, k)`` returning one long frame ``user, item, rank, score`` — the same for
the graph models (:class:`~structaug.recsys.LightGCN`, :class:`~structaug.recsys.MFBPR`, LLMRec
through LightGCN) and the sequential ones (:class:`~structaug.recsys.SequentialRecommender`:
SASRec, CL4SRec, MCLRec). The base class owns everything that is not the model: column names,
input checks, the unknown-user policy, excluding seen items, top-k with a fixed tie order,
the output frame, and ``save``/``load``. A subclass implements ``_fit`` and three small hooks.

Like RecBole's ``full_sort_predict`` + trainer split and scikit-learn's estimator template
(``fit`` checks, then calls a hook), so that every recommender is driven the same way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator

from ..base import check_is_fitted, reset_fitted
from ..exceptions import CorruptFileError, DataValidationError, InvalidParameterError
from ..io import load_verified, save_verified
from ..validation import check_bool, check_choice, check_positive_int, to_sortable_time
from .interactions import check_interactions

__all__ = ["RECOMMEND_COLUMNS", "Recommender", "check_column_names", "with_canonical_columns"]

#: the two columns after the user and item columns of every ``recommend`` frame
RECOMMEND_COLUMNS = ("rank", "score")

_FORMAT = "structaug-recommender"
_VERSION = 1
# users scored per block in recommend/score_items: at most 1,024, and at most 2^24 scores
# (64 MiB of float32) per block, so the memory of ranking stays bounded on large catalogues
# too (the top-k's masks and cumulative sums are a few times the block's size)
_BLOCK = 1024
_BLOCK_SCORES = 1 << 24


def _block_rows(n_items: int) -> int:
    """Users per scoring block for a catalogue of ``n_items``."""
    return max(1, min(_BLOCK, _BLOCK_SCORES // max(n_items, 1)))


def check_column_names(user_col: Any, item_col: Any, time_col: Any) -> None:
    """``user_col``, ``item_col``, ``time_col``: three different non-empty column names."""
    names = {"user_col": user_col, "item_col": item_col, "time_col": time_col}
    for p, v in names.items():
        if not isinstance(v, str) or not v:
            raise InvalidParameterError(f"{p} must be a non-empty column name (str), got {v!r}")
    if len(set(names.values())) < 3:
        raise InvalidParameterError(f"user_col, item_col and time_col must name three different columns, got {names}")


def with_canonical_columns(df: pd.DataFrame, renames: dict[str, str]) -> pd.DataFrame:
    """``df`` with columns renamed ``{yours: ours}`` (a shallow copy; ``df`` is not touched).

    A column that already carries one of our names but is not mapped onto it is dropped first,
    so a stray ``user`` column cannot shadow ``user_col="uid"``.
    """
    renames = {k: v for k, v in renames.items() if k in df.columns and k != v}
    if not renames:
        return df
    stray = [v for v in renames.values() if v in df.columns and v not in renames]
    return df.drop(columns=stray).rename(columns=renames)


class Recommender(BaseEstimator):
    """Base class of the recommenders: ``fit(interactions)`` → ``recommend(users, k)``.

    Subclasses take ``user_col``, ``item_col`` and ``time_col`` as constructor parameters
    (defaults ``"user"``, ``"item"``, ``"timestamp"``) and implement:

    - ``_fit(frame, **fit_params)``: train on ``frame``, whose columns are renamed to
      ``user``, ``item`` and (when the caller's frame has ``time_col``) ``timestamp``, already
      checked; set ``users_`` and ``items_`` (:class:`~structaug.recsys.interactions.IdVocab`).
    - ``_score_users(codes)``: scores ``[len(codes), n_items]`` (torch or numpy, columns in
      ``items_.raw_`` order) for internal user ids ``codes`` (all known users).
    - ``_seen_pairs(codes)``: ``(rows, cols)`` of the items each queried user has seen
      (``rows`` index ``codes``, ``cols`` are column positions in ``items_.raw_``).
    - ``_popularity()``: interaction count per item ``[n_items]``, the ranking given to unknown
      users with ``unknown="popular"``.

    ``save``/``load`` store the constructor parameters and every instance attribute that is
    not one (fitted state); a subclass whose state needs care on another device overrides
    ``_set_state``.
    """

    #: fitted attributes ``recommend``/``score_items``/``save`` require
    _fitted_attributes: ClassVar[list[str]] = ["users_", "items_"]

    # -- fit ------------------------------------------------------------------------------
    def fit(self, interactions: pd.DataFrame, y: Any = None, **fit_params: Any) -> Recommender:
        """Train on an interaction frame; returns ``self``.

        Parameters
        ----------
        interactions : DataFrame
            One row per interaction with columns ``user_col`` and ``item_col`` (and
            ``time_col`` where order matters). Never modified.
        y : None
            Ignored; present for scikit-learn's ``fit(X, y)`` signature.
        **fit_params
            Method-specific inputs (e.g. LightGCN's ``validation`` frame or LLMRec's
            ``augmentation``).
        """
        reset_fitted(self)  # a refit that fails half-way must not keep the previous model
        self._check_columns()
        self._validate_params()
        frame = self._interactions_frame(interactions, "interactions")
        self._fit(frame, **fit_params)
        return self

    def _validate_params(self) -> None:
        """Check constructor parameters before any work; subclasses extend."""

    def _fit(self, frame: pd.DataFrame, **fit_params: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_columns(self) -> None:
        check_column_names(self.user_col, self.item_col, self.time_col)

    def _interactions_frame(self, df: Any, name: str, *, allow_empty: bool = False) -> pd.DataFrame:
        """``df``'s user/item(/time) columns, checked, as a new frame named ``user, item[, timestamp]``.

        Messages name ``name`` and the caller's column names. The caller's frame is not touched.
        """
        self._check_columns()
        check_interactions(
            df, name=name, required=(self.user_col, self.item_col), allow_empty=allow_empty, check_time=False
        )
        cols = [self.user_col, self.item_col]
        if self.time_col in df.columns:
            to_sortable_time(df[self.time_col], f"{name}[{self.time_col!r}]")
            cols.append(self.time_col)
        out = df[cols].copy(deep=False)
        out.columns = ["user", "item", "timestamp"][: len(cols)]
        return out.reset_index(drop=True)

    # -- hooks ----------------------------------------------------------------------------
    def _score_users(self, codes: np.ndarray) -> torch.Tensor | np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _seen_pairs(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _popularity(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- scoring --------------------------------------------------------------------------
    @property
    def n_items_(self) -> int:
        """Number of items in the fitted catalogue."""
        check_is_fitted(self, self._fitted_attributes)
        return len(self.items_)

    def _user_codes(self, users: Any, unknown: str) -> tuple[np.ndarray, np.ndarray]:
        """Raw user ids (1-D) and their internal ids (-1: unknown, with ``unknown="popular"``)."""
        check_choice(unknown, ("raise", "popular"), "unknown")
        raw = _as_id_array(users, "users")
        codes = self.users_.encode(raw, name="user", unknown="raise" if unknown == "raise" else "mask")
        return raw, codes

    def _block_scores(self, codes: np.ndarray) -> torch.Tensor:
        """Float scores ``[len(codes), n_items]`` on the CPU; unknown users (-1) get popularity."""
        out = torch.empty(len(codes), len(self.items_), dtype=torch.float32)
        known = codes >= 0
        if known.any():
            s = self._score_users(codes[known])
            out[torch.as_tensor(known)] = torch.as_tensor(s).detach().float().cpu()
        if not known.all():
            out[torch.as_tensor(~known)] = torch.as_tensor(np.asarray(self._popularity(), dtype=np.float32))
        if bool(torch.isnan(out).any()):
            # topk ranks NaN first: a diverged model would return arbitrary lists silently
            raise DataValidationError("the model scored NaN for some items (did training diverge? try a lower lr)")
        return out

    def score_items(
        self, users: Sequence[Any], items: Sequence[Any] | None = None, *, unknown: str = "raise"
    ) -> np.ndarray:
        """Scores of every item (or of ``items``) for each user: float32 ``[n_users, n_items]``.

        Columns follow ``items_.raw_`` (or ``items``). Higher is better; the scale is the
        model's own. ``unknown`` as in :meth:`recommend` (unknown users get item popularity);
        an unknown item always raises :class:`~structaug.exceptions.UnknownIdError`.
        """
        check_is_fitted(self, self._fitted_attributes)
        _, codes = self._user_codes(users, unknown)
        cols = None
        if items is not None:
            cols = self.items_.encode(_as_id_array(items, "items"), name="item") - self.items_.offset
        b = _block_rows(len(self.items_))
        parts = [self._block_scores(codes[s : s + b]) for s in range(0, len(codes), b)]
        scores = torch.cat(parts) if parts else torch.empty(0, len(self.items_))
        if cols is not None:
            scores = scores[:, torch.as_tensor(cols, dtype=torch.long)]
        return scores.numpy()

    def recommend(
        self, users: Sequence[Any], k: int = 10, *, exclude_seen: bool = True, unknown: str = "raise"
    ) -> pd.DataFrame:
        """Top-``k`` items per user as one long frame ``user, item, rank, score``.

        Parameters
        ----------
        users : list-like of raw user ids
            1-D (a scalar or a string is refused); an empty list gives an empty frame.
        k : int
            List length, ``1 <= k <= n_items`` (``InvalidParameterError`` naming ``k`` otherwise).
        exclude_seen : bool
            Never return an item from the user's training interactions. A user with fewer
            than ``k`` unseen items gets only those (fewer rows), never a seen item.
        unknown : {"raise", "popular"}
            Users not seen in ``fit`` raise :class:`~structaug.exceptions.UnknownIdError` (a
            ``DataValidationError`` and a ``KeyError``) naming up to five, before any scoring;
            ``"popular"`` ranks items by training popularity for them (cold start).

        Returns
        -------
        DataFrame
            Columns ``[user_col, item_col, "rank", "score"]``: users in the order given (a
            user listed twice appears twice), ``rank`` from 1, best first; equal scores are
            ranked by the item's position in ``items_.raw_`` (lower first), so results are
            deterministic.
        """
        check_is_fitted(self, self._fitted_attributes)
        n_items = len(self.items_)
        k = check_positive_int(k, "k")
        if k > n_items:
            raise InvalidParameterError(f"k={k} exceeds the number of items in the catalogue ({n_items})")
        check_bool(exclude_seen, "exclude_seen")
        raw, codes = self._user_codes(users, unknown)
        users_out, items_out, ranks, scores = [], [], [], []
        b = _block_rows(n_items)
        for s in range(0, len(codes), b):
            block = codes[s : s + b]
            sc = self._block_scores(block)
            if exclude_seen and (block >= 0).any():
                known = np.flatnonzero(block >= 0)
                rows, cols = self._seen_pairs(block[known])
                if len(rows):
                    sc[torch.as_tensor(known[rows], dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)] = float(
                        "-inf"
                    )
            row, col, val = _topk_rows(sc, k)
            keep = np.isfinite(val)  # seen items (-inf) a short list would reach
            row, col, val = row[keep], col[keep], val[keep]
            users_out.append(raw[s + row])
            items_out.append(self.items_.raw_[col])
            # rank counts kept entries per row: rows are contiguous and in order
            starts = np.r_[0, np.flatnonzero(np.diff(row)) + 1] if len(row) else np.zeros(0, np.int64)
            rank = np.arange(len(row)) - np.repeat(starts, np.diff(np.r_[starts, len(row)])) + 1
            ranks.append(rank.astype(np.int64))
            scores.append(val.astype(np.float64))
        cat = lambda xs, like: np.concatenate(xs) if xs else np.zeros(0, dtype=like)
        return pd.DataFrame(
            {
                self.user_col: cat(users_out, raw.dtype),
                self.item_col: cat(items_out, self.items_.raw_.dtype),
                "rank": cat(ranks, np.int64),
                "score": cat(scores, np.float64),
            }
        )

    # -- persistence ----------------------------------------------------------------------
    def _get_state(self) -> dict[str, Any]:
        params = self.get_params(deep=False)
        return {k: v for k, v in vars(self).items() if k not in params}

    def _set_state(self, state: dict[str, Any], device: str | None) -> None:
        self.__dict__.update(state)

    def save(self, path: str | os.PathLike) -> Path:
        """Write parameters and fitted state to one checksummed file, atomically.

        It is a pickle (through :func:`torch.save`): load only files you trust.
        """
        check_is_fitted(self, self._fitted_attributes)
        cls = type(self)
        obj = {
            "format": _FORMAT,
            "version": _VERSION,
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "params": self.get_params(deep=False),
            "state": self._get_state(),
        }
        return save_verified(obj, path)

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | None = None) -> Recommender:
        """Read a file written by :meth:`save`.

        Parameters
        ----------
        path : path
        device : str, optional
            Where the model runs from now on (its ``device`` parameter); default: as saved.

        Raises
        ------
        CorruptFileError
            The file is damaged, not a structaug recommender, or holds another class.
        """
        obj = load_verified(path, what=f"{cls.__name__} file", start_over="save the model again")
        if not isinstance(obj, dict) or obj.get("format") != _FORMAT or obj.get("version") != _VERSION:
            raise CorruptFileError(f"{path} is not a structaug recommender file")
        want = f"{cls.__module__}.{cls.__qualname__}"
        if obj["class"] != want:
            raise CorruptFileError(f"{path} holds a {obj['class']}, not a {want}; load it with that class")
        params = dict(obj["params"])
        if device is not None:
            if "device" not in params:
                raise InvalidParameterError(f"{cls.__name__} has no device parameter; call load without device")
            params["device"] = device
        rec = cls(**params)
        rec._set_state(obj["state"], device)
        return rec


def _as_id_array(ids: Any, name: str) -> np.ndarray:
    """A 1-D array of raw ids (a scalar or a string is a mistake, not one id); may be empty."""
    if ids is None or isinstance(ids, (str, bytes, pd.DataFrame, dict)) or np.ndim(ids) != 1:
        raise DataValidationError(f"{name} must be a 1-D list or array of ids, got {type(ids).__name__} {ids!r:.80}")
    # pandas infers one dtype (int64, object for strings or mixed ids) without numpy's
    # habit of turning [1, "a"] into the strings ["1", "a"]
    return pd.Series(list(ids), dtype=ids.dtype if isinstance(ids, (pd.Series, np.ndarray)) else None).to_numpy()


def _topk_rows(scores: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-``k`` per row with ties broken by the lower column: flat ``(row, col, value)``.

    ``torch.topk`` is fast but leaves the order of equal values unspecified; this keeps its
    speed and fixes the tie order: everything above each row's k-th value is in, then the
    lowest columns among those equal to it, then a stable sort by value.
    """
    n, m = scores.shape
    if n == 0:
        return (np.zeros(0, np.int64),) * 2 + (np.zeros(0, np.float32),)
    kth = torch.topk(scores, k, dim=1).values[:, -1:]
    above = scores > kth
    tied = scores == kth
    need = k - above.sum(1, keepdim=True)
    take = above | (tied & (tied.cumsum(1) <= need))
    cols = take.nonzero()[:, 1].view(n, k)  # row-major: columns ascending within a row
    vals = scores.gather(1, cols)
    order = torch.sort(vals, dim=1, descending=True, stable=True).indices
    cols, vals = cols.gather(1, order), vals.gather(1, order)
    rows = torch.arange(n).repeat_interleave(k)
    return rows.numpy(), cols.reshape(-1).numpy(), vals.reshape(-1).numpy()
