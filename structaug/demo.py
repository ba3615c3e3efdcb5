"""``structaug demo``: a one-minute tour on shipped or generated data.

Each data family contributes rows (the augmented model, the same model without
augmentation, a tree baseline) through a ``demo_rows(quick, device, seed)`` function
registered in :data:`DEMO_SECTIONS`.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["DEMO_SECTIONS", "DemoRow", "baseline_rows", "format_rows", "run_demo"]


@dataclass
class DemoRow:
    family: str
    dataset: str
    model: str
    metric: str
    value: float
    fit_s: float
    note: str = ""


#: section name → "module:function"; run in this order.
DEMO_SECTIONS: dict[str, str] = {
    "baseline": "structaug.demo:baseline_rows",
    "tabular": "structaug.tabular._demo:demo_rows",
    "graph": "structaug.graph._demo:demo_rows",
    "sequence": "structaug.recsys.mclrec._demo:demo_rows",
    "tensor": "structaug.tensor._demo:demo_rows",
    "recsys": "structaug.recsys.llmrec._demo:demo_rows",
}


def _resolve(spec: str) -> Callable[..., list[DemoRow]]:
    mod, fn = spec.split(":")
    return getattr(importlib.import_module(mod), fn)


def baseline_rows(quick: bool = False, device: str = "auto", seed: int = 0) -> list[DemoRow]:
    """An MLP trained by the shared trainer and XGBoost on scikit-learn's breast-cancer table."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    from xgboost import XGBClassifier

    from .metrics import accuracy
    from .nn import MLP
    from .train import Trainer, minibatch_epoch, resolve_device

    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    Xtr, Xva, ytr, yva = train_test_split(Xtr, ytr, test_size=0.2, stratify=ytr, random_state=seed)
    sc = StandardScaler().fit(Xtr)
    dev = resolve_device(device)
    t = lambda a, dt=torch.float32: torch.as_tensor(a, dtype=dt, device=dev)
    xtr, xva, xte = t(sc.transform(Xtr)), t(sc.transform(Xva)), t(sc.transform(Xte))
    ytr_t, yva_t = t(ytr, torch.long), t(yva, torch.long)

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    model = MLP([X.shape[1], 64, 64, 2], dropout=0.1).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    gen = torch.Generator(device=dev).manual_seed(seed)
    loss = lambda xb, yb: torch.nn.functional.cross_entropy(model(xb), yb)

    @torch.no_grad()
    def val(epoch: int) -> dict[str, float]:
        model.eval()
        return {"val_loss": float(torch.nn.functional.cross_entropy(model(xva), yva_t))}

    Trainer(max_epochs=40 if quick else 200, patience=20, device=dev, seed=seed, verbose=False, desc="mlp").fit(
        model,
        opt,
        lambda e: minibatch_epoch(model, opt, loss, [xtr, ytr_t], batch_size=64, generator=gen),
        val,
        generators=[gen],
    )
    model.eval()
    with torch.no_grad():
        acc_mlp = accuracy(yte, model(xte).cpu())
    mlp_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    xgb = XGBClassifier(
        n_estimators=50 if quick else 200, max_depth=4, learning_rate=0.1, random_state=seed, n_jobs=2
    ).fit(Xtr, ytr)
    acc_xgb = accuracy(yte, xgb.predict(Xte))
    xgb_s = time.perf_counter() - t0
    return [
        DemoRow("table", "breast_cancer (sklearn)", "MLP (shared trainer)", "accuracy", acc_mlp, mlp_s),
        DemoRow("table", "breast_cancer (sklearn)", "XGBoost", "accuracy", acc_xgb, xgb_s),
    ]


def format_rows(rows: list[DemoRow]) -> str:
    heads = ["family", "dataset", "model", "metric", "value", "fit_s", "note"]
    cells = [[r.family, r.dataset, r.model, r.metric, f"{r.value:.4f}", f"{r.fit_s:.1f}", r.note] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(heads)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()
    out = [line(heads), line(["-" * w for w in widths])]
    out += [line(c) for c in cells]
    return "\n".join(out)


def run_demo(
    sections: list[str] | None = None,
    *,
    quick: bool = False,
    device: str = "auto",
    seed: int = 0,
    echo: Callable[[str], None] = print,
) -> list[DemoRow]:
    """Run the tour and print one table; returns the rows.

    Raises
    ------
    InvalidParameterError
        ``sections`` is empty, names a section not in :data:`DEMO_SECTIONS` or repeats one.
    """
    from .bench import parse_names

    # an unknown or repeated name is an InvalidParameterError naming `sections`, before any section runs
    names = parse_names(sections, DEMO_SECTIONS, "sections") if sections is not None else list(DEMO_SECTIONS)
    rows: list[DemoRow] = []
    t_all = time.perf_counter()
    for name in names:
        spec = DEMO_SECTIONS[name]
        try:
            fn = _resolve(spec)
        except ModuleNotFoundError as exc:
            if exc.name and spec.split(":")[0].startswith(exc.name):
                echo(f"[demo] section {name!r} is not available in this version")
                continue
            raise
        t0 = time.perf_counter()
        new = fn(quick=quick, device=device, seed=seed)
        rows.extend(new)
        echo(f"[demo] {name}: {len(new)} rows in {time.perf_counter() - t0:.1f}s")
    echo("")
    echo(format_rows(rows))
    echo(
        f"\ntotal {time.perf_counter() - t_all:.1f}s on {'cuda' if str(device).startswith('cuda') else device}"
        f" ({torch.get_num_threads()} torch threads)"
    )
    return rows
