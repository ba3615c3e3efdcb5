"""GCN, GAT, GCNII and their local-augmentation twins, built from PyG layers.

The LA models (``Citation/gcn/models.py``, ``lagat.py``, ``gcnii/model.py`` of the
reference) give the original features and each of ``concat`` generated feature matrices
their own first layer, concatenate the hidden outputs, and continue as the backbone.
``forward(x, edge_index, x_gen)`` takes the generated features node-first, as a tensor
``[N, concat, F]`` (the layout of ``LocalAugmenter.sample(...).x_aug`` and of the feature
samplers, so that PyG batches it like ``x``), or as a list of ``concat`` tensors ``[N, F]``.
Every model checks ``x``'s feature count against its ``in_channels`` before computing.

The layers are PyG's (``GCNConv``, ``GATConv``, ``GCN2Conv``); the models are not PyG's
``torch_geometric.nn.models.GCN``/``GAT``: those drop out only between layers, while the
reference (Kipf & Welling, Veličković et al., LAGNN) also drops out the input features, and
the LA twins need one first layer per branch. Dropout is :func:`structaug.nn.fast_dropout`
(the draws every published LAGNN number here was made with). Constructor names follow PyG
(``hidden_channels``, ``heads``, ``num_layers``); the training API's hyperparameters use the
package's vocabulary (``hidden_size``, ``n_heads``, ``n_layers``; see :func:`paper_config`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.nn import GATConv, GCN2Conv, GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from ..exceptions import DataValidationError
from ..nn import fast_dropout
from ..sparse import gcn_adjacency, sparse_matmul
from ._validation import check_in_channels

__all__ = ["GAT", "GCN", "GCNII", "LAGAT", "LAGCN", "LAGCNII"]

GenFeatures = torch.Tensor | Sequence[torch.Tensor]


def _branches(x: torch.Tensor, x_gen: GenFeatures | None, concat: int, model: str) -> list[torch.Tensor]:
    """Generated branches first, original last (the reference's ``X_list + [features]``).

    A node-first tensor ``[N, concat, F]`` is split along dim 1; when it is the permuted view
    the samplers return, each branch is a contiguous ``[N, F]`` block of their buffer.
    """
    if x_gen is None:
        raise DataValidationError(
            f"{model} needs generated features x_gen [N, {concat}, F] "
            "(e.g. LocalAugmenter().fit(data).sample(data, n=concat).x_aug)"
        )
    n = x.shape[0]
    if isinstance(x_gen, torch.Tensor):
        if x_gen.dim() != 3:
            raise DataValidationError(
                f"{model}: x_gen must be a 3-D tensor [N, {concat}, F] (node-first), got shape {tuple(x_gen.shape)}"
            )
        if x_gen.shape[0] != n and x_gen.shape[1] == n:
            raise DataValidationError(
                f"{model}: x_gen has shape {tuple(x_gen.shape)}, the old sample-first layout [k, N, F]; "
                f"generated features are node-first [N, k, F] (N = {n}): pass x_gen.transpose(0, 1)"
            )
        gens = list(x_gen.unbind(1))
    else:
        gens = list(x_gen)
    if len(gens) != concat:
        raise DataValidationError(f"{model} was built with concat={concat} generated branches, got {len(gens)}")
    for g in gens:
        if g.shape != x.shape:
            raise DataValidationError(
                f"{model}: generated features have shape {tuple(g.shape)}, x has {tuple(x.shape)}"
            )
    return gens + [x]


class GCN(nn.Module):
    """Two-layer GCN (Kipf & Welling, 2017): dropout → GCNConv → ReLU → dropout → GCNConv."""

    def __init__(
        self, in_channels: int, hidden_channels: int, out_channels: int, *, dropout: float = 0.5, cached: bool = False
    ):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.conv1 = GCNConv(in_channels, hidden_channels, cached=cached)
        self.conv2 = GCNConv(hidden_channels, out_channels, cached=cached)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        check_in_channels(x, self.in_channels, type(self).__name__)
        x = fast_dropout(x, self.dropout, self.training)
        x = F.relu(self.conv1(x, edge_index))
        x = fast_dropout(x, self.dropout, self.training)
        return self.conv2(x, edge_index)


class LAGCN(nn.Module):
    """LA-GCN: one first GCN layer per input (``concat`` generated + original), concatenated.

    Parameters
    ----------
    concat : int
        Number of generated feature matrices (paper: 1 on Cora/CiteSeer, 3 on PubMed).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        concat: int = 1,
        dropout: float = 0.5,
        cached: bool = False,
    ):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.concat = concat
        self.convs1 = nn.ModuleList(GCNConv(in_channels, hidden_channels, cached=cached) for _ in range(concat + 1))
        self.conv2 = GCNConv((concat + 1) * hidden_channels, out_channels, cached=cached)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, x_gen: GenFeatures | None = None) -> torch.Tensor:
        check_in_channels(x, self.in_channels, type(self).__name__)
        hs = [
            F.relu(conv(fast_dropout(xk, self.dropout, self.training), edge_index))
            for conv, xk in zip(self.convs1, _branches(x, x_gen, self.concat, "LAGCN"))
        ]
        h = fast_dropout(torch.cat(hs, dim=-1), self.dropout, self.training)
        return self.conv2(h, edge_index)


class GAT(nn.Module):
    """Two-layer GAT (Veličković et al., 2018) with ELU between the layers."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        heads: int = 8,
        out_heads: int = 1,
        dropout: float = 0.6,
    ):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.conv1 = GATConv(in_channels, hidden_channels, heads=heads, dropout=dropout)
        self.conv2 = GATConv(hidden_channels * heads, out_channels, heads=out_heads, concat=False, dropout=dropout)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        check_in_channels(x, self.in_channels, type(self).__name__)
        x = fast_dropout(x, self.dropout, self.training)
        x = F.elu(self.conv1(x, edge_index))
        x = fast_dropout(x, self.dropout, self.training)
        return self.conv2(x, edge_index)


class LAGAT(nn.Module):
    """LA-GAT: one first GAT layer per input, concatenated (reference ``lagat.py``).

    ``elu_alpha`` defaults to 0.2 because the reference passes its ``--alpha 0.2`` to ``F.elu``.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        concat: int = 1,
        heads: int = 4,
        out_heads: int = 1,
        dropout: float = 0.6,
        elu_alpha: float = 0.2,
    ):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.concat = concat
        self.convs1 = nn.ModuleList(
            GATConv(in_channels, hidden_channels, heads=heads, dropout=dropout) for _ in range(concat + 1)
        )
        self.conv2 = GATConv(
            hidden_channels * heads * (concat + 1), out_channels, heads=out_heads, concat=False, dropout=dropout
        )
        self.dropout = dropout
        self.elu_alpha = elu_alpha

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, x_gen: GenFeatures | None = None) -> torch.Tensor:
        check_in_channels(x, self.in_channels, type(self).__name__)
        hs = [
            F.elu(conv(fast_dropout(xk, self.dropout, self.training), edge_index), alpha=self.elu_alpha)
            for conv, xk in zip(self.convs1, _branches(x, x_gen, self.concat, "LAGAT"))
        ]
        h = fast_dropout(torch.cat(hs, dim=-1), self.dropout, self.training)
        return self.conv2(h, edge_index)


class _CSRGCN2Conv(GCN2Conv):
    """GCN2Conv propagating over a prebuilt CSR ``Â`` with :func:`structaug.sparse.sparse_matmul`.

    The transpose for the backward rides on the CSR tensor PyG hands through ``propagate``
    (``_structaug_transpose``, set by :class:`_GCNIIStack`); torch's own backward would
    re-sort ``Â`` in every layer of every epoch (~15 % of a 64-layer GCNII epoch).
    """

    def message_and_aggregate(self, adj_t, x: torch.Tensor) -> torch.Tensor:
        if isinstance(adj_t, torch.Tensor):
            return sparse_matmul(adj_t, x, getattr(adj_t, "_structaug_transpose", None))
        return super().message_and_aggregate(adj_t, x)  # torch_sparse.SparseTensor


class _GCNIIStack(nn.Module):
    """Shared deep part of GCNII: ``num_layers`` GCN2Conv layers with initial residual.

    The adjacency is normalised once per forward and shared by every layer; an
    ``edge_index`` [2, E] becomes a CSR ``Â`` (GCN2Conv would redo ``gcn_norm`` and an
    edge-wise scatter in each of the 64 layers; 3-7 % of a benchmark epoch on the CPU, more
    where kernel launches dominate). Sparse adjacencies
    (torch sparse, ``SparseTensor``) get the same ``gcn_norm``.
    """

    def __init__(self, channels: int, num_layers: int, alpha: float, theta: float, dropout: float):
        super().__init__()
        self.convs = nn.ModuleList(
            _CSRGCN2Conv(channels, alpha=alpha, theta=theta, layer=i + 1, shared_weights=True, normalize=False)
            for i in range(num_layers)
        )
        self.dropout = dropout

    def forward(self, h0: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        n = h0.size(0)
        if isinstance(edge_index, torch.Tensor) and edge_index.layout == torch.strided:
            op = gcn_adjacency(edge_index, n, h0.dtype)
            adj = op.a
            adj._structaug_transpose = op.at  # type: ignore[attr-defined]  # for _CSRGCN2Conv's backward
        else:
            adj = gcn_norm(edge_index, None, n, False, True, dtype=h0.dtype)
            adj = adj[0] if isinstance(adj, tuple) else adj  # torch sparse: (adj, None)
            if isinstance(adj, torch.Tensor) and adj.layout == torch.sparse_coo:
                adj = adj.to_sparse_csr()  # once, not in every layer's spmm
        h = h0
        for conv in self.convs:
            h = F.relu(conv(fast_dropout(h, self.dropout, self.training), h0, adj))
        return fast_dropout(h, self.dropout, self.training)


class GCNII(nn.Module):
    """GCNII (Chen et al., 2020): linear → ReLU → deep GCN2Conv stack → linear.

    ``theta`` is GCNII's λ (``lamda`` in the reference). Use :meth:`param_groups` for the
    paper's two weight decays (convolutions vs linear layers).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        num_layers: int = 64,
        alpha: float = 0.1,
        theta: float = 0.5,
        dropout: float = 0.6,
    ):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.lin_in = nn.Linear(in_channels, hidden_channels)
        self.stack = _GCNIIStack(hidden_channels, num_layers, alpha, theta, dropout)
        self.lin_out = nn.Linear(hidden_channels, out_channels)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        check_in_channels(x, self.in_channels, type(self).__name__)
        h0 = F.relu(self.lin_in(fast_dropout(x, self.dropout, self.training)))
        return self.lin_out(self.stack(h0, edge_index))

    def param_groups(self, wd_conv: float, wd_linear: float) -> list[dict]:
        lin = [p for n, p in self.named_parameters() if not n.startswith("stack.")]
        return [
            {"params": list(self.stack.parameters()), "weight_decay": wd_conv},
            {"params": lin, "weight_decay": wd_linear},
        ]


class LAGCNII(GCNII):
    """LA-GCNII: one input linear layer per input, concatenated to width ``hidden * (concat + 1)``."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        concat: int = 1,
        num_layers: int = 64,
        alpha: float = 0.1,
        theta: float = 0.5,
        dropout: float = 0.6,
    ):
        nn.Module.__init__(self)
        width = hidden_channels * (concat + 1)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.concat = concat
        self.lins_in = nn.ModuleList(nn.Linear(in_channels, hidden_channels) for _ in range(concat + 1))
        self.stack = _GCNIIStack(width, num_layers, alpha, theta, dropout)
        self.lin_out = nn.Linear(width, out_channels)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, x_gen: GenFeatures | None = None) -> torch.Tensor:
        check_in_channels(x, self.in_channels, type(self).__name__)
        hs = [
            F.relu(lin(fast_dropout(xk, self.dropout, self.training)))
            for lin, xk in zip(self.lins_in, _branches(x, x_gen, self.concat, "LAGCNII"))
        ]
        return self.lin_out(self.stack(torch.cat(hs, dim=-1), edge_index))
