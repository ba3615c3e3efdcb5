"""Benchmark registry behind ``structaug bench <method>``.

Each entry is a module exposing ``run(cfg: BenchConfig) -> list[Record]`` and
``DEFAULT_DATASETS``; it may also expose ``QUICK_DATASETS``, ``METRICS`` (columns of the
markdown summary) and ``add_arguments(parser)`` / ``report(records, out)`` hooks.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["BenchConfig", "BENCHMARKS", "load_benchmark"]

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

    def to_dict(self) -> dict[str, Any]:
        d = dict(vars(self))
        d["out"] = str(self.out) if self.out else None
        return d


def save_progress(records: list, cfg: BenchConfig, benchmark: str, metrics: list[str] | None = None) -> None:
    """Rewrite ``cfg.out`` with the rows so far, so a killed run can go on with ``--resume``.

    The header keeps the run's settings (``extra`` without the resumed rows), as the final save
    by the CLI does.
    """
    if cfg.out is None:
        return
    from ..results import save_records

    config = cfg.to_dict()
    config["extra"] = {k: v for k, v in (cfg.extra or {}).items() if k != "previous"}
    save_records(records, cfg.out, benchmark=benchmark, config=config, metrics=metrics)


def partial_rows(partial: Path | None, resume: bool) -> list[dict]:
    """Rows appended to a run's partial file (``<out>``-derived ``.partial.jsonl``).

    Resuming reads them; a fresh run deletes the file, so rows of an earlier, possibly
    different, run do not mix in.
    """
    if partial is None or not partial.exists():
        return []
    if not resume:
        partial.unlink()
        return []
    return [json.loads(line) for line in partial.read_text().splitlines() if line.strip()]


def _given(value: Any, default: Any) -> Any:
    """``value`` unless it is None (``value or default`` would turn an explicit 0 into the default)."""
    return default if value is None else value


def load_benchmark(name: str) -> ModuleType:
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; choose from {sorted(BENCHMARKS)}")
    return importlib.import_module(BENCHMARKS[name])
