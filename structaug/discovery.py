"""Find every public augmenter and estimator in structaug (like ``sklearn.utils.discovery``).

>>> from structaug.discovery import all_estimators
>>> names = [name for name, cls in all_estimators(type_filter="augmenter")]   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin

from .base import Augmenter
from .exceptions import InvalidParameterError

__all__ = ["TYPE_FILTERS", "all_estimators", "all_modules"]

#: the kinds ``all_estimators(type_filter=...)`` selects
TYPE_FILTERS: tuple[str, ...] = ("augmenter", "classifier", "regressor", "transformer", "recommender")

# Never imported by the walk: ``__main__`` would run the command line; the demo, command line
# and benchmark drivers define no estimators and import optional heavy dependencies.
_SKIP_MODULES = frozenset({"__main__", "cli", "demo", "bench", "tests"})


def _recommender_base() -> type | None:
    """``structaug.recsys.base.Recommender`` once that module exists, else ``None``."""
    try:
        return importlib.import_module("structaug.recsys.base").Recommender
    except (ImportError, AttributeError):
        return None


def all_modules(*, include_private: bool = False) -> list[str]:
    """Names of the structaug modules :func:`all_estimators` walks (importing packages).

    Modules whose path has a part in ``__main__``/``cli``/``demo``/``bench``/``tests`` are
    skipped; private modules (a part starting with ``_``) only with ``include_private``.
    """
    import structaug

    names = []
    for info in pkgutil.walk_packages(structaug.__path__, prefix="structaug.", onerror=lambda name: None):
        parts = info.name.split(".")[1:]
        if any(p in _SKIP_MODULES or p.endswith("_demo") for p in parts):
            continue
        if not include_private and any(p.startswith("_") for p in parts):
            continue
        names.append(info.name)
    return sorted(names)


def _kind_matches(cls: type, kind: str) -> bool:
    if kind == "augmenter":
        return issubclass(cls, Augmenter)
    if kind == "classifier":
        return issubclass(cls, ClassifierMixin)
    if kind == "regressor":
        return issubclass(cls, RegressorMixin)
    if kind == "transformer":
        return issubclass(cls, TransformerMixin)
    base = _recommender_base()
    return base is not None and issubclass(cls, base) and cls is not base


def all_estimators(type_filter: str | list[str] | None = None) -> list[tuple[str, type]]:
    """Every public structaug class that is an :class:`~structaug.base.Augmenter` or a
    scikit-learn ``BaseEstimator``, as sorted ``(name, class)`` pairs.

    Walks the public modules of the package (importing the lazily loaded subpackages; the
    classes defined in private modules are found through the public ``__init__`` that
    exports them). Abstract classes, the base classes themselves and names starting with
    ``_`` are left out; a class exported under several modules is listed once.

    Parameters
    ----------
    type_filter : {"augmenter", "classifier", "regressor", "transformer", "recommender"} \
or list of those, optional
        Keep only classes of these kinds (a class matching any of them is kept):
        ``"augmenter"`` subclasses :class:`~structaug.base.Augmenter`; ``"classifier"``,
        ``"regressor"``, ``"transformer"`` have scikit-learn's ``ClassifierMixin``,
        ``RegressorMixin``, ``TransformerMixin``; ``"recommender"`` subclasses
        ``structaug.recsys.base.Recommender``. ``None`` keeps every class.

    Returns
    -------
    list of (str, type)
        Sorted by name (then module).

    Raises
    ------
    InvalidParameterError
        An unknown ``type_filter``.
    """
    if type_filter is None:
        kinds: list[str] = []
    else:
        kinds = [type_filter] if isinstance(type_filter, str) else list(type_filter)
        bad = [k for k in kinds if k not in TYPE_FILTERS]
        if bad or not kinds:
            raise InvalidParameterError(
                f"type_filter must be None, one of {list(TYPE_FILTERS)} or a list of them, got {type_filter!r}"
            )
    found: dict[type, str] = {}
    bases: set[type] = {Augmenter}
    rec = _recommender_base()
    if rec is not None:
        bases.add(rec)
    for module_name in all_modules():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # an optional dependency (xgboost, ray, ...) is missing: say so, list the rest
            if exc.name and exc.name.split(".")[0] == "structaug":
                raise
            warnings.warn(f"all_estimators: skipped {module_name} ({exc})", RuntimeWarning, stacklevel=2)
            continue
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if name.startswith("_") or cls in bases or not cls.__module__.startswith("structaug"):
                continue
            if not (issubclass(cls, Augmenter) or issubclass(cls, BaseEstimator)):
                continue
            if inspect.isabstract(cls):
                continue
            found.setdefault(cls, name)
    out = [(name, cls) for cls, name in found.items() if not kinds or any(_kind_matches(cls, k) for k in kinds)]
    return sorted(out, key=lambda nc: (nc[0], nc[1].__module__))
