"""The one benchmark runner (structaug.bench._runner): jobs, resume, partial files, pools,
records and reports, on a fake benchmark module (this file) whose jobs take no time, and
the one-name-per-dataset rule across ``structaug datasets``, loaders and benchmarks."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from structaug.bench import BenchConfig, Job, SkipJob, _runner, check_backend, execute, load_benchmark, run_benchmark
from structaug.exceptions import InvalidParameterError, ResultsExistError
from structaug.results import Record, load_results

THIS = sys.modules[__name__]
CALLS: list[tuple] = []  # (method, dataset, seed) of every job method run in this process
METRICS = ["score"]


# -- the fake benchmark: this module ------------------------------------------------------
def jobs(cfg: BenchConfig) -> list[Job]:
    """Per dataset and seed: a job of two methods that run together, then one of a single method."""
    return [
        j
        for d in cfg.datasets or ["d1", "d2"]
        for s in cfg.seeds
        for j in (Job(d, s, ("a", "b"), dict(cfg.extra)), Job(d, s, ("c",), dict(cfg.extra)))
    ]


def run_job(job: Job, cfg: BenchConfig) -> list[Record]:
    key = f"{job.methods[0]}/{job.dataset}/{job.seed}"
    if key in job.config.get("interrupt", ()):
        raise KeyboardInterrupt  # the run is killed here
    if key in job.config.get("fail", ()):
        raise ValueError(f"boom in {key}")
    if key in job.config.get("skip", ()):
        raise SkipJob(f"cannot run {key} here")
    if key in job.config.get("die", ()):  # the worker process dies: on every try, or on the first one
        marker = Path(job.config["marker_dir"]) / key.replace("/", "_")
        if not job.config.get("die_once") or not marker.exists():
            marker.touch()
            os._exit(1)
    out = []
    for m in job.methods:
        CALLS.append((m, job.dataset, job.seed))
        score = float(len(m) + 10 * job.seed + len(job.dataset)) + 0.5 * (m == "c")
        out.append(Record(m, job.dataset, job.seed, {"score": score}, config={"pid": os.getpid(), **_threads()}))
    return out


def _threads() -> dict:
    """The thread counts a job runs with: torch's and the largest loaded BLAS/OpenMP pool's."""
    import torch
    from threadpoolctl import threadpool_info

    return {"torch_threads": torch.get_num_threads(), "blas_threads": max(p["num_threads"] for p in threadpool_info())}


def _rows(records) -> list[tuple]:
    return [(r.method, r.dataset, r.seed, r.status, r.metrics.get("score")) for r in records]


EXPECTED = [
    (m, d, s, "ok", float(len(m) + 10 * s + len(d)) + 0.5 * (m == "c"))
    for d in ("d1", "d2")
    for s in (0, 1)
    for m in ("a", "b", "c")
]


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()
    yield


# -- runs, order, files ---------------------------------------------------------------------
def test_every_job_runs_once_and_rows_come_in_job_order(tmp_path):
    out = tmp_path / "r.json"
    recs = run_benchmark(THIS, BenchConfig(seeds=[0, 1], out=out))
    assert _rows(recs) == EXPECTED
    assert sorted(CALLS) == sorted((m, d, s) for m, d, s, *_ in EXPECTED)
    payload = load_results(out)
    assert payload["benchmark"] == "test_bench_runner"
    assert [(r["method"], r["dataset"], r["seed"]) for r in payload["records"]] == [e[:3] for e in EXPECTED]
    assert "| d1 | a | 2 |" in out.with_suffix(".md").read_text()  # the summary, METRICS' column
    assert not (tmp_path / "r.partial.jsonl").exists()  # every row is in --out now


def test_a_failing_or_skipped_job_is_rows_and_the_others_run():
    cfg = BenchConfig(seeds=[0], datasets=["d1"], extra={"fail": ["a/d1/0"], "skip": ["c/d1/0"]})
    recs = execute(THIS, cfg)
    by = {r.method: r for r in recs}
    assert [r.method for r in recs] == ["a", "b", "c"]  # one row per method of the failed job
    assert by["a"].status == by["b"].status == "error" and by["a"].error == "ValueError: boom in a/d1/0"
    assert "Traceback" in by["a"].extra["traceback"] and "boom" in by["a"].extra["traceback"]
    assert by["c"].status == "skipped" and by["c"].error == "cannot run c/d1/0 here"


def test_resume_reruns_only_rows_that_are_not_ok_and_keeps_the_rest(tmp_path):
    out = tmp_path / "r.json"
    first = run_benchmark(THIS, BenchConfig(seeds=[0, 1], out=out, extra={"fail": ["a/d2/1"], "skip": ["c/d1/0"]}))
    assert sum(r.status != "ok" for r in first) == 3
    CALLS.clear()
    again = run_benchmark(THIS, BenchConfig(seeds=[0, 1], out=out, resume=True))
    assert sorted(CALLS) == [("a", "d2", 1), ("b", "d2", 1), ("c", "d1", 0)]
    assert sorted(_rows(again)) == sorted(EXPECTED)
    assert sorted(_rows(Record(**r) for r in load_results(out)["records"])) == sorted(EXPECTED)


def test_a_partly_done_job_runs_only_its_missing_methods():
    prev = [Record("a", "d1", 0, {"score": -1.0}).to_dict()]
    recs = execute(THIS, BenchConfig(seeds=[0], datasets=["d1"], extra={"previous": prev}))
    assert CALLS == [("b", "d1", 0), ("c", "d1", 0)]
    assert _rows(recs) == [("a", "d1", 0, "ok", -1.0), ("b", "d1", 0, "ok", 3.0), ("c", "d1", 0, "ok", 3.5)]


def test_a_killed_run_leaves_finished_jobs_in_the_partial_file():
    """What SIGKILL leaves (no chance to save): the rows of every finished job, in the partial file."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        with pytest.raises(KeyboardInterrupt):
            execute(THIS, BenchConfig(seeds=[0, 1], out=out, out_owned=True, extra={"interrupt": ["c/d1/1"]}))
        assert not out.exists()
        kept = [json.loads(line) for line in (Path(tmp) / "r.partial.jsonl").read_text().splitlines()]
        assert [(r["method"], r["dataset"], r["seed"]) for r in kept] == [e[:3] for e in EXPECTED[:5]]


def test_an_interrupted_run_saves_its_finished_rows_and_resume_completes(tmp_path):
    out = tmp_path / "r.json"
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(THIS, BenchConfig(seeds=[0, 1], out=out, extra={"interrupt": ["c/d1/1"]}))
    saved = load_results(out)["records"]  # with its environment, so it merges like a finished run
    assert [(r["method"], r["dataset"], r["seed"]) for r in saved] == [e[:3] for e in EXPECTED[:5]]
    assert not (tmp_path / "r.partial.jsonl").exists()
    with pytest.raises(ResultsExistError):
        run_benchmark(THIS, BenchConfig(seeds=[0, 1], out=out))  # another run's rows: refused
    CALLS.clear()
    recs = run_benchmark(THIS, BenchConfig(seeds=[0, 1], out=out, resume=True))
    assert len(CALLS) == len(EXPECTED) - 5  # the five finished rows were not run again
    assert _rows(recs) == EXPECTED


def test_sigterm_stops_the_cli_run_and_keeps_its_rows(tmp_path, monkeypatch, capsys):
    """`timeout` (benchmarks/gpu/run.sh) sends SIGTERM at the deadline: the rows so far land in --out."""
    import signal

    from structaug.cli import main

    dain = load_benchmark("dain")
    real = dain.run_job
    sent = []

    def deadline_on_second(job, cfg):
        if job.seed == 1 and not sent:
            sent.append(job.seed)
            os.kill(os.getpid(), signal.SIGTERM)  # the handler raises right here
        return real(job, cfg)

    monkeypatch.setattr(dain, "run_job", deadline_on_second)
    out = tmp_path / "r.json"
    argv = ["bench", "dain", "--datasets", "lowrank", "--methods", "global_mean", "--no-progress", "--out", str(out)]
    before = signal.getsignal(signal.SIGTERM)
    assert main(argv + ["--seeds", "0-1"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert [(r["seed"], r["status"]) for r in load_results(out)["records"]] == [(0, "ok")]
    assert signal.getsignal(signal.SIGTERM) is before  # the CLI's handler is gone again
    assert main(argv + ["--seeds", "0-2", "--resume"]) == 0
    assert [r["seed"] for r in load_results(out)["records"]] == [0, 1, 2]


def test_the_partial_file_is_rewritten_after_each_job(tmp_path, monkeypatch):
    seen = []
    real = _runner._write_partial
    monkeypatch.setattr(_runner, "_write_partial", lambda path, rows: seen.append(len(rows)) or real(path, rows))
    execute(THIS, BenchConfig(seeds=[0], datasets=["d1", "d2"], out=tmp_path / "r.json", out_owned=True))
    assert seen == [2, 3, 5, 6]  # after each of the four jobs, all rows so far


def test_a_new_backend_plugs_in_without_touching_the_benchmarks(monkeypatch):
    """The seam for a Ray backend (#22): a pool is (fn, jobs, cfg, workers) -> (index, rows) as they finish."""

    def backwards(fn, jobs, cfg, workers):
        for i in reversed(range(len(jobs))):
            yield i, _runner._guarded(fn, jobs[i], cfg)

    monkeypatch.setitem(_runner.BACKENDS, "backwards", backwards)
    recs = execute(THIS, BenchConfig(seeds=[0, 1]), backend="backwards")
    assert _rows(recs) == EXPECTED  # job order, whatever order the pool finished in


def test_worker_processes_give_the_serial_rows(tmp_path):
    recs = execute(THIS, BenchConfig(seeds=[0, 1], workers=2))
    assert _rows(recs) == EXPECTED
    pids = {r.config["pid"] for r in recs}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # ran in (at most two) worker processes
    # one thread each, numpy's BLAS included (loaded, for every core, before the initializer ran)
    assert {(r.config["torch_threads"], r.config["blas_threads"]) for r in recs} == {(1, 1)}
    assert CALLS == []  # nothing ran in this process


def test_bench_workers_flag_reaches_the_runner(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(_runner, "_process", lambda fn, jobs, cfg, workers: seen.append(workers) or iter(()))
    monkeypatch.setitem(_runner.BACKENDS, "process", _runner._process)
    from structaug.cli import main

    assert (
        main(
            [
                "bench",
                "dain",
                "--datasets",
                "lowrank",
                "--methods",
                "global_mean",
                "--seeds",
                "0-1",
                "--workers",
                "2",
                "--no-progress",
                "--out",
                str(tmp_path / "r.json"),
            ]
        )
        == 0
    )
    assert seen == [2]


# -- one name per dataset ---------------------------------------------------------------------
def test_every_listed_dataset_name_is_accepted_by_its_benchmarks():
    from structaug.datasets import available_datasets

    rows = available_datasets()
    assert sum(r["name"] == "ml-100k" for r in rows) == 1  # one name, listed once
    for r in rows:
        for b in r["benchmarks"]:
            load_benchmark(b).validate(BenchConfig(datasets=[r["name"]]))  # no InvalidParameterError


def test_llmrec_and_dain_take_the_same_movielens_name():
    from structaug.exceptions import InvalidParameterError

    for b in ("llmrec", "dain"):
        load_benchmark(b).validate(BenchConfig(datasets=["ml-100k"]))
    with pytest.raises(InvalidParameterError, match=r"unknown name\(s\) \['movielens100k'\].*ml-100k"):
        load_benchmark("llmrec").validate(BenchConfig(datasets=["movielens100k"]))
    assert {j.dataset for j in load_benchmark("llmrec").jobs(BenchConfig(seeds=[0]))} == {"ml-100k"}


def test_llmrec_bench_ablations_of_the_movielens_config(tmp_path):
    """The two ablation rows of the reference MovieLens config run; only the one with the
    judge's edges trains on augmented triples."""
    from structaug.bench.llmrec import LLM_FREE
    from structaug.cli import main

    names = [
        f"{LLM_FREE}, reference MovieLens config − pruning",
        f"{LLM_FREE}, reference MovieLens config − pruning − edge aug",
    ]
    out = tmp_path / "l.json"
    argv = ["bench", "llmrec", "--quick", "--seeds", "1", "--no-progress", "--methods", ";".join(names)]
    assert main([*argv, "--out", str(out)]) == 0
    rows = {r["method"]: r for r in json.loads(out.read_text())["records"]}
    assert set(rows) == set(names) and all(r["status"] == "ok" for r in rows.values())
    assert rows[names[0]]["extra"]["aug_triples_used"] > 0 and rows[names[1]]["extra"]["aug_triples_used"] == 0
    assert rows[names[0]]["metrics"]["recall@20"] > 0 and rows[names[1]]["metrics"]["recall@20"] > 0


def test_datasets_command_prints_the_name_to_pass(capsys):
    from structaug.cli import main

    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("name (--datasets)" in ln for ln in lines)
    ml = [ln.split() for ln in lines if " ml-100k " in f" {ln} "]
    assert len(ml) == 1 and ml[0][0] == "recsys" and ml[0][3] == "llmrec,dain"


# -- the Ray backend (#22): a local Ray with 2 CPUs --------------------------------------------
def test_ray_backend_starts_and_stops_its_own_ray_and_keeps_the_sigterm_handler():
    """Without a running Ray the backend starts one for the run (this test runs before the
    fixture below starts a shared one), keeps the CLI's SIGTERM handler (ray.init installs its
    own) and shuts its Ray down; a job no node can hold is refused instead of waiting forever."""
    import signal

    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray is already running in this process")

    def handler(signum, frame):  # pragma: no cover - never called
        pass

    old = signal.signal(signal.SIGTERM, handler)
    try:
        recs = execute(THIS, BenchConfig(seeds=[0], datasets=["d1"], backend="ray", workers=2))
        assert signal.getsignal(signal.SIGTERM) is handler
        with pytest.raises(
            InvalidParameterError, match="--gpus-per-job 1: no node of this Ray cluster has that many GPUs"
        ):
            execute(THIS, BenchConfig(seeds=[0], datasets=["d1"], backend="ray", gpus_per_job=1))
    finally:
        signal.signal(signal.SIGTERM, old)
    assert _rows(recs) == [e for e in EXPECTED if e[1:3] == ("d1", 0)]
    assert not ray.is_initialized()  # the Rays it started are shut down


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the tests below (starting one takes ~10 s); the backend joins it
    instead of starting its own. Workers import this test module through PYTHONPATH."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        here = str(Path(__file__).parent)
        ray.init(
            num_cpus=2,
            num_gpus=0,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([here, *sys.path])}},
        )
    yield ray
    ray.shutdown()


def test_ray_tasks_give_the_serial_rows(local_ray, tmp_path):
    out = tmp_path / "r.json"
    recs = run_benchmark(THIS, BenchConfig(seeds=[0, 1], out=out, backend="ray", workers=2))
    assert _rows(recs) == EXPECTED  # same rows, in job order, as the serial run
    assert CALLS == []  # nothing ran in this process
    assert {r.config["pid"] for r in recs}.isdisjoint({os.getpid()})
    assert all(r.extra["host"] for r in recs)  # which machine of a cluster ran the row
    assert {(r.config["torch_threads"], r.config["blas_threads"]) for r in recs} == {(1, 1)}  # --cpus-per-job 1
    assert [(r["method"], r["dataset"], r["seed"]) for r in load_results(out)["records"]] == [e[:3] for e in EXPECTED]


def test_ray_resume_runs_only_the_missing_rows(local_ray, tmp_path):
    out = tmp_path / "r.json"
    first = run_benchmark(THIS, BenchConfig(seeds=[0, 1], out=out, backend="ray", extra={"fail": ["c/d2/1"]}))
    assert [r.status for r in first].count("error") == 1
    calls = []
    real = _runner._ray

    def spy(fn, jobs, cfg, workers):
        for j in jobs:
            calls.extend(j.keys())
        return real(fn, jobs, cfg, workers)

    _runner.BACKENDS["ray"] = spy
    try:
        again = run_benchmark(THIS, BenchConfig(seeds=[0, 1], out=out, resume=True, backend="ray"))
    finally:
        _runner.BACKENDS["ray"] = real
    assert calls == [("c", "d2", 1)]
    assert _rows(again) == EXPECTED


def test_a_ray_worker_that_dies_is_retried_and_loses_only_its_job(local_ray, tmp_path):
    extra = {"die": ["c/d1/0"], "die_once": True, "marker_dir": str(tmp_path)}
    recs = execute(THIS, BenchConfig(seeds=[0, 1], backend="ray", retries=1, extra=extra))
    assert _rows(recs) == EXPECTED  # the job's second try ran in a new worker
    assert (tmp_path / "c_d1_0").exists()  # and the first one did die


def test_a_ray_worker_that_keeps_dying_is_an_error_row_not_a_lost_run(local_ray, tmp_path):
    extra = {"die": ["a/d2/1"], "marker_dir": str(tmp_path)}
    recs = execute(THIS, BenchConfig(seeds=[0, 1], backend="ray", retries=0, extra=extra))
    bad = [r for r in recs if r.status != "ok"]
    assert [(r.method, r.dataset, r.seed, r.status) for r in bad] == [("a", "d2", 1, "error"), ("b", "d2", 1, "error")]
    assert "Ray worker running this job was lost" in bad[0].error
    assert [x for x in _rows(recs) if x[3] == "ok"] == [e for e in EXPECTED if e[1:3] != ("d2", 1) or e[0] == "c"]


def test_bench_backend_ray_gives_the_serial_records_of_a_real_benchmark(local_ray, tmp_path):
    """``structaug bench dain --backend ray`` on a generated tensor: every metric equal to the serial run's."""
    from structaug.cli import main

    def run(name, *flags):
        out = tmp_path / f"{name}.json"
        args = ["bench", "dain", "--datasets", "lowrank", "--methods", "global_mean,entity_mean,cp_r2"]
        args += ["--seeds", "0-1", "--no-progress", "--out", str(out), *flags]
        assert main(args) == 0
        return {(r["method"], r["seed"]): r["metrics"] for r in load_results(out)["records"]}

    ray_rows = run("ray", "--backend", "ray", "--workers", "2")
    # one-thread worker processes of this machine: the same arithmetic, bit for bit
    assert run("process", "--workers", "2") == ray_rows
    serial = run("serial")  # this process may use more BLAS threads: the last digit can move
    assert serial.keys() == ray_rows.keys() and len(serial) == 6
    for k, metrics in serial.items():
        assert ray_rows[k] == pytest.approx(metrics, rel=1e-12)


def test_backend_flags_are_checked_before_any_work(tmp_path, capsys):
    from structaug.cli import main

    base = ["bench", "dain", "--datasets", "lowrank", "--no-progress", "--out", str(tmp_path / "r.json")]
    assert main([*base, "--address", "auto"]) == 2
    assert "--address auto is the address of a Ray cluster; it needs --backend ray" in capsys.readouterr().err
    assert main([*base, "--gpus-per-job", "1"]) == 2
    assert "need --backend ray" in capsys.readouterr().err
    with pytest.raises(InvalidParameterError, match="--gpus-per-job > 0"):
        check_backend(BenchConfig(backend="ray", device="cuda"))
    with pytest.raises(InvalidParameterError, match="--backend 'dask'"):
        check_backend(BenchConfig(backend="dask"))
    if importlib.util.find_spec("ray") is not None:  # an address where no cluster answers: at once, not a hang
        with pytest.raises(InvalidParameterError, match="--address 127.0.0.1:1: nothing answers"):
            check_backend(BenchConfig(backend="ray", address="127.0.0.1:1"))
        with pytest.raises(InvalidParameterError, match="expected host:port"):
            check_backend(BenchConfig(backend="ray", address="head-node"))
    assert not list(tmp_path.iterdir())  # nothing written


def test_backend_ray_without_ray_installed_is_one_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ModuleNotFoundError("No module named 'ray'", name="ray")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    from structaug.cli import main

    out = tmp_path / "r.json"
    assert main(["bench", "dain", "--datasets", "lowrank", "--backend", "ray", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "structaug: error: --backend ray needs Ray, which is not installed: pip install 'structaug[ray]'"
    assert not out.exists()
