"""CL4SRec and MCLRec on the SASRec encoder, and a popularity baseline.

All three share :class:`~structaug.recsys.mclrec.SASRec`'s encoder and scoring; they
differ only in ``train_step`` (what one mini-batch update does):

* SASRec: cross-entropy of the next item;
* CL4SRec: + ``lmd`` · InfoNCE between the encodings of two data-level views;
* MCLRec: + ``beta`` · (InfoNCE among the view encodings ``h1, h2`` and their learnable
  model-level views ``z1 = g1(h1)``, ``z2 = g2(h2)`` + 0.1 · regulariser R), optimised in three
  stages per batch (encoder with augmenters frozen → augmenters only → encoder again).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import torch
from torch import nn

from ...exceptions import InvalidParameterError
from ...train import adam
from ...validation import check_choice, check_positive_float
from ._contrastive import contrastive_terms, info_nce
from ._learnable import LearnableAugmenter
from ._parallel import DataParallelStep
from ._sasrec import AmpFactory, SASRec

__all__ = ["META_FORWARDS", "CL4SRec", "MCLRec", "Popularity", "check_loss_params"]

#: MCLRec's choices of where stage 2 gets its view encodings (see ``MCLRec(meta_forward=)``)
META_FORWARDS = ("separate", "shared")

ViewFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
Gather = Callable[[torch.Tensor], torch.Tensor]


def check_loss_params(
    *, lmd: float, temperature: float, beta: float | None = None, reg_weight: float | None = None
) -> None:
    """Check the contrastive weights: ``lmd``, ``beta``, ``reg_weight`` finite and >= 0,
    ``temperature`` finite and > 0 (``InvalidParameterError`` naming the bad one). A NaN weight
    would otherwise train a NaN model without a word."""
    check_positive_float(lmd, "lmd", allow_zero=True)
    check_positive_float(temperature, "temperature")
    if beta is not None:
        check_positive_float(beta, "beta", allow_zero=True)
    if reg_weight is not None:
        check_positive_float(reg_weight, "reg_weight", allow_zero=True)


class CL4SRec(SASRec):
    """SASRec + InfoNCE between two augmented views (Xie et al., ICDE 2022).

    Parameters
    ----------
    lmd : float
        Weight of the contrastive loss (CL4SRec's lambda, 0.1).
    temperature : float
        InfoNCE temperature (1.0).
    sim : {"dot", "cos"}
        Similarity of the InfoNCE logits ("dot", as in the reference code).
    **encoder
        :class:`SASRec` arguments.
    """

    def __init__(self, n_items: int, *, lmd: float = 0.1, temperature: float = 1.0, sim: str = "dot", **encoder):
        super().__init__(n_items, **encoder)
        check_loss_params(lmd=lmd, temperature=temperature)
        check_choice(sim, ("dot", "cos"), "sim")
        self.lmd = float(lmd)
        self.temperature = float(temperature)
        self.sim = sim

    def _encode_with_views(self, seqs, v1, v2):
        # one encoder call on the stacked batch: same maths, fewer (larger) kernels
        h = self.encode(torch.cat([seqs, v1, v2]))
        return h.chunk(3)

    def _cl_loss(self, h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
        return info_nce(h1, h2, self.temperature, self.sim)

    def _rec_and_views(self, seqs, targets, v1, v2, gather: Gather | None) -> tuple[torch.Tensor, ...]:
        """(next-item loss, the two views' encodings); with ``gather``, the encodings of every
        process's views (the contrastive terms' in-batch negatives are the whole batch's)."""
        h, h1, h2 = self._encode_with_views(seqs, v1, v2)
        rec = self.rec_loss(h, targets)
        if gather is not None:
            h1, h2 = gather(h1), gather(h2)
        return rec, h1, h2

    def _terms(self, seqs, targets, v1, v2, gather: Gather | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(next-item loss, InfoNCE)."""
        rec, h1, h2 = self._rec_and_views(seqs, targets, v1, v2, gather)
        return rec, self._cl_loss(h1, h2)

    def train_step(
        self,
        seqs,
        targets,
        optimizers,
        views: ViewFn | None = None,
        amp: AmpFactory = nullcontext,
        parallel: DataParallelStep | None = None,
    ) -> dict[str, float]:
        if views is None:
            raise InvalidParameterError(f"{type(self).__name__}.train_step needs a views callable")
        (opt,) = optimizers
        v1, v2 = views(seqs)
        opt.zero_grad(set_to_none=True)
        with amp():
            rec, cl = (
                self._terms(seqs, targets, v1, v2) if parallel is None else parallel("encoder", seqs, targets, v1, v2)
            )
            loss = rec + self.lmd * cl
        # under torchrun: the share's mean weighted to the global batch's, the global InfoNCE by
        # the number of processes (its gradient reaches only this process's rows)
        (loss if parallel is None else parallel.scale * rec + parallel.world * self.lmd * cl).backward()
        opt.step()
        return {"loss": float(loss.detach()), "rec_loss": float(rec.detach()), "cl_loss": float(cl.detach())}

    def add_parallel_stages(self, parallel: DataParallelStep) -> None:
        parallel.add_stage("encoder", self, lambda m, *a: m._terms(*a, gather=parallel.gather))


class MCLRec(CL4SRec):
    """Meta-optimised contrastive learning (Qin et al., SIGIR 2023).

    Parameters
    ----------
    lmd : float
        Weight of the CL4SRec InfoNCE between the two data-level views (lambda; per dataset:
        Beauty 0, Sports 0.04, Yelp 0.03).
    beta : float
        Weight of the meta contrastive loss (Beauty 0.05, Sports 0.4, Yelp 0.1).
    reg_weight : float
        Weight of the regulariser R inside the meta loss (0.1, so R enters with 0.1·beta).
    use_reg : bool
        Include R (the reference's ``use_rl=1``).
    augmenter_sizes : tuple of int
        Layer sizes of the two learnable augmenters (64 → 32 → 16 → 64).
    meta_forward : {"separate", "shared"}
        Where stage 2 (the augmenters' update) gets its view encodings. ``"separate"`` (the
        reference's): its own encoder forward pass, with dropout masks of its own.
        ``"shared"``: stage 3's forward pass, run before stage 2 (the encoder does not change in
        between) and detached for it, so the augmenters train on the encodings, dropout masks
        included, that stage 3 then contrasts; one encoder pass over 2 × the batch fewer per
        step. Without dropout both give the same update.
    **kwargs
        :class:`CL4SRec` / :class:`SASRec` arguments.
    """

    def __init__(
        self,
        n_items: int,
        *,
        lmd: float = 0.0,
        beta: float = 0.05,
        reg_weight: float = 0.1,
        use_reg: bool = True,
        augmenter_sizes: tuple[int, ...] | None = None,
        meta_forward: str = "separate",
        **kwargs,
    ):
        super().__init__(n_items, lmd=lmd, **kwargs)
        check_loss_params(lmd=lmd, temperature=self.temperature, beta=beta, reg_weight=reg_weight)
        self.meta_forward = check_choice(meta_forward, META_FORWARDS, "meta_forward")
        self.beta = float(beta)
        self.reg_weight = float(reg_weight)
        self.use_reg = bool(use_reg)
        sizes = tuple(augmenter_sizes) if augmenter_sizes is not None else (self.hidden_size, 32, 16, self.hidden_size)
        self.aug1 = LearnableAugmenter(sizes)
        self.aug2 = LearnableAugmenter(sizes)

    def meta_loss(self, h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
        """InfoNCE over the pairs (h1, z2), (h2, z1), (z1, z2) (+ reg_weight · R on each pair).

        The pairing follows the reference code (``meta_contrast``): each data-level view is
        contrasted with the *other* view's learnable view, and the two learnable views with
        each other.
        """
        z1, z2 = self.aug1(h1), self.aug2(h2)
        loss = h1.new_zeros(())
        for a, b in [(h1, z2), (h2, z1), (z1, z2)]:
            nce, reg = contrastive_terms(a, b, self.temperature, regulariser=self.use_reg)
            loss = loss + nce + (self.reg_weight * reg if reg is not None else 0.0)
        return loss

    def augmenter_parameters(self):
        return list(self.aug1.parameters()) + list(self.aug2.parameters())

    def encoder_parameters(self):
        aug = {id(p) for p in self.augmenter_parameters()}
        return [p for p in self.parameters() if id(p) not in aug]

    def make_optimizers(self, lr: float, weight_decay: float = 0.0) -> list[torch.optim.Optimizer]:
        """Adam for the encoder and a separate Adam for the two augmenters (same lr)."""
        return [adam(self.encoder_parameters(), lr, weight_decay), adam(self.augmenter_parameters(), lr, weight_decay)]

    def _freeze_augmenters(self, frozen: bool) -> None:
        for p in self.augmenter_parameters():
            p.requires_grad_(not frozen)

    def _encoder_terms(
        self, seqs, targets, v1, v2, gather: Gather | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(next-item loss, meta loss, InfoNCE or None when ``lmd`` is 0) of the encoder stages."""
        rec, h1, h2 = self._rec_and_views(seqs, targets, v1, v2, gather)
        meta = self.meta_loss(h1, h2)
        return rec, meta, (self._cl_loss(h1, h2) if self.lmd else None)

    def _encoder_stage(
        self,
        seqs,
        targets,
        v1,
        v2,
        opt,
        amp: AmpFactory,
        parallel: DataParallelStep | None,
        terms: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One encoder step on the next-item + meta (+ InfoNCE) loss; ``terms`` are the loss
        terms when the caller has already computed them (``meta_forward="shared"``)."""
        opt.zero_grad(set_to_none=True)  # before the backward: ``terms``' forward may be done already
        with amp():
            args = (seqs, targets, v1, v2)
            if terms is not None:
                rec, meta, cl = terms
            else:
                rec, meta, cl = self._encoder_terms(*args) if parallel is None else parallel("encoder", *args)
            loss = rec + self.beta * meta
            if cl is not None:
                loss = loss + self.lmd * cl
        if parallel is None:
            loss.backward()
        else:  # weighted as in CL4SRec.train_step
            contrastive = self.beta * meta + (self.lmd * cl if cl is not None else 0.0)
            (parallel.scale * rec + parallel.world * contrastive).backward()
        opt.step()
        return loss.detach(), rec.detach()

    def train_step(
        self,
        seqs,
        targets,
        optimizers,
        views: ViewFn | None = None,
        amp: AmpFactory = nullcontext,
        parallel: DataParallelStep | None = None,
    ) -> dict[str, float]:
        """The three-stage meta update on one batch (the same two views in every stage)."""
        if views is None:
            raise InvalidParameterError("MCLRec.train_step needs a views callable")
        enc_opt, aug_opt = optimizers
        v1, v2 = views(seqs)
        try:
            # stage 1: encoder, augmenters frozen
            self._freeze_augmenters(True)
            self._encoder_stage(seqs, targets, v1, v2, enc_opt, amp, parallel)
            shared = None
            if self.meta_forward == "shared":
                # stage 3's encoder pass now: the encoder does not change before stage 3's step
                with amp():
                    args = (seqs, targets, v1, v2)
                    shared = self._rec_and_views(*args, None) if parallel is None else parallel("encodings", *args)
                h1, h2 = shared[1].detach(), shared[2].detach()
            else:
                # stage 2's own pass. The encoder is not stepped in stage 2, so its forward pass
                # needs no graph (same update, ~1/3 the cost).
                with torch.no_grad(), amp():
                    h1, h2 = self.encode(torch.cat([v1, v2])).chunk(2)
                    if parallel is not None:  # the whole batch's meta loss, the same in every process
                        h1, h2 = parallel.gather(h1), parallel.gather(h2)
            # stage 2: augmenters only, on the meta loss of the updated encoder
            self._freeze_augmenters(False)
            aug_opt.zero_grad(set_to_none=True)
            with amp():
                meta = self.meta_loss(h1, h2) if parallel is None else parallel("augmenters", h1, h2)
            meta.backward()
            aug_opt.step()
            # stage 3: encoder again, against the updated augmenters
            self._freeze_augmenters(True)
            terms = None
            if shared is not None:
                rec, h1, h2 = shared
                with amp():
                    terms = (rec, self.meta_loss(h1, h2), self._cl_loss(h1, h2) if self.lmd else None)
            loss, rec = self._encoder_stage(seqs, targets, v1, v2, enc_opt, amp, parallel, terms)
        finally:
            self._freeze_augmenters(False)
        return {"loss": float(loss), "rec_loss": float(rec), "meta_loss": float(meta.detach())}

    def add_parallel_stages(self, parallel: DataParallelStep) -> None:
        """Two DDP wrappers: the encoder stages' loss over the encoder's parameters (wrapped while
        the augmenters are frozen, so DDP leaves them out) and stage 2's over the augmenters';
        with ``meta_forward="shared"`` a third over the encoder's: stage 3's encodings."""
        self._freeze_augmenters(True)
        try:
            parallel.add_stage("encoder", self, lambda m, *a: m._encoder_terms(*a, gather=parallel.gather))
            if self.meta_forward == "shared":  # stage 3's pass: the encodings only, the losses outside
                parallel.add_stage("encodings", self, lambda m, *a: m._rec_and_views(*a, gather=parallel.gather))
        finally:
            self._freeze_augmenters(False)
        parallel.add_stage(
            "augmenters", nn.ModuleList([self.aug1, self.aug2]), lambda _, h1, h2: self.meta_loss(h1, h2)
        )


class Popularity(nn.Module):
    """Scores every item by its number of training interactions (same for every user)."""

    counts: torch.Tensor  # [n_items], a buffer (moves with the module, saved in its state)

    def __init__(self, n_items: int):
        super().__init__()
        self.n_items = int(n_items)
        self.register_buffer("counts", torch.zeros(n_items))

    def fit_counts(self, sequences: list[np.ndarray]) -> Popularity:
        flat = np.concatenate(sequences) if sequences else np.zeros(0, dtype=np.int64)
        c = np.bincount(flat, minlength=self.n_items + 1)[1 : self.n_items + 1]
        self.counts.copy_(torch.as_tensor(c, dtype=self.counts.dtype))
        return self

    def full_scores(self, seqs: torch.Tensor) -> torch.Tensor:
        return self.counts.unsqueeze(0).expand(len(seqs), -1).clone()
