"""Per-epoch feature generators used by the LA-GNN training loop.

A sampler is a callable ``sampler(n, generator) -> Tensor[N, n, F]`` on the model's device:
node-first, like ``LocalAugmenter.sample(...).x_aug``, so the generated features line up row
by row with ``x`` (and batch like it in PyG). It is a permuted view of a sample-major buffer,
so each of the ``n`` feature matrices ``out[:, j]`` is one contiguous ``[N, F]`` block.
:class:`CVAEFeatureSampler` draws from a fitted :class:`~structaug.graph.LocalAugmenter`;
:class:`RandomNeighborSampler` is the ablation control that copies a uniformly random
neighbour's features instead (what the CVAE adds over plain neighbour resampling).
"""
from __future__ import annotations

import copy

import torch
from torch.nn import functional as F

from ..train import same_device
from ._ops import row_normalize_
from .cvae import NeighborCVAE, row_normalize
from .validation import check_edge_index, check_node_features

__all__ = ["CVAEFeatureSampler", "RandomNeighborSampler"]


class CVAEFeatureSampler:
    """Draw ``z ~ N(0, I)`` per node and decode ``p(x_neighbour | x_node)``.

    The condition's share of the decoder's first layer is computed once here, so each
    sample costs one ``[N, hidden] @ [hidden, F]`` product. The sigmoid and the row
    normalisation then run in place on that product's buffer (same values as
    ``row_normalize(cvae.decode(z, c))``, without two more ``[n, N, F]`` allocations: the
    decoder output is the largest tensor of LA-GNN training).
    """

    def __init__(self, cvae: NeighborCVAE, x: torch.Tensor, *, normalize: bool = True):
        self.cvae = cvae.eval()
        self.normalize = normalize
        self.n_nodes = x.shape[0]
        self.n_features = cvae.n_features
        param = next(cvae.parameters())
        with torch.no_grad():
            self._c_proj = cvae.condition(x.to(param.device, param.dtype))
        self.device = param.device

    @torch.no_grad()
    def __call__(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn((n, self.n_nodes, self.cvae.latent_size), generator=generator,
                        device=self.device, dtype=self._c_proj.dtype)
        h = F.relu(self.cvae.dec_z(z) + self._c_proj)
        out = self.cvae.dec_out(h).sigmoid_()
        out = row_normalize_(out) if self.normalize else out
        # the draws stay sample-major (same random stream as before); the result is node-first
        return out.permute(1, 0, 2)

    def to(self, device: str | torch.device) -> "CVAEFeatureSampler":
        """This sampler on ``device`` (itself when already there)."""
        dev = torch.device(device)
        if same_device(dev, self.device):
            return self
        new = copy.copy(self)
        new.cvae = copy.deepcopy(self.cvae).to(dev)
        new._c_proj = self._c_proj.to(dev)
        new.device = next(new.cvae.parameters()).device
        return new

    def __repr__(self) -> str:
        return f"CVAEFeatureSampler(n_nodes={self.n_nodes}, normalize={self.normalize})"


class RandomNeighborSampler:
    """Replace each node's generated features by a uniformly random neighbour's features.

    Isolated nodes get their own features. Neighbours are the sources of edges pointing at
    the node (PyG's message direction).
    """

    def __init__(self, x: torch.Tensor, edge_index: torch.Tensor, *, normalize: bool = True):
        check_node_features(x, "x")
        n = x.shape[0]
        check_edge_index(edge_index, n, "edge_index")
        src, dst = edge_index
        keep = src != dst
        src, dst = src[keep], dst[keep]
        order = torch.argsort(dst, stable=True)
        self._src = src[order]
        self._deg = torch.bincount(dst, minlength=n)
        self._ptr = torch.cumsum(self._deg, 0) - self._deg
        self._x = row_normalize(x) if normalize else x
        self.device = x.device
        self.n_nodes = n
        self.n_features = x.shape[1]

    @torch.no_grad()
    def __call__(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        u = torch.rand((n, self.n_nodes), generator=generator, device=self.device)
        has = self._deg > 0
        offset = (u * self._deg.clamp(min=1)).long().clamp(max=(self._deg - 1).clamp(min=0))
        pick = self._src[(self._ptr + offset).clamp(max=max(len(self._src) - 1, 0))] if len(self._src) else None
        own = torch.arange(self.n_nodes, device=self.device).expand(n, -1)
        idx = torch.where(has, pick, own) if pick is not None else own
        return self._x[idx].permute(1, 0, 2)  # [N, n, F], node-first

    def to(self, device: str | torch.device) -> "RandomNeighborSampler":
        """This sampler on ``device`` (itself when already there)."""
        dev = torch.device(device)
        if same_device(dev, self.device):
            return self
        new = copy.copy(self)
        for name in ("_src", "_deg", "_ptr", "_x"):
            setattr(new, name, getattr(self, name).to(dev))
        new.device = new._x.device
        return new

    def __repr__(self) -> str:
        return f"RandomNeighborSampler(n_nodes={self.n_nodes})"
