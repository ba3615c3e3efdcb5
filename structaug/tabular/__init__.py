"""Tabular augmentation: HyperTab feature-subset views and T-JEPA latent masking.

>>> from structaug.tabular import FeatureSubsetViews, HyperTabClassifier, HyperTabRegressor
>>> from structaug.tabular import JEPAMasking, TJEPA, TJEPAClassifier, TJEPARegressor
>>> from structaug.tabular import MLPClassifierTorch, MLPRegressorTorch   # the plain-MLP baselines

Both methods read tables through :class:`TableEncoder`. The methods live in the
subpackages :mod:`structaug.tabular.hypertab` and :mod:`structaug.tabular.tjepa`; everything
else here is private (``_encoder``, ``_mlp``, ``_baselines``, ``_demo``).
"""

from __future__ import annotations

import importlib
from typing import Any

from ._encoder import TableEncoder

__all__ = [
    "TJEPA",
    "FeatureSubsetViews",
    "HyperTabClassifier",
    "HyperTabRegressor",
    "JEPAMasking",
    "JEPAMasks",
    "MLPClassifierTorch",
    "MLPRegressorTorch",
    "TJEPAClassifier",
    "TJEPARegressor",
    "TableEncoder",
]

# Loaded on first access so that importing structaug.tabular stays cheap and works whichever
# of the two method subpackages is present.
_LAZY = {
    "FeatureSubsetViews": "structaug.tabular.hypertab",
    "HyperTabClassifier": "structaug.tabular.hypertab",
    "HyperTabRegressor": "structaug.tabular.hypertab",
    "JEPAMasking": "structaug.tabular.tjepa",
    "JEPAMasks": "structaug.tabular.tjepa",
    "TJEPA": "structaug.tabular.tjepa",
    "TJEPAClassifier": "structaug.tabular.tjepa",
    "TJEPARegressor": "structaug.tabular.tjepa",
    "MLPClassifierTorch": "structaug.tabular._baselines",
    "MLPRegressorTorch": "structaug.tabular._baselines",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'structaug.tabular' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
