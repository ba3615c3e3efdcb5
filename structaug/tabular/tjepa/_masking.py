"""T-JEPA's feature masking: one context subset and several target subsets per row.

T-JEPA (Thimonier et al., ICLR 2025) never perturbs feature *values*. Its only "view" of a
row is a choice of *which features* the context encoder sees and which features' latent
representations the predictor must regress. Per mini-batch, as in the reference
``MaskCollator``:

1. a context size ``k_c = min_c + round((max_c - min_c) * u)`` and a target size ``k_t``
   (same rule) are drawn once, redrawn until ``k_c + k_t <= d``, so every row of the batch
   has masks of the same length and the batch stacks into one tensor (after 64 failed
   redraws the pair comes directly from the same conditional distribution: the unbounded
   loop practically hangs on wide tables with large minimum shares);
2. per row, the context is ``k_c`` features drawn without replacement;
3. per row, each of the ``n_targets`` target subsets is ``k_t`` features drawn without
   replacement from the features *not* in the context. Targets are disjoint from the
   context but may overlap each other (they are independent draws, as in the paper).

``min_c = max(1, round(d * min_context_share))`` etc. (at least one feature each; on narrow
tables the smallest sizes shrink so a context and a target fit in ``d``), with the paper's
defaults: context and target shares in ``[0.2, 0.4]`` and four target subsets per context.

:class:`~structaug.tabular.TJEPA` trains with a :class:`JEPAMasking` passed as its
``masking`` parameter (cloned and fitted in ``fit``, ``masking_``); its training loop calls
:meth:`JEPAMasking.draw` once per mini-batch with T-JEPA's own generator, so one seed drives
batch order and masks together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ...base import Augmenter, SampleRNG, check_is_fitted
from ...exceptions import DataValidationError, InvalidParameterError
from ...validation import check_fraction, check_positive_int
from .._encoder import check_n_features

__all__ = ["JEPAMasking", "JEPAMasks"]


@dataclass
class JEPAMasks:
    """Feature-index masks for a batch of rows.

    Attributes
    ----------
    context : ndarray or Tensor of shape (n_rows, n_context), int64
        Feature indices the context encoder sees, per row.
    targets : ndarray or Tensor of shape (n_rows, n_targets, n_target), int64
        Feature indices whose target-encoder representations are predicted, per row and
        target subset. Disjoint from ``context`` row by row.
    """

    context: Any
    targets: Any

    @property
    def n_rows(self) -> int:
        return int(self.context.shape[0])


_MAX_SIZE_TRIES = 64


def _size_distribution(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Sizes ``lo..hi`` and their probabilities under ``lo + round((hi - lo) * u)``, ``u ~ U[0, 1)``.

    Rounding gives the two end sizes half an interval each and the inner sizes a whole one.
    """
    r = hi - lo
    if r == 0:
        return np.asarray([lo]), np.asarray([1.0])
    p = np.full(r + 1, 1.0 / r)
    p[0] = p[-1] = 0.5 / r
    return np.arange(lo, hi + 1), p


def _n_columns(data: Any) -> int:
    shape = getattr(data, "shape", None)
    if shape is None:
        try:
            shape = np.asarray(data, dtype=object).shape
        except ValueError as exc:  # ragged rows
            raise DataValidationError(f"X could not be read as a table: {exc}") from exc
    if len(shape) != 2:
        raise DataValidationError(f"X must be a 2-D table (rows x features), got shape {tuple(shape)}")
    return int(shape[1])


class JEPAMasking(Augmenter):
    """Draw T-JEPA context/target feature subsets (the paper's only augmentation-free "view").

    ``sample_unit = "views"``: ``sample(X, n)`` returns ``n`` mask draws, each covering every
    row of ``X`` (a tuple of ``n`` :class:`JEPAMasks`); ``n=None`` means ``default_n`` (1).

    Parameters
    ----------
    min_context_share, max_context_share : float, default=0.2, 0.4
        Range of the fraction of features in the context (reference ``mask_*_ctx_share``).
    min_target_share, max_target_share : float, default=0.2, 0.4
        Range of the fraction of features in each target subset.
    n_targets : int, default=4
        Target subsets per context (reference ``mask_num_preds``).
    random_state : int, Generator or None
        Seed of the sampling stream.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen in ``fit``.
    context_size_range_, target_size_range_ : tuple of int
        ``(min, max)`` number of features per context / target subset.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(8, 10))
    >>> (m,) = JEPAMasking(random_state=0).fit(X).sample(X)   # one draw (default_n = 1)
    >>> m.context.shape[0], m.targets.shape[:2]
    (8, (8, 4))
    """

    #: ``sample(X, n)``: ``n`` mask draws, each covering every row of ``X``
    sample_unit: ClassVar[str] = "views"
    #: ``sample(X)`` gives one draw
    default_n: ClassVar[int] = 1

    def __init__(
        self,
        *,
        min_context_share: float = 0.2,
        max_context_share: float = 0.4,
        min_target_share: float = 0.2,
        max_target_share: float = 0.4,
        n_targets: int = 4,
        random_state: Any = None,
    ):
        self.min_context_share = min_context_share
        self.max_context_share = max_context_share
        self.min_target_share = min_target_share
        self.max_target_share = max_target_share
        self.n_targets = n_targets
        self.random_state = random_state

    def _validate_params(self) -> None:
        for name in ("min_context_share", "max_context_share", "min_target_share", "max_target_share"):
            check_fraction(getattr(self, name), name)
        if self.min_context_share > self.max_context_share:
            raise InvalidParameterError(
                f"min_context_share ({self.min_context_share}) must be <= max_context_share ({self.max_context_share})"
            )
        if self.min_target_share > self.max_target_share:
            raise InvalidParameterError(
                f"min_target_share ({self.min_target_share}) must be <= max_target_share ({self.max_target_share})"
            )
        if self.min_context_share + self.min_target_share > 1:
            raise InvalidParameterError(
                f"min_context_share + min_target_share must be <= 1 (context and targets are disjoint), got "
                f"{self.min_context_share} + {self.min_target_share}"
            )
        check_positive_int(self.n_targets, "n_targets")

    def _fit(self, data: Any, **kwargs: Any) -> None:
        d = _n_columns(data)
        if d < 2:
            raise DataValidationError(
                f"T-JEPA masking needs at least 2 features (a context and a disjoint target), got n_features={d}"
            )
        # At least one feature in each subset even on narrow tables (the reference asserts > 0).
        lo_c = max(1, round(d * self.min_context_share))
        hi_c = max(lo_c, round(d * self.max_context_share))
        lo_t = max(1, round(d * self.min_target_share))
        hi_t = max(lo_t, round(d * self.max_target_share))
        # Rounding can make the smallest pair overlap on narrow tables: shrink it to fit.
        lo_c = min(lo_c, d - 1)
        lo_t = min(lo_t, d - lo_c)
        hi_c, hi_t = max(hi_c, lo_c), max(hi_t, lo_t)
        self.n_features_in_ = d
        self.context_size_range_ = (int(lo_c), int(hi_c))
        self.target_size_range_ = (int(lo_t), int(hi_t))

    # -- sampling ----------------------------------------------------------------------
    def _draw_sizes(self, rng: np.random.Generator) -> tuple[int, int]:
        """One (context, target) size pair for a whole batch, redrawn until they fit.

        The reference redraws without bound. With wide tables and large minimum shares almost
        every pair overflows (``d=1000``, shares in ``[0.5, 1]``: one pair in a million fits,
        ~10 s per batch), so after ``_MAX_SIZE_TRIES`` rejections the pair is drawn directly
        from the same conditional distribution (the rejection loop's target), which ends at once.
        """
        (lo_c, hi_c), (lo_t, hi_t) = self.context_size_range_, self.target_size_range_
        for _ in range(_MAX_SIZE_TRIES):  # in practice the first tries succeed: the reference's stream
            k_c = lo_c + int(np.round((hi_c - lo_c) * rng.random()))
            k_t = lo_t + int(np.round((hi_t - lo_t) * rng.random()))
            if k_c + k_t <= self.n_features_in_:
                return k_c, k_t
        kc, pc = _size_distribution(lo_c, hi_c)
        kt, pt = _size_distribution(lo_t, hi_t)
        joint = pc[:, None] * pt[None, :]
        joint[kc[:, None] + kt[None, :] > self.n_features_in_] = 0.0  # (lo_c, lo_t) always fits
        i = int(rng.choice(joint.size, p=(joint / joint.sum()).ravel()))
        return int(kc[i // len(kt)]), int(kt[i % len(kt)])

    def draw(self, n_rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One draw of masks for ``n_rows`` rows from ``rng``, unchecked (the training loop's call).

        :meth:`sample` checks its input and draws from the augmenter's own stream;
        :class:`~structaug.tabular.TJEPA` calls this once per mini-batch with its own
        generator instead. Vectorised: a row's random permutation is the argsort of uniform
        noise, so a batch costs two argsorts instead of a Python loop over rows.

        Returns
        -------
        context : ndarray of shape (n_rows, k_c), int64
        targets : ndarray of shape (n_rows, n_targets, k_t), int64
        """
        check_is_fitted(self, ["n_features_in_"])
        d = self.n_features_in_
        k_c, k_t = self._draw_sizes(rng)
        perm = np.argsort(rng.random((n_rows, d)), axis=1)
        context, rest = perm[:, :k_c], perm[:, k_c:]
        # each target: an independent k_t-subset of the non-context features of that row
        pick = np.argsort(rng.random((n_rows, self.n_targets, d - k_c)), axis=2)[:, :, :k_t]
        targets = np.take_along_axis(rest[:, None, :].repeat(self.n_targets, axis=1), pick, axis=2)
        return np.sort(context, axis=1).astype(np.int64), np.sort(targets, axis=2).astype(np.int64)

    def sample(self, data: Any = None, n: int | None = None, *, random_state: Any = None) -> tuple[JEPAMasks, ...]:
        """``n`` mask draws for the rows of ``data``.

        Parameters
        ----------
        data : array-like, DataFrame or Tensor of shape (n_rows, n_features_in_)
            The rows to mask (only their number and width are read).
        n : int or None
            ``sample_unit = "views"``: ``sample(data, n)`` returns ``n`` mask draws, each
            covering EVERY row of ``data``; ``None`` means ``default_n`` (1). Each draw has
            its own context/target sizes (shared by the rows of that draw, as in a batch).
        random_state : int, Generator or None
            Overrides the augmenter's own sampling stream for this call.

        Returns
        -------
        tuple of ``n`` JEPAMasks
            ``context`` of shape (n_rows, k_c), ``targets`` of shape (n_rows, n_targets, k_t),
            int64; torch tensors on ``data``'s device when ``data`` is a tensor.
        """
        return super().sample(data, n, random_state=random_state)

    def _sample(self, data: Any, n: int | None, rng: SampleRNG) -> tuple[JEPAMasks, ...]:
        if data is None:
            raise InvalidParameterError("pass the rows to mask as data (a table or tensor); got None")
        check_n_features(self, _n_columns(data))
        n_rows = int(data.shape[0]) if hasattr(data, "shape") else len(data)
        out = []
        for _ in range(self.default_n if n is None else n):
            context, targets = self.draw(n_rows, rng.np)
            if isinstance(data, torch.Tensor):
                out.append(
                    JEPAMasks(torch.from_numpy(context).to(data.device), torch.from_numpy(targets).to(data.device))
                )
            else:
                out.append(JEPAMasks(context, targets))
        return tuple(out)

    def _count_sampled(self, out: tuple[JEPAMasks, ...], data: Any) -> int:
        """Mask draws in ``out = sample(data, n)``: the tuple's length, each draw covering every row."""
        n_rows = int(data.shape[0]) if hasattr(data, "shape") else len(data)
        if not all(m.n_rows == n_rows for m in out):
            raise AssertionError(f"every draw must cover the {n_rows} rows of data")
        return len(out)
