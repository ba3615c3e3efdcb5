"""LLMRec (Wei et al., WSDM 2024): LLM-based graph augmentation for recommendation.

Public API: the :class:`LLMRecAugmenter` and what it returns (:class:`LLMRecAugmentation`);
the :class:`LightGCN` / :class:`MFBPR` recommenders that train on it (LLMRec's loss settings:
:data:`LLMREC_DEFAULTS`, :data:`LLMREC_MOVIELENS`); the backends that answer the prompts
(OpenAI-compatible HTTP, local transformers, and the LLM-free embedding judge), the text
embedders, the on-disk answer cache and the prompt templates.

The implementation lives in private modules (``_augmenter``, ``_backends``, ``_cache``,
``_embeddings``, ``_graph_models``, ``_mae``, ``_parsing``, ``_prompts``, ``_recommender``,
``_runner``, ``_training``); their helpers (request runner, answer parsers, cache keys) are
not part of the API.
"""

from __future__ import annotations

from ._augmenter import LLMRecAugmentation, LLMRecAugmenter
from ._backends import (
    EmbeddingJudgeBackend,
    LLMBackend,
    LLMBackendError,
    LLMRequest,
    LLMRequestFailed,
    LLMResponse,
    OpenAICompatibleBackend,
    TransformersBackend,
)
from ._cache import ResponseCache
from ._embeddings import HashingEmbedder, SentenceTransformerEmbedder, TextEmbedder, default_embedder
from ._prompts import DEFAULT_ATTRIBUTE_FIELDS, DEFAULT_PROFILE_FIELDS, PromptTemplates
from ._recommender import LLMREC_DEFAULTS, LLMREC_MOVIELENS, MFBPR, LightGCN

__all__ = [
    "DEFAULT_ATTRIBUTE_FIELDS",
    "DEFAULT_PROFILE_FIELDS",
    "LLMREC_DEFAULTS",
    "LLMREC_MOVIELENS",
    "MFBPR",
    "EmbeddingJudgeBackend",
    "HashingEmbedder",
    "LLMBackend",
    "LLMBackendError",
    "LLMRecAugmentation",
    "LLMRecAugmenter",
    "LLMRequest",
    "LLMRequestFailed",
    "LLMResponse",
    "LightGCN",
    "OpenAICompatibleBackend",
    "PromptTemplates",
    "ResponseCache",
    "SentenceTransformerEmbedder",
    "TextEmbedder",
    "TransformersBackend",
    "default_embedder",
]
