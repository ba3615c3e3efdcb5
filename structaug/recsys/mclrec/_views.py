"""CL4SRec's three sequence operators (crop, mask, reorder) as one vectorised augmenter.

Every operator works on a whole left-aligned padded batch at once (gather/scatter on
``[B, T]`` tensors, no Python loop over sequences), so views are made on the training
device inside the training loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from ...base import Augmenter, SampleRNG, check_is_fitted
from ...exceptions import DataValidationError, InvalidParameterError
from ...validation import check_fraction, check_positive_int
from ._data import sequence_lengths

__all__ = ["OPERATORS", "SequenceViews", "check_padded", "check_view_params", "crop", "make_views", "mask", "reorder"]

OPERATORS = ("crop", "mask", "reorder")


def check_view_params(
    *, crop_ratio: float, mask_ratio: float, reorder_ratio: float, operators: Sequence[str] = OPERATORS
) -> None:
    """Check the views' settings (``InvalidParameterError`` naming the bad one).

    ``crop_ratio`` and ``reorder_ratio`` lie in (0, 1] (a crop keeps at least one item anyway,
    but 0 is surely a typo), ``mask_ratio`` in [0, 1] (0 = no masking); NaN fails every
    bound. ``operators`` is a non-empty tuple of distinct names from ``OPERATORS``.
    """
    check_fraction(crop_ratio, "crop_ratio")
    check_fraction(mask_ratio, "mask_ratio", inclusive_low=True)
    check_fraction(reorder_ratio, "reorder_ratio")
    ops = (operators,) if isinstance(operators, str) else tuple(operators)
    bad = [o for o in ops if o not in OPERATORS]
    if isinstance(operators, str) or not ops or bad or len(set(ops)) != len(ops):
        raise InvalidParameterError(f"operators must be a tuple of distinct names from {OPERATORS}, got {operators!r}")


def _window(lengths: torch.Tensor, ratio: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Size ``floor(L * ratio)`` (at least 1) and a uniform start in ``[0, L - size]`` per row."""
    size = torch.clamp((lengths.double() * ratio).floor().long(), min=1)
    size = torch.minimum(size, lengths.clamp(min=1))
    span = (lengths - size + 1).clamp(min=1)
    start = (torch.rand(lengths.shape, generator=gen, device=lengths.device) * span).long()
    return size, torch.minimum(start, span - 1)


def crop(seqs: torch.Tensor, ratio: float, gen: torch.Generator) -> torch.Tensor:
    """Keep a random contiguous ``floor(L * ratio)`` sub-sequence, moved to the front."""
    lengths = sequence_lengths(seqs)
    size, start = _window(lengths, ratio, gen)
    pos = torch.arange(seqs.shape[1], device=seqs.device).unsqueeze(0)
    src = (start.unsqueeze(1) + pos).clamp(max=seqs.shape[1] - 1)
    out = seqs.gather(1, src)
    out = torch.where(pos < size.unsqueeze(1), out, torch.zeros_like(out))
    return torch.where((lengths > 1).unsqueeze(1), out, seqs)


def mask(seqs: torch.Tensor, ratio: float, mask_id: int, gen: torch.Generator) -> torch.Tensor:
    """Replace ``floor(L * ratio)`` random positions of each sequence by ``mask_id``."""
    lengths = sequence_lengths(seqs)
    n_mask = (lengths.double() * ratio).floor().long()
    keys = torch.rand(seqs.shape, generator=gen, device=seqs.device)
    pos = torch.arange(seqs.shape[1], device=seqs.device).unsqueeze(0)
    keys = torch.where(pos < lengths.unsqueeze(1), keys, torch.full_like(keys, 2.0))  # padding ranks last
    rank = keys.argsort(1).argsort(1)
    hit = (rank < n_mask.unsqueeze(1)) & (lengths > 1).unsqueeze(1)
    return torch.where(hit, torch.full_like(seqs, mask_id), seqs)


def reorder(seqs: torch.Tensor, ratio: float, gen: torch.Generator) -> torch.Tensor:
    """Shuffle a random contiguous ``floor(L * ratio)`` sub-sequence in place."""
    lengths = sequence_lengths(seqs)
    size, start = _window(lengths, ratio, gen)
    pos = torch.arange(seqs.shape[1], device=seqs.device).unsqueeze(0)
    inside = (pos >= start.unsqueeze(1)) & (pos < (start + size).unsqueeze(1)) & (lengths > 1).unsqueeze(1)
    # keys outside the window are their positions; inside they are uniform over
    # [start - 0.5, start + size - 0.5), so sorting shuffles exactly the window
    u = torch.rand(seqs.shape, generator=gen, device=seqs.device)
    keys = torch.where(inside, start.unsqueeze(1) - 0.5 + u * size.unsqueeze(1), pos.double().expand_as(u).to(u.dtype))
    return seqs.gather(1, keys.argsort(1))


def make_views(
    seqs: torch.Tensor,
    n_views: int,
    gen: torch.Generator,
    *,
    crop_ratio: float = 0.5,
    mask_ratio: float = 0.5,
    reorder_ratio: float = 0.8,
    mask_id: int,
    operators: Sequence[str] = OPERATORS,
) -> list[torch.Tensor]:
    """``n_views`` augmented copies of ``seqs``, each row from a randomly chosen operator.

    A row's views use *different* operators while ``n_views <= len(operators)`` (CL4SRec's
    ``random.sample(ops, 2)``); sequences of length <= 1 are returned unchanged.
    """
    check_positive_int(n_views, "n_views")
    ops = list(operators)
    outs = []
    for name in ops:
        if name == "crop":
            outs.append(crop(seqs, crop_ratio, gen))
        elif name == "mask":
            outs.append(mask(seqs, mask_ratio, mask_id, gen))
        else:
            outs.append(reorder(seqs, reorder_ratio, gen))
    stacked = torch.stack(outs)  # [n_ops, B, T]
    b = seqs.shape[0]
    if n_views <= len(ops):
        choice = torch.rand(b, len(ops), generator=gen, device=seqs.device).argsort(1)[:, :n_views]
    else:
        choice = torch.randint(len(ops), (b, n_views), generator=gen, device=seqs.device)
    rows = torch.arange(b, device=seqs.device)
    return [stacked[choice[:, v], rows] for v in range(n_views)]


def check_padded(seqs, name: str = "sequences") -> torch.Tensor:
    """Check a left-aligned, zero-padded 2-D LongTensor of item ids."""
    if not isinstance(seqs, torch.Tensor):
        raise InvalidParameterError(f"{name} must be a padded torch.LongTensor [n, max_len], got {type(seqs).__name__}")
    if seqs.dim() != 2:
        raise DataValidationError(f"{name} must be 2-D [n, max_len], got shape {tuple(seqs.shape)}")
    if seqs.dtype not in (torch.int64, torch.int32):
        raise DataValidationError(f"{name} must hold integer item ids, got dtype {seqs.dtype}")
    if seqs.numel() and int(seqs.min()) < 0:
        raise DataValidationError(f"{name} has negative ids; 0 is padding and items are 1..n_items")
    nz = seqs != 0
    # left-aligned: once a row has a zero, everything after is zero
    if seqs.shape[1] > 1 and bool((nz[:, 1:] & ~nz[:, :-1]).any()):
        raise DataValidationError(f"{name} must be left-aligned (items first, zero padding after)")
    return seqs


class SequenceViews(Augmenter):
    """``n`` (default 2) contrastive views of every item sequence: crop, mask or reorder (CL4SRec).

    The augmenter :class:`~structaug.recsys.mclrec.SequentialRecommender` trains with (its
    ``views`` parameter): ``SequentialRecommender(views=SequenceViews(crop_ratio=0.3))``, and
    ``set_params(views__crop_ratio=0.4)`` reaches it. The training loop draws each batch's views
    through :meth:`draw` with the training generator.

    Parameters
    ----------
    crop_ratio : float
        Fraction of a sequence a crop keeps (contiguous), ``eta`` in CL4SRec; 0.5 in MCLRec.
        (The MCLRec reference code keeps ``1 - crop_ratio``; equal at 0.5, see docs/mclrec.md.)
    mask_ratio : float
        Fraction of items replaced by the mask token, ``gamma``; 0.5.
    reorder_ratio : float
        Fraction of a sequence (contiguous) that is shuffled, ``beta``; 0.8.
    mask_id : int or None
        The mask token. Pass the model's (``n_items + 1``, e.g. ``SequenceLog.mask_id``): ``None``
        uses one past the largest id seen in ``fit``, which is ``n_items + 1`` only when the
        fitted tensor contains the largest item id (prefix inputs or a subset may not, and a
        masked position would then read as a real item).
    operators : tuple of str
        Subset of ``("crop", "mask", "reorder")`` to draw from.
    random_state : int, Generator or None

    Input and output
    ----------------
    ``fit``/``sample`` take a **left-aligned zero-padded LongTensor** ``[n_seqs, max_len]``
    (what :func:`~structaug.recsys.mclrec.pad_sequences` makes). ``sample_unit = "views"``:
    ``sample(seqs, n)`` returns ``n`` augmented views of EVERY sequence of ``seqs``, a tuple of
    ``n`` tensors ``[n_seqs, max_len]`` of the input's dtype and device (view ``v`` of row ``i``
    is ``out[v][i]``); ``n=None`` means ``default_n = 2`` (CL4SRec's pair). A row's views use
    different operators while ``n <= len(operators)``; rows of length <= 1 are copied unchanged.

    Input checks: parameters are checked in ``fit`` (``InvalidParameterError`` naming them, see
    :func:`check_view_params`); ``fit`` on an empty or all-padding tensor raises
    ``DataValidationError``; ``sample`` on an empty ``[0, T]`` batch returns ``n`` empty views;
    a non-tensor, 1-D, float, negative or right-aligned input raises an error naming
    ``sequences``; ``n < 1`` raises ``InvalidParameterError`` naming ``n``.

    Examples
    --------
    >>> v1, v2 = SequenceViews(random_state=0).fit(padded).sample(padded)
    """

    #: ``sample(seqs, n)`` returns ``n`` views of every sequence
    sample_unit: ClassVar[str] = "views"
    #: ``n=None``: two views, the pair CL4SRec and MCLRec contrast
    default_n: ClassVar[int] = 2

    def __init__(
        self,
        *,
        crop_ratio: float = 0.5,
        mask_ratio: float = 0.5,
        reorder_ratio: float = 0.8,
        mask_id: int | None = None,
        operators: tuple[str, ...] = OPERATORS,
        random_state=None,
    ):
        self.crop_ratio = crop_ratio
        self.mask_ratio = mask_ratio
        self.reorder_ratio = reorder_ratio
        self.mask_id = mask_id
        self.operators = operators
        self.random_state = random_state

    def _validate_params(self) -> None:
        check_view_params(
            crop_ratio=self.crop_ratio,
            mask_ratio=self.mask_ratio,
            reorder_ratio=self.reorder_ratio,
            operators=self.operators,
        )
        if self.mask_id is not None:
            check_positive_int(self.mask_id, "mask_id")  # 0 is padding

    def _fit(self, data, **kwargs) -> None:
        seqs = check_padded(data)
        if seqs.numel() == 0 or not bool((seqs != 0).any()):
            raise DataValidationError(
                f"sequences has no items (shape {tuple(seqs.shape)}, all padding); fit on the padded training sequences"
            )
        self.max_len_ = int(seqs.shape[1])
        top = int(seqs.max()) if seqs.numel() else 0
        if self.mask_id is not None and top >= int(self.mask_id):
            raise DataValidationError(
                f"item id {top} collides with or exceeds mask_id={int(self.mask_id)}; the mask token must be "
                "larger than every item id"
            )
        self.mask_id_ = int(self.mask_id) if self.mask_id is not None else top + 1

    def sample(self, data: Any = None, n: int | None = None, *, random_state=None) -> tuple[torch.Tensor, ...]:
        """``n`` augmented views of every sequence of ``data``.

        Parameters
        ----------
        data : LongTensor of shape (n_seqs, max_len)
            Left-aligned, zero-padded item ids (ids below the fitted ``mask_id_``).
        n : int or None
            ``sample_unit = "views"``: ``sample(data, n)`` returns ``n`` augmented views of
            EVERY sequence in ``data``; ``None`` means ``default_n`` (2).
        random_state : int, Generator or None
            Overrides the augmenter's own sampling stream for this call.

        Returns
        -------
        tuple of ``n`` LongTensors of shape (n_seqs, max_len)
            Same dtype and device as ``data``.
        """
        return super().sample(data, n, random_state=random_state)

    def _sample(self, data, n, rng: SampleRNG):
        seqs = check_padded(data)
        n_views = self.default_n if n is None else check_positive_int(n, "n")
        # an item equal to the mask token would be indistinguishable from a masked position
        if seqs.numel() and int(seqs.max()) >= self.mask_id_:
            raise DataValidationError(
                f"item id {int(seqs.max())} collides with or exceeds mask_id_={self.mask_id_}; "
                "refit on data with every item id"
            )
        views = self.draw(seqs.long(), n_views, rng.torch(seqs.device))
        return tuple(v.to(seqs.dtype) for v in views)

    def draw(self, seqs: torch.Tensor, n: int, generator: torch.Generator) -> list[torch.Tensor]:
        """``n`` views of every row of ``seqs`` from ``generator``, unchecked (the training loop's call).

        :meth:`sample` checks its input and draws from the augmenter's own stream; a training
        loop calls this once per batch instead, with its own generator, so one seed drives batch
        order and views together (the draws are those of
        :func:`make_views`). The caller guarantees a fitted augmenter and a valid LongTensor
        ``[B, T]`` on ``generator``'s device (no per-batch checks: they would synchronise a GPU).

        Parameters
        ----------
        seqs : LongTensor of shape (B, T)
            Left-aligned, zero-padded item ids below ``mask_id_``.
        n : int
            Views per row.
        generator : torch.Generator

        Returns
        -------
        list of ``n`` LongTensors of shape (B, T)
        """
        check_is_fitted(self, ["mask_id_"])
        return make_views(
            seqs,
            n,
            generator,
            crop_ratio=self.crop_ratio,
            mask_ratio=self.mask_ratio,
            reorder_ratio=self.reorder_ratio,
            mask_id=self.mask_id_,
            operators=self.operators,
        )

    def _count_sampled(self, out: tuple[torch.Tensor, ...], data: torch.Tensor) -> int:
        """Views per sequence in ``out = sample(data, n)``: the tuple's length, each view covering every row."""
        if not all(v.shape == data.shape for v in out):
            raise AssertionError(f"every view must have the input's shape {tuple(data.shape)}")
        return len(out)
