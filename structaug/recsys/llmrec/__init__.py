"""LLMRec (Wei et al., WSDM 2024): LLM-based graph augmentation for recommendation.

Backends (OpenAI-compatible HTTP, local transformers, and the LLM-free embedding judge),
an on-disk answer cache, strict parsing, text embedders, the :class:`LLMRecAugmenter`,
and the LightGCN / MF-BPR recommenders that consume its output.
"""
from __future__ import annotations

from .augmenter import LLMRecAugmentation, LLMRecAugmenter, candidate_scores
from .backends import (EmbeddingJudgeBackend, LLMBackend, LLMBackendError, LLMRequest, LLMRequestFailed,
                       LLMResponse, OpenAICompatibleBackend, TransformersBackend)
from .cache import ResponseCache, cache_key
from .embeddings import CachedEmbedder, HashingEmbedder, SentenceTransformerEmbedder, TextEmbedder, default_embedder
from .parsing import ParseError, parse_attributes, parse_pos_neg, parse_profile
from .prompts import DEFAULT_ATTRIBUTE_FIELDS, DEFAULT_PROFILE_FIELDS, PromptTemplates
from .recommender import LLMREC_DEFAULTS, LLMREC_MOVIELENS, MFBPR, LightGCN
from .runner import RunStats, run_requests
from .splits import split_per_user

__all__ = [
    "LLMRecAugmenter", "LLMRecAugmentation", "candidate_scores",
    "LightGCN", "MFBPR", "LLMREC_DEFAULTS", "LLMREC_MOVIELENS",
    "LLMBackend", "LLMRequest", "LLMResponse", "LLMBackendError", "LLMRequestFailed",
    "OpenAICompatibleBackend", "TransformersBackend", "EmbeddingJudgeBackend",
    "ResponseCache", "cache_key", "run_requests", "RunStats", "split_per_user",
    "TextEmbedder", "HashingEmbedder", "SentenceTransformerEmbedder", "CachedEmbedder", "default_embedder",
    "PromptTemplates", "DEFAULT_ATTRIBUTE_FIELDS", "DEFAULT_PROFILE_FIELDS",
    "ParseError", "parse_pos_neg", "parse_attributes", "parse_profile",
]
