"""Loaders on the shared data (skipped when absent), lookup order and errors, generators."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_or_skip

from structaug import datasets as D
from structaug.exceptions import DatasetNotFoundError


def test_missing_dataset_names_every_path(tmp_path, monkeypatch):
    monkeypatch.setenv("STRUCTAUG_DATA", str(tmp_path / "env"))
    with pytest.raises(DatasetNotFoundError) as ei:
        D.load_seqrec("NoSuchSet", data_dir=tmp_path / "arg")
    msg = str(ei.value)
    assert "NoSuchSet" in msg and str(tmp_path / "arg") in msg and str(tmp_path / "env") in msg
    # ... and the shared copy beside the repository, the third place looked in
    assert all(str(d / "seqrec" / "NoSuchSet.txt") in msg for d in D.candidate_dirs(tmp_path / "arg"))


def test_lookup_order_prefers_argument_then_env(tmp_path, monkeypatch):
    (tmp_path / "env").mkdir()
    monkeypatch.setenv("STRUCTAUG_DATA", str(tmp_path / "env"))
    dirs = D.candidate_dirs(tmp_path / "arg")
    assert dirs[0] == tmp_path / "arg" and dirs[1] == tmp_path / "env"
    for where in ("env", "arg"):  # a copy in each: the argument's wins, then the environment's
        (tmp_path / where / "seqrec").mkdir(parents=True)
        (tmp_path / where / "seqrec" / "Tiny.txt").write_text("1 5\n")
        found = D.find_dataset("seqrec/Tiny.txt", "Tiny", tmp_path / "arg")
        assert found == tmp_path / where / "seqrec" / "Tiny.txt"
    assert D.find_dataset("seqrec/Tiny.txt", "Tiny") == tmp_path / "env" / "seqrec" / "Tiny.txt"
    # data_dir may point inside the layout: at the family's or the dataset's own folder
    assert D.find_dataset("seqrec/Tiny.txt", "Tiny", tmp_path / "arg" / "seqrec").parent == tmp_path / "arg" / "seqrec"


def test_seqrec_file_format(tmp_path):
    root = tmp_path / "seqrec"
    root.mkdir()
    (root / "Tiny.txt").write_text("1 5 6 7\n2 6 5\n")
    df = D.load_seqrec("Tiny", data_dir=tmp_path)
    assert df["user"].tolist() == [1, 1, 1, 2, 2]
    assert df["item"].tolist() == [5, 6, 7, 6, 5]
    assert df["timestamp"].tolist() == [0, 1, 2, 0, 1]
    (root / "Bad.txt").write_text("1 a b\n")
    with pytest.raises(ValueError, match="Bad.txt:1"):
        D.load_seqrec("Bad", data_dir=tmp_path)


def test_pmlb_layout_in_user_folder(tmp_path):
    import pandas as pd

    root = tmp_path / "tabular" / "pmlb"
    (root / "toy").mkdir(parents=True)
    pd.DataFrame({"target": [0, 1], "a": [1.0, 2.0]}).to_csv(root / "toy" / "toy.tsv.gz", sep="\t", index=False)
    pd.DataFrame({"name": ["toy"], "task": ["classification"]}).to_csv(root / "index.csv", index=False)
    X, y = D.load_pmlb("toy", data_dir=tmp_path)
    assert list(X.columns) == ["a"] and y.tolist() == [0, 1]
    with pytest.raises(DatasetNotFoundError, match="nope") as ei:
        D.load_pmlb("nope", data_dir=tmp_path)
    # every root was searched for the table itself, not only the first one with an index
    assert all(
        str(d / "tabular" / "pmlb" / "nope" / "nope.tsv.gz") in str(ei.value) for d in D.candidate_dirs(tmp_path)
    )


def test_planetoid_incomplete_raw_set_is_reported(tmp_path):
    raw = tmp_path / "planetoid" / "PubMed" / "raw"
    raw.mkdir(parents=True)
    (raw / "ind.pubmed.x").write_bytes(b"")
    with pytest.raises(DatasetNotFoundError, match="incomplete: missing ind.pubmed.tx"):
        D.load_planetoid("PubMed", data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown Planetoid"):
        D.load_planetoid("Reddit", data_dir=tmp_path)


@pytest.mark.shared_data
def test_planetoid_cora_public_split(tmp_path):
    data = shared_or_skip(D.load_planetoid, "Cora", cache=tmp_path)
    assert data.num_nodes == 2708 and data.x.shape[1] == 1433 and int(data.y.max()) == 6
    assert int(data.train_mask.sum()) == 140 and int(data.val_mask.sum()) == 500 and int(data.test_mask.sum()) == 1000
    # an incomplete copy in data_dir does not hide the complete shared one
    raw = tmp_path / "mine" / "planetoid" / "Cora" / "raw"
    raw.mkdir(parents=True)
    (raw / "ind.cora.x").write_bytes(b"")
    again = D.load_planetoid("Cora", data_dir=tmp_path / "mine", cache=tmp_path / "c2")
    assert again.num_nodes == 2708
    # data_dir may be the dataset's own folder
    shared = D.find_dataset("planetoid/Cora/raw", "Cora")
    assert D.load_planetoid("Cora", data_dir=shared.parent, cache=tmp_path / "c3").num_nodes == 2708


@pytest.mark.shared_data
def test_shared_seqrec_beauty():
    df = shared_or_skip(D.load_seqrec, "Beauty")
    assert len(df) == 198_502 and df["user"].nunique() == 22_363 and df["item"].max() == 12_101


@pytest.mark.shared_data
def test_shared_movielens():
    ml = shared_or_skip(D.load_movielens100k)
    assert len(ml.interactions) == 100_000 and len(ml.items) == 1682 and len(ml.users) == 943
    assert "é" in ml.items.loc[ml.items["item"] == 543, "title"].iloc[0]  # Latin-1 decoded


@pytest.mark.shared_data
def test_shared_pmlb_target_by_name():
    X, y = shared_or_skip(D.load_pmlb, "wine_recognition")  # target is the first column there
    assert X.shape == (178, 13) and "target" not in X.columns and sorted(y.unique()) == [1, 2, 3]
    idx = D.pmlb_index()
    assert {"name", "task", "n_rows"} <= set(idx.columns) and len(idx) >= 20


@pytest.mark.shared_data
def test_shared_tensors():
    idx, val = shared_or_skip(D.load_dain_tensor, "synthetic_10K")
    assert idx.shape == (10_000, 3) and idx.dtype == np.int64 and val.min() > 1.0
    df = shared_or_skip(D.load_comoda)
    assert df.shape == (2296, 30) and df["rating"].between(1, 5).all()


def test_generators_are_deterministic():
    a = D.make_sbm_graph(random_state=1)
    b = D.make_sbm_graph(random_state=1)
    assert (a.edge_index == b.edge_index).all() and (a.x == b.x).all()
    assert int(a.train_mask.sum()) == 40 and not (a.train_mask & a.test_mask).any()
    s1, s2 = D.make_sequences(n_users=50, random_state=2), D.make_sequences(n_users=50, random_state=2)
    assert s1.equals(s2) and s1.groupby("user")["timestamp"].is_monotonic_increasing.all()
    i1, v1 = D.make_lowrank_tensor(nnz=500, random_state=3)
    assert len(np.unique(i1, axis=0)) == 500 and np.isfinite(v1).all()
    inter, items, users = D.make_interactions(n_users=20, n_items=30)
    assert inter["item"].isin(items["item"]).all() and inter["user"].isin(users["user"]).all()


def test_available_datasets_rows():
    rows = D.available_datasets()
    assert {r["family"] for r in rows} >= {"graph", "sequence", "tensor", "table", "recsys"}


@pytest.mark.shared_data
def test_planetoid_processed_cache_is_per_content(tmp_path):
    """Another copy of Cora whose files differ (same names and sizes) gets its own processed
    cache: PyG's processed/ folder of the first copy is never served for it."""
    import pickle
    import shutil

    shared = shared_or_skip(D.find_dataset, "planetoid/Cora/raw", "Cora")
    first = D.load_planetoid("Cora", cache=tmp_path / "c")
    mine = tmp_path / "mine" / "planetoid" / "Cora"
    shutil.copytree(shared, mine / "raw")
    labels = mine / "raw" / "ind.cora.ally"  # the one-hot labels of the non-test nodes
    with open(labels, "rb") as fh:
        ally = pickle.load(fh, encoding="latin1")
    ally = np.roll(np.asarray(ally), 1, axis=1)  # every label shifted by one class
    with open(labels, "wb") as fh:
        pickle.dump(ally, fh, protocol=2)
    second = D.load_planetoid("Cora", data_dir=tmp_path / "mine", cache=tmp_path / "c")
    assert not np.array_equal(first.y.numpy(), second.y.numpy())  # before: the first copy's processed labels
    assert len([p for p in (tmp_path / "c").iterdir() if p.is_dir()]) == 2
