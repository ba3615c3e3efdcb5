"""HyperTab fit/predict time and accuracy: structaug against the reference PyPI package.

Both ``hypertab.HyperTabClassifier`` (PyPI ``hypertab``, Wydmański et al.) and
:class:`structaug.tabular.HyperTabClassifier` are fitted **in this one process**, on the
same CPU, one torch thread, on the same float matrix (our :class:`TableEncoder` fitted on
the training split: one-hot categoricals, standardised numbers), with the same number of
views (the reference's ``test_nodes``), epochs, batch size, subsample fraction and learning
rate. Our estimator runs its default schedule (``masks_per_step=1``: one Adam step per
(batch, mask), the reference's). Per (dataset, seed) the two packages alternate which one
runs first, so drift in the machine's load does not favour one side.

Measured per fit: wall seconds (``time.perf_counter``) and CPU seconds of this process
(``time.process_time``) plus those of finished child processes (the reference's
``DataLoader(num_workers=1)`` starts a worker process every epoch), and the same for
``predict`` on the held-out split; accuracy and balanced accuracy on it.

The reference package imports ``torchvision`` at import time, which does not import beside
the CPU build of torch this project installs. It runs in a separate environment, e.g.::

    python3 -m venv /work/venv_ref
    /work/venv_ref/bin/pip install torch==2.14.1 torchvision==0.29.1
    /work/venv_ref/bin/pip install hypertab pandas xgboost matplotlib tensorly
    /work/venv_ref/bin/pip install --no-deps -e .
    OMP_NUM_THREADS=1 /work/venv_ref/bin/python benchmarks/run_hypertab_reference.py \\
        --out benchmarks/results/hypertab_reference.json
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

DEFAULT_DATASETS = ["sonar", "breast_cancer_wisconsin", "pima", "synthetic_1000x60"]


def require_reference() -> Any:
    """Import the reference package or exit with a message that says why and what to do."""
    try:
        import hypertab
    except Exception as exc:  # ImportError, or torchvision's operators missing beside this torch
        sys.exit(
            "run_hypertab_reference.py: the reference package 'hypertab' is not importable here "
            f"({type(exc).__name__}: {exc}).\n"
            "It needs torchvision, which does not import beside the CPU torch build of the main "
            "environment. Use a separate venv (see this script's docstring): torch==2.14.1 "
            "torchvision==0.29.1, then 'pip install hypertab' and 'pip install --no-deps -e .'."
        )
    return hypertab


def load(name: str, data_dir: str | None) -> tuple[Any, np.ndarray]:
    """``(X, y)``: a PMLB table, or ``synthetic_<n>x<d>`` from ``make_classification``."""
    if name.startswith("synthetic_"):
        from sklearn.datasets import make_classification

        n, d = (int(v) for v in name.split("_", 1)[1].split("x"))
        X, y = make_classification(n_samples=n, n_features=d, n_informative=max(2, d // 4), random_state=0)
        return X.astype(np.float32), y
    from structaug.bench.tabular import load_table

    X, y, task = load_table(name, data_dir)
    if task != "classification":
        raise ValueError(f"{name} is a regression table; the reference package only classifies")
    return X, y.to_numpy()


def cpu_seconds() -> float:
    """CPU seconds of this process and of its reaped children (DataLoader workers)."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), cpu_seconds()
    out = fn()
    return out, time.perf_counter() - t0, cpu_seconds() - c0


def run_pair(name: str, X: Any, y: np.ndarray, seed: int, args: argparse.Namespace, hypertab: Any) -> list[dict]:
    """One held-out split: fit and score the reference and structaug's HyperTab."""
    import torch
    from sklearn.model_selection import train_test_split

    from structaug.metrics import accuracy, balanced_accuracy
    from structaug.tabular import FeatureSubsetViews, HyperTabClassifier
    from structaug.tabular._encoder import TableEncoder, encode_class_labels

    itr, ite = train_test_split(np.arange(len(y)), test_size=args.test_size, stratify=y, random_state=seed)
    Xtr = X.iloc[itr] if hasattr(X, "iloc") else X[itr]
    Xte = X.iloc[ite] if hasattr(X, "iloc") else X[ite]
    # One shared numeric matrix: the reference expects a scaled float matrix and labels 0..C-1.
    enc = TableEncoder(encoding="onehot", missing="impute").fit(Xtr)
    Ztr = np.ascontiguousarray(enc.transform(Xtr), dtype=np.float32)
    Zte = np.ascontiguousarray(enc.transform(Xte), dtype=np.float32)
    codes, classes = encode_class_labels(y)
    ytr, yte = codes[itr].astype(np.int64), codes[ite].astype(np.int64)

    def fit_reference() -> Any:
        # The reference draws masks, init and batch order from the global generators.
        np.random.seed(seed)
        torch.manual_seed(seed)
        m = hypertab.HyperTabClassifier(
            subsample=args.subsample,
            device="cpu",
            test_nodes=args.views,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
        )
        m.fit(Ztr, ytr)
        return m

    def fit_ours() -> Any:
        return HyperTabClassifier(
            views=FeatureSubsetViews(subsample=args.subsample, n_views=args.views),
            max_epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            masks_per_step=1,
            device="cpu",
            random_state=seed,
        ).fit(Ztr, ytr)

    runs = [("hypertab (reference)", fit_reference), ("structaug", fit_ours)]
    if seed % 2:
        runs.reverse()  # alternate the order so load drift does not favour one side
    out = []
    for package, fit in runs:
        model, fit_wall, fit_cpu = timed(fit)
        pred, pred_wall, pred_cpu = timed(lambda: np.asarray(model.predict(Zte), dtype=np.int64))
        out.append(
            {
                "package": package,
                "dataset": name,
                "seed": seed,
                "n_train": int(len(itr)),
                "n_test": int(len(ite)),
                "n_features_encoded": int(Ztr.shape[1]),
                "n_classes": int(len(classes)),
                "fit_wall_s": fit_wall,
                "fit_cpu_s": fit_cpu,
                "predict_wall_s": pred_wall,
                "predict_cpu_s": pred_cpu,
                "accuracy": accuracy(yte, pred),
                "balanced_accuracy": balanced_accuracy(yte, pred),
            }
        )
        print(
            f"{name:24s} seed {seed} {package:22s} fit {fit_wall:7.1f}s wall {fit_cpu:7.1f}s cpu  "
            f"acc {out[-1]['accuracy']:.4f}",
            flush=True,
        )
    return out


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("hypertab", "structaug", "torch", "torchvision", "numpy", "scikit-learn"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _ms(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def markdown(payload: dict) -> str:
    recs = payload["records"]
    cfg, env = payload["config"], payload["environment"]
    lines = [
        "# HyperTab: structaug vs the reference package (same process, same CPU)",
        "",
        f"Device: {env['device']}  ",
        f"Commit: {env.get('git_commit')}  ",
        f"Versions: {env['versions']}  ",
        f"Config: {cfg}  ",
        f"Load average at start / end: {env['loadavg_start']} / {env['loadavg_end']}",
        "",
        "Times are per fit on the training split (wall and CPU seconds; CPU includes the reference's "
        "DataLoader worker processes). Speed-up = reference ÷ structaug, the geometric mean of the "
        "per-seed ratios. Accuracy on the held-out split; mean ± std over seeds.",
        "",
        "| dataset | n_train × d | package | fit wall s | fit CPU s | predict wall s | accuracy | balanced acc. |",
        "|---|---|---|---|---|---|---|---|",
    ]
    speed = []
    for ds in dict.fromkeys(r["dataset"] for r in recs):
        rows = {
            p: [r for r in recs if r["dataset"] == ds and r["package"] == p]
            for p in ("hypertab (reference)", "structaug")
        }
        for p, rs in rows.items():
            if not rs:
                continue
            lines.append(
                f"| {ds} | {rs[0]['n_train']} × {rs[0]['n_features_encoded']} | {p} | "
                f"{_ms([r['fit_wall_s'] for r in rs], 1)} | {_ms([r['fit_cpu_s'] for r in rs], 1)} | "
                f"{_ms([r['predict_wall_s'] for r in rs], 3)} | {_ms([r['accuracy'] for r in rs], 4)} | "
                f"{_ms([r['balanced_accuracy'] for r in rs], 4)} |"
            )
        ref = {r["seed"]: r for r in rows["hypertab (reference)"]}
        ours = {r["seed"]: r for r in rows["structaug"]}
        seeds = sorted(set(ref) & set(ours))
        if seeds:
            w = float(np.exp(np.mean([np.log(ref[s]["fit_wall_s"] / ours[s]["fit_wall_s"]) for s in seeds])))
            c = float(np.exp(np.mean([np.log(ref[s]["fit_cpu_s"] / ours[s]["fit_cpu_s"]) for s in seeds])))
            da = float(np.mean([ours[s]["accuracy"] - ref[s]["accuracy"] for s in seeds]))
            speed.append((ds, w, c, da, len(seeds)))
    lines += [
        "",
        "| dataset | fit speed-up (wall) | fit speed-up (CPU) | accuracy structaug − reference | seeds |",
        "|---|---|---|---|---|",
    ]
    for ds, w, c, da, n in speed:
        lines.append(f"| {ds} | {w:.2f}× | {c:.2f}× | {da:+.4f} | {n} |")
    lines += [
        "",
        "Architectural note: the reference package's (PyPI 0.6.2, paper-era code) target network is "
        "`k → hidden_dims → C` (one hidden layer, `target_architecture=[(k, h), (h, C)]`); structaug's is "
        "`k → h → h → C` (two hidden layers, as in the reference's current GitHub code, commit 0c6e551), so "
        "structaug does slightly more arithmetic per step. "
        "The reference averages logits at prediction, structaug averages probabilities.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--datasets", default=",".join(DEFAULT_DATASETS), help="PMLB classification tables and/or synthetic_<n>x<d>"
    )
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--views", type=int, default=100, help="n_views = the reference's test_nodes")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--subsample", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--test-size", type=float, default=0.3)
    p.add_argument("--data-dir", default=None)
    from structaug.bench import add_out_arguments, claim_out, write_script_results

    add_out_arguments(p, "hypertab_reference")
    args = p.parse_args(argv)
    claim_out(p, args)

    hypertab = require_reference()
    import torch

    from structaug.results import cpu_model, environment

    torch.set_num_threads(1)  # both packages on one core: the comparison is per core
    seeds = [int(s) for s in args.seeds.split(",")]
    load_start = os.getloadavg()
    cfg = {
        "datasets": args.datasets.split(","),
        "seeds": seeds,
        "n_views": args.views,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "subsample": args.subsample,
        "lr": args.lr,
        "test_size": args.test_size,
        "torch_threads": 1,
        "structaug_masks_per_step": 1,
        "hidden_dims": 10,
        "command": " ".join(["python", "benchmarks/run_hypertab_reference.py", *(argv or sys.argv[1:])]),
    }
    records: list[dict] = []
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        X, y = load(name, args.data_dir)
        for seed in seeds:
            records.extend(run_pair(name, X, y, seed, args, hypertab))
        # written after every dataset, so an interrupted run keeps what it finished
        env = {
            "device": f"CPU: {cpu_model()} ({os.cpu_count()} cores, {torch.get_num_threads()} torch thread)",
            "versions": versions(),
            "platform": platform.platform(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "loadavg_start": [round(v, 2) for v in load_start],
            "loadavg_end": [round(v, 2) for v in os.getloadavg()],
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "git_commit": environment("cpu")["git_commit"],
        }
        payload = {"benchmark": "hypertab_reference", "environment": env, "config": cfg, "records": records}
        write_script_results(args.out, payload, markdown(payload))
    print(markdown(payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
