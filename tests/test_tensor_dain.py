"""DAIN: ObservedTensor, neural completion, TracIn influence, augmenters, baselines, benchmark."""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from structaug.bench import BenchConfig
from structaug.exceptions import (
    DatasetNotFoundError,
    DataValidationError,
    InvalidParameterError,
    NotFittedError,
    ResultsExistError,
)
from structaug.tensor import (
    InfluenceAugmenter,
    MeanCompletion,
    NeuralTensorCompletion,
    ObservedTensor,
    RandomCellAugmenter,
    TensorlyCompletion,
    TracInTracker,
    XGBoostCompletion,
    entity_importance,
    fit_augmented,
    make_tensor,
)
from structaug.tensor._augmenter import draw_new_cells
from structaug.tensor._completion import predict_with_hidden, split_embedding_dim
from structaug.testing import check_augmenter


def tiny_estimator(**kw) -> NeuralTensorCompletion:
    params = dict(
        embedding_dim=12,
        hidden_sizes=(32, 16),
        batch_size=128,
        max_epochs=25,
        patience=5,
        lr=3e-3,
        device="cpu",
        random_state=0,
    )
    params.update(kw)
    return NeuralTensorCompletion(**params)


def additive_lowrank(shape=(20, 15, 6), nnz=900, seed=0) -> ObservedTensor:
    """Entity biases plus a rank-1 interaction: learnable from a few hundred cells."""
    rng = np.random.default_rng(seed)
    flat = rng.choice(int(np.prod(shape)), nnz, replace=False)
    idx = np.stack(np.unravel_index(flat, shape), axis=1)
    biases = [rng.normal(size=s) for s in shape]
    factors = [rng.normal(size=s) for s in shape]
    val = 3.0 + sum(b[idx[:, m]] for m, b in enumerate(biases))
    val += 0.5 * np.prod([f[idx[:, m]] for m, f in enumerate(factors)], axis=0)
    return ObservedTensor(idx, val + 0.05 * rng.normal(size=nnz), shape)


@pytest.fixture(scope="module")
def toy():
    t = additive_lowrank()
    return t, t.split(random_state=0)


@pytest.fixture(scope="module")
def fitted_dain(toy):
    _, (tr, va, _) = toy
    return InfluenceAugmenter(estimator=tiny_estimator(), random_state=0).fit(tr, validation=va)


# -- container ------------------------------------------------------------------------
def test_container_basics_and_shape_inference():
    t = ObservedTensor([[0, 1, 2], [1, 0, 0]], [4.0, 3.5])
    assert t.shape == (2, 2, 3) and t.nnz == 2 and t.order == 3
    assert t.indices.dtype == np.int64 and t.values.dtype == np.float64
    arr, mask = t.to_dense()
    assert mask.sum() == 2 and arr[0, 1, 2] == 4.0 and np.isnan(arr[0, 0, 0])
    # float indices are fine when integral
    assert ObservedTensor(np.array([[0.0, 1.0], [2.0, 0.0]]), [1, 2]).shape == (3, 2)


@pytest.mark.parametrize("order", [2, 4])
def test_any_order(order):
    shape = (12, 10, 4, 3)[:order]
    t = make_tensor(shape, nnz=60, rank=2, random_state=1)
    assert t.order == order and t.shape == shape
    assert sum(split_embedding_dim(150, order)) == 150
    m = tiny_estimator(max_epochs=2).fit(t)
    assert m.predict(t.indices[:5]).shape == (5,)
    # one embedding table per mode, their widths adding up to embedding_dim
    assert len(m.embedding_dims_) == order and sum(m.embedding_dims_) == m.embedding_dim


def test_from_frame_dense_text_roundtrip(tmp_path):
    df = pd.DataFrame({"u": [0, 1, 2], "i": [1, 1, 0], "c": [0, 1, 1], "r": [1.0, 2.0, 3.0]})
    t = ObservedTensor.from_frame(df)
    assert t.shape == (3, 2, 2)
    np.testing.assert_array_equal(t.to_frame().iloc[:, -1], df["r"])
    dense = np.full((3, 4), np.nan)
    dense[0, 1], dense[2, 3] = 5.0, 6.0
    d = ObservedTensor.from_dense(dense)
    assert d.shape == (3, 4) and d.nnz == 2
    d2 = ObservedTensor.from_dense(np.ones((3, 4)), mask=np.eye(3, 4, dtype=bool))
    assert d2.nnz == 3
    path = tmp_path / "t.tensor"
    t.to_text(path)
    back = ObservedTensor.from_text(path)
    np.testing.assert_array_equal(back.indices, t.indices)
    np.testing.assert_allclose(back.values, t.values)


def test_split_ratios_disjoint_and_seeded():
    t = make_tensor((30, 20, 5), nnz=1000, random_state=0)
    tr, va, te = t.split(random_state=3)
    assert (tr.nnz, va.nnz, te.nnz) == (720, 180, 100)
    keys = [set(x.keys().tolist()) for x in (tr, va, te)]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])
    tr2, _, _ = t.split(random_state=3)
    np.testing.assert_array_equal(tr.indices, tr2.indices)
    assert not np.array_equal(tr.indices, t.split(random_state=4)[0].indices)


@pytest.mark.parametrize(
    "indices, values, shape, match",
    [
        ([[0, -1]], [1.0], None, "negative"),
        ([[0, 5]], [1.0], (2, 3), "out of range"),
        ([[0.5, 1]], [1.0], None, "non-integer"),
        ([[0, 1]], [np.nan], None, "NaN"),
        ([[0, 1], [0, 1]], [1.0, 2.0], None, "more than once"),
        ([[0], [1]], [1.0, 2.0], None, "order >= 2"),
        ([[0, 1]], [1.0, 2.0], None, "rows"),
        ([[0, 1]], [1.0], (2, 2, 2), "modes"),
        ([["a", "b"]], [1.0], None, "integer"),
    ],
)
def test_container_bad_input(indices, values, shape, match):
    with pytest.raises(DataValidationError, match=match):
        ObservedTensor(np.array(indices), np.array(values), shape)


def test_duplicates_mean_policy_and_too_few_cells():
    t = ObservedTensor([[0, 1], [0, 1], [1, 0]], [1.0, 3.0, 5.0], duplicates="mean")
    assert t.nnz == 2 and t.values.tolist() == [2.0, 5.0]
    s = ObservedTensor([[0, 1], [0, 1], [1, 0]], [1.0, 3.0, 5.0], duplicates="sum")  # scipy's/torch's meaning
    assert s.indices.tolist() == [[0, 1], [1, 0]] and s.values.tolist() == [4.0, 5.0]
    with pytest.raises(ValueError, match="duplicates"):
        ObservedTensor([[0, 1]], [1.0], duplicates="max")
    with pytest.raises(DataValidationError, match="too few for a split"):
        ObservedTensor([[0, 1], [1, 0], [1, 1]], [1.0, 2.0, 3.0]).split(random_state=0)
    with pytest.raises(DataValidationError, match="order"):
        ObservedTensor([[0, 1]], [1.0]).concat(ObservedTensor([[0, 1, 1]], [1.0]))
    a, b = ObservedTensor([[0, 1]], [1.0]), ObservedTensor([[0, 1], [1, 1]], [3.0, 4.0])
    with pytest.raises(DataValidationError, match="observed more than once"):
        a.concat(b)
    assert a.concat(b, duplicates="mean").values.tolist() == [2.0, 4.0]


# -- neural completion ------------------------------------------------------------------
def test_neural_completion_learns_and_is_deterministic(toy):
    _, (tr, va, te) = toy
    state = torch.get_rng_state()
    m1 = tiny_estimator().fit(tr, validation=va)
    assert torch.equal(state, torch.get_rng_state()), "fit must not touch the global torch RNG"
    base = MeanCompletion(kind="global").fit(tr)
    assert -m1.score(te) < 0.8 * -base.score(te)
    m2 = tiny_estimator().fit(tr, validation=va)
    np.testing.assert_array_equal(m1.predict(te), m2.predict(te))
    assert m1.train_result_.best_epoch is not None and len(m1.train_result_.history) == m1.train_result_.epochs_run
    assert [e.embedding_dim for e in m1.model_.embeddings] == split_embedding_dim(12, 3)


def test_neural_completion_bad_input(toy):
    _, (tr, va, _) = toy
    with pytest.raises(NotFittedError):
        tiny_estimator().predict(tr.indices)
    m = tiny_estimator(max_epochs=1).fit(tr, validation=va)
    with pytest.raises(DataValidationError, match="shape"):
        m.predict(tr.indices[:, :2])
    with pytest.raises(DataValidationError, match="out of range"):
        m.predict(np.array([[0, 0, 99]]))
    with pytest.raises(TypeError):
        tiny_estimator().fit(tr.indices)
    # a shape with the wrong number of modes would silently drop a mode from the model
    with pytest.raises(DataValidationError, match="shape has 2 modes but X has order 3"):
        tiny_estimator(max_epochs=1).fit(tr, validation=va, shape=tr.shape[:2])
    with pytest.raises(DataValidationError, match="validation.indices"):
        small = tuple(int(tr.indices[:, m].max()) + 1 for m in range(3))
        far = ObservedTensor(np.array([[small[0], 0, 0]]), [1.0])
        tiny_estimator(max_epochs=1).fit(tr, validation=far, shape=small)


def test_entity_biases_start_from_the_bias_model_and_improve_on_it(toy):
    """With ``entity_biases`` the network starts out predicting exactly MeanCompletion's entity
    biases (head at zero); on a tensor with an interaction the biases cannot express, training
    then beats that bias model on held-out cells, and the reference network (no biases), which
    on 648 cells does not even reach the bias model, by far."""
    _, (tr, va, te) = toy
    bias_model = MeanCompletion(kind="entity", reg=5.0).fit(tr)
    frozen = tiny_estimator(entity_biases=True, lr=1e-12, max_epochs=1).fit(tr, validation=va)
    np.testing.assert_allclose(frozen.predict(te), bias_model.predict(te), rtol=1e-5, atol=1e-5)
    trained = tiny_estimator(entity_biases=True, max_epochs=40, patience=8).fit(tr, validation=va)
    plain = tiny_estimator(max_epochs=40, patience=8).fit(tr, validation=va)
    assert -trained.score(te) < -bias_model.score(te) < -plain.score(te)
    assert -trained.score(te) < 0.8 * -plain.score(te)
    assert frozen.model_.biases is not None and tiny_estimator().fit(tr, validation=va).model_.biases is None
    # a learning-rate schedule and weight decay run, deterministically
    kw = dict(entity_biases=True, weight_decay=1e-5, lr_schedule="plateau", max_epochs=6)
    a, b = tiny_estimator(**kw).fit(tr, validation=va), tiny_estimator(**kw).fit(tr, validation=va)
    np.testing.assert_array_equal(a.predict(te), b.predict(te))
    for bad, match in [
        (dict(entity_biases="yes"), "entity_biases must be True or False"),
        (dict(bias_reg=-1.0), "bias_reg"),
        (dict(weight_decay=-1e-3), "weight_decay"),
        (dict(lr_schedule="cosine"), "lr_schedule must be one of"),
    ]:
        with pytest.raises(InvalidParameterError, match=match):
            tiny_estimator(**bad).fit(tr, validation=va)


def pairwise_lowrank(shape=(60, 50, 4), nnz=2400, rank=2, seed=0) -> ObservedTensor:
    """Every pair of modes interacts through rank-2 factors: what biases and an MLP on 1,700 cells miss."""
    rng = np.random.default_rng(seed)
    flat = rng.choice(int(np.prod(shape)), nnz, replace=False)
    idx = np.stack(np.unravel_index(flat, shape), axis=1)
    f = [rng.normal(size=(s, rank)) for s in shape]
    val = 3.0 + sum((f[a][idx[:, a]] * f[b][idx[:, b]]).sum(1) for a in range(3) for b in range(a + 1, 3))
    return ObservedTensor(idx, val + 0.05 * rng.normal(size=nnz), shape)


def test_factor_term_is_the_pairwise_sum_and_its_penalty_the_squared_norms():
    from structaug.tensor._completion import EmbeddingMLP

    torch.manual_seed(0)
    plain = EmbeddingMLP((5, 4, 3), [2, 2, 2], [4], entity_biases=True)
    torch.manual_seed(0)
    net = EmbeddingMLP((5, 4, 3), [2, 2, 2], [4], entity_biases=True, factor_rank=3)
    # the factors come last: the reference part of the network is initialised exactly as without them
    for (name, a), (_, b) in zip(plain.named_parameters(), net.named_parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert plain.factors is None and net.factors is not None
    idx = torch.tensor([[0, 1, 2], [4, 3, 0], [2, 2, 1]])
    f = [emb.weight.detach()[idx[:, m]] for m, emb in enumerate(net.factors)]
    pairs = (f[0] * f[1]).sum(1) + (f[0] * f[2]).sum(1) + (f[1] * f[2]).sum(1)
    torch.testing.assert_close(net.additive(idx) - plain.additive(idx), pairs)
    torch.testing.assert_close(net(idx) - plain(idx), pairs)
    penalty = sum(x.square().sum(1) for x in f).mean()
    torch.testing.assert_close(net.factor_penalty(idx), penalty)
    assert float(plain.factor_penalty(idx)) == 0.0


def test_factor_term_fits_pairwise_structure_the_network_misses():
    """On cells whose values are pairwise products of entity factors, the biased network with the
    factorization term beats the same network without it on held-out cells by far."""
    t = pairwise_lowrank()
    tr, va, te = t.split(random_state=0)
    kw = dict(max_epochs=40, patience=8)
    base = tiny_estimator(entity_biases=True, **kw).fit(tr, validation=va, shape=t.shape)
    fm = tiny_estimator(entity_biases=True, factor_rank=4, factor_reg=0.01, **kw).fit(tr, validation=va, shape=t.shape)
    assert -fm.score(te) < 0.6 * -base.score(te)
    assert -base.score(te) < -MeanCompletion(kind="entity").fit(tr).score(te)
    # deterministic, and the penalty is part of training: a large one shrinks the factors away
    again = tiny_estimator(entity_biases=True, factor_rank=4, factor_reg=0.01, **kw).fit(
        tr, validation=va, shape=t.shape
    )
    np.testing.assert_array_equal(fm.predict(te), again.predict(te))
    shrunk = tiny_estimator(factor_rank=4, factor_reg=10.0, max_epochs=5).fit(tr, validation=va, shape=t.shape)
    loose = tiny_estimator(factor_rank=4, factor_reg=0.0, max_epochs=5).fit(tr, validation=va, shape=t.shape)
    norm = lambda m: sum(float(e.weight.detach().square().sum()) for e in m.model_.factors)
    assert norm(shrunk) < 0.5 * norm(loose)
    for bad, match in [
        (dict(factor_rank=-1), "factor_rank must be >= 0"),
        (dict(factor_rank=2.5), "factor_rank must be an int"),
        (dict(factor_reg=-0.1), "factor_reg"),
    ]:
        with pytest.raises(InvalidParameterError, match=match):
            tiny_estimator(**bad).fit(tr, validation=va)


def test_influence_with_the_factor_term_runs_and_does_not_change_training(toy):
    """The tracker sees the residuals of the whole prediction (factor term included); watching
    training does not change it."""
    _, (tr, va, te) = toy
    est = tiny_estimator(entity_biases=True, factor_rank=3, max_epochs=4)
    tracker = TracInTracker(tr, va)
    watched = copy.deepcopy(est).fit(tr, validation=va, tracker=tracker)
    np.testing.assert_array_equal(watched.predict(te), copy.deepcopy(est).fit(tr, validation=va).predict(te))
    aug = InfluenceAugmenter(estimator=est, augment_ratio=0.2, random_state=0).fit(tr, validation=va)
    cells = aug.sample()
    assert cells.nnz > 0 and np.all(np.isfinite(cells.values))


# -- influence ---------------------------------------------------------------------------
def test_tracin_matches_autograd(toy):
    _, (tr, va, _) = toy
    m = tiny_estimator(max_epochs=2).fit(tr, validation=va)
    net = m.model_
    sub = tr.subset(np.arange(40))
    tracker = TracInTracker(sub, va, mode="checkpoint")
    pred, h = predict_with_hidden(net, torch.as_tensor(va.indices))
    tracker.on_validation(net, 0, h, pred - torch.as_tensor(va.values, dtype=torch.float32))
    fast = tracker.per_epoch[0]

    def head_grad(idx, y):
        net.zero_grad()
        loss = torch.nn.functional.mse_loss(net(torch.as_tensor(idx)), torch.as_tensor(y, dtype=torch.float32))
        loss.backward()
        return torch.cat([net.head.weight.grad.flatten(), net.head.bias.grad]).clone()

    g_val = head_grad(va.indices, va.values)
    slow = np.array([float(head_grad(sub.indices[i : i + 1], sub.values[i : i + 1]) @ g_val) for i in range(sub.nnz)])
    np.testing.assert_allclose(fast, slow, rtol=1e-3, atol=1e-6)
    # TracIn sums the checkpoints up to the selected (best) epoch
    tracker.per_epoch = [np.ones(3), 2 * np.ones(3), 4 * np.ones(3)]
    assert tracker.cell_importance(1).tolist() == [3.0] * 3 and tracker.cell_importance(None).tolist() == [7.0] * 3


def test_recorded_influence_is_the_checkpoint_influence_one_epoch_earlier(toy):
    """With one batch per epoch, the weights a training cell's batch sees in epoch e are the
    checkpoint after epoch e - 1, and the validation gradient recorded at the start of epoch e
    is that checkpoint's: the reference-style recorded scores are the checkpoint scores shifted
    by one epoch, the first of them at the untrained weights."""
    _, (tr, va, _) = toy
    one_batch = dict(batch_size=tr.nnz, max_epochs=4, patience=None)

    class Recorded(TracInTracker):  # keeps the untrained weights it is shown before epoch 0
        def on_validation(self, model, epoch, hidden, residual):
            if epoch == -1:
                self.initial = copy.deepcopy(model)
            super().on_validation(model, epoch, hidden, residual)

    recorded, checkpoint = Recorded(tr, va), TracInTracker(tr, va, mode="checkpoint")
    m_rec = tiny_estimator(**one_batch).fit(tr, validation=va, tracker=recorded)
    m_chk = tiny_estimator(**one_batch).fit(tr, validation=va, tracker=checkpoint)
    m_none = tiny_estimator(**one_batch).fit(tr, validation=va)
    # watching does not change training
    for a, b, c in zip(m_rec.model_.parameters(), m_chk.model_.parameters(), m_none.model_.parameters()):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert [h["val_loss"] for h in m_rec.train_result_.history] == [h["val_loss"] for h in m_none.train_result_.history]
    assert len(recorded.per_epoch) == len(checkpoint.per_epoch) == 4
    for e in range(1, 4):
        np.testing.assert_allclose(recorded.per_epoch[e], checkpoint.per_epoch[e - 1], rtol=1e-4, atol=1e-7)
    net = recorded.initial  # epoch 0 of the recorded run: the untrained weights
    at_init = TracInTracker(tr, va, mode="checkpoint")
    pred, h = predict_with_hidden(net, torch.as_tensor(va.indices))
    at_init.on_validation(net, 0, h, pred - torch.as_tensor(va.values, dtype=torch.float32))
    np.testing.assert_allclose(recorded.per_epoch[0], at_init.per_epoch[0], rtol=1e-4, atol=1e-7)


def test_recorded_influence_with_several_batches_covers_every_cell_once_per_epoch(toy):
    _, (tr, va, _) = toy
    tracker = TracInTracker(tr, va)
    tiny_estimator(max_epochs=3, patience=None).fit(tr, validation=va, tracker=tracker)
    assert len(tracker.per_epoch) == 3
    for scores in tracker.per_epoch:  # every cell scored in every epoch (a zero is a missed cell)
        assert scores.shape == (tr.nnz,) and np.all(scores != 0) and np.isfinite(scores).all()
    with pytest.raises(RuntimeError, match="before the first training batch"):
        TracInTracker(tr, va).on_train_batch(torch.arange(2), torch.zeros(2, 16), torch.zeros(2))
    with pytest.raises(DataValidationError, match="on_validation got 3 cell"):
        TracInTracker(tr, va).on_validation(None, -1, torch.zeros(3, 16), torch.zeros(3))
    with pytest.raises(InvalidParameterError, match="mode must be one of"):
        TracInTracker(tr, va, mode="exact")
    # without validation= fit would hold out part of X and renumber the cells the tracker scores
    with pytest.raises(InvalidParameterError, match="tracker= needs validation="):
        tiny_estimator(max_epochs=1).fit(tr, tracker=TracInTracker(tr, va))


def test_both_tracin_modes_rank_entities_alike(toy):
    """The two pairings are approximations of one quantity: on the toy tensor the entity
    distributions they give agree closely (rank correlation per mode)."""
    from scipy.stats import spearmanr

    _, (tr, va, _) = toy
    rec = InfluenceAugmenter(estimator=tiny_estimator(), random_state=0).fit(tr, validation=va)
    chk = InfluenceAugmenter(estimator=tiny_estimator(), tracin="checkpoint", random_state=0).fit(tr, validation=va)
    assert rec.estimator_.best_epoch_ == chk.estimator_.best_epoch_
    for p, q in zip(rec.entity_importance_, chk.entity_importance_):
        seen = (p > 0) | (q > 0)
        assert spearmanr(p[seen], q[seen]).statistic > 0.8
    with pytest.raises(InvalidParameterError, match="tracin must be one of"):
        InfluenceAugmenter(tracin="exact").fit(tr, validation=va)


def test_entity_importance_distribution(toy):
    _, (tr, _, _) = toy
    scores = np.zeros(tr.nnz)
    scores[tr.indices[:, 0] == 3] = -2.0  # absolute value counts, as in the reference
    probs = entity_importance(tr, scores, shape=(25, 15, 6))
    assert len(probs) == 3 and all(abs(p.sum() - 1) < 1e-12 for p in probs)
    assert probs[0][3] == 1.0 and probs[0][20:].sum() == 0  # unseen entities never drawn
    # all scores <= 0 without ``absolute``: uniform over the entities that have training cells
    fall = entity_importance(tr, -np.ones(tr.nnz), shape=(25, 15, 6), absolute=False)
    seen0 = np.unique(tr.indices[:, 0])
    assert np.allclose(fall[0][seen0], 1 / len(seen0)) and fall[0].sum() == pytest.approx(1.0)
    with pytest.raises(DataValidationError, match="not finite"):
        entity_importance(tr, np.full(tr.nnz, np.nan))


# -- augmenters --------------------------------------------------------------------------
def test_influence_augmenter_contract(toy):
    _, (tr, _, _) = toy
    aug = InfluenceAugmenter(estimator=tiny_estimator(max_epochs=3), random_state=0)
    check_augmenter(aug, tr, sample_kwargs={"n": 30})
    check_augmenter(
        RandomCellAugmenter(estimator=tiny_estimator(max_epochs=2), random_state=0), tr, sample_kwargs={"n": 30}
    )


def test_n_counts_new_cells_and_the_estimator_is_a_nested_parameter(toy, fitted_dain):
    _, (tr, va, _) = toy
    assert InfluenceAugmenter.sample_unit == RandomCellAugmenter.sample_unit == "additions"
    assert InfluenceAugmenter.default_n is None  # n=None: augment_ratio decides
    out = fitted_dain.sample(n=7, random_state=0)
    assert fitted_dain._count_sampled(out, None) == out.nnz == 7
    default = fitted_dain.sample(random_state=0)
    assert default.nnz == round(0.5 * fitted_dain.n_train_) == fitted_dain._count_sampled(default, None)
    # sklearn's nested parameters reach the completion model; fit clones it, never fits it
    est = tiny_estimator(max_epochs=1)
    aug = InfluenceAugmenter(estimator=est, random_state=0).set_params(
        estimator__hidden_sizes=(8,), estimator__validation_fraction=0.3
    )
    params = aug.get_params(deep=True)
    assert params["estimator__hidden_sizes"] == (8,) and params["estimator__validation_fraction"] == 0.3
    aug.fit(tr, validation=va)
    assert aug.estimator is est and not hasattr(est, "model_")
    assert aug.estimator_ is not est and aug.estimator_.model_.head.in_features == 8


def test_influence_augmenter_samples_new_cells(toy, fitted_dain):
    _, (tr, va, te) = toy
    aug = fitted_dain
    assert aug.cell_importance_.shape == (tr.nnz,)
    cells = aug.sample()
    assert isinstance(cells, ObservedTensor) and cells.nnz == round(0.5 * tr.nnz)
    observed = set(tr.keys().tolist()) | set(va.keys().tolist())
    new = cells.keys().tolist()
    assert len(set(new)) == len(new) and not (set(new) & observed)
    np.testing.assert_allclose(cells.values, aug.estimator_.predict(cells.indices))
    # cells passed to sample are excluded too
    more = aug.sample(te, n=200)
    assert not (set(more.keys().tolist()) & set(te.keys().tolist()))
    assert aug.timings_["influence_s"] > 0 and aug.timings_["train_s"] > 0


def test_augmenter_bad_input(fitted_dain):
    with pytest.raises(DataValidationError, match="order"):
        fitted_dain.sample(ObservedTensor([[0, 1]], [1.0]), n=3)
    with pytest.raises(NotFittedError):
        InfluenceAugmenter().sample(n=3)
    with pytest.raises(ValueError, match="augment_ratio"):
        InfluenceAugmenter(augment_ratio=0).fit(ObservedTensor([[0, 1]], [1.0]))
    with pytest.raises(TypeError):
        InfluenceAugmenter(estimator=tiny_estimator()).fit(np.zeros((4, 3)))


def test_importance_weighted_sampling_follows_probabilities():
    rng = np.random.default_rng(0)
    probs = [np.array([0.7, 0.2, 0.1, 0.0]), np.full(500, 1 / 500)]
    idx = draw_new_cells(probs, 600, np.arange(0, 2000, 2), (4, 500), rng)
    assert len(idx) == 600 and not np.isin(np.ravel_multi_index(tuple(idx.T), (4, 500)), np.arange(0, 2000, 2)).any()
    freq = np.bincount(idx[:, 0], minlength=4) / len(idx)
    assert freq[3] == 0 and freq[0] > freq[1] > freq[2]
    # more cells than the support holds: refused before drawing (was: fewer cells + a warning)
    with pytest.raises(DataValidationError, match="n=5 .* only 2"):
        draw_new_cells([np.array([1.0, 0]), np.array([0.5, 0.5])], 5, np.empty(0, np.int64), (2, 2), rng)
    # exactly as many as the support holds: all of them, even when rejection sampling alone misses some
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        every = draw_new_cells(
            [np.array([0.999, 0.001]), np.array([0.5, 0.5])], 4, np.empty(0, np.int64), (2, 2), rng, max_rounds=1
        )
    assert sorted(map(tuple, every.tolist())) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_dain_pipeline_beats_chance(toy, fitted_dain):
    _, (tr, va, te) = toy
    model = fit_augmented(tiny_estimator(), tr, fitted_dain.sample(), va)
    assert -model.score(te) < 0.8 * -MeanCompletion(kind="global").fit(tr).score(te)


# -- baselines ---------------------------------------------------------------------------
def test_xgboost_baseline(toy):
    pytest.importorskip("xgboost")  # the optional `trees` extra
    _, (tr, va, te) = toy
    glob = -MeanCompletion(kind="global").fit(tr).score(te)
    assert -XGBoostCompletion(n_estimators=50, random_state=0).fit(tr, validation=va).score(te) < glob


def test_baselines(toy):
    t, (tr, va, te) = toy
    glob = -MeanCompletion(kind="global").fit(tr).score(te)
    assert -MeanCompletion(kind="entity").fit(tr).score(te) < glob
    assert (
        -TensorlyCompletion(method="cp", rank=2, n_iter_max=50, random_state=0).fit(tr, shape=t.shape).score(te) < glob
    )
    assert -TensorlyCompletion(method="tucker", rank=2, n_iter_max=20, random_state=0).fit(tr).score(te) < glob
    with pytest.raises(DataValidationError, match="max_dense_cells"):
        TensorlyCompletion(max_dense_cells=100).fit(tr)
    with pytest.raises(DataValidationError):
        MeanCompletion().fit(tr).predict(np.zeros((2, 2), dtype=int))


# -- data and benchmark -----------------------------------------------------------------
def test_real_tensors_load_or_skip():
    from structaug.tensor import load_tensor_dataset

    with pytest.raises(InvalidParameterError, match="name"):
        load_tensor_dataset("nope")
    try:
        t = load_tensor_dataset("synthetic_10K")
    except DatasetNotFoundError:
        pytest.skip("shared datasets not available")
    assert t.shape == (1000, 1000, 1000) and t.nnz == 10_000


def test_bench_runs_and_resumes(tmp_path, monkeypatch):
    from structaug.bench import dain

    cfg = BenchConfig(
        datasets=["lowrank"],
        seeds=[0],
        quick=True,
        out=tmp_path / "d.json",
        extra={"methods": "global_mean,entity_mean", "ranks": "2"},
    )
    # a partial file left by an earlier (other) run: a fresh run neither deletes those rows nor
    # mixes them in; it refuses before any job, and the file stays as it was
    stale = {"method": "global_mean", "dataset": "lowrank", "seed": 0, "metrics": {"rmse": -1.0}, "status": "ok"}
    from structaug.bench import partial_file

    partial = partial_file(cfg.out)
    partial.write_text(json.dumps(stale) + "\n")

    def killed(*a, **k):
        raise AssertionError("no job may run")

    with monkeypatch.context() as mp:
        mp.setattr(dain, "run_job", killed)
        with pytest.raises(ResultsExistError, match="already exist.*resume"):
            dain.run(cfg)
    assert partial.read_text() == json.dumps(stale) + "\n"
    partial.unlink()
    recs = dain.run(cfg)
    assert {r.method for r in recs} == {"global_mean", "entity_mean"} and all(r.status == "ok" for r in recs)
    cfg.resume, cfg.extra["previous"] = True, [r.to_dict() for r in recs]
    again = dain.run(cfg)
    assert len(again) == 2
    # a dataset that is nowhere (no env, no shared copy) is recorded as an error and the run goes on
    import structaug.datasets._paths as paths

    monkeypatch.delenv("STRUCTAUG_DATA", raising=False)
    monkeypatch.setattr(paths, "_repo_roots", lambda: [])
    bad = dain.run(
        BenchConfig(
            datasets=["synthetic_10K"], seeds=[0], data_dir=str(tmp_path), quick=True, extra={"methods": "global_mean"}
        )
    )
    assert [r.status for r in bad] == ["error"] and "synthetic_10K" in bad[0].error


@pytest.mark.slow
def test_demo_rows_quick():
    from structaug.tensor._demo import demo_rows

    rows = demo_rows(quick=True, device="cpu", seed=0)
    assert len(rows) == 3 and all(np.isfinite(r.value) and r.value > 0 for r in rows)


@pytest.mark.slow
def test_bench_quick_neural_trio(tmp_path):
    from structaug.bench import dain

    recs = dain.run(
        BenchConfig(
            datasets=["lowrank"], seeds=[0], quick=True, extra={"methods": "neural,neural+random,dain", "epochs": 2}
        )
    )
    assert {r.method for r in recs} == {"neural", "neural+random", "dain"}
    assert all(r.status == "ok" for r in recs)
    dain.report(recs, tmp_path / "d.json")
    assert "influence_s" in (tmp_path / "d_stages.md").read_text()


def test_bench_neural_options_reach_the_models_and_the_records(tmp_path):
    from structaug.cli import main

    out = tmp_path / "d.json"
    argv = ["bench", "dain", "--quick", "--datasets", "lowrank", "--seeds", "1", "--methods", "neural"]
    argv += ["--epochs", "1", "--entity-biases", "--weight-decay", "1e-5", "--lr-schedule", "plateau"]
    argv += ["--factor-rank", "4", "--factor-reg", "0.05", "--hidden-sizes", "none"]
    assert main([*argv, "--no-progress", "--out", str(out)]) == 0
    (rec,) = json.loads(out.read_text())["records"]
    assert rec["method"] == "neural" and rec["status"] == "ok"
    conf = rec["config"]
    assert conf["entity_biases"] is True and conf["weight_decay"] == 1e-5 and conf["lr_schedule"] == "plateau"
    assert conf["factor_rank"] == 4 and conf["factor_reg"] == 0.05 and conf["hidden_sizes"] == []
    assert conf["tracin"] == "recorded"
    plain = tmp_path / "p.json"
    assert main([*argv[:-11], "--no-progress", "--out", str(plain)]) == 0
    conf = json.loads(plain.read_text())["records"][0]["config"]
    assert conf["hidden_sizes"] == [64, 64, 16]  # --quick's
    assert conf["entity_biases"] is False and conf["weight_decay"] == 0.0 and conf["lr_schedule"] is None
    assert conf["factor_rank"] == 0
