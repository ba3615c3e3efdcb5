"""HyperTab (Wydmański et al., DSAA 2023): a hypernetwork writing one small network per
random feature subset of a table.

* :class:`FeatureSubsetViews` — the augmenter: random feature-subset views (masks).
* :class:`HyperTabClassifier`, :class:`HyperTabRegressor` — the hypernetwork ensembles
  trained on those views.

The pieces live in private modules: ``_views`` (the augmenter) and ``_model`` (the
hypernetwork and the estimators).
"""

from __future__ import annotations

from ._model import HyperTabClassifier, HyperTabRegressor
from ._views import FeatureSubsetViews

__all__ = ["FeatureSubsetViews", "HyperTabClassifier", "HyperTabRegressor"]
