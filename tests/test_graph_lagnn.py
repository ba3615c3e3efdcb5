"""LAGNN (structaug.graph): augmenter contract, CVAE/U-score behaviour, models, training, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch_geometric.transforms as T
from torch_geometric.data import Data

from structaug.datasets import make_sbm_graph
from structaug.exceptions import DatasetNotFoundError, DataValidationError, NotFittedError
from structaug.graph import (
    GAT,
    GCN,
    GCNII,
    LAGAT,
    LAGCN,
    LAGCNII,
    LocalAugment,
    LocalAugmenter,
    RandomNeighborAugmenter,
    consistency_loss,
    fit_node_model,
    paper_config,
)
from structaug.testing import check_augmenter

TINY = dict(
    max_epochs=2,
    warmup=3,
    num_models=4,
    update_epochs=2,
    selector_max_epochs=5,
    uscore_every=2,
    hidden_size=32,
    batch_size=64,
    device="cpu",
)


@pytest.fixture(scope="module")
def graph() -> Data:
    return make_sbm_graph(120, 3, 24, avg_degree=5.0, n_val=30, random_state=0)


@pytest.fixture(scope="module")
def fitted(graph) -> LocalAugmenter:
    return LocalAugmenter(random_state=0, **TINY).fit(graph)


def test_check_augmenter(graph):
    check_augmenter(LocalAugmenter(random_state=0, **TINY), graph, sample_kwargs={"n": 2})


def test_sample_shape_normalised_and_fresh(graph, fitted):
    out = fitted.sample(graph, n=3)
    assert isinstance(out, Data) and out.x_aug.shape == (120, 3, 24)  # node-first [N, n, F]
    assert out.x_aug.dtype == graph.x.dtype and "x_aug" not in graph and out.x_aug.is_contiguous()
    torch.testing.assert_close(out.x_aug.sum(-1), torch.ones(120, 3))
    assert not torch.equal(out.x_aug[:, 0], out.x_aug[:, 1])  # independent draws per sample
    assert not torch.equal(fitted.sample(graph, n=1).x_aug, fitted.sample(graph, n=1).x_aug)
    assert fitted.sample(graph).x_aug.shape == (120, 1, 24)


def test_fitted_attributes_and_uscore_selection(fitted, graph):
    assert fitted.selection_ == "uscore"
    assert fitted.n_edge_pairs_ == int((graph.edge_index[0] != graph.edge_index[1]).sum())
    assert fitted.selected_iteration_ is not None and fitted.selected_iteration_ > TINY["warmup"]
    # the kept checkpoint is the best U score after the warm-up (the first one on ties)
    post = [(t, u) for t, u in fitted.uscore_history_ if t > TINY["warmup"]]
    assert (fitted.selected_iteration_, fitted.best_uscore_) == max(post, key=lambda tu: tu[1])
    assert len(fitted.uscore_history_) == fitted.n_iterations_ // TINY["uscore_every"]
    assert all(u <= 1e-6 for _, u in fitted.uscore_history_)  # Jensen: ensemble NLL <= mean NLL
    assert fitted.loss_history_[-1] < fitted.loss_history_[0]


def test_no_labels_uses_last_and_uscore_requires_labels(graph):
    unlabeled = Data(x=graph.x, edge_index=graph.edge_index)
    aug = LocalAugmenter(random_state=0, **TINY).fit(unlabeled)
    assert aug.selection_ == "last" and aug.selected_iteration_ is None
    with pytest.raises(ValueError, match="needs data.y"):
        LocalAugmenter(selection="uscore", **TINY).fit(unlabeled)


def test_directed_graph_and_isolated_nodes(graph):
    # keep one direction only, and add two isolated nodes
    ei = graph.edge_index[:, graph.edge_index[0] < graph.edge_index[1]]
    x = torch.cat([graph.x, graph.x[:2]])
    data = Data(x=x, edge_index=ei)
    aug = LocalAugmenter(random_state=1, **TINY).fit(data)
    assert aug.n_edge_pairs_ == ei.shape[1]
    out = aug.sample(data, n=2).x_aug
    assert out.shape == (122, 2, 24) and torch.isfinite(out).all()
    torch.testing.assert_close(out[-2:].sum(-1), torch.ones(2, 2))  # isolated nodes still generated


def test_fit_leaves_global_rng_alone(graph):
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    LocalAugmenter(random_state=0, **TINY).fit(graph)
    assert torch.equal(torch.rand(3), expected)


def test_transform_compose_and_repr(graph, fitted):
    tr = LocalAugment(fitted, n_samples=2, attr="x_gen")
    r = repr(tr)
    assert r.startswith("LocalAugment(n_samples=2, attr='x_gen', augmenter=LocalAugmenter(") and "fitted" in r
    out = T.Compose([tr, T.NormalizeFeatures()])(graph.clone())
    assert out.x_gen.shape == (120, 2, 24) and "x_aug" not in out
    lazy = LocalAugment(LocalAugmenter(random_state=0, **TINY))
    assert "unfitted" in repr(lazy)
    assert lazy(graph.clone()).x_aug.shape == (120, 1, 24) and lazy.augmenter_.is_fitted_
    assert not hasattr(lazy.augmenter, "is_fitted_") and "fitted" in repr(lazy)  # the passed one: untouched
    with pytest.raises(ValueError):
        LocalAugment(n_samples=0)


@pytest.mark.parametrize(
    "mutate, error, match",
    [
        (lambda d: Data(edge_index=d.edge_index), DataValidationError, "x is missing"),
        (lambda d: Data(x=d.x), DataValidationError, "edge_index is missing"),
        (lambda d: Data(x=d.x, edge_index=d.edge_index + 1000), DataValidationError, "out of range"),
        (
            lambda d: Data(
                x=d.x.clone().index_put_((torch.tensor([0]),), torch.tensor(float("nan"))), edge_index=d.edge_index
            ),
            DataValidationError,
            "NaN",
        ),
        (lambda d: Data(x=(d.x > 0).long(), edge_index=d.edge_index), DataValidationError, "float tensor"),
        (lambda d: Data(x=d.x, edge_index=torch.empty(2, 0, dtype=torch.long)), DataValidationError, "no edges"),
        (lambda d: Data(x=d.x * 5, edge_index=d.edge_index), DataValidationError, r"\[0, 1\]"),
        (lambda d: Data(x=d.x, edge_index=d.edge_index[0]), DataValidationError, r"\[2, E\]"),
        (lambda d: d.x, TypeError, "Data"),
    ],
)
def test_fit_errors(graph, mutate, error, match):
    with pytest.raises(error, match=match):
        LocalAugmenter(**TINY).fit(mutate(graph))


def test_sample_errors(graph, fitted):
    with pytest.raises(NotFittedError):
        LocalAugmenter().sample(graph)
    other = Data(x=torch.rand(10, 5), edge_index=torch.tensor([[0, 1], [1, 0]]))
    with pytest.raises(DataValidationError, match="fitted on 24"):
        fitted.sample(other)
    with pytest.raises(ValueError, match="needs the graph"):
        fitted.sample(None)
    for bad in (dict(latent_size=0), dict(selection="best"), dict(lr=0.0)):
        with pytest.raises(ValueError):
            LocalAugmenter(**bad).fit(graph)


def test_models_shapes_and_branch_errors(graph):
    x, ei = graph.x, graph.edge_index
    gen = torch.rand(x.shape[0], 2, x.shape[1])  # node-first [N, concat, F]
    for model in (
        LAGCN(24, 8, 3, concat=2),
        LAGAT(24, 4, 3, concat=2, heads=2),
        LAGCNII(24, 8, 3, concat=2, num_layers=3),
    ):
        model.eval()
        assert model(x, ei, gen).shape == (120, 3)
        assert model(x, ei, list(gen.unbind(1))).shape == (120, 3)
        torch.testing.assert_close(model(x, ei, gen), model(x, ei, list(gen.unbind(1))))
        with pytest.raises(DataValidationError, match="concat=2"):
            model(x, ei, gen[:, :1])
        with pytest.raises(DataValidationError, match="transpose"):  # the old [concat, N, F] layout
            model(x, ei, gen.transpose(0, 1))
        with pytest.raises(DataValidationError, match="needs generated features"):
            model(x, ei)
    for model in (GCN(24, 8, 3), GAT(24, 4, 3, heads=2), GCNII(24, 8, 3, num_layers=3)):
        assert model(x, ei).shape == (120, 3)
    for model in (GCNII(24, 8, 3, num_layers=3), LAGCNII(24, 8, 3, concat=2, num_layers=3)):
        groups = model.param_groups(0.01, 5e-4)
        assert [g["weight_decay"] for g in groups] == [0.01, 5e-4]
        conv, lin = ({id(p) for p in g["params"]} for g in groups)
        # the paper's split: convolution weights decay with wd_conv, the linear layers with wd_linear
        assert conv == {id(p) for p in model.stack.parameters()} and not conv & lin
        assert conv | lin == {id(p) for p in model.parameters()}


def test_gcnii_stack_matches_plain_gcn2conv_on_a_directed_graph():
    """The shared CSR Â (and its cached transpose in backward) equals PyG's per-layer gcn_norm + scatter."""
    from torch_geometric.nn import GCN2Conv
    from torch_geometric.utils import to_torch_coo_tensor

    g = torch.Generator().manual_seed(0)
    n = 40
    ei = torch.randint(0, n, (2, 160), generator=g)  # directed, with duplicates and self-loops
    model = GCNII(12, 16, 3, num_layers=4).eval()
    plain = [GCN2Conv(16, alpha=0.1, theta=0.5, layer=i + 1, normalize=True) for i in range(4)]
    for conv, ref in zip(model.stack.convs, plain):
        ref.weight1.data.copy_(conv.weight1.data)
    h0 = torch.rand(n, 16, generator=g)
    ha, hb = h0.clone().requires_grad_(), h0.clone().requires_grad_()
    out = model.stack(ha, ei)
    h = hb
    for ref in plain:
        h = torch.relu(ref(h, hb, ei))
    torch.testing.assert_close(out, h)
    adj = to_torch_coo_tensor(ei.flip(0), size=(n, n))  # PyG's own (different) self-loop rule for sparse input
    h_sparse = h0
    for ref in plain:
        h_sparse = torch.relu(ref(h_sparse, h0, adj))
    torch.testing.assert_close(model.stack(h0, adj), h_sparse.detach())
    w = torch.rand(n, 16, generator=g)  # a non-symmetric upstream gradient
    (out * w).sum().backward()
    (h * w).sum().backward()
    torch.testing.assert_close(ha.grad, hb.grad)
    for conv, ref in zip(model.stack.convs, plain):
        torch.testing.assert_close(conv.weight1.grad, ref.weight1.grad)


def test_consistency_loss():
    sharp = torch.log(torch.tensor([[1.0 - 2e-6, 1e-6, 1e-6]]))
    assert float(consistency_loss([sharp, sharp])) < 1e-9  # confident and agreeing: nothing to fix
    # by hand: passes [.8, .2] and [.6, .4] average to [.7, .3]; sharpened with T = 0.5 that is
    # [.49, .09] / .58; the loss is the mean over passes of the squared distance to it
    p1, p2 = torch.tensor([[0.8, 0.2]]), torch.tensor([[0.6, 0.4]])
    target = torch.tensor([0.49, 0.09]) / 0.58
    want = ((p1 - target).pow(2).sum() + (p2 - target).pow(2).sum()) / 2
    lp = [p1.log().requires_grad_(), p2.log().requires_grad_()]
    got = consistency_loss(lp, 0.5)
    assert float(got.detach()) == pytest.approx(float(want), rel=1e-6) and float(want) == pytest.approx(
        0.0619501, rel=1e-5
    )
    assert float(consistency_loss(lp, 1.0).detach()) == pytest.approx(0.02, rel=1e-6)  # T = 1: the plain average
    got.backward()  # the sharpened target is a constant: each pass is pulled towards it alone
    torch.testing.assert_close(lp[0].grad, (2 * (p1 - target) / 2 * p1), rtol=1e-5, atol=1e-7)


def test_paper_configs():
    assert paper_config("lagcn", "Cora")["hidden_size"] == 8
    pub = paper_config("lagcn", "PubMed")
    assert (pub["hidden_size"], pub["concat"], pub["lr"], pub["max_epochs"]) == (4, 3, 0.02, 300)
    assert paper_config("lagat", "pubmed")["n_heads"] == 2
    assert paper_config("LA-GCNII", "citeseer")["n_layers"] == 32
    assert paper_config("lagcn")["consistency"] and not paper_config("gcn")["consistency"]
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        paper_config("gcn", hiddden=3)
    with pytest.raises(ValueError, match="unknown model kind"):
        paper_config("mlp")


def test_random_neighbor_augmenter_picks_neighbours():
    x = torch.eye(4)
    ei = torch.tensor([[1, 2, 0], [0, 0, 1]])  # node 0 <- {1, 2}; node 1 <- {0}; 2, 3 isolated as targets
    g = Data(x=x, edge_index=ei)
    out = RandomNeighborAugmenter(random_state=0).fit(g).sample(g, n=50).x_aug
    assert out.shape == (4, 50, 4)  # node-first [N, n, F]
    picked0 = out[0].argmax(-1)
    assert set(picked0.tolist()) == {1, 2}
    assert (out[1].argmax(-1) == 0).all() and (out[3].argmax(-1) == 3).all()


def test_lagcn_learns_and_is_deterministic(graph, fitted):
    kw = dict(random_state=0, device="cpu", max_epochs=40, patience=15)
    res = fit_node_model("lagcn", graph, augmenter=fitted, hidden_size=8, **kw)
    again = fit_node_model("lagcn", graph, augmenter=fitted, hidden_size=8, **kw)
    assert res.test_acc > 0.6  # 3 classes: chance is ~0.33
    assert res.test_acc == again.test_acc and res.best_epoch == again.best_epoch
    plain = fit_node_model("gcn", graph, **kw)
    assert plain.test_acc > 0.6
    with pytest.raises(ValueError, match="needs generated features: augmenter="):
        fit_node_model("lagcn", graph, **kw)


def test_pyg_raw_loader_and_split(tmp_path):
    from structaug.datasets.pyg_raw import load_pyg_graph
    from structaug.splits import class_balanced_split

    y = torch.arange(3).repeat_interleave(100)
    tr, va, te = class_balanced_split(y, train_per_class=20, n_val=50, n_test=80, random_state=0)
    assert torch.bincount(y[tr]).tolist() == [20, 20, 20]
    assert int(va.sum()) == 50 and int(te.sum()) == 80 and not (tr & va).any() and not (va & te).any()
    tr2, _, _ = class_balanced_split(y, train_per_class=20, n_val=50, n_test=80, random_state=0)
    assert torch.equal(tr, tr2)
    with pytest.raises(DatasetNotFoundError, match="Cora_ML"):
        load_pyg_graph("Cora_ML", tmp_path / "nowhere", cache=tmp_path / "cache")
    with pytest.raises(ValueError, match="unknown graph"):
        load_pyg_graph("NotAGraph", tmp_path)


def test_sign_features():
    from structaug.bench.lagnn import _sign_features

    x = np.eye(3)
    ei = torch.tensor([[1, 2], [0, 0]])
    f = _sign_features(x, ei, hops=1)
    np.testing.assert_allclose(f[0, 3:], [0, 0.5, 0.5])
    assert f.shape == (3, 6)


@pytest.mark.slow
def test_demo_rows_quick():
    from structaug.graph._demo import demo_rows

    rows = demo_rows(quick=True, device="cpu", seed=0)
    assert [r.model.split(" ")[0] for r in rows] == ["LA-GCN", "GCN", "XGBoost"]
    assert all(0.0 <= r.value <= 1.0 for r in rows)
    assert rows[0].value > 0.6 and rows[1].value > 0.6  # 4 classes: chance 0.25


def test_bench_without_augmented_methods_runs(tmp_path):
    """Plain GCN/XGBoost rows must not need the CVAE sampler (regression: UnboundLocalError)."""
    from conftest import shared_or_skip

    from structaug.bench import BenchConfig
    from structaug.bench.lagnn import run
    from structaug.datasets import load_planetoid

    shared_or_skip(load_planetoid, "Cora", cache=tmp_path / "pyg")  # the bench records a skip, not an error
    cfg = BenchConfig(
        datasets=["Cora"],
        seeds=[0],
        device="cpu",
        out=tmp_path / "l.json",
        verbose=False,
        extra={"methods": "GCN,XGBoost", "max_epochs": 5},
    )
    recs = run(cfg)
    status = {
        r.method if hasattr(r, "method") else r["method"]: (r.status if hasattr(r, "status") else r["status"])
        for r in recs
    }
    assert status == {"GCN": "ok", "XGBoost": "ok"}


def test_bench_minibatch_flags_reach_the_model_and_the_records(tmp_path):
    """--batch-size/--num-neighbors train through NeighborLoader and are recorded per row."""
    from conftest import shared_or_skip

    from structaug.bench import BenchConfig
    from structaug.bench.lagnn import _settings, run
    from structaug.datasets import load_planetoid

    extra = {"methods": "GCN", "max_epochs": 3, "batch_size": 64, "num_neighbors": [5, 5]}
    assert _settings(BenchConfig(datasets=["Cora"], extra=extra))["overrides"] == {
        "max_epochs": 3,
        "batch_size": 64,
        "num_neighbors": [5, 5],
    }
    assert _settings(BenchConfig(datasets=["Cora"], extra={"batch_size": 8}))["overrides"]["num_neighbors"] == [10, 10]
    assert "batch_size" not in _settings(BenchConfig(datasets=["Cora"], extra={}))["overrides"]  # full-batch
    shared_or_skip(load_planetoid, "Cora", cache=tmp_path / "pyg")
    cfg = BenchConfig(datasets=["Cora"], seeds=[0], device="cpu", out=tmp_path / "l.json", verbose=False, extra=extra)
    (rec,) = run(cfg)
    rec = rec if isinstance(rec, dict) else rec.to_dict()
    assert rec["status"] == "ok" and rec["config"]["overrides"]["batch_size"] == 64
    assert rec["metrics"]["epochs"] == 3


# --- speed-ups must not change results --------------------------------------------------------
def _dropout_reference(x, p, generator):
    """fast_dropout as first written (bool mask -> float -> scale -> product), for comparison."""
    n = x.numel()
    words = torch.randint(-(2**63), 2**63 - 1, ((n + 7) // 8,), dtype=torch.int64, generator=generator)
    u = words.view(torch.uint8)[:n].view(x.shape)
    thr = max(1, round((1 - p) * 256))
    return x * (u < thr).to(x.dtype).mul_(256.0 / thr)


@pytest.mark.parametrize("p", [0.5, 0.6, 0.1])
def test_fast_dropout_matches_reference_dense_and_sparse(p):
    from structaug.nn import fast_dropout

    x = torch.rand(37, 53, generator=torch.Generator().manual_seed(0))
    x[x < 0.85] = 0  # bag-of-words-like sparsity
    ref = _dropout_reference(x, p, torch.Generator().manual_seed(1))
    g_dense, g_sparse = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(fast_dropout(x, p, True, g_dense), ref)
    sparse = fast_dropout(x.to_sparse_csr(), p, True, g_sparse)
    assert sparse.layout == torch.sparse_csr and torch.equal(sparse.to_dense(), ref)
    # the sparse path draws as many random words, so later draws stay in step too
    assert torch.equal(g_dense.get_state(), g_sparse.get_state())
    # with autograd on, the result and the input gradient match the reference as well
    h = x.clone().requires_grad_(True)
    fast_dropout(h, p, True, torch.Generator().manual_seed(2)).pow(2).sum().backward()
    h_ref = x.clone().requires_grad_(True)
    _dropout_reference(h_ref, p, torch.Generator().manual_seed(2)).pow(2).sum().backward()
    assert torch.equal(h.grad, h_ref.grad)
    assert torch.equal(fast_dropout(x, 1.0).count_nonzero(), torch.tensor(0))
    assert fast_dropout(x.to_sparse_csr(), 1.0).to_dense().count_nonzero() == 0
    assert fast_dropout(x, p, training=False) is x


def test_to_sparse_features_threshold():
    from structaug.graph._ops import to_sparse_features

    x = torch.zeros(10, 10)
    x[0, :5] = 1.0  # 5 % non-zero
    assert to_sparse_features(x).layout == torch.sparse_csr
    assert torch.equal(to_sparse_features(x).to_dense(), x)
    dense = torch.rand(10, 10) + 0.1
    assert to_sparse_features(dense) is dense
    assert to_sparse_features(dense, max_density=1.0).layout == torch.sparse_csr


def test_cvae_sampler_equals_decode_then_normalise(fitted, graph):
    from structaug.graph._cvae import row_normalize

    sampler = fitted._feature_sampler(graph)
    out = sampler(3, torch.Generator().manual_seed(5))
    gen = torch.Generator().manual_seed(5)
    z = torch.randn((3, graph.num_nodes, fitted.latent_size), generator=gen)
    with torch.no_grad():
        ref = row_normalize(fitted.cvae_.decode(z, graph.x))
    assert out.shape == (graph.num_nodes, 3, graph.num_features)  # node-first view of [3, N, F] draws
    torch.testing.assert_close(out, ref.transpose(0, 1), rtol=1e-6, atol=1e-7)  # cached condition term
    assert all(out[:, j].is_contiguous() for j in range(3))  # each branch is one [N, F] block
    from structaug.graph._samplers import _CVAESampler

    raw = _CVAESampler(fitted.cvae_, graph.x, normalize=False)(3, torch.Generator().manual_seed(5))
    torch.testing.assert_close(raw, fitted.cvae_.decode(z, graph.x).transpose(0, 1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", ["gcn", "lagcn", "gat", "lagat", "gcnii", "lagcnii"])
def test_sparse_input_training_matches_dense(kind, graph, fitted):
    from structaug.graph import build_model, train_node_classifier

    cfg = paper_config(kind, n_layers=4) if "gcnii" in kind else paper_config(kind)
    x = graph.x / graph.x.sum(1, keepdim=True).clamp(min=1e-12)
    results = []
    for sparse in (False, True):
        torch.manual_seed(0)
        model = build_model(kind, graph.num_features, 3, cfg)
        aug = fitted if kind.startswith("la") else None
        results.append(
            train_node_classifier(
                model,
                graph,
                x=x,
                augmenter=aug,
                samples=cfg["samples"],
                consistency=cfg["consistency"],
                max_epochs=15,
                patience=None,
                device="cpu",
                random_state=0,
                sparse_input=sparse,
            )
        )
    dense, sparse = results
    # same random draws; only the float summation order of the first layer differs
    assert dense.test_acc == sparse.test_acc and dense.best_epoch == sparse.best_epoch
    assert dense.val_loss == pytest.approx(sparse.val_loss, rel=1e-4)


def test_results_unchanged_by_speedups():
    """Golden values from the code before the speed-ups (commit ef5c2e2), same seeds and graph.

    The refactors keep every random draw and change only float summation order, so the
    accuracies after 40 epochs are the same (tolerance: one test node, for other BLAS builds).
    """
    g = make_sbm_graph(300, 3, 60, avg_degree=5.0, n_val=60, random_state=0)
    aug = LocalAugmenter(random_state=0, **TINY).fit(g)
    before = {"gcn": 0.8333333, "lagcn": 0.7476190, "gat": 0.8904762, "lagat": 0.8714285}
    n_test = int(g.test_mask.sum())
    for kind, acc in before.items():
        res = fit_node_model(
            kind,
            g,
            augmenter=aug if kind.startswith("la") else None,
            random_state=0,
            device="cpu",
            max_epochs=40,
            patience=None,
        )
        assert res.test_acc == pytest.approx(acc, abs=1.01 / n_test), kind


def test_fitted_augmenter_pickles_rng_as_bytes_and_resumes_its_stream(graph, fitted):
    """A CVAE fitted on a GPU is cached with torch.save; its RNG states must not be tensors,
    which ``torch.load(map_location=...)`` would move to the device and then reject."""
    import io

    fitted._sample_rng.torch("cpu")  # make sure a torch stream exists
    state = fitted._sample_rng.__getstate__()
    assert state["torch"] and all(isinstance(v, bytes) for v in state["torch"].values())
    buf = io.BytesIO()
    torch.save(fitted, buf)
    buf.seek(0)
    twin = torch.load(buf, map_location="cpu", weights_only=False)
    assert torch.equal(twin.sample(graph, n=2).x_aug, fitted.sample(graph, n=2).x_aug)


def test_samplers_follow_the_training_device(graph, fitted):
    from structaug.train import same_device

    smp = fitted._feature_sampler(graph)
    rnd = RandomNeighborAugmenter().fit(graph)._feature_sampler(graph)
    assert smp.to("cpu") is smp and rnd.to(torch.device("cpu")) is rnd
    # the copy path, without a GPU: the "meta" device holds shapes only
    m, r = smp.to("meta"), rnd.to("meta")
    assert m is not smp and m.device.type == "meta" and smp.device.type == "cpu"
    assert all(p.is_meta for p in m.cvae.parameters()) and m._c_proj.is_meta
    assert not any(p.is_meta for p in smp.cvae.parameters())  # the original is untouched
    assert (
        r is not rnd and r.device.type == "meta" and all(getattr(r, a).is_meta for a in ("_src", "_deg", "_ptr", "_x"))
    )
    assert same_device("cuda", "cuda:0") and not same_device("cpu", "cuda") and same_device("cpu", "cpu")
