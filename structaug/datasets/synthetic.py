"""Generated data with known structure, for the demo and the tests (no files needed).

Every generator takes ``random_state`` and returns the same data for the same seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..exceptions import InvalidParameterError
from ..random import RandomState, check_random_state
from ..validation import check_positive_int

__all__ = ["make_interactions", "make_lowrank_tensor", "make_sbm_graph", "make_sequences"]


def make_sbm_graph(
    n_nodes: int = 400,
    n_classes: int = 4,
    n_features: int = 64,
    *,
    avg_degree: float = 6.0,
    homophily: float = 0.8,
    feature_signal: float = 0.3,
    train_per_class: int = 10,
    n_val: int = 100,
    random_state: RandomState = 0,
):
    """A stochastic-block-model graph with sparse binary bag-of-words features.

    Each class owns a block of "topic words" switched on with probability
    ``feature_signal``; every word is also on with a small background rate, so features
    alone are noisy and neighbours help (the regime of citation graphs). Features are
    row-normalised like PyG's ``NormalizeFeatures``. Masks follow Planetoid's public-split
    shape: ``train_per_class`` per class, ``n_val`` validation, the rest test.
    """
    from torch_geometric.data import Data
    from torch_geometric.utils import to_undirected

    rng = check_random_state(random_state)
    y = rng.integers(0, n_classes, n_nodes)
    n_edges = int(n_nodes * avg_degree / 2)
    src = rng.integers(0, n_nodes, n_edges * 3)
    dst = rng.integers(0, n_nodes, n_edges * 3)
    same = y[src] == y[dst]
    # accept same-class pairs with prob homophily, cross-class with 1 - homophily
    keep = rng.random(len(src)) < np.where(same, homophily, 1 - homophily) * 1.0
    keep &= src != dst
    src, dst = src[keep][:n_edges], dst[keep][:n_edges]
    edge_index = to_undirected(torch.as_tensor(np.stack([src, dst]), dtype=torch.long), num_nodes=n_nodes)

    words_per_class = n_features // n_classes
    x = (rng.random((n_nodes, n_features)) < 0.03).astype(np.float32)
    for c in range(n_classes):
        rows = np.where(y == c)[0]
        block = slice(c * words_per_class, (c + 1) * words_per_class)
        x[rows, block] = np.maximum(x[rows, block], rng.random((len(rows), words_per_class)) < feature_signal)
    x[x.sum(1) == 0, rng.integers(0, n_features)] = 1.0
    x = x / x.sum(1, keepdims=True)

    order = rng.permutation(n_nodes)
    train = np.zeros(n_nodes, bool)
    for c in range(n_classes):
        train[[i for i in order if y[i] == c][:train_per_class]] = True
    rest = [i for i in order if not train[i]]
    val = np.zeros(n_nodes, bool)
    val[rest[:n_val]] = True
    test = ~(train | val)
    return Data(
        x=torch.as_tensor(x),
        edge_index=edge_index,
        y=torch.as_tensor(y, dtype=torch.long),
        train_mask=torch.as_tensor(train),
        val_mask=torch.as_tensor(val),
        test_mask=torch.as_tensor(test),
    )


def make_sequences(
    n_users: int = 600,
    n_items: int = 300,
    *,
    n_clusters: int = 10,
    min_len: int = 5,
    max_len: int = 20,
    p_follow: float = 0.8,
    random_state: RandomState = 0,
) -> pd.DataFrame:
    """Item sequences with a learnable order: users mostly move to the "next" item of their
    current item's cluster, with a popularity-skewed random jump otherwise.

    Returns a ``user, item, timestamp`` frame (ids from 1, timestamps increasing per user).
    """
    rng = check_random_state(random_state)
    cluster = rng.integers(0, n_clusters, n_items)
    members = [np.where(cluster == c)[0] for c in range(n_clusters)]
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    pop /= pop.sum()
    rows = []
    for u in range(1, n_users + 1):
        length = int(rng.integers(min_len, max_len + 1))
        item = int(rng.choice(n_items, p=pop))
        t = int(rng.integers(0, 10_000))
        for _ in range(length):
            rows.append((u, item + 1, t))
            t += int(rng.integers(1, 1000))
            m = members[cluster[item]]
            if rng.random() < p_follow and len(m) > 1:
                pos = int(np.searchsorted(m, item))
                item = int(m[(pos + 1) % len(m)])
            else:
                item = int(rng.choice(n_items, p=pop))
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"])


def make_lowrank_tensor(
    shape: tuple[int, ...] = (60, 50, 8),
    rank: int = 3,
    nnz: int = 6000,
    *,
    noise: float = 0.1,
    nonlinear: bool = True,
    random_state: RandomState = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed cells of a (optionally non-linearly squashed) CP low-rank tensor.

    Returns distinct indices [nnz, order] (int64) and values [nnz] (float64) on a 1–5 scale.
    """
    rng = check_random_state(random_state)
    if not isinstance(shape, (tuple, list)) or not shape:
        raise InvalidParameterError(f"shape must be a non-empty tuple of mode sizes, got {shape!r}")
    for m, size in enumerate(shape):
        check_positive_int(size, f"shape[{m}]")
    check_positive_int(rank, "rank")
    check_positive_int(nnz, "nnz")
    total = int(np.prod([int(s) for s in shape], dtype=object))
    if nnz > total:
        raise InvalidParameterError(f"nnz={nnz} exceeds the number of cells {total} of shape {tuple(shape)}")
    factors = [rng.normal(size=(s, rank)) for s in shape]
    if total <= 5_000_000:
        flat = rng.choice(total, size=nnz, replace=False)
    else:
        flat = np.unique(rng.integers(0, total, int(nnz * 1.1)))
        # a dense request can collide more than the 10 % margin allows: draw until nnz distinct
        # cells exist instead of returning fewer (the first draw, and so the cells, are unchanged
        # whenever it sufficed)
        while len(flat) < nnz:
            free = 1.0 - len(flat) / total  # share of draws that land on a new cell
            flat = np.union1d(flat, rng.integers(0, total, int((nnz - len(flat)) * 1.1 / free) + 16))
        flat = rng.permutation(flat)[:nnz]
    idx = np.stack(np.unravel_index(flat, shape), axis=1).astype(np.int64)
    val = np.ones(len(idx))
    prod = np.ones((len(idx), rank))
    for m, f in enumerate(factors):
        prod *= f[idx[:, m]]
    val = prod.sum(1) / np.sqrt(rank)
    if nonlinear:
        val = np.tanh(val)
    val = 3.0 + 1.5 * val / (np.abs(val).max() + 1e-12)
    val = val + noise * rng.normal(size=len(val))
    return idx, val


def make_interactions(
    n_users: int = 200,
    n_items: int = 150,
    *,
    n_genres: int = 6,
    per_user: tuple[int, int] = (8, 25),
    random_state: RandomState = 0,
):
    """An implicit-feedback log with item metadata and user demographics.

    Users prefer one or two genres; items carry a genre, a year and a title. Returns
    ``(interactions, items, users)`` frames shaped like :func:`load_movielens100k`'s.
    """
    rng = check_random_state(random_state)
    genres = [f"genre{g}" for g in range(n_genres)]
    item_genre = rng.integers(0, n_genres, n_items)
    items = pd.DataFrame(
        {
            "item": np.arange(1, n_items + 1),
            "title": [f"Item {i} ({1980 + i % 40})" for i in range(1, n_items + 1)],
            "year": 1980 + np.arange(1, n_items + 1) % 40,
            "genres": [genres[g] for g in item_genre],
        }
    )
    occupations = ["student", "engineer", "artist", "doctor", "writer"]
    users = pd.DataFrame(
        {
            "user": np.arange(1, n_users + 1),
            "age": rng.integers(18, 70, n_users),
            "gender": rng.choice(["M", "F"], n_users),
            "occupation": rng.choice(occupations, n_users),
        }
    )
    rows: list[tuple[int, int, float, int]] = []
    for u in range(1, n_users + 1):
        fav = rng.choice(n_genres, size=2, replace=False)
        w = np.where(np.isin(item_genre, fav), 8.0, 1.0)
        w /= w.sum()
        k = int(rng.integers(per_user[0], per_user[1] + 1))
        chosen = rng.choice(n_items, size=k, replace=False, p=w)
        ts = np.sort(rng.integers(0, 100_000, k))
        rows.extend((u, int(i) + 1, 1.0, int(t)) for i, t in zip(chosen, ts))
    inter = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    return inter, items, users
