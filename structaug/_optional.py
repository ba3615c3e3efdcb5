"""Optional dependencies: import them where used, with the extra that installs them in the error.

Like pandas' ``import_optional_dependency``: the core install stays lean (no tree libraries,
no plotting) and a missing one fails with the pip command, not a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["import_optional"]

#: module -> (extra, what it is for)
_EXTRAS = {
    "xgboost": ("trees", "the XGBoost baselines"),
    "lightgbm": ("trees", "the LightGBM baseline"),
    "matplotlib": ("plot", "benchmark plots"),
    "sparse": ("sparse", "conversion to and from pydata/sparse arrays"),
}


def import_optional(name: str) -> ModuleType:
    """Import ``name``; if it is missing, raise ``ImportError`` naming the extra to install.

    >>> xgb = import_optional("xgboost")  # doctest: +SKIP
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        top = name.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            # a dependency of the package is missing: that is not ours to explain
            raise
        extra, what = _EXTRAS.get(top, (None, top))
        hint = (
            f"pip install 'structaug[{extra}]'"
            + (" (or 'structaug[trees-gpu]' for GPU XGBoost)" if extra == "trees" else "")
            if extra
            else f"pip install {top}"
        )
        raise ImportError(f"{what} need(s) {top}, which is not installed: {hint}") from exc
