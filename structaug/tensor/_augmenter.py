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
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from sklearn.base import clone

from ..base import Augmenter, SampleRNG, check_is_fitted
from ..exceptions import DataValidationError, InvalidParameterError
from ..random import RandomState, spawn_seed
from ..splits import holdout_indices
from ..train import resolve_device
from ..validation import check_bool, check_choice, check_index_range, check_positive_float, check_positive_int
from ._completion import NeuralTensorCompletion
from ._container import ObservedTensor, cell_keys, check_disjoint, check_tensor, resolve_shape
from ._influence import TRACIN_MODES, TracInTracker, entity_importance

__all__ = ["InfluenceAugmenter", "RandomCellAugmenter", "draw_new_cells", "fit_augmented"]


#: supports up to this many cells are enumerated when rejection sampling falls short
_ENUMERATE_MAX_CELLS = 1 << 22


def _key_rows(keys: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`cell_keys`: the index rows of ``keys``."""
    if keys.dtype.kind in "iu":
        return np.stack(np.unravel_index(keys, shape), axis=1).astype(np.int64)
    return np.ascontiguousarray(keys).view(np.int64).reshape(-1, len(shape))


def _available_cells(probs: Sequence[np.ndarray], exclude: np.ndarray, shape: tuple[int, ...], n: int) -> int:
    """Number of cells with non-zero probability that are not in ``exclude`` (unique keys);
    any number >= ``n`` when that is evident without decoding ``exclude``."""
    total = 1
    for p in probs:
        total *= int(np.count_nonzero(p))  # Python int: no overflow for huge tensors
    if total - len(exclude) >= n:
        return total - len(exclude)
    rows = _key_rows(exclude, shape)
    inside = np.ones(len(rows), dtype=bool)
    for m, p in enumerate(probs):
        inside &= p[rows[:, m]] > 0
    return total - int(inside.sum())


def draw_new_cells(
    probs: Sequence[np.ndarray],
    n: int,
    exclude: np.ndarray,
    shape: Sequence[int],
    rng: np.random.Generator,
    *,
    max_rounds: int = 50,
) -> np.ndarray:
    """Draw ``n`` distinct cells, index ``m`` from ``probs[m]`` independently per mode,
    rejecting cells whose key is in ``exclude`` (see :func:`cell_keys`).

    Vectorised rejection sampling: each round draws twice the shortfall. When ``n`` exceeds
    the cells that can be drawn at all (non-zero probability and not excluded),
    :class:`DataValidationError` is raised before drawing. When rejection sampling still
    falls short after ``max_rounds`` (the free cells carry little probability mass), the rest
    is drawn exactly from the enumerated free cells (supports up to 2²² cells); only above
    that are fewer cells returned, with a ``RuntimeWarning``.
    """
    shape = tuple(shape)
    n = check_positive_int(n, "n", minimum=0)
    exclude = np.unique(exclude)
    available = _available_cells(probs, exclude, shape, n)
    if n > available:
        raise DataValidationError(
            f"n={n} new cells were requested but only {available} unobserved cell(s) can be drawn "
            "(cells of entities with non-zero sampling probability, minus observed ones)"
        )
    kept_idx: list[np.ndarray] = []
    kept_keys = exclude[:0]
    need = n
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
        support = [np.flatnonzero(p > 0) for p in probs]
        if int(np.prod([len(s) for s in support], dtype=np.float64)) <= _ENUMERATE_MAX_CELLS:
            grid = np.stack([g.ravel() for g in np.meshgrid(*support, indexing="ij")], axis=1).astype(np.int64)
            keys = cell_keys(grid, shape)
            free = ~np.isin(keys, exclude) & ~np.isin(keys, kept_keys)
            grid = grid[free]
            w = np.prod([p[grid[:, m]] for m, p in enumerate(probs)], axis=0)
            w = np.maximum(w, np.finfo(np.float64).tiny)  # an underflowed product is still drawable
            pick = rng.choice(len(grid), size=need, replace=False, p=w / w.sum())
            kept_idx.append(grid[np.sort(pick)])
            need = 0
        else:
            warnings.warn(
                f"only {n - need} of {n} new cells could be drawn: the free cells of the sampling "
                "support carry too little probability",
                RuntimeWarning,
                stacklevel=3,
            )
    return np.concatenate(kept_idx) if kept_idx else np.empty((0, len(shape)), dtype=np.int64)


def fit_augmented(
    estimator: NeuralTensorCompletion,
    train: ObservedTensor,
    augmented: ObservedTensor,
    validation: ObservedTensor,
    **fit_kwargs,
) -> NeuralTensorCompletion:
    """Fit a fresh clone of ``estimator`` on real + augmented cells (DAIN's last step).

    ``augmented`` may be empty (then this is plain training on ``train``); it must not
    repeat cells of ``train`` or ``validation`` (:class:`DataValidationError`).
    """
    if not isinstance(estimator, NeuralTensorCompletion):
        raise InvalidParameterError(f"estimator must be a NeuralTensorCompletion, got {type(estimator).__name__}")
    check_tensor(train, "train")
    check_tensor(augmented, "augmented", allow_empty=True, order=train.order)
    check_tensor(validation, "validation", order=train.order)
    if augmented.nnz:
        check_disjoint(train, augmented, "augmented", "train")
    est = clone(estimator)
    shape = tuple(max(a, b, c) for a, b, c in zip(train.shape, augmented.shape, validation.shape))
    return est.fit(train.concat(augmented), validation=validation, shape=shape, **fit_kwargs)


class _ModelValuedAugmenter(Augmenter):
    """Shared fit/sample plumbing: a completion model values the drawn cells."""

    #: ``sample(data, n)`` returns ``n`` NEW cells in total (not views of existing ones)
    sample_unit: ClassVar[str] = "additions"
    #: ``n=None`` means ``round(augment_ratio * n_train_)`` (set by a parameter, not a constant)
    default_n: ClassVar[int | None] = None

    def __init__(
        self, *, estimator: NeuralTensorCompletion | None = None, augment_ratio: float = 0.5, random_state=None
    ):
        self.estimator = estimator
        self.augment_ratio = augment_ratio
        self.random_state = random_state

    def _validate_params(self) -> None:
        check_positive_float(self.augment_ratio, "augment_ratio")
        if self.estimator is not None:
            if not isinstance(self.estimator, NeuralTensorCompletion):
                raise InvalidParameterError(
                    f"estimator must be a NeuralTensorCompletion, got {type(self.estimator).__name__}"
                )
            self.estimator._validate_params()  # before the split and the tracker, not after

    def _split(self, data: ObservedTensor, validation: ObservedTensor | None, shape=None):
        """``(train, validation)`` after every data check (types, emptiness, order, overlap, shape)."""
        check_tensor(data, "data")
        if validation is not None:
            check_tensor(validation, "validation", order=data.order)
            check_disjoint(data, validation, "validation", "data")
            resolve_shape(data, validation, shape, "data")
            return data, validation
        # the estimator's own hold-out share (one parameter, not a second copy on the augmenter);
        # the cells are held out here because influence is measured on the same validation cells
        template = self.estimator if self.estimator is not None else NeuralTensorCompletion()
        fraction = template.validation_fraction
        train_rows, val_rows = holdout_indices(
            data.nnz,
            float(fraction),
            self._fit_rng.np,
            name="estimator.validation_fraction",
            what="observed cell(s) of data",
            hint="pass validation= explicitly",
        )
        resolve_shape(data, None, shape, "data")
        return data.subset(train_rows), data.subset(val_rows)

    def sample(
        self, data: ObservedTensor | None = None, n: int | None = None, *, random_state: RandomState = None
    ) -> ObservedTensor:
        """New unobserved cells valued by the fitted model.

        Parameters
        ----------
        data : ObservedTensor, optional
            Cells to exclude as well (e.g. the test cells); cells outside the fitted shape
            cannot be drawn anyway and are ignored.
        n : int, optional
            ``sample_unit = "additions"``: ``sample(data, n)`` returns ``n`` NEW elements in
            total, here ``n`` new cells (never observed in ``fit``, not in ``data``, all
            distinct). ``n=None`` means the amount ``augment_ratio`` sets,
            ``round(augment_ratio * n_train_)``. ``n=0`` gives an empty tensor; more than the
            drawable cells raises :class:`DataValidationError`.
        random_state : int or Generator, optional

        Returns
        -------
        ObservedTensor
            ``n`` cells with the fitted ``shape_``: indices ``[n, order]`` and the values the
            fitted model predicts for them.
        """
        check_is_fitted(self, self._fitted_attributes)
        if n is not None:
            check_positive_int(n, "n", minimum=0)
        return super().sample(data, n, random_state=random_state)

    def _count_sampled(self, out: ObservedTensor, data: ObservedTensor | None = None) -> int:
        """How many units ``out`` holds: the number of new cells."""
        return out.nnz

    def _new_estimator(self) -> NeuralTensorCompletion:
        base = self.estimator if self.estimator is not None else NeuralTensorCompletion()
        return clone(base).set_params(random_state=spawn_seed(self._fit_rng.np))

    def _remember(self, train: ObservedTensor, validation: ObservedTensor, estimator: NeuralTensorCompletion) -> None:
        self.estimator_ = estimator
        self.shape_ = tuple(estimator.shape_)
        self.order_ = len(self.shape_)
        self.n_train_ = train.nnz
        self.observed_keys_ = np.unique(
            np.concatenate([cell_keys(train.indices, self.shape_), cell_keys(validation.indices, self.shape_)])
        )

    def _probabilities(self) -> list[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample(self, data: ObservedTensor | None, n: int | None, rng: SampleRNG) -> ObservedTensor:
        exclude = self.observed_keys_
        if data is not None:
            check_tensor(data, "data", allow_empty=True)
            if data.order != self.order_:
                raise DataValidationError(
                    f"data has order {data.order}, but {type(self).__name__} was fitted on an order-{self.order_} tensor"
                )
            inside = np.all(data.indices < np.asarray(self.shape_), axis=1)
            exclude = np.concatenate([exclude, cell_keys(data.indices[inside], self.shape_)])
        default_n = n is None
        count = int(round(float(self.augment_ratio) * self.n_train_)) if n is None else int(n)
        t0 = time.perf_counter()
        try:
            idx = draw_new_cells(self._probabilities(), count, exclude, self.shape_, rng.np)
        except DataValidationError as exc:
            if not default_n:
                raise
            raise DataValidationError(
                f"{exc}; n defaults to augment_ratio={self.augment_ratio} x "
                f"{self.n_train_} training cells: pass a smaller n"
            ) from None
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
        the reference architecture and training schedule. When ``fit`` gets no
        ``validation`` tensor, its ``validation_fraction`` of the cells (reference: 0.2) is
        held out for early stopping and influence.
    augment_ratio : float
        Default ``n`` of ``sample`` as a share of the training cells (reference: 0.5).
    absolute : bool
        Sum absolute cell influences per entity (the reference code) rather than only the
        helpful (positive) part.
    tracin : {"recorded", "checkpoint"}
        How TracIn pairs the gradients (:class:`~structaug.tensor.TracInTracker`):
        ``"recorded"`` takes each training cell's gradient from the training forward pass, as
        the reference code does (no extra pass); ``"checkpoint"`` scores every training cell
        at each epoch's checkpoint, TracIn's definition (one more forward pass over the
        training cells per epoch).
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

    def __init__(
        self,
        *,
        estimator: NeuralTensorCompletion | None = None,
        augment_ratio: float = 0.5,
        absolute: bool = True,
        tracin: str = "recorded",
        random_state=None,
    ):
        super().__init__(estimator=estimator, augment_ratio=augment_ratio, random_state=random_state)
        self.absolute = absolute
        self.tracin = tracin

    def _validate_params(self) -> None:
        super()._validate_params()
        check_bool(self.absolute, "absolute")
        check_choice(self.tracin, TRACIN_MODES, "tracin")

    def _fit(  # type: ignore[override]
        self,
        data: ObservedTensor,
        validation: ObservedTensor | None = None,
        shape: Sequence[int] | None = None,
    ) -> None:
        train, val = self._split(data, validation, shape)
        est = self._new_estimator()
        tracker = TracInTracker(train, val, device=resolve_device(est.device), mode=self.tracin)
        est.fit(train, validation=val, shape=shape, tracker=tracker)
        t0 = time.perf_counter()
        self.cell_importance_ = tracker.cell_importance(est.best_epoch_)
        self.entity_importance_ = entity_importance(
            train, self.cell_importance_, shape=est.shape_, absolute=bool(self.absolute)
        )
        influence_s = tracker.seconds + time.perf_counter() - t0
        self._remember(train, val, est)
        self.timings_ = {
            "train_s": est.fit_time_ - tracker.seconds,
            "influence_s": influence_s,
            "epochs": est.train_result_.epochs_run,
            "best_epoch": est.best_epoch_,
        }

    def _probabilities(self) -> list[np.ndarray]:
        return self.entity_importance_


class RandomCellAugmenter(_ModelValuedAugmenter):
    """Control for DAIN: new cells drawn uniformly over the entities seen in training,
    valued by a trained completion model.

    ``fit(data, validation=None, prefit=None)`` trains the model like
    :class:`InfluenceAugmenter` (without influence scoring), or reuses ``prefit`` — e.g.
    ``InfluenceAugmenter.estimator_`` — so that the only difference is the cell choice.
    """

    def _fit(  # type: ignore[override]
        self,
        data: ObservedTensor,
        validation: ObservedTensor | None = None,
        shape: Sequence[int] | None = None,
        prefit: NeuralTensorCompletion | None = None,
    ) -> None:
        train, val = self._split(data, validation, shape)
        if prefit is None:
            est = self._new_estimator().fit(train, validation=val, shape=shape)
            self.timings_ = {"train_s": est.fit_time_}
        else:
            if not isinstance(prefit, NeuralTensorCompletion):
                raise InvalidParameterError(
                    f"prefit must be a fitted NeuralTensorCompletion, got {type(prefit).__name__}"
                )
            check_is_fitted(prefit, ["model_"])
            if len(prefit.shape_) != data.order:
                raise DataValidationError(
                    f"prefit was fitted on an order-{len(prefit.shape_)} tensor, data has order {data.order}"
                )
            for t, name in ((train, "data"), (val, "validation")):
                check_index_range(t.indices, list(prefit.shape_), f"{name}.indices (vs prefit.shape_)")
            est = prefit
            self.timings_ = {"train_s": 0.0}
        self._remember(train, val, est)
        self.support_ = []
        for m, size in enumerate(self.shape_):
            seen = (np.bincount(train.indices[:, m], minlength=size) > 0).astype(np.float64)
            self.support_.append(seen / seen.sum())

    def _probabilities(self) -> list[np.ndarray]:
        return self.support_
