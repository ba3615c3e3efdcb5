"""``LLMRecAugmenter``: LLMRec's three graph augmentations on the Augmenter interface.

``fit(interactions, items=..., users=...)``

1. ranks candidates for every user with a base recommender (item-kNN by default; the
   paper used its own base models) and keeps the top ``n_candidates`` (paper: 10) unseen
   items;
2. asks the backend, per user, for the liked and disliked candidate (``pos::neg``) →
   augmented BPR triples E_A;
3. asks, per item, for extra attributes (paper: director, country, language) and, per
   user, for a profile (age, gender, liked/disliked genre, ...);
4. embeds the item text fields, the generated attributes and the profiles (cached per text).

``sample()`` returns an :class:`LLMRecAugmentation`: the triples as a frame of raw ids and
the feature matrices as float32 tensors whose rows follow ``user_ids``/``item_ids``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from ...base import Augmenter, SampleRNG
from ...exceptions import BackendError, DataValidationError, InvalidParameterError
from ...validation import check_bool, check_positive_int, to_sortable_time
from ..base import _block_rows, check_column_names, with_canonical_columns
from ..interactions import IdVocab, check_interactions
from ._backends import EmbeddingJudgeBackend, LLMBackend, LLMRequest
from ._cache import ResponseCache
from ._embeddings import CachedEmbedder, TextEmbedder, default_embedder
from ._parsing import parse_attributes, parse_pos_neg, parse_profile
from ._prompts import DEFAULT_ATTRIBUTE_FIELDS, DEFAULT_PROFILE_FIELDS, PromptTemplates
from ._runner import RunStats, run_requests

__all__ = ["LLMRecAugmentation", "LLMRecAugmenter", "candidate_scores"]


@dataclass
class LLMRecAugmentation:
    """What LLMRec adds to a recommendation dataset.

    Attributes
    ----------
    user_ids, item_ids : ndarray
        Raw ids in the row order of the feature matrices (sorted, as :class:`IdVocab`).
    triples : DataFrame
        Augmented BPR samples, columns ``user``, ``pos``, ``neg`` (raw ids), one per user
        the backend answered for.
    item_text : dict[str, Tensor]
        Embeddings [n_items, d] of the items' own text fields (the side information F).
    item_attributes : dict[str, Tensor]
        Embeddings [n_items, d] of each generated attribute (zero rows where no valid
        answer); the augmented item features F_A.
    user_profiles : Tensor or None
        Embeddings [n_users, d] of the generated profiles (zero rows where none).
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    triples: pd.DataFrame
    item_text: dict[str, torch.Tensor] = field(default_factory=dict)
    item_attributes: dict[str, torch.Tensor] = field(default_factory=dict)
    user_profiles: torch.Tensor | None = None

    def select(
        self, *, edges: bool = True, text: bool = True, attributes: bool = True, profiles: bool = True
    ) -> LLMRecAugmentation:
        """A copy keeping only the chosen parts (for ablations)."""
        return replace(
            self,
            triples=self.triples if edges else self.triples.iloc[:0],
            item_text=dict(self.item_text) if text else {},
            item_attributes=dict(self.item_attributes) if attributes else {},
            user_profiles=self.user_profiles if profiles else None,
        )


# ----------------------------------------------------------------------------------------
def _id_kind(s: pd.Series) -> str:
    if s.dtype == object:
        kinds = {type(v).__name__ for v in s.to_numpy()[:1000]}
        if kinds <= {"str"}:
            return "str"
        return "int" if all(k.startswith("int") for k in kinds) else "other"
    if pd.api.types.is_string_dtype(s.dtype):
        return "str"
    if pd.api.types.is_integer_dtype(s.dtype):
        return "int"
    return s.dtype.kind


def _check_same_id_type(a: pd.Series, b: pd.Series, what: str, names: tuple[str, str]) -> None:
    ka, kb = _id_kind(a), _id_kind(b)
    if ka != kb:
        raise DataValidationError(
            f"{what} ids have mismatched types: {names[0]} uses {ka} ({a.dtype}) but {names[1]} uses {kb} "
            f"({b.dtype}); cast both columns to one type"
        )


def candidate_scores(
    train: sp.csr_matrix,
    method: str | Callable[[sp.csr_matrix], np.ndarray] = "itemknn",
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Scores [len(rows), n_items] of a simple base recommender on the binary train matrix.

    ``"itemknn"``: cosine item-item similarity (no self-similarity), summed over the user's
    items; ``"popularity"``: item counts; or any callable ``f(train) -> scores``.
    """
    return _candidate_scorer(train, method)(np.arange(train.shape[0]) if rows is None else rows)


def _candidate_scorer(train: sp.csr_matrix, method: str | Callable) -> Callable[[np.ndarray], np.ndarray]:
    if callable(method):
        try:
            s = np.array(method(train), dtype=np.float64)  # a copy: the scorer's array is not edited
        except (TypeError, ValueError) as exc:
            raise BackendError(f"candidate_model returned something that is not a numeric matrix: {exc}") from exc
        if s.shape != train.shape:
            raise DataValidationError(f"candidate_model returned shape {s.shape}, expected {train.shape}")
        bad = ~np.isfinite(s)
        if bad.all():
            raise BackendError(
                f"candidate_model returned no finite score (all {s.size} are NaN/inf); "
                "no candidate can be ranked, so no edge could be augmented"
            )
        if bad.any():
            # a NaN sorts arbitrarily: such a pair is no candidate, and the user is told how many
            warnings.warn(
                f"candidate_model returned {int(bad.sum())} NaN/inf score(s) of {s.size}; "
                "those (user, item) pairs are not offered as candidates",
                RuntimeWarning,
                stacklevel=4,
            )
            s[bad] = -np.inf
        return lambda rows: s[rows]
    if method == "popularity":
        pop = np.asarray(train.sum(0)).ravel().astype(np.float64)
        return lambda rows: np.tile(pop, (len(rows), 1))
    if method == "itemknn":
        co = (train.T @ train).tocsr().astype(np.float64)
        d = np.sqrt(np.maximum(co.diagonal(), 1e-12))
        sim = sp.diags(1 / d) @ co @ sp.diags(1 / d)
        sim = (sim - sp.diags(sim.diagonal())).tocsr()  # no self-similarity
        sim.eliminate_zeros()
        return lambda rows: np.asarray((train[rows] @ sim).todense())
    raise InvalidParameterError(f"candidate_model must be 'itemknn', 'popularity' or a callable, got {method!r}")


def _top_unseen(scores: np.ndarray, train: sp.csr_matrix, rows: np.ndarray, k: int) -> list[np.ndarray]:
    """Each row's ``k`` best unseen items, best first; ties go to the lower item index (the
    first ``k`` of a stable sort on -score), so candidates are deterministic."""
    out = []
    for r, u in enumerate(rows):
        s = scores[r].astype(np.float64).copy()
        s[~np.isfinite(s)] = -np.inf  # non-finite scores are never candidates
        s[train.indices[train.indptr[u] : train.indptr[u + 1]]] = -np.inf
        n_free = int(np.isfinite(s).sum())
        kk = min(k, n_free)
        if kk == 0:
            out.append(np.zeros(0, dtype=np.int64))
            continue
        # O(items) per user, not a full sort: everything above the kk-th best score, then the
        # lowest-index items at it, ordered by (-score, index). (A slice of a full argsort
        # would also keep the whole [n_items] order alive per user: 8 GB at 10^5 users x 10^4 items.)
        t = -np.partition(-s, kk - 1)[kk - 1]
        above = np.flatnonzero(s > t)
        pick = np.sort(np.concatenate([above, np.flatnonzero(s == t)[: kk - len(above)]]))
        out.append(pick[np.argsort(-s[pick], kind="stable")])
    return out


def _item_text_row(row: pd.Series, columns: Sequence[str]) -> str:
    parts = []
    for c in columns:
        v = row[c]
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        s = str(v).replace("|", ", ").strip()
        if s:
            parts.append(s)
    return ", ".join(parts)


# ----------------------------------------------------------------------------------------
class LLMRecAugmenter(Augmenter):
    """LLM-based graph augmentation for recommendation (Wei et al., WSDM 2024).

    Parameters
    ----------
    backend : LLMBackend or None
        Who answers the prompts; ``None`` uses the **LLM-free**
        :class:`EmbeddingJudgeBackend` with ``embedder``.
    embedder : TextEmbedder or None
        Text → vector; ``None`` uses all-MiniLM-L6-v2 when installed, else the hashing
        fallback.
    n_candidates : int
        Candidates per user shown to the backend (paper: 10).
    candidate_model : {"itemknn", "popularity"} or callable
        Base recommender that ranks the candidates.
    item_text_columns : sequence of str
        Item columns that make an item's text (prompt lines and side features).
    user_columns : sequence of str or None
        User metadata columns shown in profile prompts (None: all but ``user``).
    attribute_fields, profile_fields : sequence of str
        What the backend is asked to write (paper defaults).
    augment_edges, augment_attributes, augment_profiles : bool
        Which augmentations to request.
    prompts : PromptTemplates or None
        Templates (paper-style defaults).
    domain : str
        Word used in the prompts ("movie").
    max_history : int
        Most recent history items shown per user.
    cache_path : str or None
        SQLite file for answers and embeddings (resume without paying again); None keeps
        them in memory for this fit. A file that is not a readable cache raises
        ``CorruptFileError`` before any request (the file is left untouched).
    max_parse_retries : int
        Re-asks after a malformed answer before skipping the request.
    user_col, item_col, time_col : str
        Column names of ``interactions`` (and ``item_col`` in ``items``, ``user_col`` in
        ``users``), as on every structaug recommender; defaults ``"user"``, ``"item"``,
        ``"timestamp"``. The frames are not modified.
    verbose : bool
        Progress bars over the LLM requests (silent by default).
    random_state : int or None
        Seeds ``sample``'s subsampling (the pipeline itself is deterministic given the
        backend's answers).

    Attributes
    ----------
    users_, items_ : IdVocab
        Fitted id maps; the rows of the feature matrices follow ``users_.raw_`` / ``items_.raw_``.
    triples_ : DataFrame
        Every augmented triple the backend gave (columns ``user``, ``pos``, ``neg``; raw ids).
    item_text_, item_attributes_ : dict[str, ndarray [n_items, d]]
    user_profiles_ : ndarray [n_users, d] or None
    stats_ : dict
        Request counts per kind (``edge``, ``attribute``, ``profile``, ``total``), backend
        and embedder identity.
    """

    #: ``sample(data, n)`` returns ``n`` augmented user-item triples in total
    sample_unit: ClassVar[str] = "additions"

    def __init__(
        self,
        *,
        backend: LLMBackend | None = None,
        embedder: TextEmbedder | None = None,
        n_candidates: int = 10,
        candidate_model: str | Callable = "itemknn",
        item_text_columns: Sequence[str] = ("title", "genres"),
        user_columns: Sequence[str] | None = None,
        attribute_fields: Sequence[str] = DEFAULT_ATTRIBUTE_FIELDS,
        profile_fields: Sequence[str] = DEFAULT_PROFILE_FIELDS,
        augment_edges: bool = True,
        augment_attributes: bool = True,
        augment_profiles: bool = True,
        prompts: PromptTemplates | None = None,
        domain: str = "movie",
        max_history: int = 50,
        cache_path: str | os.PathLike | None = None,
        max_parse_retries: int = 1,
        user_col: str = "user",
        item_col: str = "item",
        time_col: str = "timestamp",
        verbose: bool = False,
        random_state: Any = None,
    ):
        self.backend = backend
        self.embedder = embedder
        self.n_candidates = n_candidates
        self.candidate_model = candidate_model
        self.item_text_columns = item_text_columns
        self.user_columns = user_columns
        self.attribute_fields = attribute_fields
        self.profile_fields = profile_fields
        self.augment_edges = augment_edges
        self.augment_attributes = augment_attributes
        self.augment_profiles = augment_profiles
        self.prompts = prompts
        self.domain = domain
        self.max_history = max_history
        self.cache_path = cache_path
        self.max_parse_retries = max_parse_retries
        self.user_col = user_col
        self.item_col = item_col
        self.time_col = time_col
        self.verbose = verbose
        self.random_state = random_state

    def _validate_params(self) -> None:
        check_positive_int(self.n_candidates, "n_candidates", minimum=2)
        check_positive_int(self.max_history, "max_history")
        check_positive_int(self.max_parse_retries, "max_parse_retries", minimum=0)
        check_bool(self.verbose, "verbose")
        check_column_names(self.user_col, self.item_col, self.time_col)
        if not callable(self.candidate_model) and self.candidate_model not in ("itemknn", "popularity"):
            raise InvalidParameterError(
                f"candidate_model must be 'itemknn', 'popularity' or a callable, got {self.candidate_model!r}"
            )
        for name in ("item_text_columns", "user_columns", "attribute_fields", "profile_fields"):
            if isinstance(getattr(self, name), str):  # "title" would be read as the columns t, i, t, l, e
                raise InvalidParameterError(
                    f"{name} must be a sequence of names, got the string "
                    f"{getattr(self, name)!r}; write ({getattr(self, name)!r},)"
                )
        if not self.item_text_columns:
            raise InvalidParameterError("item_text_columns must name at least one column")
        if self.augment_attributes and not self.attribute_fields:
            raise InvalidParameterError("attribute_fields is empty but augment_attributes=True")
        if self.augment_profiles and not self.profile_fields:
            raise InvalidParameterError("profile_fields is empty but augment_profiles=True")
        if self.backend is not None and not (
            hasattr(self.backend, "generate") and hasattr(self.backend, "cache_identity")
        ):
            raise InvalidParameterError(
                f"backend must implement the LLMBackend protocol (generate, cache_identity), "
                f"got {type(self.backend).__name__}"
            )

    # -- input checks -----------------------------------------------------------------
    def _check_inputs(
        self, inter: Any, items: Any, users: Any
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
        # the caller's column names -> ours (user, item, timestamp), on shallow copies
        check_interactions(inter, required=(self.user_col, self.item_col), check_time=False)
        inter = with_canonical_columns(
            inter, {self.user_col: "user", self.item_col: "item", self.time_col: "timestamp"}
        )
        inter = check_interactions(inter)
        if items is not None:
            check_interactions(items, name="items", required=(self.item_col,))
            items = with_canonical_columns(items, {self.item_col: "item"})
        if users is not None:
            check_interactions(users, name="users", required=(self.user_col,))
            users = with_canonical_columns(users, {self.user_col: "user"})
        if items is None:
            raise InvalidParameterError("LLMRecAugmenter.fit needs items=<DataFrame with 'item' and text columns>")
        items = check_interactions(items, name="items", required=("item",))
        if items["item"].duplicated().any():
            dup = items.loc[items["item"].duplicated(), "item"].head(5).tolist()
            raise DataValidationError(f"items has duplicated item ids {dup}")
        _check_same_id_type(inter["item"], items["item"], "item", ("interactions", "items"))
        unknown = ~inter["item"].isin(items["item"])
        if unknown.any():
            ids = pd.unique(inter.loc[unknown, "item"])[:5].tolist()
            raise DataValidationError(
                f"interactions reference {int(unknown.sum())} row(s) with item ids missing from items, e.g. {ids}"
            )
        missing = [c for c in self.item_text_columns if c not in items.columns]
        if missing:
            raise DataValidationError(f"items lacks text column(s) {missing}; has {list(items.columns)}")
        if users is not None:
            users = check_interactions(users, name="users", required=("user",))
            _check_same_id_type(inter["user"], users["user"], "user", ("interactions", "users"))
            unk = ~inter["user"].isin(users["user"])
            if unk.any():
                raise DataValidationError(
                    f"interactions reference user ids missing from users, e.g. "
                    f"{pd.unique(inter.loc[unk, 'user'])[:5].tolist()}"
                )
            if self.user_columns is not None:  # checked here, not after the edge requests were paid for
                missing = [c for c in self.user_columns if c not in users.columns]
                if missing:
                    raise DataValidationError(
                        f"users lacks column(s) {missing} named in user_columns; has {list(users.columns)}"
                    )
            idle = ~users["user"].isin(inter["user"])
            if idle.any():
                raise DataValidationError(
                    f"{int(idle.sum())} user(s) have no history in interactions, e.g. {users.loc[idle, 'user'].head(5).tolist()}; "
                    "LLMRec prompts from a user's history, so drop them from users first"
                )
        return inter, items, users

    # -- fit ----------------------------------------------------------------------------
    def _fit(  # type: ignore[override]
        self,
        data: Any,
        *,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
    ) -> None:
        inter, items, users = self._check_inputs(data, items, users)
        item_vocab = IdVocab(items["item"])
        user_vocab = IdVocab(users["user"] if users is not None else inter["user"])
        items_sorted = items.set_index("item").loc[item_vocab.raw_].reset_index()
        texts = [_item_text_row(r, self.item_text_columns) for _, r in items_sorted.iterrows()]
        empty = [item_vocab.raw_[j] for j, t in enumerate(texts) if not t]
        if empty:
            raise DataValidationError(
                f"{len(empty)} item(s) have empty text in {list(self.item_text_columns)}, "
                f"e.g. {empty[:5]}; LLMRec needs text for every item"
            )
        u = user_vocab.encode(inter["user"].to_numpy(), name="user")
        i = item_vocab.encode(inter["item"].to_numpy(), name="item")
        n_users, n_items = len(user_vocab), len(item_vocab)
        train = sp.csr_matrix((np.ones(len(u)), (u, i)), shape=(n_users, n_items))
        train.data[:] = 1.0
        train.sort_indices()

        # history order: most recent last when timestamps exist, in time order (string timestamps
        # as numbers or dates, never as text: "10" sorts after "2"); inter itself is not touched
        order = (
            np.argsort(to_sortable_time(inter["timestamp"], "interactions['timestamp']"), kind="stable")
            if "timestamp" in inter.columns
            else np.arange(len(u))
        )
        hist: list[list[int]] = [[] for _ in range(n_users)]
        seen: set[tuple[int, int]] = set()
        for k in order:
            pair = (int(u[k]), int(i[k]))
            if pair not in seen:
                seen.add(pair)
                hist[pair[0]].append(pair[1])
        hist = [h[-self.max_history :] for h in hist]

        cache = ResponseCache(self.cache_path)
        embedder = CachedEmbedder(self.embedder if self.embedder is not None else default_embedder(), cache)
        backend = self.backend if self.backend is not None else EmbeddingJudgeBackend(embedder.embedder)
        prompts = self.prompts or PromptTemplates()
        item_meta = items_sorted.drop(columns=["item"]).to_dict("records")
        stats: dict[str, Any] = {}

        # 1-2. candidates and edge augmentation
        triples = pd.DataFrame({"user": user_vocab.raw_[:0], "pos": item_vocab.raw_[:0], "neg": item_vocab.raw_[:0]})
        if self.augment_edges:
            cands: list[np.ndarray] = []
            scorer = _candidate_scorer(train, self.candidate_model)
            # user blocks bound the dense [block, n_items] scores, as in recommend()
            block = _block_rows(n_items)
            for start in range(0, n_users, block):
                rows = np.arange(start, min(start + block, n_users))
                cands.extend(_top_unseen(scorer(rows), train, rows, self.n_candidates))
            reqs = [
                LLMRequest(
                    "edge",
                    f"user:{uid}",
                    prompts.render_edge(
                        [texts[j] for j in hist[uid]], [texts[j] for j in cands[uid]], domain=self.domain
                    ),
                    {"history_texts": [texts[j] for j in hist[uid]], "candidate_texts": [texts[j] for j in cands[uid]]},
                )
                for uid in range(n_users)
                if len(cands[uid]) >= 2
            ]
            cand_of = {f"user:{uid}": cands[uid] for uid in range(n_users)}
            got, st = run_requests(
                backend,
                reqs,
                lambda t, r: parse_pos_neg(t, len(r.payload["candidate_texts"])),
                cache=cache,
                max_parse_retries=self.max_parse_retries,
                verbose=self.verbose,
                desc="llmrec edges",
            )
            stats["edge"] = st.to_dict()
            if not got:
                why = (
                    "no user has 2 or more unseen candidates"
                    if not reqs
                    else f"none of the {len(reqs)} edge requests gave a usable answer (see stats_['edge'])"
                )
                warnings.warn(f"LLMRec added no augmented edges: {why}", RuntimeWarning, stacklevel=3)
            rows_u, rows_p, rows_n = [], [], []
            for key, (p, n) in got.items():
                uid = int(key.split(":", 1)[1])
                rows_u.append(uid)
                rows_p.append(int(cand_of[key][p]))
                rows_n.append(int(cand_of[key][n]))
            triples = pd.DataFrame(
                {
                    "user": user_vocab.decode(np.asarray(rows_u, np.int64)),
                    "pos": item_vocab.decode(np.asarray(rows_p, np.int64)),
                    "neg": item_vocab.decode(np.asarray(rows_n, np.int64)),
                }
            )

        # 3. item attributes
        item_attributes: dict[str, np.ndarray] = {}
        if self.augment_attributes:
            fields = tuple(self.attribute_fields)
            reqs = [
                LLMRequest(
                    "attribute",
                    f"item:{j}",
                    prompts.render_attribute(texts[j], fields, domain=self.domain),
                    {"item_metadata": item_meta[j], "fields": fields},
                )
                for j in range(n_items)
            ]
            got, st = run_requests(
                backend,
                reqs,
                lambda t, r: parse_attributes(t, fields),
                cache=cache,
                max_parse_retries=self.max_parse_retries,
                verbose=self.verbose,
                desc="llmrec attributes",
            )
            stats["attribute"] = st.to_dict()
            for f in fields:
                item_attributes[f] = self._embed_answers(
                    embedder, n_items, {int(k.split(":")[1]): v[f] for k, v in got.items()}, f
                )

        # 3'. user profiles
        user_profiles = None
        if self.augment_profiles:
            fields = tuple(self.profile_fields)
            umeta = self._user_metadata(users, user_vocab)
            reqs = []
            for uid in range(n_users):
                shown = ", ".join(f"{k}: {v}" for k, v in umeta[uid].items()) or "unknown"
                reqs.append(
                    LLMRequest(
                        "profile",
                        f"user:{uid}",
                        prompts.render_profile([texts[j] for j in hist[uid]], shown, fields, domain=self.domain),
                        {
                            "user_metadata": umeta[uid],
                            "history_metadata": [item_meta[j] for j in hist[uid]],
                            "fields": fields,
                        },
                    )
                )
            got, st = run_requests(
                backend,
                reqs,
                lambda t, r: parse_profile(t, fields),
                cache=cache,
                max_parse_retries=self.max_parse_retries,
                verbose=self.verbose,
                desc="llmrec profiles",
            )
            stats["profile"] = st.to_dict()
            # a profile whose every field is "unknown" carries nothing: it gets a zero row like no answer
            prof_text = {
                int(k.split(":")[1]): "; ".join(f"{f}: {v[f]}" for f in fields)
                for k, v in got.items()
                if not all(_is_unknown(v[f]) for f in fields)
            }
            user_profiles = self._embed_answers(embedder, n_users, prof_text, None)

        # 4. the items' own text fields (side information F)
        item_text = {
            c: embedder.embed([_item_text_row(r, [c]) or "unknown" for _, r in items_sorted.iterrows()])
            for c in self.item_text_columns
        }

        total = RunStats()
        for k in ("edge", "attribute", "profile"):
            if k in stats:
                total = total.merge(RunStats(**{kk: vv for kk, vv in stats[k].items()}))
        stats["total"] = total.to_dict()
        if total.failed:
            # a dead or overloaded server must not pass for a quiet, augmentation-free success
            warnings.warn(
                f"{total.failed} of {total.requests} LLM requests failed "
                "(see stats_); their users/items get no augmentation. Fitting again with the same "
                "cache resumes and asks only for the missing answers.",
                RuntimeWarning,
                stacklevel=3,
            )
        if total.bad_usage:
            warnings.warn(
                f"{total.bad_usage} of {total.calls} answers came with an unreadable 'usage' field; "
                "the answers are kept but their tokens are not counted in stats_",
                RuntimeWarning,
                stacklevel=3,
            )
        stats["backend"] = str(backend.cache_identity().get("backend"))
        stats["llm_free"] = bool(getattr(backend, "llm_free", False))
        stats["embedder"] = embedder.identity
        stats["texts_embedded"] = embedder.n_embedded
        stats["texts_from_cache"] = embedder.n_cached
        cache.close()

        self.users_ = user_vocab
        self.items_ = item_vocab
        self.item_texts_ = texts
        self.triples_ = triples
        self.item_text_ = item_text
        self.item_attributes_ = item_attributes
        self.user_profiles_ = user_profiles
        self.stats_ = stats

    def _user_metadata(self, users: pd.DataFrame | None, vocab: IdVocab) -> list[dict[str, Any]]:
        if users is None:
            return [{} for _ in range(len(vocab))]
        cols = list(self.user_columns) if self.user_columns is not None else [c for c in users.columns if c != "user"]
        missing = [c for c in cols if c not in users.columns]
        if missing:
            raise DataValidationError(f"users lacks column(s) {missing}")
        u = users.drop_duplicates("user").set_index("user").loc[vocab.raw_]
        return [{c: row[c] for c in cols} for _, row in u.iterrows()]

    @staticmethod
    def _embed_answers(embedder: CachedEmbedder, n: int, answers: dict[int, str], field_name: str | None) -> np.ndarray:
        """Rows with a usable answer get its embedding, others (no answer, 'unknown') zeros."""
        keep = {j: v for j, v in answers.items() if not _is_unknown(v)}
        out = None
        if keep:
            idx = sorted(keep)
            vecs = embedder.embed([f"{field_name}: {keep[j]}" if field_name else keep[j] for j in idx])
            out = np.zeros((n, vecs.shape[1]), np.float32)
            out[idx] = vecs
        else:
            d = embedder.embed(["unknown"]).shape[1]
            out = np.zeros((n, d), np.float32)
        return out

    # -- sample -------------------------------------------------------------------------
    def sample(self, data: Any = None, n: int | None = None, *, random_state: Any = None) -> LLMRecAugmentation:
        """The augmentation to train with: triples, item text/attribute and profile features.

        Parameters
        ----------
        data : None
            Ignored: the augmentation is of the interactions seen in ``fit``.
        n : int, optional
            ``sample(data, n)`` returns ``n`` NEW elements in total: ``n`` augmented user-item
            triples (BPR samples ``user, pos, neg``), drawn without replacement from the
            ``len(triples_)`` the backend gave; a larger ``n`` raises
            ``DataValidationError``. ``n=None`` returns all the triples it generated (one
            per user the backend answered for). The feature matrices are returned whole
            whatever ``n``.
        random_state : int or Generator, optional
            Overrides the augmenter's own sampling stream for this call.

        Returns
        -------
        LLMRecAugmentation
        """
        return super().sample(data, n, random_state=random_state)

    def _count_sampled(self, out: LLMRecAugmentation, data: Any) -> int:
        return len(out.triples)

    def _sample(self, data: Any, n: int | None, rng: SampleRNG) -> LLMRecAugmentation:
        triples = self.triples_
        if n is not None and n > len(triples):
            raise DataValidationError(
                f"n={n} exceeds the {len(triples)} augmented triple(s) fit generated; "
                "pass n <= len(triples_) or n=None for all of them"
            )
        if n is not None and n < len(triples):
            pick = np.sort(rng.np.choice(len(triples), size=n, replace=False))
            triples = triples.iloc[pick]
        # copies: editing a returned tensor must not change the fitted state (or the next sample)
        t = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32)
        return LLMRecAugmentation(
            user_ids=self.users_.raw_.copy(),
            item_ids=self.items_.raw_.copy(),
            triples=triples.reset_index(drop=True).copy(),
            item_text={k: t(v) for k, v in self.item_text_.items()},
            item_attributes={k: t(v) for k, v in self.item_attributes_.items()},
            user_profiles=None if self.user_profiles_ is None else t(self.user_profiles_),
        )


def _is_unknown(value: str) -> bool:
    """An LLM answer that says nothing ("unknown", "N/A", "none", empty)."""
    return value.strip().lower() in ("unknown", "n/a", "none", "")
