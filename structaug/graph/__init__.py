"""Graph augmentation: LAGNN local augmentation (Liu et al., ICML 2022) for PyG.

>>> from structaug.graph import LocalAugmenter, fit_node_model
>>> aug = LocalAugmenter(random_state=0).fit(data)            # CVAE p(x_j | x_i) over edges
>>> data_aug = aug.sample(data, n=2)                           # data_aug.x_aug: [N, 2, F]
>>> res = fit_node_model("lagcn", data, augmenter=aug, dataset="Cora")   # draws from aug every pass

The modules are private; everything users need is imported here.
"""

from ._augmenter import LocalAugmenter, RandomNeighborAugmenter
from ._models import GAT, GCN, GCNII, LAGAT, LAGCN, LAGCNII
from ._training import (
    MODEL_KINDS,
    PAPER_CONFIGS,
    NodeFitResult,
    build_model,
    consistency_loss,
    fit_node_model,
    paper_config,
    train_node_classifier,
)
from ._transform import LocalAugment

__all__ = [
    "GAT",
    "GCN",
    "GCNII",
    "LAGAT",
    "LAGCN",
    "LAGCNII",
    "MODEL_KINDS",
    "PAPER_CONFIGS",
    "LocalAugment",
    "LocalAugmenter",
    "NodeFitResult",
    "RandomNeighborAugmenter",
    "build_model",
    "consistency_loss",
    "fit_node_model",
    "paper_config",
    "train_node_classifier",
]
