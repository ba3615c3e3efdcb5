"""BPR training pieces: a user-uniform triple sampler, pruned BPR, full-ranking evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...metrics import mean_metrics, topk_metrics
from ..interactions import pairs_of_sorted_users

__all__ = ["BPRSampler", "Targets", "bpr_losses", "evaluate_ranking", "feature_reg", "modality_bpr", "prune_mean"]


class BPRSampler:
    """Samples (user, positive, negative) like LightGCN's reference: users uniformly, a
    positive uniformly from the user's items, a negative uniformly among the rest."""

    def __init__(self, users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, device: torch.device):
        pairs = np.unique(np.stack([users, items], 1), axis=0)
        self.n_users, self.n_items, self.n_train = n_users, n_items, len(pairs)
        u = torch.as_tensor(pairs[:, 0], dtype=torch.long)
        counts = torch.bincount(u, minlength=n_users)
        self.indptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)]).to(device)
        self.items = torch.as_tensor(pairs[:, 1], dtype=torch.long, device=device)
        self.keys = u.to(device) * n_items + self.items  # sorted because pairs are sorted
        self.active = torch.nonzero(counts > 0).ravel().to(device)
        self.device = device

    def is_positive(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        k = u * self.n_items + i
        pos = torch.searchsorted(self.keys, k).clamp(max=len(self.keys) - 1)
        return self.keys[pos] == k

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        dev = gen.device
        users = self.active[torch.randint(len(self.active), (n,), generator=gen, device=dev).to(self.device)]
        start, deg = self.indptr[users], self.indptr[users + 1] - self.indptr[users]
        off = (torch.rand(n, generator=gen, device=dev).to(self.device) * deg).long().clamp(max=deg - 1)
        pos = self.items[start + off]
        neg = torch.randint(self.n_items, (n,), generator=gen, device=dev).to(self.device)
        for _ in range(10):  # resample the few negatives that hit a positive
            bad = self.is_positive(users, neg)
            if not bool(bad.any()):
                break
            neg = torch.where(bad, torch.randint(self.n_items, (n,), generator=gen, device=dev).to(self.device), neg)
        return users, pos, neg


def prune_mean(losses: torch.Tensor, drop_rate: float, mode: str = "paper") -> torch.Tensor:
    """Mean over the kept ``1 - drop_rate`` of the per-sample losses (LLMRec's noise pruning).

    ``mode="paper"``: keep the smallest losses — the paper drops the largest-loss samples
    as likely noise. ``mode="reference"``: keep the *largest* losses, which is what the
    reference code does (it sorts the log-sigmoid values ascending and keeps the head).
    """
    if drop_rate <= 0 or losses.numel() == 0:
        return losses.mean()
    if mode not in ("paper", "reference"):
        raise ValueError(f"prune mode must be 'paper' or 'reference', got {mode!r}")
    keep = max(1, int((1 - drop_rate) * losses.numel()))
    return torch.topk(losses, keep, largest=(mode == "reference"), sorted=False).values.mean()


def bpr_losses(u: torch.Tensor, p: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """Per-sample ``-log σ(u·p - u·n)``."""
    return -F.logsigmoid((u * (p - n)).sum(-1))


def modality_bpr(
    text_users: Sequence[torch.Tensor],
    text_items: Sequence[torch.Tensor],
    users: torch.Tensor,
    pos: torch.Tensor,
    neg: torch.Tensor,
    drop_rate: float,
    mode: str = "paper",
) -> torch.Tensor:
    """The reference's ``mm_mf_loss``: BPR of the batch scored by each modality's features alone.

    ``sum_m prune_mean(-log σ(t_u·t_p - t_u·t_n))`` over the modalities ``m`` (here: the item
    text fields), with ``t_u = text_users[m][users]`` [B, d] and ``t_p``/``t_n`` the rows
    ``pos``/``neg`` of ``text_items[m]`` [n_items, d]; pruned like the main BPR term (the
    reference's ``bpr_loss`` applies ``prune_loss`` to every call). The reference adds
    ``1e-8`` inside the log-sigmoid; that constant is left out, as in the main BPR term.
    """
    total: Any = 0.0  # a Tensor after the first field
    for tu, ti in zip(text_users, text_items):
        total = total + prune_mean(bpr_losses(tu[users], ti[pos], ti[neg]), drop_rate, mode)
    return total


def feature_reg(text_users: Sequence[torch.Tensor], text_items: Sequence[torch.Tensor], n_items: int) -> torch.Tensor:
    """The reference's ``feat_reg_loss_calculation`` before its ``feat_reg_decay`` factor.

    ``sum_m (||text_items[m]||² + ||text_users[m]||²) / 2 / n_items`` over the full
    propagated feature matrices [n_items, d] and [n_users, d] (not just the batch), divided
    by the number of items as in the reference.
    """
    total: Any = 0.0
    for tu, ti in zip(text_users, text_items):
        total = total + 0.5 * ti.pow(2).sum() + 0.5 * tu.pow(2).sum()
    return total / n_items


class Targets:
    """Held-out items per user as a padded tensor plus the items to exclude from ranking."""

    def __init__(self, users: np.ndarray, items: np.ndarray, exclude_users: np.ndarray, exclude_items: np.ndarray):
        order = np.lexsort((items, users))
        users, items = users[order], items[order]
        self.users, starts, counts = np.unique(users, return_index=True, return_counts=True)
        width = int(counts.max()) if len(counts) else 1
        pad = np.full((len(self.users), width), -1, np.int64)
        for r, (s, c) in enumerate(zip(starts, counts)):
            pad[r, :c] = items[s : s + c]
        self.padded = torch.as_tensor(pad)
        self.exclude_users = np.asarray(exclude_users, np.int64)
        self.exclude_items = np.asarray(exclude_items, np.int64)
        # exclusions grouped per user for batched lookup
        eo = np.argsort(self.exclude_users, kind="stable")
        self._ex_u, self._ex_i = self.exclude_users[eo], self.exclude_items[eo]

    def __len__(self) -> int:
        return len(self.users)

    def _seen(self, batch_users: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        rows, items = pairs_of_sorted_users(batch_users, self._ex_u, self._ex_i)
        return torch.as_tensor(rows), torch.as_tensor(items)


@torch.no_grad()
def evaluate_ranking(
    user_emb: torch.Tensor,
    item_emb: torch.Tensor,
    targets: Targets,
    ks: Sequence[int] = (10, 20, 50),
    batch_size: int = 1024,
) -> dict[str, float]:
    """Full-ranking Recall/NDCG/Precision/HR@k averaged over ``targets``' users."""
    batches = []
    for s in range(0, len(targets), batch_size):
        bu = targets.users[s : s + batch_size]
        scores = user_emb[torch.as_tensor(bu, device=user_emb.device)] @ item_emb.T
        batches.append(
            topk_metrics(scores, targets.padded[s : s + batch_size].to(scores.device), ks, seen=targets._seen(bu))
        )
    return mean_metrics(batches)
