"""Input checks for graph augmenters and models: clear errors naming the argument.

Every entry point of :mod:`structaug.graph` (``LocalAugmenter.fit``/``sample``,
``LocalAugment``, ``fit_node_model``, ``train_node_classifier``) runs these before any
work starts, so a malformed graph is a :class:`~structaug.exceptions.DataValidationError`
naming ``data.<attribute>`` instead of a torch traceback from the middle of training.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..exceptions import DataValidationError, InvalidParameterError
from ..validation import check_finite, check_index_range

__all__ = [
    "check_edge_index",
    "check_feature_dim",
    "check_graph",
    "check_in_channels",
    "check_node_features",
    "check_node_labels",
    "check_node_mask",
    "check_node_task",
]

#: ``edge_index`` dtypes accepted: torch indexes with both; any other integer dtype is
#: refused (a ``uint8`` index tensor would be read as a boolean mask by torch).
_INDEX_DTYPES = (torch.int64, torch.int32)


def check_node_features(x: Any, name: str = "data.x", *, n_nodes: int | None = None) -> None:
    """Check node features are a non-empty, finite, 2-D float tensor [N, F].

    Sparse (COO/CSR) tensors are accepted; their stored values are checked.

    Raises
    ------
    DataValidationError
        Missing, non-tensor, non-float (integer or boolean: convert with ``x.float()``),
        not 2-D, empty (0 nodes or 0 features), NaN/inf values, or (with ``n_nodes``) a row
        count other than ``n_nodes``.
    """
    if x is None:
        raise DataValidationError(f"{name} is missing: node features are needed")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        dt = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise DataValidationError(f"{name} must be a float tensor, got {dt}; convert it with x.float()")
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise DataValidationError(f"{name} must be a non-empty 2-D tensor [N, F], got shape {tuple(x.shape)}")
    if n_nodes is not None and x.shape[0] != n_nodes:
        raise DataValidationError(f"{name} has {x.shape[0]} rows but the graph has {n_nodes} nodes")
    if x.layout == torch.sparse_coo:
        check_finite(x.coalesce().values(), name)
    elif x.layout != torch.strided:
        check_finite(x.values(), name)
    else:
        check_finite(x, name)


def check_edge_index(ei: Any, n_nodes: int, name: str = "data.edge_index") -> None:
    """Check ``edge_index`` is an int64/int32 tensor [2, E] with node ids in ``[0, n_nodes)``.

    Self-loops and duplicate edges are allowed (see docs/lagnn.md, "Input checks").
    """
    if ei is None:
        raise DataValidationError(f"{name} is missing: the graph's edges are needed")
    if not isinstance(ei, torch.Tensor) or ei.dim() != 2 or ei.shape[0] != 2:
        shape = tuple(ei.shape) if isinstance(ei, torch.Tensor) else type(ei).__name__
        raise DataValidationError(f"{name} must have shape [2, E], got {shape}")
    if ei.dtype not in _INDEX_DTYPES:
        raise DataValidationError(
            f"{name} must hold integer node ids (torch.long), got dtype {ei.dtype}; convert it with edge_index.long()"
        )
    check_index_range(ei, n_nodes, name)


def check_graph(data: Any, name: str = "data", *, require_edges: bool = True, unit_interval: bool = False) -> None:
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
    InvalidParameterError
        ``data`` is not a graph object (also a ``TypeError``).
    DataValidationError
        A missing ``x``/``edge_index``, non-float or non-finite features, a malformed or
        out-of-range ``edge_index``, or (optionally) no edges / features outside [0, 1].
    """
    if not hasattr(data, "x") or not hasattr(data, "edge_index"):
        raise InvalidParameterError(
            f"{name} must be a torch_geometric Data with 'x' and 'edge_index', got {type(data).__name__}"
        )
    x, ei = data.x, data.edge_index
    if x is None:
        raise DataValidationError(f"{name}.x is missing: LAGNN needs node features")
    if ei is None:
        raise DataValidationError(f"{name}.edge_index is missing: LAGNN needs the graph's edges")
    check_node_features(x, f"{name}.x")
    check_edge_index(ei, x.shape[0], f"{name}.edge_index")
    if require_edges and int((ei[0] != ei[1]).sum()) == 0:
        raise DataValidationError(
            f"{name} has no edges (besides self-loops): the local augmenter learns from "
            "(neighbour, centre) pairs, so the graph needs at least one edge"
        )
    if unit_interval and (float(x.min()) < 0 or float(x.max()) > 1):
        raise DataValidationError(
            f"{name}.x must lie in [0, 1] for the CVAE's binary cross-entropy likelihood "
            f"(got range [{float(x.min()):.3g}, {float(x.max()):.3g}]); scale the features first, "
            "e.g. min-max per column or torch_geometric.transforms.NormalizeFeatures"
        )


def check_feature_dim(data: Any, n_features: int, name: str = "data") -> None:
    """Raise when ``data.x`` has a different feature dimension than the fitted one."""
    got = int(data.x.shape[1])
    if got != n_features:
        raise DataValidationError(f"{name}.x has {got} features but the augmenter was fitted on {n_features}")


def check_node_mask(
    data: Any, key: str, n_nodes: int, name: str = "data", *, nonempty: bool = False, why: str = ""
) -> torch.Tensor:
    """Return ``data.<key>`` after checking it is a boolean node mask of length ``n_nodes``.

    An integer tensor is refused even when it holds only 0/1: indexing with it would select
    nodes 0 and 1 instead of masking, a silently wrong result.
    """
    label = f"{name}.{key}"
    mask = getattr(data, key, None)
    if mask is None:
        raise DataValidationError(f"{label} is missing{why}")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        dt = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise DataValidationError(
            f"{label} must be a boolean mask over the nodes, got {dt}; an integer tensor would be "
            "read as node ids (use mask.bool() for 0/1 values, or "
            "torch_geometric.utils.index_to_mask(ids, num_nodes) for ids)"
        )
    if tuple(mask.shape) != (n_nodes,):
        raise DataValidationError(f"{label} must have shape ({n_nodes},) (one entry per node), got {tuple(mask.shape)}")
    if nonempty and not bool(mask.any()):
        raise DataValidationError(f"{label} selects no nodes{why}")
    return mask


def check_node_labels(
    data: Any, masks: dict[str, torch.Tensor], n_nodes: int, name: str = "data", *, n_classes: int | None = None
) -> torch.Tensor:
    """Return ``data.y`` after checking it holds integer class ids, valid on every masked node.

    Nodes outside ``masks`` may hold anything (PyG datasets often mark unlabelled nodes with
    -1); nodes inside must have labels in ``[0, n_classes)`` (``n_classes=None``: only >= 0).
    """
    y = getattr(data, "y", None)
    if y is None:
        raise DataValidationError(f"{name}.y is missing: node labels are needed")
    if not isinstance(y, torch.Tensor) or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        dt = y.dtype if isinstance(y, torch.Tensor) else type(y).__name__
        raise DataValidationError(f"{name}.y must hold integer class ids (torch.long), got {dt}")
    if tuple(y.shape) != (n_nodes,):
        raise DataValidationError(
            f"{name}.y must have shape ({n_nodes},) (one class id per node), got {tuple(y.shape)}"
        )
    for key, mask in masks.items():
        ym = y[mask]
        if ym.numel() == 0:
            continue
        lo, hi = int(ym.min()), int(ym.max())
        if lo < 0:
            node = int(mask.nonzero().view(-1)[(ym < 0).nonzero()[0, 0]])
            raise DataValidationError(
                f"{name}.y has label {lo} at node {node} of {name}.{key}; labels of masked nodes must be class ids >= 0"
            )
        if n_classes is not None and hi >= n_classes:
            raise DataValidationError(
                f"{name}.y has label {hi} in {name}.{key}, out of range for "
                f"{n_classes} classes (the model's out_channels)"
            )
    return y


def check_in_channels(x: torch.Tensor, in_channels: int | None, model: str, name: str = "x") -> None:
    """Raise when ``x``'s feature count differs from the model's ``in_channels``.

    ``in_channels`` of ``None`` or ``-1`` (PyG's lazy initialisation: sized by the first batch)
    is not checked.
    """
    if in_channels is not None and in_channels > 0 and x.shape[-1] != in_channels:
        raise DataValidationError(
            f"{name} has {x.shape[-1]} features but {model} was built with in_channels={in_channels}"
        )


def check_node_task(
    data: Any,
    x: torch.Tensor | None = None,
    *,
    model: Any = None,
    n_classes: int | None = None,
    name: str = "data",
    masks: Iterable[str] = ("train", "val", "test"),
) -> None:
    """Everything node classification needs, checked before training starts.

    ``x`` is the model's input (default ``data.x``); ``model``, when given, is matched
    against it by its ``in_channels`` and ``out_channels`` (skipped for models without
    them). The generated features' source is checked by the training itself. The training and
    validation masks must select at least one node (a loss over no nodes is NaN); the test
    mask may be empty (``test_acc`` is then NaN).
    """
    check_graph(data, name, require_edges=False)
    n = data.x.shape[0]
    if x is None:
        x = data.x
    else:
        check_node_features(x, "x", n_nodes=n)
    mods = {}
    for k in masks:
        need = k in ("train", "val")
        why = (
            (
                f": the {'loss' if k == 'train' else 'model selection'} needs at least one "
                f"{'labelled training' if k == 'train' else 'validation'} node"
            )
            if need
            else ""
        )
        mods[f"{k}_mask"] = check_node_mask(data, f"{k}_mask", n, name, nonempty=need, why=why)
    mtype = type(model).__name__
    if model is not None:
        check_in_channels(x, getattr(model, "in_channels", None), mtype)
        if n_classes is None:
            n_classes = getattr(model, "out_channels", None)
    check_node_labels(data, mods, n, name, n_classes=n_classes)
