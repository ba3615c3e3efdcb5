"""LightGCN and MF-BPR (one network, ``n_layers=0`` is MF) with LLMRec's side features.

The ID part is standard LightGCN (He et al., SIGIR 2020): symmetric-normalised
propagation over the user-item graph, layer mean. LLMRec adds feature branches (as in the
reference ``MM_Model``): each feature matrix is projected to the ID space by a linear map,
propagated item → user → item over the mean-normalised graph, L2-normalised and added to
the ID embeddings with a fixed weight:

* item text fields (the dataset's side information F) — ``model_cat_rate`` (0.02),
* generated item attributes F_A — ``item_cat_rate`` (0.005),
* generated user profiles — ``user_cat_rate`` (2.8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...sparse import SparseOperator
from ._mae import FeatureDecoder, mask_rows

__all__ = ["BipartiteGraph", "FeatureSet", "GraphRecNet"]


@dataclass
class BipartiteGraph:
    """Sparse operators of a user-item graph (all on one device)."""

    n_users: int
    n_items: int
    a_sym: SparseOperator  # [U+I, U+I]  D^-1/2 A D^-1/2
    ui_mean: SparseOperator  # [U, I]  row-normalised (mean over a user's items)
    iu_mean: SparseOperator  # [I, U]
    user_linked: torch.Tensor  # [U, 1] 1.0 where the user has a training edge, else 0.0
    item_linked: torch.Tensor  # [I, 1]

    @classmethod
    def from_edges(
        cls, users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, device: torch.device | str = "cpu"
    ) -> BipartiteGraph:
        pairs = np.unique(np.stack([users, items], 1), axis=0)
        u = torch.as_tensor(pairs[:, 0], dtype=torch.long)
        i = torch.as_tensor(pairs[:, 1], dtype=torch.long)
        cu = torch.bincount(u, minlength=n_users).float()
        ci = torch.bincount(i, minlength=n_items).float()
        du, di = cu.clamp(min=1), ci.clamp(min=1)
        w = (du[u] * di[i]).rsqrt()
        n = n_users + n_items
        build = SparseOperator.from_coo
        a_sym = build(torch.cat([u, i + n_users]), torch.cat([i + n_users, u]), torch.cat([w, w]), (n, n), device)
        ui = build(u, i, 1 / du[u], (n_users, n_items), device)
        iu = build(i, u, 1 / di[i], (n_items, n_users), device)
        linked = [(c > 0).float().unsqueeze(1).to(device) for c in (cu, ci)]
        return cls(n_users, n_items, a_sym, ui, iu, *linked)


@dataclass
class FeatureSet:
    """Feature tensors aligned with the graph's users/items (any part may be empty)."""

    item_text: list[torch.Tensor]
    item_attributes: list[torch.Tensor]
    user_profiles: torch.Tensor | None

    @property
    def empty(self) -> bool:
        return not self.item_text and not self.item_attributes and self.user_profiles is None


class GraphRecNet(nn.Module):
    """ID embeddings + optional LLMRec feature branches + optional MAE decoder."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int,
        n_layers: int,
        feats: FeatureSet,
        *,
        user_cat_rate: float,
        item_cat_rate: float,
        model_cat_rate: float,
        with_decoder: bool,
    ):
        super().__init__()
        self.n_users, self.n_items, self.n_layers = n_users, n_items, n_layers
        self.user_emb = nn.Embedding(n_users, dim)
        self.item_emb = nn.Embedding(n_items, dim)
        nn.init.normal_(self.user_emb.weight, std=0.1)
        nn.init.normal_(self.item_emb.weight, std=0.1)
        self.rates = (float(user_cat_rate), float(item_cat_rate), float(model_cat_rate))
        # features are data, not parameters: buffers move with .to() and are not trained
        for k, x in enumerate(feats.item_text):
            self.register_buffer(f"text_{k}", x.float())
        for k, x in enumerate(feats.item_attributes):
            self.register_buffer(f"attr_{k}", x.float())
        self.register_buffer("profile", feats.user_profiles.float() if feats.user_profiles is not None else None)
        self.n_text, self.n_attr = len(feats.item_text), len(feats.item_attributes)
        self.text_proj = nn.Linear(feats.item_text[0].shape[1], dim) if self.n_text else None
        self.attr_proj = nn.Linear(feats.item_attributes[0].shape[1], dim) if self.n_attr else None
        self.user_proj = nn.Linear(feats.user_profiles.shape[1], dim) if feats.user_profiles is not None else None
        for lin in (self.text_proj, self.attr_proj, self.user_proj):
            if lin is not None:
                nn.init.xavier_uniform_(lin.weight)
                nn.init.zeros_(lin.bias)
        self.decoder: FeatureDecoder | None = None
        if with_decoder and (self.user_proj is not None or self.attr_proj is not None):
            prof_dim = feats.user_profiles.shape[1] if feats.user_profiles is not None else None
            self.decoder = FeatureDecoder(
                dim,
                prof_dim if self.user_proj is not None else None,
                feats.item_attributes[0].shape[1] if self.attr_proj is not None else None,
            )

    def _texts(self) -> list[torch.Tensor]:
        return [getattr(self, f"text_{k}") for k in range(self.n_text)]

    def _attrs(self) -> list[torch.Tensor]:
        return [getattr(self, f"attr_{k}") for k in range(self.n_attr)]

    def id_embeddings(self, g: BipartiteGraph) -> tuple[torch.Tensor, torch.Tensor]:
        """LightGCN: mean of layers 0..L of symmetric propagation (L=0: plain MF).

        Not PyG's ``LGConv``: it gives the same values (max abs difference 1.5e-8) but is
        slower here, because ``torch.sparse.mm``'s backward re-transposes the adjacency on
        every call while :class:`~structaug.sparse.SparseOperator` caches the transpose.
        Measured in one process, interleaved, on a MovieLens-100K-sized graph (943 + 1682
        nodes, 80k edges, 64 columns, 2 layers + layer mean, forward + backward, torch 2.13
        CPU, 1 thread, median of 30): ours 18 ms; ``LGConv`` on a pre-normalised CSR
        adjacency 65 ms, with ``normalize=True`` 83 ms, on ``edge_index`` + edge weights 630 ms.
        """
        x = torch.cat([self.user_emb.weight, self.item_emb.weight])
        if self.n_layers == 0:
            return self.user_emb.weight, self.item_emb.weight
        acc = x
        for _ in range(self.n_layers):
            x = g.a_sym @ x
            acc = acc + x
        out = acc / (self.n_layers + 1)
        return out[: self.n_users], out[self.n_users :]

    @torch.no_grad()
    def prepare(self, g: BipartiteGraph, *, mask_rate: float = 0.0, generator: torch.Generator | None = None) -> None:
        """Propagate the raw (constant) feature matrices, optionally with MAE masking.

        The projection is affine and the mean-normalised operators have rows summing to
        one, so ``P @ (X W + b) == (P @ X) W + b``: propagating the raw features once and
        projecting in every step gives the reference's project-then-propagate embeddings
        without 2 sparse products per feature field and step. Rows of users/items without a
        training edge sum to zero, so their projection is multiplied by 0 there (the
        reference's zero row; ``b`` alone would give every such item the same vector). With ``mask_rate > 0`` a
        fraction of user-profile rows and of item rows (the same rows for every attribute
        field) is replaced by the column mean before propagating (MAE masking); the
        trainer draws a new mask every epoch.
        """
        mu = mi = None
        prof: torch.Tensor | None = self.profile  # type: ignore[assignment]  # a buffer (or None)
        attrs = self._attrs()
        if mask_rate > 0:
            if prof is not None:
                prof, mu = mask_rows(prof, mask_rate, generator)
            if attrs:
                _, mi = mask_rows(attrs[0][:, :1], mask_rate, generator)
                masked = []
                for x in attrs:
                    x = x.clone()
                    x[mi] = x.mean(0)
                    masked.append(x)
                attrs = masked

        def two_hop(x, first, second):
            a = first @ x
            return a, second @ a

        self._masked: tuple[torch.Tensor | None, torch.Tensor | None] = (mu, mi)
        self._linked: tuple[torch.Tensor, torch.Tensor] | None = (g.user_linked, g.item_linked)
        self._pre: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] | None = {
            "text": [two_hop(x, g.ui_mean, g.iu_mean) for x in self._texts()],
            "attr": [two_hop(x, g.ui_mean, g.iu_mean) for x in attrs],
            "profile": [two_hop(prof, g.iu_mean, g.ui_mean)] if prof is not None else [],
        }

    def forward(self, g: BipartiteGraph):
        """Final user/item embeddings plus what the auxiliary losses need (``aux`` dict).

        Uses the propagated features of the last :meth:`prepare` call.
        """
        if getattr(self, "_pre", None) is None:
            self.prepare(g)
        assert self._pre is not None and self._linked is not None  # set by prepare
        u, i = self.id_embeddings(g)
        ur, ir, mr = self.rates
        lu, li = self._linked
        aux: dict = {
            "attr_items": [],
            "attr_users": [],
            "user_prof": None,
            "text_items": [],
            "text_users": [],
            "masked_users": self._masked[0],
            "masked_items": self._masked[1],
        }
        if self.user_proj is not None:
            pi, pu = self._pre["profile"][0]
            item_prof, user_prof = self.user_proj(pi) * li, self.user_proj(pu) * lu
            aux["user_prof"] = user_prof
            u = u + ur * F.normalize(user_prof, dim=1)
            i = i + ur * F.normalize(item_prof, dim=1)
        if self.attr_proj is not None:
            for pu, pi in self._pre["attr"]:
                uf, itf = self.attr_proj(pu) * lu, self.attr_proj(pi) * li
                aux["attr_users"].append(uf)
                aux["attr_items"].append(itf)
                u = u + ir * F.normalize(uf, dim=1)
                i = i + ir * F.normalize(itf, dim=1)
        if self.text_proj is not None:
            for pu, pi in self._pre["text"]:
                tu, ti = self.text_proj(pu) * lu, self.text_proj(pi) * li
                aux["text_users"].append(tu)
                aux["text_items"].append(ti)
                u = u + mr * F.normalize(tu, dim=1)
                i = i + mr * F.normalize(ti, dim=1)
        return u, i, aux

    def clear_cache(self) -> None:
        """Drop the propagated features of the last :meth:`prepare` (recomputed on demand)."""
        self._pre = None
        self._masked = (None, None)
        self._linked = None
