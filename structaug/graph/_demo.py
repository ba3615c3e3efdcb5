"""``structaug demo`` rows for graphs: LA-GCN vs GCN vs XGBoost on a generated SBM graph."""

from __future__ import annotations

import time

from ..demo import DemoRow

__all__ = ["demo_rows"]


def demo_rows(quick: bool = False, device: str = "auto", seed: int = 0) -> list[DemoRow]:
    """Fit a small CVAE, then train LA-GCN, the same GCN without augmentation and XGBoost.

    Data: :func:`structaug.datasets.make_sbm_graph` (noisy bag-of-words features, homophilous
    edges, 10 labelled nodes per class) so neighbours carry signal the features lack. The CVAE
    and GNN budgets are cut from the paper's (seconds on 2 CPU cores); see docs/lagnn.md.
    """
    from xgboost import XGBClassifier

    from ..datasets import make_sbm_graph
    from ..metrics import accuracy
    from ._augmenter import LocalAugmenter
    from ._training import fit_node_model

    n = 300 if quick else 600
    data = make_sbm_graph(n, 4, 64, avg_degree=4.0, feature_signal=0.25, train_per_class=10, random_state=seed)
    ds = f"SBM graph ({n} nodes, generated)"
    epochs, patience = (100, 30) if quick else (300, 50)

    t0 = time.perf_counter()
    aug = LocalAugmenter(
        max_epochs=2 if quick else 4,
        warmup=20,
        num_models=20,
        uscore_every=5,
        selector_max_epochs=50,
        update_epochs=10,
        device=device,
        random_state=seed,
    ).fit(data)
    cvae_s = time.perf_counter() - t0
    la = fit_node_model(
        "lagcn",
        data,
        augmenter=aug,
        random_state=seed,
        device=device,
        max_epochs=epochs,
        patience=patience,
        hidden_size=16,
    )
    gcn = fit_node_model("gcn", data, random_state=seed, device=device, max_epochs=epochs, patience=patience)

    t0 = time.perf_counter()
    x, y = data.x.numpy(), data.y.numpy()
    tr, te = data.train_mask.numpy(), data.test_mask.numpy()
    xgb = XGBClassifier(n_estimators=200, max_depth=4, learning_rate=0.1, n_jobs=2, random_state=seed)
    xgb.fit(x[tr], y[tr])
    acc_xgb = accuracy(y[te], xgb.predict(x[te]))
    xgb_s = time.perf_counter() - t0
    return [
        DemoRow(
            "graph",
            ds,
            "LA-GCN (LAGNN CVAE + GCN)",
            "accuracy",
            la.test_acc,
            cvae_s + la.fit_time,
            f"CVAE fit {cvae_s:.1f}s",
        ),
        DemoRow("graph", ds, "GCN (no augmentation)", "accuracy", gcn.test_acc, gcn.fit_time),
        DemoRow("graph", ds, "XGBoost (node features)", "accuracy", acc_xgb, xgb_s),
    ]
