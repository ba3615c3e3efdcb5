"""Conformance checks every augmenter must pass (like sklearn's ``check_estimator``).

>>> from structaug.testing import check_augmenter
>>> check_augmenter(MyAugmenter(random_state=0), data)      # raises AssertionError on failure
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone

from .base import SAMPLE_UNITS
from .exceptions import DataValidationError, NotFittedError

__all__ = [
    "Example",
    "assert_same_output",
    "check_augmenter",
    "check_nested_params",
    "check_recommender",
    "collect_tensors",
    "example",
    "example_data",
    "small_instance",
]


def _is_pyg_data(x: Any) -> bool:
    return hasattr(x, "to_dict") and type(x).__module__.startswith("torch_geometric")


def assert_same_output(a: Any, b: Any, path: str = "output") -> None:
    """Recursively assert two outputs are identical (values, order, dtypes, devices)."""
    assert type(a) is type(b), f"{path}: type {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, torch.Tensor):
        assert a.shape == b.shape, f"{path}: shape {tuple(a.shape)} != {tuple(b.shape)}"
        assert a.dtype == b.dtype, f"{path}: dtype {a.dtype} != {b.dtype}"
        assert a.device == b.device, f"{path}: device {a.device} != {b.device}"
        # NaN equals NaN only where both have it (nan_to_num would also equate NaN with 0)
        same = torch.equal(a, b) or (
            a.is_floating_point() and torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())
        )
        assert same, f"{path}: values differ"
    elif isinstance(a, np.ndarray):
        assert a.shape == b.shape and a.dtype == b.dtype, f"{path}: shape/dtype differ"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f"{path}: values differ"
    elif isinstance(a, (pd.DataFrame, pd.Series)):
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        else:
            pd.testing.assert_series_equal(a, b, check_exact=True)
    elif _is_pyg_data(a):
        assert_same_output(a.to_dict(), b.to_dict(), path)
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same_output(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_output(x, y, f"{path}[{i}]")
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same_output(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, (int, float, str, bool, type(None), np.generic)):
        assert a == b or (a != a and b != b), f"{path}: {a!r} != {b!r}"
    elif hasattr(a, "__dict__"):
        assert_same_output(vars(a), vars(b), path)
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _labelled(equal: Callable[[Any, Any], None], a: Any, b: Any, message: str) -> None:
    """``equal(a, b)``, its AssertionError prefixed with what the check was about."""
    try:
        equal(a, b)
    except AssertionError as exc:
        raise AssertionError(f"{message}: {exc}") from None


def collect_tensors(x: Any) -> list[torch.Tensor]:
    """Every tensor inside a (nested) output."""
    out: list[torch.Tensor] = []
    if isinstance(x, torch.Tensor):
        out.append(x)
    elif _is_pyg_data(x):
        out.extend(collect_tensors(x.to_dict()))
    elif isinstance(x, dict):
        for v in x.values():
            out.extend(collect_tensors(v))
    elif isinstance(x, (list, tuple)):
        for v in x:
            out.extend(collect_tensors(v))
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            out.extend(collect_tensors(getattr(x, f.name)))
    return out


def check_augmenter(
    augmenter: Any,
    data: Any,
    *,
    fit_kwargs: dict[str, Any] | None = None,
    sample_kwargs: dict[str, Any] | None = None,
    expected_type: type | tuple[type, ...] | None = None,
    check_dtype: bool = True,
    equal: Callable[[Any, Any], None] = assert_same_output,
) -> None:
    """Assert the Augmenter contract on ``augmenter`` with ``data``.

    Checks: sklearn ``clone``/``get_params`` round trip and a readable ``repr``;
    ``NotFittedError`` before ``fit``; ``fit`` returns ``self`` and leaves parameters as
    given; fitted state in trailing-underscore attributes; the same seed gives identical
    outputs (values and order) across two fits and across ``sample(random_state=k)`` calls;
    ``fit`` and ``sample`` never mutate ``data``; the output type is the input's (or
    ``expected_type``); float tensors keep the input's dtype and every tensor stays on the
    input's device; the class declares what ``n`` counts (``sample_unit`` one of
    ``"views"``/``"additions"``, ``default_n``) and ``_count_sampled(sample(data, n=n), data)
    == n`` for ``n`` in (1, 2) and, for ``"views"`` with a ``default_n``, ``n=None`` gives
    ``default_n`` views; parameters that are estimators (e.g. ``views=``) are reached by
    ``get_params(deep=True)``/``set_params(views__x=...)`` and never fitted or changed by
    ``fit`` (it must ``clone`` them).

    ``n=1`` must always work on ``data``. ``n=2`` may be skipped only by an ``"additions"``
    augmenter that raises :class:`~structaug.exceptions.DataValidationError` because ``data``
    leaves fewer than 2 new elements to draw: pass data with room for 2.

    Parameters
    ----------
    augmenter : Augmenter
        An unfitted instance (it is cloned, never fitted itself).
    data : object
        Small example data of the kind the augmenter takes (see :func:`example_data`).
    fit_kwargs, sample_kwargs : dict, optional
        Extra keyword arguments of ``fit`` and ``sample`` (``sample_kwargs["n"]`` is
        replaced by 1 and 2 in the ``n`` check).
    expected_type : type or tuple of type, optional
        The type ``sample`` returns (default: ``type(data)``).
    check_dtype : bool
        Whether float output tensors must keep the input's float dtype.
    equal : callable
        ``equal(a, b)`` raises ``AssertionError`` when two outputs differ.

    Raises
    ------
    AssertionError
        The first broken part of the contract, naming the class.
    """
    fit_kwargs = fit_kwargs or {}
    sample_kwargs = sample_kwargs or {}
    name = type(augmenter).__name__

    # sklearn contract
    params = augmenter.get_params(deep=False)
    cl = clone(augmenter)
    assert type(cl) is type(augmenter), f"{name}: clone changed the type"
    assert_same_output(cl.get_params(deep=False), params, f"{name}.get_params")
    cl.set_params(**params)
    r = repr(augmenter)
    assert r.startswith(name + "("), f"{name}: repr should look like {name}(...), got {r[:60]!r}"
    assert "random_state" in params, f"{name}: needs a random_state parameter"
    unit = getattr(type(augmenter), "sample_unit", None)
    assert unit in SAMPLE_UNITS, (
        f"{name}: declare what n counts in sample(data, n): class attribute "
        f"sample_unit must be one of {SAMPLE_UNITS}, got {unit!r}"
    )
    default_n = getattr(type(augmenter), "default_n", None)
    assert default_n is None or (isinstance(default_n, int) and not isinstance(default_n, bool) and default_n >= 1), (
        f"{name}: default_n must be None or an int >= 1, got {default_n!r}"
    )
    check_nested_params(augmenter)

    # not fitted
    fresh = clone(augmenter)
    try:
        fresh.sample(data, **sample_kwargs)
    except NotFittedError as exc:
        assert name in str(exc), f"{name}: NotFittedError message should name the class"
    else:
        raise AssertionError(f"{name}.sample before fit must raise NotFittedError")

    # fit returns self, keeps params, never mutates data
    before = copy.deepcopy(data)
    a1 = clone(augmenter)
    given = _snapshot_estimator_params(a1)
    ret = a1.fit(data, **fit_kwargs)
    assert ret is a1, f"{name}.fit must return self"
    _check_estimator_params_untouched(a1, given)
    assert_same_output(a1.get_params(deep=False), params, f"{name} params after fit")
    fitted = [k for k in vars(a1) if k.endswith("_") and not k.startswith("_") and k != "is_fitted_"]
    assert fitted, f"{name}: fit should set public attributes ending in '_'"
    out1 = a1.sample(data, **sample_kwargs)
    out1b = a1.sample(data, **sample_kwargs)
    _labelled(equal, data, before, f"{name}: fit or sample mutated the input data")

    # determinism under a seed
    a2 = clone(augmenter).fit(data, **fit_kwargs)
    out2 = a2.sample(data, **sample_kwargs)
    out2b = a2.sample(data, **sample_kwargs)
    msg = f"{name}: the same random_state gave different outputs"
    _labelled(equal, out1, out2, msg)
    _labelled(equal, out1b, out2b, msg)
    s1 = a1.sample(data, random_state=123, **sample_kwargs)
    s2 = a2.sample(data, random_state=123, **sample_kwargs)
    _labelled(equal, s1, s2, msg)
    # a per-call seed gives the same draw every time, whatever the augmenter's own stream did
    _labelled(
        equal,
        s1,
        a1.sample(data, random_state=123, **sample_kwargs),
        f"{name}: sample(random_state=123) changed between calls",
    )

    # container type, dtype, device
    want = expected_type if expected_type is not None else type(data)
    assert isinstance(out1, want), f"{name}.sample returned {type(out1).__name__}, expected {want}"
    in_tensors = collect_tensors(data)
    out_tensors = collect_tensors(out1)
    if in_tensors:
        devices = {t.device for t in in_tensors}
        for t in out_tensors:
            assert t.device in devices, f"{name}: output tensor on {t.device}, input on {devices}"
        float_dtypes = {t.dtype for t in in_tensors if t.is_floating_point()}
        if check_dtype and len(float_dtypes) == 1:
            (dt,) = float_dtypes
            for t in out_tensors:
                if t.is_floating_point():
                    assert t.dtype == dt, f"{name}: float output dtype {t.dtype} != input {dt}"

    # what n counts
    for n in (1, 2):
        kw = {**sample_kwargs, "n": n}
        try:
            out = a1.sample(data, random_state=7, **kw)
        except DataValidationError:
            if n == 1 or unit != "additions":
                raise
            continue  # too few drawable new elements in this data for n=2 (documented above)
        got = a1._count_sampled(out, data)
        assert isinstance(got, (int, np.integer)) and not isinstance(got, bool), (
            f"{name}._count_sampled must return an int, got {type(got).__name__}"
        )
        what = "views of every element" if unit == "views" else "new elements"
        assert got == n, f"{name}.sample(data, n={n}) gave {got} {what}; sample_unit={unit!r} says {n}"
    if unit == "views" and default_n is not None:
        kw = {k: v for k, v in sample_kwargs.items() if k != "n"}
        got = a1._count_sampled(a1.sample(data, random_state=7, **kw), data)
        assert got == default_n, f"{name}.sample(data) (n=None) gave {got} views; default_n={default_n} says so"


def _snapshot_estimator_params(estimator: Any) -> dict[str, tuple[Any, dict[str, Any], set[str]]]:
    """For each estimator-valued parameter: the instance, a copy of its parameters, its attribute names."""
    return {
        k: (v, copy.deepcopy(v.get_params(deep=False)), set(vars(v))) for k, v in _estimator_params(estimator).items()
    }


def _check_estimator_params_untouched(estimator: Any, given: dict[str, tuple[Any, dict[str, Any], set[str]]]) -> None:
    """After ``fit``: each estimator-valued parameter is the same, unchanged, unfitted instance."""
    name = type(estimator).__name__
    for k, (sub, sub_params, sub_attrs) in given.items():
        assert estimator.get_params(deep=False)[k] is sub, f"{name}.fit replaced its parameter {k!r}"
        _labelled(
            assert_same_output,
            sub.get_params(deep=False),
            sub_params,
            f"{name}.fit changed the parameters of its parameter {k!r} (clone it in fit)",
        )
        new = sorted(set(vars(sub)) - sub_attrs)
        assert not new, f"{name}.fit fitted the instance passed as {k!r} (new attributes {new}): clone it in fit"


def _estimator_params(estimator: Any) -> dict[str, Any]:
    """The constructor parameters of ``estimator`` that are estimator instances themselves."""
    return {
        k: v
        for k, v in estimator.get_params(deep=False).items()
        if hasattr(v, "get_params") and hasattr(v, "set_params") and not isinstance(v, type)
    }


class _Marker:
    """A value no parameter has: ``set_params`` must store exactly this object."""

    def __repr__(self) -> str:
        return "<marker>"


def check_nested_params(estimator: Any) -> None:
    """Assert nested ``get_params(deep=True)``/``set_params(key__param=...)`` reach sub-estimators.

    For every constructor parameter ``key`` of ``estimator`` that is an estimator itself:
    ``get_params(deep=True)`` holds ``key__p`` for each of its parameters ``p`` (the same
    objects), and ``clone(estimator).set_params(key__p=v)`` sets ``p`` on the clone's
    sub-estimator only (neither ``estimator`` nor its sub-estimator change).

    Raises
    ------
    AssertionError
        Naming the class and the nested parameter that does not round-trip.
    """
    name = type(estimator).__name__
    deep = estimator.get_params(deep=True)
    for key, sub in _estimator_params(estimator).items():
        sub_params = sub.get_params(deep=False)
        for p, v in sub_params.items():
            assert f"{key}__{p}" in deep, f"{name}.get_params(deep=True) lacks {key}__{p}"
            assert deep[f"{key}__{p}"] is v, f"{name}.get_params(deep=True)[{key}__{p}] is not {key}.{p}"
        if not sub_params:
            continue
        p = sorted(sub_params)[0]
        marker = _Marker()
        cl = clone(estimator)
        ret = cl.set_params(**{f"{key}__{p}": marker})
        assert ret is cl, f"{name}.set_params must return self"
        assert cl.get_params(deep=False)[key].get_params(deep=False)[p] is marker, (
            f"{name}.set_params({key}__{p}=...) did not reach the sub-estimator"
        )
        assert cl.get_params(deep=True)[f"{key}__{p}"] is marker, (
            f"{name}.get_params(deep=True) does not show set_params({key}__{p}=...)"
        )
        assert sub.get_params(deep=False)[p] is sub_params[p], (
            f"{name}: set_params on a clone changed the original's {key}.{p}"
        )


# -- small example data per kind of estimator ------------------------------------------------
@dataclasses.dataclass
class Example:
    """Small data and settings to run one structaug class through its checks.

    Attributes
    ----------
    data : object
        The first argument of ``fit`` (and of ``sample`` for augmenters).
    fit_kwargs, sample_kwargs : dict
        Extra keyword arguments of ``fit`` / ``sample``.
    expected_type : type or None
        What ``sample`` returns when it is not ``type(data)``.
    params : dict
        Small-budget constructor parameters (few epochs, narrow layers, CPU) that keep a
        check fast; apply with :func:`small_instance`.
    """

    data: Any
    fit_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    sample_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    expected_type: Any = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


def _table(random_state: int) -> np.ndarray:
    return np.random.default_rng(random_state).normal(size=(30, 6))


def _graph(random_state: int) -> Any:
    from .datasets import make_sbm_graph

    return make_sbm_graph(60, 3, 12, avg_degree=4.0, train_per_class=5, n_val=15, random_state=random_state)


def _padded_sequences(random_state: int) -> torch.Tensor:
    rng = np.random.default_rng(random_state)
    out = torch.zeros(8, 10, dtype=torch.long)
    for r, n in enumerate([1, 2, 3, 5, 8, 10, 10, 4]):  # left-aligned, 0 = padding
        out[r, :n] = torch.as_tensor(rng.integers(1, 30, size=n))
    return out


def _observed_tensor(random_state: int) -> Any:
    from .tensor import ObservedTensor

    rng = np.random.default_rng(random_state)
    shape = (12, 10, 4)
    flat = rng.choice(int(np.prod(shape)), 160, replace=False)
    idx = np.stack(np.unravel_index(flat, shape), axis=1)
    val = 3.0 + sum(rng.normal(size=s)[idx[:, m]] for m, s in enumerate(shape))
    return ObservedTensor(idx, val, shape)


def _tiny_completion() -> Any:
    from .tensor import NeuralTensorCompletion

    return NeuralTensorCompletion(
        embedding_dim=6, hidden_sizes=(8,), batch_size=64, max_epochs=2, patience=2, device="cpu", random_state=0
    )


def _interactions(random_state: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from .datasets import make_interactions

    return make_interactions(n_users=16, n_items=30, per_user=(5, 8), random_state=random_state)


def _sequence_log(random_state: int) -> pd.DataFrame:
    from .datasets import make_sequences

    return make_sequences(n_users=20, n_items=25, n_clusters=3, min_len=4, max_len=8, random_state=random_state)


def _example_llmrec(random_state: int) -> Example:
    from .recsys.llmrec import HashingEmbedder, LLMRecAugmentation

    inter, items, users = _interactions(random_state)
    # the LLM-free EmbeddingJudgeBackend (the default backend) answers from text embeddings
    return Example(
        inter,
        fit_kwargs={"items": items, "users": users},
        expected_type=LLMRecAugmentation,
        params={"embedder": HashingEmbedder(dim=16), "attribute_fields": ("year", "genres"), "verbose": False},
    )


def _example_jepa(random_state: int) -> Example:
    return Example(_table(random_state)[:20], expected_type=tuple)  # n JEPAMasks draws


_LAGNN_TINY = dict(
    max_epochs=2,
    warmup=3,
    num_models=3,
    update_epochs=2,
    selector_max_epochs=3,
    uscore_every=2,
    hidden_size=16,
    batch_size=64,
    device="cpu",
)

#: class name -> factory of its :class:`Example` (by name: the classes live in optional subpackages)
_EXAMPLES: dict[str, Callable[[int], Example]] = {
    "FeatureSubsetViews": lambda s: Example(_table(s), expected_type=np.ndarray, params={"n_views": 3}),
    "JEPAMasking": _example_jepa,
    "LocalAugmenter": lambda s: Example(_graph(s), params=dict(_LAGNN_TINY)),
    "RandomNeighborAugmenter": lambda s: Example(_graph(s)),
    "SequenceViews": lambda s: Example(_padded_sequences(s), expected_type=tuple),
    "LLMRecAugmenter": _example_llmrec,
    "InfluenceAugmenter": lambda s: Example(_observed_tensor(s), params={"estimator": _tiny_completion()}),
    "RandomCellAugmenter": lambda s: Example(_observed_tensor(s), params={"estimator": _tiny_completion()}),
    # recommenders: a small log (user, item, timestamp)
    "LightGCN": lambda s: Example(_interactions(s)[0]),
    "MFBPR": lambda s: Example(_interactions(s)[0]),
    "SequentialRecommender": lambda s: Example(_sequence_log(s)),
}

#: small-budget parameters applied, where a class has them, by :func:`small_instance`
_SMALL_BUDGET: dict[str, Any] = {
    "max_epochs": 2,
    "device": "cpu",
    "verbose": False,
    "pretrain_epochs": 1,
    "warmup_epochs": 1,
    "collapse_probe_size": 16,
    "n_estimators": 5,
    "n_folds": 2,
    "n_iter_max": 5,
    "embedding_dim": 8,
    "n_sweeps": 2,
}
_TJEPA_TINY = dict(
    hidden_size=8,
    n_layers=1,
    n_heads=2,
    inner_size=16,
    predictor_hidden_size=8,
    predictor_n_layers=1,
    predictor_n_heads=2,
    predictor_inner_size=16,
    batch_size=32,
    lr=1e-3,
)


def _lazy(module: str, name: str) -> Any:
    import importlib

    return getattr(importlib.import_module(module), name)


def _tiny_tjepa() -> Any:
    from .tabular import TJEPA

    return small_instance(TJEPA, max_epochs=2)


def _views(n_views: int) -> Any:
    """A maker of HyperTab's ``views`` augmenter with ``n_views`` masks (a fresh instance per call)."""

    def make() -> Any:
        from .tabular import FeatureSubsetViews

        return FeatureSubsetViews(n_views=n_views)

    return make


#: per-class overrides of :data:`_SMALL_BUDGET`: the smallest budgets with which the tabular
#: estimators still pass scikit-learn's accuracy checks (check_classifiers_train, ...), as
#: found by the tabular tests; a callable value is called for a fresh instance each time
_SMALL_BY_CLASS: dict[str, dict[str, Any]] = {
    "HyperTabClassifier": dict(max_epochs=20, views=_views(4), masks_per_step=4, lr=2e-2),
    "HyperTabRegressor": dict(max_epochs=20, views=_views(8), masks_per_step=8, lr=1e-2),
    "MLPClassifierTorch": dict(hidden_sizes=(16,), max_epochs=30, lr=1e-2),
    "MLPRegressorTorch": dict(hidden_sizes=(16,), max_epochs=30, lr=1e-2),
    "FeatureSubsetViews": dict(n_views=3),
    "TJEPA": dict(_TJEPA_TINY, max_epochs=1, masking=lambda: _lazy("structaug.tabular", "JEPAMasking")()),
    "TJEPAClassifier": dict(encoder=_tiny_tjepa, hidden_sizes=(16,), max_epochs=30, patience=5),
    "TJEPARegressor": dict(encoder=_tiny_tjepa, hidden_sizes=(16,), max_epochs=30, patience=5),
    "SequentialRecommender": dict(
        hidden_size=16,
        n_layers=1,
        n_heads=2,
        inner_size=32,
        max_len=10,
        batch_size=64,
        views=lambda: _lazy("structaug.recsys", "SequenceViews")(crop_ratio=0.4),
    ),
    "LightGCN": dict(n_layers=1, patience=2),
    "MFBPR": dict(patience=2),
    "LocalAugmenter": dict(_LAGNN_TINY),
}


def _class_name(estimator: Any) -> str:
    if isinstance(estimator, str):
        return estimator
    return estimator.__name__ if isinstance(estimator, type) else type(estimator).__name__


def example(estimator: Any, *, random_state: int = 0) -> Example:
    """Small example data and settings for a structaug augmenter (class or instance).

    Parameters
    ----------
    estimator : type, instance or class name
        A structaug augmenter or recommender (``FeatureSubsetViews``, ``JEPAMasking``, ``LocalAugmenter``,
        ``RandomNeighborAugmenter``, ``SequenceViews``, ``LLMRecAugmenter``,
        ``InfluenceAugmenter``, ``RandomCellAugmenter``; ``LightGCN``, ``MFBPR``,
        ``SequentialRecommender``).
    random_state : int
        Seed of the generated data.

    Returns
    -------
    Example

    Raises
    ------
    KeyError
        No example is known for this class (pass your own data to :func:`check_augmenter`).

    Examples
    --------
    >>> from structaug.tabular import FeatureSubsetViews
    >>> ex = example(FeatureSubsetViews)
    >>> check_augmenter(small_instance(FeatureSubsetViews, random_state=0), ex.data,
    ...                 expected_type=ex.expected_type)                      # doctest: +SKIP
    """
    name = _class_name(estimator)
    if name not in _EXAMPLES:
        raise KeyError(f"no example data for {name}; known: {sorted(_EXAMPLES)}. Pass your own data to check_augmenter")
    return _EXAMPLES[name](random_state)


def example_data(estimator: Any, *, random_state: int = 0) -> Any:
    """The example data of :func:`example` alone (what ``fit`` and ``sample`` take)."""
    return example(estimator, random_state=random_state).data


def small_instance(estimator: Any, **params: Any) -> Any:
    """An unfitted instance with a small budget: few epochs, narrow layers, CPU, silent.

    ``estimator`` is a class (constructed with its defaults first) or an instance (cloned).
    Of the small-budget settings only those the class has are set; ``params`` override them
    (``random_state`` is ignored for a class without that parameter, e.g. a deterministic
    encoder).
    """
    est = estimator() if isinstance(estimator, type) else clone(estimator)
    have = est.get_params(deep=False)
    name = _class_name(estimator)
    small = {k: v for k, v in _SMALL_BUDGET.items() if k in have}
    small.update({k: v() if callable(v) else v for k, v in _SMALL_BY_CLASS.get(name, {}).items() if k in have})
    if name in _EXAMPLES:
        small.update({k: v for k, v in example(estimator).params.items() if k in have})
    small.update({k: v for k, v in params.items() if k != "random_state" or k in have})
    return est.set_params(**small)


def _unknown_id(known: np.ndarray) -> Any:
    if known.dtype.kind in "iu":
        return int(known.max()) + 1000
    return "__structaug_unknown_user__"


def check_recommender(
    recommender: Any,
    interactions: pd.DataFrame,
    *,
    fit_kwargs: dict[str, Any] | None = None,
    k: int = 5,
    tmp_dir: str | None = None,
) -> None:
    """Assert the recommender contract (:class:`structaug.recsys.base.Recommender`).

    Checks: ``clone``/``get_params`` round trip with ``user_col``/``item_col``/``time_col``
    parameters; ``NotFittedError`` before ``fit``; ``fit`` returns ``self`` and never
    modifies the frame; the columns are configurable (the check renames them);
    ``recommend(users, k)`` is one long frame ``[user_col, item_col, "rank", "score"]`` with
    users in the order given, ranks ``1..m`` (``m <= k``), non-increasing scores, no item the
    user interacted with, and with ``k = n_items`` exactly the unseen items of each user;
    its scores equal ``score_items``' float32 ``[n_users, n_items]``; an unknown user raises
    :class:`~structaug.exceptions.UnknownIdError` (``unknown="raise"``) or gets the ``k``
    most popular items (``unknown="popular"``); ``save``/``load`` give the same
    recommendations; the same ``random_state`` gives the same recommendations; parameters that
    are estimators (``views=``) are reached by nested ``get_params``/``set_params`` and never
    fitted or changed by ``fit``; a ``score``
    method, if any, returns a number (scikit-learn's meaning), never a matrix.

    Parameters
    ----------
    recommender : Recommender
        An unfitted instance (cloned, never fitted itself); small budget advised.
    interactions : DataFrame
        A small log with columns ``user``, ``item`` (and ``timestamp``).
    fit_kwargs : dict, optional
        Extra keyword arguments of ``fit``.
    k : int
        List length checked (at most the number of items).
    tmp_dir : str, optional
        Folder for the save/load round trip (default: a temporary folder, removed after).
    """
    import tempfile

    from .exceptions import UnknownIdError

    fit_kwargs = fit_kwargs or {}
    name = type(recommender).__name__
    params = recommender.get_params(deep=False)
    for p, default in (("user_col", "user"), ("item_col", "item"), ("time_col", "timestamp")):
        assert p in params, f"{name}: needs a {p} parameter (default {default!r})"
    assert "random_state" in params, f"{name}: needs a random_state parameter"
    cl = clone(recommender)
    assert_same_output(cl.get_params(deep=False), params, f"{name}.get_params")
    check_nested_params(recommender)
    assert callable(getattr(type(recommender), "recommend", None)), f"{name}: needs recommend()"
    try:
        clone(recommender).recommend([interactions["user"].iloc[0]], k=1)
    except NotFittedError as exc:
        assert name in str(exc), f"{name}: NotFittedError message should name the class"
    else:
        raise AssertionError(f"{name}.recommend before fit must raise NotFittedError")

    # configurable columns: fit on renamed columns
    cols = {"user": "u_id", "item": "i_id", "timestamp": "ts"}
    frame = interactions.rename(columns=cols)
    before = frame.copy(deep=True)
    rec = clone(recommender).set_params(user_col="u_id", item_col="i_id", time_col="ts")
    given = _snapshot_estimator_params(rec)
    ret = rec.fit(frame, **fit_kwargs)
    assert ret is rec, f"{name}.fit must return self"
    _check_estimator_params_untouched(rec, given)
    _labelled(assert_same_output, frame, before, f"{name}.fit modified the interactions frame")
    for attr in ("users_", "items_"):
        assert hasattr(rec, attr), f"{name}: fit must set {attr} (an IdVocab)"

    users = pd.unique(frame["u_id"])[::-1][:6]  # not the fitted order
    out = rec.recommend(users, k=k)
    assert isinstance(out, pd.DataFrame), f"{name}.recommend must return a DataFrame"
    assert list(out.columns) == ["u_id", "i_id", "rank", "score"], (
        f"{name}.recommend columns {list(out.columns)} != [user_col, item_col, 'rank', 'score']"
    )
    seen = set(zip(frame["u_id"], frame["i_id"]))
    assert not any((u, i) in seen for u, i in zip(out["u_id"], out["i_id"])), f"{name}.recommend returned a seen item"
    order = list(pd.unique(out["u_id"]))
    assert order == list(users), f"{name}.recommend must list users in the order given"
    for u, g in out.groupby("u_id", sort=False):
        assert g["rank"].tolist() == list(range(1, len(g) + 1)), f"{name}: ranks of user {u!r} are not 1..m"
        assert len(g) <= k and g["i_id"].is_unique, f"{name}: user {u!r} got {len(g)} rows for k={k} or repeats"
        assert (np.diff(g["score"].to_numpy()) <= 0).all(), f"{name}: scores of user {u!r} increase with rank"

    scores = rec.score_items(users)
    n_items = len(rec.items_)
    assert isinstance(scores, np.ndarray) and scores.shape == (len(users), n_items), (
        f"{name}.score_items must return an ndarray [n_users, n_items], got {getattr(scores, 'shape', type(scores))}"
    )
    item_pos = {it: j for j, it in enumerate(rec.items_.raw_)}
    user_pos = {u: r for r, u in enumerate(users)}
    got = [float(scores[user_pos[u], item_pos[i]]) for u, i in zip(out["u_id"], out["i_id"])]
    assert np.allclose(got, out["score"].to_numpy(), rtol=1e-6, atol=1e-6), (
        f"{name}: recommend's scores differ from score_items"
    )

    # every unseen item, never a seen one, when k = n_items
    full = rec.recommend(users, k=n_items)
    for u in users:
        n_seen = len({i for (uu, i) in seen if uu == u})
        got_n = int((full["u_id"] == u).sum())
        assert got_n == n_items - n_seen, (
            f"{name}: with k=n_items user {u!r} should get its {n_items - n_seen} unseen items, got {got_n}"
        )

    # unknown users
    unk = _unknown_id(np.asarray(frame["u_id"]))
    try:
        rec.recommend([users[0], unk], k=k)
    except UnknownIdError:
        pass
    else:
        raise AssertionError(f"{name}.recommend of an unknown user must raise UnknownIdError (unknown='raise')")
    pop = rec.recommend([unk], k=k, unknown="popular")
    assert len(pop) == k and pop["rank"].tolist() == list(range(1, k + 1)), (
        f"{name}: unknown='popular' must give the unknown user k={k} items"
    )

    # save / load
    with tempfile.TemporaryDirectory(dir=tmp_dir) as d:
        path = rec.save(f"{d}/model.pt")
        loaded = type(rec).load(path)
        assert type(loaded) is type(rec), f"{name}.load returned a {type(loaded).__name__}"
        assert_same_output(loaded.get_params(deep=False), rec.get_params(deep=False), f"{name} params after load")
        pd.testing.assert_frame_equal(
            loaded.recommend(users, k=k), out, check_exact=True, obj=f"{name}: recommend after save/load"
        )

    # determinism
    again = clone(recommender).set_params(user_col="u_id", item_col="i_id", time_col="ts").fit(frame, **fit_kwargs)
    _labelled(
        lambda a, b: pd.testing.assert_frame_equal(a, b, check_exact=True),
        again.recommend(users, k=k),
        out,
        f"{name}: the same random_state gave different recommendations",
    )

    # sklearn's score returns a number
    if callable(getattr(rec, "score", None)):
        try:
            val = rec.score(frame)
        except TypeError as exc:
            raise AssertionError(
                f"{name}.score(interactions) must return a number (scikit-learn's score): {exc}"
            ) from None
        assert np.ndim(val) == 0, f"{name}.score returned an array of shape {np.shape(val)}; it must return a number"
