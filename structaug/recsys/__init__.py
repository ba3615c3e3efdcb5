"""Recommenders: MCLRec on item sequences and LLMRec on user-item graphs.

Names are imported lazily so that ``import structaug.recsys`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from .interactions import IdVocab, check_interactions

_LAZY = {
    # the contract every recommender follows
    "Recommender": "structaug.recsys.base",
    # sequences (MCLRec, CL4SRec, SASRec)
    "SequenceViews": "structaug.recsys.mclrec",
    "SASRec": "structaug.recsys.mclrec",
    "CL4SRec": "structaug.recsys.mclrec",
    "MCLRec": "structaug.recsys.mclrec",
    "SequentialRecommender": "structaug.recsys.mclrec",
    # user-item graphs (LLMRec, LightGCN)
    "LLMRecAugmenter": "structaug.recsys.llmrec",
    "LightGCN": "structaug.recsys.llmrec",
    "OpenAICompatibleBackend": "structaug.recsys.llmrec",
    "TransformersBackend": "structaug.recsys.llmrec",
    "EmbeddingJudgeBackend": "structaug.recsys.llmrec",
    "LLMBackend": "structaug.recsys.llmrec",
    "MFBPR": "structaug.recsys.llmrec",
}

__all__ = ["IdVocab", "check_interactions", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'structaug.recsys' has no attribute {name!r}")
