"""Benchmarks behind ``structaug bench <method>``: the registry, the shared settings and flags.

Each benchmark is a module of jobs (``jobs(cfg)``, ``run_job(job, cfg)``, see
:mod:`structaug.bench._runner`); one runner owns resume, partial files, worker pools,
records and reports for all of them. ``structaug.bench.<name>.run(cfg)`` (or
:func:`run_benchmark`) runs one from Python as the CLI does.

The results-file rule (see :func:`prepare_out`): a benchmark never replaces or deletes a
results file it did not create in this run unless told to with ``--resume`` (keep and
extend its rows) or ``--overwrite`` (start over).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, overload

from ..exceptions import InvalidParameterError
from ..io import atomic_write_json, atomic_write_text, check_writable
from ..results import markdown_header
from ..validation import check_fraction, check_positive_float, check_positive_int
from ._runner import (
    BACKENDS,
    Job,
    SkipJob,
    check_backend,
    execute,
    finish,
    partial_file,
    prepare_out,
    read_partial,
    results_files,
    run_benchmark,
)

__all__ = [
    "BACKENDS",
    "BENCHMARKS",
    "DEFAULT_OUT_DIR",
    "BenchConfig",
    "Job",
    "SkipJob",
    "add_out_arguments",
    "check_backend",
    "check_ref_deps",
    "check_writable",
    "claim_out",
    "execute",
    "finish",
    "fraction",
    "int_at_least",
    "load_benchmark",
    "markdown_header",
    "nonneg_float",
    "nonneg_int",
    "parse_names",
    "partial_file",
    "positive_float",
    "positive_int",
    "positive_int_list",
    "prepare_out",
    "read_partial",
    "results_files",
    "run_benchmark",
    "script_command",
    "write_script_results",
]

BENCHMARKS: dict[str, str] = {
    "tabular": "structaug.bench.tabular",
    "lagnn": "structaug.bench.lagnn",
    "mclrec": "structaug.bench.mclrec",
    "dain": "structaug.bench.dain",
    "llmrec": "structaug.bench.llmrec",
}


@dataclass
class BenchConfig:
    """Settings every ``structaug bench`` subcommand shares (``extra``: the benchmark's own flags).

    ``workers > 1`` runs jobs in that many one-thread worker processes; ``verbose`` prints
    one line per finished row (the CLI's default; ``--no-progress`` turns it off).
    ``backend`` picks the pool (:data:`BACKENDS`; ``None``: ``"serial"``, or ``"process"``
    when ``workers > 1``); ``address``, ``cpus_per_job``, ``gpus_per_job`` and ``retries``
    are the Ray backend's (the cluster to join, each job's task resources, and how often a job
    whose worker died is retried).
    """

    data_dir: str | None = None
    datasets: list[str] | None = None
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    device: str = "auto"
    quick: bool = False
    out: Path | None = None
    workers: int = 1
    resume: bool = False
    verbose: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    backend: str | None = None
    address: str | None = None
    cpus_per_job: int = 1
    gpus_per_job: float = 0
    retries: int = 2
    #: ``out`` was checked by :func:`prepare_out` or has been written by this run already
    out_owned: bool = field(default=False, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = dict(vars(self))
        d.pop("out_owned", None)
        d["out"] = str(self.out) if self.out else None
        return d


# ----------------------------------------------------------------------------------------
# argparse ``type=`` functions: a bad value is an argparse error naming the flag
# ("argument --epochs: the value must be >= 1, got 0", exit code 2), never a silent default.
def _arg(parse: Callable[[str], Any], check: Callable[[Any], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {parse.__name__}, got {text!r}") from None
        try:
            return check(value)
        except InvalidParameterError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer ``>= minimum``."""
    f = _arg(int, lambda v: check_positive_int(v, "the value", minimum=minimum))
    f.__name__ = f"int_at_least_{minimum}"
    return f


#: argparse types: an integer >= 1, an integer >= 0, a finite float > 0 (>= 0), a float in (0, 1]
positive_int = int_at_least(1)
positive_int.__name__ = "positive_int"
nonneg_int = int_at_least(0)
nonneg_int.__name__ = "nonneg_int"
positive_float = _arg(float, lambda v: check_positive_float(v, "the value"))
positive_float.__name__ = "positive_float"
nonneg_float = _arg(float, lambda v: check_positive_float(v, "the value", allow_zero=True))
nonneg_float.__name__ = "nonneg_float"
fraction = _arg(float, lambda v: check_fraction(v, "the value"))
fraction.__name__ = "fraction"


def positive_int_list(text: str) -> list[int]:
    """An argparse type: ``"2,5,10"`` -> ``[2, 5, 10]``, each >= 1, no repeats."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 1, got {text!r}")
    values = [positive_int(p) for p in parts]
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"repeated value in {text!r}")
    return values


@overload
def parse_names(
    text: None, valid: Iterable[str] | None, flag: str, *, sep: str = ",", normalize: Callable[[str], str] | None = None
) -> None: ...
@overload
def parse_names(
    text: str | Sequence[str],
    valid: Iterable[str] | None,
    flag: str,
    *,
    sep: str = ",",
    normalize: Callable[[str], str] | None = None,
) -> list[str]: ...
def parse_names(
    text: str | Sequence[str] | None,
    valid: Iterable[str] | None,
    flag: str,
    *,
    sep: str = ",",
    normalize: Callable[[str], str] | None = None,
) -> list[str] | None:
    """Split a ``--methods`` / ``--datasets`` value and check every name against ``valid``.

    ``None`` (flag not given) stays ``None``. ``normalize`` maps a name to its canonical
    spelling before the check (e.g. case-insensitive dataset names); ``valid=None`` checks
    only the list's shape.

    Raises
    ------
    InvalidParameterError
        Naming ``flag``: an empty list, an unknown name (the message lists the valid ones)
        or a name given twice (it would run, and be recorded, twice).
    """
    if text is None:
        return None
    names = [s.strip() for s in (text.split(sep) if isinstance(text, str) else text) if s.strip()]
    if not names:
        raise InvalidParameterError(f"{flag} {text!r} names nothing; give a {sep!r}-separated list")
    canon = [normalize(n) if normalize else n for n in names]
    valid = None if valid is None else list(valid)
    unknown = [] if valid is None else [n for n, c in zip(names, canon) if c not in valid]
    if unknown:
        raise InvalidParameterError(f"{flag}: unknown name(s) {unknown}; choose from {valid}")
    repeated = sorted({n for n, c in zip(names, canon) if canon.count(c) > 1})
    if repeated:
        raise InvalidParameterError(f"{flag}: {repeated} given more than once")
    return names


# ----------------------------------------------------------------------------------------
# the stand-alone scripts in benchmarks/
#: where ``structaug bench`` and the scripts in ``benchmarks/`` write when no ``--out`` is given:
#: under the current folder, never the committed ``benchmarks/results/``
DEFAULT_OUT_DIR = "structaug-results"


def add_out_arguments(
    parser: argparse.ArgumentParser, name: str, *, side_suffixes: Sequence[str] = (".md",), required: bool = False
) -> None:
    """``--out`` (default ``structaug-results/<name>.json``) and ``--overwrite`` for a stand-alone
    benchmark script; call :func:`claim_out` right after ``parse_args``.

    ``side_suffixes`` are the files the script writes beside ``--out`` (``.md``, ``.png``): they
    are protected the same way.
    """
    parser.add_argument(
        "--out",
        type=Path,
        required=required,
        default=None if required else Path(DEFAULT_OUT_DIR) / f"{name}.json",
        help=f"results JSON (default: {DEFAULT_OUT_DIR}/{name}.json under the current folder); "
        f"{', '.join(side_suffixes) or 'nothing'} written beside it",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --out (and the files beside it); without it the script refuses",
    )
    parser.set_defaults(_out_side_suffixes=tuple(side_suffixes))


def check_ref_deps(parser: argparse.ArgumentParser, folders: Sequence[str | os.PathLike | None]) -> None:
    """``--ref-deps`` of the side-by-side reference scripts, before any work: each an existing folder
    of the reference's extra packages, without a torch of its own (``pip install --target F
    --no-deps``: a second torch on the reference worker's path would not be the one measured)."""
    for folder in folders:
        if folder is None:
            continue
        if not Path(folder).is_dir():
            parser.error(f"--ref-deps {folder}: no such folder")
        if (Path(folder) / "torch").exists():
            parser.error(f"--ref-deps {folder} holds its own torch: install into it with --no-deps")


def claim_out(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Path:
    """Check a script's ``--out`` before any work: writable, and not existing unless ``--overwrite``.

    A refusal is ``parser.error`` (one line, exit code 2), so a script never replaces results it
    did not write in this run. Returns ``args.out`` as a :class:`~pathlib.Path`.
    """
    out = Path(args.out)
    try:
        check_writable(out, "--out")
    except InvalidParameterError as exc:
        parser.error(str(exc))
    files = [out] + [out.with_suffix(s) for s in getattr(args, "_out_side_suffixes", (".md",))]
    existing = [str(f) for f in files if f.exists()]
    if existing and not args.overwrite:
        parser.error(
            f"--out {out}: {', '.join(existing)} already exist(s) and this run did not write them; "
            "pass --overwrite to replace them, or choose another --out"
        )
    return out


def script_command(script: str | Path, argv: Sequence[str] | None = None) -> str:
    """The command line a stand-alone benchmark script ran with, for its results' config:
    ``python benchmarks/<script name> <argv>`` (``argv`` as passed to its ``main``, else the
    process's own arguments)."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join(["python", f"benchmarks/{Path(script).name}", *args])


def write_script_results(out: str | Path, payload: dict[str, Any], markdown: str | None = None) -> None:
    """Write a stand-alone script's results: ``payload`` as the JSON ``out`` and ``markdown`` (if
    given) as the ``.md`` beside it, each atomically (a stop mid-write leaves the old file or none).
    Call :func:`claim_out` before the work, so neither replaces a file this run did not write."""
    out = Path(out)
    atomic_write_json(payload, out)
    if markdown is not None:
        atomic_write_text(markdown if markdown.endswith("\n") else markdown + "\n", out.with_suffix(".md"))


def _given(value: Any, default: Any) -> Any:
    """``value`` unless it is None (``value or default`` would turn an explicit 0 into the default)."""
    return default if value is None else value


def load_benchmark(name: str) -> ModuleType:
    if name not in BENCHMARKS:
        raise InvalidParameterError(f"unknown benchmark {name!r}; choose from {sorted(BENCHMARKS)}")
    return importlib.import_module(BENCHMARKS[name])
