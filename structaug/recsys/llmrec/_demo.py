"""``structaug demo`` rows for LLMRec on a generated interaction log (seconds on CPU).

Rows: LightGCN trained with the LLM-free LLMRec augmentation, plain LightGCN, MF-BPR and
item popularity, all scored by test Recall@20 with full ranking.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

__all__ = ["demo_rows"]


def demo_rows(quick: bool = False, device: str = "auto", seed: int = 0) -> list:
    from ...datasets import make_interactions
    from ...demo import DemoRow
    from ...splits import split_per_user
    from . import LLMREC_DEFAULTS, LLMREC_MOVIELENS, MFBPR, HashingEmbedder, LightGCN, LLMRecAugmenter

    n_users, n_items = (120, 80) if quick else (200, 150)
    inter, items, users = make_interactions(n_users=n_users, n_items=n_items, per_user=(10, 25), random_state=seed)
    train, val, test = split_per_user(inter, seed)
    data = f"make_interactions ({n_users}x{n_items})"
    common: dict[str, Any] = dict(
        max_epochs=8 if quick else 30, patience=8, batch_size=512, lr=1e-2, device=device, random_state=seed
    )
    cat = dict(user_ids=users["user"], item_ids=items["item"])
    rows = []

    t0 = time.perf_counter()
    aug = (
        LLMRecAugmenter(
            embedder=HashingEmbedder(dim=64),
            attribute_fields=("year", "genres"),
            user_columns=("age", "gender", "occupation"),
            random_state=seed,
        )
        .fit(train, items=items, users=users)
        .sample()
    )
    aug_s = time.perf_counter() - t0
    for label, config, note in [
        ("paper settings", LLMREC_DEFAULTS, "LLM-free judge; paper pruning (docs/llmrec.md)"),
        ("reference MovieLens config", LLMREC_MOVIELENS, "LLM-free judge; reference-code pruning"),
    ]:
        t0 = time.perf_counter()
        m = LightGCN(**common, **config).fit(train, augmentation=aug, validation=val, **cat)
        r = m.evaluate(test, exclude=[val], ks=(20,))["recall@20"]
        rows.append(
            DemoRow(
                "recsys",
                data,
                f"LLMRec (LLM-free) + LightGCN, {label}",
                "recall@20",
                r,
                aug_s + time.perf_counter() - t0,
                note,
            )
        )
    for name, est in [("LightGCN", LightGCN(**common)), ("MF-BPR", MFBPR(**common))]:
        t0 = time.perf_counter()
        est.fit(train, validation=val, **cat)
        rows.append(
            DemoRow(
                "recsys",
                data,
                name,
                "recall@20",
                est.evaluate(test, exclude=[val], ks=(20,))["recall@20"],
                time.perf_counter() - t0,
            )
        )
    # popularity: one shared "user" vector times item counts
    t0 = time.perf_counter()
    pop = MFBPR(max_epochs=1, random_state=seed, device=device).fit(train, **cat)
    counts = train["item"].value_counts().reindex(pop.items_.raw_, fill_value=0).to_numpy(np.float32)
    pop.user_embeddings_ = torch.ones(len(pop.users_), 1, device=pop.item_embeddings_.device)
    pop.item_embeddings_ = torch.as_tensor(counts, device=pop.item_embeddings_.device)[:, None]
    rows.append(
        DemoRow(
            "recsys",
            data,
            "popularity",
            "recall@20",
            pop.evaluate(test, exclude=[val], ks=(20,))["recall@20"],
            time.perf_counter() - t0,
        )
    )
    return rows
