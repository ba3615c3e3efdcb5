"""Seeding without global state.

Augmenters draw from their own :class:`numpy.random.Generator` and
:class:`torch.Generator` so that ``random_state`` makes ``sample`` bit-identical on the CPU
and never perturbs (or depends on) ``torch.manual_seed``/``np.random.seed`` elsewhere in a
user's program.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Union

import numpy as np
import torch

from .exceptions import InvalidParameterError

RandomState = Union[None, int, np.random.Generator, np.random.RandomState]  # noqa: UP007 - a runtime alias on 3.10

_MAX_SEED = 2**63 - 1


def check_random_state(random_state: RandomState) -> np.random.Generator:
    """Turn ``None``/int/Generator/RandomState into a :class:`numpy.random.Generator`.

    A Generator passed in is used as is (shared state, like sklearn); an int gives a fresh one.
    A negative int, a float, a bool or anything else raises
    :class:`~structaug.exceptions.InvalidParameterError` (a ``ValueError`` and a ``TypeError``)
    naming ``random_state``.
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise InvalidParameterError(f"random_state must be non-negative, got {random_state}")
        return np.random.default_rng(int(random_state))
    raise InvalidParameterError(
        "random_state must be None, an int, or a numpy Generator/RandomState, "
        f"got {type(random_state).__name__} {random_state!r}"
    )


def torch_generator(rng: np.random.Generator, device: torch.device | str = "cpu") -> torch.Generator:
    """A :class:`torch.Generator` on ``device`` seeded from ``rng`` (advances ``rng``)."""
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(rng.integers(_MAX_SEED)))
    return gen


def spawn_seed(rng: np.random.Generator) -> int:
    """Draw an int seed from ``rng`` (for sub-components that take an int)."""
    return int(rng.integers(2**31 - 1))


def seed_everything(seed: int) -> None:
    """Seed torch's global RNGs (CPU and CUDA), as Lightning's ``seed_everything`` does.

    Used only by trainers for weight initialisation and dropout; augmenters never call it.
    """
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


@contextmanager
def local_torch_seed(seed: int) -> Iterator[None]:
    """Run a block with torch's CPU generator seeded to ``seed``; the caller's state comes back after.

    For seeded weight initialisation inside ``fit`` (modules are built on the CPU, then moved).
    Only the CPU generator is seeded: ``torch.manual_seed`` would also reseed every CUDA
    generator, which ``fork_rng(devices=[])`` does not save or restore.
    """
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(int(seed))
        yield


@contextmanager
def preserved_torch_rng() -> Iterator[None]:
    """Run a block that may reseed torch's global RNGs, then give the caller back its CPU and
    CUDA states.

    :meth:`~structaug.train.Trainer.fit` runs a seeded or resumed loop in it (the seed is for
    dropout), so every estimator's ``fit`` leaves the user's torch stream as it found it (a
    fitted CUDA model has initialised CUDA, so its generators are saved too).
    """
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count())) if cuda else []):
        yield
