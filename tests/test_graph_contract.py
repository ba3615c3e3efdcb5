"""structaug.graph in the one-library contract (#21): the training draws from the fitted augmenter,
``sample_unit``, one vocabulary, a curated public API, results unchanged from b0feb57."""

from __future__ import annotations

import pkgutil

import pytest
import torch
from sklearn.base import clone
from torch import nn

import structaug.graph as G
from structaug.datasets import make_sbm_graph
from structaug.exceptions import DataValidationError, InvalidParameterError
from structaug.graph import (
    LAGCN,
    LocalAugment,
    LocalAugmenter,
    RandomNeighborAugmenter,
    fit_node_model,
    train_node_classifier,
)
from structaug.testing import check_augmenter

TINY = dict(
    max_epochs=2,
    warmup=3,
    num_models=4,
    update_epochs=2,
    selector_max_epochs=5,
    uscore_every=3,
    hidden_size=32,
    batch_size=64,
    device="cpu",
)


@pytest.fixture(scope="module")
def graph():
    return make_sbm_graph(150, 3, 30, avg_degree=5.0, n_val=40, random_state=2)


@pytest.fixture(scope="module")
def aug(graph):
    return LocalAugmenter(random_state=0, **TINY).fit(graph)


class _Recorder(nn.Module):
    """Wraps an LA model and keeps every ``x_gen`` it is called with."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.inner, self.concat, self.in_channels = model, model.concat, model.in_channels
        self.out_channels = model.out_channels
        self.seen: list[torch.Tensor] = []

    def forward(self, x, edge_index, x_gen):
        self.seen.append(x_gen.clone())
        return self.inner(x, edge_index, x_gen)


# -- golden values: the same run on b0feb57 (sampler=aug.feature_sampler(g), seed=3, epochs=8) ----
GOLDEN = {
    "gcn": (0.675000011920929, 1.0551879405975342, 7),
    "lagcn": (0.512499988079071, 1.069516658782959, 7),
    "lagat": (0.762499988079071, 1.0491883754730225, 7),
    "randnbr": (0.612500011920929, 1.0546528100967407, 7),
}


def test_training_through_the_augmenter_matches_b0feb57(graph, aug):
    """The one path gives the numbers the old sampler path gave (bit-identical on this machine;
    tolerance for other float builds)."""
    assert aug.selected_iteration_ == 9
    assert aug.loss_history_ == pytest.approx([14.682240504384692, 5.847735605604662], rel=1e-6)
    for kind, (acc, loss, best) in GOLDEN.items():
        source = RandomNeighborAugmenter().fit(graph) if kind == "randnbr" else (aug if kind != "gcn" else None)
        res = fit_node_model(
            "lagcn" if kind == "randnbr" else kind,
            graph,
            augmenter=source,
            random_state=3,
            device="cpu",
            max_epochs=8,
            patience=None,
        )
        assert (res.test_acc, res.best_epoch) == (pytest.approx(acc, abs=1e-6), best), kind
        assert res.val_loss == pytest.approx(loss, rel=1e-5), kind


def test_training_draws_from_the_fitted_augmenters_generator(graph, aug):
    """Every pass gets fresh features from the augmenter's own generator, seeded by random_state."""
    torch.manual_seed(0)
    model = _Recorder(LAGCN(graph.num_features, 8, 3, concat=2))
    train_node_classifier(
        model,
        graph,
        augmenter=aug,
        samples=2,
        max_epochs=2,
        patience=None,
        device="cpu",
        random_state=7,
        sparse_input=False,
    )
    assert len(model.seen) == 2 * (2 + 1)  # 2 epochs x (2 training passes + 1 evaluation pass)
    gen = torch.Generator().manual_seed(7)
    sampler = aug._feature_sampler(graph)  # the generator aug.sample(graph, n) uses
    for seen in model.seen[:2]:  # the first epoch's training passes, in order
        assert torch.equal(seen, sampler(2, gen))
    assert not torch.equal(model.seen[0], model.seen[1])
    assert all(s.shape == (150, 2, graph.num_features) for s in model.seen)


def test_training_on_a_fixed_x_aug_uses_it_in_every_pass(graph, aug):
    data = aug.sample(graph, n=1, random_state=0)
    torch.manual_seed(0)
    model = _Recorder(LAGCN(graph.num_features, 8, 3, concat=1))
    res = train_node_classifier(model, data, samples=2, max_epochs=3, patience=None, device="cpu")
    assert len(model.seen) == 9 and all(torch.equal(s, data.x_aug) for s in model.seen)
    assert 0.0 <= res.test_acc <= 1.0
    # an augmenter wins over a stored x_aug: fresh draws again
    model = _Recorder(LAGCN(graph.num_features, 8, 3, concat=1))
    train_node_classifier(model, data, augmenter=aug, max_epochs=1, device="cpu")
    assert not torch.equal(model.seen[0], data.x_aug)
    with pytest.raises(DataValidationError, match=r"data.x_aug must have shape \[N, 2, F\]"):
        fit_node_model("lagcn", data, concat=2, max_epochs=1, device="cpu")


def test_augmenter_trains_on_another_graph_with_the_same_features(aug):
    other = make_sbm_graph(90, 3, 30, avg_degree=4.0, n_val=20, random_state=5)
    res = fit_node_model("lagcn", other, augmenter=aug, max_epochs=3, patience=None, device="cpu")
    assert res.epochs_run == 3
    with pytest.raises(DataValidationError, match="fitted on 30"):
        fit_node_model("lagcn", make_sbm_graph(60, 3, 12, random_state=0), augmenter=aug, device="cpu")


@pytest.mark.parametrize("cls", [LocalAugmenter, RandomNeighborAugmenter])
def test_sample_unit_is_views_per_node(cls, graph):
    a = cls(random_state=0, **(TINY if cls is LocalAugmenter else {})).fit(graph)
    assert (cls.sample_unit, cls.default_n) == ("views", 1)
    for n in (1, 3):
        out = a.sample(graph, n=n)
        assert a._count_sampled(out, graph) == n and out.x_aug.shape == (150, n, graph.num_features)
    assert a._count_sampled(a.sample(graph), graph) == 1
    assert "returns ``n`` augmented views of EVERY node of ``data``" in " ".join(cls.sample.__doc__.split())


def test_random_neighbor_augmenter_passes_check_augmenter(graph):
    check_augmenter(RandomNeighborAugmenter(random_state=0), graph, sample_kwargs={"n": 2})


def test_random_neighbor_augmenter_copies_a_neighbour_row_normalised(graph):
    out = RandomNeighborAugmenter(random_state=1).fit(graph).sample(graph, n=4).x_aug
    x = graph.x / graph.x.sum(1, keepdim=True)
    src, dst = graph.edge_index
    for v in (0, 17, 149):
        nbrs = set(src[dst == v].tolist()) or {v}
        for j in range(4):
            hits = [u for u in nbrs if torch.equal(out[v, j], x[u])]
            assert hits, (v, j)
    raw = RandomNeighborAugmenter(normalize=False, random_state=1).fit(graph).sample(graph, n=1).x_aug
    assert any(torch.equal(raw[0, 0], graph.x[u]) for u in set(src[dst == 0].tolist()))


def test_local_augment_takes_either_augmenter(graph):
    t = LocalAugment(RandomNeighborAugmenter(random_state=0), n_samples=2)
    out = t(graph)  # fits the unfitted augmenter on the first graph
    assert out.x_aug.shape == (150, 2, graph.num_features) and t.augmenter_.n_features_ == graph.num_features
    assert not hasattr(t.augmenter, "n_features_")  # the passed instance is cloned, never fitted
    fitted = RandomNeighborAugmenter(random_state=0).fit(graph)
    t = LocalAugment(fitted)
    t(graph)
    assert t.augmenter_ is fitted  # a fitted one is used as it is


def test_vocabulary_and_nested_params(graph):
    params = LocalAugmenter().get_params()
    for new in ("max_epochs", "verbose", "hidden_size", "selector_hidden_size", "selector_max_epochs"):
        assert new in params
    for old in ("epochs", "progress", "selector_hidden", "selector_epochs"):
        assert old not in params
    assert params["verbose"] is False  # silent by default
    a = LocalAugmenter(max_epochs=3)
    b = clone(a).set_params(max_epochs=4)
    assert (a.max_epochs, b.max_epochs) == (3, 4)
    with pytest.raises(InvalidParameterError, match="unknown hyperparameter"):
        fit_node_model("gcn", graph, epochs=3)  # the old config key
    with pytest.raises(InvalidParameterError, match="unknown hyperparameter"):
        fit_node_model("gcn", graph, seed=0)  # the old keyword (now random_state)


def test_public_api_is_curated():
    assert set(G.__all__) == {
        "LocalAugmenter",
        "RandomNeighborAugmenter",
        "LocalAugment",
        "GCN",
        "GAT",
        "GCNII",
        "LAGCN",
        "LAGAT",
        "LAGCNII",
        "fit_node_model",
        "train_node_classifier",
        "NodeFitResult",
        "paper_config",
        "PAPER_CONFIGS",
        "MODEL_KINDS",
        "build_model",
        "consistency_loss",
    }
    assert all(hasattr(G, name) for name in G.__all__)
    for gone in ("CVAEFeatureSampler", "RandomNeighborSampler", "row_normalize", "feature_sampler"):
        assert not hasattr(G, gone) and not hasattr(LocalAugmenter, gone)
    modules = [m.name for m in pkgutil.iter_modules(G.__path__)]
    assert modules and all(m.startswith("_") for m in modules), modules
