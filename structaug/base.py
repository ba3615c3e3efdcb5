"""The Augmenter base class shared by every method.

It follows scikit-learn's estimator contract (parameters only in ``__init__``, ``fit``
returns ``self``, learned state in trailing-underscore attributes, ``clone``-able) and
SDV's ``fit``/``sample`` verbs.

Randomness
----------
``fit`` seeds from ``random_state``. ``sample`` then draws from a generator the fitted
augmenter owns, so repeated calls give *fresh* augmentations (what a training loop that
re-augments every epoch needs) while the whole sequence of calls is reproducible after a
re-fit with the same seed. ``sample(..., random_state=k)`` uses a fresh generator from
``k`` and returns exactly the same output every time.

What ``n`` counts
-----------------
Every augmenter declares what ``n`` in ``sample(data, n)`` counts, in the class attribute
:attr:`Augmenter.sample_unit`:

``"views"``
    ``sample(data, n)`` returns ``n`` augmented views of EVERY element of ``data`` (e.g.
    ``n`` generated feature matrices per node, ``n`` views per sequence, ``n`` feature-subset
    views of a table). ``n=None`` means :attr:`Augmenter.default_n` (or, where that is
    ``None``, the class's own parameter, e.g. ``n_views``).
``"additions"``
    ``sample(data, n)`` returns ``n`` NEW elements in total (new tensor cells, new
    user-item triples). ``n=None`` means the amount the class's ratio/size parameter sets.

:meth:`Augmenter._count_sampled` returns how many units an output holds, so
:func:`structaug.testing.check_augmenter` can assert it equals ``n``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted as _sk_check_is_fitted

from .exceptions import NotFittedError
from .random import RandomState, check_random_state, torch_generator
from .validation import check_positive_int

__all__ = ["SAMPLE_UNITS", "Augmenter", "NotFittedError", "SampleRNG", "check_is_fitted", "reset_fitted"]

#: the meanings ``n`` can have in ``Augmenter.sample(data, n)`` (see the module docstring)
SAMPLE_UNITS: tuple[str, ...] = ("views", "additions")


def reset_fitted(estimator: Any) -> None:
    """Forget what a previous ``fit`` learned: every fitted attribute (name ending in ``_``).

    Called first thing in ``fit``, so a refit that fails half-way (bad data found after the
    vocabularies were built, a hold-out too small) leaves an unfitted estimator, never the
    previous model next to the new data's classes or ids. Private attributes without the
    trailing ``_`` are left alone: scikit-learn keeps its own state there (e.g. callbacks set
    by a ``Pipeline`` before ``fit``).
    """
    params = estimator.get_params(deep=False)
    for name in [k for k in vars(estimator) if k.endswith("_") and not k.endswith("__") and k not in params]:
        delattr(estimator, name)


def check_is_fitted(estimator: Any, attributes: str | list[str] | None = None) -> None:
    """Raise :class:`NotFittedError` naming the estimator and the call order to use."""
    msg = (
        f"This {type(estimator).__name__} instance is not fitted yet. "
        "Call 'fit' with appropriate arguments before using this method."
    )
    _sk_check_is_fitted(estimator, attributes, msg=msg)


class SampleRNG:
    """A numpy Generator plus lazily-made torch Generators per device."""

    def __init__(self, rng: np.random.Generator):
        self.np = rng
        self._torch: dict[str, torch.Generator] = {}

    def torch(self, device: torch.device | str = "cpu") -> torch.Generator:
        key = str(torch.device(device))
        if key not in self._torch:
            self._torch[key] = torch_generator(self.np, key)
        return self._torch[key]

    # torch Generators pickle their state as a tensor, which ``torch.load(map_location=...)``
    # moves onto the target device and then rejects ("RNG state must be a torch.ByteTensor"):
    # pickle the states as bytes instead, so a fitted augmenter saved on a GPU loads anywhere.
    def __getstate__(self) -> dict:
        return {"np": self.np, "torch": {k: bytes(g.get_state().numpy().tobytes()) for k, g in self._torch.items()}}

    def __setstate__(self, state: dict) -> None:
        self.np = state["np"]
        self._torch = {}
        for key, raw in state["torch"].items():
            dev = torch.device(key)
            if dev.type == "cuda" and not torch.cuda.is_available():
                continue  # that stream is recreated from ``np`` if this object reaches a GPU
            g = torch.Generator(device=dev)
            g.set_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8))
            self._torch[key] = g


class Augmenter(BaseEstimator):
    """Base class: learn what to generate in ``fit``, generate in ``sample``.

    Subclasses implement ``_fit(data, **kwargs)`` (set trailing-underscore attributes) and
    ``_sample(data, n, rng)`` where ``rng`` is a :class:`SampleRNG`, declare what ``n``
    counts (:attr:`sample_unit`, :attr:`default_n`) and implement :meth:`_count_sampled`.
    Public methods do the validation and bookkeeping.

    Attributes
    ----------
    sample_unit : {"views", "additions"}
        Class attribute: what ``n`` counts in ``sample(data, n)``. ``"views"``: ``n``
        augmented views of every element of ``data``; ``"additions"``: ``n`` new elements
        in total.
    default_n : int or None
        Class attribute: the number of views ``n=None`` gives a ``"views"`` augmenter;
        ``None`` where a constructor parameter (e.g. ``n_views``) or, for ``"additions"``,
        a ratio/size parameter sets it.
    """

    #: what ``n`` counts in ``sample(data, n)``: one of :data:`SAMPLE_UNITS`; every subclass sets it.
    sample_unit: ClassVar[str | None] = None
    #: what ``n=None`` means for a ``"views"`` augmenter (``None``: a parameter or ratio sets it).
    default_n: ClassVar[int | None] = None
    #: attributes that must exist after fit; ``None`` means "any attribute ending in _".
    _fitted_attributes: list[str] | None = None

    # -- public API -------------------------------------------------------------------
    def fit(self, data: Any, **kwargs: Any) -> Augmenter:
        """Learn from ``data``; returns ``self``."""
        reset_fitted(self)
        self._validate_params()
        rng = check_random_state(getattr(self, "random_state", None))
        # Seed for this fit's own randomness, then a separate stream for sample().
        self._fit_rng = SampleRNG(np.random.default_rng(int(rng.integers(2**63 - 1))))
        self._sample_rng = SampleRNG(np.random.default_rng(int(rng.integers(2**63 - 1))))
        self._fit(data, **kwargs)
        self.is_fitted_ = True
        return self

    def sample(self, data: Any = None, n: int | None = None, *, random_state: RandomState = None) -> Any:
        """Generate augmented data of the same kind as the fitted data.

        Parameters
        ----------
        data : object, optional
            Data to augment (for augmenters that transform an input); defaults to the
            data seen in ``fit`` where the method supports that.
        n : int, optional
            What ``n`` counts is declared by the class's :attr:`sample_unit`:

            - ``"views"``: ``sample(data, n)`` returns ``n`` augmented views of EVERY
              element of ``data``; ``n=None`` means :attr:`default_n` (or the class's
              own parameter where ``default_n`` is ``None``).
            - ``"additions"``: ``sample(data, n)`` returns ``n`` NEW elements in total;
              ``n=None`` means the amount the class's ratio/size parameter sets.
        random_state : int or Generator, optional
            Overrides the augmenter's own sampling stream for this call.
        """
        check_is_fitted(self, self._fitted_attributes)
        if n is not None:
            # zero new elements is a valid (empty) addition; zero views of every element is not
            check_positive_int(n, "n", minimum=1 if self.sample_unit == "views" else 0)
        rng = self._sample_rng if random_state is None else SampleRNG(check_random_state(random_state))
        return self._sample(data, n, rng)

    def fit_sample(self, data: Any, n: int | None = None, **kwargs: Any) -> Any:
        """``fit(data, **kwargs)`` then ``sample(data, n)``."""
        return self.fit(data, **kwargs).sample(data, n)

    # -- hooks ------------------------------------------------------------------------
    def _validate_params(self) -> None:
        """Check constructor parameters; subclasses extend."""

    def _fit(self, data: Any, **kwargs: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample(self, data: Any, n: int | None, rng: SampleRNG) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _count_sampled(self, out: Any, data: Any) -> int:
        """How many units of :attr:`sample_unit` ``out = sample(data, n)`` holds.

        Views per element of ``data`` for ``"views"``, new elements in total for
        ``"additions"``; :func:`structaug.testing.check_augmenter` asserts it equals ``n``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement _count_sampled(out, data) -> int "
            f"(how many {self.sample_unit or 'units'} a sample holds)"
        )

    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "is_fitted_", False)
