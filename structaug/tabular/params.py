"""Hyperparameter checks the tabular estimators share (HyperTab, T-JEPA, the MLP head).

Every estimator in :mod:`structaug.tabular` checks *all* its hyperparameters at the top of
``fit``, before the table is encoded or a network is built, so a bad value (``batch_size=0``,
``lr=nan``, ``hidden_sizes=(0,)``, ``device="cuda"`` on a CPU machine) fails within
milliseconds with an :class:`~structaug.exceptions.InvalidParameterError` naming the
parameter, never minutes later as a torch error or, worse, as a model that silently never
trained. The generic checks (positive int, fraction, choice, positive float) come from
:mod:`structaug.validation` (``check_bool``, ``check_widths``, ``check_dropout`` ... live there
too, for every method); this module adds the learning-rate and device conventions.
"""
from __future__ import annotations

from typing import Any

import torch

from ..train import resolve_device
from ..validation import (check_bool, check_dropout, check_optional_positive_int,  # noqa: F401 (re-exported)
                          check_positive_float, check_widths)

__all__ = ["check_bool", "check_widths", "check_optional_positive_int", "check_dropout", "check_device",
           "check_nonnegative_float", "check_lr"]


def check_nonnegative_float(value: Any, name: str) -> float:
    """A finite real >= 0 (weight decay, a learning rate that may start at 0)."""
    return check_positive_float(value, name, allow_zero=True)


def check_lr(value: Any, name: str = "lr") -> float:
    """A finite learning rate > 0 (0 would train nothing, NaN would fill the weights with NaN)."""
    return check_positive_float(value, name)


def check_device(value: Any, name: str = "device") -> torch.device:
    """``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``… resolved at the start of ``fit``.

    :func:`~structaug.train.resolve_device` does the checking: a malformed value (``"gpu0"``,
    ``3``) is an :class:`InvalidParameterError`, ``"cuda"`` on a machine without CUDA a
    :class:`~structaug.exceptions.DeviceUnavailableError` (a ``RuntimeError``), both raised
    here, before any work. ``name`` is kept for the callers' signature.
    """
    return resolve_device(value)
