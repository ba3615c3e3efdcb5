"""LocalAugment: the PyG transform that attaches a graph augmenter's generated features."""

from __future__ import annotations

from typing import Any

from sklearn.base import clone
from torch_geometric.transforms import BaseTransform

from ..base import check_is_fitted
from ..exceptions import InvalidParameterError
from ..validation import check_positive_int
from ._augmenter import LocalAugmenter, _check_attr_name, _check_free_attr, _check_graph_type, _NodeFeatureAugmenter

__all__ = ["LocalAugment"]


class LocalAugment(BaseTransform):
    """PyG transform attaching LAGNN-generated neighbour features to a ``Data`` object.

    Parameters
    ----------
    augmenter : LocalAugmenter or RandomNeighborAugmenter, optional
        A fitted or unfitted augmenter (default: ``LocalAugmenter()`` with paper defaults).
        A fitted one is used as it is (its sampling stream advances, as with ``sample``); an
        unfitted one is never modified: a clone of it is fitted on the first graph the
        transform sees and kept as ``augmenter_`` for the later graphs.
    n_samples : int, default 1
        Generated feature vectors per node and call (``data.<attr>`` gets shape
        ``[N, n_samples, F]``, node-first, so a PyG ``DataLoader`` batches it like ``x``).
    attr : str, default "x_aug"
        Attribute to write. PyG's own names (``x``, ``edge_index``, ``y``, masks, ...), names
        of ``Data`` methods/properties and names containing ``index`` or ``batch`` (which PyG
        offsets when batching) raise :class:`~structaug.exceptions.InvalidParameterError`.

    Attributes
    ----------
    augmenter_ : LocalAugmenter or RandomNeighborAugmenter
        The fitted augmenter the transform draws from (after the first call).

    Raises
    ------
    DataValidationError
        At call time, when the graph already has ``attr`` (e.g. the transform applied
        twice): the transform never overwrites or stacks; delete the attribute first.

    Examples
    --------
    >>> import torch_geometric.transforms as T
    >>> transform = T.Compose([LocalAugment(LocalAugmenter(random_state=0), n_samples=2),
    ...                        T.NormalizeFeatures()])
    >>> data = transform(data)          # data.x_aug: [N, 2, F]
    """

    def __init__(self, augmenter: LocalAugmenter | None = None, *, n_samples: int = 1, attr: str = "x_aug"):
        check_positive_int(n_samples, "n_samples")
        if augmenter is not None and not isinstance(augmenter, _NodeFeatureAugmenter):
            raise InvalidParameterError(
                f"augmenter must be a LocalAugmenter or RandomNeighborAugmenter, got {type(augmenter).__name__}"
            )
        self.augmenter = augmenter if augmenter is not None else LocalAugmenter()
        self.n_samples = n_samples
        self.attr = _check_attr_name(attr)

    def forward(self, data: Any) -> Any:
        """A copy of ``data`` with ``data.<attr>`` [N, n_samples, F] (fits the augmenter first if
        it is unfitted); checks run before the fit."""
        _check_graph_type(data)
        _check_free_attr(data, self.attr)
        if not hasattr(self, "augmenter_"):
            fitted = getattr(self.augmenter, "is_fitted_", False)
            self.augmenter_ = self.augmenter if fitted else clone(self.augmenter).fit(data)
        aug = self.augmenter_
        check_is_fitted(aug, aug._fitted_attributes)
        out = data.clone()
        out[self.attr] = aug._generate(data, self.n_samples, aug._sample_rng)
        return out

    def __repr__(self) -> str:
        fitted = "fitted" if getattr(getattr(self, "augmenter_", self.augmenter), "is_fitted_", False) else "unfitted"
        return (
            f"{type(self).__name__}(n_samples={self.n_samples}, attr={self.attr!r}, "
            f"augmenter={self.augmenter!r} [{fitted}])"
        )
