"""Issue #20 for benchmarks, the CLI and results files: no lost results, no silent settings,
every bad flag or file a one-line ``structaug: error`` (exit code 2) before any job runs.

Real runs use DAIN's ``global_mean`` / ``entity_mean`` on the generated ``lowrank`` tensor
(no data files, well under a second per row).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from structaug import bench
from structaug.bench import BenchConfig, load_benchmark, run_benchmark
from structaug.cli import build_parser, main
from structaug.exceptions import CorruptFileError, InvalidParameterError, ResultsExistError
from structaug.results import Record, load_records, save_records
from structaug.tabular import HyperTabRegressor

REPO = Path(__file__).resolve().parents[1]
DAIN = ["bench", "dain", "--datasets", "lowrank", "--no-progress"]
TIMING = ("fit_time", "predict_time")


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    # main() sets STRUCTAUG_PROGRESS for --no-progress; monkeypatch puts it back afterwards
    monkeypatch.setenv("STRUCTAUG_PROGRESS", "0")


@pytest.fixture
def no_job(monkeypatch):
    """Make every benchmark's job list fail loudly: an error must come before any job starts."""

    def ran(cfg):
        raise AssertionError("a benchmark started its jobs")

    for name in bench.BENCHMARKS:
        monkeypatch.setattr(load_benchmark(name), "jobs", ran)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _strip(rows: list[dict]) -> list[dict]:
    return sorted(
        ({k: v for k, v in r.items() if k not in TIMING} for r in rows),
        key=lambda r: (r["method"], r["dataset"], r["seed"]),
    )


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("structaug: error: "), err
    return lines[0]


def _global_mean_rmse(seed: int) -> float:
    """Test RMSE of the global mean on lowrank, computed here without the benchmark."""
    import numpy as np

    from structaug.tensor import load_tensor_dataset

    tr, _, te = load_tensor_dataset("lowrank").split(random_state=seed)
    return float(np.sqrt(np.mean((te.values - tr.values.mean()) ** 2)))


# -- 1. lost results ---------------------------------------------------------------------
@pytest.mark.parametrize("existing", ["r.json", "r.md", "r.partial.jsonl"])
def test_existing_results_are_refused_before_any_job(tmp_path, capsys, no_job, existing):
    (tmp_path / existing).write_text('{"benchmark": "dain", "records": []}\n')
    before = _snapshot(tmp_path)
    assert main(DAIN + ["--methods", "global_mean", "--out", str(tmp_path / "r.json")]) == 2
    line = _error_line(capsys)
    assert "--resume" in line and "--overwrite" in line and existing in line
    assert _snapshot(tmp_path) == before  # nothing replaced, nothing deleted


def test_default_out_is_not_the_committed_results_folder(tmp_path, monkeypatch, capsys):
    """Regression: from the repo root, a one-row run replaced benchmarks/results/dain.json."""
    monkeypatch.chdir(tmp_path)
    committed = tmp_path / "benchmarks" / "results"
    committed.mkdir(parents=True)
    (committed / "dain.json").write_text("committed\n")
    (committed / "dain.md").write_text("committed\n")
    assert main(DAIN + ["--methods", "global_mean", "--seeds", "0-0"]) == 0
    assert (committed / "dain.json").read_text() == "committed\n"
    assert (committed / "dain.md").read_text() == "committed\n"
    rows = load_records(tmp_path / "structaug-results" / "dain.json")
    assert [(r["method"], r["dataset"], r["seed"], r["status"]) for r in rows] == [("global_mean", "lowrank", 0, "ok")]
    assert rows[0]["metrics"]["rmse"] == pytest.approx(_global_mean_rmse(0), rel=1e-9)
    # the second run of the same command refuses instead of replacing the first one's rows
    capsys.readouterr()
    assert main(DAIN + ["--methods", "global_mean", "--seeds", "0-0"]) == 2
    assert "structaug-results/dain.json" in _error_line(capsys)


def test_default_out_folder_is_git_ignored():
    if subprocess.run(["git", "rev-parse"], cwd=REPO, capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    assert subprocess.run(["git", "check-ignore", "-q", "structaug-results/dain.json"], cwd=REPO).returncode == 0


def _fake_row(method: str, dataset: str, seed: int, rmse: float | None, status: str = "ok") -> Record:
    return Record(
        method,
        dataset,
        seed,
        {} if rmse is None else {"rmse": rmse, "mae": rmse},
        status=status,
        error=None if status == "ok" else "boom",
    )


def test_resume_keeps_every_row_and_extends(tmp_path):
    out = tmp_path / "r.json"
    old = [
        _fake_row("global_mean", "lowrank", 0, 9.0),  # finished: kept as is, not rerun
        _fake_row("global_mean", "LDOS-CoMoDa", 0, None, "error"),  # not part of this run: kept
        _fake_row("cp_r2", "lowrank", 0, 7.0),
    ]  # another method: kept
    save_records(old, out, benchmark="dain")
    assert main(DAIN + ["--methods", "global_mean", "--seeds", "0-1", "--resume", "--out", str(out)]) == 0
    rows = {(r["method"], r["dataset"], r["seed"]): r for r in load_records(out)}
    assert len(rows) == len(load_records(out)) == 4
    assert rows[("global_mean", "lowrank", 0)]["metrics"]["rmse"] == 9.0
    assert rows[("global_mean", "LDOS-CoMoDa", 0)]["status"] == "error"
    assert rows[("cp_r2", "lowrank", 0)]["metrics"]["rmse"] == 7.0
    assert rows[("global_mean", "lowrank", 1)]["metrics"]["rmse"] == pytest.approx(_global_mean_rmse(1), rel=1e-9)


def test_resume_with_other_settings_warns(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(DAIN + ["--methods", "global_mean", "--seeds", "0-0", "--out", str(out)]) == 0
    capsys.readouterr()
    assert (
        main(DAIN + ["--methods", "global_mean", "--seeds", "1-1", "--aug-ratio", "0.3", "--resume", "--out", str(out)])
        == 0
    )
    assert "--aug-ratio 0.5 -> 0.3" in capsys.readouterr().err
    assert [r["seed"] for r in load_records(out)] == [0, 1]


def test_a_named_method_that_does_not_run_on_a_tensor_is_recorded(tmp_path, monkeypatch):
    """Regression: DAIN silently dropped e.g. cp_r10 on ml-100k (dense ALS skipped on big tensors)."""
    dain = load_benchmark("dain")
    real = dain._baselines
    monkeypatch.setattr(dain, "_baselines", lambda *a: {k: v for k, v in real(*a).items() if k != "cp_r2"})
    out = tmp_path / "r.json"
    assert main(DAIN + ["--methods", "global_mean,cp_r2", "--seeds", "0-0", "--ranks", "2", "--out", str(out)]) == 0
    rows = {r["method"]: r for r in load_records(out)}
    assert rows["global_mean"]["status"] == "ok"
    assert rows["cp_r2"]["status"] == "skipped" and "not run on tensors of over 10M cells" in rows["cp_r2"]["error"]


def test_resume_without_a_file_starts_fresh_and_overwrite_replaces(tmp_path):
    out = tmp_path / "r.json"
    assert main(DAIN + ["--methods", "global_mean", "--seeds", "0-0", "--resume", "--out", str(out)]) == 0
    assert [r["seed"] for r in load_records(out)] == [0]
    partial = tmp_path / "r.partial.jsonl"
    partial.write_text(json.dumps(_fake_row("entity_mean", "lowrank", 5, 1.0).to_dict()) + "\n")
    assert main(DAIN + ["--methods", "global_mean", "--seeds", "1-1", "--overwrite", "--out", str(out)]) == 0
    assert [(r["method"], r["seed"]) for r in load_records(out)] == [("global_mean", 1)]  # old rows gone
    assert not partial.exists()  # the other run's partial rows were not merged in


@pytest.mark.parametrize(
    "content, match",
    [
        ('{"benchmark": "dain", "records": [', "cannot be parsed"),
        ('{"benchmark": "dain"}', "no 'records' list"),
        ('{"benchmark": "dain", "records": [{"method": "x"}]}', "record 0 is not a benchmark record"),
        (
            '{"benchmark": "dain", "records": [{"method": "global_mean", "dataset": "lowrank", "seed": 0, "metrics": {}},'
            ' {"method": "global_mean", "dataset": "lowrank", "seed": 0, "metrics": {}}]}',
            "more than one row",
        ),
        (
            '{"benchmark": "dain", "records": [{"method": "m", "dataset": "d", "seed": 0, "metrics": {}, "x": 1}]}',
            "unknown field(s) ['x']",
        ),
        (
            '{"benchmark": "dain", "records": [{"method": "m", "dataset": "d", "seed": "0", "metrics": {}}]}',
            "seed must be an integer",
        ),
        ('{"benchmark": "dain", "records": [{"method": "m", "dataset": "d", "seed": 0}]}', "lacks ['metrics']"),
    ],
)
def test_resume_on_a_corrupt_results_file_is_an_error_and_keeps_it(tmp_path, capsys, no_job, content, match):
    out = tmp_path / "r.json"
    out.write_text(content)
    assert main(DAIN + ["--methods", "global_mean", "--resume", "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert str(out) in line and match in line
    assert out.read_text() == content
    with pytest.raises(CorruptFileError):
        bench.prepare_out(out, None, benchmark="dain", resume=True, overwrite=False)


def test_resume_on_another_benchmarks_file_is_refused(tmp_path, capsys, no_job):
    out = tmp_path / "r.json"
    save_records([_fake_row("GCN", "Cora", 0, 0.8)], out, benchmark="lagnn")
    before = out.read_bytes()
    assert main(DAIN + ["--methods", "global_mean", "--resume", "--out", str(out)]) == 2
    assert "holds 'lagnn' results, not 'dain'" in _error_line(capsys)
    assert out.read_bytes() == before
    with pytest.raises(ResultsExistError):
        bench.prepare_out(out, None, benchmark="dain", resume=True, overwrite=False)


# -- 2. unwritable --out -----------------------------------------------------------------
def _unwritable(tmp_path: Path) -> list[Path]:
    (tmp_path / "file").write_text("x")
    paths = [tmp_path / "file" / "r.json"]  # a "folder" that is a file
    if Path("/proc").is_dir():
        paths.append(Path("/proc/structaug-x.json"))
    if os.geteuid() != 0:  # root writes into read-only folders
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
        paths.append(ro / "r.json")
    return paths


def test_unwritable_out_fails_before_the_first_job(tmp_path, capsys, no_job):
    for out in _unwritable(tmp_path):
        assert main(DAIN + ["--methods", "global_mean", "--out", str(out)]) == 2
        line = _error_line(capsys)
        assert f"--out {out} is not writable" in line
    (tmp_path / "d.json").mkdir()
    assert main(DAIN + ["--methods", "global_mean", "--out", str(tmp_path / "d.json")]) == 2
    assert "is a folder" in _error_line(capsys)


@pytest.mark.parametrize("method, flag", [("mclrec", "--checkpoint-dir"), ("llmrec", "--llm-cache")])
def test_unwritable_side_files_fail_before_the_first_job(tmp_path, capsys, no_job, method, flag):
    (tmp_path / "file").write_text("x")
    bad = tmp_path / "file" / "sub"
    assert main(["bench", method, flag, str(bad), "--out", str(tmp_path / "r.json")]) == 2
    assert f"{flag} {bad} is not writable" in _error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_demo_json_is_checked_before_the_tour(tmp_path, capsys, monkeypatch):
    import structaug.demo as demo

    monkeypatch.setattr(demo, "run_demo", lambda *a, **k: pytest.fail("the tour started"))
    (tmp_path / "file").write_text("x")
    assert main(["demo", "--sections", "baseline", "--json", str(tmp_path / "file" / "d.json")]) == 2
    assert "--json" in _error_line(capsys)


# -- 3. user errors: one line, exit code 2, before any job -------------------------------
BAD_NAMES = [
    ("dain", ["--methods", "Bogus"], "--methods: unknown name(s) ['Bogus']", "global_mean"),
    ("lagnn", ["--methods", "Bogus"], "--methods: unknown name(s) ['Bogus']", "LA-GCN"),
    ("mclrec", ["--methods", "Bogus"], "--methods: unknown name(s) ['Bogus']", "MCLRec"),
    ("tabular", ["--methods", "Bogus"], "--methods: unknown name(s) ['Bogus']", "HyperTab"),
    ("llmrec", ["--methods", "Bogus"], "--methods: unknown name(s) ['Bogus']", "MF-BPR"),
    ("dain", ["--datasets", "nope"], "--datasets: unknown name(s) ['nope']", "lowrank"),
    ("lagnn", ["--datasets", "nope"], "--datasets: unknown name(s) ['nope']", "CiteSeer"),
    ("mclrec", ["--datasets", "nope"], "--datasets: unknown name(s) ['nope']", "Beauty"),
    ("tabular", ["--datasets", "nope"], "--datasets: unknown name(s) ['nope']", "sk_iris"),
    ("llmrec", ["--datasets", "nope"], "--datasets: unknown name(s) ['nope']", "ml-100k"),
    ("llmrec", ["--datasets", "movielens100k"], "--datasets: unknown name(s) ['movielens100k']", "ml-100k"),
    # empty lists and repeats (a repeat would run, and be recorded, twice)
    ("dain", ["--datasets", ","], "--datasets ',' names nothing", ""),
    ("dain", ["--datasets", "lowrank,lowrank"], "--datasets: ['lowrank'] given more than once", ""),
    ("lagnn", ["--methods", "GCN,GCN"], "--methods: ['GCN'] given more than once", ""),
    ("mclrec", ["--methods", ""], "--methods '' names nothing", ""),
    ("llmrec", ["--methods", ";"], "--methods ';' names nothing", ""),
    ("lagnn", ["--datasets", "cora,CORA"], "--datasets: ['CORA', 'cora'] given more than once", ""),
    # a flag combination and environment checks
    ("dain", ["--data-dir", "/no/such/folder"], "--data-dir /no/such/folder is not a folder", ""),
    ("dain", ["--out", "r.md"], "--out must be a .json path", ""),
    ("mclrec", ["--quick", "--epochs", "5"], "--epochs 5 with --quick", ""),  # not silently capped at 1
    ("lagnn", ["--num-neighbors", "5,5"], "--num-neighbors samples mini-batches: give --batch-size", ""),
]


@pytest.mark.parametrize("method, flags, message, listed", BAD_NAMES)
def test_bad_names_are_one_line_errors_before_any_job(tmp_path, capsys, no_job, method, flags, message, listed):
    argv = ["bench", method, "--out", str(tmp_path / "r.json")] + flags
    assert main(argv) == 2
    line = _error_line(capsys)
    assert message in line and listed in line
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_bench_validate_hooks_accept_the_documented_spellings():
    """Valid input the checks must not reject: case-insensitive graph and sequence names."""
    lagnn, mclrec = load_benchmark("lagnn"), load_benchmark("mclrec")
    lagnn.validate(BenchConfig(datasets=["cora", "CitationFull-Cora", "Cora_ML", "computers"]))
    mclrec.validate(BenchConfig(datasets=["beauty", "Sports", "Toys_and_Games"]))
    with pytest.raises(InvalidParameterError, match="--datasets"):
        mclrec.validate(BenchConfig(datasets=["NoSuchSet"]))


def test_cuda_without_cuda_is_an_error(capsys, no_job, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["bench", "dain", "--device", "cuda", "--out", str(tmp_path / "r.json")]) == 2
    assert "--device cuda" in _error_line(capsys)
    assert main(["demo", "--sections", "baseline", "--device", "cuda"]) == 2
    assert "--device cuda" in _error_line(capsys)


def test_demo_unknown_section_is_a_one_line_error(capsys):
    assert main(["demo", "--sections", "bogus"]) == 2
    assert "--sections: unknown name(s) ['bogus']" in _error_line(capsys)


def test_user_error_from_the_shell_has_no_traceback(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "STRUCTAUG_PROGRESS": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "structaug", "bench", "dain", "--methods", "Bogus", "--out", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("structaug: error: --methods: unknown name(s) ['Bogus']")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_real_bug_keeps_its_traceback(tmp_path, monkeypatch):
    def bug(cfg):
        raise RuntimeError("a bug, not a user error")

    monkeypatch.setattr(load_benchmark("dain"), "jobs", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        main(DAIN + ["--out", str(tmp_path / "r.json")])


# -- 4. settings: honoured or rejected ---------------------------------------------------
BAD_VALUES = [
    ("mclrec", "--epochs", "0"),
    ("mclrec", "--lr", "0"),
    ("mclrec", "--lr", "nan"),
    ("mclrec", "--lr", "inf"),
    ("mclrec", "--batch-size", "0"),
    ("mclrec", "--patience", "0"),
    ("mclrec", "--max-users", "0"),
    ("mclrec", "--max-minutes", "-1"),
    ("mclrec", "--epochs", "abc"),
    ("llmrec", "--lr", "0"),
    ("llmrec", "--batch-size", "0"),
    ("llmrec", "--max-epochs", "0"),
    ("llmrec", "--patience", "-2"),
    ("dain", "--epochs", "0"),
    ("dain", "--patience", "0"),
    ("dain", "--aug-ratio", "0"),
    ("dain", "--aug-ratio", "nan"),
    ("dain", "--ranks", "0"),
    ("dain", "--ranks", "2,x"),
    ("dain", "--ranks", "2,2"),
    ("dain", "--tensor-iters", "0"),
    ("dain", "--hidden-sizes", "0"),
    ("dain", "--hidden-sizes", "64,x"),
    ("dain", "--hidden-sizes", ","),
    ("dain", "--factor-rank", "-1"),
    ("dain", "--factor-reg", "-0.1"),
    ("lagnn", "--max-epochs", "0"),
    ("lagnn", "--patience", "0"),
    ("lagnn", "--cvae-epochs", "0"),
    ("lagnn", "--num-models", "0"),
    ("lagnn", "--uscore-every", "0"),
    ("lagnn", "--batch-size", "0"),
    ("lagnn", "--num-neighbors", "0,5"),
    ("lagnn", "--num-neighbors", "5,x"),
    ("lagnn", "--num-neighbors", ","),
    ("tabular", "--folds", "1"),
    ("tabular", "--hypertab-epochs", "0"),
    ("tabular", "--hypertab-views", "0"),
    ("tabular", "--tjepa-epochs", "0"),
    ("tabular", "--max-train-rows", "0"),
    ("tabular", "--folds", "2.5"),
    ("dain", "--workers", "0"),
    ("tabular", "--workers", "-1"),
    ("dain", "--seeds", "-1"),
    ("dain", "--seeds", "0,-1"),
    ("dain", "--seeds", "1,1"),
    ("dain", "--seeds", "3-1"),
]


@pytest.mark.parametrize("method, flag, value", BAD_VALUES)
def test_bad_setting_values_are_argparse_errors_naming_the_flag(capsys, no_job, method, flag, value):
    with pytest.raises(SystemExit) as exc:
        main(["bench", method, flag, value])
    assert exc.value.code == 2
    assert f"argument {flag}: " in capsys.readouterr().err


def test_resume_and_overwrite_together_are_refused(capsys, no_job):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "dain", "--resume", "--overwrite"])
    assert exc.value.code == 2 and "--overwrite: not allowed with argument --resume" in capsys.readouterr().err
    with pytest.raises(InvalidParameterError, match="give one"):
        bench.prepare_out(Path("x.json"), None, benchmark="dain", resume=True, overwrite=True)


def _settings_of(method: str, *flags: str, quick: bool = False) -> dict:
    args = build_parser().parse_args(["bench", method, *flags])
    return load_benchmark(method)._settings(BenchConfig(quick=quick, extra=vars(args)))


def test_explicit_settings_are_honoured():
    """Regression: `x or default` turned explicit values into defaults."""
    s = _settings_of("mclrec", "--epochs", "7", "--lr", "0.5", "--batch-size", "3")
    assert (s["epochs"], s["lr"], s["batch_size"]) == (7, 0.5, 3)
    s = _settings_of("mclrec")
    assert (s["epochs"], s["lr"], s["batch_size"], s["max_users"]) == (300, 1e-3, 256, None)
    s = _settings_of("mclrec", "--max-users", "50", quick=True)
    assert (s["epochs"], s["max_users"]) == (1, 50)  # --quick: at most one epoch (documented); max-users kept
    s = _settings_of("dain", "--aug-ratio", "0.25", "--ranks", "3", "--tensor-iters", "4", "--epochs", "2")
    assert (s["aug_ratio"], s["ranks"], s["tensor_iters"], s["epochs"]) == (0.25, [3], 4, 2)
    tab = load_benchmark("tabular")
    assert tab._budget({"hypertab_epochs": 1, "tjepa_epochs": 1, "hypertab_views": 2}, True) == {
        "hypertab_epochs": 1,
        "hypertab_views": 2,
        "hypertab_masks_per_step": 25,  # the estimator's defaults, recorded as used
        "hypertab_lr": "auto",
        "hypertab_hidden_layers": 1,
        "hypertab_patience": None,
        "hypertab_batch_size": 128,
        "tjepa_epochs": 1,
        "tjepa_encoder": "cpu",
    }
    # the budget reaches the estimator; a budget recorded before the batch option resumes with 128
    assert tab._hypertab("classification", 0, tab._budget({"hypertab_batch_size": 512}, True), "cpu").batch_size == 512
    old = {k: v for k, v in tab._budget({}, True).items() if k != "hypertab_batch_size"}
    assert tab._hypertab("regression", 0, old, "cpu").batch_size == 128
    # --hypertab-lr reaches the estimator; without it the estimator's own default stays
    assert tab._hypertab("classification", 0, tab._budget({"hypertab_lr": 0.01}, False), "cpu").lr == 0.01
    assert tab._hypertab("regression", 0, tab._budget({}, False), "cpu").lr == HyperTabRegressor().lr
    assert vars(build_parser().parse_args(["bench", "tabular", "--hypertab-lr", "0.002"]))["hypertab_lr"] == 0.002
    # the target-network depth and early stopping reach the estimator too
    est = tab._hypertab(
        "classification", 0, tab._budget({"hypertab_hidden_layers": 1, "hypertab_patience": 7}, False), "cpu"
    )
    assert (est.n_hidden_layers, est.patience) == (1, 7)
    args = vars(
        build_parser().parse_args(["bench", "tabular", "--hypertab-hidden-layers", "1", "--hypertab-patience", "5"])
    )
    assert (args["hypertab_hidden_layers"], args["hypertab_patience"]) == (1, 5)
    # a budget recorded before those options existed resumes with the values of then (2 layers, no early stopping)
    old = {k: v for k, v in tab._budget({}, False).items() if k not in ("hypertab_hidden_layers", "hypertab_patience")}
    est = tab._hypertab("classification", 0, old, "cpu")
    assert (est.n_hidden_layers, est.patience) == (2, None)


def test_quick_does_not_override_explicit_seeds_or_folds(tmp_path, monkeypatch):
    """Regression: --quick silently ran one seed and 2 folds whatever --seeds/--folds said."""
    tab = load_benchmark("tabular")
    calls = []

    def run_job(job, cfg):
        calls.append((job.seed, job.config["folds"]))
        return [Record(job.methods[0], job.dataset, job.seed, {"accuracy": 1.0, "balanced_accuracy": 1.0})]

    monkeypatch.setattr(tab, "run_job", run_job)
    monkeypatch.setattr(tab, "report", lambda records, out: None)  # fake rows: the suite's report needs real ones
    base = ["bench", "tabular", "--quick", "--datasets", "sk_iris", "--methods", "LogisticRegression", "--no-progress"]
    assert main(base + ["--seeds", "0-2", "--folds", "5", "--out", str(tmp_path / "a.json")]) == 0
    assert main(base + ["--out", str(tmp_path / "b.json")]) == 0  # --quick's defaults: one seed, 2 folds
    assert calls == [(0, 5), (1, 5), (2, 5), (0, 2)]


# -- 5. file modes -----------------------------------------------------------------------
def test_results_files_get_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        out = save_records([_fake_row("A", "d", 0, 1.0)], tmp_path / "r.json", benchmark="x")
    finally:
        os.umask(old)
    for p in (out, out.with_suffix(".md")):
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~0o027 == 0o640


# -- 6. fault suite: SIGKILL, resume, corrupt files -------------------------------------
ROWS = ["--methods", "global_mean,entity_mean", "--seeds", "0-2"]


def _killed_child(out: str, rows_before_kill: int) -> None:  # pragma: no cover - runs in the child
    """Run the benchmark; after ``rows_before_kill`` rows are on disk, wait to be killed."""
    import structaug.bench._runner as runner

    real = runner._write_partial

    def write(path, rows):
        real(path, rows)
        if len(rows) >= rows_before_kill:
            time.sleep(60)

    runner._write_partial = write
    try:
        main(DAIN + ROWS + ["--out", out])
    finally:
        os._exit(0)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run's records."""
    out = tmp_path_factory.mktemp("ref") / "ref.json"
    before = os.environ.get("STRUCTAUG_PROGRESS")
    os.environ["STRUCTAUG_PROGRESS"] = "0"
    try:
        assert main(DAIN + ROWS + ["--out", str(out)]) == 0
    finally:  # leave the other test modules the environment they started with
        if before is None:
            os.environ.pop("STRUCTAUG_PROGRESS", None)
        else:
            os.environ["STRUCTAUG_PROGRESS"] = before
    rows = load_records(out)
    assert len(rows) == 6 and all(r["status"] == "ok" and math.isfinite(r["metrics"]["rmse"]) for r in rows)
    return rows


@pytest.mark.skipif(sys.platform != "linux", reason="fork + SIGKILL")
def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path, capsys, reference):
    out = tmp_path / "r.json"
    partial = tmp_path / "r.partial.jsonl"
    child = multiprocessing.get_context("fork").Process(target=_killed_child, args=(str(out), 2))
    child.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not partial.exists() or partial.read_text().count("\n") < 2):
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL  # killed mid-run, not finished
    assert partial.read_text().count("\n") == 2 and not out.exists()
    # a plain rerun refuses (those rows are another run's); --resume finishes the job
    capsys.readouterr()
    assert main(DAIN + ROWS + ["--out", str(out)]) == 2
    assert "--resume" in _error_line(capsys) and partial.read_text().count("\n") == 2
    assert main(DAIN + ROWS + ["--resume", "--out", str(out)]) == 0
    rows = load_records(out)
    assert len(rows) == 6  # none lost, none twice
    assert _strip(rows) == _strip(reference)
    assert not partial.exists()  # every row is in --out now


def test_truncated_last_partial_line_is_dropped_and_rerun(tmp_path, reference):
    out = tmp_path / "r.json"
    partial = tmp_path / "r.partial.jsonl"
    lines = [json.dumps(r) for r in reference[:3]]
    partial.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][: len(lines[2]) // 2])  # killed mid-append
    with pytest.warns(RuntimeWarning, match="dropped an unfinished last line"):
        assert main(DAIN + ROWS + ["--resume", "--out", str(out)]) == 0
    rows = load_records(out)
    assert len(rows) == 6 and _strip(rows) == _strip(reference)


def test_partial_file_edge_cases(tmp_path):
    row = json.dumps({"method": "m", "dataset": "d", "seed": 0, "metrics": {}})
    p = tmp_path / "p.jsonl"
    p.write_text(row)  # a whole record whose newline was never written: kept, and the file made appendable
    assert [r["method"] for r in bench.read_partial(p)] == ["m"] and p.read_text() == row + "\n"
    p.write_text(row + "\n\n")  # blank lines are fine
    assert len(bench.read_partial(p)) == 1
    p.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(CorruptFileError, match="not a text file"):
        bench.read_partial(p)
    assert p.read_bytes() == b"\xff\xfe garbage"


def test_garbage_inside_the_partial_file_is_corrupt_and_kept(tmp_path, capsys, reference):
    out = tmp_path / "r.json"
    partial = tmp_path / "r.partial.jsonl"
    text = json.dumps(reference[0]) + "\n" + "}{ not json\n" + json.dumps(reference[1]) + "\n"
    partial.write_text(text)
    assert main(DAIN + ROWS + ["--resume", "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert str(partial) in line and "line 2" in line
    assert partial.read_text() == text and not out.exists()
    with pytest.raises(CorruptFileError):
        bench.read_partial(partial)


def test_python_run_never_replaces_results_it_did_not_write(tmp_path):
    """The rule holds below the CLI too: ``run_benchmark`` (and each module's ``run``) refuses an
    ``out`` (or its partial file) that this run did not write unless ``resume``, before any job."""
    from structaug.exceptions import ResultsExistError

    dain = load_benchmark("dain")
    cfg = BenchConfig(datasets=["lowrank"], seeds=[0], extra={"methods": "global_mean"})
    for existing in ("r.json", "r.partial.jsonl"):
        folder = tmp_path / existing
        folder.mkdir()
        (folder / existing).write_text('{"benchmark": "dain", "records": []}')
        before = _snapshot(folder)
        with pytest.raises(ResultsExistError):
            dain.run(BenchConfig(**{**vars(cfg), "out": folder / "r.json"}))
        assert _snapshot(folder) == before
    fresh = BenchConfig(**{**vars(cfg), "out": tmp_path / "new.json"})
    assert [r.status for r in run_benchmark("dain", fresh)] == ["ok"]
    assert [r["seed"] for r in load_records(fresh.out)] == [0] and not (tmp_path / "new.partial.jsonl").exists()
    with pytest.raises(ResultsExistError):  # the same call again: that file is another run's now
        run_benchmark("dain", fresh)
    again = BenchConfig(**{**vars(fresh), "seeds": [0, 1], "resume": True})
    assert [(r.seed, r.fit_time == load_records(fresh.out)[0]["fit_time"]) for r in run_benchmark("dain", again)] == [
        (0, True),
        (1, False),
    ]  # seed 0 kept as it was, seed 1 run
    assert [r["seed"] for r in load_records(fresh.out)] == [0, 1]


def test_tabular_report_states_the_budget_the_rows_recorded(tmp_path):
    """The report prints the HyperTab/T-JEPA settings each row was run with, not the current
    estimator defaults for the flags a run left unset (a later default change would otherwise
    rewrite an old file's stated budget); rows merged from two runs show both values."""
    tab = load_benchmark("tabular")

    def row(method, seed, budget):
        return {
            "method": method,
            "dataset": "sk_iris",
            "seed": seed,
            "metrics": {"accuracy": 0.9, "balanced_accuracy": 0.9},
            "config": {"folds": 3, "budget": budget},
            "extra": {"track": "small", "n_rows": 150, "fit_cpu_time_per_fold": 1.0},
            "fit_time": 3.0,
            "predict_time": 0.1,
            "status": "ok",
        }

    old = {"hypertab_epochs": 50, "hypertab_views": 100, "tjepa_epochs": 30}  # before hidden layers were recorded
    new = {**old, "hypertab_epochs": 100, "hypertab_hidden_layers": 1}
    recs = [row("HyperTab", 0, old), row("HyperTab", 1, new), row("XGBoost", 0, {**old, "hypertab_epochs": 7})]
    assert tab._recorded_budget(recs) == {
        "hypertab_epochs": [50, 100],
        "hypertab_hidden_layers": 1,
        "hypertab_views": 100,
    }
    out = tmp_path / "t.json"
    out.write_text(json.dumps({"environment": {}, "config": {"seeds": [0, 1], "extra": {}}, "records": recs}))
    tab.report(recs, out)
    md = out.with_suffix(".md").read_text()
    assert "budget={'hypertab_epochs': [50, 100], 'hypertab_hidden_layers': 1, 'hypertab_views': 100}" in md
    assert tab._recorded_budget([row("XGBoost", 0, old)]) == {}  # no HyperTab/T-JEPA rows: the flags' budget
