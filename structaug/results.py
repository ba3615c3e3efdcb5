"""Benchmark records: one JSON row per (method, dataset, seed) with everything needed to
reproduce it (config, seed, versions, device, git commit), plus markdown summaries."""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .io import atomic_write_json, atomic_write_text

__all__ = [
    "Record",
    "StepClock",
    "alternating_runs",
    "current_memory_mib",
    "environment",
    "files_digest",
    "fmt_mean_std",
    "in_fresh_process",
    "load_records",
    "load_results",
    "loglog_figure",
    "loglog_slope",
    "markdown_header",
    "markdown_table",
    "paired_gap",
    "peak_memory_above_start",
    "peak_memory_mib",
    "reset_peak_memory",
    "save_records",
    "summarize",
]


@dataclass
class Record:
    """One benchmark measurement."""

    method: str
    dataset: str
    seed: int
    metrics: dict[str, float]
    split: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    fit_time: float | None = None
    predict_time: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reset_peak_memory(device: Any = "cpu") -> None:
    """Start a new peak for :func:`peak_memory_mib` (call it at the start of each job).

    CUDA: ``torch.cuda.reset_peak_memory_stats``. Linux CPU: writing ``5`` to
    ``/proc/self/clear_refs`` resets the resident-set high-water mark to the current RSS (which
    still holds whatever earlier jobs left allocated). Elsewhere a no-op: the peak stays the
    process's lifetime peak.
    """
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def current_memory_mib() -> float | None:
    """This process's resident memory now, in MiB (Linux ``VmRSS``; ``None`` elsewhere): the
    baseline to subtract from :func:`peak_memory_mib` for what one call added."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


class peak_memory_above_start:
    """Context manager: the CPU process's peak resident memory during the block above what it
    held at its start, as ``mib`` after the block (Linux ``VmHWM`` reset by
    :func:`reset_peak_memory`, minus ``VmRSS`` at the start; ``None`` where those are not read).

    Linux keeps resident-set counters per CPU and reads them approximately, so on a many-core
    host a reading can be off by tens of MiB: good for the hundreds of MiB the scaling
    benchmarks compare, not for small blocks.
    """

    def __enter__(self) -> peak_memory_above_start:
        reset_peak_memory()
        self._start = current_memory_mib()
        self.mib: float | None = None
        return self

    def __exit__(self, *exc: object) -> None:
        peak = peak_memory_mib()
        self.mib = None if peak is None or self._start is None else peak - self._start


def in_fresh_process(fn: Callable[..., Any], *args: Any, threads: int | None = None) -> Any:
    """``fn(*args)`` run in a new interpreter (multiprocessing's "spawn") and its result.

    For a benchmark measurement that must start from nothing this process imported or allocated,
    with a peak resident memory of its own. ``fn`` must be importable (a module-level function;
    a script's own functions work). An exception in it is raised here. ``threads`` sets
    ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` for the new process, which reads them at start-up.
    """
    import multiprocessing

    keys = ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if threads is not None else ()
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: str(threads) for k in keys})
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(fn, args)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def alternating_runs(
    sides: Sequence[str],
    repeats: int,
    first_seed: int,
    run: Callable[[str, int], dict[str, Any]],
    say: Callable[[str, int, dict[str, Any]], str] | None = None,
) -> list[dict[str, Any]]:
    """A side-by-side measurement: every side once per repeat, ``run(side, seed)`` with seed
    ``first_seed + repeat``, in the given order on even repeats and reversed on odd ones (so a
    drift in the machine's load favours no side). Returns ``[{"side", "seed", **result}]`` in
    run order; ``say(side, seed, result)`` is printed after each run."""
    runs: list[dict[str, Any]] = []
    for rep in range(repeats):
        seed = first_seed + rep
        for side in sides if rep % 2 == 0 else list(sides)[::-1]:
            result = run(side, seed)
            runs.append({"side": side, "seed": seed, **result})
            if say is not None:
                print(say(side, seed, result), flush=True)
    return runs


class StepClock:
    """Wall and CPU clocks at the start of every step of a training loop one cannot edit (a
    reference implementation's, or the package's own behind a wrapper): call it at each step's
    start. After ``warmup + steps`` steps have started, the next call (the start of the step
    after the timed window) raises :class:`StepClock.Enough` to end the loop; catch it around
    the loop. ``wall`` / ``cpu`` hold the stamps (``time.perf_counter`` / ``process_time``)."""

    class Enough(Exception):
        """Raised at the start of the first step after the timed window."""

    def __init__(self, warmup: int, steps: int):
        self.warmup, self.steps = int(warmup), int(steps)
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __call__(self) -> None:
        self.wall.append(time.perf_counter())
        self.cpu.append(time.process_time())
        if len(self.wall) > self.warmup + self.steps:
            raise StepClock.Enough

    def gaps_ms(self, steps_per_epoch: int | None = None) -> tuple[list[float], list[float]]:
        """Wall and CPU milliseconds of every step (warm-up first, then the timed ones); a
        ``RuntimeError`` when the loop ended before the timed window did (``steps_per_epoch``
        names the epoch's length in the message)."""
        if len(self.wall) <= self.warmup + self.steps:
            epoch = f" of its {steps_per_epoch} batches" if steps_per_epoch is not None else ""
            raise RuntimeError(
                f"the loop ended after {len(self.wall)} steps{epoch}, before {self.warmup} warm-up + "
                f"{self.steps} timed steps did (--warmup + --steps must stay below them)"
            )
        pairs = list(itertools.pairwise(zip(self.wall, self.cpu, strict=True)))
        return [1e3 * (b[0] - a[0]) for a, b in pairs], [1e3 * (b[1] - a[1]) for a, b in pairs]

    def timing(self, steps_per_epoch: int, per_epoch_ms: float = 0.0) -> dict[str, Any]:
        """The timed window's summary, as the side-by-side reference scripts record it: the warm-up
        and timed wall gaps, mean / median wall and mean CPU milliseconds per step, and the epoch
        **extrapolated** from them (``steps_per_epoch`` × mean step, plus ``per_epoch_ms`` of
        once-per-epoch work measured apart)."""
        import statistics

        wall_gaps, cpu_gaps = self.gaps_ms(steps_per_epoch)
        wall, cpu = wall_gaps[self.warmup :], cpu_gaps[self.warmup :]
        return {
            "warmup_ms": wall_gaps[: self.warmup],
            "step_ms": wall,
            "ms_per_step": statistics.fmean(wall),
            "median_ms_per_step": statistics.median(wall),
            "cpu_ms_per_step": statistics.fmean(cpu),
            "steps_per_epoch": steps_per_epoch,
            "per_epoch_ms": per_epoch_ms,
            "epoch_s_extrapolated": (steps_per_epoch * statistics.fmean(wall) + per_epoch_ms) / 1e3,
        }


def files_digest(root: str | os.PathLike, names: Sequence[str]) -> str:
    """First 16 hex digits of the SHA-256 of the files ``root/name``, read in the order given.

    How the side-by-side reference scripts identify the reference code they ran (the bytes only,
    no names: the digests recorded in their committed results were made this way).
    """
    import hashlib

    h = hashlib.sha256()
    for name in names:
        h.update((Path(root) / name).read_bytes())
    return h.hexdigest()[:16]


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (1.0: linear growth, 0: flat)."""
    import numpy as np

    if len(x) < 2:
        raise ValueError("a slope needs at least two points")
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.maximum(np.asarray(y, float), 1e-12)), 1)[0])


def paired_gap(scores: Mapping[Hashable, float], base: Mapping[Hashable, float]) -> dict[str, Any]:
    """``scores`` against ``base`` on the rows both hold (e.g. table × seed): the mean paired
    difference (``None`` without a common row), how many rows went up, stayed level or went
    down, and the Wilcoxon signed-rank p (``None`` when no difference is non-zero)."""
    from scipy.stats import wilcoxon

    diff = np.array([scores[k] - base[k] for k in scores if k in base], dtype=float)
    return {
        "rows": int(len(diff)),
        "mean": float(diff.mean()) if len(diff) else None,
        "up": int((diff > 0).sum()),
        "level": int((diff == 0).sum()),
        "down": int((diff < 0).sum()),
        "wilcoxon_p": float(wilcoxon(diff).pvalue) if np.any(diff) else None,
    }


#: one line of a :func:`loglog_figure` panel: label, x values, y values, matplotlib format
Series = tuple[str, Sequence[float], Sequence[float], str]


def loglog_figure(path: str | os.PathLike, panels: Sequence[tuple[str, str, Sequence[Series]]], title: str) -> None:
    """Write a PNG of side-by-side log-log panels (the scaling benchmarks' plots).

    ``panels``: ``(x label, y label, series)`` each, ``series`` as :data:`Series`. Needs the
    ``plot`` extra (matplotlib).
    """
    from ._optional import import_optional

    matplotlib = import_optional("matplotlib")
    matplotlib.use("Agg")
    plt = import_optional("matplotlib.pyplot")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels) + 1, 4.2), squeeze=False)
    for ax, (xlabel, ylabel, series) in zip(axes[0], panels):
        for label, x, y, fmt in series:
            ax.loglog(x, y, fmt, label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def peak_memory_mib(device: Any = "cpu", gpu_peak: float | None = None) -> float | None:
    """Peak memory in MiB since the last :func:`reset_peak_memory` (else since the process
    started): on CUDA ``gpu_peak`` (if the caller measured one) or
    ``torch.cuda.max_memory_allocated``; elsewhere the resident set's high-water mark."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return gpu_peak if gpu_peak is not None else torch.cuda.max_memory_allocated(device) / 2**20
    try:  # VmHWM follows reset_peak_memory; ru_maxrss is the fallback off Linux
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    except Exception:  # pragma: no cover - non-Unix
        return None


def cpu_model() -> str:
    """The CPU model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    """``$STRUCTAUG_GIT_COMMIT`` when set (a tree shipped to another machine, whose ``.git`` may
    lag or be absent), else HEAD of the package's checkout (``-dirty`` with uncommitted changes)."""
    if os.environ.get("STRUCTAUG_GIT_COMMIT"):
        return os.environ["STRUCTAUG_GIT_COMMIT"]
    try:
        root = Path(__file__).resolve().parents[1]
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if out.returncode == 0:
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return None


@functools.cache
def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for mod in [
        "structaug",
        "torch",
        "torch_geometric",
        "numpy",
        "pandas",
        "sklearn",
        "xgboost",
        "tensorly",
        "lightgbm",
    ]:
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "?")
        except Exception:
            continue
    return out


def environment(device: str | None = None) -> dict[str, Any]:
    """Versions, device (GPU name or CPU model), thread count, git commit and time."""
    import torch

    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if str(dev).startswith("cuda") and torch.cuda.is_available():
        dev_name = torch.cuda.get_device_name(torch.device(dev))
    else:
        dev_name = f"CPU: {cpu_model()} ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"
    return {
        "device": str(dev),
        "device_name": dev_name,
        "platform": platform.platform(),
        "versions": _versions(),
        "git_commit": _git_commit(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def markdown_header(title: str, env: dict[str, Any]) -> list[str]:
    """The first lines of every results markdown file: its title, then the machine and the commit
    from ``env`` (:func:`environment`), so every file says where and from which code its numbers
    come, in the same words (``save_records``, the tabular report and the stand-alone scripts)."""
    return [f"# {title}", "", f"Device: {env.get('device_name')}  ", f"Commit: {env.get('git_commit')}  "]


def save_records(
    records: Iterable[Record | dict],
    path: str | os.PathLike,
    *,
    benchmark: str,
    config: dict[str, Any] | None = None,
    device: str | None = None,
    markdown: bool = True,
    metrics: Sequence[str] | None = None,
) -> Path:
    """Write ``{"benchmark", "environment", "config", "records"}`` as JSON (atomically) and a
    markdown summary next to it (``.md``)."""
    rows = [r.to_dict() if isinstance(r, Record) else dict(r) for r in records]
    env = environment(device)
    payload = {"benchmark": benchmark, "environment": env, "config": config or {}, "records": rows}
    path = Path(path)
    atomic_write_json(payload, path)
    if markdown:
        table = markdown_table(summarize(rows, metrics=metrics))
        head = "\n".join(markdown_header(benchmark, env)) + "\n\n"
        atomic_write_text(head + table + "\n", path.with_suffix(".md"))
    return path


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a results JSON written by :func:`save_records` (``benchmark``, ``config``, ``records``).

    Raises
    ------
    CorruptFileError
        Naming the file: it is not JSON (e.g. cut short), has no ``records`` list, or a
        record lacks ``method``, ``dataset`` or ``seed``. The file is not touched.
    """
    from .exceptions import CorruptFileError

    path = Path(path)
    fix = "repair or move it, or rerun with --overwrite to start over"
    try:
        with open(path, encoding="utf-8") as fh:
            payload = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"results file {path} cannot be parsed ({exc}); {fix}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
        raise CorruptFileError(f"results file {path} has no 'records' list; {fix}")
    for i, r in enumerate(payload["records"]):
        if not isinstance(r, dict) or not {"method", "dataset", "seed"} <= set(r):
            raise CorruptFileError(
                f"results file {path}: record {i} is not a benchmark record (needs method, dataset and seed); {fix}"
            )
    return payload


def load_records(path: str | os.PathLike) -> list[dict]:
    """The ``records`` of a results JSON (see :func:`load_results` for the errors)."""
    return load_results(path)["records"]


def fmt_mean_std(values: Sequence[float], digits: int = 4) -> str:
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return "—"
    m = float(np.mean(vals))
    if len(vals) == 1:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ± {float(np.std(vals, ddof=1)):.{digits}f}"


def summarize(records: Sequence[dict], metrics: Sequence[str] | None = None, digits: int = 4) -> pd.DataFrame:
    """Mean ± std over seeds per (dataset, method), with mean fit time and seed count."""
    ok = [r for r in records if r.get("status", "ok") == "ok"]
    if not ok:
        return pd.DataFrame()
    if metrics is None:
        keys: list[str] = []
        for r in ok:
            for k in r["metrics"]:
                if k not in keys:
                    keys.append(k)
        metrics = keys
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in ok:
        groups.setdefault((r["dataset"], r["method"]), []).append(r)
    rows = []
    for (ds, method), rs in groups.items():
        row = {"dataset": ds, "method": method, "seeds": len(rs)}
        for k in metrics:
            row[k] = fmt_mean_std([r["metrics"].get(k) for r in rs], digits)
        ft = [r["fit_time"] for r in rs if r.get("fit_time") is not None]
        row["fit_time_s"] = f"{np.mean(ft):.2f}" if ft else "—"
        rows.append(row)
    return pd.DataFrame(rows)


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub markdown table (no tabulate dependency)."""
    if df.empty:
        return "_no successful records_"
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return "\n".join(lines)
