"""Sparse tensors and DAIN (influence-guided augmentation for neural tensor completion).

* :class:`ObservedTensor` — the observed cells of an order-N tensor; converts to and from
  pydata/sparse, scipy sparse, torch sparse COO and tensorly.
* :class:`NeuralTensorCompletion` — the model DAIN augments (scikit-learn style regressor
  over cells); :class:`MeanCompletion`, :class:`TensorlyCompletion` (CP/Tucker) and
  :class:`XGBoostCompletion` are the baselines, with the same ``fit``/``predict``/``score``.
* :class:`InfluenceAugmenter` (DAIN) and :class:`RandomCellAugmenter` (its control):
  ``sample(data, n)`` returns ``n`` new cells (``sample_unit = "additions"``);
  :func:`fit_augmented` trains a fresh model on real + new cells.
* :class:`TracInTracker` / :func:`entity_importance` — DAIN's influence scores, for use
  with other pipelines.
* Loaders of the benchmark tensors (:data:`TENSOR_DATASETS`, :func:`load_tensor_dataset`, ...).

>>> from structaug.tensor import ObservedTensor, NeuralTensorCompletion, InfluenceAugmenter
"""

from ._augmenter import InfluenceAugmenter, RandomCellAugmenter, fit_augmented
from ._baselines import MeanCompletion, TensorlyCompletion, XGBoostCompletion
from ._completion import NeuralTensorCompletion
from ._container import ObservedTensor
from ._data import (
    TENSOR_DATASETS,
    load_comoda_tensor,
    load_movielens_tensor,
    load_tensor_dataset,
    load_tensorly_tensor,
    load_text_tensor,
    make_tensor,
)
from ._influence import TracInTracker, entity_importance

__all__ = [
    "TENSOR_DATASETS",
    "InfluenceAugmenter",
    "MeanCompletion",
    "NeuralTensorCompletion",
    "ObservedTensor",
    "RandomCellAugmenter",
    "TensorlyCompletion",
    "TracInTracker",
    "XGBoostCompletion",
    "entity_importance",
    "fit_augmented",
    "load_comoda_tensor",
    "load_movielens_tensor",
    "load_tensor_dataset",
    "load_tensorly_tensor",
    "load_text_tensor",
    "make_tensor",
]
