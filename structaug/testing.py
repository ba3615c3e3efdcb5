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

from .exceptions import NotFittedError

__all__ = ["check_augmenter", "assert_same_output", "collect_tensors"]


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
    input's device.
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
    ret = a1.fit(data, **fit_kwargs)
    assert ret is a1, f"{name}.fit must return self"
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
