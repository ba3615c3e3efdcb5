"""``structaug demo`` rows for the tabular family.

HyperTab vs the same-size plain MLP (no feature-subset views) vs XGBoost on one stratified
split of scikit-learn's shipped wine table (178 rows — HyperTab's small-data regime), then
T-JEPA's own rows when :mod:`structaug.tabular.tjepa._demo` is present.
"""

from __future__ import annotations

import importlib
import time

from ..demo import DemoRow
from ..metrics import accuracy

__all__ = ["demo_rows"]


def demo_rows(quick: bool = False, device: str = "auto", seed: int = 0) -> list[DemoRow]:
    """HyperTab, plain MLP and XGBoost accuracy on a 30% test split of sklearn's wine table."""
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split

    from ._baselines import make_baseline
    from .hypertab import FeatureSubsetViews, HyperTabClassifier

    X, y = load_wine(return_X_y=True, as_frame=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    ds = "wine (sklearn, 178 rows)"
    rows: list[DemoRow] = []
    # quick: fewer views and epochs, so the tour's tests stay in seconds; otherwise the defaults
    n_views = 20 if quick else 100
    ht = HyperTabClassifier(views=FeatureSubsetViews(n_views=n_views), device=device, random_state=seed)
    if quick:
        ht.set_params(max_epochs=30)
    models = [
        ("HyperTab (feature-subset views)", ht, f"{n_views} views, {ht.max_epochs} epochs"),
        ("MLP (no views)", make_baseline("MLP", "classification", seed, device), "TableEncoder → MLP 256-256"),
        ("XGBoost", make_baseline("XGBoost", "classification", seed, device), "300 trees"),
    ]
    for name, model, note in models:
        t0 = time.perf_counter()
        model.fit(Xtr, ytr)
        acc = accuracy(yte.to_numpy(), model.predict(Xte))
        rows.append(DemoRow("table", ds, name, "accuracy", acc, time.perf_counter() - t0, note))
    try:
        tjepa_demo = importlib.import_module("structaug.tabular.tjepa._demo")
    except ModuleNotFoundError:
        return rows
    return rows + list(tjepa_demo.demo_rows(quick=quick, device=device, seed=seed))
