"""Sparse tensors and DAIN (influence-guided augmentation for neural tensor completion).

>>> from structaug.tensor import ObservedTensor, NeuralTensorCompletion, InfluenceAugmenter
"""
from ._augmenter import InfluenceAugmenter, RandomCellAugmenter, draw_new_cells, fit_augmented
from ._baselines import MeanCompletion, TensorlyCompletion, XGBoostCompletion
from ._completion import EmbeddingMLP, NeuralTensorCompletion, split_embedding_dim
from ._container import ObservedTensor, cell_keys
from ._data import (TENSOR_DATASETS, load_comoda_tensor, load_movielens_tensor, load_tensor_dataset,
                   load_tensorly_tensor, load_text_tensor, make_tensor)
from ._influence import TracInTracker, entity_importance, last_layer_gradients

__all__ = [
    "ObservedTensor", "cell_keys", "NeuralTensorCompletion", "EmbeddingMLP", "split_embedding_dim",
    "InfluenceAugmenter", "RandomCellAugmenter", "draw_new_cells", "fit_augmented",
    "TracInTracker", "entity_importance", "last_layer_gradients",
    "MeanCompletion", "TensorlyCompletion", "XGBoostCompletion",
    "TENSOR_DATASETS", "load_tensor_dataset", "load_movielens_tensor", "load_comoda_tensor",
    "load_tensorly_tensor", "load_text_tensor", "make_tensor",
]
