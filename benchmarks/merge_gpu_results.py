"""Merge result files of several runs (other commits, other machines, a lent GPU) into one JSON + markdown.

``save_records`` stamps the environment of the machine and commit that call it, so merging with
it would record this checkout; this keeps each input's own environment and config under
``sources``, with the (method, dataset, seed) rows each input contributed (rows de-duplicated
by that key: the first file wins, but an ok row replaces an earlier failed one), and adds a
note. ``--report BENCH`` appends the ``structaug bench BENCH`` summaries (e.g. mclrec's table
beside the paper) as the benchmark itself would.

Usage::

    python benchmarks/merge_gpu_results.py --out benchmarks/results/lagnn_gpu_h200.json \\
        --note "..." --code-commit f7276b9 run1/lagnn_*_gpu.json run2/lagnn_*_gpu.json
    python benchmarks/merge_gpu_results.py --out merged.json --report mclrec --metrics hr@10,ndcg@10 \\
        benchmarks/results/mclrec_beauty_bf16.json new_seeds.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from structaug.bench import add_out_arguments, claim_out
from structaug.io import atomic_write_json, atomic_write_text
from structaug.results import markdown_table, summarize


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs", nargs="+")
    add_out_arguments(p, "merged", required=True)
    p.add_argument("--note", default="")
    p.add_argument(
        "--code-commit",
        action="append",
        default=[],
        help="commit(s) of the code that ran (when the remote copy's git metadata lagged)",
    )
    p.add_argument("--metrics", default=None, help="comma-separated metrics for the markdown table")
    p.add_argument("--report", default=None, help="benchmark whose report() to append (e.g. mclrec)")
    a = p.parse_args(argv)
    claim_out(p, a)
    chosen: dict[tuple, dict] = {}
    sources = []
    origin: dict[tuple, int] = {}
    names = set()
    for i, path in enumerate(a.inputs):
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
        names.add(payload.get("benchmark"))
        sources.append(
            {"file": Path(path).name, "environment": payload.get("environment"), "config": payload.get("config")}
        )
        for r in payload["records"]:
            key = (r["method"], r["dataset"], r["seed"])
            # the first file's row wins, except that an ok row replaces an earlier failed one
            if key not in chosen or (chosen[key].get("status", "ok") != "ok" and r.get("status", "ok") == "ok"):
                chosen[key] = r
                origin[key] = i
    rows = list(chosen.values())
    for i, src in enumerate(sources):  # which rows each run contributed
        src["rows"] = [list(k) for k, j in origin.items() if j == i]
    env = sources[0]["environment"]
    out = {
        # the inputs' benchmark when they agree, so `structaug bench ... --resume` and
        # verify_results.py accept the merged file as that benchmark's
        "benchmark": names.pop() if len(names) == 1 and None not in names else a.out.stem,
        "environment": env,
        "note": a.note,
        "code_commits": a.code_commit,
        "sources": sources,
        "records": rows,
    }
    atomic_write_json(out, a.out)
    metrics = a.metrics.split(",") if a.metrics else None
    md = (
        f"# {a.out.stem}\n\nDevice: {env.get('device_name')}  \nCode: {', '.join(a.code_commit) or env.get('git_commit')}"
        f"\n\n{a.note}\n\n{markdown_table(summarize(rows, metrics=metrics))}\n"
    )
    atomic_write_text(md, a.out.with_suffix(".md"))
    if a.report:
        import importlib

        importlib.import_module(f"structaug.bench.{a.report}").report(rows, a.out)
    print(f"{len(rows)} rows -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
