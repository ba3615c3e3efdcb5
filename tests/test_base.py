"""The Augmenter contract and the conformance suite itself."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from structaug.base import Augmenter
from structaug.exceptions import NotFittedError
from structaug.random import check_random_state
from structaug.testing import assert_same_output, check_augmenter


class NoiseAugmenter(Augmenter):
    """Toy augmenter: adds Gaussian noise scaled by each column's std (DataFrame in → out)."""

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
        if isinstance(data, torch.Tensor):
            noise = torch.randn(data.shape, generator=rng.torch(data.device), device=data.device, dtype=data.dtype)
            return data + noise * torch.as_tensor(self.std_, dtype=data.dtype, device=data.device) * self.scale
        x = data.to_numpy()
        out = x + rng.np.normal(size=x.shape) * self.std_ * self.scale
        return pd.DataFrame(out, columns=data.columns, index=data.index)


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
