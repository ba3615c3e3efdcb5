"""Conformance checks every augmenter must pass (like sklearn's ``check_estimator``).

>>> from structaug.testing import check_augmenter
>>> check_augmenter(MyAugmenter(random_state=0), data)      # raises AssertionError on failure
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone

from .base import SAMPLE_UNITS
from .exceptions import DataValidationError, NotFittedError

__all__ = ["check_augmenter", "check_nested_params", "assert_same_output", "collect_tensors"]


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
        same = torch.equal(a, b) or (a.is_floating_point() and torch.equal(a.isnan(), b.isnan())
                                     and torch.equal(a.nan_to_num(), b.nan_to_num()))
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
    == n`` for ``n`` in (1, 2); parameters that are estimators (e.g. ``views=``) are reached by
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
    assert unit in SAMPLE_UNITS, (f"{name}: declare what n counts in sample(data, n): class attribute "
                                  f"sample_unit must be one of {SAMPLE_UNITS}, got {unit!r}")
    default_n = getattr(type(augmenter), "default_n", None)
    assert default_n is None or (isinstance(default_n, int) and not isinstance(default_n, bool) and default_n >= 1), \
        f"{name}: default_n must be None or an int >= 1, got {default_n!r}"
    check_nested_params(augmenter)
    subs = _estimator_params(augmenter)

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
    given = {k: (v, copy.deepcopy(v.get_params(deep=False)), set(vars(v))) for k, v in _estimator_params(a1).items()}
    ret = a1.fit(data, **fit_kwargs)
    assert ret is a1, f"{name}.fit must return self"
    for k, (sub, sub_params, sub_attrs) in given.items():
        assert a1.get_params(deep=False)[k] is sub, f"{name}.fit replaced its parameter {k!r}"
        _labelled(assert_same_output, sub.get_params(deep=False), sub_params,
                  f"{name}.fit changed the parameters of its parameter {k!r} (clone it in fit)")
        new = sorted(set(vars(sub)) - sub_attrs)
        assert not new, f"{name}.fit fitted the instance passed as {k!r} (new attributes {new}): clone it in fit"
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
    _labelled(equal, s1, a1.sample(data, random_state=123, **sample_kwargs),
              f"{name}: sample(random_state=123) changed between calls")

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
        assert isinstance(got, (int, np.integer)) and not isinstance(got, bool), \
            f"{name}._count_sampled must return an int, got {type(got).__name__}"
        what = "views of every element" if unit == "views" else "new elements"
        assert got == n, f"{name}.sample(data, n={n}) gave {got} {what}; sample_unit={unit!r} says {n}"


def _estimator_params(estimator: Any) -> dict[str, Any]:
    """The constructor parameters of ``estimator`` that are estimator instances themselves."""
    return {k: v for k, v in estimator.get_params(deep=False).items()
            if hasattr(v, "get_params") and hasattr(v, "set_params") and not isinstance(v, type)}


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
        assert cl.get_params(deep=False)[key].get_params(deep=False)[p] is marker, \
            f"{name}.set_params({key}__{p}=...) did not reach the sub-estimator"
        assert cl.get_params(deep=True)[f"{key}__{p}"] is marker, \
            f"{name}.get_params(deep=True) does not show set_params({key}__{p}=...)"
        assert sub.get_params(deep=False)[p] is sub_params[p], \
            f"{name}: set_params on a clone changed the original's {key}.{p}"
