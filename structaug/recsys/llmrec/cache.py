"""On-disk cache of LLM answers and text embeddings (SQLite, one transaction per write).

Why SQLite: every ``put`` is its own committed transaction, so a run killed at user 5,000
of 10,000 keeps the 5,000 answers it paid for (SQLite's journal makes each commit atomic;
a half-written row never appears), and concurrent worker threads share one file safely
behind a lock. Keys are SHA-256 hashes of everything that changes an answer: backend
kind, model, sampling parameters, the prompt and the attempt number.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = ["ResponseCache", "cache_key"]


def cache_key(identity: Mapping[str, Any], prompt: str, attempt: int = 0) -> str:
    """A stable key for (backend identity, prompt, attempt).

    ``attempt > 0`` is a re-ask after a malformed answer; it gets its own key so a
    sampling LLM is really asked again and the re-asked answer is cached too.
    """
    blob = json.dumps({"id": dict(identity), "prompt": prompt, "attempt": int(attempt)},
                      sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


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
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, backend TEXT, text TEXT,"
                " prompt_tokens INTEGER, completion_tokens INTEGER, created REAL)")
            self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")
            self._db.commit()

    # -- answers -----------------------------------------------------------------------
    def get(self, key: str) -> tuple[str, int | None, int | None] | None:
        """``(text, prompt_tokens, completion_tokens)`` or None."""
        with self._lock:
            self._check_open()
            if self._db is None:
                return self._mem.get(key)
            row = self._db.execute(
                "SELECT text, prompt_tokens, completion_tokens FROM responses WHERE key=?", (key,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def put(self, key: str, text: str, *, backend: str = "", prompt_tokens: int | None = None,
            completion_tokens: int | None = None) -> None:
        """Store one answer (committed immediately)."""
        with self._lock:
            self._check_open()
            if self._db is None:
                self._mem[key] = (text, prompt_tokens, completion_tokens)
                return
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?,?,?,?,?,?)",
                             (key, backend, text, prompt_tokens, completion_tokens, time.time()))
            self._db.commit()

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
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                q = "SELECT key, vec FROM embeddings WHERE key IN (%s)" % ",".join("?" * len(chunk))
                for k, blob in self._db.execute(q, chunk):
                    out[k] = np.frombuffer(blob, dtype=np.float32).copy()
        return out

    def put_embeddings(self, items: Mapping[str, np.ndarray]) -> None:
        """Store vectors (float32) in one transaction."""
        with self._lock:
            self._check_open()
            if self._db is None:
                self._emb.update({k: np.asarray(v, np.float32) for k, v in items.items()})
                return
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?,?,?)",
                                 [(k, int(np.size(v)), np.asarray(v, np.float32).tobytes()) for k, v in items.items()])
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            self._closed = True

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
