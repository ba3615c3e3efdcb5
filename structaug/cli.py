"""The ``structaug`` command: ``demo``, ``bench <method>`` and ``datasets``."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

__all__ = ["main", "build_parser", "parse_seeds"]


def parse_seeds(text: str) -> list[int]:
    """``"5"`` → [0..4]; ``"0,3,7"`` → [0, 3, 7]; ``"2-5"`` → [2, 3, 4, 5]."""
    text = text.strip()
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
            if not seeds:
                raise argparse.ArgumentTypeError(f"--seeds list {text!r} names no seed")
            return seeds
        if "-" in text[1:]:
            a, b = (int(v) for v in text.split("-", 1))
            if b < a:
                raise argparse.ArgumentTypeError(f"--seeds range {text!r} is empty (write low-high)")
            return list(range(a, b + 1))
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes N, a list '0,1,2' or a range '0-4', got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("--seeds N needs N >= 1")
    return list(range(n))


def _add_bench_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder laid out like shared/datasets (default: $STRUCTAUG_DATA, then ../shared/datasets)")
    p.add_argument("--datasets", help="comma-separated dataset names (default: the benchmark's own list)")
    p.add_argument("--seeds", type=parse_seeds, default=None, help="number of seeds N, or a list 0,1,2, or a range 0-9")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where torch models run")
    p.add_argument("--quick", action="store_true", help="a small budget for smoke runs")
    p.add_argument("--out", type=Path, help="results JSON path (a markdown summary is written beside it)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes over datasets")
    p.add_argument("--resume", action="store_true", help="skip (method, dataset, seed) rows already in --out")
    p.add_argument("--no-progress", action="store_true", help="silence progress bars")


def build_parser() -> argparse.ArgumentParser:
    from .bench import BENCHMARKS
    from .demo import DEMO_SECTIONS

    parser = argparse.ArgumentParser(
        prog="structaug",
        description="Augmenters for graphs, recommendation logs, sequences, sparse tensors and tables.",
    )
    parser.add_argument("--version", action="version", version=f"structaug {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="one-minute tour on shipped/generated data",
                       description="Train each method, its un-augmented twin and a tree baseline on small "
                                   "shipped or generated data and print one table.")
    d.add_argument("--sections", help=f"comma-separated subset of: {', '.join(DEMO_SECTIONS)}")
    d.add_argument("--quick", action="store_true", help="even smaller budgets (used by the tests)")
    d.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--json", type=Path, help="also write the rows as JSON here")

    b = sub.add_parser("bench", help="run a method's benchmark against its baselines",
                       description="Run one benchmark; writes one JSON record per (method, dataset, seed).")
    bsub = b.add_subparsers(dest="method", required=True)
    for name in BENCHMARKS:
        bp = bsub.add_parser(name, help=f"{name} benchmark")
        _add_bench_flags(bp)
        try:
            from .bench import load_benchmark

            mod = load_benchmark(name)
            if hasattr(mod, "add_arguments"):
                mod.add_arguments(bp)
            if mod.__doc__:
                bp.description = mod.__doc__.strip().splitlines()[0]
        except ModuleNotFoundError:
            bp.description = f"{name} benchmark (not available in this version)"

    ds = sub.add_parser("datasets", help="list the datasets found and where")
    ds.add_argument("--data-dir")
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("structaug")
    except Exception:
        return "unknown"


def _cmd_datasets(args) -> int:
    from .datasets import available_datasets, candidate_dirs

    print("data roots searched (in order):")
    for p in candidate_dirs(args.data_dir):
        print(f"  {p}{'' if p.exists() else '  (missing)'}")
    print()
    rows = available_datasets(args.data_dir)
    w = max(len(r["name"]) for r in rows)
    for r in rows:
        mark = "yes" if r["found"] else "no "
        print(f"  {r['family']:<9} {r['name']:<{w}}  {mark}  {r['path']}")
    try:
        from .datasets import pmlb_index

        idx = pmlb_index(args.data_dir)
        print(f"\n  PMLB tables: {len(idx)} ({', '.join(idx['name'].head(8))}, ...)")
    except FileNotFoundError:
        pass
    return 0


def _cmd_bench(args) -> int:
    from .bench import BenchConfig, load_benchmark
    from .results import load_records, save_records

    mod = load_benchmark(args.method)
    if args.workers > 1 and not getattr(mod, "SUPPORTS_WORKERS", False):
        print(f"[{args.method}] --workers is not supported by this benchmark: running in one process "
              "(start several processes with disjoint --seeds/--datasets and --out files instead)", file=sys.stderr)
    datasets = [s.strip() for s in args.datasets.split(",")] if args.datasets else None
    seeds = args.seeds if args.seeds is not None else getattr(mod, "DEFAULT_SEEDS", [0, 1, 2])
    out = args.out
    if out is None:
        out = Path("benchmarks/results") if Path("benchmarks/results").is_dir() else Path(".")
        out = out / f"{args.method}{'_quick' if args.quick else ''}.json"
    known = {"data_dir", "datasets", "seeds", "device", "quick", "out", "workers", "resume", "no_progress", "command", "method"}
    cfg = BenchConfig(
        data_dir=args.data_dir, datasets=datasets, seeds=seeds, device=args.device, quick=args.quick,
        out=out, workers=args.workers, resume=args.resume, progress=not args.no_progress,
        extra={k: v for k, v in vars(args).items() if k not in known},
    )
    if not cfg.progress:
        os.environ["STRUCTAUG_PROGRESS"] = "0"
    previous = load_records(out) if args.resume and out.exists() else []
    cfg.extra["previous"] = previous
    t0 = time.perf_counter()
    records = mod.run(cfg)
    cfg.extra.pop("previous", None)
    save_records(records, out, benchmark=args.method, config=cfg.to_dict(),
                 device=args.device if args.device != "auto" else None,
                 metrics=getattr(mod, "METRICS", None))
    if hasattr(mod, "report"):
        mod.report(records, out)
    print(f"\nwrote {out} and {out.with_suffix('.md')} ({len(records)} records, {time.perf_counter() - t0:.0f}s)")
    print(out.with_suffix(".md").read_text())
    failed = [r for r in records if (r.status if hasattr(r, "status") else r.get("status")) != "ok"]
    return 1 if failed and len(failed) == len(records) else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        sections = [s.strip() for s in args.sections.split(",")] if args.sections else None
        rows = run_demo(sections, quick=args.quick, device=args.device, seed=args.seed)
        if args.json:
            from dataclasses import asdict

            from .io import atomic_write_json

            atomic_write_json([asdict(r) for r in rows], args.json)
        return 0
    if args.command == "bench":
        return _cmd_bench(args)
    if args.command == "datasets":
        return _cmd_datasets(args)
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
