"""LLM backends behind one protocol.

A backend answers one :class:`LLMRequest` at a time (``generate``); the runner in
:mod:`.runner` adds the thread pool, cache, parsing and counting. Requests carry both the
rendered prompt and the structured fields it was rendered from: text LLMs read only the
prompt; the LLM-free :class:`EmbeddingJudgeBackend` reads only the fields.

No backend touches the network unless the user gives it a URL.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import numbers
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ...exceptions import BackendError
from ...validation import check_fraction, check_positive_float, check_positive_int
from ._embeddings import CachedEmbedder, HashingEmbedder, TextEmbedder

__all__ = [
    "EmbeddingJudgeBackend",
    "LLMBackend",
    "LLMBackendError",
    "LLMRequest",
    "LLMRequestFailed",
    "LLMResponse",
    "OpenAICompatibleBackend",
    "TransformersBackend",
]


@dataclass(frozen=True)
class LLMRequest:
    """One question: ``kind`` is ``"edge"``, ``"attribute"`` or ``"profile"``; ``key`` names the
    user/item it is about; ``payload`` holds the structured fields behind ``prompt``."""

    kind: str
    key: str
    prompt: str
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class LLMResponse:
    """An answer and the token counts the server reported (None when it did not).

    ``usage_invalid`` is True when the server sent a ``usage`` field that is not a pair of
    non-negative integer counts ("n/a", negative, a string...): the answer is kept, its
    tokens are not counted (``None``) and the runner counts it in ``RunStats.bad_usage``.
    """

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_invalid: bool = False


class LLMBackendError(BackendError):
    """A request that cannot succeed (bad URL, 4xx other than 429, missing model)."""


class LLMRequestFailed(BackendError):
    """A request that still failed after all retries (timeouts, 429, 5xx, dropped connections)."""


@runtime_checkable
class LLMBackend(Protocol):
    """What the augmenter needs from a backend.

    Attributes
    ----------
    max_workers : int
        How many requests may run at once.
    llm_free : bool
        True for backends that are not language models (reported as such in results).
    """

    max_workers: int
    llm_free: bool

    def cache_identity(self) -> dict[str, Any]:
        """Everything that changes answers (kind, model, sampling parameters) — never secrets."""
        ...

    def generate(self, request: LLMRequest) -> LLMResponse:
        """Answer one request; raise :class:`LLMRequestFailed` after exhausting retries."""
        ...


class _SharedOnCopy:
    """``copy.deepcopy`` (hence sklearn's ``clone``) shares the object instead of copying it:
    backends hold connections, locks and loaded models, not fitted state."""

    def __deepcopy__(self, memo: dict) -> _SharedOnCopy:
        return self


# ----------------------------------------------------------------------------------------
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# statuses about one request (a prompt over the context limit, a content filter): that request
# fails and the run goes on; other 4xx (401, 403, 404...) are about the setup and stop the run
_REQUEST_STATUS = {400, 413, 422}


class OpenAICompatibleBackend(_SharedOnCopy):
    """Chat-completions over HTTP: OpenAI, vLLM, Ollama, llama.cpp's server, LM Studio ...

    Parameters
    ----------
    base_url : str or None
        E.g. ``"http://localhost:8000/v1"``; ``None`` reads ``$STRUCTAUG_LLM_BASE_URL``.
        ``/chat/completions`` is appended.
    model : str or None
        Model name sent to the server; ``None`` reads ``$STRUCTAUG_LLM_MODEL``.
    api_key_env : str
        Name of the environment variable holding the API key (the key itself is never
        stored on the object, logged or put in the cache key). A missing variable sends no
        ``Authorization`` header, which local servers accept.
    temperature, top_p, max_tokens : sampling parameters (paper: 0.6, 0.1).
    system_prompt : str or None
        Optional system message.
    timeout : float
        Total seconds per HTTP request: connecting, sending and reading the *whole* answer.
        A server that keeps the connection alive by dribbling bytes is cut off at this
        deadline (not per socket read) and the attempt counts as a timeout (retried).
    max_retries : int
        Retries after a timeout, a dropped connection or HTTP 408, 409, 425, 429, 500, 502,
        503, 504. HTTP 400, 413 and 422 fail that request only (recorded as failed, the run
        goes on); any other status raises ``LLMBackendError`` (a setup problem: wrong URL,
        key or model).
    backoff : float
        First retry delay in seconds; doubles each retry (with jitter, capped at
        ``max_backoff``); a ``Retry-After`` header is honoured up to ``max_backoff``.
    max_workers : int
        Concurrent requests.
    """

    llm_free = False

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        *,
        api_key_env: str = "STRUCTAUG_LLM_API_KEY",
        temperature: float = 0.6,
        top_p: float = 0.1,
        max_tokens: int = 256,
        system_prompt: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_workers: int = 4,
    ):
        self.base_url = base_url if base_url is not None else os.environ.get("STRUCTAUG_LLM_BASE_URL")
        self.model = model if model is not None else os.environ.get("STRUCTAUG_LLM_MODEL")
        if not self.base_url:
            raise LLMBackendError(
                "OpenAICompatibleBackend needs base_url (or $STRUCTAUG_LLM_BASE_URL), e.g. 'http://localhost:8000/v1'"
            )
        if not str(self.base_url).startswith(("http://", "https://")):
            raise LLMBackendError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        if not self.model:
            raise LLMBackendError("OpenAICompatibleBackend needs model (or $STRUCTAUG_LLM_MODEL)")
        check_positive_int(max_workers, "max_workers")
        check_positive_int(max_retries, "max_retries", minimum=0)
        check_positive_int(max_tokens, "max_tokens")
        check_positive_float(timeout, "timeout")
        check_positive_float(backoff, "backoff", allow_zero=True)
        check_positive_float(max_backoff, "max_backoff", allow_zero=True)
        check_positive_float(temperature, "temperature", allow_zero=True)
        check_fraction(top_p, "top_p", inclusive_low=True)
        self.api_key_env = api_key_env
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.max_tokens = int(max_tokens)
        self.system_prompt = system_prompt
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_workers = int(max_workers)
        self.n_http_requests = 0  # every POST, retries included
        self._count_lock = threading.Lock()

    @classmethod
    def from_env(cls, **kwargs: Any) -> OpenAICompatibleBackend | None:
        """The backend configured by ``$STRUCTAUG_LLM_BASE_URL``/``$STRUCTAUG_LLM_MODEL``, or None."""
        if not os.environ.get("STRUCTAUG_LLM_BASE_URL") or not os.environ.get("STRUCTAUG_LLM_MODEL"):
            return None
        return cls(**kwargs)

    def cache_identity(self) -> dict[str, Any]:
        # base_url is listed for the record but is not part of the cache key (see ADDRESS_FIELDS
        # in .cache): the same server reached as localhost or 127.0.0.1 gives the same answers
        return {
            "backend": "openai-compatible",
            "base_url": str(self.base_url).rstrip("/"),
            "model": self.model,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "system": self.system_prompt,
        }

    def __repr__(self) -> str:
        return f"OpenAICompatibleBackend(base_url={self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    def _post(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """One POST under a *total* deadline of ``timeout`` seconds.

        Socket timeouts bound each read only, so a server sending a byte now and then would
        hold the request forever. A timer shuts the socket down at the deadline (which also
        unblocks a read stuck in the status line or headers) and the body is read in chunks
        checked against it; past the deadline this raises ``TimeoutError``.
        """
        url = str(self.base_url).rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.api_key_env) or (
            os.environ.get("OPENAI_API_KEY") if self.api_key_env == "STRUCTAUG_LLM_API_KEY" else None
        )
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with self._count_lock:
            self.n_http_requests += 1
        deadline = time.monotonic() + self.timeout
        guard = _Deadline()
        timer = threading.Timer(self.timeout, guard.expire)
        timer.daemon = True
        timer.start()
        opener = urllib.request.build_opener(_DeadlineHTTPHandler(guard), _DeadlineHTTPSHandler(guard))
        try:
            try:
                with opener.open(req, timeout=self.timeout) as resp:
                    return resp.status, dict(resp.headers), _read_until(resp, deadline, guard)
            except urllib.error.HTTPError as exc:
                with exc:  # closes the error response's socket instead of leaving it to the GC
                    return exc.code, dict(exc.headers or {}), _read_until(exc, deadline, guard) if exc.fp else b""
        except (OSError, http.client.HTTPException) as exc:
            if guard.expired:
                raise TimeoutError(f"no complete answer within timeout={self.timeout:g} s") from exc
            raise
        finally:
            timer.cancel()

    def generate(self, request: LLMRequest) -> LLMResponse:
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        messages.append({"role": "user", "content": request.prompt})
        body = json.dumps(
            {
                "model": self.model,
                "messages": messages,
                "temperature": self.temperature,
                "top_p": self.top_p,
                "max_tokens": self.max_tokens,
                "stream": False,
            }
        ).encode("utf-8")
        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                status, headers, raw = self._post(body)
            except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last = f"{type(exc).__name__}: {reason}"
            else:
                if status == 200:
                    try:
                        data = json.loads(raw.decode("utf-8"))
                        text = _message_text(data["choices"][0]["message"]["content"])
                        pt, ct, usage_ok = _usage(data.get("usage") if isinstance(data, dict) else None)
                        return LLMResponse(text, pt, ct, usage_invalid=not usage_ok)
                    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                        last = f"unreadable response body ({type(exc).__name__}: {exc}; {raw[:120]!r})"
                elif status in _RETRY_STATUS:
                    last = f"HTTP {status}"
                    ra = {k.lower(): v for k, v in headers.items()}.get("retry-after")
                    try:
                        retry_after = float(ra) if ra is not None else None
                    except ValueError:
                        retry_after = None
                    if retry_after is not None and not (retry_after >= 0):  # NaN, negative
                        retry_after = None
                elif status in _REQUEST_STATUS:
                    raise LLMRequestFailed(
                        f"{request.kind} request {request.key!r} rejected with HTTP {status} "
                        f"(not retried): {raw[:200]!r}"
                    )
                else:
                    raise LLMBackendError(f"HTTP {status} from {self.base_url} (not retried): {raw[:200]!r}")
            if attempt < self.max_retries:
                delay = min(self.max_backoff, self.backoff * (2**attempt)) * (1 + 0.1 * random.random())
                # a server's Retry-After is honoured up to max_backoff (not a day-long sleep)
                time.sleep(min(self.max_backoff, max(delay, retry_after or 0.0)))
        raise LLMRequestFailed(
            f"{request.kind} request {request.key!r} failed after {self.max_retries + 1} attempt(s): {last}"
        )


class _Deadline:
    """Shuts down a request's socket when its total time is up (see ``_post``)."""

    def __init__(self) -> None:
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def connected(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            late = self.expired
        if late:
            self._shutdown(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            sock = self._sock
        self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket | None) -> None:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv; the response then fails


def _hooked(http_class: type, guard: _Deadline) -> type:
    class _Conn(http_class):
        def connect(self) -> None:
            super().connect()
            guard.connected(self.sock)

    return _Conn


class _DeadlineOpen:
    """Opens connections through :func:`_hooked`, so ``guard`` can cut their socket."""

    def __init__(self, guard: _Deadline):
        super().__init__()
        self._guard = guard

    def do_open(self, http_class, req, **kw):
        return super().do_open(_hooked(http_class, self._guard), req, **kw)


class _DeadlineHTTPHandler(_DeadlineOpen, urllib.request.HTTPHandler):
    pass


class _DeadlineHTTPSHandler(_DeadlineOpen, urllib.request.HTTPSHandler):
    pass


def _read_until(resp: Any, deadline: float, guard: _Deadline) -> bytes:
    """The whole body, in chunks, giving up at ``deadline``."""
    chunks = []
    while True:
        if guard.expired or time.monotonic() > deadline:
            raise TimeoutError("the answer did not arrive completely before the deadline")
        chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
        if not chunk:
            break
        chunks.append(chunk)
    if guard.expired:  # the socket was shut down under us: what we have is truncated
        raise TimeoutError("the answer did not arrive completely before the deadline")
    return b"".join(chunks)


def _message_text(content: Any) -> str:
    """The text of a chat message: a string, None (empty), or a list of content parts.

    Parts are OpenAI's ``[{"type": "text", "text": "..."}]``; their texts are joined. Any
    other shape (a dict, a number, a non-text part) raises ``TypeError`` — the request is
    then a failed one, never parsed from a Python repr.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not (
                isinstance(part, dict)
                and part.get("type") in ("text", "output_text")
                and isinstance(part.get("text"), str)
            ):
                raise TypeError(f"message content part {part!r:.80} is not a text part")
            texts.append(part["text"])
        return "".join(texts)
    raise TypeError(f"message content must be a string or a list of text parts, got {type(content).__name__}")


def _usage(usage: Any) -> tuple[int | None, int | None, bool]:
    """``(prompt_tokens, completion_tokens, ok)`` from a ``usage`` field.

    A missing field is fine (no counts). Anything else that is not a dict of non-negative
    integer counts gives ``(None, None, False)``: the answer is kept, the tokens are not
    recorded, and the caller counts it — garbage never becomes a token count.
    """
    if usage is None:
        return None, None, True
    if not isinstance(usage, dict):
        return None, None, False
    counts = [token_count(usage.get(k)) for k in ("prompt_tokens", "completion_tokens")]
    if any(c is False for c in counts):
        return None, None, False
    return counts[0], counts[1], True


def token_count(v: Any) -> int | bool | None:
    """A token count as int, ``None`` when absent, ``False`` when it is not a non-negative
    integer (``"n/a"``, ``-1``, ``2.5``, NaN, ``True``)."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not float(v) >= 0 or not float(v).is_integer():
        return False
    return int(v)  # type: ignore[call-overload]  # a Real that is_integer(): exact, also above 2**53


# ----------------------------------------------------------------------------------------
class TransformersBackend(_SharedOnCopy):
    """A local Hugging Face ``transformers`` text-generation pipeline (weights on disk).

    ``transformers`` is imported on the first request, so this class can be constructed
    (and cloned) without it; a missing install raises a clear ``ImportError``.

    Parameters
    ----------
    model : str
        Local folder (or hub name if you allow downloads) of a causal LM with a chat template.
    temperature, top_p, max_new_tokens : sampling parameters; ``temperature=0`` is greedy.
    device : str or int or None
        Passed to ``transformers.pipeline``.
    """

    llm_free = False

    def __init__(
        self,
        model: str,
        *,
        temperature: float = 0.6,
        top_p: float = 0.1,
        max_new_tokens: int = 128,
        device: str | int | None = None,
        max_workers: int = 1,
    ):
        self.model = model
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.max_new_tokens = int(max_new_tokens)
        self.device = device
        self.max_workers = check_positive_int(max_workers, "max_workers")
        self._pipe = None
        self._lock = threading.Lock()

    def cache_identity(self) -> dict[str, Any]:
        return {
            "backend": "transformers",
            "model": str(self.model),
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
        }

    def __repr__(self) -> str:
        return f"TransformersBackend(model={self.model!r})"

    def _pipeline(self):
        if self._pipe is None:
            try:
                import transformers
            except ImportError as exc:
                raise ImportError(
                    "TransformersBackend needs the 'transformers' package "
                    "(pip install transformers) and model weights on disk"
                ) from exc
            self._pipe = transformers.pipeline("text-generation", model=self.model, device=self.device)
        return self._pipe

    def generate(self, request: LLMRequest) -> LLMResponse:
        with self._lock:  # one generate at a time on a local model
            pipe = self._pipeline()
            kw: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "return_full_text": False}
            if self.temperature > 0:
                kw.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
            else:
                kw.update(do_sample=False)
            try:
                out = pipe([{"role": "user", "content": request.prompt}], **kw)
            except Exception as exc:  # a generation error is this request's failure, not the run's
                raise LLMRequestFailed(f"{request.kind} request {request.key!r}: {type(exc).__name__}: {exc}") from exc
            gen = out[0]["generated_text"]
            text = gen[-1]["content"] if isinstance(gen, list) else str(gen)
            tok = getattr(pipe, "tokenizer", None)
            n_in = len(tok(request.prompt)["input_ids"]) if tok is not None else None
            n_out = len(tok(text)["input_ids"]) if tok is not None else None
            return LLMResponse(text, n_in, n_out)


# ----------------------------------------------------------------------------------------
class EmbeddingJudgeBackend(_SharedOnCopy):
    """**LLM-free** stand-in for the LLM: an embedding-similarity judge.

    * edges: embeds the user's history texts and the candidates' texts, answers the
      candidate closest to the mean history vector (cosine) as positive and the farthest
      as negative, in the same ``pos::neg`` format an LLM would use;
    * attributes: copies the requested fields from the item's own metadata columns
      (``"unknown"`` where the data has no such column) — no new knowledge;
    * profiles: demographics from the user's metadata plus the most and least frequent
      genres of the history (genres counted from the history items' metadata).

    It is deterministic, needs no model, and makes LLMRec's pipeline runnable end to end;
    results obtained with it are labelled "LLM-free" and measure the pipeline, not an LLM.

    Parameters
    ----------
    embedder : TextEmbedder or None
        Defaults to :class:`HashingEmbedder`.
    genre_column : str
        Metadata column with ``|``-separated genres.
    """

    llm_free = True

    def __init__(self, embedder: TextEmbedder | None = None, *, genre_column: str = "genres", max_workers: int = 1):
        self.embedder = embedder
        self.genre_column = genre_column
        self.max_workers = check_positive_int(max_workers, "max_workers")
        self._emb: CachedEmbedder | None = None

    def _embedder(self) -> CachedEmbedder:
        if self._emb is None:
            self._emb = CachedEmbedder(self.embedder if self.embedder is not None else HashingEmbedder())
        return self._emb

    def cache_identity(self) -> dict[str, Any]:
        return {
            "backend": "embedding-judge (LLM-free)",
            "embedder": self._embedder().identity,
            "genre_column": self.genre_column,
        }

    def __repr__(self) -> str:
        return f"EmbeddingJudgeBackend(embedder={self.embedder!r})"

    def generate(self, request: LLMRequest) -> LLMResponse:
        p = request.payload
        if request.kind == "edge":
            hist = self._embedder().embed(list(p["history_texts"]))
            cand = self._embedder().embed(list(p["candidate_texts"]))
            centre = hist.mean(0)
            centre /= max(float(np.linalg.norm(centre)), 1e-12)
            sims = cand @ centre
            order = np.argsort(-sims, kind="stable")  # ties: earlier (higher-ranked) candidate first
            return LLMResponse(f"{int(order[0]) + 1}::{int(order[-1]) + 1}")
        if request.kind == "attribute":
            meta = {str(k).lower(): v for k, v in p["item_metadata"].items()}
            vals = [_clean(meta.get(f.lower())) for f in p["fields"]]
            return LLMResponse("::".join(vals))
        if request.kind == "profile":
            meta = {str(k).lower(): v for k, v in p.get("user_metadata", {}).items()}
            counts = Counter(
                g for m in p["history_metadata"] for g in str(m.get(self.genre_column, "") or "").split("|") if g
            )
            ranked = [g for g, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
            derived = {
                "liked genre": ", ".join(ranked[:2]) or "unknown",
                "disliked genre": ranked[-1] if len(ranked) > 2 else "unknown",
            }
            lines = [
                f"{f}: {derived[f.lower()] if f.lower() in derived else _clean(meta.get(f.lower()))}"
                for f in p["fields"]
            ]
            return LLMResponse("\n".join(lines))
        raise LLMBackendError(f"unknown request kind {request.kind!r}")


def _clean(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "unknown"
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        v = int(v)  # a year stored as 1995.0
    s = str(v).replace("::", " ").replace("\n", " ").strip()
    return s or "unknown"
