"""DAIN's influence-guided augmenter and the random-cell control.

``InfluenceAugmenter.fit`` trains a neural completion model while tracking TracIn
influences, turns them into per-mode entity distributions, and ``sample(n)`` draws new
unobserved cells (one index per mode from those distributions) valued by the trained
model. ``RandomCellAugmenter`` draws cells uniformly over the same entities, so the two
differ only in where the cells go.
"""
from __future__ import annotations

import time
import warnings
from typing import Sequence

import numpy as np
from sklearn.base import clone

from ..base import Augmenter, SampleRNG
from ..exceptions import DataValidationError
from ..random import spawn_seed
from ..train import resolve_device
from ..validation import check_fraction
from .completion import NeuralTensorCompletion
from .container import ObservedTensor, cell_keys
from .influence import TracInTracker, entity_importance

__all__ = ["InfluenceAugmenter", "RandomCellAugmenter", "draw_new_cells", "fit_augmented"]


def draw_new_cells(probs: Sequence[np.ndarray], n: int, exclude: np.ndarray, shape: Sequence[int],
                   rng: np.random.Generator, *, max_rounds: int = 50) -> np.ndarray:
    """Draw ``n`` distinct cells, index ``m`` from ``probs[m]`` independently per mode,
    rejecting cells whose key is in ``exclude`` (see :func:`cell_keys`).

    Vectorised rejection sampling: each round draws twice the shortfall. If the support is
    (nearly) exhausted after ``max_rounds`` rounds, fewer cells are returned with a warning.
    """
    shape = tuple(shape)
    exclude = np.unique(exclude)
    kept_idx: list[np.ndarray] = []
    kept_keys = exclude[:0]
    need = int(n)
    for _ in range(max_rounds):
        if need <= 0:
            break
        m = max(2 * need, 16)
        cand = np.stack([rng.choice(len(p), size=m, p=p) for p in probs], axis=1).astype(np.int64)
        keys = cell_keys(cand, shape)
        _, first = np.unique(keys, return_index=True)
        first.sort()  # keep draw order so the result does not depend on key sorting
        cand, keys = cand[first], keys[first]
        ok = ~np.isin(keys, exclude) & ~np.isin(keys, kept_keys)
        cand, keys = cand[ok][:need], keys[ok][:need]
        kept_idx.append(cand)
        kept_keys = np.concatenate([kept_keys, keys])
        need -= len(cand)
    if need > 0:
        warnings.warn(f"only {n - need} of {n} new cells could be drawn: the sampling support is nearly "
                      "exhausted by observed cells", RuntimeWarning, stacklevel=3)
    return np.concatenate(kept_idx) if kept_idx else np.empty((0, len(shape)), dtype=np.int64)


def fit_augmented(estimator: NeuralTensorCompletion, train: ObservedTensor, augmented: ObservedTensor,
                  validation: ObservedTensor, **fit_kwargs) -> NeuralTensorCompletion:
    """Fit a fresh clone of ``estimator`` on real + augmented cells (DAIN's last step)."""
    est = clone(estimator)
    shape = tuple(max(a, b, c) for a, b, c in zip(train.shape, augmented.shape, validation.shape))
    return est.fit(train.concat(augmented), validation=validation, shape=shape, **fit_kwargs)


class _ModelValuedAugmenter(Augmenter):
    """Shared fit/sample plumbing: a completion model values the drawn cells."""

    def __init__(self, *, estimator: NeuralTensorCompletion | None = None, augment_ratio: float = 0.5,
                 val_fraction: float = 0.2, random_state=None):
        self.estimator = estimator
        self.augment_ratio = augment_ratio
        self.val_fraction = val_fraction
        self.random_state = random_state

    def _validate_params(self) -> None:
        if self.augment_ratio is None or float(self.augment_ratio) <= 0:
            raise ValueError(f"augment_ratio must be > 0, got {self.augment_ratio}")
        check_fraction(self.val_fraction, "val_fraction", inclusive_high=False)
        if self.estimator is not None and not isinstance(self.estimator, NeuralTensorCompletion):
            raise TypeError(f"estimator must be a NeuralTensorCompletion, got {type(self.estimator).__name__}")

    def _split(self, data: ObservedTensor, validation: ObservedTensor | None):
        if not isinstance(data, ObservedTensor):
            raise TypeError(f"data must be an ObservedTensor, got {type(data).__name__}")
        if validation is not None:
            if not isinstance(validation, ObservedTensor):
                raise TypeError(f"validation must be an ObservedTensor, got {type(validation).__name__}")
            if validation.order != data.order:
                raise DataValidationError(f"validation has order {validation.order}, data has order {data.order}")
            return data, validation
        perm = self._fit_rng.np.permutation(data.nnz)
        n_val = int(round(data.nnz * float(self.val_fraction)))
        if n_val < 1 or n_val >= data.nnz:
            raise DataValidationError(f"{data.nnz} cells are too few to hold out val_fraction={self.val_fraction}")
        return data.subset(np.sort(perm[n_val:])), data.subset(np.sort(perm[:n_val]))

    def _new_estimator(self) -> NeuralTensorCompletion:
        base = self.estimator if self.estimator is not None else NeuralTensorCompletion()
        return clone(base).set_params(random_state=spawn_seed(self._fit_rng.np))

    def _remember(self, train: ObservedTensor, validation: ObservedTensor, estimator: NeuralTensorCompletion) -> None:
        self.estimator_ = estimator
        self.shape_ = tuple(estimator.shape_)
        self.order_ = len(self.shape_)
        self.n_train_ = train.nnz
        self.observed_keys_ = np.unique(np.concatenate([cell_keys(train.indices, self.shape_),
                                                        cell_keys(validation.indices, self.shape_)]))

    def _probabilities(self) -> list[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample(self, data: ObservedTensor | None, n: int | None, rng: SampleRNG) -> ObservedTensor:
        exclude = self.observed_keys_
        if data is not None:
            if not isinstance(data, ObservedTensor):
                raise TypeError(f"data must be an ObservedTensor or None, got {type(data).__name__}")
            if data.order != self.order_:
                raise DataValidationError(
                    f"data has order {data.order}, but {type(self).__name__} was fitted on an order-{self.order_} tensor")
            inside = np.all(data.indices < np.asarray(self.shape_), axis=1)
            exclude = np.concatenate([exclude, cell_keys(data.indices[inside], self.shape_)])
        n = int(round(float(self.augment_ratio) * self.n_train_)) if n is None else int(n)
        t0 = time.perf_counter()
        idx = draw_new_cells(self._probabilities(), n, exclude, self.shape_, rng.np)
        values = self.estimator_.predict(idx) if len(idx) else np.empty(0)
        self.last_sample_seconds_ = time.perf_counter() - t0
        return ObservedTensor(idx, values, self.shape_)


class InfluenceAugmenter(_ModelValuedAugmenter):
    """DAIN: influence-guided augmentation for neural tensor completion (Oh et al., CIKM 2021).

    ``fit`` trains a :class:`NeuralTensorCompletion` (early stopping on a validation set),
    scores every training cell by TracIn influence on the validation loss (last layer,
    summed over epochs up to the best one), and sums the absolute cell scores per entity
    of each mode. ``sample(n)`` draws ``n`` new unobserved cells with one index per mode
    from those entity distributions and values them with the trained model. Train a fresh
    model on real + sampled cells (:func:`fit_augmented`) or feed them to any other
    completion model.

    Parameters
    ----------
    estimator : NeuralTensorCompletion, optional
        The model template (cloned; its ``random_state`` is reseeded from ours). Default:
        the reference architecture and training schedule.
    augment_ratio : float
        Default ``n`` of ``sample`` as a share of the training cells (reference: 0.5).
    val_fraction : float
        Share of the cells held out for early stopping and influence when ``fit`` gets no
        ``validation`` tensor (reference: 0.2).
    absolute : bool
        Sum absolute cell influences per entity (the reference code) rather than only the
        helpful (positive) part.
    random_state : int, Generator or None

    Attributes
    ----------
    estimator_ : NeuralTensorCompletion
        The model trained in ``fit``; it values the sampled cells.
    cell_importance_ : ndarray, shape (n_train,)
        TracIn influence of each training cell.
    entity_importance_ : list of ndarray
        Per-mode sampling probabilities over indices.
    timings_ : dict
        ``train_s`` (model training without scoring) and ``influence_s`` (scoring and
        entity aggregation) of the last ``fit``.

    Examples
    --------
    >>> aug = InfluenceAugmenter(random_state=0).fit(train, validation=val)   # doctest: +SKIP
    >>> extra = aug.sample()                    # 50 % of the training cells    # doctest: +SKIP
    >>> model = fit_augmented(NeuralTensorCompletion(random_state=0), train, extra, val)  # doctest: +SKIP
    """

    def __init__(self, *, estimator: NeuralTensorCompletion | None = None, augment_ratio: float = 0.5,
                 val_fraction: float = 0.2, absolute: bool = True, random_state=None):
        super().__init__(estimator=estimator, augment_ratio=augment_ratio, val_fraction=val_fraction,
                         random_state=random_state)
        self.absolute = absolute

    def _fit(self, data: ObservedTensor, validation: ObservedTensor | None = None,
             shape: Sequence[int] | None = None) -> None:
        train, val = self._split(data, validation)
        est = self._new_estimator()
        tracker = TracInTracker(train, val, device=resolve_device(est.device))
        est.fit(train, validation=val, shape=shape, epoch_callback=tracker)
        t0 = time.perf_counter()
        self.cell_importance_ = tracker.cell_importance(est.best_epoch_)
        self.entity_importance_ = entity_importance(train, self.cell_importance_, shape=est.shape_,
                                                    absolute=bool(self.absolute))
        influence_s = tracker.seconds + time.perf_counter() - t0
        self._remember(train, val, est)
        self.timings_ = {"train_s": est.fit_time_ - tracker.seconds, "influence_s": influence_s,
                         "epochs": est.result_.epochs_run, "best_epoch": est.best_epoch_}

    def _probabilities(self) -> list[np.ndarray]:
        return self.entity_importance_


class RandomCellAugmenter(_ModelValuedAugmenter):
    """Control for DAIN: new cells drawn uniformly over the entities seen in training,
    valued by a trained completion model.

    ``fit(data, validation=None, prefit=None)`` trains the model like
    :class:`InfluenceAugmenter` (without influence scoring), or reuses ``prefit`` — e.g.
    ``InfluenceAugmenter.estimator_`` — so that the only difference is the cell choice.
    """

    def _fit(self, data: ObservedTensor, validation: ObservedTensor | None = None,
             shape: Sequence[int] | None = None, prefit: NeuralTensorCompletion | None = None) -> None:
        train, val = self._split(data, validation)
        if prefit is None:
            est = self._new_estimator().fit(train, validation=val, shape=shape)
            self.timings_ = {"train_s": est.fit_time_}
        else:
            est = prefit
            self.timings_ = {"train_s": 0.0}
        self._remember(train, val, est)
        self.support_ = []
        for m, size in enumerate(self.shape_):
            seen = (np.bincount(train.indices[:, m], minlength=size) > 0).astype(np.float64)
            self.support_.append(seen / seen.sum())

    def _probabilities(self) -> list[np.ndarray]:
        return self.support_
