"""MCLRec, CL4SRec, SASRec, SequenceViews and the sequential recommender on tiny data."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from structaug.datasets import make_sequences
from structaug.exceptions import (
    CorruptFileError,
    DatasetNotFoundError,
    DataValidationError,
    InvalidParameterError,
    NotFittedError,
)
from structaug.nn import catalogue_cross_entropy
from structaug.recsys import CL4SRec, MCLRec, SASRec, SequenceViews, SequentialRecommender
from structaug.recsys.mclrec._contrastive import _excluded, contrastive_terms, info_nce, margin_regulariser
from structaug.recsys.mclrec._data import (
    build_sequences,
    five_core,
    leave_one_out,
    pad_sequences,
    prefix_examples,
    prepare_interactions,
)
from structaug.recsys.mclrec._learnable import LearnableAugmenter
from structaug.recsys.mclrec._models import Popularity
from structaug.recsys.mclrec._sasrec import TransformerBlock
from structaug.recsys.mclrec._training import autocast_factory, batch_order, evaluate_ranking, fit_sequential
from structaug.recsys.mclrec._views import crop, make_views, mask, reorder
from structaug.testing import check_augmenter

TINY = dict(hidden_size=16, n_layers=1, n_heads=2, inner_size=32)


@pytest.fixture(scope="module")
def padded():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 30, size=n) for n in [1, 2, 3, 5, 8, 10, 10, 4]]
    return pad_sequences(seqs, 10)


@pytest.fixture(scope="module")
def toy():
    df = make_sequences(n_users=150, n_items=40, n_clusters=4, min_len=6, max_len=12, random_state=0)
    log = build_sequences(prepare_interactions(df))
    train, valid, test = leave_one_out(log.sequences)
    X, y = prefix_examples(train, 12)
    return log, train, (pad_sequences(valid[0], 12), valid[1]), (pad_sequences(test[0], 12), test[1]), X, y


# -- data --------------------------------------------------------------------------------
def test_prefix_examples_and_leave_one_out():
    seqs = [np.array([1, 2, 3, 4, 5]), np.array([7]), np.array([3, 4, 6])]
    train, (vin, vt, vu), (tin, tt, tu) = leave_one_out(seqs)
    assert [list(s) for s in train] == [[1, 2, 3], [7], [3]]
    assert [list(s) for s in vin] == [[1, 2, 3], [3]] and vt.tolist() == [4, 4] and vu.tolist() == [0, 2]
    assert tt.tolist() == [5, 6] and tu.tolist() == [0, 2]
    assert [list(s) for s in tin] == [[1, 2, 3, 4], [3, 4]]
    X, y = prefix_examples([np.array([1, 2, 3, 4]), np.array([5, 6])], max_len=2)
    assert X.tolist() == [[1, 0], [1, 2], [2, 3], [5, 0]] and y.tolist() == [2, 3, 4, 6]
    assert pad_sequences([np.array([1, 2, 3])], 2).tolist() == [[2, 3]]  # most recent kept


def test_prepare_sorts_time_and_drops_duplicates():
    df = pd.DataFrame({"user": ["a", "a", "a", "b", "b"], "item": [3, 1, 2, 1, 1], "timestamp": [30, 10, 20, 5, 5]})
    with pytest.warns(UserWarning, match="duplicate"):
        out = prepare_interactions(df)
    assert out["item"].tolist() == [1, 2, 3, 1]
    log = build_sequences(out)
    assert log.items.decode(log.sequences[0]).tolist() == [1, 2, 3]
    assert log.mask_id == log.n_items + 1


def test_five_core_and_bad_frames():
    df = make_sequences(n_users=50, n_items=30, random_state=1)
    core = five_core(df)
    assert (core["user"].value_counts() >= 5).all() and (core["item"].value_counts() >= 5).all()
    with pytest.raises(DataValidationError, match="mixes id types"):
        prepare_interactions(pd.DataFrame({"user": [1, 1], "item": [1, "x"]}))
    # numpy scalars are their Python kind: str with np.str_, int with np.int64, is one type
    ok = pd.DataFrame(
        {"user": pd.Series([1, np.int64(1)], dtype=object), "item": pd.Series(["a", np.str_("b")], dtype=object)}
    )
    assert prepare_interactions(ok)["item"].tolist() == ["a", "b"]
    with pytest.raises(DataValidationError, match="empty"):
        prepare_interactions(pd.DataFrame({"user": [], "item": []}))
    with pytest.raises(DataValidationError, match="no interactions survive"):
        five_core(pd.DataFrame({"user": [1, 2], "item": [1, 2], "timestamp": [0, 0]}))


# -- views -------------------------------------------------------------------------------
def test_sequence_views_contract(padded):
    check_augmenter(SequenceViews(random_state=0), padded, expected_type=tuple)
    v = SequenceViews(random_state=0).fit(padded).sample(padded, 3)
    assert len(v) == 3 and all(t.shape == padded.shape and t.dtype == padded.dtype for t in v)


def test_operators_invariants(padded):
    g = torch.Generator().manual_seed(0)
    lengths = (padded > 0).sum(1)
    c = crop(padded, 0.5, g)
    for row, out, n in zip(padded.tolist(), c.tolist(), lengths.tolist()):
        kept = [x for x in out if x]
        if n <= 1:
            assert out == row
            continue
        assert len(kept) == max(1, math.floor(n * 0.5))
        assert out[: len(kept)] == kept and not any(out[len(kept) :])  # left-aligned after the crop
        assert any(row[s : s + len(kept)] == kept for s in range(n))  # contiguous sub-sequence
    m = mask(padded, 0.5, 99, g)
    for row, out, n in zip(padded.tolist(), m.tolist(), lengths.tolist()):
        assert sum(x == 99 for x in out[:n]) == (math.floor(n * 0.5) if n > 1 else 0)
        assert out[n:] == row[n:]  # padding is never masked
        assert all(o == r for o, r in zip(out, row) if o != 99)
    r = reorder(padded, 0.8, g)
    for row, out, n in zip(padded.tolist(), r.tolist(), lengths.tolist()):
        assert sorted(out) == sorted(row) and out[n:] == row[n:]
        diff = [i for i in range(n) if out[i] != row[i]]
        if diff:
            assert diff[-1] - diff[0] < max(1, math.floor(n * 0.8))


def test_two_views_use_different_operators(padded):
    g = torch.Generator().manual_seed(1)
    v1, v2 = make_views(padded, 2, g, mask_id=99, operators=("crop", "mask"))
    long = (padded > 0).sum(1) > 1
    has_mask = torch.stack([(v1 == 99).any(1), (v2 == 99).any(1)], 1)
    assert (has_mask[long].sum(1) == 1).all()


def test_sequence_views_bad_input(padded):
    with pytest.raises(TypeError, match="padded torch.LongTensor"):
        SequenceViews().fit(padded.numpy())
    with pytest.raises(DataValidationError, match="left-aligned"):
        SequenceViews().fit(torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match="crop_ratio"):
        SequenceViews(crop_ratio=1.5).fit(padded)
    with pytest.raises(ValueError, match="operators"):
        SequenceViews(operators=("crop", "drop")).fit(padded)
    with pytest.raises(NotFittedError):
        SequenceViews().sample(padded)
    # an item equal to the mask token could not be told from a masked position
    fitted = SequenceViews().fit(torch.tensor([[1, 2]]))
    assert fitted.mask_id_ == 3
    with pytest.raises(DataValidationError, match="collides with or exceeds mask_id_=3"):
        fitted.sample(torch.tensor([[3, 1]]))
    with pytest.raises(DataValidationError, match="collides with or exceeds mask_id=2"):
        SequenceViews(mask_id=2).fit(torch.tensor([[1, 2]]))


# -- losses and modules ------------------------------------------------------------------
def test_info_nce_matches_explicit_formula():
    torch.manual_seed(0)
    a, b = torch.randn(5, 4), torch.randn(5, 4)
    z = torch.cat([a, b])
    s = z @ z.T / 0.5
    ref = 0.0
    for i in range(10):
        pos = (i + 5) % 10
        others = [j for j in range(10) if j != i]
        ref += -(s[i, pos] - torch.logsumexp(s[i, others], 0))
    assert torch.allclose(info_nce(a, b, 0.5), ref / 10, atol=1e-5)
    # cosine similarity = dot similarity of the L2-normalised rows
    na, nb = F.normalize(a, dim=1), F.normalize(b, dim=1)
    assert torch.allclose(info_nce(a, b, 0.5, sim="cos"), info_nce(na, nb, 0.5), atol=1e-6)
    with pytest.raises(ValueError, match="sim"):
        info_nce(a, b, sim="l2")


def test_margin_regulariser():
    torch.manual_seed(0)
    a, b = torch.randn(6, 4), torch.randn(6, 4)
    assert float(margin_regulariser(a, b)) > 0
    same = torch.ones(6, 4)
    assert float(margin_regulariser(same, same)) == pytest.approx(0.0)


def test_margin_regulariser_matches_explicit_formula():
    torch.manual_seed(3)
    n = 4
    a, b = torch.randn(n, 3), torch.randn(n, 3)
    z = torch.cat([a, b])
    s = z @ z.T
    term_pos, term_neg, n_neg = 0.0, 0.0, 0
    for i in range(2 * n):
        pos_j = (i + n) % (2 * n)
        negs = [j for j in range(2 * n) if j not in (i, pos_j)]
        p, m = s[i, pos_j], max(s[i, j] for j in negs)
        lo, hi = min(p, m), max(p, m)
        term_pos += max(p - lo, 0.0)
        term_neg += sum(max(hi - s[i, j], 0.0) for j in negs)
        n_neg += len(negs)
    ref = term_pos / (2 * n) + term_neg / n_neg
    assert torch.allclose(margin_regulariser(a, b), torch.as_tensor(ref), atol=1e-5)


def test_contrastive_masks_first_built_under_inference_mode_still_train():
    """The pair masks are cached per batch size; a cache filled during evaluation
    (inference mode) must not break a later backward pass."""
    a, b = torch.randn(13, 4), torch.randn(13, 4)  # a batch size no other test uses
    with torch.inference_mode():
        contrastive_terms(a, b)
    a.requires_grad_(True)
    nce, reg = contrastive_terms(a, b)
    (nce + reg).backward()
    assert a.grad is not None and torch.isfinite(a.grad).all()
    # the cached masks themselves are normal tensors (an inference tensor would break any op
    # that saves it for backward, e.g. a product, even though today's add does not save it)
    assert not _excluded(26, False, torch.device("cpu"), torch.float32).is_inference()
    assert not _excluded(26, True, torch.device("cpu"), torch.float32).is_inference()


def test_contrastive_terms_share_one_similarity_matrix():
    torch.manual_seed(1)
    a, b = torch.randn(7, 4), torch.randn(7, 4)
    nce, reg = contrastive_terms(a, b, 0.7)
    assert torch.allclose(nce, info_nce(a, b, 0.7)) and torch.allclose(reg, margin_regulariser(a, b, 0.7))
    assert contrastive_terms(a, b, regulariser=False)[1] is None


def test_catalogue_cross_entropy_matches_autograd_cross_entropy():
    torch.manual_seed(0)
    h = torch.randn(6, 5, requires_grad=True)
    table = torch.randn(12, 5, requires_grad=True)
    t = torch.tensor([1, 2, 0, 9, 9, 3])  # two rows share a target: its embedding gets both rows' gradient
    w = table[1:11]  # a slice of an embedding table, as in SASRec
    ref = F.cross_entropy(h @ w.T, t)
    g_ref = torch.autograd.grad(3.0 * ref, (h, table))
    out = catalogue_cross_entropy(h, w, t)
    assert torch.allclose(out, ref, atol=1e-6)
    g = torch.autograd.grad(3.0 * out, (h, table), retain_graph=True)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(g, g_ref))
    g2 = torch.autograd.grad(3.0 * out, (h, table))  # the saved softmax survives a first backward
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(g2, g_ref))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 matmul, float32 loss and grads
        out16 = catalogue_cross_entropy(h, w, t)
    gh16, gt16 = torch.autograd.grad(out16, (h, table))
    assert out16.dtype == torch.float32 and gh16.dtype == gt16.dtype == torch.float32
    assert abs(float(out16.detach()) - float(ref.detach())) < 0.05 and torch.allclose(gh16, g_ref[0] / 3, atol=0.02)
    with pytest.raises(IndexError, match=r"\[0, 10\)"):
        catalogue_cross_entropy(h, w, torch.tensor([0, 1, 2, 3, 4, 10]))
    with pytest.raises(IndexError, match="-1"):
        catalogue_cross_entropy(h, w, torch.tensor([0, 1, 2, 3, 4, -1]))
    with pytest.raises(ValueError, match="share H"):
        catalogue_cross_entropy(h, table[:, :4], t)
    with pytest.raises(ValueError, match="targets"):
        catalogue_cross_entropy(h, w, t[:5])


def test_last_position_block_matches_full_block():
    """The encoder's last block computes only each row's last position: same numbers."""
    torch.manual_seed(0)
    blk = TransformerBlock(16, 2, 32, 0.5, 0.5, 1e-12).eval()
    x = torch.randn(5, 9, 16)
    last = torch.tensor([0, 3, 8, 5, 1])
    full = blk(x)[torch.arange(5), last]
    assert torch.allclose(blk(x, last), full, atol=1e-6)
    # and the encoder as a whole: padding (0) after each row's items does not change its output
    m = SASRec(30, max_len=12, **TINY).eval()
    seqs = torch.tensor([[3, 4, 5, 0, 0], [7, 0, 0, 0, 0], [1, 2, 3, 4, 5]])
    h = m.encode(seqs)
    assert torch.allclose(h[:2], m.encode(seqs[:2, :4]), atol=1e-6)
    assert torch.allclose(h[1], m.encode(seqs[1:2, :1])[0], atol=1e-6)
    with pytest.raises(ValueError, match="n_layers"):
        SASRec(30, n_layers=0)


def test_bf16_precision_option(toy):
    with pytest.raises(ValueError, match="precision"):
        autocast_factory(torch.device("cpu"), "fp16")
    with pytest.raises(ValueError, match="precision"):
        SequentialRecommender(precision="half").fit(pd.DataFrame({"user": [1, 1, 1], "item": [1, 2, 3]}))
    assert autocast_factory(torch.device("cpu"), "fp32")().__enter__() is None
    log, train, valid, test, X, y = toy
    torch.manual_seed(0)
    model = MCLRec(log.n_items, max_len=12, **TINY)
    opts = model.make_optimizers(1e-2)
    g = torch.Generator().manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # CPUs without bf16 warn
        amp = autocast_factory(torch.device("cpu"), "bf16")
    with amp():  # autocast is really on: a float32 matmul comes out in bfloat16
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    out = model.train_step(X[:64], y[:64], opts, lambda s: tuple(make_views(s, 2, g, mask_id=model.mask_id)), amp=amp)
    assert all(math.isfinite(v) for v in out.values())
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32


def test_learnable_augmenter_shapes():
    aug = LearnableAugmenter((16, 8, 4, 16))
    out = aug(torch.randn(7, 16))
    assert out.shape == (7, 16) and torch.allclose(out.norm(dim=1), torch.ones(7), atol=1e-5)
    with pytest.raises(ValueError, match="hidden"):
        LearnableAugmenter((16, 8, 4))


def test_paper_defaults():
    m = MCLRec(100)
    assert (m.hidden_size, len(m.blocks), m.blocks[0].n_heads, m.blocks[0].ff1.out_features) == (64, 2, 2, 256)
    assert m.max_len == 50 and m.beta == 0.05 and m.reg_weight == 0.1 and m.temperature == 1.0
    assert [lin.out_features for lin in m.aug1.mlp if isinstance(lin, torch.nn.Linear)] == [32, 16, 64]
    assert CL4SRec(10).lmd == 0.1


def test_mclrec_three_stage_step_updates_both_parts(toy):
    log, train, valid, test, X, y = toy
    torch.manual_seed(0)
    model = MCLRec(log.n_items, max_len=12, beta=0.5, **TINY)
    opts = model.make_optimizers(1e-2)
    enc0 = model.item_emb.weight.detach().clone()
    aug0 = model.aug1.mlp[0].weight.detach().clone()
    g = torch.Generator().manual_seed(0)
    out = model.train_step(X[:64], y[:64], opts, lambda s: tuple(make_views(s, 2, g, mask_id=model.mask_id)))
    assert {"loss", "rec_loss", "meta_loss"} <= set(out) and all(math.isfinite(v) for v in out.values())
    assert not torch.equal(enc0, model.item_emb.weight) and not torch.equal(aug0, model.aug1.mlp[0].weight)
    assert all(p.requires_grad for p in model.parameters())
    # the two optimizers partition the parameters: augmenters in one, everything else in the other
    enc_ids = {id(p) for g_ in opts[0].param_groups for p in g_["params"]}
    aug_ids = {id(p) for g_ in opts[1].param_groups for p in g_["params"]}
    assert aug_ids == {id(p) for p in model.augmenter_parameters()} and not enc_ids & aug_ids
    assert enc_ids | aug_ids == {id(p) for p in model.parameters()}


def _step_twice(toy, meta_forward, dropout, lmd=0.0):
    """Two three-stage steps from one initialisation and the same views; the parameters after,
    the number of encoder calls and the step outputs."""
    log, train, valid, test, X, y = toy
    torch.manual_seed(0)
    model = MCLRec(
        log.n_items,
        max_len=12,
        beta=0.5,
        lmd=lmd,
        dropout=dropout,
        attn_dropout=dropout,
        meta_forward=meta_forward,
        **TINY,
    )
    opts = model.make_optimizers(1e-2)
    calls = []
    encode = model.encode
    model.encode = lambda s: calls.append(len(s)) or encode(s)
    g = torch.Generator().manual_seed(0)
    outs = [
        model.train_step(
            X[i : i + 64], y[i : i + 64], opts, lambda s: tuple(make_views(s, 2, g, mask_id=model.mask_id))
        )
        for i in (0, 64)
    ]
    return torch.cat([p.detach().flatten() for p in model.parameters()]), calls, outs


@pytest.mark.parametrize("lmd", [0.0, 0.1])
def test_mclrec_shared_meta_forward_saves_stage_twos_pass_and_without_dropout_is_the_same_update(toy, lmd):
    sep, sep_calls, sep_out = _step_twice(toy, "separate", 0.0, lmd)
    sha, sha_calls, sha_out = _step_twice(toy, "shared", 0.0, lmd)
    # per step: stage 1 (3 x batch), stage 2 (2 x), stage 3 (3 x) against stages 1 and 3 only
    assert sep_calls == [192, 128, 192] * 2 and sha_calls == [192, 192] * 2
    # no dropout: stage 2's encodings are stage 3's either way, so the update is the same
    torch.testing.assert_close(sha, sep, rtol=1e-5, atol=1e-6)
    for a, b in zip(sha_out, sep_out):
        assert a == pytest.approx(b, rel=1e-5)
    # with dropout the shared pass's masks differ from stage 2's own: another update
    drop_sep, _, _ = _step_twice(toy, "separate", 0.5, lmd)
    drop_sha, _, _ = _step_twice(toy, "shared", 0.5, lmd)
    assert not torch.allclose(drop_sha, drop_sep) and torch.isfinite(drop_sha).all()
    assert torch.equal(drop_sha, _step_twice(toy, "shared", 0.5, lmd)[0])  # deterministic


def test_meta_forward_is_checked_and_reaches_the_model(log_df):
    with pytest.raises(InvalidParameterError, match="meta_forward"):
        MCLRec(30, meta_forward="fused")
    rec = SequentialRecommender(meta_forward="fused", max_epochs=1)
    with pytest.raises(InvalidParameterError, match="meta_forward"):
        rec.fit(log_df)
    assert not hasattr(rec, "model_")
    kw = dict(max_len=8, max_epochs=1, device="cpu", random_state=0, **TINY)
    fitted = SequentialRecommender(meta_forward="shared", **kw).fit(log_df)
    assert fitted.model_.meta_forward == "shared"
    assert SequentialRecommender(**kw).fit(log_df).model_.meta_forward == "separate"


def _fit(model_cls, toy, epochs=4, seed=0, **kw):
    log, train, valid, test, X, y = toy
    torch.manual_seed(seed)
    model = model_cls(log.n_items, max_len=12, **TINY, **kw)
    res = fit_sequential(
        model,
        X,
        y,
        valid=valid,
        max_epochs=epochs,
        lr=5e-3,
        batch_size=128,
        device=torch.device("cpu"),
        seed=seed,
        gen=torch.Generator().manual_seed(seed),
        views=SequenceViews(),
        bucket=True,
        verbose=False,
    )
    return model, res


def test_sasrec_and_mclrec_beat_popularity_and_are_deterministic(toy):
    log, train, valid, test, X, y = toy
    pop = evaluate_ranking(Popularity(log.n_items).fit_counts(train), *test)["ndcg@10"]
    sas, r1 = _fit(SASRec, toy, epochs=8)
    mcl, _ = _fit(MCLRec, toy, epochs=2)
    assert evaluate_ranking(sas, *test)["ndcg@10"] > pop + 0.05
    assert evaluate_ranking(mcl, *test)["ndcg@10"] > pop
    mcl2, _ = _fit(MCLRec, toy, epochs=2)
    for p, q in zip(mcl.state_dict().values(), mcl2.state_dict().values()):
        assert torch.equal(p, q)
    assert r1.history[-1]["val_ndcg@10"] > r1.history[0]["val_ndcg@10"]


def test_evaluate_ranking_seen_exclusion():
    class Fixed(torch.nn.Module):
        mask_id = 5

        def full_scores(self, seqs):
            return torch.tensor([[4.0, 3.0, 2.0, 1.0]]).expand(len(seqs), -1)

    hist = torch.tensor([[1, 2, 0]])
    tgt = torch.tensor([3])
    assert evaluate_ranking(Fixed(), hist, tgt, ks=(1,))["hr@1"] == 0.0
    assert evaluate_ranking(Fixed(), hist, tgt, ks=(1,), seen=[np.array([1, 2])])["hr@1"] == 1.0


def test_bucketed_batches_cover_every_example():
    lengths = torch.randint(1, 20, (1000,))
    batches = batch_order(lengths, 64, torch.Generator().manual_seed(0), bucket=True, bucket_span=4)
    assert sorted(torch.cat(batches).tolist()) == list(range(1000))


# -- recommender API ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def log_df():
    df = make_sequences(n_users=80, n_items=30, min_len=4, max_len=8, random_state=2)
    df["item"] = "i" + df["item"].astype(str)  # raw string ids
    df["user"] = "u" + df["user"].astype(str)
    return df


@pytest.fixture(scope="module")
def fitted(log_df):
    return SequentialRecommender(
        model="mclrec",
        max_epochs=1,
        batch_size=64,
        random_state=0,
        device="cpu",
        hidden_size=16,
        n_layers=1,
        inner_size=32,
        verbose=False,
    ).fit(log_df)


def test_recommend_raw_ids_and_exclude_seen(fitted, log_df):
    users = ["u1", "u2", "u3"]
    rec = fitted.recommend(users, k=5)
    assert list(rec.columns) == ["user", "item", "rank", "score"] and len(rec) == 15
    assert all(str(x).startswith("i") for x in rec["item"])
    scores = fitted.score_items(users)
    for i, u in enumerate(users):
        row = rec[rec.user == u]
        seen = set(log_df.loc[log_df.user == u, "item"])
        assert not seen & set(row["item"]) and len(set(row["item"])) == 5 and row["rank"].tolist() == [1, 2, 3, 4, 5]
        # the frame's scores are score_items' scores of those items
        assert np.allclose(row["score"], scores[i, fitted.items_.encode(row["item"]) - 1])
    with_seen = fitted.recommend(users, k=5, exclude_seen=False)
    cols = fitted.items_.encode(with_seen[with_seen.user == "u1"]["item"]) - 1
    assert np.all(np.diff(scores[0, cols]) <= 1e-6)  # ranked best first
    assert np.sort(scores[0])[::-1][:5].tolist() == scores[0, cols].tolist()  # and the top 5 of all
    assert fitted.score_items(users, ["i1", "i2"]).shape == (3, 2)


def test_recommend_bad_input(fitted):
    with pytest.raises(KeyError, match="unknown user"):
        fitted.recommend(["nobody"], k=3)
    cold = fitted.recommend(["nobody", "u1"], k=3, unknown="popular")
    pop_top = fitted.items_.decode(np.argsort(-fitted.popularity_.counts.numpy(), kind="stable")[:3] + 1)
    assert cold[cold.user == "nobody"]["item"].tolist() == pop_top.tolist()
    assert cold[cold.user == "u1"]["item"].tolist() == fitted.recommend(["u1"], k=3)["item"].tolist()
    with pytest.raises(ValueError, match="exceeds the number of items"):
        fitted.recommend(["u1"], k=len(fitted.items_) + 1)
    with pytest.raises(InvalidParameterError, match="k must be >= 1"):
        fitted.recommend(["u1"], k=0)
    # k == catalogue size: every item once without history exclusion; with it, a user who
    # has seen items gets fewer rows (only the unseen items), never a seen item
    n = len(fitted.items_)
    assert len(set(fitted.recommend(["u1"], k=n, exclude_seen=False)["item"])) == n
    short = fitted.recommend(["u1"], k=n)
    assert len(short) == n - len(np.unique(fitted.sequences_[fitted.users_.encode(["u1"])[0]]))
    with pytest.raises(NotFittedError):
        SequentialRecommender().recommend(["u1"])


def test_fit_bad_input(log_df):
    small = dict(max_epochs=1, batch_size=64, hidden_size=16, n_layers=1, inner_size=32, device="cpu", verbose=False)
    with pytest.raises(DataValidationError, match="mixes id types"):
        SequentialRecommender(**small).fit(pd.DataFrame({"user": [1, 1, 1], "item": [1, "b", 2]}))
    with pytest.raises(DataValidationError, match="empty"):
        SequentialRecommender(**small).fit(log_df.iloc[:0])
    with pytest.raises(DataValidationError, match="nothing to learn"):
        SequentialRecommender(model="sasrec", **small).fit(pd.DataFrame({"user": [1, 2], "item": [1, 2]}))
    with pytest.raises(ValueError, match="model must be"):
        SequentialRecommender(model="gru", **small).fit(log_df)
    with pytest.raises(TypeError):
        SequentialRecommender(**small).fit(log_df.to_numpy())


def test_timestamp_order_duplicates_and_save_load(log_df, tmp_path):
    small = dict(
        model="sasrec",
        max_epochs=1,
        batch_size=64,
        hidden_size=16,
        n_layers=1,
        inner_size=32,
        device="cpu",
        random_state=3,
        verbose=False,
    )
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    a = SequentialRecommender(**small).fit(log_df)
    assert torch.equal(torch.rand(3), expected)  # fit leaves the caller's torch stream alone
    shuffled = log_df.sample(frac=1.0, random_state=0)
    dup = pd.concat([shuffled, shuffled.iloc[:5]])
    with pytest.warns(UserWarning, match="duplicate"):
        b = SequentialRecommender(**small).fit(dup)
    users = ["u1", "u5", "u9"]
    pd.testing.assert_frame_equal(a.recommend(users, k=4), b.recommend(users, k=4))
    path = a.save(tmp_path / "rec.pt")
    c = SequentialRecommender.load(path)
    pd.testing.assert_frame_equal(a.recommend(users, k=4), c.recommend(users, k=4))
    assert c.get_params() == a.get_params() and c.model_.training is False
    assert np.allclose(a.score_items(users), c.score_items(users))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save({"x": 1}, tmp_path / "bad.pt")
    with pytest.raises(CorruptFileError, match="SequentialRecommender file"):
        SequentialRecommender.load(tmp_path / "bad.pt")


def test_patience_and_popularity_model(log_df):
    rec = SequentialRecommender(
        model="sasrec",
        max_epochs=3,
        patience=1,
        batch_size=64,
        hidden_size=16,
        n_layers=1,
        inner_size=32,
        device="cpu",
        random_state=0,
        verbose=False,
    ).fit(log_df)
    r = rec.train_result_
    h = [e["val_ndcg@10"] for e in r.history]
    assert len(h) == r.epochs_run and r.stopped_early == (r.epochs_run < 3) and r.best_score == max(h)
    # the kept weights are the best epoch's: evaluate() scores the same held-out last items
    assert rec.evaluate()["ndcg@10"] == pytest.approx(r.best_score, abs=1e-6)
    pop = SequentialRecommender(model="popularity").fit(log_df)
    assert pop.recommend(["u1"], k=3, exclude_seen=False).shape == (3, 4)
    assert 0.0 <= pop.evaluate()["ndcg@10"] <= 1.0


def test_evaluate_on_held_out_rows(log_df):
    """Each held-out row is ranked given the fitted history plus the user's earlier held-out rows."""
    df = log_df.assign(timestamp=log_df.groupby("user").cumcount())
    last = df.groupby("user")["timestamp"].transform("max")
    train, held = df[df.timestamp < last - 1], df[df.timestamp >= last - 1]  # two held-out rows per user
    rec = SequentialRecommender(
        model="sasrec",
        max_epochs=1,
        batch_size=64,
        hidden_size=16,
        n_layers=1,
        inner_size=32,
        device="cpu",
        random_state=0,
        verbose=False,
    ).fit(train)
    got = rec.evaluate(held.sample(frac=1.0, random_state=0), ks=(5, 10))  # row order does not matter
    hists, targets = [], []
    for user, rows in held.sort_values("timestamp").groupby("user"):
        seq = rec.sequences_[rec.users_.encode([user])[0]]
        it = rec.items_.encode(rows["item"].to_numpy())
        hists += [seq, np.append(seq, it[0])]
        targets += list(it)
    with torch.no_grad():
        scores = rec.model_.full_scores(pad_sequences(hists, rec.max_len))
    t = torch.as_tensor(targets) - 1
    rank = (scores > scores.gather(1, t[:, None])).sum(1)
    assert got["hr@10"] == pytest.approx(float((rank < 10).float().mean()))
    assert got["ndcg@5"] == pytest.approx(float(torch.where(rank < 5, 1 / torch.log2(rank + 2.0), 0.0).mean()))
    with pytest.raises(KeyError, match="unknown user"):
        rec.evaluate(pd.DataFrame({"user": ["nobody"], "item": [df["item"].iloc[0]]}))
    with pytest.raises(KeyError, match="unknown item"):
        rec.evaluate(pd.DataFrame({"user": [df["user"].iloc[0]], "item": ["i-unseen"]}))


# -- benchmark and demo ------------------------------------------------------------------
def test_bench_helpers():
    from structaug.bench import BenchConfig
    from structaug.bench import mclrec as bench

    cfg = BenchConfig(quick=True, extra={"epochs": 5})
    s = bench._settings(cfg)
    assert s["epochs"] == 1 and s["max_users"] == 2000 and s["bucket"]
    table = bench.paper_table(
        [
            {
                "method": "MCLRec",
                "dataset": "Beauty",
                "seed": 0,
                "status": "ok",
                "metrics": {"hr@10": 0.05, "ndcg@10": 0.02, "epochs": 3},
            }
        ]
    )
    assert "0.0871" in table and "0.0500" in table
    # several seeds: one row per (dataset, method) with mean ± std and the mean epoch count
    row = {"method": "MCLRec", "dataset": "Beauty", "status": "ok"}
    table = bench.paper_table(
        [
            {**row, "seed": 0, "metrics": {"hr@10": 0.05, "ndcg@10": 0.02, "epochs": 3}},
            {**row, "seed": 1, "metrics": {"hr@10": 0.07, "ndcg@10": 0.04, "epochs": 4}},
            {**row, "seed": 2, "status": "error", "metrics": {}},
        ]
    )
    (line,) = [x for x in table.splitlines() if x.startswith("| Beauty | MCLRec")]
    assert line.startswith("| Beauty | MCLRec | 2 | 3.5 | 0.0600 ± 0.0141 | 0.0871 | 0.0300 ± 0.0141 |")
    assert bench.MCLREC_HPARAMS["Beauty"] == (0.0, 0.05)


def test_bench_unknown_names_are_refused_and_missing_files_recorded(tmp_path, monkeypatch):
    import structaug.datasets as datasets
    from structaug.bench import BenchConfig
    from structaug.bench import mclrec as bench
    from structaug.results import load_records

    # an unknown name is refused before any job starts (and nothing is written)
    with pytest.raises(InvalidParameterError, match=r"--datasets: unknown name\(s\) \['NoSuchSet'\]"):
        bench.run(
            BenchConfig(
                datasets=["NoSuchSet"], seeds=[0], quick=True, extra={"methods": "Popularity"}, out=tmp_path / "x.json"
            )
        )
    assert not (tmp_path / "x.json").exists()

    # a known name whose file is missing is a failed cell, recorded, not a crash
    def missing(name, data_dir=None):
        raise DatasetNotFoundError(f"seqrec/{name}.txt not found")

    monkeypatch.setattr(datasets, "load_seqrec", missing)
    cfg = BenchConfig(
        data_dir=str(tmp_path),
        datasets=["Beauty", "Yelp"],
        seeds=[0],
        quick=True,
        extra={"methods": "Popularity"},
        out=tmp_path / "m.json",
    )
    recs = bench.run(cfg)
    assert [r.status for r in recs] == ["error", "error"] and all("not found" in r.error for r in recs)
    # rows are written as jobs finish (a killed run keeps them for --resume)
    assert [r["dataset"] for r in load_records(tmp_path / "m.json")] == ["Beauty", "Yelp"]


def test_bench_checkpoints_resume_and_finish_early(tmp_path):
    """--checkpoint-dir: a rerun with fewer --epochs finishes from the checkpoint, no retraining."""
    from structaug.bench import BenchConfig
    from structaug.bench import mclrec as bench

    rng = np.random.default_rng(0)
    (tmp_path / "seqrec").mkdir()
    lines = [" ".join([str(u + 1)] + [str(i) for i in rng.integers(1, 30, size=rng.integers(5, 9))]) for u in range(60)]
    (tmp_path / "seqrec" / "Beauty.txt").write_text("\n".join(lines) + "\n")
    extra = {"methods": "SASRec", "epochs": 2, "checkpoint_dir": str(tmp_path / "ckpt"), "precision": "bf16"}
    cfg = BenchConfig(data_dir=str(tmp_path), datasets=["Beauty"], seeds=[0], verbose=False, extra=extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # CPUs without bf16 warn
        first = bench.run(cfg)[0]
        assert first.status == "ok" and first.metrics["epochs"] == 2 and first.config["precision"] == "bf16"
        assert len(list((tmp_path / "ckpt").glob("Beauty_SASRec_seed0_bf16_*.pt"))) == 1
        again = bench.run(
            BenchConfig(
                data_dir=str(tmp_path), datasets=["Beauty"], seeds=[0], verbose=False, extra={**extra, "epochs": 1}
            )
        )[0]
    assert again.status == "ok" and again.metrics["epochs"] == 2  # from the checkpoint, not retrained
    assert again.metrics["ndcg@10"] == pytest.approx(first.metrics["ndcg@10"])


def test_bench_meta_forward_reaches_mclrec_and_keeps_its_own_checkpoints(tmp_path):
    """--meta-forward shared: MCLRec's rows record it (the other models' do not), its
    checkpoints are not the default's, and one epoch trains differently (dropout masks)."""
    from structaug.bench import BenchConfig
    from structaug.bench import mclrec as bench

    rng = np.random.default_rng(0)
    (tmp_path / "seqrec").mkdir()
    lines = [" ".join([str(u + 1)] + [str(i) for i in rng.integers(1, 30, size=rng.integers(5, 9))]) for u in range(60)]
    (tmp_path / "seqrec" / "Beauty.txt").write_text("\n".join(lines) + "\n")
    rows = {}
    for mode in ("separate", "shared"):
        extra = {
            "methods": "SASRec,MCLRec",
            "epochs": 1,
            "checkpoint_dir": str(tmp_path / "ckpt"),
            "meta_forward": mode,
        }
        cfg = BenchConfig(data_dir=str(tmp_path), datasets=["Beauty"], seeds=[0], verbose=False, extra=extra)
        rows[mode] = {r.method: r for r in bench.run(cfg)}
    assert rows["shared"]["MCLRec"].config["meta_forward"] == "shared"
    assert rows["separate"]["MCLRec"].config["meta_forward"] == "separate"
    assert "meta_forward" not in rows["shared"]["SASRec"].config
    assert len(list((tmp_path / "ckpt").glob("Beauty_MCLRec_seed0_*.pt"))) == 2
    losses = [rows[m]["MCLRec"].extra["history"][0]["loss"] for m in ("separate", "shared")]
    assert losses[0] != losses[1]


@pytest.mark.slow
def test_bench_quick_on_beauty():
    from structaug.bench import BenchConfig
    from structaug.bench import mclrec as bench

    try:
        from structaug.datasets import load_seqrec

        load_seqrec("Beauty")
    except DatasetNotFoundError:
        pytest.skip("Beauty not available")
    recs = bench.run(BenchConfig(datasets=["Beauty"], seeds=[0], quick=True, verbose=False, extra={"max_users": 300}))
    assert {r.method for r in recs} == set(bench.METHODS) and all(r.status == "ok" for r in recs)


@pytest.mark.slow
def test_demo_rows_quick():
    from structaug.recsys.mclrec._demo import demo_rows

    rows = demo_rows(quick=True, device="cpu")
    assert [r.model.split()[0] for r in rows] == ["Popularity", "MCLRec", "SASRec"]


def test_one_row_batch_gives_a_finite_meta_loss():
    """A last batch of one row (prefixes = 1 mod 256) has no negatives: R is 0, not inf."""
    h = torch.randn(1, 8, requires_grad=True)
    nce, reg = contrastive_terms(h, torch.randn(1, 8))
    assert float(reg.detach()) == 0.0 and torch.isfinite(nce)
    model = MCLRec(30, max_len=6, hidden_size=8, n_heads=2, inner_size=16, n_layers=1)
    loss = model.meta_loss(torch.randn(1, 8), torch.randn(1, 8))
    assert torch.isfinite(loss)
    (nce + reg).backward()
    assert torch.isfinite(h.grad).all()


@pytest.mark.parametrize("meta_forward", ["separate", "shared"])
def test_stage_clock_times_every_stage_without_changing_the_update(meta_forward):
    import importlib.util
    from contextlib import nullcontext
    from pathlib import Path

    from structaug.recsys.mclrec._training import train_one_epoch

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "run_mclrec_stage_time.py"
    spec = importlib.util.spec_from_file_location("run_mclrec_stage_time", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    g = torch.Generator().manual_seed(0)
    X = torch.randint(1, 41, (96, 12), generator=g)
    X[:40, 5:] = 0  # some shorter prefixes (left-aligned)
    y = torch.randint(1, 41, (96,), generator=g)
    losses, params = [], []
    for timed in (False, True):
        torch.manual_seed(0)
        model = MCLRec(40, max_len=12, beta=0.4, lmd=0.04, meta_forward=meta_forward)
        opts = model.make_optimizers(1e-3)
        clock = bench.StageClock(model, opts) if timed else None
        kw = dict(batch_size=32, gen=torch.Generator().manual_seed(1), views=SequenceViews(), bucket=True)
        with clock.timing_views() if timed else nullcontext():
            losses.append(train_one_epoch(model, opts, X, y, **kw))
        params.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert losses[0] == losses[1] and torch.equal(params[0], params[1])  # same update, only timed
    assert clock.steps == 3
    ms = clock.per_step_ms()
    for key, _ in bench.PARTS:
        if meta_forward == "shared" and key == "s2.encode":
            assert ms.get(key, 0.0) == 0.0  # no pass of stage 2's own
        else:
            assert ms[key] > 0, key  # every part was reached (and the remainders are not negative)
    assert sum(ms.get(k, 0.0) for k, _ in bench.PARTS) == pytest.approx(ms["total"], rel=1e-6)
