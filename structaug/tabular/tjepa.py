"""T-JEPA (Thimonier et al., "T-JEPA: Augmentation-Free Self-Supervised Learning for Tabular
Data", ICLR 2025) on structaug's interfaces.

* :class:`JEPAMasking` — the augmenter: context / target feature-index subsets per row.
* :class:`TJEPA` — the self-supervised encoder as an sklearn transformer.
* :class:`TJEPAClassifier`, :class:`TJEPARegressor` — a downstream MLP (or XGBoost) head.

The pieces live in ``tjepa_masking`` (masks), ``tjepa_model`` (torch modules),
``tjepa_encoder`` (training loop) and ``tjepa_head`` (downstream estimators).
"""
from __future__ import annotations

from .tjepa_encoder import TJEPA, RepresentationCollapseWarning
from .tjepa_head import MLPHead, TJEPAClassifier, TJEPARegressor
from .tjepa_masking import JEPAMasking, JEPAMasks

__all__ = ["JEPAMasking", "JEPAMasks", "TJEPA", "TJEPAClassifier", "TJEPARegressor", "MLPHead",
           "RepresentationCollapseWarning"]
