"""Small torch building blocks shared by several methods."""
from __future__ import annotations

from typing import Sequence

from torch import nn

__all__ = ["MLP", "activation"]

_ACTS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "silu": nn.SiLU}


def activation(name: str) -> nn.Module:
    try:
        return _ACTS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(_ACTS)}") from None


class MLP(nn.Sequential):
    """``in → hidden... → out`` with an activation (and optional dropout/batch-norm) between layers.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths including input and output, e.g. ``[30, 64, 64, 2]``.
    act : str
        Activation between layers (none after the last).
    dropout : float
        Dropout after each hidden activation.
    batch_norm : bool
        BatchNorm1d before each hidden activation.
    """

    def __init__(self, sizes: Sequence[int], *, act: str = "relu", dropout: float = 0.0, batch_norm: bool = False):
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least input and output sizes, got {list(sizes)}")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                if batch_norm:
                    layers.append(nn.BatchNorm1d(b))
                layers.append(activation(act))
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        super().__init__(*layers)
