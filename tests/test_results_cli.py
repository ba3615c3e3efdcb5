"""Results records and the command line."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from structaug.cli import build_parser, main, parse_seeds
from structaug.results import Record, environment, load_records, save_records, summarize


def test_save_records_writes_json_and_markdown(tmp_path):
    recs = [Record("A", "d", s, {"acc": 0.5 + 0.1 * s}, config={"lr": 1}, fit_time=1.0) for s in range(3)]
    recs.append(Record("B", "d", 0, {}, status="error", error="boom"))
    out = save_records(recs, tmp_path / "r.json", benchmark="toy", config={"x": 1})
    payload = json.loads(out.read_text())
    assert payload["benchmark"] == "toy" and "versions" in payload["environment"]
    assert payload["environment"]["device_name"]
    assert len(load_records(out)) == 4
    md = (tmp_path / "r.md").read_text()
    assert "0.6000 ± 0.1000" in md and "| d | A | 3 |" in md


def test_summarize_skips_failed_records():
    df = summarize([{"method": "A", "dataset": "d", "seed": 0, "metrics": {"m": 1.0}, "status": "error"}])
    assert df.empty


def test_environment_has_versions():
    env = environment()
    assert env["versions"]["torch"] and env["device"] in ("cpu", "cuda")


def test_parse_seeds():
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("0,5,7") == [0, 5, 7]
    assert parse_seeds("2-4") == [2, 3, 4]
    assert parse_seeds("0-0") == [0]
    for bad, msg in [
        ("x", "takes N"),
        ("5-2", "is empty"),
        (",", "names no seed"),
        ("0", "N >= 1"),
        ("-1", "N >= 1"),
        ("0,-1", "must be >= 0"),
        ("1,1", "repeats a seed"),
        ("-2-1", "takes N"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError, match=msg):
            parse_seeds(bad)


def test_bench_help_lists_common_flags(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "tabular", "--help"])
    out = capsys.readouterr().out
    for flag in ("--data-dir", "--datasets", "--seeds", "--device", "--quick", "--out", "--resume", "--overwrite"):
        assert flag in out
    assert "structaug-results/<method>[_quick].json" in "".join(out.split())  # the default --out


def test_datasets_command(capsys):
    assert main(["datasets"]) == 0
    assert "data roots searched" in capsys.readouterr().out


def test_demo_baseline_section(capsys, tmp_path):
    assert main(["demo", "--sections", "baseline", "--quick", "--json", str(tmp_path / "d.json")]) == 0
    payload = json.loads((tmp_path / "d.json").read_text())
    assert payload["benchmark"] == "demo" and payload["config"]["sections"] == ["baseline"]
    assert {"device", "versions", "git_commit"} <= set(payload["environment"])
    rows = payload["rows"]
    by_model = {r["model"]: r["value"] for r in rows}
    assert by_model["MLP (shared trainer)"] > 0.9 and by_model["XGBoost"] > 0.9  # far above chance (0.63)
    assert "XGBoost" in capsys.readouterr().out


def test_demo_rejects_unknown_section(capsys):
    # a user error: one line naming the flag and the valid sections, exit code 2, no traceback
    assert main(["demo", "--sections", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("structaug: error: --sections: unknown name(s) ['nope']") and "'baseline'" in err
    assert "Traceback" not in err
    from structaug.demo import run_demo
    from structaug.exceptions import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="sections: unknown"):
        run_demo(["nope"])


def test_demo_every_section_quick(tmp_path):
    """The README's main command, on the quick budget: every family contributes its rows."""
    assert main(["demo", "--quick", "--device", "cpu", "--json", str(tmp_path / "d.json")]) == 0
    rows = json.loads((tmp_path / "d.json").read_text())["rows"]
    families = {r["family"] for r in rows}
    assert families == {"table", "graph", "sequence", "tensor", "recsys"}
    assert all(r["value"] == r["value"] for r in rows)  # no NaN


def test_peak_memory_resets_per_job():
    import mmap
    import os

    from structaug.results import peak_memory_mib, reset_peak_memory

    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("no /proc/self/clear_refs: the peak is the process's lifetime peak")

    def rss_mib():
        with open("/proc/self/status") as fh:
            line = next(x for x in fh if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    reset_peak_memory("cpu")
    base = peak_memory_mib("cpu")
    # fresh anonymous pages, not malloc's: an earlier test may have told glibc to keep freed heap
    block = mmap.mmap(-1, 40 * 2**20)
    block.write(b"\x01" * len(block))  # touch every page
    high = peak_memory_mib("cpu")
    assert high >= base + 30
    block.close()
    reset_peak_memory("cpu")  # a new job starts from what the process holds now
    assert abs(peak_memory_mib("cpu") - rss_mib()) < 8


def test_merge_gpu_results_prefers_ok_rows(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "merge_gpu_results.py"
    spec = importlib.util.spec_from_file_location("merge_gpu_results", path)
    merge = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(merge)
    env = {"device_name": "test", "git_commit": "abc"}
    row = {"method": "GCN", "dataset": "Cora", "seed": 0}
    (tmp_path / "a.json").write_text(
        json.dumps({"environment": env, "records": [{**row, "metrics": {}, "status": "error", "error": "killed"}]})
    )
    (tmp_path / "b.json").write_text(
        json.dumps(
            {
                "environment": env,
                "records": [
                    {**row, "metrics": {"test_acc": 0.8}, "status": "ok"},
                    {**row, "seed": 1, "metrics": {"test_acc": 0.7}, "status": "ok"},
                ],
            }
        )
    )
    merge.main([str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(tmp_path / "m.json")])
    merged = json.loads((tmp_path / "m.json").read_text())
    assert [(r["seed"], r["status"]) for r in merged["records"]] == [(0, "ok"), (1, "ok")]
    assert merged["benchmark"] == "m"  # the inputs name no benchmark: the file's stem
    # each source names the rows it contributed (b's ok row replaced a's failed one)
    assert [s["rows"] for s in merged["sources"]] == [[], [["GCN", "Cora", 0], ["GCN", "Cora", 1]]]
    # --report appends the benchmark's own summary to the merged markdown
    merge.main(
        [str(tmp_path / "b.json"), "--out", str(tmp_path / "r.json"), "--report", "lagnn", "--metrics", "test_acc"]
    )
    assert "| GCN | 75.0 ± 7.1 (n=2) | 81.5 |" in (tmp_path / "r.md").read_text()
    # inputs of one benchmark keep its name (so --resume and verify_results.py accept the file)
    for name in ("a", "b"):
        payload = json.loads((tmp_path / f"{name}.json").read_text())
        (tmp_path / f"{name}.json").write_text(json.dumps({**payload, "benchmark": "lagnn"}))
    merge.main([str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(tmp_path / "n.json")])
    assert json.loads((tmp_path / "n.json").read_text())["benchmark"] == "lagnn"


def test_peak_memory_above_start_sees_a_block_allocation():
    from structaug.results import peak_memory_above_start

    size = 256 * 2**20
    with peak_memory_above_start() as mem:
        # written byte by byte (a zero-filled bytearray may come from calloc'd pages that are
        # never touched, hence never resident)
        block = np.ones(size, dtype=np.uint8)
        del block
    if mem.mib is None:  # off Linux: no VmRSS/VmHWM to read
        pytest.skip("resident-memory peak not readable here")
    # the kernel's RSS counters are per-CPU and read approximately (off by up to tens of MiB on
    # a many-core host), so the bound leaves 64 MiB of slack below the 256 MiB written
    assert mem.mib >= 192


def _child_view(tag: str) -> dict:
    """What a fresh process sees (run by test_in_fresh_process_...)."""
    import os

    return {"tag": tag, "pid": os.getpid(), "threads": os.environ.get("OMP_NUM_THREADS")}


def _child_fails() -> None:
    raise ValueError("boom in the child")


def test_in_fresh_process_runs_in_a_new_interpreter_and_reports_its_errors(monkeypatch):
    import os

    from structaug.results import in_fresh_process

    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    got = in_fresh_process(_child_view, "a", threads=1)
    assert got["tag"] == "a" and got["pid"] != os.getpid() and got["threads"] == "1"
    assert os.environ["OMP_NUM_THREADS"] == "7"  # this process's setting is back
    assert in_fresh_process(_child_view, "b")["threads"] == "7"  # without threads=: inherited
    with pytest.raises(ValueError, match="boom in the child"):
        in_fresh_process(_child_fails)


def test_alternating_runs_reverse_the_order_on_odd_repeats(capsys):
    from structaug.results import alternating_runs

    calls = []

    def run(side, seed):
        calls.append((side, seed))
        return {"t": len(calls)}

    runs = alternating_runs(["ref", "ours"], 3, 5, run, lambda side, seed, r: f"{side} {seed} {r['t']}")
    assert calls == [("ref", 5), ("ours", 5), ("ours", 6), ("ref", 6), ("ref", 7), ("ours", 7)]
    assert runs[2] == {"side": "ours", "seed": 6, "t": 3}
    assert capsys.readouterr().out.splitlines()[3] == "ref 6 4"


def test_step_clock_ends_the_loop_after_the_timed_window_and_returns_its_gaps():
    from structaug.results import StepClock

    clock = StepClock(warmup=2, steps=3)
    started = 0
    with pytest.raises(StepClock.Enough):
        for _ in range(100):
            clock()
            started += 1
    assert started == 5 and len(clock.wall) == 6 == len(clock.cpu)  # the 6th start ends the loop
    wall, cpu = clock.gaps_ms(10)
    assert len(wall) == len(cpu) == 5 and all(g >= 0 for g in wall + cpu)
    assert wall[-1] == pytest.approx(1e3 * (clock.wall[-1] - clock.wall[-2]))
    t = clock.timing(10, per_epoch_ms=7.0)  # the timed window only, warm-up apart
    assert t["warmup_ms"] == wall[:2] and t["step_ms"] == wall[2:] and t["steps_per_epoch"] == 10
    assert t["ms_per_step"] == pytest.approx(sum(wall[2:]) / 3) and t["cpu_ms_per_step"] == pytest.approx(
        sum(cpu[2:]) / 3
    )
    assert t["median_ms_per_step"] == sorted(wall[2:])[1]
    assert t["epoch_s_extrapolated"] == pytest.approx((10 * t["ms_per_step"] + 7.0) / 1e3)
    short = StepClock(warmup=2, steps=3)
    for _ in range(4):  # the loop ended (an epoch of 4 batches) before the window did
        short()
    with pytest.raises(RuntimeError, match="after 4 steps of its 4 batches, before 2 warm-up \\+ 3 timed"):
        short.gaps_ms(4)


def test_files_digest_is_the_hash_of_the_bytes_in_the_order_given(tmp_path):
    import hashlib

    from structaug.results import files_digest

    (tmp_path / "a.py").write_bytes(b"alpha\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_bytes(b"beta\n")
    d = files_digest(tmp_path, ["a.py", "sub/b.py"])
    assert d == hashlib.sha256(b"alpha\nbeta\n").hexdigest()[:16]  # the digests committed results recorded
    assert files_digest(tmp_path, ["sub/b.py", "a.py"]) != d  # order is part of it
    (tmp_path / "a.py").write_bytes(b"alpha!\n")
    assert files_digest(tmp_path, ["a.py", "sub/b.py"]) != d  # an edit changes it
    with pytest.raises(FileNotFoundError):
        files_digest(tmp_path, ["missing.py"])
