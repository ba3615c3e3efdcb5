"""Graph augmentation: LAGNN local augmentation (Liu et al., ICML 2022) for PyG.

>>> from structaug.graph import LocalAugmenter, LAGCN, fit_node_model
>>> aug = LocalAugmenter(random_state=0).fit(data)            # CVAE p(x_j | x_i) over edges
>>> data_aug = aug.sample(data, n=2)                           # data_aug.x_aug: [N, 2, F]
>>> res = fit_node_model("lagcn", data, sampler=aug.feature_sampler(data), dataset="Cora")
"""
from ._cvae import NeighborCVAE, row_normalize
from ._augmenter import LocalAugment, LocalAugmenter
from ._models import GAT, GCN, GCNII, LAGAT, LAGCN, LAGCNII
from ._samplers import CVAEFeatureSampler, RandomNeighborSampler
from ._training import (MODEL_KINDS, PAPER_CONFIGS, NodeFitResult, build_model, consistency_loss,
                       fit_node_model, paper_config, train_node_classifier)

__all__ = [
    "LocalAugmenter", "LocalAugment", "LAGCN", "LAGAT", "LAGCNII", "GCN", "GAT", "GCNII",
    "NeighborCVAE", "CVAEFeatureSampler", "RandomNeighborSampler", "row_normalize",
    "PAPER_CONFIGS", "MODEL_KINDS", "paper_config", "build_model", "consistency_loss",
    "train_node_classifier", "fit_node_model", "NodeFitResult",
]
