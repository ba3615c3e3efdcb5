"""The committed results set: every file is cited, every JSON names the clean commit behind it.

benchmarks/README.md's rules as a test: `benchmarks/results/` holds the current set only (each file
cited by README.md, docs/ or benchmarks/README.md; history lives in git), and each results JSON
records the commit of a clean tree whose code produces it -- in its ``environment`` (or, for a
file merged from several processes, in every source's), or in a ``verifications`` entry written by
benchmarks/verify_results.py whose rerun rows all came out equal.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FILES = sorted(p for p in RESULTS.iterdir() if p.is_file()) if RESULTS.is_dir() else []
JSONS = [p for p in FILES if p.suffix == ".json"]

pytestmark = pytest.mark.skipif(not FILES, reason="no benchmarks/results in this checkout")


@functools.cache
def _citing_text() -> str:
    docs = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in docs if p.exists())


def _clean(commit: object) -> bool:
    return isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{7,40}", commit) is not None


def _commits(payload: dict) -> list[object]:
    if isinstance(payload.get("sources"), list) and payload["sources"]:
        return [(s.get("environment") or {}).get("git_commit") for s in payload["sources"]]
    return [(payload.get("environment") or {}).get("git_commit")]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_results_file_is_cited(path):
    text = _citing_text()
    stem = path.name.split(".")[0]
    assert path.name in text or f"{stem}.*" in text or f"`{stem}" in text, (
        f"{path.name} is in benchmarks/results but no README/docs page cites it: cite it or move it to git history"
    )


@pytest.mark.parametrize("path", JSONS, ids=lambda p: p.name)
def test_every_results_json_names_a_clean_commit(path):
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(payload, dict) and "environment" in payload, f"{path.name}: no environment block"
    if all(_clean(c) for c in _commits(payload)):
        return
    stale = {(r.get("method"), r.get("dataset"), r.get("seed")) for r in payload["records"] if r.get("stale")}
    verified = [
        v
        for v in payload.get("verifications", [])
        if _clean(v.get("commit"))
        and v.get("rows_compared", 0) > 0
        # a row the current code no longer reproduces must say so ("stale": why) until it is rerun
        and all(tuple(d["row"]) in stale for d in v.get("differing", []))
    ]
    assert verified, (
        f"{path.name} records {_commits(payload)} (not a clean commit) and no verification run at a clean "
        "commit reproduced its rows: rerun it, or run benchmarks/verify_results.py"
    )


@pytest.mark.parametrize("path", JSONS, ids=lambda p: p.name)
def test_no_results_json_keeps_rows_of_an_unclean_tree_silently(path):
    """A note that says some rows come from a ``-dirty`` tree is a file not from one clean commit:
    allowed only while those rows are being rerun (``reruns`` entries, each old row marked
    ``"unclean"``, checked below), never under a clean top-level commit alone."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    config = payload.get("config") if isinstance(payload.get("config"), dict) else {}
    text = json.dumps([config.get("note", ""), payload.get("note", "")])
    dirty = re.findall(r"[0-9a-f]{7,40}-dirty", text)
    assert not dirty or "reruns" in payload, (
        f"{path.name}: its note says rows come from {sorted(set(dirty))} (an unclean tree): rerun them at a "
        'clean commit, or record the rerun in progress (`reruns`, rows marked "unclean")'
    )


def test_verify_results_flags_a_changed_row(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("verify_results", ROOT / "benchmarks" / "verify_results.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    row = {"method": "m", "dataset": "d", "seed": 0, "metrics": {"acc": 0.5, "fit_s": 3.0}}
    same = {**row, "metrics": {"acc": 0.5 + 1e-13, "fit_s": 9.0}}  # noise and a timing: equal
    moved = {**row, "metrics": {"acc": 0.6, "fit_s": 3.0}}
    assert mod.compare({"records": [row]}, {"records": [same]})["rows_identical"] == 1
    out = mod.compare({"records": [row]}, {"records": [moved]})
    assert out["rows_identical"] == 0 and out["differing"][0]["committed_vs_now"] == {"acc": [0.5, 0.6]}
    committed, run = tmp_path / "c.json", tmp_path / "r.json"
    committed.write_text(json.dumps({"benchmark": "b", "environment": {}, "records": [row]}))
    run.write_text(json.dumps({"benchmark": "b", "environment": {"git_commit": "abc1234-dirty"}, "records": [row]}))
    assert mod.main([str(committed), str(run), "--command", "x"]) == 2  # a dirty run verifies nothing
    assert "verifications" not in json.loads(committed.read_text())


def _rerun_rows(entry: dict) -> set[tuple]:
    """The (method, dataset, seed) rows one ``reruns`` entry replaced: listed, or its product."""
    if "rows_rerun" in entry:
        return {tuple(r) for r in entry["rows_rerun"]}
    return set(itertools.product(entry["methods"], entry["datasets"], entry["seeds"]))


@pytest.mark.parametrize(
    "path", [p for p in JSONS if "reruns" in json.loads(p.read_text(encoding="utf-8"))], ids=lambda p: p.name
)
def test_rows_of_a_partly_rerun_file_say_where_they_come_from(path):
    """A file whose first run was not clean and whose rows are being rerun: every row is
    either covered by a ``reruns`` entry at a clean commit or says ``"unclean"`` (why, and
    that its rerun is pending); a rerun row never says it."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    covered: set[tuple] = set()
    for entry in payload["reruns"]:
        assert _clean(entry.get("commit")), f"{path.name}: a rerun at {entry.get('commit')!r}"
        rows = _rerun_rows(entry)
        assert len(rows) == entry["rows"], f"{path.name}: rerun at {entry['commit']} names {len(rows)} rows"
        covered |= rows
    for r in payload["records"]:
        key = (r["method"], r["dataset"], r["seed"])
        if key in covered:
            assert "unclean" not in r, f"{path.name}: {key} was rerun at a clean commit but is marked unclean"
        else:
            assert isinstance(r.get("unclean"), str) and r["unclean"], (
                f"{path.name}: {key} comes from the first, unclean run and does not say so"
            )
