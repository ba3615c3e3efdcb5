"""Issue #20 for item sequences (MCLRec / SASRec / CL4SRec / SequenceViews / seqrec files).

Each reported case has a regression test, then a parametrised bad-input suite: every bad input
is a structaug exception whose message names the argument (or column), raised before any
work; inputs that are valid have their documented result asserted.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from structaug.datasets import make_sequences, read_seqrec_file
from structaug.exceptions import CorruptFileError, DataValidationError, InvalidParameterError, NotFittedError
from structaug.recsys import CL4SRec, MCLRec, SASRec, SequenceViews, SequentialRecommender
from structaug.recsys.interactions import UnknownIdError, check_interactions
from structaug.recsys.mclrec import _recommender as rec_mod
from structaug.recsys.mclrec._data import (
    build_sequences,
    five_core,
    leave_one_out,
    pad_sequences,
    prefix_examples,
    prepare_interactions,
)
from structaug.recsys.mclrec._training import evaluate_ranking

TINY = dict(
    hidden_size=8,
    n_layers=1,
    n_heads=1,
    inner_size=8,
    max_epochs=1,
    batch_size=32,
    device="cpu",
    verbose=False,
    random_state=0,
)


@pytest.fixture(scope="module")
def log():
    return make_sequences(n_users=20, n_items=15, n_clusters=3, min_len=4, max_len=6, random_state=0)


@pytest.fixture(scope="module")
def fitted(log):
    return SequentialRecommender(model="sasrec", **TINY).fit(log)


def _lists(frame: pd.DataFrame) -> list[list]:
    """The item lists of a ``recommend`` frame, one per queried user (in order; rank 1 starts one)."""
    items = frame["item"].to_numpy()
    return (
        [part.tolist() for part in np.split(items, np.flatnonzero(frame["rank"].to_numpy() == 1)[1:])]
        if len(frame)
        else []
    )


def _sequences(rec: SequentialRecommender) -> dict:
    """user -> raw item ids in the order the model sees them."""
    return {u: rec.items_.decode(s).tolist() for u, s in zip(rec.users_.raw_.tolist(), rec.sequences_)}


# -- case 1: timestamps compared as times, not text -----------------------------------------------
def _numeric_only_log() -> pd.DataFrame:
    """Per-user order that is right numerically and wrong as text ("10" < "9" < "100")."""
    return pd.DataFrame(
        {
            "user": [1, 1, 1, 1, 2, 2, 2],
            "item": [11, 12, 13, 14, 12, 13, 15],
            "timestamp": [9, 100, 10, 1000, 20, 3, 200],
        }
    )


def test_string_timestamps_sort_as_numbers_and_the_callers_frame_is_untouched():
    df = _numeric_only_log()
    as_text = df.assign(timestamp=df["timestamp"].astype(str))
    before = as_text.copy()
    want = prepare_interactions(df)["item"].tolist()
    assert want == [11, 13, 12, 14, 13, 12, 15]  # user 1: 9, 10, 100, 1000; user 2: 3, 20, 200
    got = prepare_interactions(as_text)
    assert got["item"].tolist() == want
    assert got["timestamp"].tolist() == ["9", "10", "100", "1000", "3", "20", "200"]  # values kept as given
    pd.testing.assert_frame_equal(as_text, before)  # never mutated
    a = SequentialRecommender(model="popularity").fit(df)
    b = SequentialRecommender(model="popularity").fit(as_text.sample(frac=1.0, random_state=0))
    assert _sequences(a) == _sequences(b) == {1: [11, 13, 12, 14], 2: [13, 12, 15]}


@pytest.mark.parametrize(
    "convert",
    [
        lambda t: pd.to_datetime(t, unit="s"),
        lambda t: pd.to_datetime(t, unit="s").dt.tz_localize("UTC").dt.tz_convert("America/New_York"),
        lambda t: pd.to_datetime(t, unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S"),  # ISO-8601 strings
        lambda t: t.astype(float),
    ],
    ids=["datetime64", "tz-aware", "iso-strings", "float"],
)
def test_date_timestamps_give_the_same_sequences(convert):
    df = _numeric_only_log()
    other = df.assign(timestamp=convert(df["timestamp"]))
    assert prepare_interactions(other)["item"].tolist() == prepare_interactions(df)["item"].tolist()


@pytest.mark.parametrize(
    "ts",
    [
        pd.Series([1, "2", 3], dtype=object),
        ["2020-01-01", 5, "2020-01-02"],
        ["yesterday", "today", "tomorrow"],
        [True, False, True],
        [1.0, float("nan"), 2.0],
        [1.0, float("inf"), 2.0],
    ],
    ids=["int+str", "date+int", "free-text", "bool", "nan", "inf"],
)
def test_bad_timestamps_raise_naming_the_column(ts):
    df = pd.DataFrame({"user": [1, 1, 1], "item": [1, 2, 3], "timestamp": ts})
    for call in (prepare_interactions, lambda d: SequentialRecommender(**TINY).fit(d), check_interactions):
        with pytest.raises(DataValidationError, match=r"interactions\['timestamp'\]"):
            call(df)


def test_evaluate_orders_held_out_rows_by_numeric_string_time(fitted, monkeypatch):
    """Held-out rows extend the history in numeric time order: "9" comes before "10"."""
    seen = fitted.items_.raw_[fitted.sequences_[0] - 1].tolist()
    u = fitted.users_.raw_[0].item()
    held = pd.DataFrame({"user": [u, u], "item": [seen[0], seen[1]], "timestamp": ["10", "9"]})
    calls = []
    monkeypatch.setattr(rec_mod, "evaluate_ranking", lambda model, h, t, ks: calls.append((h, t)) or {})
    fitted.evaluate(held, ks=(5,))
    ((h, t),) = calls
    first, second = fitted.items_.encode([seen[1], seen[0]]).tolist()  # "9" then "10"
    assert t.tolist() == [first, second]
    base = fitted.sequences_[0].tolist()
    assert h.tolist() == pad_sequences([np.asarray(base), np.asarray(base + [first])], fitted.max_len).tolist()


# -- case 2: unknown users / items, ids out of range ---------------------------------------------
def test_unknown_users_and_items_are_named_before_any_scoring(fitted, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("scored before the ids were checked")

    monkeypatch.setattr(fitted.model_, "full_scores", boom)
    for call, what in [
        (lambda: fitted.recommend([999, 998, 1], k=3), r"unknown user\(s\) \[999, 998\] \(2 in total\)"),
        (lambda: fitted.score_items([999]), r"unknown user\(s\) \[999\]"),
        (lambda: fitted.score_items([1], [1, 777]), r"unknown item\(s\) \[777\]"),
        (lambda: fitted.evaluate(pd.DataFrame({"user": [999], "item": [1]}), ks=(5,)), r"unknown user"),
        (lambda: fitted.evaluate(pd.DataFrame({"user": [1], "item": [777]}), ks=(5,)), r"unknown item"),
    ]:
        with pytest.raises(UnknownIdError, match=what) as err:
            call()
        assert isinstance(err.value, DataValidationError) and isinstance(err.value, KeyError)


def test_unknown_user_popular_fallback_is_the_popularity_ranking(fitted):
    got = fitted.recommend([999, 998], k=4, unknown="popular")
    counts = fitted.popularity_.counts.numpy()
    # the popularity ranking, ties broken by the lower internal id (the contract's tie order)
    top = fitted.items_.decode(np.argsort(-counts, kind="stable")[:4] + 1)
    assert got["user"].tolist() == [999] * 4 + [998] * 4 and got["rank"].tolist() == [1, 2, 3, 4] * 2
    assert _lists(got) == [top.tolist(), top.tolist()]
    assert got["score"].tolist() == np.tile(np.sort(counts)[::-1][:4], 2).tolist()


@pytest.mark.parametrize(
    "seqs,match",
    [
        (torch.tensor([[1, 99]]), r"seqs has item id 99 outside 0\.\.16"),
        (torch.tensor([[1, -2]]), r"seqs has item id -2"),
        (torch.ones(1, 7, dtype=torch.long), r"seqs is 7 wide but the model has max_len=6"),
        (torch.tensor([[1.0, 2.0]]), r"seqs must hold integer item ids"),
        (torch.tensor([1, 2]), r"seqs must be 2-D"),
    ],
    ids=["above-catalogue", "negative", "too-wide", "float", "1-D"],
)
def test_model_scoring_checks_ids_instead_of_an_embedding_indexerror(seqs, match):
    m = SASRec(15, max_len=6, hidden_size=8, n_layers=1, n_heads=1, inner_size=8)
    with pytest.raises(DataValidationError, match=match):
        m.full_scores(seqs)
    if seqs.dim() == 2:  # (a 1-D batch fails earlier inside evaluate_ranking: training.py)
        # evaluate_ranking checks the whole batch first, under its own argument name
        with pytest.raises(DataValidationError, match=match.replace("seqs", "histories")):
            evaluate_ranking(m, seqs, torch.ones(len(seqs), dtype=torch.long))
    assert m.full_scores(torch.tensor([[1, 16, 0]])).shape == (1, 15)  # the mask token (16) is a valid input


# -- case 3: hyper-parameters checked in fit, before the data is read -----------------------------
@pytest.mark.parametrize(
    "param,value",
    [
        ("batch_size", 0),
        ("batch_size", 1),
        ("batch_size", 2.5),
        ("max_epochs", 0),
        ("max_epochs", -1),
        ("lr", 0.0),
        ("lr", float("nan")),
        ("lr", -1e-3),
        ("max_len", 0),
        ("hidden_size", 0),
        ("n_layers", 0),
        ("n_heads", 0),
        ("inner_size", 0),
        ("dropout", 1.0),
        ("dropout", float("nan")),
        ("crop_ratio", 0.0),
        ("crop_ratio", 1.5),
        ("mask_ratio", -0.1),
        ("mask_ratio", float("nan")),
        ("reorder_ratio", 0.0),
        ("reorder_ratio", 2.0),
        ("temperature", 0.0),
        ("temperature", float("inf")),
        ("beta", float("nan")),
        ("beta", -1.0),
        ("lmd", -0.5),
        ("patience", 0),
        ("min_core", 0),
        ("model", "gru"),
        ("precision", "fp16"),
        ("device", "tpu"),
        ("random_state", -1),
        ("random_state", "seed"),
        ("bucket", "yes"),
        ("verbose", 1),
    ],
)
def test_bad_hyper_parameters_raise_before_the_data_is_read(param, value, log, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("data read before the parameters were checked")

    monkeypatch.setattr(rec_mod, "prepare_interactions", boom)
    # the view ratios belong to the SequenceViews passed as views=
    kw = {"views": SequenceViews(**{param: value})} if param.endswith("_ratio") else {param: value}
    with pytest.raises(InvalidParameterError, match=param):
        SequentialRecommender(**{**TINY, "model": "mclrec", **kw}).fit(log)


@pytest.mark.parametrize(
    "views,match",
    [
        ("crop", "views must be a SequenceViews instance or None, got str"),
        (SequenceViews(mask_id=99), r"leave mask_id as None.*mask_id=99"),
    ],
)
def test_bad_views_raise_before_the_data_is_read(views, match, log, monkeypatch):
    monkeypatch.setattr(rec_mod, "prepare_interactions", lambda *a, **k: pytest.fail("data read"))
    with pytest.raises(InvalidParameterError, match=match):
        SequentialRecommender(**{**TINY, "model": "cl4srec", "views": views}).fit(log)


def test_hidden_not_divisible_by_heads_names_both():
    with pytest.raises(InvalidParameterError, match=r"hidden_size \(10\) must be divisible by n_heads \(4\)"):
        SequentialRecommender(**{**TINY, "hidden_size": 10, "n_heads": 4}).fit(pd.DataFrame({"user": [1], "item": [1]}))


@pytest.mark.parametrize(
    "cls,kwargs,name",
    [
        (SASRec, {"n_items": 0}, "n_items"),
        (SASRec, {"hidden_size": 0}, "hidden_size"),
        (SASRec, {"n_heads": 0}, "n_heads"),
        (SASRec, {"max_len": -1}, "max_len"),
        (SASRec, {"dropout": 1.5}, "dropout"),
        (SASRec, {"attn_dropout": -0.1}, "attn_dropout"),
        (CL4SRec, {"temperature": 0.0}, "temperature"),
        (CL4SRec, {"lmd": float("nan")}, "lmd"),
        (CL4SRec, {"sim": "l2"}, "sim"),
        (MCLRec, {"beta": -1.0}, "beta"),
        (MCLRec, {"reg_weight": float("inf")}, "reg_weight"),
    ],
)
def test_module_constructors_name_the_bad_parameter(cls, kwargs, name):
    kw = {"n_items": 10, "hidden_size": 8, "n_heads": 1, "inner_size": 8, **kwargs}
    with pytest.raises(InvalidParameterError, match=name):
        cls(kw.pop("n_items"), **kw)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"crop_ratio": 0.0}, "crop_ratio"),
        ({"crop_ratio": float("nan")}, "crop_ratio"),
        ({"mask_ratio": 1.01}, "mask_ratio"),
        ({"reorder_ratio": -1}, "reorder_ratio"),
        ({"operators": ()}, "operators"),
        ({"operators": ("crop", "crop")}, "operators"),
        ({"operators": "crop"}, "operators"),
        ({"operators": ("drop",)}, "operators"),
        ({"mask_id": 0}, "mask_id"),
        ({"mask_id": -3}, "mask_id"),
        ({"mask_id": 2.5}, "mask_id"),
        ({"mask_id": "a"}, "mask_id"),
        ({"mask_id": True}, "mask_id"),
    ],
)
def test_sequence_views_parameters(kwargs, name):
    with pytest.raises(InvalidParameterError, match=name):
        SequenceViews(**kwargs).fit(torch.tensor([[1, 2, 3]]))


@pytest.mark.parametrize("k", [0, -1, 2.0, True, "3", None])
def test_recommend_k_must_be_a_positive_int(fitted, k):
    with pytest.raises(InvalidParameterError, match="k must be"):
        fitted.recommend([1], k=k)


def test_k_above_the_catalogue_raises_naming_k(fitted):
    n = len(fitted.items_)
    with pytest.raises(InvalidParameterError, match=rf"k={n + 1} exceeds the number of items in the catalogue \({n}\)"):
        fitted.recommend([1], k=n + 1, exclude_seen=False)
    with pytest.raises(InvalidParameterError, match="ks holds k=16"):
        fitted.evaluate(ks=(5, n + 1))
    for bad in [(0,), (), "5", (2.5,)]:
        with pytest.raises(InvalidParameterError, match="ks"):
            fitted.evaluate(ks=bad)


def test_recommend_never_returns_a_seen_item(fitted):
    """k up to the number of unseen items: exactly the unseen ones; one more: an error naming the user."""
    n = len(fitted.items_)
    users = fitted.users_.raw_.tolist()
    unseen = {u: set(range(1, n + 1)) - set(fitted.sequences_[i].tolist()) for i, u in enumerate(users)}
    u = min(users, key=lambda x: len(unseen[x]))
    m = len(unseen[u])
    got = fitted.recommend([u], k=m)["item"]
    assert set(fitted.items_.encode(got).tolist()) == unseen[u]
    # one more than the unseen items: still only those, never a seen one (fewer rows than k)
    more = fitted.recommend([u], k=m + 1)
    assert more["item"].tolist() == got.tolist() and more["rank"].tolist() == list(range(1, m + 1))
    # without exclusion the whole catalogue is available, seen items included
    assert len(set(fitted.recommend([u], k=n, exclude_seen=False)["item"])) == n
    with pytest.raises(InvalidParameterError, match="exclude_seen"):
        fitted.recommend([u], k=1, exclude_seen="no")


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: pad_sequences([np.array([1, 2])], 0), "max_len"),
        (lambda: prefix_examples([np.array([1, 2])], -1), "max_len"),
        (lambda: leave_one_out([np.array([1, 2, 3])], min_len=2), r"min_len must be >= 3"),
        (lambda: build_sequences(pd.DataFrame({"user": [1], "item": [1]}), min_len=0), "min_len"),
        (lambda: five_core(pd.DataFrame({"user": [1], "item": [1]}), k=0), "k"),
    ],
)
def test_low_level_helpers_check_their_sizes(call, name):
    with pytest.raises(InvalidParameterError, match=name):
        call()


# -- the bad-input suite --------------------------------------------------------------------------
BAD_FRAMES = {
    "empty": (pd.DataFrame({"user": [], "item": []}), DataValidationError, r"interactions is empty"),
    "list": ([[1, 2], [1, 3]], InvalidParameterError, r"interactions must be a pandas DataFrame"),
    "ndarray": (np.ones((3, 2)), InvalidParameterError, r"interactions must be a pandas DataFrame"),
    "none": (None, InvalidParameterError, r"interactions must be a pandas DataFrame"),
    "wrong-columns": (
        pd.DataFrame({"uid": [1], "iid": [2]}),
        DataValidationError,
        r"interactions is missing column\(s\) \['user', 'item'\]",
    ),
    "nan-item": (
        pd.DataFrame({"user": [1, 1, 1], "item": [1.0, np.nan, 2.0]}),
        DataValidationError,
        r"interactions\['item'\] has 1 missing",
    ),
    "nan-user": (
        pd.DataFrame({"user": ["a", None, "a"], "item": [1, 2, 3]}),
        DataValidationError,
        r"interactions\['user'\] has 1 missing",
    ),
    "inf-item": (
        pd.DataFrame({"user": [1, 1, 1], "item": [1.0, np.inf, 2.0]}),
        DataValidationError,
        r"interactions\['item'\] has infinite",
    ),
    "mixed-items": (
        pd.DataFrame({"user": [1, 1, 1], "item": [1, "b", 2]}),
        DataValidationError,
        r"interactions\['item'\] mixes id types \['int', 'str'\]",
    ),
    "mixed-users": (
        pd.DataFrame({"user": [1, "1", 1], "item": [1, 2, 3]}),
        DataValidationError,
        r"interactions\['user'\] mixes id types",
    ),
    "bool-items": (
        pd.DataFrame({"user": [1, 1, 1], "item": [True, False, True]}),
        DataValidationError,
        r"interactions\['item'\] holds booleans",
    ),
    "one-row": (pd.DataFrame({"user": [1], "item": [1]}), DataValidationError, r"nothing to learn from"),
    "all-single": (pd.DataFrame({"user": [1, 2, 3], "item": [1, 2, 3]}), DataValidationError, r"nothing to learn from"),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_bad_logs_raise_a_structaug_error_naming_the_argument(case):
    data, exc, match = BAD_FRAMES[case]
    with pytest.raises(exc, match=match):
        SequentialRecommender(model="sasrec", **TINY).fit(data)


def test_negative_and_float_ids_are_labels():
    """Raw ids are labels of any hashable type: negative ints work and come back unchanged."""
    df = pd.DataFrame(
        {"user": [-1, -1, -1, -2, -2, -2], "item": [-5, -6, -7, -6, -7, -8], "timestamp": [1, 2, 3, 1, 2, 3]}
    )
    rec = SequentialRecommender(model="sasrec", **TINY).fit(df)
    assert _sequences(rec) == {-2: [-6, -7, -8], -1: [-5, -6, -7]}
    assert rec.recommend([-1], k=1)["item"].tolist() == [-8]  # the one item user -1 has not seen
    assert rec.recommend([-2], k=1)["item"].tolist() == [-5]


def test_one_user_and_users_with_a_single_interaction():
    """A single user trains; single-interaction users train nothing but stay recommendable and
    are left out of ``evaluate()`` (no target to score)."""
    df = pd.DataFrame({"user": [1, 1, 1, 1, 2, 3], "item": [1, 2, 3, 4, 5, 1], "timestamp": [1, 2, 3, 4, 1, 1]})
    rec = SequentialRecommender(model="sasrec", **TINY).fit(df)
    assert rec.sequences_[rec.users_.encode([2])[0]].tolist() == rec.items_.encode([5]).tolist()
    assert rec.recommend([1], k=1)["item"].tolist() == [5]  # the only unseen item
    assert 5 not in set(rec.recommend([2], k=4)["item"])
    pop = SequentialRecommender(model="popularity").fit(df)
    # only user 1 (four items) has a target: item 4 after [1, 2, 3]; popularity: 1 (2 hits), then 2, 3, 4, 5
    got = pop.evaluate(ks=(1, 5))
    counts = pop.popularity_.counts.numpy()
    j = pop.items_.encode([4])[0] - 1
    rank = int((counts > counts[j]).sum() + (counts[:j] == counts[j]).sum())  # ties: lower id first
    assert got["hr@1"] == float(rank < 1) and got["hr@5"] == float(rank < 5) == 1.0
    assert got["ndcg@5"] == pytest.approx(1 / math.log2(rank + 2))
    one = SequentialRecommender(model="sasrec", **TINY).fit(df[df.user == 1])  # one user, four items
    assert set(one.recommend([1], k=4, exclude_seen=False)["item"]) == {1, 2, 3, 4}
    assert one.recommend([1], k=1).empty  # they have seen the whole catalogue: no row, not a seen item


def test_duplicates_are_warned_and_dropped_once():
    df = pd.DataFrame({"user": [1, 1, 1, 1], "item": [1, 2, 2, 3], "timestamp": ["1", "2", "2.0", "3"]})
    with pytest.warns(UserWarning, match=r"dropped 1 exact duplicate"):
        out = prepare_interactions(df)
    assert out["item"].tolist() == [1, 2, 3]  # "2" and "2.0" are the same time
    again = df.assign(timestamp=["1", "2", "5", "3"])  # a genuine repeat at another time
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert prepare_interactions(again)["item"].tolist() == [1, 2, 3, 2]


@pytest.mark.parametrize("method", ["recommend", "score_items", "evaluate", "save"])
def test_calls_before_fit(method, tmp_path):
    rec = SequentialRecommender()
    args = {"recommend": ([1],), "score_items": ([1],), "evaluate": (), "save": (tmp_path / "x.pt",)}[method]
    with pytest.raises(NotFittedError):
        getattr(rec, method)(*args)
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.parametrize(
    "users,exc,match",
    [
        (None, DataValidationError, "users must be a 1-D list"),
        ([[1, 2]], DataValidationError, r"users must be a 1-D list"),
        (1, DataValidationError, r"users must be a 1-D list"),  # a scalar is refused, not taken as one user
        ([1.5], UnknownIdError, r"unknown user\(s\) \[1.5\]"),
        (["1"], UnknownIdError, r"unknown user\(s\) \['1'\]"),  # str "1" is not the int user 1
    ],
)
def test_recommend_bad_user_ids(fitted, users, exc, match):
    with pytest.raises(exc, match=match):
        fitted.recommend(users, k=2)


def test_recommend_edge_cases_that_are_valid(fitted):
    empty = fitted.recommend([], k=3)
    assert empty.shape == (0, 4) and list(empty.columns) == ["user", "item", "rank", "score"]
    once = fitted.recommend([1], k=3)
    twice = fitted.recommend([1, 1], k=3)  # a user listed twice appears twice
    assert _lists(twice) == [once["item"].tolist()] * 2 and twice["user"].tolist() == [1] * 6
    with pytest.raises(InvalidParameterError, match="unknown must be one of"):
        fitted.recommend([1], k=3, unknown="skip")


def test_recommend_refuses_nan_scores(fitted, monkeypatch):
    monkeypatch.setattr(fitted.model_, "full_scores", lambda s: torch.full((len(s), len(fitted.items_)), float("nan")))
    with pytest.raises(DataValidationError, match="NaN"):
        fitted.recommend([1], k=2)


def test_fit_does_not_mutate_the_callers_frame(log):
    df = log.sample(frac=1.0, random_state=1).assign(timestamp=lambda d: d["timestamp"].astype(str))
    before = df.copy()
    SequentialRecommender(model="popularity").fit(df)
    pd.testing.assert_frame_equal(df, before)


# -- SequenceViews on empty / garbage input ------------------------------------------------------
@pytest.mark.parametrize(
    "data,exc,match",
    [
        ([[1, 2]], InvalidParameterError, r"sequences must be a padded torch.LongTensor"),
        (np.array([[1, 2]]), InvalidParameterError, r"sequences must be a padded torch.LongTensor"),
        (None, InvalidParameterError, r"sequences must be a padded torch.LongTensor"),
        (torch.tensor([1, 2]), DataValidationError, r"sequences must be 2-D"),
        (torch.tensor([[1.0, 2.0]]), DataValidationError, r"sequences must hold integer item ids"),
        (torch.tensor([[1, -2]]), DataValidationError, r"sequences has negative ids"),
        (torch.tensor([[0, 1, 2]]), DataValidationError, r"sequences must be left-aligned"),
    ],
)
def test_sequence_views_garbage(data, exc, match):
    views = SequenceViews(random_state=0).fit(torch.tensor([[1, 2, 3]]))
    with pytest.raises(exc, match=match):
        views.sample(data)
    with pytest.raises(exc, match=match):
        SequenceViews().fit(data)


def test_sequence_views_empty_input():
    for empty in (torch.zeros(0, 4, dtype=torch.long), torch.zeros(3, 4, dtype=torch.long)):
        with pytest.raises(DataValidationError, match=r"sequences has no items"):
            SequenceViews().fit(empty)
    views = SequenceViews(random_state=0).fit(torch.tensor([[1, 2, 3, 0]]))
    out = views.sample(torch.zeros(0, 4, dtype=torch.long))  # an empty batch gives empty views
    assert len(out) == 2 and all(v.shape == (0, 4) and v.dtype == torch.long for v in out)
    pad = torch.tensor([[0, 0, 0, 0], [2, 0, 0, 0]])  # all-padding and one-item rows are copied unchanged
    assert all(torch.equal(v, pad) for v in views.sample(pad))
    with pytest.raises(InvalidParameterError, match=r"n must be >= 1"):
        views.sample(pad, 0)
    with pytest.raises(NotFittedError):
        SequenceViews().sample(pad)


# -- seqrec files --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,match",
    [
        ("1 5 6 7\n2 5 6\n1 8 9\n", r"f\.txt:3: user 1 already has a sequence on line 1"),
        ("", r"f\.txt holds no interactions"),
        ("\n1\n", r"f\.txt holds no interactions"),
        ("1 5 x\n", r"f\.txt:1: expected integer ids"),
    ],
)
def test_seqrec_file_errors(tmp_path, text, match):
    (tmp_path / "f.txt").write_text(text)
    with pytest.raises(DataValidationError, match=match):
        read_seqrec_file(tmp_path / "f.txt")


def test_seqrec_file_round_trip(tmp_path):
    (tmp_path / "f.txt").write_text("3 5 6 7\n2 6 5\n")
    df = read_seqrec_file(tmp_path / "f.txt")
    log = build_sequences(prepare_interactions(df))
    assert [log.items.decode(s).tolist() for s in log.sequences] == [[6, 5], [5, 6, 7]]


# -- save / load ----------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"not a torch file", b"PK\x03\x04truncated"])
def test_load_of_a_corrupt_file(tmp_path, content):
    (tmp_path / "m.pt").write_bytes(content)
    with pytest.raises(CorruptFileError, match=r"m\.pt"):
        SequentialRecommender.load(tmp_path / "m.pt")


# -- the training and evaluation loops check ids before the Trainer starts (lead) ---------------
def test_fit_sequential_and_evaluate_ranking_check_ids_first():
    import torch

    from structaug.exceptions import DataValidationError
    from structaug.recsys.mclrec._sasrec import SASRec
    from structaug.recsys.mclrec._training import evaluate_ranking, fit_sequential

    model = SASRec(5, hidden_size=8, n_layers=1, n_heads=1, max_len=4)
    X = torch.tensor([[0, 1, 2, 3], [0, 0, 2, 4]])
    gen = torch.Generator().manual_seed(0)
    kw = dict(device=torch.device("cpu"), seed=0, gen=gen, views=SequenceViews(), max_epochs=1, verbose=False)
    for y, match in [
        (torch.tensor([3, 6]), "targets has item id 6 outside 1..5"),
        (torch.tensor([0, 2]), "targets has item id 0 outside 1..5"),
        (torch.tensor([2]), "targets has 1 rows but the histories have 2"),
        (torch.tensor([2.0, 3.0]), "integer item ids"),
    ]:
        with pytest.raises(DataValidationError, match=match):
            fit_sequential(model, X, y, **kw)
    with pytest.raises(DataValidationError, match="valid\\[0\\]"):
        fit_sequential(model, X, torch.tensor([2, 3]), valid=(torch.tensor([[0, 0, 0, 9]]), torch.tensor([1])), **kw)
    with pytest.raises(DataValidationError, match="histories must be 2-D"):
        evaluate_ranking(model, torch.tensor([1, 2]), torch.tensor([1, 2]))
    with pytest.raises(DataValidationError, match="targets has item id 7"):
        evaluate_ranking(model, X, torch.tensor([1, 7]))


def test_categorical_users_keep_their_category_order():
    from structaug.recsys.mclrec._data import prepare_interactions

    users = pd.Categorical(["b", "a", "b", "a"], categories=["b", "a"])
    df = pd.DataFrame({"user": users, "item": [1, 2, 3, 4], "timestamp": [2, 2, 1, 1]})
    out = prepare_interactions(df)
    # sorted by (user in category order, time), as sorting the frame itself does
    assert list(out["user"]) == ["b", "b", "a", "a"] and list(out["item"]) == [3, 1, 4, 2]
