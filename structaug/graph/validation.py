"""Input checks for graph augmenters and models: clear errors naming the problem."""
from __future__ import annotations

from typing import Any

import torch

from ..exceptions import DataValidationError
from ..validation import check_finite, check_index_range

__all__ = ["check_graph", "check_feature_dim"]


def check_graph(data: Any, name: str = "data", *, require_edges: bool = True,
                unit_interval: bool = False) -> None:
    """Check a PyG ``Data``-like object holds usable ``x`` and ``edge_index``.

    Parameters
    ----------
    data : torch_geometric.data.Data
        Anything with tensor attributes ``x`` [N, F] and ``edge_index`` [2, E].
    require_edges : bool
        Raise when the graph has no edges (the CVAE learns from edges).
    unit_interval : bool
        Require features in [0, 1] (the CVAE's Bernoulli/BCE likelihood needs it).

    Raises
    ------
    TypeError
        ``data`` is not a graph object.
    DataValidationError
        A missing ``x``/``edge_index``, non-float or non-finite features, a malformed or
        out-of-range ``edge_index``, or (optionally) no edges / features outside [0, 1].
    """
    if not hasattr(data, "x") or not hasattr(data, "edge_index"):
        raise TypeError(f"{name} must be a torch_geometric Data with 'x' and 'edge_index', "
                        f"got {type(data).__name__}")
    x, ei = data.x, data.edge_index
    if x is None:
        raise DataValidationError(f"{name}.x is missing: LAGNN needs node features")
    if ei is None:
        raise DataValidationError(f"{name}.edge_index is missing: LAGNN needs the graph's edges")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        dt = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise DataValidationError(f"{name}.x must be a float tensor, got {dt}; convert it with x.float()")
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise DataValidationError(f"{name}.x must be a non-empty 2-D tensor [N, F], got shape {tuple(x.shape)}")
    check_finite(x, f"{name}.x")
    if not isinstance(ei, torch.Tensor) or ei.dim() != 2 or ei.shape[0] != 2:
        shape = tuple(ei.shape) if isinstance(ei, torch.Tensor) else type(ei).__name__
        raise DataValidationError(f"{name}.edge_index must have shape [2, E], got {shape}")
    check_index_range(ei, x.shape[0], f"{name}.edge_index")
    if require_edges and int((ei[0] != ei[1]).sum()) == 0:
        raise DataValidationError(
            f"{name} has no edges (besides self-loops): the local augmenter learns from "
            "(neighbour, centre) pairs, so the graph needs at least one edge")
    if unit_interval and (float(x.min()) < 0 or float(x.max()) > 1):
        raise DataValidationError(
            f"{name}.x must lie in [0, 1] for the CVAE's binary cross-entropy likelihood "
            f"(got range [{float(x.min()):.3g}, {float(x.max()):.3g}]); scale the features first, "
            "e.g. min-max per column or torch_geometric.transforms.NormalizeFeatures")


def check_feature_dim(data: Any, n_features: int, name: str = "data") -> None:
    """Raise when ``data.x`` has a different feature dimension than the fitted one."""
    got = int(data.x.shape[1])
    if got != n_features:
        raise DataValidationError(
            f"{name}.x has {got} features but the augmenter was fitted on {n_features}")
