"""Issue #20 for LLMRec, LightGCN/MF-BPR and the LLM backend: no silent wrong results, no lost
answers, every bad input a structaug error naming the argument (raised before any work).

The fault suite talks to a loopback fake OpenAI-compatible server (127.0.0.1, port 0, one
thread, stopped by each test's fixture); every scenario is bounded to a few seconds.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
import torch

from structaug.datasets import make_interactions
from structaug.exceptions import (
    BackendError,
    CorruptFileError,
    DataValidationError,
    InvalidParameterError,
    NotFittedError,
    StructaugError,
    UnknownIdError,
)
from structaug.recsys.llmrec import (
    MFBPR,
    EmbeddingJudgeBackend,
    HashingEmbedder,
    LightGCN,
    LLMRecAugmenter,
    LLMRequest,
    LLMRequestFailed,
    OpenAICompatibleBackend,
    ResponseCache,
)
from structaug.recsys.llmrec._cache import cache_key, legacy_cache_key
from structaug.recsys.llmrec._parsing import parse_pos_neg
from structaug.recsys.llmrec._runner import run_requests
from structaug.splits import split_per_user

torch.set_num_threads(1)


# ------------------------------------------------------------------ loopback fault server
class FaultServer:
    """Chat-completions on 127.0.0.1. ``behave(prompt, n_seen)`` returns a dict with
    ``status`` (200), ``content`` (answer text or any JSON value), ``usage``, ``raw`` (bytes
    replacing the JSON body), ``headers``, and ``mode``: "ok", "drop" (close without an
    answer) or "dribble" (the whole response, one byte every 0.2 s)."""

    def __init__(self, behave):
        self.behave = behave
        self.log: list[str] = []
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                with srv.lock:
                    srv.log.append(prompt)
                    n = srv.counts[prompt] = srv.counts.get(prompt, 0) + 1
                spec = srv.behave(prompt, n)
                mode = spec.get("mode", "ok")
                if mode == "drop":
                    self.close_connection = True
                    return
                status = spec.get("status", 200)
                if "raw" in spec:
                    data = spec["raw"]
                else:
                    payload = {"choices": [{"message": {"role": "assistant", "content": spec.get("content", "1::2")}}]}
                    if "usage" in spec:
                        payload["usage"] = spec["usage"]
                    data = json.dumps(payload).encode()
                head = [f"HTTP/1.0 {status} X", "Content-Type: application/json", f"Content-Length: {len(data)}"]
                head += [f"{k}: {v}" for k, v in spec.get("headers", {}).items()]
                raw = ("\r\n".join(head) + "\r\n\r\n").encode() + data
                try:
                    if mode == "dribble":
                        for b in raw:
                            if srv.stopping.is_set():
                                return
                            self.wfile.write(bytes([b]))
                            self.wfile.flush()
                            time.sleep(0.2)
                    else:
                        self.wfile.write(raw)
                except OSError:  # the client gave up (deadline) or went away
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    made: list[FaultServer] = []

    def make(behave):
        s = FaultServer(behave)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def http(url: str, **kw) -> OpenAICompatibleBackend:
    kw.setdefault("backoff", 0.01)
    kw.setdefault("max_retries", 1)
    kw.setdefault("timeout", 5.0)
    kw.setdefault("max_workers", 1)
    return OpenAICompatibleBackend(url, "fake-model", **kw)


def edge_answer(prompt: str) -> str:
    n = len(re.findall(r"^\[\d+\]", prompt, flags=re.M))
    return f"1::{n}"


PARSE = lambda t, r: parse_pos_neg(t, 2)


# ------------------------------------------------------------------ small data
@pytest.fixture(scope="module")
def small():
    return make_interactions(n_users=12, n_items=20, per_user=(4, 8), random_state=0)


def edges_only(**kw) -> LLMRecAugmenter:
    kw.setdefault("embedder", HashingEmbedder(dim=16))
    kw.setdefault("verbose", False)
    kw.setdefault("random_state", 0)
    return LLMRecAugmenter(augment_attributes=False, augment_profiles=False, **kw)


def gcn(cls=LightGCN, **kw):
    kw.setdefault("embedding_dim", 8)
    kw.setdefault("max_epochs", 1)
    kw.setdefault("batch_size", 64)
    kw.setdefault("verbose", False)
    kw.setdefault("random_state", 0)
    return cls(**kw)


class Recorder:
    """A backend that records every prompt and answers like the LLM-free judge."""

    max_workers = 1
    llm_free = True

    def __init__(self):
        self.prompts: dict[tuple[str, str], str] = {}
        self.judge = EmbeddingJudgeBackend(HashingEmbedder(dim=16))

    def cache_identity(self):
        return {"backend": "recorder"}

    def generate(self, request):
        self.prompts[(request.kind, request.key)] = request.prompt
        return self.judge.generate(request)


def _items(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item": np.arange(1, n + 1),
            "title": [f"Film {j}" for j in range(1, n + 1)],
            "genres": [f"g{j % 3}" for j in range(1, n + 1)],
        }
    )


# ================================================================== case 1: timestamp order
def _text_vs_time_log() -> pd.DataFrame:
    # per user, text order of the timestamps ("10" < "100" < "2" < "9") differs from time order
    ts = [9, 10, 100, 2]
    rows = [(u, (u + k) % 8 + 1, t) for u in (1, 2, 3) for k, t in enumerate(ts)]
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"])


def test_history_order_follows_time_not_text():
    log = _text_vs_time_log()
    as_str = log.assign(timestamp=log["timestamp"].astype(str))
    before = as_str.copy(deep=True)
    rec_int, rec_str = Recorder(), Recorder()
    edges_only(backend=rec_int, n_candidates=3).fit(log, items=_items(8))
    edges_only(backend=rec_str, n_candidates=3).fit(as_str, items=_items(8))
    assert rec_int.prompts and rec_int.prompts == rec_str.prompts
    # the latest item (timestamp 100) is listed last in user 1's history
    hist = rec_int.prompts[("edge", "user:0")].split("Candidates:")[0]
    last = log[(log["user"] == 1) & (log["timestamp"] == 100)]["item"].iloc[0]
    assert hist.rstrip().splitlines()[-1].endswith(f"Film {last}, g{last % 3}")
    pd.testing.assert_frame_equal(as_str, before)  # the caller's frame is not touched


def test_history_iso_dates_and_mixed_kinds():
    log = _text_vs_time_log()
    dates = log.assign(timestamp=pd.Timestamp("2020-01-01") + pd.to_timedelta(log["timestamp"], unit="D"))
    rec_int, rec_iso = Recorder(), Recorder()
    edges_only(backend=rec_int, n_candidates=3).fit(log, items=_items(8))
    edges_only(backend=rec_iso, n_candidates=3).fit(
        dates.assign(timestamp=dates["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")), items=_items(8)
    )
    assert rec_int.prompts == rec_iso.prompts
    mixed = log.assign(timestamp=pd.Series([9, "10", 100, "2"] * 3, dtype=object))
    rec = Recorder()
    with pytest.raises(DataValidationError, match=r"timestamp.*mixes"):
        edges_only(backend=rec, n_candidates=3).fit(mixed, items=_items(8))
    assert not rec.prompts  # raised before any request
    with pytest.raises(DataValidationError, match="timestamp"):
        edges_only(backend=Recorder()).fit(log.assign(timestamp=["yesterday"] * len(log)), items=_items(8))


def test_temporal_split_orders_string_timestamps_in_time():
    rows = [(u, j, t) for u in (1, 2) for j, t in zip(range(1, 6), [2, 9, 10, 11, 100])]
    log = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    as_str = log.assign(timestamp=log["timestamp"].astype(str))
    before = as_str.copy(deep=True)
    ref = split_per_user(log, 0, "temporal")
    got = split_per_user(as_str, 0, "temporal")
    for a, b in zip(ref, got):
        assert sorted(zip(a["user"], a["item"])) == sorted(zip(b["user"], b["item"]))
    assert set(got[2]["item"]) == {5}  # timestamp "100" is the latest, not "9"
    assert got[2]["timestamp"].tolist() == ["100", "100"]  # the column keeps its values
    pd.testing.assert_frame_equal(as_str, before)
    with pytest.raises(DataValidationError, match="timestamp"):
        split_per_user(log.assign(timestamp=pd.Series([2, "9", 10, 11, "x"] * 2, dtype=object)), 0, "temporal")


def test_temporal_split_keeps_the_earliest_duplicate():
    log = pd.DataFrame({"user": [1] * 5, "item": [1, 2, 3, 4, 1], "timestamp": [50, 1, 2, 3, 0]})
    tr, va, te = split_per_user(log, 0, "temporal")
    # (1, 1) at time 0 is kept, so item 1 is the oldest and item 4 the latest
    assert te["item"].tolist() == [4] and va["item"].tolist() == [3] and 1 in tr["item"].tolist()


# ================================================================== case 2: recommend with short lists
@pytest.fixture(scope="module")
def tiny_log():
    # 5 items; user 1 has seen 3 of them, user 2 one
    return pd.DataFrame({"user": [1, 1, 1, 2], "item": [1, 2, 3, 4]})


@pytest.mark.parametrize("cls", [LightGCN, MFBPR])
def test_recommend_never_returns_seen_items_or_minus_inf(cls, tiny_log):
    m = gcn(cls).fit(tiny_log, item_ids=[1, 2, 3, 4, 5])
    recs = m.recommend([1, 2], k=4)
    r1, r2 = recs[recs["user"] == 1], recs[recs["user"] == 2]
    assert sorted(r1["item"]) == [4, 5] and r1["rank"].tolist() == [1, 2]  # only the unseen ones
    assert len(r2) == 4 and 4 not in r2["item"].tolist() and r2["rank"].tolist() == [1, 2, 3, 4]
    assert np.isfinite(recs["score"]).all()
    s = m.score_items([1])[0]
    want = sorted([3, 4], key=lambda j: -s[j])  # codes of items 4, 5
    assert r1["item"].tolist() == [j + 1 for j in want] and np.allclose(r1["score"], s[want])
    # without exclusion every item is ranked; k = the catalogue is allowed
    assert len(m.recommend([1], k=5, exclude_seen=False)) == 5


@pytest.mark.parametrize("cls", [LightGCN, MFBPR])
@pytest.mark.parametrize("k", [0, -1, 6, 2.5, True])
def test_recommend_k_out_of_range_raises(cls, k, tiny_log):
    m = gcn(cls).fit(tiny_log, item_ids=[1, 2, 3, 4, 5])
    with pytest.raises(InvalidParameterError, match=r"\bk\b"):
        m.recommend([1], k=k)


# ================================================================== case 3: sample() returns copies
def test_sample_output_does_not_share_memory_with_the_fit(small):
    inter, items, users = small
    aug = LLMRecAugmenter(
        embedder=HashingEmbedder(dim=16), attribute_fields=("year",), verbose=False, random_state=0
    ).fit(inter, items=items, users=users)
    first = aug.sample()
    ref = {
        "text": {k: v.clone() for k, v in first.item_text.items()},
        "attr": {k: v.clone() for k, v in first.item_attributes.items()},
        "prof": first.user_profiles.clone(),
        "triples": first.triples.copy(),
        "ids": first.user_ids.copy(),
    }
    for v in [*first.item_text.values(), *first.item_attributes.values(), first.user_profiles]:
        v.add_(1.0)
    first.triples.iloc[0, 0] = -999
    first.user_ids[0] = -999
    again = aug.sample()
    for k, v in ref["text"].items():
        assert torch.equal(again.item_text[k], v)
    for k, v in ref["attr"].items():
        assert torch.equal(again.item_attributes[k], v)
    assert torch.equal(again.user_profiles, ref["prof"])
    pd.testing.assert_frame_equal(again.triples, ref["triples"])
    assert np.array_equal(again.user_ids, ref["ids"])


# ================================================================== case 4: NaN scores
def test_all_nan_candidate_scores_raise(small):
    inter, items, _ = small
    rec = Recorder()
    with pytest.raises(BackendError, match="candidate_model.*no finite score"):
        edges_only(backend=rec, candidate_model=lambda tr: np.full(tr.shape, np.nan)).fit(inter, items=items)
    assert not rec.prompts


def test_some_nan_candidate_scores_are_dropped_with_a_count(small):
    inter, items, _ = small
    nan_items = {3, 7}  # raw ids whose scores are NaN for every user

    def scorer(train):
        s = np.tile(np.arange(train.shape[1], dtype=float), (train.shape[0], 1))
        s[:, [j - 1 for j in nan_items]] = np.nan  # items are 1..20, codes 0..19
        return s

    with pytest.warns(RuntimeWarning, match=rf"{2 * 12} NaN/inf score"):
        aug = edges_only(candidate_model=scorer).fit(inter, items=items)
    t = aug.triples_
    assert len(t) == 12 and not (set(t["pos"]) | set(t["neg"])) & nan_items


def test_nan_embeddings_raise_backend_error(small):
    inter, items, _ = small

    class NaNEmbedder(HashingEmbedder):
        def embed(self, texts):
            out = super().embed(texts)
            out[0] = np.nan
            return out

    with pytest.raises(BackendError, match="NaN/inf vectors"):
        edges_only(embedder=NaNEmbedder(dim=8)).fit(inter, items=items)


def test_no_edges_at_all_warns():
    # every user has seen all but one item: nobody has 2 candidates
    log = pd.DataFrame({"user": [1, 1, 2, 2], "item": [1, 2, 2, 3]})
    with pytest.warns(RuntimeWarning, match="no augmented edges"):
        aug = edges_only(n_candidates=2).fit(log, items=_items(3))
    assert len(aug.triples_) == 0


# ================================================================== case 5a/6: the HTTP backend under faults
@pytest.mark.parametrize("stage", ["whole response", "body"])
def test_dribbling_server_hits_the_total_deadline(server, stage):
    def behave(p, n):
        if stage == "body":  # headers at once, then a body longer than the deadline, byte by byte
            return {"mode": "dribble", "raw": b" " * 60 + b'{"choices": []}'}
        return {"mode": "dribble"}

    srv = server(behave)
    be = http(srv.url, timeout=0.6, max_retries=1)
    t0 = time.monotonic()
    with pytest.raises(LLMRequestFailed, match="failed after 2 attempt.*(Timeout|timed out|deadline)"):
        be.generate(LLMRequest("edge", "u1", "p"))
    # two attempts, each cut at 0.6 s; without the deadline each lasted ~12 s (a hang guard with
    # room for a busy 2-core machine, not a speed target)
    assert time.monotonic() - t0 < 8.0 and len(srv.log) == 2


def test_500_then_success_and_429_retry_after(server):
    def behave(p, n):
        if p == "a" and n == 1:
            return {"status": 500, "raw": b'{"error": "boom"}'}
        if p == "b" and n == 1:
            return {"status": 429, "raw": b"{}", "headers": {"Retry-After": "0.5"}}
        return {"content": "1::2", "usage": {"prompt_tokens": 3, "completion_tokens": 1}}

    srv = server(behave)
    cache = ResponseCache(None)
    t0 = time.monotonic()
    got, st = run_requests(
        http(srv.url, max_retries=2), [LLMRequest("edge", k, k) for k in "ab"], PARSE, cache=cache, verbose=False
    )
    assert time.monotonic() - t0 >= 0.45  # Retry-After was honoured
    assert got == {"a": (0, 1), "b": (0, 1)} and st.calls == 2 and st.failed == 0
    assert srv.counts == {"a": 2, "b": 2} and st.prompt_tokens == 6


@pytest.mark.parametrize("raw", [b"not json", b'{"choices": "x"}', b'{"choices": [{"message": {}}]}', b"[]"])
def test_garbage_bodies_are_failed_requests_and_never_cached(server, raw):
    srv = server(lambda p, n: {"raw": raw})
    cache = ResponseCache(None)
    got, st = run_requests(http(srv.url), [LLMRequest("edge", "a", "a")], PARSE, cache=cache, verbose=False)
    assert got == {} and st.failed == 1 and st.calls == 0 and len(cache) == 0
    assert "unreadable response body" in st.errors[0] and srv.counts["a"] == 2  # retried once


def test_persistent_500_fails_the_fit_loudly_not_silently(server, small, tmp_path):
    inter, items, _ = small
    srv = server(lambda p, n: {"status": 500, "raw": b"{}"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        aug = edges_only(backend=http(srv.url, max_retries=0), cache_path=tmp_path / "c.sqlite").fit(inter, items=items)
    said = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any("no augmented edges: none of the 12 edge requests" in m for m in said)
    assert any("12 of 12 LLM requests failed" in m for m in said)
    assert len(aug.triples_) == 0 and aug.stats_["edge"]["failed"] == 12
    assert len(ResponseCache(tmp_path / "c.sqlite")) == 0  # nothing wrong recorded


def test_server_dies_mid_fit_and_rerun_pays_only_the_rest(server, small, tmp_path):
    inter, items, _ = small
    state = {"dead": False, "served": 0}

    def behave(p, n):
        if state["dead"]:
            return {"mode": "drop"}
        state["served"] += 1
        if state["served"] == 5:
            state["dead"] = True
        return {"content": edge_answer(p)}

    srv = server(behave)
    path = tmp_path / "c.sqlite"
    with pytest.warns(RuntimeWarning, match="7 of 12 LLM requests failed"):
        a1 = edges_only(backend=http(srv.url, max_retries=0), cache_path=path).fit(inter, items=items)
    assert len(a1.triples_) == 5
    answered = set(srv.log[:5])
    n_before = len(srv.log)
    state["dead"] = False  # the server is back
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        a2 = edges_only(backend=http(srv.url, max_retries=0), cache_path=path).fit(inter, items=items)
    new = srv.log[n_before:]
    assert len(new) == 7 and not answered & set(new)  # the 5 paid answers came from the cache
    assert a2.stats_["edge"]["cache_hits"] == 5 and len(a2.triples_) == 12
    pd.testing.assert_frame_equal(
        a2.triples_[a2.triples_["user"].isin(a1.triples_["user"])].reset_index(drop=True),
        a1.triples_.reset_index(drop=True),
    )


def test_fit_stopped_by_a_setup_error_keeps_what_it_paid_for(server, small, tmp_path):
    inter, items, _ = small
    state = {"broken": False, "served": 0}

    def behave(p, n):
        if state["broken"]:
            return {"status": 404, "raw": b'{"error": "model not found"}'}
        state["served"] += 1
        state["broken"] = state["served"] == 5  # e.g. the model was unloaded mid-run
        return {"content": edge_answer(p)}

    srv = server(behave)
    path = tmp_path / "c.sqlite"
    with pytest.raises(BackendError, match="HTTP 404 .*not retried"):
        edges_only(backend=http(srv.url), cache_path=path).fit(inter, items=items)
    paid = list(srv.log)
    assert len(paid) == 6 and len(ResponseCache(path)) == 5  # 5 answers kept, the 404 not recorded
    state["broken"] = False
    aug = edges_only(backend=http(srv.url), cache_path=path).fit(inter, items=items)
    new = srv.log[len(paid) :]
    assert len(new) == 7 and not set(paid[:5]) & set(new) and len(aug.triples_) == 12


# ------------------------------------------------------------------ 5b: usage
def test_malformed_usage_is_counted_never_recorded(server):
    usages = {
        "a": "n/a",
        "b": {"prompt_tokens": -3, "completion_tokens": 2},
        "c": {"prompt_tokens": "12"},
        "d": None,
        "e": {"prompt_tokens": 5, "completion_tokens": 1},
        "f": [1, 2],
        "g": {"prompt_tokens": float("nan")},
    }
    srv = server(lambda p, n: {"content": "1::2", **({"usage": usages[p]} if usages[p] is not None else {})})
    cache = ResponseCache(None)
    got, st = run_requests(http(srv.url), [LLMRequest("edge", k, k) for k in usages], PARSE, cache=cache, verbose=False)
    assert len(got) == 7 and st.failed == 0 and st.bad_usage == 5
    assert (st.prompt_tokens, st.completion_tokens) == (5, 1)
    ident = http(srv.url).cache_identity()
    assert cache.get(cache_key(ident, "b"))[1:] == (None, None)  # no garbage counts stored
    assert cache.get(cache_key(ident, "e"))[1:] == (5, 1)


def test_malformed_usage_warns_after_fit(server, small):
    inter, items, _ = small
    srv = server(lambda p, n: {"content": edge_answer(p), "usage": "n/a"})
    with pytest.warns(RuntimeWarning, match="12 of 12 answers came with an unreadable 'usage'"):
        aug = edges_only(backend=http(srv.url)).fit(inter, items=items)
    assert len(aug.triples_) == 12 and aug.stats_["total"]["prompt_tokens"] == 0


# ------------------------------------------------------------------ 5c: content parts
def test_content_parts_are_joined_and_other_shapes_fail(server):
    contents = {
        "parts": [{"type": "text", "text": "1::"}, {"type": "text", "text": "2"}],
        "image": [{"type": "image_url", "image_url": {"url": "x"}}],
        "dict": {"text": "1::2"},
        "number": 12,
    }
    srv = server(lambda p, n: {"content": contents[p]})
    cache = ResponseCache(None)
    got, st = run_requests(
        http(srv.url), [LLMRequest("edge", k, k) for k in contents], PARSE, cache=cache, verbose=False
    )
    assert got == {"parts": (0, 1)} and st.failed == 3 and len(cache) == 1


# ------------------------------------------------------------------ 5d: cache key without the address
def test_same_server_by_another_address_is_not_paid_again(server, tmp_path):
    srv = server(lambda p, n: {"content": "1::2"})
    reqs = [LLMRequest("edge", k, k) for k in "abc"]
    path = tmp_path / "c.sqlite"
    run_requests(http(srv.url), reqs, PARSE, cache=ResponseCache(path), verbose=False)
    assert len(srv.log) == 3
    same = f"http://localhost:{srv.port}/v1/"  # loopback under another name
    got, st = run_requests(http(same), reqs, PARSE, cache=ResponseCache(path), verbose=False)
    assert len(srv.log) == 3 and st.cache_hits == 3 and st.calls == 0 and len(got) == 3
    # what determines an answer still does: another model is asked
    other = OpenAICompatibleBackend(srv.url, "other-model", backoff=0.01, max_retries=0)
    _, st2 = run_requests(other, reqs[:1], PARSE, cache=ResponseCache(path), verbose=False)
    assert st2.calls == 1 and len(srv.log) == 4


def test_answers_cached_under_the_old_address_keyed_scheme_are_reused(server, tmp_path):
    srv = server(lambda p, n: {"content": "2::1"})
    be = http(srv.url)
    path = tmp_path / "old.sqlite"
    old = ResponseCache(path)
    old.put(legacy_cache_key(be.cache_identity(), "a"), "1::2", backend="openai-compatible")
    old.close()
    got, st = run_requests(be, [LLMRequest("edge", "a", "a")], PARSE, cache=ResponseCache(path), verbose=False)
    assert got == {"a": (0, 1)} and st.cache_hits == 1 and not srv.log
    # the answer now also lives under the new key, so any address finds it
    assert ResponseCache(path).get(cache_key(be.cache_identity(), "a"))[0] == "1::2"


# ------------------------------------------------------------------ 5e: corrupt cache files
def _filled_cache(path, n=400):
    c = ResponseCache(path)
    for k in range(n):
        c.put(f"k{k}", "answer " * 20)
    c.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "foreign"])
def test_corrupt_cache_is_refused_by_name_and_left_alone(tmp_path, damage, small):
    path = tmp_path / "cache.sqlite"
    if damage == "garbage":
        path.write_bytes(b"\x00garbage" * 512)
    elif damage == "truncated":
        _filled_cache(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:  # a valid SQLite file of something else
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE responses (id INTEGER, payload BLOB)")
        db.commit()
        db.close()
    before = path.read_bytes()
    with pytest.raises(CorruptFileError, match=r"cache\.sqlite.*start over"):
        ResponseCache(path)
    assert path.read_bytes() == before
    inter, items, _ = small
    rec = Recorder()
    with pytest.raises(CorruptFileError):
        edges_only(backend=rec, cache_path=path).fit(inter, items=items)
    assert not rec.prompts and path.read_bytes() == before


# ================================================================== case 7: bad-input suite
def _log():
    return pd.DataFrame({"user": [1, 1, 1, 2, 2, 3, 3, 3], "item": [1, 2, 3, 2, 4, 1, 5, 6], "timestamp": np.arange(8)})


BAD_LOGS = {
    "empty": (lambda: _log().iloc[:0], DataValidationError, r"interactions is empty"),
    "nan user": (
        lambda: _log().assign(user=[1.0, np.nan, 1, 2, 2, 3, 3, 3]),
        DataValidationError,
        r"interactions\['user'\] has 1 missing",
    ),
    "nan item": (
        lambda: _log().assign(item=[1.0, 2, np.nan, 2, 4, 1, 5, 6]),
        DataValidationError,
        r"interactions\['item'\] has 1 missing",
    ),
    "mixed id types": (
        lambda: _log().assign(item=pd.Series([1, "2", 3, "2", 4, 1, 5, 6], dtype=object)),
        DataValidationError,
        r"interactions\['item'\] mixes id types",
    ),
    "wrong columns": (
        lambda: _log().rename(columns={"item": "movie"}),
        DataValidationError,
        r"interactions is missing column\(s\) \['item'\]",
    ),
    "not a frame": (lambda: _log().to_numpy(), InvalidParameterError, r"interactions must be a pandas DataFrame"),
    "nan timestamp": (
        lambda: _log().assign(timestamp=[0, 1, np.nan, 3, 4, 5, 6, 7]),
        DataValidationError,
        r"interactions\['timestamp'\] has 1 missing",
    ),
}
ESTIMATORS = {
    "LightGCN": lambda log: gcn(LightGCN).fit(log),
    "MFBPR": lambda log: gcn(MFBPR).fit(log),
    "LLMRecAugmenter": lambda log: edges_only(n_candidates=2).fit(log, items=_items(6)),
}


@pytest.mark.parametrize("case", list(BAD_LOGS))
@pytest.mark.parametrize("est", list(ESTIMATORS))
def test_bad_interaction_logs_raise_naming_the_argument(est, case):
    make, exc, msg = BAD_LOGS[case]
    with pytest.raises(exc, match=msg) as info:
        ESTIMATORS[est](make())
    assert isinstance(info.value, StructaugError)


@pytest.mark.parametrize(
    "param,value",
    [
        ("batch_size", 0),
        ("batch_size", -1),
        ("max_epochs", 0),
        ("max_epochs", -2),
        ("lr", 0.0),
        ("lr", -1e-3),
        ("lr", float("nan")),
        ("embedding_dim", 0),
        ("weight_decay", -1.0),
        ("eval_k", 0),
        ("prune_drop_rate", 1.0),
        ("aug_sample_rate", 1.5),
        ("prune_mode", "x"),
        ("batch_size", 2.5),
    ],
)
@pytest.mark.parametrize("cls", [LightGCN, MFBPR])
def test_bad_hyperparameters_raise_in_fit_before_training(cls, param, value):
    m = gcn(cls, **{param: value})
    with pytest.raises(InvalidParameterError, match=param):
        m.fit(_log())
    assert not hasattr(m, "train_result_")


@pytest.mark.parametrize(
    "param,value",
    [
        ("n_candidates", 1),
        ("n_candidates", 0),
        ("max_history", 0),
        ("max_parse_retries", -1),
        ("candidate_model", "knn"),
        ("item_text_columns", "title"),
        ("item_text_columns", ()),
        ("backend", object()),
    ],
)
def test_bad_augmenter_parameters(param, value):
    rec = Recorder()
    kw = {"backend": rec, param: value}
    with pytest.raises(InvalidParameterError, match=param):
        edges_only(**kw).fit(_log(), items=_items(6))
    assert not rec.prompts


@pytest.mark.parametrize(
    "kw,msg",
    [
        (dict(timeout=0), "timeout"),
        (dict(timeout=float("nan")), "timeout"),
        (dict(max_retries=-1), "max_retries"),
        (dict(max_workers=0), "max_workers"),
        (dict(top_p=1.5), "top_p"),
        (dict(temperature=-1), "temperature"),
    ],
)
def test_bad_backend_parameters(kw, msg):
    with pytest.raises(InvalidParameterError, match=msg):
        OpenAICompatibleBackend("http://127.0.0.1:9/v1", "m", **kw)


@pytest.mark.parametrize("cls", [LightGCN, MFBPR])
def test_one_user_is_valid_and_recommends_only_unseen_items(cls):
    log = pd.DataFrame({"user": [7, 7], "item": [1, 2]})
    m = gcn(cls).fit(log, item_ids=[1, 2, 3, 4])
    recs = m.recommend([7], k=4)
    assert sorted(recs["item"]) == [3, 4] and recs["user"].tolist() == [7, 7] and np.isfinite(recs["score"]).all()


def test_one_user_augmenter_gives_one_triple():
    log = pd.DataFrame({"user": [7, 7], "item": [1, 2]})
    aug = edges_only(n_candidates=2, candidate_model="popularity").fit(log, items=_items(5))
    t = aug.triples_
    assert t["user"].tolist() == [7] and t["pos"].iloc[0] in {3, 4, 5} and t["neg"].iloc[0] in {3, 4, 5}
    assert t["pos"].iloc[0] != t["neg"].iloc[0]


@pytest.mark.parametrize("cls", [LightGCN, MFBPR])
def test_negative_ids_are_labels(cls):
    log = _log().assign(user=-_log()["user"], item=-_log()["item"])
    m = gcn(cls).fit(log)
    recs = m.recommend([-1], k=3)
    assert set(recs["item"]) == {-4, -5, -6}  # the catalogue minus user -1's items -1, -2, -3


@pytest.mark.parametrize("cls", [LightGCN, MFBPR])
def test_duplicate_rows_count_once(cls):
    dup = pd.concat([_log(), _log().iloc[:3]], ignore_index=True)
    a, b = gcn(cls, max_epochs=2).fit(_log()), gcn(cls, max_epochs=2).fit(dup)
    assert torch.equal(a.user_embeddings_, b.user_embeddings_) and torch.equal(a.item_embeddings_, b.item_embeddings_)


def test_duplicate_rows_do_not_change_the_augmentation():
    dup = pd.concat([_log(), _log().iloc[:3]], ignore_index=True)
    a = edges_only(n_candidates=2).fit(_log(), items=_items(6))
    b = edges_only(n_candidates=2).fit(dup, items=_items(6))
    pd.testing.assert_frame_equal(a.triples_, b.triples_)


def test_one_item_catalogue_raises():
    with pytest.raises(DataValidationError, match="at least 2 items"):
        gcn().fit(pd.DataFrame({"user": [1, 2], "item": [5, 5]}))


@pytest.fixture(scope="module")
def fitted():
    return gcn(LightGCN).fit(_log(), item_ids=[1, 2, 3, 4, 5, 6])


@pytest.mark.parametrize(
    "users,msg",
    [
        ([1, 99], r"unknown user\(s\) \[99\] \(1 in total\)"),
        (["1"], r"unknown user\(s\) \['1'\]"),
        (1, "users must be a 1-D list"),
        ("1", "users must be a 1-D"),
    ],
)
def test_unseen_or_malformed_users_at_recommend(fitted, users, msg):
    with pytest.raises(DataValidationError, match=msg):
        fitted.recommend(users, k=2)
    with pytest.raises(DataValidationError, match=msg):
        fitted.score_items(users)


def test_no_users_give_an_empty_frame_and_unknown_popular_ranks_by_count(fitted):
    """The Recommender contract: [] -> empty long frame; unknown="popular" -> training counts."""
    empty = fitted.recommend([], k=2)
    assert list(empty.columns) == ["user", "item", "rank", "score"] and len(empty) == 0
    log = _log()
    counts = log["item"].value_counts().reindex([1, 2, 3, 4, 5, 6], fill_value=0)
    rec = fitted.recommend([99], k=3, unknown="popular")
    want = sorted(range(6), key=lambda j: (-counts.iloc[j], j))[:3]  # ties: lower item first
    assert rec["item"].tolist() == [j + 1 for j in want] and rec["rank"].tolist() == [1, 2, 3]
    assert np.allclose(rec["score"], counts.iloc[want].to_numpy())


def test_unseen_items_in_evaluate_and_validation(fitted):
    with pytest.raises(UnknownIdError, match=r"unknown test\['item'\]\(s\) \[99\].*full catalogue") as err:
        fitted.evaluate(pd.DataFrame({"user": [1], "item": [99]}))
    assert isinstance(err.value, KeyError)  # except KeyError keeps working
    with pytest.raises(DataValidationError, match=r"exclude\[0\]\['user'\]"):
        fitted.evaluate(pd.DataFrame({"user": [1], "item": [4]}), exclude=[pd.DataFrame({"user": [42], "item": [1]})])
    m = gcn(max_epochs=50)
    with pytest.raises(UnknownIdError, match=r"unknown validation\['item'\]\(s\) \[77\]"):
        m.fit(_log(), validation=pd.DataFrame({"user": [1], "item": [77]}))
    assert not hasattr(m, "train_result_")  # refused before training


def test_calls_before_fit_raise_not_fitted():
    for call in (
        lambda: LightGCN().recommend([1]),
        lambda: MFBPR().score_items([1]),
        lambda: LightGCN().evaluate(_log()),
        lambda: LLMRecAugmenter().sample(),
    ):
        with pytest.raises(NotFittedError):
            call()


def test_items_missing_text_or_rows_and_users_frame_problems():
    a = edges_only(n_candidates=2)
    with pytest.raises(DataValidationError, match="empty text"):
        a.fit(_log(), items=_items(6).assign(title=["", *[f"t{j}" for j in range(5)]], genres=[None] + ["g"] * 5))
    with pytest.raises(DataValidationError, match="missing from items"):
        a.fit(_log(), items=_items(5))
    with pytest.raises(DataValidationError, match=r"items is missing column\(s\) \['item'\]"):
        a.fit(_log(), items=_items(6).rename(columns={"item": "id"}))
    with pytest.raises(InvalidParameterError, match="items"):
        a.fit(_log())
    with pytest.raises(DataValidationError, match="duplicated item ids"):
        a.fit(_log(), items=pd.concat([_items(6), _items(1)]))


def test_augmentation_features_are_checked_before_training(small):
    inter, items, users = small
    aug = (
        LLMRecAugmenter(embedder=HashingEmbedder(dim=8), attribute_fields=("year",), verbose=False, random_state=0)
        .fit(inter, items=items, users=users)
        .sample()
    )
    aug.item_text["title"][0, 0] = float("nan")
    m = gcn()
    with pytest.raises(DataValidationError, match=r"augmentation.item_text\['title'\] contains 1 NaN"):
        m.fit(inter, augmentation=aug)
    aug = aug.select(text=False)
    aug.user_profiles = aug.user_profiles[:-1]
    with pytest.raises(DataValidationError, match=r"augmentation.user_profiles must have shape"):
        m.fit(inter, augmentation=aug)
    assert not hasattr(m, "train_result_")


def test_diverged_training_raises_instead_of_nan_scores():
    m = gcn(lr=1e30, max_epochs=3, batch_size=4)
    with pytest.raises(InvalidParameterError, match=r"training diverged.*lower lr \(got 1e\+30\)"):
        m.fit(_log())
    assert not hasattr(m, "net_")  # no NaN model left behind to recommend from


def test_users_frame_missing_a_user_column_raises_before_any_request(small):
    inter, items, users = small
    rec = Recorder()
    with pytest.raises(DataValidationError, match=r"users lacks column\(s\) \['income'\]"):
        LLMRecAugmenter(
            backend=rec, embedder=HashingEmbedder(dim=8), user_columns=("age", "income"), verbose=False
        ).fit(inter, items=items, users=users)
    assert not rec.prompts


def test_sample_n_at_the_edges():
    aug = edges_only(n_candidates=2).fit(_log(), items=_items(6))
    all_t = aug.triples_.reset_index(drop=True)
    assert len(all_t) == 3
    pd.testing.assert_frame_equal(aug.sample(n=3).triples, all_t)
    pd.testing.assert_frame_equal(aug.sample().triples, all_t)  # n=None: every generated triple
    assert len(aug.sample(n=0).triples) == 0
    # sample_unit "additions": n counts new triples, so more than were generated is refused
    assert aug.sample_unit == "additions" and aug._count_sampled(aug.sample(n=2), None) == 2
    with pytest.raises(DataValidationError, match=r"n=10 exceeds the 3 augmented triple\(s\)"):
        aug.sample(n=10)


def test_cache_path_that_is_a_folder_is_a_parameter_error(tmp_path):
    with pytest.raises(InvalidParameterError, match="cache_path .* is a folder"):
        ResponseCache(tmp_path)
