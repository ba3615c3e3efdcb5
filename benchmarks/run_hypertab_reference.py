"""HyperTab fit/predict time and accuracy: structaug against the reference PyPI package.

Both ``hypertab.HyperTabClassifier`` (PyPI ``hypertab``, Wydmański et al.) and
:class:`structaug.tabular.HyperTabClassifier` are fitted **in this one process**, on the
same CPU, one torch thread, on the same float matrix (our :class:`TableEncoder` fitted on
the training split: one-hot categoricals, standardised numbers), with the same number of
views (the reference's ``test_nodes``), batch size and subsample fraction. Ours runs twice: at
the reference's schedule (``masks_per_step=1``, ``lr=--lr``, ``--epochs``, one hidden layer in the
target network like PyPI 0.6.2: one Adam step per (batch, mask), the same number of steps) and
at its own defaults (several masks per step, its default learning rate, epochs and target
network; the reference runs ``--epochs``, its default 50). Per (dataset, seed) the three fits rotate which one
runs first, so drift in the machine's load does not favour one side. Every fit counts its
optimizer steps (a global step hook, so the reference's are counted too).

Where the time goes: for each table, one more one-epoch fit per schedule of ours runs under
``torch.profiler``; the self CPU time of its matrix products (``mm``, ``addmm``, ``bmm``,
``baddbmm``) per optimizer step is reported beside the fit's measured CPU time per step, so the
overhead around the arithmetic (Python, autograd, element-wise kernels) is visible.

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


def _encoded_split(X: Any, y: np.ndarray, seed: int, args: argparse.Namespace) -> tuple:
    """The seeded stratified hold-out, encoded once for every package: ``(Ztr, ytr, Zte, yte,
    n_classes)``. The reference expects a scaled float matrix and labels 0..C-1, so both
    packages get our :class:`TableEncoder`'s matrix."""
    from sklearn.model_selection import train_test_split

    from structaug.tabular._encoder import TableEncoder, encode_class_labels

    itr, ite = train_test_split(np.arange(len(y)), test_size=args.test_size, stratify=y, random_state=seed)
    Xtr = X.iloc[itr] if hasattr(X, "iloc") else X[itr]
    enc = TableEncoder(encoding="onehot", missing="impute").fit(Xtr)
    Ztr = np.ascontiguousarray(enc.transform(Xtr), dtype=np.float32)
    codes, classes = encode_class_labels(y)
    Xte = X.iloc[ite] if hasattr(X, "iloc") else X[ite]
    Zte = np.ascontiguousarray(enc.transform(Xte), dtype=np.float32)
    return Ztr, codes[itr].astype(np.int64), Zte, codes[ite].astype(np.int64), int(len(classes))


def _default_schedule() -> str:
    from structaug.tabular import HyperTabClassifier

    est = HyperTabClassifier()
    return (
        f"masks_per_step={est.masks_per_step}, lr={est.lr!r} (= {est._learning_rate():g}), "
        f"max_epochs={est.max_epochs}, n_hidden_layers={est.n_hidden_layers}"
    )


#: the fits per (dataset, seed): the reference package, then ours at the reference's and at our schedule
PACKAGES = ("hypertab (reference)", "structaug (reference schedule)", "structaug (default schedule)")
MATMULS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


class StepCounter:
    """Counts every optimizer step taken while active (any optimizer, any package)."""

    def __init__(self) -> None:
        self.steps = 0

    def __enter__(self) -> StepCounter:
        from torch.optim.optimizer import register_optimizer_step_post_hook

        self._handle = register_optimizer_step_post_hook(self._count)
        return self

    def _count(self, *_: Any) -> None:
        self.steps += 1

    def __exit__(self, *exc: Any) -> None:
        self._handle.remove()


def our_estimator(schedule: str, seed: int, args: argparse.Namespace, epochs: int | None = None) -> Any:
    """Our classifier at the reference's schedule (one mask per step, ``--lr``, ``--epochs``, the
    PyPI package's one-hidden-layer target network) or at its defaults; ``epochs`` overrides both."""
    from structaug.tabular import FeatureSubsetViews, HyperTabClassifier

    kw: dict[str, Any] = {}
    if schedule == "reference":
        kw = {"masks_per_step": 1, "lr": args.lr, "max_epochs": args.epochs, "n_hidden_layers": 1}
    if epochs is not None:
        kw["max_epochs"] = epochs
    return HyperTabClassifier(
        views=FeatureSubsetViews(subsample=args.subsample, n_views=args.views),
        batch_size=args.batch_size,
        device="cpu",
        random_state=seed,
        **kw,
    )


def step_profile(Ztr: np.ndarray, ytr: np.ndarray, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Per schedule of ours: self CPU ms of the matrix products per optimizer step, and of every
    op, in a one-epoch fit under ``torch.profiler`` (whose bookkeeping inflates the total)."""
    from torch.profiler import ProfilerActivity, profile

    out = {}
    for schedule in ("reference", "default"):
        est = our_estimator(schedule, 0, args, epochs=1)
        with StepCounter() as counter, profile(activities=[ProfilerActivity.CPU]) as prof:
            est.fit(Ztr, ytr)
        ev = prof.key_averages()
        total = sum(e.self_cpu_time_total for e in ev) / 1e3
        mm = sum(e.self_cpu_time_total for e in ev if e.key in MATMULS) / 1e3
        out[schedule] = {
            "steps": counter.steps,
            "profiled_ms_per_step": total / counter.steps,
            "matmul_ms_per_step": mm / counter.steps,
        }
    return out


def run_pair(name: str, X: Any, y: np.ndarray, seed: int, args: argparse.Namespace, hypertab: Any) -> list[dict]:
    """One held-out split: fit and score the reference and structaug's HyperTab (both schedules)."""
    import torch

    from structaug.metrics import accuracy, balanced_accuracy

    Ztr, ytr, Zte, yte, n_classes = _encoded_split(X, y, seed, args)

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

    fits = {
        PACKAGES[0]: fit_reference,
        PACKAGES[1]: lambda: our_estimator("reference", seed, args).fit(Ztr, ytr),
        PACKAGES[2]: lambda: our_estimator("default", seed, args).fit(Ztr, ytr),
    }
    order = list(PACKAGES[seed % 3 :] + PACKAGES[: seed % 3])  # rotate: load drift favours no side
    out = []
    for package in order:
        with StepCounter() as counter:
            model, fit_wall, fit_cpu = timed(fits[package])
        pred, pred_wall, pred_cpu = timed(lambda: np.asarray(model.predict(Zte), dtype=np.int64))
        out.append(
            {
                "package": package,
                "dataset": name,
                "seed": seed,
                "n_train": int(len(ytr)),
                "n_test": int(len(yte)),
                "n_features_encoded": int(Ztr.shape[1]),
                "n_classes": n_classes,
                "fit_wall_s": fit_wall,
                "fit_cpu_s": fit_cpu,
                "optimizer_steps": counter.steps,
                "predict_wall_s": pred_wall,
                "predict_cpu_s": pred_cpu,
                "accuracy": accuracy(yte, pred),
                "balanced_accuracy": balanced_accuracy(yte, pred),
            }
        )
        print(
            f"{name:24s} seed {seed} {package:31s} fit {fit_wall:7.1f}s wall {fit_cpu:7.1f}s cpu  "
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
    from structaug.bench import markdown_header

    # this script's environment names the machine "device" (with the torch thread count)
    machine = {"device_name": env["device"], "git_commit": env.get("git_commit")}
    lines = markdown_header("HyperTab: structaug vs the reference package (same process, same CPU)", machine) + [
        f"Versions: {env['versions']}  ",
        f"Config: {cfg}  ",
        f"Load average at start / end: {env['loadavg_start']} / {env['loadavg_end']}",
        "",
        "Times are per fit on the training split (wall and CPU seconds; CPU includes the reference's "
        "DataLoader worker processes). Speed-up = reference ÷ structaug, the geometric mean of the "
        "per-seed ratios. Accuracy on the held-out split; mean ± std over seeds. Our reference "
        "schedule: one mask per Adam step at the reference's learning rate and epochs; our defaults: "
        f"{cfg.get('default_schedule', 'the estimator defaults')}.",
        "",
        "| dataset | n_train × d | package | Adam steps | fit wall s | fit CPU s | predict wall s | accuracy | "
        "balanced acc. |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    speed = []
    for ds in dict.fromkeys(r["dataset"] for r in recs):
        rows = {p: [r for r in recs if r["dataset"] == ds and r["package"] == p] for p in PACKAGES}
        for p, rs in rows.items():
            if not rs:
                continue
            lines.append(
                f"| {ds} | {rs[0]['n_train']} × {rs[0]['n_features_encoded']} | {p} | "
                f"{rs[0].get('optimizer_steps', '')} | "
                f"{_ms([r['fit_wall_s'] for r in rs], 1)} | {_ms([r['fit_cpu_s'] for r in rs], 1)} | "
                f"{_ms([r['predict_wall_s'] for r in rs], 3)} | {_ms([r['accuracy'] for r in rs], 4)} | "
                f"{_ms([r['balanced_accuracy'] for r in rs], 4)} |"
            )
        ref = {r["seed"]: r for r in rows[PACKAGES[0]]}
        for p in PACKAGES[1:]:
            ours = {r["seed"]: r for r in rows[p]}
            seeds = sorted(set(ref) & set(ours))
            if seeds:
                w = float(np.exp(np.mean([np.log(ref[s]["fit_wall_s"] / ours[s]["fit_wall_s"]) for s in seeds])))
                c = float(np.exp(np.mean([np.log(ref[s]["fit_cpu_s"] / ours[s]["fit_cpu_s"]) for s in seeds])))
                da = float(np.mean([ours[s]["accuracy"] - ref[s]["accuracy"] for s in seeds]))
                db = float(np.mean([ours[s]["balanced_accuracy"] - ref[s]["balanced_accuracy"] for s in seeds]))
                speed.append((ds, p, w, c, da, db, len(seeds)))
    lines += [
        "",
        "| dataset | ours | fit speed-up (wall) | fit speed-up (CPU) | accuracy ours − reference | "
        "balanced acc. ours − reference | seeds |",
        "|---|---|---|---|---|---|---|",
    ]
    for ds, p, w, c, da, db, n in speed:
        lines.append(f"| {ds} | {p.split('(')[1].rstrip(')')} | {w:.2f}× | {c:.2f}× | {da:+.4f} | {db:+.4f} | {n} |")
    prof = payload.get("step_profile") or {}
    if prof:
        lines += [
            "",
            "Where a step's time goes (ours): CPU time per Adam step of the full fits above, and, in a "
            "one-epoch fit under `torch.profiler` (whose bookkeeping inflates every op), the self CPU "
            "time per step of all ops and of the matrix products (`mm`, `addmm`, `bmm`, `baddbmm`); "
            "the rest is Python, autograd, element-wise kernels and the optimizer:",
            "",
            "| dataset | schedule | CPU ms per Adam step (fit) | profiled ms per step | of which matmuls | "
            "matmul share |",
            "|---|---|---|---|---|---|",
        ]
        for ds, per in prof.items():
            for schedule, p in (("reference", PACKAGES[1]), ("default", PACKAGES[2])):
                rs = [r for r in recs if r["dataset"] == ds and r["package"] == p]
                if not rs or schedule not in per:
                    continue
                ms = 1e3 * float(np.mean([r["fit_cpu_s"] / r["optimizer_steps"] for r in rs]))
                tot, mm = per[schedule]["profiled_ms_per_step"], per[schedule]["matmul_ms_per_step"]
                lines.append(f"| {ds} | {schedule} | {ms:.3f} | {tot:.3f} | {mm:.3f} | {100 * mm / tot:.0f} % |")
    lines += [
        "",
        "Architectural note: the reference package's (PyPI 0.6.2, paper-era code) target network is "
        "`k → hidden_dims → C` (one hidden layer, `target_architecture=[(k, h), (h, C)]`), as is structaug's "
        "at both schedules here (its default `n_hidden_layers=1`; the reference's current GitHub code, "
        "commit 0c6e551, has two). "
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
    p.add_argument(
        "--epochs", type=int, default=50, help="the reference's epochs (its default; ours at its schedule too)"
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--subsample", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--test-size", type=float, default=0.3)
    p.add_argument("--data-dir", default=None)
    from structaug.bench import add_out_arguments, claim_out, script_command, write_script_results

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
        "default_schedule": _default_schedule(),
        "hidden_dims": 10,
        "command": script_command(__file__, argv),
    }
    records: list[dict] = []
    profiles: dict[str, dict] = {}
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        X, y = load(name, args.data_dir)
        for seed in seeds:
            records.extend(run_pair(name, X, y, seed, args, hypertab))
        Ztr, ytr, *_ = _encoded_split(X, y, seeds[0], args)
        profiles[name] = step_profile(Ztr, ytr, args)
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
        payload = {
            "benchmark": "hypertab_reference",
            "environment": env,
            "config": cfg,
            "records": records,
            "step_profile": profiles,
        }
        write_script_results(args.out, payload, markdown(payload))
    print(markdown(payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
