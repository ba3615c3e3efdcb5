"""Benchmark tensors as :class:`ObservedTensor`.

* ``synthetic_10K`` — DAIN's demo tensor (text format, 1000 × 1000 × 1000, 10K cells).
* ``ml-100k`` — MovieLens-100K as user × movie × time-bin → rating (equal-width bins over
  the rating timestamps, 30 by default ≈ one per week of the 7-month log).
* ``LDOS-CoMoDa`` — user × item × context → rating; the context is one of CoMoDa's
  situational columns (``time`` of day by default; ``-1`` = unknown is kept as its own
  value); ratings repeated in the same cell are averaged.
* ``covid19_serology`` (or any tensorly dataset) — a dense real tensor with a random
  ``observed_fraction`` of its cells kept, the rest hidden.
* ``lowrank`` — a generated non-linear low-rank tensor (:func:`make_lowrank_tensor`).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..datasets import load_comoda, load_dain_tensor, load_movielens100k, make_lowrank_tensor
from ..exceptions import DataValidationError, InvalidParameterError
from ..random import RandomState, check_random_state
from ..validation import check_choice, check_fraction, check_positive_int
from ._container import ObservedTensor, _as_shape

__all__ = [
    "TENSOR_DATASETS",
    "load_comoda_tensor",
    "load_movielens_tensor",
    "load_tensor_dataset",
    "load_tensorly_tensor",
    "load_text_tensor",
    "make_tensor",
]


def _codes(col: pd.Series) -> np.ndarray:
    """0-based codes of a column, in sorted order of its values."""
    return pd.factorize(col, sort=True)[0].astype(np.int64)


def load_movielens_tensor(data_dir: str | os.PathLike | None = None, *, n_time_bins: int = 30) -> ObservedTensor:
    """MovieLens-100K as user × movie × time-bin → rating (1–5)."""
    n_time_bins = check_positive_int(n_time_bins, "n_time_bins")
    inter = load_movielens100k(data_dir).interactions
    ts = inter["timestamp"].to_numpy()
    edges = np.linspace(ts.min(), ts.max(), int(n_time_bins) + 1)
    tbin = np.clip(np.searchsorted(edges, ts, side="right") - 1, 0, int(n_time_bins) - 1)
    idx = np.stack([_codes(inter["user"]), _codes(inter["item"]), tbin], axis=1)
    shape = (int(idx[:, 0].max()) + 1, int(idx[:, 1].max()) + 1, int(n_time_bins))
    return ObservedTensor(idx, inter["rating"].to_numpy(np.float64), shape, duplicates="mean")


def load_comoda_tensor(data_dir: str | os.PathLike | None = None, *, context: str = "time") -> ObservedTensor:
    """LDOS-CoMoDa as user × item × ``context`` → rating (1–5), duplicates averaged."""
    from ..datasets.tensors import COMODA_COLUMNS

    check_choice(context, COMODA_COLUMNS[3:19], "context")  # before reading the file
    df = load_comoda(data_dir)
    idx = np.stack([_codes(df["userID"]), _codes(df["itemID"]), _codes(df[context])], axis=1)
    return ObservedTensor(idx, df["rating"].to_numpy(np.float64), duplicates="mean")


def load_tensorly_tensor(
    name: str = "covid19_serology", *, observed_fraction: float = 0.3, random_state: RandomState = 0
) -> ObservedTensor:
    """A dense tensor shipped with ``tensorly.datasets`` with all but ``observed_fraction``
    of its (non-NaN) cells hidden at random."""
    import tensorly.datasets as tld

    check_fraction(observed_fraction, "observed_fraction")
    loader = getattr(tld, f"load_{name}", None) if isinstance(name, str) else None
    if loader is None:
        raise InvalidParameterError(f"name={name!r}: tensorly.datasets has no load_{name}")
    bunch = loader()
    arr = np.asarray(bunch["tensor"] if isinstance(bunch, dict) else bunch.tensor, dtype=np.float64)
    rng = check_random_state(random_state)
    mask = ~np.isnan(arr) & (rng.random(arr.shape) < float(observed_fraction))
    return ObservedTensor.from_dense(arr, mask)


def load_text_tensor(name: str = "synthetic_10K", data_dir: str | os.PathLike | None = None) -> ObservedTensor:
    """A tensor in DAIN's text format from ``tensors/<name>/<name>.tensor``."""
    idx, val = load_dain_tensor(name, data_dir)
    return ObservedTensor(idx, val)


def make_tensor(
    shape: tuple[int, ...] = (200, 150, 20),
    nnz: int = 20_000,
    *,
    rank: int = 5,
    noise: float = 0.1,
    random_state: RandomState = 0,
) -> ObservedTensor:
    """A generated non-linear low-rank tensor (values on a 1–5 scale) with exactly ``nnz`` cells."""
    shape = _as_shape(shape)
    nnz = check_positive_int(nnz, "nnz")
    rank = check_positive_int(rank, "rank")
    cells = float(np.prod(np.asarray(shape, dtype=np.float64)))
    if nnz > cells:
        raise InvalidParameterError(f"nnz={nnz} exceeds the {cells:.0f} cells of shape {shape}")
    idx, val = make_lowrank_tensor(shape, rank, nnz, noise=noise, random_state=random_state)
    if len(idx) != nnz:  # the generator's large-tensor path draws with collisions
        raise DataValidationError(
            f"only {len(idx)} of nnz={nnz} distinct cells were generated for shape {shape}; use a smaller nnz"
        )
    return ObservedTensor(idx, val, shape)


#: benchmark name → loader(data_dir)
TENSOR_DATASETS: dict[str, Callable[[str | os.PathLike | None], ObservedTensor]] = {
    "synthetic_10K": lambda d: load_text_tensor("synthetic_10K", d),
    "ml-100k": lambda d: load_movielens_tensor(d),
    "LDOS-CoMoDa": lambda d: load_comoda_tensor(d),
    "covid19_serology": lambda d: load_tensorly_tensor("covid19_serology"),
    "lowrank": lambda d: make_tensor(),
}


def load_tensor_dataset(name: str, data_dir: str | os.PathLike | None = None) -> ObservedTensor:
    """Load a benchmark tensor by name (see :data:`TENSOR_DATASETS`)."""
    check_choice(name, sorted(TENSOR_DATASETS), "name")
    return TENSOR_DATASETS[name](data_dir)
