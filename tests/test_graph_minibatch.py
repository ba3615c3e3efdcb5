"""Mini-batch LA-GNN training through PyG's NeighborLoader (issue #22): sampler and training."""

from __future__ import annotations

import collections

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.sampler import NeighborSampler, NodeSamplerInput
from torch_geometric.utils import to_undirected

from structaug.datasets import make_sbm_graph
from structaug.exceptions import InvalidParameterError
from structaug.graph import LocalAugmenter, RandomNeighborAugmenter, fit_node_model
from structaug.graph._neighbors import TorchNeighborSampler, compiled_sampling_available
from structaug.graph._training import _NeighborBatches
from structaug.sparse import select_rows

TINY = dict(max_epochs=2, selection="last", hidden_size=32, batch_size=64, device="cpu")


def _random_graph(n: int = 200, p: float = 0.04, seed: int = 0) -> Data:
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(n, n, generator=g) < p
    mask.fill_diagonal_(False)
    return Data(edge_index=mask.nonzero().t().contiguous(), num_nodes=n)


def _samplers(data: Data, num_neighbors: list[int]) -> dict:
    out = {"torch": TorchNeighborSampler(data, num_neighbors, generator=torch.Generator().manual_seed(0))}
    if compiled_sampling_available():  # PyG's own kernel: the contract ours must keep
        out["pyg"] = NeighborSampler(data, num_neighbors)
    return out


@pytest.mark.parametrize("name", ["torch", "pyg"])
def test_sampler_output_contract(name):
    data = _random_graph()
    samplers = _samplers(data, [5, 3])
    if name not in samplers:
        pytest.skip("neither pyg-lib nor torch-sparse is installed")
    sampler = samplers[name]
    seeds = torch.tensor([3, 17, 42, 99])
    out = sampler.sample_from_nodes(NodeSamplerInput(input_id=None, node=seeds))
    node, row, col, edge = out.node, out.row, out.col, out.edge
    assert torch.equal(node[:4], seeds)  # seeds first
    assert node.unique().numel() == node.numel()  # every node once
    ei = data.edge_index
    # every sampled edge is a real edge j -> i, and `edge` (a CSC position) maps back to it
    real = ei[:, sampler.perm[edge]] if sampler.perm is not None else ei[:, edge]
    assert torch.equal(real[0], node[row]) and torch.equal(real[1], node[col])
    assert len(set(zip(row.tolist(), col.tolist(), strict=True))) == row.numel()  # no repeated edge
    in_deg = torch.bincount(ei[1], minlength=data.num_nodes)
    per_seed = collections.Counter(col[col < 4].tolist())
    for i, s in enumerate(seeds.tolist()):
        assert per_seed[i] == min(5, int(in_deg[s]))
    # second hop: only nodes the first hop found are expanded, each with <= 3 neighbours
    second = col[col >= 4]
    assert second.numel() and collections.Counter(second.tolist()).most_common(1)[0][1] <= 3


def test_torch_sampler_takes_all_with_minus_one_and_is_reproducible():
    data = _random_graph()
    seeds = NodeSamplerInput(input_id=None, node=torch.tensor([0, 1]))
    every = TorchNeighborSampler(data, [-1], generator=torch.Generator().manual_seed(0)).sample_from_nodes(seeds)
    in_deg = torch.bincount(data.edge_index[1], minlength=data.num_nodes)
    assert every.row.numel() == int(in_deg[0] + in_deg[1])
    a, b = (
        TorchNeighborSampler(data, [2, 2], generator=torch.Generator().manual_seed(7)).sample_from_nodes(seeds)
        for _ in range(2)
    )
    assert torch.equal(a.node, b.node) and torch.equal(a.row, b.row) and torch.equal(a.edge, b.edge)


def test_torch_sampler_is_uniform():
    """Each in-neighbour of a node with degree d is drawn with probability k/d: a chi-square
    test over 3,000 draws (threshold: the 99.9 % quantile for d-1 degrees of freedom)."""
    data = _random_graph(300, 0.03)
    in_deg = torch.bincount(data.edge_index[1], minlength=300)
    node = int(in_deg.argmax())
    d, k, draws = int(in_deg[node]), 5, 3000
    assert d > 2 * k
    sampler = TorchNeighborSampler(data, [k], generator=torch.Generator().manual_seed(0))
    freq: collections.Counter = collections.Counter()
    for _ in range(draws):
        out = sampler.sample_from_nodes(NodeSamplerInput(input_id=None, node=torch.tensor([node])))
        freq.update(out.node[out.row].tolist())
    neighbours = data.edge_index[0, data.edge_index[1] == node].tolist()
    assert set(freq) == set(neighbours)
    expected = draws * k / d
    chi2 = sum((freq[j] - expected) ** 2 / expected for j in neighbours)
    from scipy.stats import chi2 as chi2_dist

    assert chi2 < chi2_dist.ppf(0.999, d - 1)


@pytest.mark.parametrize("layout", ["dense", "coo", "csr"])
def test_select_rows_keeps_the_layout(layout):
    x = torch.rand(30, 6)
    x[x < 0.7] = 0
    xs = {"dense": x, "coo": x.to_sparse(), "csr": x.to_sparse_csr()}[layout]
    idx = torch.tensor([4, 0, 29, 4])
    out = select_rows(xs, idx)
    assert out.layout == xs.layout and torch.equal(out.to_dense(), x[idx])


def _connected_graph(n: int = 60, seed: int = 0):
    """A connected graph (ring + chords) with Planetoid-style masks."""
    g = make_sbm_graph(n, 3, 16, avg_degree=4.0, n_val=15, random_state=seed)
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    g.edge_index = to_undirected(torch.cat([g.edge_index, ring], 1), num_nodes=n)
    return g


@pytest.mark.parametrize("kind", ["gcn", "gat"])
def test_full_neighbourhood_batches_equal_full_batch(kind):
    """With all neighbours for as many hops as the graph is wide and one batch holding every
    training node, a batch is the whole graph relabelled: training follows the full-batch run
    up to float summation order (dropout off, so no draw depends on the node order)."""
    g = _connected_graph()
    kw = dict(random_state=0, device="cpu", max_epochs=15, patience=None, dropout=0.0)
    full = fit_node_model(kind, g, **kw)
    mini = fit_node_model(kind, g, batch_size=1000, num_neighbors=[-1] * 40, **kw)
    assert mini.val_loss == pytest.approx(full.val_loss, rel=1e-4)
    assert mini.test_acc == full.test_acc and mini.best_epoch == full.best_epoch


@pytest.fixture(scope="module")
def sbm() -> Data:
    return make_sbm_graph(400, 3, 24, avg_degree=5.0, train_per_class=30, n_val=60, random_state=0)


def test_generated_features_cover_the_batch_only(sbm):
    aug = LocalAugmenter(random_state=0, **TINY).fit(sbm)
    batches = _NeighborBatches(
        sbm, sbm.x, aug, 2, [3, 3], 16, torch.device("cpu"), False, 1.0, torch.Generator().manual_seed(0), 0
    )
    sizes = []
    for xb, ei, draw, nid, bs in batches.train():
        gen = draw()
        assert gen.shape == (nid.numel(), 2, sbm.num_features) and xb.shape[0] == nid.numel()
        assert bs <= 16 and bool(sbm.train_mask[nid[:bs]].all())
        assert int(ei.max()) < nid.numel()
        sizes.append(nid.numel())
    assert sum(min(s, 16) for s in sizes) >= int(sbm.train_mask.sum()) and max(sizes) < sbm.num_nodes
    # one CSC graph for both loaders (O(E) memory once), each loader with its own stream
    train_s, eval_s = batches._train.node_sampler, batches._eval.node_sampler
    assert train_s.row.data_ptr() == eval_s.row.data_ptr() and train_s.colptr.data_ptr() == eval_s.colptr.data_ptr()
    # evaluation: validation then test nodes, the same subgraphs on every call
    first = [nid for _, _, _, nid, _ in batches.evaluate()]
    again = [nid for _, _, _, nid, _ in batches.evaluate()]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    seeds = torch.cat([nid[:bs] for _, _, _, nid, bs in batches.evaluate()])
    expect = torch.cat([sbm.val_mask.nonzero().flatten(), sbm.test_mask.nonzero().flatten()])
    assert torch.equal(seeds, expect)


@pytest.mark.parametrize("augmenter", ["cvae", "random"])
def test_minibatch_la_training_learns_and_is_deterministic(sbm, augmenter):
    aug = (LocalAugmenter(random_state=0, **TINY) if augmenter == "cvae" else RandomNeighborAugmenter()).fit(sbm)
    kw = dict(augmenter=aug, random_state=3, device="cpu", max_epochs=20, patience=None, batch_size=32)
    a = fit_node_model("lagcn", sbm, num_neighbors=[5, 5], **kw)
    b = fit_node_model("lagcn", sbm, num_neighbors=[5, 5], **kw)
    assert a.val_loss == b.val_loss and a.test_acc == b.test_acc
    chance = 1 / 3
    assert a.test_acc > chance + 0.2


def test_minibatch_errors(sbm):
    with pytest.raises(InvalidParameterError, match="batch_size"):
        fit_node_model("gcn", sbm, num_neighbors=[5, 5], max_epochs=1)
    for bad in ([0], [2.5], "10", []):
        with pytest.raises(InvalidParameterError, match="num_neighbors"):
            fit_node_model("gcn", sbm, batch_size=8, num_neighbors=bad, max_epochs=1)
    with pytest.raises(InvalidParameterError, match="batch_size"):
        fit_node_model("gcn", sbm, batch_size=0, max_epochs=1)


def test_sparse_features_stay_sparse_in_batches(sbm):
    csr = sbm.x.to_sparse_csr()
    batches = _NeighborBatches(
        sbm, csr, None, 0, [3], 8, torch.device("cpu"), True, 1.0, torch.Generator().manual_seed(0), 0
    )
    xb, _, draw, nid, _ = next(batches.train())
    assert draw is None and xb.layout == torch.sparse_csr
    assert torch.equal(xb.to_dense(), sbm.x[nid])
