"""Check that the current code still produces a committed results file, and record the check in it.

A full rerun of a large table (``lagnn.json``: ~19 CPU-hours on the 2-core machine) does not fit
every change. This compares a verification run -- some of the table's rows rerun by the same
command at a *clean* commit -- with the committed rows of the same (method, dataset, seed): every
quality metric must be equal to ``--rtol`` (time and memory metrics are machine measurements and are not
compared). The outcome is appended to the committed file's ``verifications`` list (and to the
markdown beside it), rows that differ are listed, and nothing is written when the verification run
was made from a dirty tree::

    python benchmarks/verify_results.py benchmarks/results/dain.json verify_run.json \\
        --command "OMP_NUM_THREADS=1 structaug bench dain --datasets LDOS-CoMoDa --seeds 3 ..."

Exit status 0 when every compared row is identical, 1 when some differ (still recorded), 2 on a
usage error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from structaug.io import atomic_write_json, atomic_write_text

#: machine measurements, not results of the method: never compared
TIMING_KEYS = ("_s", "_ms", "time", "mem", "mib", "cpu", "per_s", "throughput")


def _is_timing(name: str) -> bool:
    return any(k in name.lower() for k in TIMING_KEYS)


def _key(r: dict) -> tuple:
    return (r.get("method", r.get("package")), r.get("dataset"), r.get("seed"))


def compare(committed: dict, run: dict, rtol: float = 1e-9) -> dict:
    """Rows of ``run`` against the same rows of ``committed``: counts, max |difference|, differing rows
    (a metric differs when ``|a - b| > rtol * max(1, |a|)``: summation-order noise, such as
    tensorly's 1e-12 between runs, is not a change of result)."""
    ours = {_key(r): r for r in committed["records"]}
    compared, identical, max_diff, differing, missing = 0, 0, 0.0, [], []
    for r in run["records"]:
        if r.get("status", "ok") != "ok":
            continue
        k = _key(r)
        if k not in ours:
            missing.append(list(k))
            continue
        old = ours[k].get("metrics", {})
        diffs = {}
        for name, v in r.get("metrics", {}).items():
            if _is_timing(name) or not isinstance(v, (int, float)) or isinstance(v, bool):
                continue
            o = old.get(name)
            if not isinstance(o, (int, float)) or (math.isnan(o) and math.isnan(v)):
                continue
            max_diff = max(max_diff, abs(o - v))
            if abs(o - v) > rtol * max(1.0, abs(o)):
                diffs[name] = [o, v]
        compared += 1
        if diffs:
            differing.append({"row": list(k), "committed_vs_now": diffs})
        else:
            identical += 1
    return {
        "rtol": rtol,
        "rows_compared": compared,
        "rows_identical": identical,
        "max_abs_diff": max_diff,
        "differing": differing,
        "not_in_committed": missing,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("committed", type=Path, help="the committed results JSON (updated in place)")
    p.add_argument("run", type=Path, help="the verification run's JSON")
    p.add_argument("--command", required=True, help="the exact command of the verification run")
    p.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance of 'equal' (default 1e-9)")
    a = p.parse_args(argv)
    committed = json.loads(a.committed.read_text(encoding="utf-8"))
    run = json.loads(a.run.read_text(encoding="utf-8"))
    env = run.get("environment") or {}
    commit = env.get("git_commit")
    if not commit or str(commit).endswith("-dirty"):
        print(f"verify_results.py: error: {a.run} records commit {commit!r}, not a clean commit", file=sys.stderr)
        return 2
    if committed.get("benchmark") != run.get("benchmark"):
        print(
            f"verify_results.py: error: benchmark {run.get('benchmark')!r} of {a.run} is not "
            f"{committed.get('benchmark')!r} of {a.committed}",
            file=sys.stderr,
        )
        return 2
    result = {
        "commit": commit,
        "machine": env.get("device_name"),
        "versions": env.get("versions"),
        "time": env.get("time"),
        "command": a.command,
        **compare(committed, run, a.rtol),
    }
    committed.setdefault("verifications", []).append(result)
    atomic_write_json(committed, a.committed)
    md = a.committed.with_suffix(".md")
    if md.exists():
        line = (
            f"\n\nVerified at commit {commit} ({env.get('device_name')}): {result['rows_identical']} of "
            f"{result['rows_compared']} rerun rows equal in every quality metric (rtol {a.rtol:g})"
            + (
                f", {len(result['differing'])} differ (max |diff| {result['max_abs_diff']:.4g})"
                if result["differing"]
                else ""
            )
            + f"; command: `{a.command}`\n"
        )
        atomic_write_text(md.read_text(encoding="utf-8").rstrip("\n") + line, md)
    print(json.dumps({k: v for k, v in result.items() if k != "versions"}, indent=1)[:2000])
    return 0 if not result["differing"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
