"""LAGNN's CVAE checkpoint selection by the "U score" of a small pre-trained GCN.

The reference (``Citation/cvae_pretrain.py``) pre-trains a 2-layer GCN (hidden 32, dropout
0.5, Adam lr 0.01, weight decay 5e-4, 100 epochs) on the original features. After every CVAE
iteration it draws one generated feature matrix and runs ``num_models`` forward passes of
that GCN *with dropout on* (an MC-dropout ensemble) and scores

    U = NLL(mean of the passes' softmax) - mean of the passes' NLLs     (on training nodes)

The CVAE checkpoint with the highest U after the warm-up is kept, and each time a new best
is found the GCN is trained ``update_epochs`` more epochs on those generated features.

Only the training nodes' outputs enter U, so we evaluate the GCN on the 2-hop neighbourhood
of the training nodes with the *full graph's* normalised edge weights: exactly the training
nodes' outputs of a full-graph pass, at a fraction of the cost on large graphs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.utils import k_hop_subgraph

from ..nn import fast_dropout
from ..train import Trainer

__all__ = ["LocalSubgraph", "SelectorGCN", "local_subgraph", "train_selector", "u_score"]


def _dropout(x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout drawing its mask from ``generator`` (no global RNG)."""
    return fast_dropout(x, p, True, generator)


class SelectorGCN(nn.Module):
    """Two-layer GCN on a fixed sparse normalised adjacency, dropout from a generator.

    Not PyG's ``GCNConv``: the U score runs ``num_models`` MC-dropout passes as one batched
    product ([M, n, F] folded into the feature axis, 10 passes per call), with per-layer
    adjacencies restricted to the training nodes' 2-hop rows and dropout drawn from the
    fit's own generator; ``GCNConv`` takes one [n, F] pass over one ``edge_index``.
    """

    def __init__(self, in_channels: int, hidden: int, out_channels: int, dropout: float = 0.5):
        super().__init__()
        self.lin1 = nn.Linear(in_channels, hidden)
        self.lin2 = nn.Linear(hidden, out_channels)
        self.dropout = dropout

    def forward(
        self, x: torch.Tensor, adj1: torch.Tensor, adj2: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``x`` is [N, F] or a stack [M, N, F] of independent passes (each its own dropout)."""
        p = self.dropout if self.training else 0.0
        h = _dropout(x, p, generator) @ self.lin1.weight.T
        h = F.relu(_spmm(adj1, h) + self.lin1.bias)
        h = _dropout(h, p, generator) @ self.lin2.weight.T
        return _spmm(adj2, h) + self.lin2.bias


def _spmm(adj: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``adj @ h`` for a COO ``adj``; a stack of passes [M, n, d] is folded into one product.

    Not :func:`structaug.sparse.sparse_matmul`: its CSR product sums in another order, which
    moves the U scores (so the selected CVAE checkpoint and every LA-GNN number), and for
    the hot call (10 MC-dropout passes on Cora's 2-hop subgraph, forward + backward) it is
    slower: 16.6 ms vs 14.7 ms (median of 15, one thread, same process; 2-D full graph:
    0.7 vs 1.4 ms, used once per fit).
    """
    if h.dim() == 2:
        return torch.sparse.mm(adj, h)
    m, n, d = h.shape  # batch of passes: fold passes into the feature axis
    out = torch.sparse.mm(adj, h.permute(1, 0, 2).reshape(n, m * d))
    return out.reshape(adj.shape[0], m, d).permute(1, 0, 2)


@dataclass
class LocalSubgraph:
    """Nodes within 2 hops of the training nodes and the two layers' adjacencies on them."""

    nodes: torch.Tensor  # global ids of the 2-hop nodes (local id = position)
    adj1: torch.Tensor  # sparse [n, n]: rows of 1-hop nodes (layer 1)
    adj2: torch.Tensor  # sparse [n, n]: rows of training nodes (layer 2)
    train_local: torch.Tensor  # local ids of the training nodes
    y_train: torch.Tensor


def _normalized_edges(edge_index: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    ei, w = gcn_norm(edge_index, None, n, add_self_loops=True)
    return ei, w


def full_graph(edge_index: torch.Tensor, n: int) -> torch.Tensor:
    """Sparse D^-1/2 (A + I) D^-1/2 with rows = targets."""
    ei, w = _normalized_edges(edge_index, n)
    return torch.sparse_coo_tensor(torch.stack([ei[1], ei[0]]), w, (n, n), check_invariants=False).coalesce()


def local_subgraph(edge_index: torch.Tensor, n: int, train_idx: torch.Tensor, y: torch.Tensor) -> LocalSubgraph:
    """Restrict the full-graph GCN to what the training nodes' outputs depend on."""
    ei, w = _normalized_edges(edge_index, n)
    src, dst = ei[0], ei[1]
    is_train = torch.zeros(n, dtype=torch.bool, device=ei.device)
    is_train[train_idx] = True
    # PyG's k_hop_subgraph gives the same (sorted) node sets as two hand-written mask hops,
    # 1.0 ms vs 0.2 ms on Cora/CiteSeer once per fit: not worth a second implementation.
    hop1 = torch.zeros(n, dtype=torch.bool, device=ei.device)
    hop1[k_hop_subgraph(train_idx, 1, ei, num_nodes=n)[0]] = True
    nodes = k_hop_subgraph(train_idx, 2, ei, num_nodes=n)[0]
    local = torch.full((n,), -1, dtype=torch.long, device=ei.device)
    local[nodes] = torch.arange(len(nodes), device=ei.device)
    m = len(nodes)

    def adj(rows: torch.Tensor) -> torch.Tensor:
        keep = rows[dst]
        idx = torch.stack([local[dst[keep]], local[src[keep]]])
        return torch.sparse_coo_tensor(idx, w[keep], (m, m), check_invariants=False).coalesce()

    return LocalSubgraph(nodes, adj(hop1), adj(is_train), local[train_idx], y[train_idx])


@torch.no_grad()
def u_score(
    model: SelectorGCN,
    x: torch.Tensor,
    sub: LocalSubgraph,
    num_models: int,
    generator: torch.Generator | None,
    chunk: int = 10,
) -> float:
    """The reference's uncertainty score on the training nodes (higher is selected)."""
    model.train()  # dropout on: the passes are an MC-dropout ensemble
    total_p: Any = 0.0  # becomes the [n_train, C] sum of the passes' probabilities
    nll_sum = 0.0
    for start in range(0, num_models, chunk):
        m = min(chunk, num_models - start)
        logits = model(x.expand(m, *x.shape), sub.adj1, sub.adj2, generator)[:, sub.train_local]
        logp = F.log_softmax(logits, dim=-1)
        total_p = total_p + logp.exp().sum(0)
        nll_sum += float(F.nll_loss(logp.reshape(-1, logp.shape[-1]), sub.y_train.repeat(m), reduction="mean")) * m
    ens = torch.log(total_p / num_models)
    return float(F.nll_loss(ens, sub.y_train)) - nll_sum / num_models


def train_selector(
    model: SelectorGCN,
    x: torch.Tensor,
    adj1: torch.Tensor,
    adj2: torch.Tensor,
    train_idx: torch.Tensor,
    y_train: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    generator: torch.Generator | None,
    device: torch.device,
) -> None:
    """Full-batch cross-entropy training through the shared trainer."""

    def step(epoch: int) -> dict[str, float]:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x, adj1, adj2, generator)[train_idx], y_train)
        loss.backward()
        optimizer.step()
        return {"loss": float(loss.detach())}

    Trainer(
        max_epochs=epochs, monitor="__last__", device=device, verbose=False, restore_best=False, desc="selector-gcn"
    ).fit(model, optimizer, step)
