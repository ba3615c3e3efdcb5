"""``LightGCN`` and ``MFBPR`` estimators; with an :class:`LLMRecAugmentation` and LLMRec's
loss settings (:data:`LLMREC_DEFAULTS`) the same estimator is the LLMRec recommender."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from ... import distributed
from ...base import check_is_fitted
from ...exceptions import DataValidationError, InvalidParameterError, UnknownIdError
from ...random import check_random_state, local_torch_seed
from ...train import Trainer, TrainResult, resolve_device
from ...validation import (
    check_bool,
    check_choice,
    check_finite,
    check_fraction,
    check_positive_float,
    check_positive_int,
    check_shape,
)
from ..base import Recommender
from ..interactions import IdVocab, pairs_of_users
from ._augmenter import LLMRecAugmentation
from ._graph_models import BipartiteGraph, FeatureSet, GraphRecNet
from ._mae import sce_loss
from ._training import BPRSampler, Targets, bpr_losses, evaluate_ranking, feature_reg, modality_bpr, prune_mean

__all__ = ["LLMREC_DEFAULTS", "LLMREC_MOVIELENS", "MFBPR", "LightGCN"]

#: LLMRec's training switches on top of LightGCN: the reference's Netflix defaults in ``utility/parser.py`` as of its
#: commit 1bdfbfe (2023, MAE on with mask rate 0.1); its 2024 parser (49638e2) turns the MAE term off by default.
LLMREC_DEFAULTS: dict[str, Any] = {
    "aug_sample_rate": 0.1,
    "prune_drop_rate": 0.71,
    "use_mae": True,
    "mask_rate": 0.1,
}

#: The reference repo's (commented-out) MovieLens block of ``utility/parser.py`` (commit 1bdfbfe; gone in 49638e2):
#: smaller side-feature weights, milder pruning that keeps the *hardest* samples as the reference code does, rarer augmented edges.
LLMREC_MOVIELENS: dict[str, Any] = {
    **LLMREC_DEFAULTS,
    "user_cat_rate": 0.72,
    "item_cat_rate": 0.003,
    "prune_drop_rate": 0.4,
    "prune_mode": "reference",
    "aug_sample_rate": 0.0036,
}


class LightGCN(Recommender):
    """LightGCN trained with BPR, optionally with LLMRec's augmentation.

    A :class:`~structaug.recsys.base.Recommender`: ``fit(interactions)``, then
    ``recommend(users, k)`` (long frame ``user, item, rank, score``), ``score_items``,
    ``save``/``load``.

    Parameters
    ----------
    embedding_dim : int
        Width of the user/item embedding tables (64 in the paper).
    n_layers : int
        Propagation layers (paper/reference: 2).
    lr, weight_decay, batch_size : optimisation (Adam; L2 on the batch's layer-0 embeddings).
    max_epochs, patience : early stopping on validation ``recall@{eval_k}`` (``patience=None``:
        train ``max_epochs``, keeping the best validation epoch) when
        ``validation`` is given to ``fit``.
    eval_k : int
        Cut-off of the monitored validation recall (20).
    aug_sample_rate : float
        Fraction of each batch's users whose augmented triple is added (LLMRec: 0.1).
    prune_drop_rate : float
        Fraction of BPR samples dropped per batch (LLMRec: 0.71; 0 = off).
    prune_mode : {"paper", "reference"}
        Which samples are dropped: the highest-loss ones (the paper's text) or the
        lowest-loss ones (what the reference code does).
    user_cat_rate, item_cat_rate, model_cat_rate : float
        Weights of profile, attribute and item-text branches (2.8, 0.005, 0.02).
    aug_mf_rate : float
        Weight of the feature-level BPR between propagated profiles and attributes (0.012).
    mm_mf_rate : float
        Weight of the modality BPR term (reference ``mm_mf_rate``, 1e-4): the BPR loss of the
        batch's (user, pos, neg) triples scored with the propagated item-text features alone,
        summed over the text fields (pruned like the main BPR). Acts only with item text
        features (an augmentation with ``item_text``).
    feat_reg_decay : float
        Weight of the feature regulariser (reference ``feat_reg_decay``, 1e-5):
        ``sum over text fields of (||T_items||^2 + ||T_users||^2) / 2 / n_items`` over the full
        propagated item-text feature matrices. Acts only with item text features.
    use_mae : bool
        Masked feature reconstruction (needs profiles or attributes).
    mask_rate, att_re_rate, sce_alpha : float
        MAE mask fraction (0.1), loss weight (1e-5, reference) and SCE exponent (2).
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ...
    random_state : int or None
    verbose : bool
        Progress bar over epochs (silent by default).
    user_col, item_col, time_col : str
        Column names of the interaction frames (``fit``, ``validation``, ``evaluate``) and
        of the ``recommend`` frame.

    Attributes
    ----------
    users_, items_ : IdVocab
        Fitted id maps (rows of ``user_embeddings_`` / ``item_embeddings_``).
    user_embeddings_, item_embeddings_ : Tensor [n_users, d], [n_items, d]
        Final embeddings; a score is their dot product.
    train_result_ : TrainResult
    n_aug_used_ : int
        Augmented triples added to the BPR batches over the whole fit.
    """

    _fitted_attributes: ClassVar[list[str]] = ["users_", "items_", "net_"]

    def __init__(
        self,
        *,
        embedding_dim: int = 64,
        n_layers: int = 2,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 1024,
        max_epochs: int = 200,
        patience: int | None = 10,
        eval_k: int = 20,
        aug_sample_rate: float = 0.1,
        prune_drop_rate: float = 0.0,
        prune_mode: str = "paper",
        user_cat_rate: float = 2.8,
        item_cat_rate: float = 0.005,
        model_cat_rate: float = 0.02,
        aug_mf_rate: float = 0.012,
        mm_mf_rate: float = 1e-4,
        feat_reg_decay: float = 1e-5,
        use_mae: bool = False,
        mask_rate: float = 0.1,
        att_re_rate: float = 1e-5,
        sce_alpha: float = 2.0,
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
        user_col: str = "user",
        item_col: str = "item",
        time_col: str = "timestamp",
    ):
        self.embedding_dim = embedding_dim
        self.n_layers = n_layers
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.eval_k = eval_k
        self.aug_sample_rate = aug_sample_rate
        self.prune_drop_rate = prune_drop_rate
        self.prune_mode = prune_mode
        self.user_cat_rate = user_cat_rate
        self.item_cat_rate = item_cat_rate
        self.model_cat_rate = model_cat_rate
        self.aug_mf_rate = aug_mf_rate
        self.mm_mf_rate = mm_mf_rate
        self.feat_reg_decay = feat_reg_decay
        self.use_mae = use_mae
        self.mask_rate = mask_rate
        self.att_re_rate = att_re_rate
        self.sce_alpha = sce_alpha
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.user_col = user_col
        self.item_col = item_col
        self.time_col = time_col

    # MF-BPR overrides this; everything else is shared.
    def _layers(self) -> int:
        return check_positive_int(self.n_layers, "n_layers", minimum=0)

    def _validate_params(self) -> None:
        check_positive_int(self.embedding_dim, "embedding_dim")
        check_positive_int(self.batch_size, "batch_size")
        # max_epochs=0 would return the random initialisation as if it were a trained model
        check_positive_int(self.max_epochs, "max_epochs")
        if self.patience is not None:  # None: train max_epochs (as every structaug estimator)
            check_positive_int(self.patience, "patience")
        check_positive_int(self.eval_k, "eval_k")
        self._layers()
        for name in ("aug_sample_rate", "mask_rate"):
            check_fraction(getattr(self, name), name, inclusive_low=True)
        check_fraction(self.prune_drop_rate, "prune_drop_rate", inclusive_low=True, inclusive_high=False)
        check_choice(self.prune_mode, ("paper", "reference"), "prune_mode")
        check_positive_float(self.lr, "lr")  # lr=0 trains nothing; NaN used to pass a `< 0` test
        for name in (
            "weight_decay",
            "user_cat_rate",
            "item_cat_rate",
            "model_cat_rate",
            "aug_mf_rate",
            "mm_mf_rate",
            "feat_reg_decay",
            "att_re_rate",
            "sce_alpha",
        ):
            check_positive_float(getattr(self, name), name, allow_zero=True)
        check_bool(self.verbose, "verbose")

    # ------------------------------------------------------------------------------------
    # the base's **fit_params, spelled out for the docs and signature checks
    def fit(  # type: ignore[override]
        self,
        interactions: pd.DataFrame,
        y: Any = None,
        *,
        augmentation: LLMRecAugmentation | None = None,
        validation: pd.DataFrame | None = None,
        user_ids: Any = None,
        item_ids: Any = None,
    ) -> LightGCN:
        """Train on ``interactions`` (columns ``user_col``, ``item_col``).

        Parameters
        ----------
        interactions : DataFrame
            One row per (user, item) interaction; never modified.
        y : None
            Ignored (scikit-learn's ``fit(X, y)`` signature).
        augmentation : LLMRecAugmentation, optional
            Triples and features from :class:`LLMRecAugmenter` (its ``user_ids``/``item_ids``
            define the id space).
        validation : DataFrame, optional
            Held-out interactions (same columns) for early stopping on recall@``eval_k``.
        user_ids, item_ids : sequence, optional
            Full catalogues when some users/items are absent from ``interactions``.
        """
        return super().fit(
            interactions, y, augmentation=augmentation, validation=validation, user_ids=user_ids, item_ids=item_ids
        )

    def _fit(  # type: ignore[override]
        self,
        interactions: pd.DataFrame,
        *,
        augmentation: LLMRecAugmentation | None = None,
        validation: pd.DataFrame | None = None,
        user_ids: Any = None,
        item_ids: Any = None,
    ) -> None:
        # a failed refit must not leave the previous model next to the new vocabularies
        for attr in ("net_", "user_embeddings_", "item_embeddings_", "train_result_", "_train_pairs", "_item_counts"):
            self.__dict__.pop(attr, None)
        if augmentation is not None and not isinstance(augmentation, LLMRecAugmentation):
            raise InvalidParameterError(
                f"augmentation must be an LLMRecAugmentation, got {type(augmentation).__name__}"
            )
        if validation is not None:  # checked before any work, not after the first epoch
            validation = self._interactions_frame(validation, "validation")
        if augmentation is not None:
            for given, own, what in (
                (user_ids, augmentation.user_ids, "user_ids"),
                (item_ids, augmentation.item_ids, "item_ids"),
            ):
                if given is not None and not np.array_equal(np.unique(np.asarray(given)), np.unique(np.asarray(own))):
                    raise DataValidationError(
                        f"{what} differ from the augmentation's {what}, which define the "
                        "id space when an augmentation is given; pass one or the other"
                    )
            user_ids, item_ids = augmentation.user_ids, augmentation.item_ids
        self.users_ = IdVocab(user_ids if user_ids is not None else interactions["user"])
        self.items_ = IdVocab(item_ids if item_ids is not None else interactions["item"])
        u = _encode(self.users_, interactions["user"], f"interactions[{self.user_col!r}]", "user_ids")
        i = _encode(self.items_, interactions["item"], f"interactions[{self.item_col!r}]", "item_ids")
        nu, ni = len(self.users_), len(self.items_)
        if ni < 2:
            raise DataValidationError(
                f"the item catalogue has {ni} item; BPR needs at least 2 items to draw a "
                "negative (pass item_ids with the full catalogue)"
            )
        if validation is not None:
            vu = _encode(self.users_, validation["user"], f"validation[{self.user_col!r}]", "user_ids")
            vi = _encode(self.items_, validation["item"], f"validation[{self.item_col!r}]", "item_ids")
        dev = resolve_device(self.device)
        seed = int(check_random_state(self.random_state).integers(2**31 - 1))
        gen = torch.Generator(device=dev).manual_seed(seed)

        feats = FeatureSet([], [], None)
        aug_pos: torch.Tensor | None = None
        aug_neg: torch.Tensor | None = None
        if augmentation is not None:
            feats = FeatureSet(
                list(augmentation.item_text.values()),
                list(augmentation.item_attributes.values()),
                augmentation.user_profiles,
            )
            for part in ("item_text", "item_attributes"):
                for name, x in getattr(augmentation, part).items():
                    check_shape(x, f"augmentation.{part}[{name!r}]", ndim=2, shape=(ni, None))
                    # NaN features would only surface later, as NaN scores
                    check_finite(x, f"augmentation.{part}[{name!r}]")
            if feats.user_profiles is not None:
                check_shape(feats.user_profiles, "augmentation.user_profiles", ndim=2, shape=(nu, None))
                check_finite(feats.user_profiles, "augmentation.user_profiles")
            tr = augmentation.triples
            aug_pos = torch.full((nu,), -1, dtype=torch.long)
            aug_neg = torch.full((nu,), -1, dtype=torch.long)
            if len(tr):
                where = "augmentation.triples"
                tu = torch.as_tensor(_encode(self.users_, tr["user"], f"{where}['user']", "user_ids"))
                aug_pos[tu] = torch.as_tensor(_encode(self.items_, tr["pos"], f"{where}['pos']", "item_ids"))
                aug_neg[tu] = torch.as_tensor(_encode(self.items_, tr["neg"], f"{where}['neg']", "item_ids"))
            aug_pos, aug_neg = aug_pos.to(dev), aug_neg.to(dev)

        graph = BipartiteGraph.from_edges(u, i, nu, ni, dev)
        sampler = BPRSampler(u, i, nu, ni, dev)
        use_mae = bool(self.use_mae) and (feats.user_profiles is not None or bool(feats.item_attributes))
        with local_torch_seed(seed):  # weight init; the Trainer seeds dropout
            net = GraphRecNet(
                nu,
                ni,
                self.embedding_dim,
                self._layers(),
                feats,
                user_cat_rate=self.user_cat_rate,
                item_cat_rate=self.item_cat_rate,
                model_cat_rate=self.model_cat_rate,
                with_decoder=use_mae,
            ).to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        n_batches = sampler.n_train // self.batch_size + 1
        self.n_aug_used_ = 0

        def batch_loss(model: GraphRecNet, users, pos, neg) -> torch.Tensor:
            ue, ie, aux = model(graph)
            return self._batch_loss(model, ue, ie, aux, users, pos, neg, use_mae=use_mae)

        # under a multi-process torchrun launch the whole batch loss runs inside DDP (its
        # decoder and penalty terms use parameters outside net's forward) and each process
        # takes its share of every BPR batch (all draw the same one); side-feature parts are
        # not used by every loss, hence find_unused_parameters. One process: step is the
        # plain LossModule, the same calls in the same order.
        step = distributed.wrap(distributed.LossModule(net, batch_loss), find_unused_parameters=True)
        parallel = distributed.is_wrapped(step)

        def train_epoch(epoch: int) -> dict[str, float]:
            net.train()
            net.prepare(graph, mask_rate=self.mask_rate if use_mae else 0.0, generator=gen)
            tot = 0.0
            for _ in range(n_batches):
                users, pos, neg = sampler.sample(self.batch_size, gen)
                if aug_pos is not None and self.aug_sample_rate > 0:
                    k = int(len(users) * self.aug_sample_rate)
                    pick = users[torch.randperm(len(users), generator=gen, device=gen.device)[:k].to(dev)]
                    assert aug_neg is not None  # set together with aug_pos
                    ok = aug_pos[pick] >= 0
                    if bool(ok.any()):
                        pick = pick[ok]
                        users = torch.cat([users, pick])
                        pos = torch.cat([pos, aug_pos[pick]])
                        neg = torch.cat([neg, aug_neg[pick]])
                        self.n_aug_used_ += int(len(pick))
                scale = 1.0
                if parallel:
                    share = distributed.shard_batch(torch.arange(len(users), device=users.device))
                    if share is None:  # fewer rows than processes: every process skips it
                        continue
                    rows, scale = share
                    users, pos, neg = users[rows], pos[rows], neg[rows]
                loss = step(users, pos, neg)
                opt.zero_grad(set_to_none=True)
                (loss * scale if parallel else loss).backward()
                opt.step()
                tot += float(loss.detach())
            return {"loss": tot / n_batches}

        validate: Callable[[int], dict[str, float]] | None = None
        if validation is not None:
            vt = Targets(vu, vi, u, i)
            ks = sorted({10, int(self.eval_k)})

            def _validate(epoch: int) -> dict[str, float]:
                net.eval()
                net.prepare(graph)
                ue, ie, _ = net(graph)
                m = evaluate_ranking(ue, ie, vt, ks)
                return {f"val_{k}": v for k, v in m.items() if k.startswith(("recall", "ndcg"))}

            validate = _validate

        trainer = Trainer(
            max_epochs=self.max_epochs,
            patience=self.patience if validation is not None else None,  # None trains max_epochs
            monitor=f"val_recall@{self.eval_k}",
            mode="max",
            device=dev,
            seed=seed,
            verbose=self.verbose,
            desc=type(self).__name__,
        )
        self.train_result_: TrainResult = trainer.fit(net, opt, train_epoch, validate, generators=[gen])
        net.eval()
        net.prepare(graph)
        with torch.no_grad():
            ue, ie, _ = net(graph)
        if not (bool(torch.isfinite(ue).all()) and bool(torch.isfinite(ie).all())):
            # NaN scores would rank arbitrarily and look like a (bad) model
            raise InvalidParameterError(
                f"training diverged: the embeddings hold NaN/inf after "
                f"{self.train_result_.epochs_run} epoch(s); lower lr (got {self.lr}) "
                "or the loss weights"
            )
        self.net_ = net
        self.user_embeddings_ = ue.detach()
        self.item_embeddings_ = ie.detach()
        self._train_pairs = (u, i)
        self._item_counts = np.bincount(i, minlength=ni).astype(np.float32)
        # the propagated-feature caches of the last forward are not model state (and not saved)
        net.clear_cache()

    def _batch_loss(
        self,
        net: GraphRecNet,
        ue: torch.Tensor,
        ie: torch.Tensor,
        aux: dict[str, Any],
        users: torch.Tensor,
        pos: torch.Tensor,
        neg: torch.Tensor,
        *,
        use_mae: bool,
    ) -> torch.Tensor:
        """One batch's training loss (the reference's ``batch_loss``; terms in its order).

        ``ue``/``ie`` [n_users, d]/[n_items, d] and ``aux`` come from ``net(graph)``;
        ``users``/``pos``/``neg`` [B] are the batch's BPR triples (augmented ones included).
        Every side-feature term is skipped (not added as 0) when its features are absent, so a
        plain LightGCN/MF-BPR loss is the same floating-point sum as without those terms.
        """
        drop, mode = self.prune_drop_rate, self.prune_mode
        loss = prune_mean(bpr_losses(ue[users], ie[pos], ie[neg]), drop, mode)
        reg = (
            net.user_emb.weight[users].pow(2).sum()
            + net.item_emb.weight[pos].pow(2).sum()
            + net.item_emb.weight[neg].pow(2).sum()
        ) / (2 * len(users))
        loss = loss + self.weight_decay * reg
        if aux["text_items"] and self.feat_reg_decay > 0:
            loss = loss + self.feat_reg_decay * feature_reg(aux["text_users"], aux["text_items"], net.n_items)
        if aux["user_prof"] is not None and aux["attr_items"] and self.aug_mf_rate > 0:
            up = aux["user_prof"][users]
            for it in aux["attr_items"]:
                loss = loss + self.aug_mf_rate * prune_mean(bpr_losses(up, it[pos], it[neg]), drop, mode)
        if aux["text_items"] and self.mm_mf_rate > 0:
            loss = loss + self.mm_mf_rate * modality_bpr(
                aux["text_users"], aux["text_items"], users, pos, neg, drop, mode
            )
        if use_mae and net.decoder is not None and self.att_re_rate > 0:
            rec: Any = 0.0  # a Tensor once a term is added
            mu, mi = aux["masked_users"], aux["masked_items"]
            if net.decoder.user is not None and mu is not None and mu.numel():
                rec = rec + sce_loss(
                    net.decoder.user(aux["user_prof"][mu]),
                    net.profile[mu],  # type: ignore[index]
                    self.sce_alpha,
                )
            if net.decoder.item is not None and mi is not None and mi.numel():
                for it, x in zip(aux["attr_items"], net._attrs()):
                    rec = rec + sce_loss(net.decoder.item(it[mi]), x[mi], self.sce_alpha)
            loss = loss + self.att_re_rate * rec
        return loss

    # -- Recommender hooks ----------------------------------------------------------------
    def _score_users(self, codes: np.ndarray) -> torch.Tensor:
        idx = torch.as_tensor(codes, device=self.user_embeddings_.device)
        return self.user_embeddings_[idx] @ self.item_embeddings_.T

    def _seen_pairs(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return pairs_of_users(codes, *self._train_pairs)

    def _popularity(self) -> np.ndarray:
        return self._item_counts

    def _set_state(self, state: dict[str, Any], device: str | None) -> None:
        # load_verified maps tensors to the CPU; the model runs on its (possibly new) device
        super()._set_state(state, device)
        dev = resolve_device(self.device)
        self.net_ = self.net_.to(dev)
        self.user_embeddings_ = self.user_embeddings_.to(dev)
        self.item_embeddings_ = self.item_embeddings_.to(dev)

    # ------------------------------------------------------------------------------------
    def evaluate(
        self, test: pd.DataFrame, *, exclude: Sequence[pd.DataFrame] = (), ks: Sequence[int] = (10, 20, 50)
    ) -> dict[str, float]:
        """Full-ranking Recall/NDCG/Precision/HR@k on ``test`` (columns ``user_col``, ``item_col``).

        Training items and those in the ``exclude`` frames (e.g. validation) are not ranked.
        """
        check_is_fitted(self, self._fitted_attributes)
        test = self._interactions_frame(test, "test")
        for k in ks:
            check_positive_int(k, "ks")
        uc, ic = repr(self.user_col), repr(self.item_col)
        tu = _encode(self.users_, test["user"], f"test[{uc}]", "user_ids")
        ti = _encode(self.items_, test["item"], f"test[{ic}]", "item_ids")
        eu, ei = [self._train_pairs[0]], [self._train_pairs[1]]
        for n, df in enumerate(exclude):
            df = self._interactions_frame(df, f"exclude[{n}]")
            eu.append(_encode(self.users_, df["user"], f"exclude[{n}][{uc}]", "user_ids"))
            ei.append(_encode(self.items_, df["item"], f"exclude[{n}][{ic}]", "item_ids"))
        t = Targets(tu, ti, np.concatenate(eu), np.concatenate(ei))
        return evaluate_ranking(self.user_embeddings_, self.item_embeddings_, t, ks)


def _encode(vocab: IdVocab, raw: Any, name: str, catalogue: str) -> np.ndarray:
    """Raw ids -> internal ints; unknown ids raise :class:`UnknownIdError` (a
    ``DataValidationError`` and a ``KeyError``, as ``IdVocab.encode`` raises it) naming ``name``."""
    try:
        return vocab.encode(np.asarray(raw), name=name, unknown="raise")
    except UnknownIdError as exc:
        raise UnknownIdError(f"{exc}; pass the full catalogue as {catalogue} to fit") from None


class MFBPR(LightGCN):
    """Matrix factorisation with BPR: :class:`LightGCN` without propagation (same code).

    Parameters are :class:`LightGCN`'s except ``n_layers`` (always 0).
    """

    def __init__(
        self,
        *,
        embedding_dim: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 1024,
        max_epochs: int = 200,
        patience: int | None = 10,
        eval_k: int = 20,
        aug_sample_rate: float = 0.1,
        prune_drop_rate: float = 0.0,
        prune_mode: str = "paper",
        user_cat_rate: float = 2.8,
        item_cat_rate: float = 0.005,
        model_cat_rate: float = 0.02,
        aug_mf_rate: float = 0.012,
        mm_mf_rate: float = 1e-4,
        feat_reg_decay: float = 1e-5,
        use_mae: bool = False,
        mask_rate: float = 0.1,
        att_re_rate: float = 1e-5,
        sce_alpha: float = 2.0,
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
        user_col: str = "user",
        item_col: str = "item",
        time_col: str = "timestamp",
    ):
        params = dict(locals())
        params.pop("self")
        params.pop("__class__", None)
        super().__init__(n_layers=0, **params)
        del self.n_layers  # not a parameter of MF-BPR

    def _layers(self) -> int:
        return 0
