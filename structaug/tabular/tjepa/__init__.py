"""T-JEPA (Thimonier et al., "T-JEPA: Augmentation-Free Self-Supervised Learning for Tabular
Data", ICLR 2025) on structaug's interfaces.

* :class:`JEPAMasking` — the augmenter: context / target feature-index subsets per row
  (:class:`JEPAMasks` holds one draw).
* :class:`TJEPA` — the self-supervised encoder as an sklearn transformer; it trains with a
  :class:`JEPAMasking` passed as its ``masking`` parameter.
* :class:`TJEPAClassifier`, :class:`TJEPARegressor` — a downstream MLP (or XGBoost) head.

The pieces live in private modules: ``_masking`` (masks), ``_network`` (torch modules),
``_estimator`` (the training loop) and ``_heads`` (downstream estimators).
"""

from __future__ import annotations

from ._estimator import TJEPA, RepresentationCollapseWarning
from ._heads import TJEPAClassifier, TJEPARegressor
from ._masking import JEPAMasking, JEPAMasks

__all__ = [
    "TJEPA",
    "JEPAMasking",
    "JEPAMasks",
    "RepresentationCollapseWarning",
    "TJEPAClassifier",
    "TJEPARegressor",
]
