"""The feature generators behind the graph augmenters (private: reach them through an augmenter).

A sampler is a callable ``sampler(n, generator) -> Tensor[N, n, F]`` on the model's device:
node-first, like ``LocalAugmenter.sample(...).x_aug``, so the generated features line up row
by row with ``x`` (and batch like it in PyG). It is a permuted view of a sample-major buffer,
so each of the ``n`` feature matrices ``out[:, j]`` is one contiguous ``[N, F]`` block.
``LocalAugmenter._feature_sampler`` builds a :class:`_CVAESampler`,
``RandomNeighborAugmenter._feature_sampler`` a :class:`_RandomNeighborSampler` (the ablation
control); ``sample``, the ``LocalAugment`` transform and the training loop all draw through
them. :class:`_FixedSampler` returns features generated beforehand (a graph's ``x_aug``).
"""

from __future__ import annotations

import copy

import torch
from torch.nn import functional as F

from ..train import same_device
from ._cvae import NeighborCVAE, row_normalize
from ._ops import row_normalize_
from ._validation import check_edge_index, check_node_features

__all__: list[str] = []  # private: built by the augmenters


class _CVAESampler:
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
        z = torch.randn(
            (n, self.n_nodes, self.cvae.latent_size), generator=generator, device=self.device, dtype=self._c_proj.dtype
        )
        h = F.relu(self.cvae.dec_z(z) + self._c_proj)
        out = self.cvae.dec_out(h).sigmoid_()
        out = row_normalize_(out) if self.normalize else out
        # the draws stay sample-major (same random stream as before); the result is node-first
        return out.permute(1, 0, 2)

    def to(self, device: str | torch.device) -> _CVAESampler:
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
        return f"_CVAESampler(n_nodes={self.n_nodes}, normalize={self.normalize})"


class _RandomNeighborSampler:
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

    def to(self, device: str | torch.device) -> _RandomNeighborSampler:
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
        return f"_RandomNeighborSampler(n_nodes={self.n_nodes})"


class _FixedSampler:
    """Features generated beforehand (``data.x_aug`` [N, k, F]), returned for every pass.

    Training on a fixed draw instead of resampling every pass (the reference resamples);
    what training on a graph the :class:`~structaug.graph.LocalAugment` transform produced
    gives. ``n`` must equal ``k``.
    """

    def __init__(self, x_aug: torch.Tensor):
        self._x_aug = x_aug
        self.device = x_aug.device
        self.n_nodes, self.n_views, self.n_features = (int(d) for d in x_aug.shape)

    def __call__(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        if n != self.n_views:  # guarded by the training's checks; a plain error if called directly
            raise ValueError(f"x_aug holds {self.n_views} generated feature matrices per node, {n} requested")
        return self._x_aug

    def to(self, device: str | torch.device) -> _FixedSampler:
        dev = torch.device(device)
        return self if same_device(dev, self.device) else _FixedSampler(self._x_aug.to(dev))

    def __repr__(self) -> str:
        return f"_FixedSampler(n_nodes={self.n_nodes}, n_views={self.n_views})"
