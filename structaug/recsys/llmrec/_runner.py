"""Run many LLM requests: bounded thread pool, cache, strict parsing, counting, progress.

For each request the runner looks up the cache, else asks the backend (which does its own
HTTP retries) and caches the raw answer at once; then parses it. A malformed answer is
re-asked up to ``max_parse_retries`` times (each re-ask has its own cache key); after that
the request is *skipped* — it never becomes an edge or a feature. Failed requests (retries
exhausted) are not cached, so a later run asks them again while every answer already
paid for comes from the cache. Answers cached by older versions under an address-dependent
key (:func:`.cache.legacy_cache_key`) are found too and copied to the current key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm.auto import tqdm

from ...train import progress_enabled
from ._backends import LLMBackend, LLMBackendError, LLMRequest, LLMRequestFailed, token_count
from ._cache import ResponseCache, cache_key, legacy_cache_key
from ._parsing import ParseError

__all__ = ["RunStats", "run_requests"]


@dataclass
class RunStats:
    """Counters of one :func:`run_requests` call (all ints; JSON-friendly via ``to_dict``)."""

    requests: int = 0
    parsed: int = 0
    calls: int = 0  # answers obtained from the backend in this run
    cache_hits: int = 0  # answers read from the cache
    failed: int = 0  # requests whose backend call failed after retries (or aborted)
    skipped: int = 0  # requests whose every answer was malformed
    malformed: int = 0
    refusal: int = 0
    out_of_range: int = 0
    same_item: int = 0
    missing_field: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    bad_usage: int = 0  # answers whose token counts were unreadable (kept, tokens not counted)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["errors"] = list(self.errors[:5])
        return d

    def merge(self, other: RunStats) -> RunStats:
        out = RunStats()
        for k, v in asdict(self).items():
            if k == "errors":
                out.errors = (self.errors + other.errors)[:5]
            else:
                setattr(out, k, v + getattr(other, k))
        return out


def run_requests(
    backend: LLMBackend,
    requests: Sequence[LLMRequest],
    parse: Callable[[str, LLMRequest], Any],
    *,
    cache: ResponseCache | None = None,
    max_parse_retries: int = 1,
    max_consecutive_failures: int = 20,
    verbose: bool = False,
    desc: str = "llm",
) -> tuple[dict[str, Any], RunStats]:
    """Answer ``requests``; return ``{request.key: parsed}`` (only successes) and counters.

    Parameters
    ----------
    parse : callable
        ``parse(text, request)`` → parsed value, or raises :class:`ParseError`.
    max_consecutive_failures : int
        After this many failed requests in a row (a server that died) the remaining ones
        are marked failed without calling, so the run ends quickly and can be resumed.
    verbose : bool
        Progress bar over the requests.
    """
    cache = cache if cache is not None else ResponseCache(None)
    identity = backend.cache_identity()
    backend_name = str(identity.get("backend", type(backend).__name__))
    stats = RunStats(requests=len(requests))
    results: dict[str, Any] = {}
    lock = threading.Lock()
    state = {"consecutive": 0, "aborted": False}

    def one(req: LLMRequest) -> None:
        for attempt in range(max_parse_retries + 1):
            key = cache_key(identity, req.prompt, attempt)
            hit = cache.get(key)
            old = legacy_cache_key(identity, req.prompt, attempt) if hit is None else None
            if old is not None:
                hit = cache.get(old)
                if hit is not None:  # an answer paid for under the old, address-dependent key
                    cache.put(key, hit[0], backend=backend_name, prompt_tokens=hit[1], completion_tokens=hit[2])
            if hit is not None:
                text = hit[0]
                with lock:
                    stats.cache_hits += 1
            else:
                with lock:
                    if state["aborted"]:
                        stats.failed += 1
                        return
                try:
                    resp = backend.generate(req)
                except (LLMRequestFailed, LLMBackendError) as exc:
                    with lock:
                        stats.failed += 1
                        stats.errors.append(str(exc)[:200])
                        state["consecutive"] += 1
                        if state["consecutive"] >= max_consecutive_failures:
                            state["aborted"] = True
                    if isinstance(exc, LLMBackendError):
                        raise
                    return
                if not isinstance(getattr(resp, "text", None), str):
                    raise LLMBackendError(
                        f"{type(backend).__name__}.generate returned {type(resp).__name__}, "
                        "expected an LLMResponse with a str text"
                    )
                pt, ct = (
                    token_count(getattr(resp, "prompt_tokens", None)),
                    token_count(getattr(resp, "completion_tokens", None)),
                )
                bad_usage = bool(getattr(resp, "usage_invalid", False)) or pt is False or ct is False
                if bad_usage:  # garbage never becomes a token count, in the stats or the cache
                    pt = ct = None
                cache.put(key, resp.text, backend=backend_name, prompt_tokens=pt, completion_tokens=ct)
                text = resp.text
                with lock:
                    state["consecutive"] = 0
                    stats.calls += 1
                    stats.bad_usage += int(bad_usage)
                    stats.prompt_tokens += int(pt or 0)
                    stats.completion_tokens += int(ct or 0)
            try:
                value = parse(text, req)
            except ParseError as exc:
                with lock:
                    setattr(stats, exc.reason, getattr(stats, exc.reason) + 1)
                continue
            with lock:
                results[req.key] = value
                stats.parsed += 1
            return
        with lock:
            stats.skipped += 1

    bar = tqdm(total=len(requests), desc=desc, disable=not progress_enabled(verbose), leave=False, dynamic_ncols=True)
    workers = max(1, int(getattr(backend, "max_workers", 1)))
    try:
        if workers == 1:
            for req in requests:
                one(req)
                bar.update(1)
                bar.set_postfix(done=stats.parsed, cached=stats.cache_hits, failed=stats.failed, refresh=False)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(one, r) for r in requests]
                for fut in as_completed(futures):
                    fut.result()
                    bar.update(1)
                    bar.set_postfix(done=stats.parsed, cached=stats.cache_hits, failed=stats.failed, refresh=False)
    finally:
        bar.close()
    # results in request order, independent of thread timing
    ordered = {r.key: results[r.key] for r in requests if r.key in results}
    return ordered, stats
