"""The Augmenter contract and the conformance suite itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from structaug.base import SAMPLE_UNITS, Augmenter
from structaug.exceptions import DataValidationError, NotFittedError
from structaug.random import check_random_state
from structaug.testing import assert_same_output, check_augmenter, check_nested_params


class NoiseAugmenter(Augmenter):
    """Toy "views" augmenter: ``n`` noisy copies (Gaussian noise scaled by each column's std)
    of every row: a DataFrame of ``n`` stacked copies, or a tensor ``[n, *data.shape]``."""

    sample_unit = "views"
    default_n = 1

    def __init__(self, *, scale: float = 0.1, random_state=None):
        self.scale = scale
        self.random_state = random_state

    def _validate_params(self):
        if self.scale < 0:
            raise ValueError("scale must be >= 0")

    def _fit(self, data, **kw):
        x = data.to_numpy() if isinstance(data, pd.DataFrame) else np.asarray(data)
        self.std_ = x.std(0)

    def _sample(self, data, n, rng):
        n = self.default_n if n is None else n
        if isinstance(data, torch.Tensor):
            shape = (n, *data.shape)
            noise = torch.randn(shape, generator=rng.torch(data.device), device=data.device, dtype=data.dtype)
            return data + noise * torch.as_tensor(self.std_, dtype=data.dtype, device=data.device) * self.scale
        x = np.tile(data.to_numpy(), (n, 1))
        out = x + rng.np.normal(size=x.shape) * self.std_ * self.scale
        return pd.DataFrame(out, columns=data.columns, index=np.tile(data.index, n))

    def _count_sampled(self, out, data):
        return int(out.shape[0]) if isinstance(out, torch.Tensor) else len(out) // len(data)


class UndeclaredAugmenter(NoiseAugmenter):
    sample_unit = None


class MiscountingAugmenter(NoiseAugmenter):
    def _sample(self, data, n, rng):  # ignores n: always one view
        return super()._sample(data, 1, rng)


class CellAdder(Augmenter):
    """Toy "additions" augmenter: ``n`` new values drawn from the unseen ints below ``high``."""

    sample_unit = "additions"

    def __init__(self, *, high: int = 5, random_state=None):
        self.high = high
        self.random_state = random_state

    def _fit(self, data, **kw):
        self.free_ = np.setdiff1d(np.arange(self.high), data)

    def _sample(self, data, n, rng):
        n = 1 if n is None else n
        if n > len(self.free_):
            raise DataValidationError(f"only {len(self.free_)} new value(s) left, n={n}")
        return np.sort(rng.np.choice(self.free_, size=n, replace=False))

    def _count_sampled(self, out, data):
        return len(out)


class Wrapper(Augmenter):
    """An augmenter whose ``inner`` parameter is another augmenter (cloned in fit)."""

    sample_unit = "views"
    default_n = 1

    def __init__(self, inner=None, *, random_state=None):
        self.inner = inner
        self.random_state = random_state

    def _fit(self, data, **kw):
        inner = NoiseAugmenter() if self.inner is None else clone(self.inner)
        self.inner_ = inner.set_params(random_state=int(self._fit_rng.np.integers(2**31))).fit(data)

    def _sample(self, data, n, rng):
        return self.inner_.sample(data, n, random_state=rng.np)

    def _count_sampled(self, out, data):
        return self.inner_._count_sampled(out, data)


class FitsItsParameter(Wrapper):
    def _fit(self, data, **kw):
        self.inner_ = self.inner.fit(data)  # fits the caller's instance: forbidden


class MutatingAugmenter(NoiseAugmenter):
    def _sample(self, data, n, rng):
        data.iloc[0, 0] = 123.0
        return data


class UnseededAugmenter(NoiseAugmenter):
    def _sample(self, data, n, rng):
        return data + np.random.normal(size=data.shape)


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(20, 3)), columns=list("abc"))


def test_noise_augmenter_passes_conformance(frame):
    check_augmenter(NoiseAugmenter(random_state=0), frame)


def test_conformance_on_tensors_keeps_dtype_and_device():
    x = torch.randn(10, 4, dtype=torch.float64)
    check_augmenter(NoiseAugmenter(random_state=1), x)


def test_conformance_catches_mutation(frame):
    with pytest.raises(AssertionError, match="MutatingAugmenter: fit or sample mutated the input data"):
        check_augmenter(MutatingAugmenter(random_state=0), frame)


def test_conformance_catches_global_rng_use(frame):
    with pytest.raises(AssertionError, match="UnseededAugmenter: the same random_state gave different outputs"):
        check_augmenter(UnseededAugmenter(random_state=0), frame)


def test_same_output_nan_is_not_zero():
    from structaug.testing import assert_same_output

    assert_same_output(torch.tensor([float("nan"), 1.0]), torch.tensor([float("nan"), 1.0]))
    with pytest.raises(AssertionError, match="values differ"):
        assert_same_output(torch.tensor([float("nan")]), torch.tensor([0.0]))


def test_not_fitted_error_names_class(frame):
    with pytest.raises(NotFittedError, match="NoiseAugmenter instance is not fitted"):
        NoiseAugmenter().sample(frame)


def test_clone_and_params_round_trip():
    a = NoiseAugmenter(scale=0.5, random_state=3)
    b = clone(a)
    assert b.get_params() == {"scale": 0.5, "random_state": 3}
    b.set_params(scale=0.2)
    assert b.scale == 0.2 and a.scale == 0.5
    assert repr(a) == "NoiseAugmenter(random_state=3, scale=0.5)"


def test_fit_returns_self_and_validates_params(frame):
    a = NoiseAugmenter(random_state=0)
    assert a.fit(frame) is a
    with pytest.raises(ValueError, match="scale"):
        NoiseAugmenter(scale=-1).fit(frame)


def test_sample_stream_is_fresh_but_reproducible(frame):
    a = NoiseAugmenter(random_state=0).fit(frame)
    s1, s2 = a.sample(frame), a.sample(frame)
    assert not s1.equals(s2)  # each call is a new augmentation
    b = NoiseAugmenter(random_state=0).fit(frame)
    pd.testing.assert_frame_equal(b.sample(frame), s1)
    pd.testing.assert_frame_equal(a.sample(frame, random_state=7), b.sample(frame, random_state=7))


def test_sample_does_not_touch_global_rng(frame):
    torch.manual_seed(0)
    np.random.seed(0)
    expected_t, expected_n = torch.rand(1), np.random.rand()
    torch.manual_seed(0)
    np.random.seed(0)
    NoiseAugmenter(random_state=0).fit(frame).sample(torch.zeros(3, 3, dtype=torch.float64))
    assert torch.equal(torch.rand(1), expected_t) and np.random.rand() == expected_n


def test_bad_n_rejected(frame):
    a = NoiseAugmenter(random_state=0).fit(frame)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="n must be"):
            a.sample(frame, n=bad)


def test_check_random_state_types():
    assert isinstance(check_random_state(None), np.random.Generator)
    g = np.random.default_rng(0)
    assert check_random_state(g) is g
    assert check_random_state(5).integers(100) == np.random.default_rng(5).integers(100)
    assert isinstance(check_random_state(np.random.RandomState(0)), np.random.Generator)
    with pytest.raises(TypeError):
        check_random_state("seed")
    with pytest.raises(ValueError):
        check_random_state(-1)


def test_assert_same_output_detects_differences():
    assert_same_output({"a": torch.ones(2)}, {"a": torch.ones(2)})
    with pytest.raises(AssertionError):
        assert_same_output({"a": torch.ones(2)}, {"a": torch.zeros(2)})
    with pytest.raises(AssertionError):
        assert_same_output(torch.ones(2), torch.ones(2, dtype=torch.float64))
    with pytest.raises(AssertionError):
        assert_same_output([1, 2], [2, 1])


# -- what n counts (sample_unit), nested parameters -------------------------------------
def test_sample_units_are_views_and_additions():
    assert SAMPLE_UNITS == ("views", "additions")
    assert Augmenter.sample_unit is None and Augmenter.default_n is None
    with pytest.raises(NotImplementedError, match="NoCount must implement _count_sampled"):
        type("NoCount", (Augmenter,), {"sample_unit": "views"})()._count_sampled(None, None)


def test_conformance_requires_sample_unit(frame):
    with pytest.raises(AssertionError, match=r"UndeclaredAugmenter: declare what n counts.*got None"):
        check_augmenter(UndeclaredAugmenter(random_state=0), frame)


def test_conformance_catches_wrong_count(frame):
    with pytest.raises(
        AssertionError,
        match=r"MiscountingAugmenter.sample\(data, n=2\) gave 1 views of every "
        r"element; sample_unit='views' says 2",
    ):
        check_augmenter(MiscountingAugmenter(random_state=0), frame)


def test_conformance_additions_and_skip_rule():
    check_augmenter(CellAdder(random_state=0), np.array([0, 1]))  # 3 free values: n=1 and n=2 checked
    check_augmenter(CellAdder(random_state=0), np.array([0, 1, 2, 3]))  # 1 free value: n=2 skipped
    with pytest.raises(DataValidationError, match="only 0 new value"):
        check_augmenter(CellAdder(random_state=0), np.arange(5))  # n=1 must always work


def test_views_augmenter_cannot_skip_n(frame):
    class Refuses(NoiseAugmenter):
        def _sample(self, data, n, rng):
            if n == 2:
                raise DataValidationError("no")
            return super()._sample(data, n, rng)

    with pytest.raises(DataValidationError, match="no"):
        check_augmenter(Refuses(random_state=0), frame)


def test_nested_params_round_trip(frame):
    w = Wrapper(NoiseAugmenter(scale=0.3), random_state=0)
    deep = w.get_params(deep=True)
    assert deep["inner__scale"] == 0.3 and deep["inner__random_state"] is None
    w2 = clone(w).set_params(inner__scale=0.4)
    assert w2.inner.scale == 0.4 and w.inner.scale == 0.3
    check_nested_params(w)
    check_augmenter(w, frame)


def test_conformance_catches_fitting_the_passed_instance(frame):
    with pytest.raises(
        AssertionError,
        match=r"FitsItsParameter.fit fitted the instance passed as 'inner' "
        r"\(new attributes \['_fit_rng', '_sample_rng', 'is_fitted_', 'std_'\]\)",
    ):
        check_augmenter(FitsItsParameter(NoiseAugmenter(), random_state=0), frame)


def test_nested_params_catches_unreachable_sub_estimator():
    class Opaque(Wrapper):
        def get_params(self, deep=True):  # hides the sub-estimator's parameters
            return {"inner": self.inner, "random_state": self.random_state}

    with pytest.raises(AssertionError, match=r"Opaque.get_params\(deep=True\) lacks inner__random_state"):
        check_nested_params(Opaque(NoiseAugmenter()))


def test_conformance_checks_default_n(frame):
    class WrongDefault(NoiseAugmenter):
        default_n = 3  # but n=None gives one view

        def _sample(self, data, n, rng):
            return super()._sample(data, 1 if n is None else n, rng)

    with pytest.raises(AssertionError, match=r"WrongDefault.sample\(data\) \(n=None\) gave 1 views; default_n=3"):
        check_augmenter(WrongDefault(random_state=0), frame)

    class BadDefault(NoiseAugmenter):
        default_n = 0

    with pytest.raises(AssertionError, match="BadDefault: default_n must be None or an int >= 1, got 0"):
        check_augmenter(BadDefault(random_state=0), frame)
