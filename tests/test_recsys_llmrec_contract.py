"""LightGCN / MF-BPR on the shared recommender contract, and the reference's modality BPR term
(``mm_mf_rate``) and feature regulariser (``feat_reg_decay``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from structaug.datasets import make_interactions
from structaug.exceptions import CorruptFileError, InvalidParameterError
from structaug.recsys.base import Recommender
from structaug.recsys.llmrec import MFBPR, LightGCN, LLMRecAugmentation, LLMRecAugmenter
from structaug.recsys.llmrec._graph_models import BipartiteGraph

torch.set_num_threads(1)

QUICK = dict(embedding_dim=8, max_epochs=2, batch_size=64, lr=1e-2, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def log():
    inter, items, users = make_interactions(n_users=30, n_items=20, per_user=(3, 8), random_state=0)
    return inter, items, users


def _text_aug(inter, items, users, *, dims=(5, 5), seed=0) -> LLMRecAugmentation:
    """An augmentation holding only item text features (two fields), no triples/attributes/profiles."""
    g = torch.Generator().manual_seed(seed)
    uid, iid = np.sort(users["user"].unique()), np.sort(items["item"].unique())
    text = {f"f{k}": torch.randn(len(iid), d, generator=g) for k, d in enumerate(dims)}
    triples = pd.DataFrame({"user": uid[:0], "pos": iid[:0], "neg": iid[:0]})
    return LLMRecAugmentation(user_ids=uid, item_ids=iid, triples=triples, item_text=text)


def _expected_text_feats(m: LightGCN, aug: LLMRecAugmentation):
    """The reference's propagated text features, by dense algebra: T_u = P_ui X W + b and
    T_i = P_iu P_ui X W + b (row-mean operators), zero rows for nodes without a training edge."""
    u, i = m._train_pairs
    nu, ni = len(m.users_), len(m.items_)
    r = np.zeros((nu, ni))
    r[u, i] = 1.0
    ru, ri = r.sum(1, keepdims=True), r.sum(0)[:, None]
    ui, iu = r / np.maximum(ru, 1), r.T / np.maximum(ri, 1)
    w = m.net_.text_proj.weight.detach().double().numpy()
    b = m.net_.text_proj.bias.detach().double().numpy()
    out = []
    for x in aug.item_text.values():
        x = x.double().numpy()
        tu = (ui @ x) @ w.T + b
        ti = (iu @ (ui @ x)) @ w.T + b
        out.append((tu * (ru > 0), ti * (ri > 0)))
    return out


@pytest.mark.parametrize("drop,mode", [(0.0, "paper"), (0.5, "reference")])
def test_modality_bpr_and_feature_reg_add_the_reference_formula(log, drop, mode):
    inter, items, users = log
    aug = _text_aug(inter, items, users)
    m = LightGCN(**QUICK, prune_drop_rate=drop, prune_mode=mode).fit(inter, augmentation=aug)
    g = BipartiteGraph.from_edges(*m._train_pairs, len(m.users_), len(m.items_))
    net = m.net_
    net.prepare(g)
    with torch.no_grad():
        ue, ie, aux = net(g)
    feats = _expected_text_feats(m, aug)
    for (tu, ti), got_u, got_i in zip(feats, aux["text_users"], aux["text_items"]):  # the terms use these tensors
        np.testing.assert_allclose(got_u.double().numpy(), tu, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got_i.double().numpy(), ti, rtol=1e-4, atol=1e-5)

    gen = torch.Generator().manual_seed(1)
    users_b = torch.randint(len(m.users_), (40,), generator=gen)
    pos, neg = torch.randint(len(m.items_), (2, 40), generator=gen)
    loss = {}
    for mm, fr in ((0.0, 0.0), (0.3, 0.0), (0.0, 0.2), (0.3, 0.2)):
        est = clone(m).set_params(mm_mf_rate=mm, feat_reg_decay=fr)
        loss[mm, fr] = float(est._batch_loss(net, ue, ie, aux, users_b, pos, neg, use_mae=False).detach())

    ub, pb, nb = users_b.numpy(), pos.numpy(), neg.numpy()
    keep = max(1, int((1 - drop) * 40))
    mm_term = feat_term = 0.0
    for tu, ti in feats:
        per = np.logaddexp(0, -(tu[ub] * (ti[pb] - ti[nb])).sum(1))  # -log sigmoid(x)
        per = np.sort(per)[::-1][:keep] if mode == "reference" else np.sort(per)[:keep]
        mm_term += per.mean()
        feat_term += (0.5 * (ti**2).sum() + 0.5 * (tu**2).sum()) / len(m.items_)
    base = loss[0.0, 0.0]
    assert loss[0.3, 0.0] - base == pytest.approx(0.3 * mm_term, rel=1e-4)
    assert loss[0.0, 0.2] - base == pytest.approx(0.2 * feat_term, rel=1e-4)
    assert loss[0.3, 0.2] - base == pytest.approx(0.3 * mm_term + 0.2 * feat_term, rel=1e-4)


def test_new_terms_act_only_with_item_text(log):
    """Without side features the two terms are not even added (bit-identical training);
    with item text they train the model (different embeddings)."""
    inter, items, users = log
    cat = dict(user_ids=users["user"], item_ids=items["item"])
    for cls in (LightGCN, MFBPR):
        on = cls(**QUICK, mm_mf_rate=0.5, feat_reg_decay=0.5).fit(inter, **cat)
        off = cls(**QUICK, mm_mf_rate=0.0, feat_reg_decay=0.0).fit(inter, **cat)
        assert torch.equal(on.user_embeddings_, off.user_embeddings_)
        assert torch.equal(on.item_embeddings_, off.item_embeddings_)
    aug = _text_aug(inter, items, users)
    on = LightGCN(**QUICK, mm_mf_rate=0.5, feat_reg_decay=0.5).fit(inter, augmentation=aug)
    off = LightGCN(**QUICK, mm_mf_rate=0.0, feat_reg_decay=0.0).fit(inter, augmentation=aug)
    assert not torch.equal(on.item_embeddings_, off.item_embeddings_)


def test_reference_defaults_and_validation():
    p = LightGCN().get_params()
    assert p["mm_mf_rate"] == 1e-4 and p["feat_reg_decay"] == 1e-5  # utility/parser.py defaults
    assert p["verbose"] is False and "progress" not in p
    assert "n_layers" not in MFBPR().get_params()
    for bad in ({"mm_mf_rate": -1.0}, {"feat_reg_decay": float("nan")}, {"verbose": None}):
        with pytest.raises(InvalidParameterError, match=next(iter(bad))):
            LightGCN(**QUICK, **bad).fit(pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 2]}))
    aug = LLMRecAugmenter(verbose="yes")  # a truthy string is not a flag
    assert LLMRecAugmenter().get_params()["verbose"] is False and LLMRecAugmenter.sample_unit == "additions"
    with pytest.raises(InvalidParameterError, match="verbose must be True or False"):
        aug.fit(
            pd.DataFrame({"user": [1], "item": [1]}), items=pd.DataFrame({"item": [1], "title": ["a"], "genres": ["g"]})
        )


@pytest.mark.parametrize("cls", [LightGCN, MFBPR])
def test_recommender_contract_columns_and_save_load(log, cls, tmp_path):
    inter, _, _ = log
    assert issubclass(cls, Recommender) and not hasattr(cls, "score")  # score_items, not a matrix "score"
    m = cls(**QUICK).fit(inter)
    renamed = inter.rename(columns={"user": "u", "item": "i", "timestamp": "t"})
    mc = cls(**QUICK, user_col="u", item_col="i", time_col="t").fit(renamed)
    torch.testing.assert_close(mc.user_embeddings_, m.user_embeddings_, rtol=0, atol=0)  # same model, other names
    who = inter["user"].unique()[:4].tolist()
    rec, recc = m.recommend(who, k=5), mc.recommend(who, k=5)
    assert list(recc.columns) == ["u", "i", "rank", "score"]
    np.testing.assert_array_equal(recc.to_numpy(), rec.to_numpy())
    assert mc.evaluate(renamed.iloc[:20], ks=(5,)) == m.evaluate(inter.iloc[:20], ks=(5,))
    # fitted id maps and scores: score_items rows follow users, columns items_.raw_
    assert list(m.items_.raw_) == sorted(inter["item"].unique()) and len(m.users_) == inter["user"].nunique()
    s = m.score_items(who)
    assert s.shape == (4, len(m.items_)) and s.dtype == np.float32
    # save / load: same recommendations, on the requested device; another class is refused
    path = m.save(tmp_path / "m.pt")
    back = cls.load(path, device="cpu")
    assert back.get_params() == {**m.get_params(), "device": "cpu"}
    pd.testing.assert_frame_equal(back.recommend(who, k=5), rec)
    np.testing.assert_array_equal(back.score_items(who), s)
    other = MFBPR if cls is LightGCN else LightGCN
    with pytest.raises(CorruptFileError, match="holds a"):
        other.load(path)


def test_augmenter_reads_configured_column_names():
    """LLMRecAugmenter takes user_col/item_col/time_col like the recommenders; same result as default names."""
    from structaug.exceptions import DataValidationError
    from structaug.recsys.llmrec._embeddings import HashingEmbedder

    inter, items, _ = make_interactions(n_users=20, n_items=60)
    kw = dict(embedder=HashingEmbedder(dim=16), augment_profiles=False, random_state=0)
    a = LLMRecAugmenter(**kw).fit(inter, items=items)
    renamed = inter.rename(columns={"user": "uid", "item": "iid", "timestamp": "ts"}).assign(user=-1)
    before = renamed.copy()
    b = LLMRecAugmenter(user_col="uid", item_col="iid", time_col="ts", **kw).fit(
        renamed, items=items.rename(columns={"item": "iid"})
    )
    pd.testing.assert_frame_equal(renamed, before)  # the caller's frame is not touched
    pd.testing.assert_frame_equal(a.triples_, b.triples_)
    np.testing.assert_array_equal(a.items_.raw_, b.items_.raw_)
    for key, value in a.item_attributes_.items():
        np.testing.assert_array_equal(value, b.item_attributes_[key])
    with pytest.raises(DataValidationError, match="uid"):
        LLMRecAugmenter(user_col="uid", **kw).fit(inter, items=items)
    with pytest.raises(InvalidParameterError, match="different"):
        LLMRecAugmenter(item_col="user", **kw).fit(inter, items=items)
