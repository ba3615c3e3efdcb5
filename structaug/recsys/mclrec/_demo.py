"""``structaug demo`` rows for item sequences: MCLRec vs SASRec vs popularity on generated logs."""

from __future__ import annotations

import time

import torch

from ...datasets import make_sequences
from ...demo import DemoRow
from ...train import resolve_device
from ._data import build_sequences, leave_one_out, pad_sequences, prefix_examples, prepare_interactions
from ._models import MCLRec, Popularity
from ._sasrec import SASRec
from ._training import evaluate_ranking, fit_sequential
from ._views import SequenceViews

__all__ = ["demo_rows"]


def demo_rows(quick: bool = False, device: str = "auto", seed: int = 0) -> list[DemoRow]:
    """Leave-one-out NDCG@10 (full ranking) on :func:`~structaug.datasets.make_sequences` data."""
    n_users, epochs = (150, 2) if quick else (300, 4)
    df = make_sequences(n_users=n_users, n_items=120, max_len=15, random_state=seed)
    log = build_sequences(prepare_interactions(df))
    train, valid, test = leave_one_out(log.sequences)
    max_len = 20
    X, y = prefix_examples(train, max_len)
    valid_t = (pad_sequences(valid[0], max_len), valid[1])
    th, tt = pad_sequences(test[0], max_len), test[1]
    dev = resolve_device(device)
    name = f"make_sequences ({len(log.sequences)} users, {log.n_items} items)"
    rows = []

    t0 = time.perf_counter()
    pop = Popularity(log.n_items).fit_counts(train).to(dev)
    rows.append(
        DemoRow(
            "sequence",
            name,
            "Popularity",
            "ndcg@10",
            evaluate_ranking(pop, th.to(dev), tt.to(dev))["ndcg@10"],
            time.perf_counter() - t0,
        )
    )
    for label, make in [
        ("MCLRec (views + learnable augmenters)", lambda: MCLRec(log.n_items, max_len=max_len, beta=0.05)),
        ("SASRec (no augmentation)", lambda: SASRec(log.n_items, max_len=max_len)),
    ]:
        t0 = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = make().to(dev)
            fit_sequential(
                model,
                X,
                y,
                valid=valid_t,
                max_epochs=epochs,
                batch_size=256,
                device=dev,
                seed=seed,
                gen=torch.Generator(device=dev).manual_seed(seed),
                views=SequenceViews(),
                bucket=True,
            )
        ndcg = evaluate_ranking(model, th.to(dev), tt.to(dev))["ndcg@10"]
        rows.append(DemoRow("sequence", name, label, "ndcg@10", ndcg, time.perf_counter() - t0, f"{epochs} epochs"))
    return rows
