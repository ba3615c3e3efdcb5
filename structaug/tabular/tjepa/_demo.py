"""``structaug demo`` rows for T-JEPA on scikit-learn's shipped breast-cancer table.

Three rows on one stratified split: T-JEPA + MLP head, the same MLP head on the raw
standardised features (no T-JEPA), and XGBoost. The encoder is a small CPU-sized T-JEPA
(2 layers, width 16, a few epochs) so the section runs in seconds; the paper-sized
defaults are ``TJEPA()``'s.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ...demo import DemoRow
from ...metrics import accuracy

__all__ = ["demo_rows"]


def demo_rows(quick: bool = False, device: str = "auto", seed: int = 0) -> list[DemoRow]:
    """T-JEPA+MLP vs raw-feature MLP vs XGBoost (accuracy on a 30% test split)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from xgboost import XGBClassifier

    from .._encoder import TableEncoder
    from .._mlp import MLPHead
    from ._estimator import TJEPA
    from ._heads import TJEPAClassifier

    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    epochs = 2 if quick else 8
    enc = TJEPA(
        hidden_size=16,
        n_layers=1 if quick else 2,
        n_heads=2,
        inner_size=32,
        predictor_hidden_size=16,
        predictor_n_layers=1,
        predictor_n_heads=2,
        predictor_inner_size=32,
        batch_size=64,
        max_epochs=epochs,
        lr=1e-3,
        warmup_epochs=1,
        patience=None,
    )
    head: dict[str, Any] = dict(
        hidden_sizes=(64, 64),
        max_epochs=60 if quick else 200,
        patience=16,
        device=device,
        random_state=seed,
        verbose=False,
    )
    note = f"{epochs} pre-training epochs, 2 layers x 16 wide" if not quick else f"{epochs} epochs, 1 layer"

    t0 = time.perf_counter()
    clf = TJEPAClassifier(encoder=enc, **head).fit(Xtr, ytr)
    acc_tjepa = accuracy(yte, clf.predict(Xte))
    tjepa_s = time.perf_counter() - t0

    raw = TableEncoder().fit(Xtr)
    t0 = time.perf_counter()
    mlp = MLPHead(**head).fit(raw.transform(Xtr), ytr)
    acc_mlp = accuracy(yte, torch.as_tensor(mlp.decision_function(raw.transform(Xte))))
    mlp_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    xgb = XGBClassifier(n_estimators=200, max_depth=4, learning_rate=0.1, random_state=seed, n_jobs=2).fit(Xtr, ytr)
    acc_xgb = accuracy(yte, np.asarray(xgb.predict(Xte)))
    xgb_s = time.perf_counter() - t0
    ds = "breast_cancer (sklearn)"
    return [
        DemoRow("table", ds, "T-JEPA + MLP head", "accuracy", acc_tjepa, tjepa_s, note),
        DemoRow("table", ds, "MLP head on raw features", "accuracy", acc_mlp, mlp_s, "same head, no T-JEPA"),
        DemoRow("table", ds, "XGBoost", "accuracy", acc_xgb, xgb_s),
    ]
