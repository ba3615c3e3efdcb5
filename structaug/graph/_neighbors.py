"""Neighbour sampling for mini-batch LA-GNN training: PyG's ``NeighborLoader`` and its sampler.

PyG's :class:`~torch_geometric.sampler.NeighborSampler` samples through a compiled kernel
from ``pyg-lib`` or ``torch-sparse``. Where one is installed we use it as it is. Neither has
a wheel on PyPI for the CPU torch this project pins (``pyg-lib`` ships only from PyG's own
index; ``torch-sparse`` builds from source in ~45 min), so without them
:class:`TorchNeighborSampler` subclasses PyG's sampler and replaces only the kernel by a
vectorised torch one with the same output (``SamplerOutput``: seeds first, then each hop's
new nodes in order of discovery; ``row`` the sampled neighbour, ``col`` the node it was
sampled for, ``edge`` the CSC position that PyG's ``filter_data`` maps back to the edge).
Everything else (input batching, shuffling, subgraph building, ``n_id``/``batch_size``)
stays PyG's ``NeighborLoader``.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any

import torch
import torch_geometric.typing as pyg_typing
from torch_geometric.loader import NeighborLoader
from torch_geometric.sampler import NeighborSampler, SamplerOutput

from ..exceptions import InvalidParameterError
from ..validation import check_positive_int

__all__ = ["TorchNeighborSampler", "check_num_neighbors", "neighbor_loader", "neighbor_sampler", "with_generator"]


def compiled_sampling_available() -> bool:
    """Whether PyG can sample neighbours with its own compiled kernels (pyg-lib or torch-sparse)."""
    return bool(pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE)


def check_num_neighbors(num_neighbors: Any, name: str = "num_neighbors") -> list[int]:
    """``num_neighbors`` as a list of ints, one per hop (``-1``: all neighbours), or an error."""
    if isinstance(num_neighbors, (str, bytes)) or not isinstance(num_neighbors, Sequence) or not num_neighbors:
        raise InvalidParameterError(f"{name} must be a non-empty list of ints (one per hop), got {num_neighbors!r}")
    out = []
    for k in num_neighbors:
        if isinstance(k, bool) or not isinstance(k, int) or (k < 1 and k != -1):
            raise InvalidParameterError(f"{name} entries must be ints >= 1 or -1 (all neighbours), got {k!r}")
        out.append(int(k))
    return out


class TorchNeighborSampler(NeighborSampler):
    """PyG's ``NeighborSampler`` with a pure-torch kernel for homogeneous, directional sampling.

    Uniform sampling without replacement of up to ``num_neighbors[h]`` in-neighbours
    (sources of edges into the node, PyG's message direction) of every node added at hop
    ``h``; nodes found in an earlier hop are not expanded again, as in PyG's kernels.

    Parameters
    ----------
    data : Data
        The graph (only ``edge_index`` and ``num_nodes`` are read).
    num_neighbors : list of int
        Neighbours per hop; ``-1`` takes all.
    generator : torch.Generator, optional
        The CPU stream the draws come from (reproducible sampling; PyG's kernels use their own).
    """

    def __init__(self, data: Any, num_neighbors: Sequence[int], *, generator: torch.Generator | None = None):
        with warnings.catch_warnings():  # "without pyg-lib is deprecated": the kernel below replaces it
            warnings.simplefilter("ignore")
            super().__init__(data, num_neighbors=list(num_neighbors))
        self.generator = generator
        self._local: torch.Tensor | None = None  # global -> local id, -1 when not in the batch

    def _sample(self, seed: Any, seed_time: Any = None, **kwargs: Any) -> SamplerOutput:
        if isinstance(seed, dict) or seed_time is not None:
            raise NotImplementedError("TorchNeighborSampler samples homogeneous graphs without time")
        return _sample_csc(
            self.colptr, self.row, seed.long(), self.num_neighbors.get_mapped_values(), self.generator, self
        )


def _sample_csc(
    colptr: torch.Tensor,
    row: torch.Tensor,
    seed: torch.Tensor,
    num_neighbors: Sequence[int],
    generator: torch.Generator | None,
    owner: TorchNeighborSampler,
) -> SamplerOutput:
    n = colptr.numel() - 1
    if owner._local is None or owner._local.numel() != n:
        owner._local = torch.full((n,), -1, dtype=torch.long)
    local = owner._local
    colptr, row = colptr.long(), row.long()
    nodes = [seed]
    local[seed] = torch.arange(seed.numel())
    count = seed.numel()
    glob = seed  # the nodes to expand at this hop (global ids)
    frontier = torch.arange(seed.numel())  # ... and their local ids
    rows, cols, edges = [], [], []
    n_nodes, n_edges = [seed.numel()], []
    try:
        for k in num_neighbors:
            start = colptr[glob]
            deg = colptr[glob + 1] - start
            owner_pos = torch.repeat_interleave(torch.arange(frontier.numel()), deg)
            # CSC position of every candidate edge: start of its node's block + offset in it
            offset = torch.arange(owner_pos.numel()) - torch.repeat_interleave(torch.cumsum(deg, 0) - deg, deg)
            pos = start[owner_pos] + offset
            if k >= 0:
                # a random rank within each node's block; keep the k smallest (uniform, no replacement)
                key = torch.rand(pos.numel(), generator=generator)
                order = torch.argsort(key)
                order = order[torch.argsort(owner_pos[order], stable=True)]
                rank = torch.empty_like(order)
                rank[order] = offset
                keep = rank < k
                pos, owner_pos = pos[keep], owner_pos[keep]
            nbr = row[pos]
            new = nbr[local[nbr] < 0]
            uniq, inv = torch.unique(new, return_inverse=True)
            first = torch.full((uniq.numel(),), new.numel(), dtype=torch.long)
            first.scatter_reduce_(0, inv, torch.arange(new.numel()), reduce="amin")
            glob = uniq[torch.argsort(first)]  # order of discovery, as PyG's kernels
            local[glob] = torch.arange(count, count + glob.numel())
            nodes.append(glob)
            rows.append(local[nbr])
            cols.append(frontier[owner_pos])
            edges.append(pos)
            frontier = torch.arange(count, count + glob.numel())
            count += glob.numel()
            n_nodes.append(frontier.numel())
            n_edges.append(pos.numel())
        node = torch.cat(nodes)
    finally:
        local[torch.cat(nodes)] = -1  # reset only what this batch touched
    return SamplerOutput(
        node=node,
        row=torch.cat(rows),
        col=torch.cat(cols),
        edge=torch.cat(edges),
        batch=None,
        num_sampled_nodes=n_nodes,
        num_sampled_edges=n_edges,
    )


def neighbor_sampler(data: Any, num_neighbors: Sequence[int], generator: torch.Generator) -> NeighborSampler:
    """PyG's ``NeighborSampler`` for ``data`` when a compiled kernel is installed, else
    :class:`TorchNeighborSampler` drawing from ``generator``. It holds the graph in CSC form
    (``O(E)`` memory): build it once and share it between loaders (:func:`with_generator`)."""
    num_neighbors = check_num_neighbors(num_neighbors)
    if compiled_sampling_available():
        with warnings.catch_warnings():  # "torch-sparse without pyg-lib is deprecated": still PyG's kernel
            warnings.simplefilter("ignore")
            return NeighborSampler(data, num_neighbors=num_neighbors)
    return TorchNeighborSampler(data, num_neighbors, generator=generator)


def with_generator(sampler: NeighborSampler, generator: torch.Generator) -> NeighborSampler:
    """``sampler`` drawing from ``generator``, sharing its CSC graph (PyG's compiled samplers
    draw from their own stream and are returned as they are)."""
    if not isinstance(sampler, TorchNeighborSampler):
        return sampler
    twin = copy.copy(sampler)
    twin.generator, twin._local = generator, None
    return twin


def neighbor_loader(
    data: Any,
    sampler: NeighborSampler,
    input_nodes: torch.Tensor,
    *,
    batch_size: int,
    shuffle: bool,
    generator: torch.Generator,
) -> NeighborLoader:
    """PyG's ``NeighborLoader`` over ``input_nodes`` with ``sampler`` (:func:`neighbor_sampler`);
    the batch order draws from ``generator``."""
    check_positive_int(batch_size, "batch_size")
    return NeighborLoader(
        data,
        num_neighbors=sampler.num_neighbors.values,
        input_nodes=input_nodes,
        batch_size=batch_size,
        shuffle=shuffle,
        neighbor_sampler=sampler,
        generator=generator,
    )
