"""The ``structaug`` command: ``demo``, ``bench <method>`` and ``datasets``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

# where ``structaug bench`` writes when no ``--out`` is given (relative to the current folder;
# never the committed ``benchmarks/results``); defined beside the scripts' helpers, re-exported
from .bench import DEFAULT_OUT_DIR

__all__ = ["DEFAULT_OUT_DIR", "build_parser", "main", "parse_seeds"]


def parse_seeds(text: str) -> list[int]:
    """``"5"`` → [0..4]; ``"0,3,7"`` → [0, 3, 7]; ``"2-5"`` → [2, 3, 4, 5].

    Seeds are non-negative and distinct (a repeated seed would run, and be recorded, twice);
    anything else is an ``argparse`` error naming ``--seeds``.
    """
    text = text.strip()
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
            if not seeds:
                raise argparse.ArgumentTypeError(f"--seeds list {text!r} names no seed")
        elif "-" in text[1:]:
            a, b = (int(v) for v in text.split("-", 1))
            if b < a:
                raise argparse.ArgumentTypeError(f"--seeds range {text!r} is empty (write low-high)")
            seeds = list(range(a, b + 1))
        else:
            n = int(text)
            if n < 1:
                raise argparse.ArgumentTypeError("--seeds N needs N >= 1")
            return list(range(n))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes N, a list '0,1,2' or a range '0-4', got {text!r}") from None
    if min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"--seeds must be >= 0, got {text!r}")
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"--seeds {text!r} repeats a seed")
    return seeds


def _add_bench_flags(p: argparse.ArgumentParser) -> None:
    from .bench import nonneg_float, nonneg_int, positive_int

    p.add_argument(
        "--data-dir", help="folder laid out like shared/datasets (default: $STRUCTAUG_DATA, then ../shared/datasets)"
    )
    p.add_argument("--datasets", help="comma-separated dataset names (default: the benchmark's own list)")
    p.add_argument("--seeds", type=parse_seeds, default=None, help="number of seeds N, or a list 0,1,2, or a range 0-9")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where torch models run")
    p.add_argument("--quick", action="store_true", help="a small budget for smoke runs")
    p.add_argument(
        "--out",
        type=Path,
        help=f"results JSON path; a markdown summary is written beside it (default: "
        f"{DEFAULT_OUT_DIR}/<method>[_quick].json under the current folder)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="run this many jobs at once, in one-thread worker processes (default 1: in this process); "
        "with --backend ray on a local Ray, the number of jobs it runs at once",
    )
    p.add_argument(
        "--backend",
        choices=["serial", "process", "ray"],
        default=None,
        help="where jobs run: in this process (serial, the default for --workers 1), in worker "
        "processes of this machine (process, the default for --workers > 1), or as Ray tasks "
        "(ray: a local Ray started for the run, or the cluster at --address; pip install 'structaug[ray]')",
    )
    p.add_argument(
        "--address",
        default=None,
        help="with --backend ray: the Ray cluster to join (e.g. ray://head:10001, or 'auto' for one "
        "already started on this machine); default: start a local Ray with --workers CPUs",
    )
    p.add_argument(
        "--cpus-per-job", type=positive_int, default=1, help="with --backend ray: CPUs (and torch threads) per job"
    )
    p.add_argument(
        "--gpus-per-job",
        type=nonneg_float,
        default=0.0,
        help="with --backend ray: GPUs per job (a fraction shares one GPU between jobs; default 0)",
    )
    p.add_argument(
        "--retries",
        type=nonneg_int,
        default=2,
        help="with --backend ray: how often a job whose worker process died is run again before it is "
        "recorded as an error (default 2)",
    )
    keep = p.add_mutually_exclusive_group()
    keep.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows already in --out (and its partial file) and run only the missing ones",
    )
    keep.add_argument(
        "--overwrite",
        action="store_true",
        help="delete an existing --out, its .md and partial file and start over "
        "(without --resume or --overwrite an existing --out stops the run before it starts)",
    )
    p.add_argument("--no-progress", action="store_true", help="silence progress bars and the line per finished row")


def build_parser() -> argparse.ArgumentParser:
    from .bench import BENCHMARKS, nonneg_int
    from .demo import DEMO_SECTIONS

    parser = argparse.ArgumentParser(
        prog="structaug",
        description="Augmenters for graphs, recommendation logs, sequences, sparse tensors and tables.",
    )
    parser.add_argument("--version", action="version", version=f"structaug {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser(
        "demo",
        help="one-minute tour on shipped/generated data",
        description="Train each method, its un-augmented twin and a tree baseline on small "
        "shipped or generated data and print one table.",
    )
    d.add_argument("--sections", help=f"comma-separated subset of: {', '.join(DEMO_SECTIONS)}")
    d.add_argument("--quick", action="store_true", help="even smaller budgets (used by the tests)")
    d.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    d.add_argument("--seed", type=nonneg_int, default=0)
    d.add_argument("--json", type=Path, help="also write the rows as JSON here (with the machine, versions and commit)")

    b = sub.add_parser(
        "bench",
        help="run a method's benchmark against its baselines",
        description="Run one benchmark; writes one JSON record per (method, dataset, seed).",
    )
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
    """List every known dataset with the one name that ``--datasets`` and the loaders take."""
    from .datasets import available_datasets, candidate_dirs

    print("data roots searched (in order):")
    for p in candidate_dirs(args.data_dir):
        print(f"  {p}{'' if p.exists() else '  (missing)'}")
    print()
    rows = available_datasets(args.data_dir)
    w = max(len(r["name"]) for r in rows)
    wb = max(len(",".join(r["benchmarks"])) for r in rows)
    print(f"  {'family':<9} {'name (--datasets)':<{w}}  found  {'bench':<{wb}}  where")
    for r in rows:
        mark = "yes" if r["found"] else "no "
        print(f"  {r['family']:<9} {r['name']:<{w}}  {mark}    {','.join(r['benchmarks']):<{wb}}  {r['path']}")
    try:
        from .datasets import pmlb_index

        idx = pmlb_index(args.data_dir)
        print(
            f"\n  PMLB tables for `bench tabular`, by their PMLB names: {len(idx)} "
            f"({', '.join(idx['name'].head(8))}, ...)"
        )
    except FileNotFoundError:
        pass
    return 0


def _cmd_bench(args) -> int:
    """Check every flag, the data folder and ``--out`` first; then run, save and report.

    Nothing runs, and no file is touched, until the settings, ``--methods``, ``--datasets``,
    the device and ``--out`` have passed (:func:`structaug.bench.prepare_out`); the runner
    (:func:`structaug.bench.run_benchmark`) does the rest.
    """
    from .bench import BenchConfig, check_backend, load_benchmark, parse_names, prepare_out, run_benchmark
    from .exceptions import InvalidParameterError

    mod = load_benchmark(args.method)
    if args.data_dir is not None and not Path(args.data_dir).expanduser().is_dir():
        raise InvalidParameterError(f"--data-dir {args.data_dir} is not a folder")
    _check_device(args.device)
    # the list's shape here (empty, repeats); each benchmark's validate() checks the names
    datasets = parse_names(args.datasets, None, "--datasets")
    if args.seeds is not None:
        seeds = args.seeds
    else:
        seeds = getattr(mod, "QUICK_SEEDS", None) if args.quick else None
        seeds = seeds or getattr(mod, "DEFAULT_SEEDS", [0, 1, 2])
    out = args.out
    if out is None:
        out = Path(DEFAULT_OUT_DIR) / f"{args.method}{'_quick' if args.quick else ''}.json"
    known = {
        "data_dir",
        "datasets",
        "seeds",
        "device",
        "quick",
        "out",
        "workers",
        "resume",
        "overwrite",
        "no_progress",
        "command",
        "method",
        "backend",
        "address",
        "cpus_per_job",
        "gpus_per_job",
        "retries",
    }
    cfg = BenchConfig(
        data_dir=args.data_dir,
        datasets=datasets,
        seeds=list(seeds),
        device=args.device,
        quick=args.quick,
        out=out,
        workers=args.workers,
        resume=args.resume,
        verbose=not args.no_progress,
        extra={k: v for k, v in vars(args).items() if k not in known},
        backend=args.backend,
        address=args.address,
        cpus_per_job=args.cpus_per_job,
        gpus_per_job=args.gpus_per_job,
        retries=args.retries,
    )
    check_backend(cfg)  # Ray installed, --address only with it: before the data and --out
    if hasattr(mod, "validate"):
        mod.validate(cfg)
    previous = prepare_out(out, mod, benchmark=args.method, resume=args.resume, overwrite=args.overwrite)
    cfg.out_owned = True
    if previous:
        _warn_changed_settings(args.method, out, cfg)
    if not cfg.verbose:
        os.environ["STRUCTAUG_PROGRESS"] = "0"
    cfg.extra["previous"] = previous
    t0 = time.perf_counter()
    # a deadline's SIGTERM (`timeout ...`) stops the run like Ctrl-C: the finished rows are saved to --out
    in_main = threading.current_thread() is threading.main_thread()  # where signal handlers can be set
    old_handler = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
    try:
        records = run_benchmark(mod, cfg)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, old_handler)
    print(f"\nwrote {out} and {out.with_suffix('.md')} ({len(records)} records, {time.perf_counter() - t0:.0f}s)")
    print(out.with_suffix(".md").read_text())
    failed = [r for r in records if r.status != "ok"]
    return 1 if failed and len(failed) == len(records) else 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _check_device(device: str) -> None:
    """``--device cuda`` on a machine without CUDA: an error now, not in every job."""
    from .exceptions import DeviceUnavailableError, InvalidParameterError
    from .train import resolve_device

    try:
        resolve_device(device)
    except DeviceUnavailableError:  # named as the flag the user typed
        raise InvalidParameterError(
            f"--device {device}: CUDA is not available on this machine (use --device cpu)"
        ) from None


def _warn_changed_settings(method: str, out: Path, cfg) -> None:
    """Say so when ``--resume`` adds rows run with other settings than the file's last run.

    Allowed (long runs are continued with a larger budget, other datasets or methods), but
    never silent: the summary then averages rows of different budgets.
    """
    from .results import load_results

    old = load_results(out).get("config") or {}
    new = cfg.to_dict()
    ignore = {"methods", "previous", "no_progress", "llm_cache", "checkpoint_dir"}

    def norm(v):  # "2,5,10" (older files) and [2, 5, 10] are the same --ranks
        return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else v

    def show(v):
        return "default" if v is None else repr(v)

    diffs = [f"--{k} {show(old[k])} -> {show(new[k])}" for k in ("quick", "device") if k in old and old[k] != new[k]]
    old_x, new_x = old.get("extra") or {}, new.get("extra") or {}
    diffs += [
        f"--{k.replace('_', '-')} {show(old_x[k])} -> {show(new_x[k])}"
        for k in sorted(set(old_x) & set(new_x))
        if k not in ignore and norm(old_x[k]) != norm(new_x[k])
    ]
    if diffs:
        print(
            f"[{method}] warning: --resume adds rows with other settings than {out}'s last run "
            f"({', '.join(diffs)}); each row's own settings are in its record",
            file=sys.stderr,
        )


def _cmd_demo(args) -> int:
    from .bench import check_writable, parse_names
    from .demo import DEMO_SECTIONS, run_demo

    sections = parse_names(args.sections, DEMO_SECTIONS, "--sections")
    _check_device(args.device)
    if args.json is not None:
        check_writable(args.json, "--json")  # before the tour, not after it
    rows = run_demo(sections, quick=args.quick, device=args.device, seed=args.seed)
    if args.json:
        from dataclasses import asdict

        from .io import atomic_write_json
        from .results import environment
        from .train import resolve_device

        # the machine, versions and commit beside the rows, as every benchmark's results file
        payload = {
            "benchmark": "demo",
            "environment": environment(str(resolve_device(args.device))),
            "config": {"sections": sections, "quick": args.quick, "device": args.device, "seed": args.seed},
            "rows": [asdict(r) for r in rows],
        }
        atomic_write_json(payload, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``structaug`` command; returns the exit code.

    A user error (any :class:`~structaug.exceptions.StructaugError`: a bad flag value, an
    existing or corrupt results file, a missing dataset) prints one ``structaug: error: ...``
    line to stderr and returns 2, like argparse's own errors; other exceptions are bugs and
    keep their traceback.
    """
    from .exceptions import StructaugError

    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _cmd_demo(args)
        if args.command == "bench":
            return _cmd_bench(args)
        if args.command == "datasets":
            return _cmd_datasets(args)
    except StructaugError as exc:
        print(f"structaug: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("structaug: interrupted", file=sys.stderr)
        return 130
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
