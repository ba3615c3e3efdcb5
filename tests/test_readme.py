"""The README's `Use` snippet runs as written (on small generated data, with 1-epoch budgets)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

README = Path(__file__).resolve().parents[1] / "README.md"


def use_snippet() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Use\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_use_snippet_runs():
    from structaug.datasets import make_lowrank_tensor, make_sbm_graph, make_sequences
    from structaug.tensor import ObservedTensor

    code = use_snippet()
    # the snippet's budgets, shrunk: what is tested is that every call exists and fits together
    code = re.sub(r"max_epochs=\d+", "max_epochs=1", code)
    code = code.replace("n=1000", "n=20").replace('["alice", "bob"]', "USERS").replace('["alice"]', "USERS[:1]")
    idx, vals = make_lowrank_tensor(shape=(12, 10, 4), nnz=300)
    rng = np.random.default_rng(0)
    env = {
        "data": make_sbm_graph(n_nodes=60, n_features=8, train_per_class=5, n_val=10),
        "log": (log := make_sequences(n_users=30, n_items=40, max_len=8)),
        "USERS": list(log["user"].unique()[:2]),
        "X": rng.normal(size=(60, 5)),
        "y": np.arange(60) % 2,
        "tensor": ObservedTensor(idx, vals),
    }
    exec(compile(code, "README.md#use", "exec"), env)
    out = env["rec"].recommend(env["USERS"], k=3)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["user", "item", "rank", "score"]
    assert env["data_aug"].x_aug.shape[1] == 4
    assert env["new_cells"].nnz == 20
    assert env["rec"].get_params()["views__crop_ratio"] == 0.4
