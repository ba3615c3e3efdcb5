"""The stand-alone scripts in benchmarks/ never replace results they did not write.

Each script's ``--out`` defaults to ``structaug-results/<name>.json`` under the current folder
(not the committed ``benchmarks/results/``) and refuses an existing output, or a file it writes
beside it, unless ``--overwrite`` is given: one ``error:`` line, exit code 2, before any work.
"""

from __future__ import annotations

import argparse
import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from structaug.bench import DEFAULT_OUT_DIR, add_out_arguments, claim_out

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = {  # script -> (the files it writes beside --out, extra argv it needs to parse)
    "run_dain_placement.py": ((".md",), []),
    "run_dain_reference.py": ((".md",), ["--reference", "ref"]),
    "run_dain_scaling.py": ((".md", ".png"), []),
    "run_hypertab_reference.py": ((".md",), []),
    "run_hypertab_schedules.py": ((".md",), []),
    "run_hypertab_variants.py": ((".md",), []),
    "run_lagnn_reference.py": ((".md",), ["--reference", "ref"]),
    "run_lagnn_scaling.py": ((".md", ".png"), []),
    "run_lightgcn_scaling.py": ((".md", ".png"), []),
    "run_llmrec_reference.py": ((".md",), ["--reference", "ref"]),
    "run_mclrec_epoch_time.py": ((".md",), []),
    "run_mclrec_opcount.py": ((), []),
    "run_mclrec_reference.py": ((".md",), ["--reference", "ref"]),
    "run_mclrec_stage_time.py": ((".md",), []),
    "run_ray_backend.py": ((".md",), []),
    "run_tabular_large.py": ((".md",), []),
    "run_tjepa_medium.py": ((".md",), []),
    "run_tjepa_reference.py": ((".md",), ["--reference", "ref"]),
    "merge_gpu_results.py": ((".md",), ["in.json"]),
}


def _run(script: str, argv: list[str], monkeypatch) -> int:
    monkeypatch.setattr(sys, "argv", [script] + argv)
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(BENCH / script), run_name="__main__")
    return exc.value.code


def test_every_script_writing_results_is_checked_here():
    writers = {f.name for f in BENCH.glob("*.py") if "add_out_arguments(" in f.read_text()}
    assert writers == set(SCRIPTS)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_script_refuses_existing_results_before_any_work(script, tmp_path, monkeypatch, capsys):
    side, extra = SCRIPTS[script]
    monkeypatch.chdir(tmp_path)
    for name, suffix in [("res", ".json")] + [(f"side{s}", s) for s in side]:
        out = tmp_path / f"{name.split('.')[0]}.json"
        target = out.with_suffix(suffix)
        target.write_bytes(b"committed results \x00\x01")
        assert _run(script, extra + ["--out", str(out)], monkeypatch) == 2
        err = capsys.readouterr().err
        assert "already exist(s)" in err and "--overwrite" in err and str(target) in err
        assert target.read_bytes() == b"committed results \x00\x01"
        # only the refused file is there: the script wrote nothing (no default out folder either)
        assert [p.name for p in tmp_path.iterdir()] == [target.name]
        target.unlink()


@pytest.mark.parametrize("script", sorted(s for s in SCRIPTS if s != "merge_gpu_results.py"))
def test_script_default_out_is_not_the_committed_results_folder(script):
    text = (BENCH / script).read_text()
    assert 'default="benchmarks/results' not in text and 'Path("benchmarks/results' not in text
    assert re.search(r"add_out_arguments\((p|parser),", text) and re.search(r"claim_out\((p|parser),", text)


def test_claim_out_overwrite_and_unwritable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = argparse.ArgumentParser(prog="s")
    add_out_arguments(p, "thing", side_suffixes=(".md", ".png"))
    args = p.parse_args([])
    assert args.out == Path(DEFAULT_OUT_DIR) / "thing.json" and not args.overwrite
    assert claim_out(p, args) == Path(DEFAULT_OUT_DIR) / "thing.json"  # nothing there yet
    (tmp_path / "r.png").write_text("plot")
    with pytest.raises(SystemExit):
        claim_out(p, p.parse_args(["--out", "r.json"]))
    assert claim_out(p, p.parse_args(["--out", "r.json", "--overwrite"])) == Path("r.json")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit):  # a folder that is a file: not writable, refused up front
        claim_out(p, p.parse_args(["--out", str(blocker / "r.json")]))


def test_write_script_results_writes_json_and_markdown_with_provenance(tmp_path):
    import json

    from structaug.bench import markdown_header, write_script_results
    from structaug.results import environment

    env = environment("cpu")
    lines = markdown_header("A title", env) + ["", "body"]
    assert lines[0] == "# A title"
    assert f"Device: {env['device_name']}  " in lines and f"Commit: {env['git_commit']}  " in lines
    out = tmp_path / "sub" / "r.json"
    out.parent.mkdir()
    write_script_results(out, {"benchmark": "x", "environment": env, "rows": [1]}, "\n".join(lines))
    assert json.loads(out.read_text())["rows"] == [1]
    assert out.with_suffix(".md").read_text() == "\n".join(lines) + "\n"  # one final newline
    write_script_results(tmp_path / "j.json", {"rows": []})  # JSON only: no markdown beside it
    assert not (tmp_path / "j.md").exists() and not list(tmp_path.glob("*.tmp*"))


def test_hypertab_schedules_summary_pairs_rows_with_the_first_schedule(tmp_path, capsys):
    mod = runpy.run_path(str(BENCH / "run_hypertab_schedules.py"))
    parsed = mod["parse_schedules"]("25:auto,1:3e-4,50,25:auto:512,100:auto:1024:10,25:auto::5")
    assert parsed == [
        (25, "auto", None, None),
        (1, 3e-4, None, None),
        (50, "auto", None, None),
        (25, "auto", 512, None),
        (100, "auto", 1024, 10),
        (25, "auto", None, 5),
    ]
    assert mod["label"](100, "auto", 1024, 10) == "HyperTab (100 masks/step, lr auto, batch 1024, patience 10)"
    a, b = mod["label"](25, "auto"), mod["label"](1, 3e-4)
    assert (a, b) == ("HyperTab (25 masks/step, lr auto)", "HyperTab (1 masks/step, lr 0.0003)")
    assert mod["label"](25, "auto", 512) == "HyperTab (25 masks/step, lr auto, batch 512)"
    for bad in ("25:fast", "25:auto:big", "0:auto", "25:-1e-3", "25:auto:0", "25:auto:512:0", "25:auto::x"):
        with pytest.raises(SystemExit):
            mod["main"](["--schedules", bad, "--out", str(tmp_path / "s.json")])
        assert "--schedules" in capsys.readouterr().err and not (tmp_path / "s_runs").exists()

    def row(method, ds, seed, metrics, cpu=1.0):
        extra = {"fit_cpu_time_per_fold": cpu}
        return {"method": method, "dataset": ds, "seed": seed, "status": "ok", "metrics": metrics,
                "extra": extra, "config": {"folds": 3}}  # fmt: skip

    recs = [row(a, "t", s, {"balanced_accuracy": 0.8}) for s in range(3)]
    recs += [row(b, "t", s, {"balanced_accuracy": v}, cpu=2.0) for s, v in enumerate([0.9, 0.8, 0.7])]
    recs += [row(a, "r", 0, {"rmse": 2.0}), row(b, "r", 0, {"rmse": 3.0})]
    first, second = mod["summarize"](recs, [a, b])
    assert first["gap_to_first"] == 0 and first["up_level_down"] == [0, 3, 0] and first["wilcoxon_p"] is None
    assert second["gap_to_first"] == pytest.approx(0.0) and second["up_level_down"] == [1, 1, 1]
    assert second["mean_balanced_accuracy"] == pytest.approx(0.8) and second["rmse"] == {"r": 3.0}
    assert (first["fit_cpu_s"], second["fit_cpu_s"]) == (12.0, 21.0)  # per-fold CPU x 3 folds, every row


def test_every_results_writer_opens_with_the_same_provenance_header(tmp_path):
    """save_records, the tabular suite's report and the stand-alone scripts say where and from
    which commit their numbers come in the same first lines (one function writes them)."""
    import json

    from structaug.bench import load_benchmark
    from structaug.results import Record, environment, markdown_header, save_records

    env = environment("cpu")
    rec = Record(method="m", dataset="d", seed=0, metrics={"accuracy": 0.5})
    out = save_records([rec], tmp_path / "a.json", benchmark="toy")
    assert out.with_suffix(".md").read_text().splitlines()[:4] == markdown_header("toy", env)
    tab = load_benchmark("tabular")
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"environment": env, "config": {}, "records": []}))
    tab.report([], path)
    assert path.with_suffix(".md").read_text().splitlines()[:4] == markdown_header("tabular suite", env)


def test_reference_scripts_check_their_ref_deps_folder_before_any_work(tmp_path, capsys):
    import argparse

    from structaug.bench import check_ref_deps

    p = argparse.ArgumentParser()
    check_ref_deps(p, [None, tmp_path])  # an existing folder without torch, and no folder at all: fine
    with pytest.raises(SystemExit):
        check_ref_deps(p, [tmp_path / "missing"])
    assert "--ref-deps" in capsys.readouterr().err
    (tmp_path / "torch").mkdir()  # a second torch on the reference worker's path
    with pytest.raises(SystemExit):
        check_ref_deps(p, [tmp_path])
    assert "holds its own torch" in capsys.readouterr().err


def test_dain_placement_measures_where_cells_land_among_entities_by_training_count():
    from structaug.tensor import ObservedTensor

    mod = runpy.run_path(str(BENCH / "run_dain_placement.py"))
    # mode 0: entity 0 has 7 training cells, entities 1-3 one each, 4-9 none
    rows = [[0, 0]] * 7 + [[1, 0], [2, 0], [3, 0]]
    train = ObservedTensor(np.array(rows[:7], dtype=int) + np.array([[0, j] for j in range(7)]), np.ones(7), (10, 8))
    train = train.concat(ObservedTensor(np.array(rows[7:]), np.ones(3), (10, 8)))
    cells = ObservedTensor(np.array([[0, 7], [5, 1], [6, 1], [1, 7]]), np.ones(4), (10, 8))
    (users, _) = mod["placement"](cells, train, (10, 8))
    # top decile: count >= quantile(., 0.9) = entity 0 only; bottom quartile: count 0 (entities 4-9)
    assert users["top_decile_share"] == 0.25 and users["bottom_quartile_share"] == 0.5
    assert users["median_train_count"] == 0.5 and users["distinct_entities"] == 4


def test_script_command_names_the_script_and_the_arguments_it_ran_with(monkeypatch):
    from structaug.bench import script_command

    assert script_command(BENCH / "run_dain_placement.py", ["--seeds", "0,1"]) == (
        "python benchmarks/run_dain_placement.py --seeds 0,1"
    )
    # main([]) ran with no arguments: not the calling process's (e.g. pytest's)
    monkeypatch.setattr(sys, "argv", ["x", "--from-the-process"])
    assert script_command("run_x.py", []) == "python benchmarks/run_x.py"
    assert script_command("run_x.py") == "python benchmarks/run_x.py --from-the-process"
