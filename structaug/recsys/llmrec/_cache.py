"""On-disk cache of LLM answers and text embeddings (SQLite, one transaction per write).

Why SQLite: every ``put`` is its own committed transaction, so a run killed at user 5,000
of 10,000 keeps the 5,000 answers it paid for (SQLite's journal makes each commit atomic;
a half-written row never appears), and concurrent worker threads share one file safely
behind a lock. Keys are SHA-256 hashes of everything that changes an answer: backend
kind, model, sampling parameters, the prompt and the attempt number — not the server's
address (:data:`ADDRESS_FIELDS`), so the same server reached as ``localhost`` or
``127.0.0.1`` does not pay again. Caches written before that change are still read
(:func:`legacy_cache_key`). A file that is not a readable cache raises
:class:`~structaug.exceptions.CorruptFileError`; it is never deleted or silently replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ...exceptions import CorruptFileError, InvalidParameterError

__all__ = ["ADDRESS_FIELDS", "ResponseCache", "cache_key", "legacy_cache_key"]

#: Identity fields that say where a server is, not what it answers: left out of cache keys.
ADDRESS_FIELDS: tuple[str, ...] = ("base_url",)

_RESPONSE_COLUMNS = ["key", "backend", "text", "prompt_tokens", "completion_tokens", "created"]
_EMBEDDING_COLUMNS = ["key", "dim", "vec"]


def _hash(identity: Mapping[str, Any], prompt: str, attempt: int) -> str:
    blob = json.dumps(
        {"id": dict(identity), "prompt": prompt, "attempt": int(attempt)},
        sort_keys=True,
        default=str,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def cache_key(identity: Mapping[str, Any], prompt: str, attempt: int = 0) -> str:
    """A stable key for (backend identity, prompt, attempt).

    The identity's :data:`ADDRESS_FIELDS` are left out: what determines an answer is the
    model, the messages and the sampling parameters, not the URL it was fetched from.
    ``attempt > 0`` is a re-ask after a malformed answer; it gets its own key so a
    sampling LLM is really asked again and the re-asked answer is cached too.
    """
    return _hash({k: v for k, v in identity.items() if k not in ADDRESS_FIELDS}, prompt, attempt)


def legacy_cache_key(identity: Mapping[str, Any], prompt: str, attempt: int = 0) -> str | None:
    """The key older caches used (address included), or None when it equals :func:`cache_key`."""
    if not any(k in identity for k in ADDRESS_FIELDS):
        return None
    return _hash(identity, prompt, attempt)


class ResponseCache:
    """Answers (and embeddings) keyed by hash; in memory when ``path`` is None.

    Parameters
    ----------
    path : path or None
        SQLite file; created (with parent folders) when missing.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._mem: dict[str, tuple] = {}
        self._emb: dict[str, np.ndarray] = {}
        self._db: sqlite3.Connection | None = None
        self._closed = False
        if self.path is not None:
            if self.path.is_dir():
                raise InvalidParameterError(f"cache_path {str(self.path)!r} is a folder, not an SQLite cache file")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
                # checks first, writes after: a file that is not ours is refused unmodified.
                # quick_check reads every page once, so a truncated or scribbled file fails
                # here, at open, rather than half-way through a paid run
                bad = [r[0] for r in self._db.execute("PRAGMA quick_check").fetchall() if r[0] != "ok"]
                if bad:
                    raise sqlite3.DatabaseError("; ".join(bad[:3]))
                for table, want in (("responses", _RESPONSE_COLUMNS), ("embeddings", _EMBEDDING_COLUMNS)):
                    have = [r[1] for r in self._db.execute(f"PRAGMA table_info({table})")]
                    if have and have != want:
                        raise sqlite3.DatabaseError(f"table {table!r} has columns {have}, expected {want}")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, backend TEXT, text TEXT,"
                    " prompt_tokens INTEGER, completion_tokens INTEGER, created REAL)"
                )
                self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")
                self._db.commit()
            except sqlite3.DatabaseError as exc:
                self._fail(exc, opening=True)

    # -- answers -----------------------------------------------------------------------
    def get(self, key: str) -> tuple[str, int | None, int | None] | None:
        """``(text, prompt_tokens, completion_tokens)`` or None."""
        with self._lock:
            self._check_open()
            if self._db is None:
                return self._mem.get(key)
            try:
                row = self._db.execute(
                    "SELECT text, prompt_tokens, completion_tokens FROM responses WHERE key=?", (key,)
                ).fetchone()
            except sqlite3.DatabaseError as exc:
                self._fail(exc)
        if row is not None and not isinstance(row[0], str):
            self._fail(sqlite3.DatabaseError(f"answer {key[:12]}... is {type(row[0]).__name__}, not text"))
        return None if row is None else (row[0], row[1], row[2])

    def put(
        self,
        key: str,
        text: str,
        *,
        backend: str = "",
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        """Store one answer (committed immediately)."""
        with self._lock:
            self._check_open()
            if self._db is None:
                self._mem[key] = (text, prompt_tokens, completion_tokens)
                return
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO responses VALUES (?,?,?,?,?,?)",
                    (key, backend, text, prompt_tokens, completion_tokens, time.time()),
                )
                self._db.commit()
            except sqlite3.DatabaseError as exc:
                self._fail(exc)

    def __len__(self) -> int:
        with self._lock:
            if self._db is None:
                return len(self._mem)
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    # -- embeddings --------------------------------------------------------------------
    def get_embeddings(self, keys: list[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``keys``."""
        out: dict[str, np.ndarray] = {}
        with self._lock:
            self._check_open()
            if self._db is None:
                return {k: self._emb[k] for k in keys if k in self._emb}
            try:
                for start in range(0, len(keys), 500):
                    chunk = keys[start : start + 500]
                    q = f"SELECT key, dim, vec FROM embeddings WHERE key IN ({','.join('?' * len(chunk))})"
                    for k, dim, blob in self._db.execute(q, chunk):
                        if not isinstance(blob, bytes) or len(blob) != 4 * int(dim):
                            raise sqlite3.DatabaseError(
                                f"embedding {k[:12]}... has {len(blob or b'')} bytes for {dim} floats"
                            )
                        out[k] = np.frombuffer(blob, dtype=np.float32).copy()
            except sqlite3.DatabaseError as exc:
                self._fail(exc)
        return out

    def put_embeddings(self, items: Mapping[str, np.ndarray]) -> None:
        """Store vectors (float32) in one transaction."""
        with self._lock:
            self._check_open()
            if self._db is None:
                self._emb.update({k: np.asarray(v, np.float32) for k, v in items.items()})
                return
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO embeddings VALUES (?,?,?)",
                    [(k, int(np.size(v)), np.asarray(v, np.float32).tobytes()) for k, v in items.items()],
                )
                self._db.commit()
            except sqlite3.DatabaseError as exc:
                self._fail(exc)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            self._closed = True

    def _fail(self, exc: sqlite3.DatabaseError, *, opening: bool = False) -> None:
        """Raise ``CorruptFileError`` naming the file; the file itself is left untouched.

        ``OperationalError`` (locked, busy, no permission) says nothing about the content: it
        is re-raised as is, or as ``InvalidParameterError`` naming ``cache_path`` at open.
        """
        if isinstance(exc, sqlite3.OperationalError):
            if opening:
                raise InvalidParameterError(f"cache_path {str(self.path)!r} cannot be used: {exc}") from exc
            raise exc
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        self._closed = True
        raise CorruptFileError(
            f"the answer cache {str(self.path)!r} is not a readable structaug cache ({type(exc).__name__}: {exc}). "
            "It was left as it is. To start over, move or delete it (the answers in it would be paid for "
            "again), or pass another cache_path."
        ) from exc

    def _check_open(self) -> None:
        # after close, answers would silently go to memory only and be lost
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")

    def __repr__(self) -> str:
        return f"ResponseCache(path={str(self.path) if self.path else None!r})"

    # sklearn clones/deep-copies estimators holding a cache: share nothing, reopen by path.
    def __deepcopy__(self, memo):
        return ResponseCache(self.path)

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.__init__(state["path"])
