"""Benchmark registry behind ``structaug bench <method>``, and the checks every benchmark shares.

Each entry is a module exposing ``run(cfg: BenchConfig) -> list[Record]`` and
``DEFAULT_DATASETS``; it may also expose ``QUICK_DATASETS``, ``DEFAULT_SEEDS`` /
``QUICK_SEEDS``, ``METRICS`` (columns of the markdown summary), ``partial_file(out)`` (where
it appends rows as they finish), ``validate(cfg)`` (settings, ``--methods`` and
``--datasets`` checked before any job starts) and ``add_arguments(parser)`` /
``report(records, out)`` hooks.

The results-file rule (see :func:`prepare_out`): a benchmark never replaces or deletes a
results file it did not create in this run unless told to with ``--resume`` (keep and
extend its rows) or ``--overwrite`` (start over).
"""
from __future__ import annotations

import argparse
import importlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable, Sequence

from ..exceptions import CorruptFileError, InvalidParameterError, ResultsExistError
from ..io import check_writable  # noqa: F401 (re-exported: the CLI and the scripts use it from here)
from ..validation import check_fraction, check_positive_float, check_positive_int

__all__ = [
    "BenchConfig", "BENCHMARKS", "DEFAULT_OUT_DIR", "add_out_arguments", "claim_out", "load_benchmark", "prepare_out", "check_writable", "read_partial",
    "merge_previous", "parse_names", "positive_int", "nonneg_int", "int_at_least", "positive_float",
    "fraction", "positive_int_list", "results_files",
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
    """Flags every ``structaug bench`` subcommand shares."""

    data_dir: str | None = None
    datasets: list[str] | None = None
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    device: str = "auto"
    quick: bool = False
    out: Path | None = None
    workers: int = 1
    resume: bool = False
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
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


#: argparse types: an integer >= 1, an integer >= 0, a finite float > 0, a float in (0, 1]
positive_int = int_at_least(1)
positive_int.__name__ = "positive_int"
nonneg_int = int_at_least(0)
nonneg_int.__name__ = "nonneg_int"
positive_float = _arg(float, lambda v: check_positive_float(v, "the value"))
positive_float.__name__ = "positive_float"
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


def parse_names(text: str | Sequence[str] | None, valid: Iterable[str] | None, flag: str, *, sep: str = ",",
                normalize: Callable[[str], str] | None = None) -> list[str] | None:
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
# results files
def results_files(out: Path, mod: ModuleType | None = None) -> list[Path]:
    """The files a run with ``--out out`` writes: the JSON, its ``.md`` and the module's partial file."""
    out = Path(out)
    files = [out, out.with_suffix(".md")]
    if mod is not None and hasattr(mod, "partial_file"):
        files.append(Path(mod.partial_file(out)))
    return files


#: where ``structaug bench`` and the scripts in ``benchmarks/`` write when no ``--out`` is given:
#: under the current folder, never the committed ``benchmarks/results/``
DEFAULT_OUT_DIR = "structaug-results"


def add_out_arguments(parser: argparse.ArgumentParser, name: str, *, side_suffixes: Sequence[str] = (".md",),
                      required: bool = False) -> None:
    """``--out`` (default ``structaug-results/<name>.json``) and ``--overwrite`` for a stand-alone
    benchmark script; call :func:`claim_out` right after ``parse_args``.

    ``side_suffixes`` are the files the script writes beside ``--out`` (``.md``, ``.png``): they
    are protected the same way.
    """
    parser.add_argument("--out", type=Path, required=required,
                        default=None if required else Path(DEFAULT_OUT_DIR) / f"{name}.json",
                        help=f"results JSON (default: {DEFAULT_OUT_DIR}/{name}.json under the current folder); "
                             f"{', '.join(side_suffixes) or 'nothing'} written beside it")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --out (and the files beside it); without it the script refuses")
    parser.set_defaults(_out_side_suffixes=tuple(side_suffixes))


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
        parser.error(f"--out {out}: {', '.join(existing)} already exist(s) and this run did not write them; "
                     "pass --overwrite to replace them, or choose another --out")
    return out


def prepare_out(out: Path, mod: ModuleType | None, *, benchmark: str, resume: bool, overwrite: bool) -> list[dict]:
    """Check ``--out`` before any job runs and return the rows to resume from.

    * ``--out`` must end in ``.json`` (the summary goes beside it as ``.md``) and be writable;
    * if the JSON, its ``.md`` or the partial file exists, the run needs ``--resume`` (its
      rows are kept and extended; the JSON must hold this benchmark's records) or
      ``--overwrite`` (the three files are deleted now, so a killed run cannot mix old rows
      into a later ``--resume``); without either it stops with :class:`ResultsExistError`.

    Raises
    ------
    InvalidParameterError
        ``--out`` has another suffix, is a folder or is not writable; ``--resume`` together
        with ``--overwrite``.
    ResultsExistError
        Results exist and neither flag was given, or the JSON holds another benchmark.
    CorruptFileError
        ``--resume`` on a JSON that cannot be read as results or repeats a (method, dataset,
        seed) row (the file is left as it is).
    """
    out = Path(out)
    if resume and overwrite:
        raise InvalidParameterError("--resume keeps the rows in --out and --overwrite deletes them; give one")
    if out.suffix != ".json":
        raise InvalidParameterError(f"--out must be a .json path (the markdown summary is written beside it), "
                                    f"got {str(out)!r}")
    check_writable(out, "--out")
    existing = [p for p in results_files(out, mod) if p.exists()]
    if existing and not (resume or overwrite):
        raise ResultsExistError(
            f"--out {out}: {', '.join(map(str, existing))} already exist(s) and this run did not write "
            "them; pass --resume to keep and extend the rows, --overwrite to replace them, or another --out")
    if overwrite:
        for p in existing:
            p.unlink()
        return []
    if not (resume and out.exists()):
        return []
    from ..results import load_results

    payload = load_results(out)
    if payload.get("benchmark") not in (None, benchmark):
        raise ResultsExistError(f"--out {out} holds {payload['benchmark']!r} results, not {benchmark!r}; "
                                "--resume needs a file of the same benchmark (choose another --out)")
    seen: set[tuple] = set()
    for i, r in enumerate(payload["records"]):
        _check_record(r, f"results file {out}, record {i}")
        if _key(r) in seen:  # resuming would keep both, and every summary would count it twice
            raise CorruptFileError(f"results file {out} holds more than one row for (method, dataset, seed) = "
                                   f"{_key(r)}; remove the extra rows before --resume")
        seen.add(_key(r))
    return payload["records"]


def read_partial(path: Path) -> list[dict]:
    """Rows of a partial (``.partial.jsonl``) file, one JSON record per line.

    A last line cut short by a kill mid-append (no newline at its end) is dropped with a
    warning and cut from the file (its job runs again); any other line that is not a record
    raises :class:`CorruptFileError` and leaves the file alone.
    """
    from ..io import atomic_write_text

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"{path} is not a text file of JSON records ({exc.reason}); the file was left as "
                               "it is: repair or delete it (or rerun with --overwrite)") from None
    lines = text.split("\n")
    tail = lines.pop()  # "" when the file ends with a newline
    rows: list[dict] = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        rows.append(_partial_row(line, path, i))
    if tail.strip():
        try:
            rows.append(_partial_row(tail, path, len(lines) + 1))
            lines.append(tail)  # a whole record whose newline was not written yet
        except CorruptFileError:
            warnings.warn(f"{path}: dropped an unfinished last line (a run killed while writing it); "
                          "that job runs again", RuntimeWarning, stacklevel=2)
        # the next append must start on a fresh line, not after the fragment
        atomic_write_text("".join(line + "\n" for line in lines), path)
    return rows


def _partial_row(line: str, path: Path, lineno: int) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(f"{path}, line {lineno}: not a JSON record ({exc.msg}); the file was left "
                               "as it is: repair or delete it (or rerun with --overwrite)") from None
    _check_record(row, f"{path}, line {lineno}")
    return row


def _check_record(row: Any, where: str) -> None:
    """A resumed row must be a :class:`~structaug.results.Record` (benchmarks rebuild them with
    ``Record(**row)``): a stray key or a missing field is a corrupt file, not a ``TypeError``."""
    from dataclasses import fields

    from ..results import Record

    allowed = {f.name for f in fields(Record)}
    if not isinstance(row, dict):
        raise CorruptFileError(f"{where}: not a benchmark record (a JSON object); the file was left as it is")
    missing = [k for k in ("method", "dataset", "seed", "metrics") if k not in row]
    stray = sorted(set(row) - allowed)
    if missing or stray:
        what = f"lacks {missing}" if missing else f"has unknown field(s) {stray}"
        raise CorruptFileError(f"{where}: not a benchmark record ({what}); the file was left as it is")
    if not isinstance(row["seed"], int) or isinstance(row["seed"], bool) or not isinstance(row["metrics"], dict):
        raise CorruptFileError(f"{where}: not a benchmark record (seed must be an integer, metrics an object); "
                               "the file was left as it is")


def partial_rows(partial: Path | None, resume: bool, *, owned: bool = False) -> list[dict]:
    """Rows appended to a run's partial file (see the module's ``partial_file``).

    Resuming reads them (:func:`read_partial`). A run that does not resume starts a new
    partial file: when the CLI checked ``--out`` (``owned``, :func:`prepare_out` refused to
    start or deleted the old file on ``--overwrite``) a leftover is removed; a Python caller's
    ``run(cfg)`` that finds another run's partial rows stops with :class:`ResultsExistError`
    instead of deleting them.
    """
    if partial is None or not partial.exists():
        return []
    if not resume:
        if not owned:
            raise ResultsExistError(
                f"{partial} holds rows of an earlier run that this run did not write; set resume=True to "
                "keep them, or delete the file")
        partial.unlink()
        return []
    return read_partial(partial)


def _key(r: Any) -> tuple:
    d = r if isinstance(r, dict) else r.to_dict()
    return (d["method"], d["dataset"], d["seed"])


def merge_previous(records: list, previous: list[dict] | None) -> list:
    """``records`` preceded by the resumed rows that this run did not redo.

    Benchmarks return the rows they kept and ran; rows of the resumed file that they did not
    touch (other datasets, methods or seeds, or failures not retried) are kept too, so
    ``--resume`` never drops a row from ``--out``.
    """
    if not previous:
        return list(records)
    have = {_key(r) for r in records}
    return [r for r in previous if _key(r) not in have] + list(records)


def save_progress(records: list, cfg: BenchConfig, benchmark: str, metrics: list[str] | None = None) -> None:
    """Rewrite ``cfg.out`` with the rows so far, so a killed run can go on with ``--resume``.

    The header keeps the run's settings (``extra`` without the resumed rows), as the final save
    by the CLI does; resumed rows the run has not redone are kept (:func:`merge_previous`).
    """
    if cfg.out is None:
        return
    from ..results import save_records

    # the CLI has checked --out (prepare_out); a Python caller of run(cfg) gets the same rule:
    # results this run did not write are never replaced, only extended with resume=True
    if not cfg.out_owned:
        existing = [p for p in results_files(Path(cfg.out)) if p.exists()]
        if existing and not cfg.resume:
            raise ResultsExistError(
                f"out {cfg.out}: {', '.join(map(str, existing))} already exist(s) and this run did not write "
                "them; set resume=True to keep and extend the rows, delete them, or choose another out")
        cfg.out_owned = True

    config = cfg.to_dict()
    config["extra"] = {k: v for k, v in (cfg.extra or {}).items() if k != "previous"}
    rows = merge_previous(records, (cfg.extra or {}).get("previous"))
    save_records(rows, cfg.out, benchmark=benchmark, config=config, metrics=metrics)


def _given(value: Any, default: Any) -> Any:
    """``value`` unless it is None (``value or default`` would turn an explicit 0 into the default)."""
    return default if value is None else value


def load_benchmark(name: str) -> ModuleType:
    if name not in BENCHMARKS:
        raise InvalidParameterError(f"unknown benchmark {name!r}; choose from {sorted(BENCHMARKS)}")
    return importlib.import_module(BENCHMARKS[name])
