"""The one benchmark runner: jobs, resume, partial files, worker pools, records and reports.

A benchmark module (``structaug.bench.<name>``) defines only *what* to run:

``jobs(cfg) -> list[Job]``
    Every unit of work, in report order. A :class:`Job` is (dataset, seed, methods, config);
    it lists several methods only where they share expensive work and must run together
    (DAIN's un-augmented model is the first stage of DAIN; T-JEPA's two heads share one
    pre-training).
``run_job(job, cfg) -> list[Record]``
    Runs one job and returns one :class:`~structaug.results.Record` per method of the job. It
    may raise :class:`SkipJob` (recorded as ``status="skipped"``); any other exception is
    recorded as ``status="error"`` for each of the job's methods and the run goes on.

and optionally ``validate(cfg)`` (settings and names, called before any job), ``METRICS``
(columns of the markdown summary) and ``report(records, out)`` (extra summaries).

The runner does the rest, identically for every benchmark: it checks ``out`` (a run never
replaces results it did not write: ``resume`` keeps and extends them), skips jobs whose
(method, dataset, seed) rows are already ``ok`` in ``out`` or its partial file, runs the
others in one of the :data:`BACKENDS`, rewrites the partial file ``<out stem>.partial.jsonl``
atomically after each job (a killed run loses at most the jobs in flight), and at the end
merges, saves ``out`` with its markdown summary, calls ``report`` and removes the partial file.

A pool mechanism is one entry in :data:`BACKENDS`: a callable ``(fn, jobs, cfg, workers) ->
iterator of (job index, records)``; the benchmark modules do not change. ``serial`` runs
jobs in this process, ``process`` in ``workers`` one-thread worker processes of this
machine, ``ray`` as Ray tasks on a local Ray or a cluster (``cfg.address``).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..exceptions import CorruptFileError, InvalidParameterError, ResultsExistError
from ..io import atomic_write_text, check_writable
from ..validation import check_positive_float, check_positive_int

if TYPE_CHECKING:  # pragma: no cover
    from ..results import Record
    from . import BenchConfig

__all__ = [
    "BACKENDS",
    "Job",
    "SkipJob",
    "check_backend",
    "execute",
    "finish",
    "partial_file",
    "prepare_out",
    "read_partial",
    "results_files",
    "run_benchmark",
]


@dataclass(frozen=True)
class Job:
    """One unit of benchmark work: the rows of ``methods`` on ``dataset`` with ``seed``.

    ``config`` holds the resolved settings the job needs (picklable: jobs travel to worker
    processes). ``dataset`` is the canonical name, the one the records carry.
    """

    dataset: str
    seed: int
    methods: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def keys(self) -> list[tuple[str, str, int]]:
        """The (method, dataset, seed) rows this job produces."""
        return [(m, self.dataset, self.seed) for m in self.methods]


class SkipJob(Exception):
    """Raised by a ``run_job``: its methods cannot run here (recorded with ``status="skipped"``)."""


# ----------------------------------------------------------------------------------------
# results files
def partial_file(out: str | os.PathLike) -> Path:
    """``<out stem>.partial.jsonl`` beside ``out``: the rows finished since ``out`` was last saved."""
    return Path(out).with_suffix(".partial.jsonl")


def results_files(out: str | os.PathLike, mod: ModuleType | None = None) -> list[Path]:
    """The files a run with ``--out out`` writes: the JSON, its ``.md`` and the partial file.

    ``mod`` is accepted for callers of the earlier per-module partial files; every benchmark
    now uses :func:`partial_file`.
    """
    out = Path(out)
    return [out, out.with_suffix(".md"), partial_file(out)]


def _key(r: Any) -> tuple:
    d = r if isinstance(r, dict) else r.to_dict()
    return (d["method"], d["dataset"], d["seed"])


def _check_record(row: Any, where: str) -> None:
    """A resumed row must be a :class:`~structaug.results.Record` (``Record(**row)``): a stray
    key or a missing field is a corrupt file, not a ``TypeError``."""
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
        raise CorruptFileError(
            f"{where}: not a benchmark record (seed must be an integer, metrics an object); the file was left as it is"
        )


def prepare_out(
    out: Path, mod: ModuleType | None = None, *, benchmark: str, resume: bool, overwrite: bool
) -> list[dict]:
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
        raise InvalidParameterError(
            f"--out must be a .json path (the markdown summary is written beside it), got {str(out)!r}"
        )
    check_writable(out, "--out")
    existing = [p for p in results_files(out) if p.exists()]
    if existing and not (resume or overwrite):
        raise ResultsExistError(
            f"--out {out}: {', '.join(map(str, existing))} already exist(s) and this run did not write "
            "them; pass --resume to keep and extend the rows, --overwrite to replace them, or another --out"
        )
    if overwrite:
        for p in existing:
            p.unlink()
        return []
    if not (resume and out.exists()):
        return []
    from ..results import load_results

    payload = load_results(out)
    if payload.get("benchmark") not in (None, benchmark):
        raise ResultsExistError(
            f"--out {out} holds {payload['benchmark']!r} results, not {benchmark!r}; "
            "--resume needs a file of the same benchmark (choose another --out)"
        )
    seen: set[tuple] = set()
    for i, r in enumerate(payload["records"]):
        _check_record(r, f"results file {out}, record {i}")
        if _key(r) in seen:  # resuming would keep both, and every summary would count it twice
            raise CorruptFileError(
                f"results file {out} holds more than one row for (method, dataset, seed) = "
                f"{_key(r)}; remove the extra rows before --resume"
            )
        seen.add(_key(r))
    return payload["records"]


def read_partial(path: Path) -> list[dict]:
    """Rows of a partial (``.partial.jsonl``) file, one JSON record per line.

    A last line cut short (no newline at its end) is dropped with a warning and cut from the
    file (its job runs again); any other line that is not a record raises
    :class:`CorruptFileError` and leaves the file alone.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(
            f"{path} is not a text file of JSON records ({exc.reason}); the file was left as "
            "it is: repair or delete it (or rerun with --overwrite)"
        ) from None
    lines = text.split("\n")
    tail = lines.pop()  # "" when the file ends with a newline
    rows: list[dict] = []
    for i, line in enumerate(lines, 1):
        if line.strip():
            rows.append(_partial_row(line, path, i))
    if tail.strip():
        try:
            rows.append(_partial_row(tail, path, len(lines) + 1))
            lines.append(tail)  # a whole record whose newline was not written yet
        except CorruptFileError:
            warnings.warn(
                f"{path}: dropped an unfinished last line (a run killed while writing it); that job runs again",
                RuntimeWarning,
                stacklevel=2,
            )
        atomic_write_text("".join(line + "\n" for line in lines), path)
    return rows


def _partial_row(line: str, path: Path, lineno: int) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(
            f"{path}, line {lineno}: not a JSON record ({exc.msg}); the file was left "
            "as it is: repair or delete it (or rerun with --overwrite)"
        ) from None
    _check_record(row, f"{path}, line {lineno}")
    return row


def _write_partial(path: Path, rows: Sequence[Record]) -> None:
    # the whole file through a temporary file and a rename: a kill leaves the old or the new one
    atomic_write_text("".join(json.dumps(r.to_dict(), default=str) + "\n" for r in rows), path)


# ----------------------------------------------------------------------------------------
# pools: (fn, jobs, cfg, workers) -> iterator of (job index, records), in any order
def _serial(fn: Callable, jobs: Sequence[Job], cfg: BenchConfig, workers: int) -> Iterator[tuple[int, list]]:
    for i, job in enumerate(jobs):
        yield i, _guarded(fn, job, cfg)


def _limit_threads(threads: int) -> None:
    """``threads`` threads for torch and for every BLAS/OpenMP pool already loaded.

    The environment variables only reach libraries loaded later: a spawned worker has
    imported numpy (and its BLAS, sized for every core) before an initializer runs, so the
    loaded pools are resized through threadpoolctl (scikit-learn's dependency).
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["STRUCTAUG_PROGRESS"] = "0"  # progress bars of parallel jobs would interleave
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)  # stays in force for the life of the worker
    import torch

    torch.set_num_threads(threads)


def _worker_init() -> None:
    """Each worker process gets one thread: ``workers`` processes share the cores."""
    _limit_threads(1)


def _process(fn: Callable, jobs: Sequence[Job], cfg: BenchConfig, workers: int) -> Iterator[tuple[int, list]]:
    """A ``ProcessPoolExecutor`` of ``spawn``ed workers (safe with CUDA and with threads in
    the parent, unlike ``fork``); results come back as jobs finish."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    quiet = replace(cfg, verbose=False)  # the parent prints each row as it comes back
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init
    )
    completed = False
    try:
        futures = {pool.submit(_guarded, fn, job, quiet): i for i, job in enumerate(jobs)}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
        completed = True
    finally:
        if not completed:  # interrupted (Ctrl-C, a deadline's SIGTERM) or a worker died: stop the others now
            for proc in list((getattr(pool, "_processes", None) or {}).values()):  # no public API before 3.14
                proc.terminate()
        pool.shutdown(wait=completed, cancel_futures=True)


def _ray_task(fn: Callable, job: Job, cfg: BenchConfig, threads: int) -> list[Record]:
    """One job in a Ray worker: ``threads`` torch/BLAS threads (the task's CPUs), silent, and
    the worker's host name on each row (on a cluster the jobs run on several machines; the
    results file's ``environment`` block describes only the machine that ran the command)."""
    import socket

    _limit_threads(threads)
    recs = _guarded(fn, job, cfg)
    host = socket.gethostname()
    for r in recs:
        r.extra = {**(r.extra or {}), "host": host}
    return recs


def _ray(fn: Callable, jobs: Sequence[Job], cfg: BenchConfig, workers: int) -> Iterator[tuple[int, list]]:
    """Jobs as Ray tasks, on the cluster at ``cfg.address`` or on a local Ray started here.

    Built on Ray rather than on our own process management (#22): the same code fans a suite
    out over one machine or a cluster. Each job is one task asking for ``cfg.cpus_per_job``
    CPUs and ``cfg.gpus_per_job`` GPUs (Ray hides the GPUs from a task that asks for none), so
    Ray's scheduler decides how many run at once: ``workers`` jobs on a local Ray (it is
    started with ``workers x cpus_per_job`` CPUs); on a cluster, as many as its resources
    allow. Rows come back as tasks finish. A worker process that dies (out of memory, a
    crash) is retried ``cfg.retries`` times by Ray; after that its job is recorded as
    ``status="error"`` and the run goes on. A local Ray started here is shut down at the end;
    an interrupted run cancels the tasks still queued or running.
    """
    import signal
    import threading

    from ..results import Record

    ray = _import_ray()
    started = False
    if not ray.is_initialized():
        # ray.init installs its own SIGTERM handler (sys.exit); the CLI's turns SIGTERM into an
        # interrupt that saves the finished rows to --out, so it is put back afterwards
        in_main = threading.current_thread() is threading.main_thread()
        sigterm = signal.getsignal(signal.SIGTERM) if in_main else None
        if cfg.address:
            try:
                ray.init(address=cfg.address, log_to_driver=False)
            except ConnectionError as exc:  # e.g. "auto" with no Ray running on this machine
                raise InvalidParameterError(f"--address {cfg.address}: {exc}") from None
        else:
            # workers see what this process imports: its sys.path (an editable install, a
            # PYTHONPATH worktree, a module defined in a test folder)
            path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
            ray.init(
                num_cpus=workers * cfg.cpus_per_job,
                num_gpus=None if cfg.gpus_per_job else 0,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env={"env_vars": {"PYTHONPATH": path}},
            )
        started = True
        if in_main and sigterm is not None:
            signal.signal(signal.SIGTERM, sigterm)
    try:
        _check_ray_resources(ray, cfg)
    except BaseException:
        if started:
            ray.shutdown()
        raise
    quiet = replace(cfg, verbose=False)
    task = ray.remote(_ray_task).options(
        num_cpus=cfg.cpus_per_job, num_gpus=cfg.gpus_per_job, max_retries=cfg.retries, retry_exceptions=False
    )
    fn_ref, cfg_ref = ray.put(fn), ray.put(quiet)
    refs = {task.remote(fn_ref, job, cfg_ref, cfg.cpus_per_job): i for i, job in enumerate(jobs)}
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                i = refs[ref]
                try:
                    recs = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    job = jobs[i]
                    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
                    if isinstance(exc, ray.exceptions.RayTaskError):  # raised past the job's guard
                        why = "the job failed in its Ray task (not retried)"
                    else:  # the worker process died, after cfg.retries retries
                        why = f"the Ray worker running this job was lost ({cfg.retries} retries)"
                    recs = [
                        Record(
                            m, job.dataset, job.seed, {}, status="error", error=f"{type(exc).__name__}: {why}: {first}"
                        )
                        for m in job.methods
                    ]
                yield i, recs
    finally:
        for ref in pending:  # interrupted: stop what is still queued or running
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def _check_ray_resources(ray: Any, cfg: BenchConfig) -> None:
    """A job asking for more CPUs or GPUs than any one node has would wait forever: refuse it."""
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive", True)]
    for name, want, flag in (("CPU", cfg.cpus_per_job, "--cpus-per-job"), ("GPU", cfg.gpus_per_job, "--gpus-per-job")):
        most = max((float(n.get(name, 0.0)) for n in nodes), default=0.0)
        if want and most < want:
            raise InvalidParameterError(
                f"{flag} {want}: no node of this Ray cluster has that many {name}s (the largest has {most:g}); "
                "the jobs would wait forever"
            )


def _import_ray() -> Any:
    """``import ray``, or the one-line error that says how to install it."""
    try:
        import ray
    except ModuleNotFoundError as exc:
        if exc.name not in (None, "ray"):
            raise
        raise InvalidParameterError(
            "--backend ray needs Ray, which is not installed: pip install 'structaug[ray]'"
        ) from None
    return ray


#: pool mechanisms by name; ``"process"`` is used when ``cfg.workers > 1`` and no
#: ``cfg.backend`` is set
BACKENDS: dict[str, Callable[..., Iterator[tuple[int, list]]]] = {"serial": _serial, "process": _process, "ray": _ray}


def check_backend(cfg: BenchConfig) -> None:
    """The backend settings, before any job: a known backend, ``address`` only with Ray, Ray
    importable when asked for.

    Raises
    ------
    InvalidParameterError
        Naming the setting (``--backend``, ``--address``, ``--cpus-per-job``, ``--gpus-per-job``).
    """
    if cfg.backend is not None and cfg.backend not in BACKENDS:
        raise InvalidParameterError(f"--backend {cfg.backend!r}: choose from {sorted(BACKENDS)}")
    if cfg.address and cfg.backend != "ray":
        raise InvalidParameterError(f"--address {cfg.address} is the address of a Ray cluster; it needs --backend ray")
    if cfg.backend != "ray" and (cfg.cpus_per_job != 1 or cfg.gpus_per_job):
        raise InvalidParameterError("--cpus-per-job and --gpus-per-job are Ray task resources; they need --backend ray")
    check_positive_int(cfg.cpus_per_job, "--cpus-per-job")
    check_positive_float(cfg.gpus_per_job, "--gpus-per-job", allow_zero=True)
    check_positive_int(cfg.retries, "--retries", minimum=0)
    if cfg.backend == "ray" and str(cfg.device).startswith("cuda") and not cfg.gpus_per_job:
        raise InvalidParameterError(
            "--device cuda with --backend ray needs --gpus-per-job > 0 (Ray hides the GPUs from a job that asks for none)"
        )
    if cfg.backend == "ray":
        _import_ray()
        if cfg.address:
            _check_address(cfg.address)


def _check_address(address: str) -> None:
    """Something must answer at a Ray cluster's ``host:port`` (``ray.init`` would retry for minutes).

    ``"auto"`` (a cluster started on this machine) is left to Ray, which fails fast there.
    """
    import socket

    if address == "auto":
        return
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidParameterError(f"--address {address!r}: expected host:port, ray://host:port or 'auto'")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise InvalidParameterError(
            f"--address {address}: nothing answers at {host}:{port} ({exc}); start the cluster first "
            "(ray start --head) or check the address"
        ) from None


def _guarded(fn: Callable, job: Job, cfg: BenchConfig) -> list[Record]:
    """``fn(job, cfg)``; a :class:`SkipJob` or an exception becomes one row per method."""
    from ..results import Record

    try:
        return list(fn(job, cfg))
    except SkipJob as exc:
        return [Record(m, job.dataset, job.seed, {}, status="skipped", error=str(exc)) for m in job.methods]
    except Exception as exc:  # one failing job is recorded, the others still run
        msg, tb = f"{type(exc).__name__}: {exc}", traceback.format_exc()
        return [
            Record(m, job.dataset, job.seed, {}, status="error", error=msg, extra={"traceback": tb})
            for m in job.methods
        ]


# ----------------------------------------------------------------------------------------
def _name(mod: ModuleType) -> str:
    return mod.__name__.rsplit(".", 1)[-1]


def _say(name: str, rec: Record, metric: str | None) -> None:
    if rec.status == "ok":
        value = rec.metrics.get(metric) if metric else None
        shown = f"{metric}={value:.4f}" if isinstance(value, (int, float)) else "ok"
        took = f" ({rec.fit_time:.0f}s)" if rec.fit_time is not None else ""
        print(f"[{name}] {rec.dataset} {rec.method} seed {rec.seed}: {shown}{took}", flush=True)
    else:
        first = str(rec.error or "").splitlines()[0][:300] if rec.error else ""
        print(f"[{name}] {rec.dataset} {rec.method} seed {rec.seed}: {rec.status} ({first})", flush=True)


def _merge(rows: Sequence[Record | dict]) -> dict[tuple, Record]:
    """Rows by (method, dataset, seed): a later row replaces an earlier one, but never an ok
    row by a failed one."""
    from ..results import Record

    out: dict[tuple, Record] = {}
    for row in rows:
        rec = row if isinstance(row, Record) else Record(**row)
        if out.get(_key(rec)) is None or out[_key(rec)].status != "ok" or rec.status == "ok":
            out[_key(rec)] = rec
    return out


def execute(mod: ModuleType, cfg: BenchConfig, *, backend: str | None = None) -> list[Record]:
    """Run the jobs of benchmark module ``mod`` that are not done yet; return every row.

    Rows already ``ok`` in ``cfg.extra["previous"]`` (the resumed ``--out``) or, with
    ``cfg.resume``, in the partial file are not run again; the partial file is rewritten
    after each job. Returns the resumed rows this run did not redo, then this run's rows
    in job order (whatever order the pool finished them in).

    Raises
    ------
    ResultsExistError
        A partial file of an earlier run exists, ``cfg.resume`` is false and ``out`` was not
        checked by :func:`prepare_out` (which deletes it on ``--overwrite``).
    """

    name = _name(mod)
    check_backend(cfg if backend is None else replace(cfg, backend=backend))
    if hasattr(mod, "validate"):
        mod.validate(cfg)  # names and settings, before any job
    partial = partial_file(cfg.out) if cfg.out is not None else None
    resumed_partial: list[dict] = []
    if partial is not None and partial.exists():
        if not cfg.resume:
            if not cfg.out_owned:
                raise ResultsExistError(
                    f"{partial} holds rows of an earlier run that this run did not write; set resume=True to "
                    "keep them, or delete the file"
                )
            partial.unlink()
        else:
            resumed_partial = read_partial(partial)
    previous = _merge(list(cfg.extra.get("previous") or []) + resumed_partial)
    done = {k for k, r in previous.items() if r.status == "ok"}

    light = replace(cfg, extra={k: v for k, v in cfg.extra.items() if k != "previous"})
    todo: list[Job] = []
    for job in mod.jobs(light):
        missing = tuple(m for m, k in zip(job.methods, job.keys()) if k not in done)
        if missing:
            todo.append(replace(job, methods=missing))
    workers = max(1, int(cfg.workers))
    pool = BACKENDS[backend or cfg.backend or ("process" if workers > 1 and len(todo) > 1 else "serial")]
    metric = (getattr(mod, "METRICS", None) or [None])[0]
    if partial is not None:
        partial.parent.mkdir(parents=True, exist_ok=True)
    # rows of the resumed partial file are not in --out yet: they stay in the partial file
    carried = [previous[k] for k in dict.fromkeys(_key(r) for r in resumed_partial)]
    finished: dict[int, list[Record]] = {}
    for i, recs in pool(mod.run_job, todo, light, workers):
        finished[i] = recs
        if partial is not None:
            new = [r for j in sorted(finished) for r in finished[j]]
            have = {_key(r) for r in new}
            _write_partial(partial, [r for r in carried if _key(r) not in have] + new)
        if cfg.verbose:
            for r in recs:
                _say(name, r, metric)
    new = [r for i in sorted(finished) for r in finished[i]]
    have = {_key(r) for r in new}
    return [r for k, r in previous.items() if k not in have] + new


def finish(mod: ModuleType, cfg: BenchConfig, records: Sequence[Record], *, device: str | None = None) -> Path:
    """Save ``records`` to ``cfg.out`` with its markdown summary, run the module's ``report``
    and remove the partial file (every row is in ``cfg.out`` now)."""
    from ..results import save_records

    if cfg.out is None:
        raise InvalidParameterError("finish() needs cfg.out: the results file to write")
    out = Path(cfg.out)
    config = cfg.to_dict()
    config["extra"] = {k: v for k, v in cfg.extra.items() if k != "previous"}
    save_records(
        records, out, benchmark=_name(mod), config=config, device=device, metrics=getattr(mod, "METRICS", None)
    )
    if hasattr(mod, "report"):
        mod.report(list(records), out)
    partial_file(out).unlink(missing_ok=True)
    return out


def run_benchmark(mod: ModuleType | str, cfg: BenchConfig, *, backend: str | None = None) -> list[Record]:
    """Run a benchmark as ``structaug bench`` does: check ``cfg.out``, run, save, report.

    A Python caller gets the CLI's results-file rule: an existing ``out`` (or its ``.md`` or
    partial file) is never replaced; with ``cfg.resume`` its rows are kept and extended.
    Without ``cfg.out`` nothing is written. An interrupted run (``KeyboardInterrupt``; the CLI
    turns SIGTERM, e.g. a ``timeout`` deadline, into one) saves the rows it finished to ``out``
    before the interrupt goes on, so ``--resume`` continues from there; a killed one
    (SIGKILL) leaves them in the partial file.

    Raises
    ------
    ResultsExistError
        ``cfg.out`` exists and ``cfg.resume`` is false (and the CLI did not check it).
    """
    if isinstance(mod, str):
        from . import load_benchmark

        mod = load_benchmark(mod)
    if cfg.out is not None and not cfg.out_owned:
        if hasattr(mod, "validate"):
            mod.validate(cfg)  # a bad name is reported before the results files are looked at
        previous = prepare_out(Path(cfg.out), benchmark=_name(mod), resume=cfg.resume, overwrite=False)
        # the caller's cfg is left as it was (it may be reused for another run)
        cfg = replace(cfg, extra={"previous": previous, **cfg.extra}, out_owned=True)
    device = cfg.device if cfg.device != "auto" else None
    try:
        records = execute(mod, cfg, backend=backend)
    except KeyboardInterrupt:
        partial = partial_file(cfg.out) if cfg.out is not None else None
        if partial is not None and partial.exists():
            rows = list(_merge(list(cfg.extra.get("previous") or []) + read_partial(partial)).values())
            finish(mod, cfg, rows, device=device)
            print(
                f"[{_name(mod)}] interrupted: the {len(rows)} rows so far are in {cfg.out}; "
                "rerun with --resume to go on",
                file=sys.stderr,
                flush=True,
            )
        raise
    if cfg.out is not None:
        finish(mod, cfg, records, device=device)
    return records
