"""Run by tests/test_distributed.py under ``torchrun --nproc_per_node 2`` (gloo on the CPU).

Not a test module: each of the two processes runs this whole script, as a user's training
script runs under torchrun. Process 0 writes what the test compares to ``sys.argv[1]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from structaug import distributed
from structaug.tabular._mlp import MLPHead
from structaug.train import Trainer, minibatch_epoch


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512, 6)).astype(np.float32)
    y = (X @ rng.normal(size=6) + 0.1 * rng.normal(size=512)).astype(np.float32)
    return X, y


def head(batch_size: int = 64) -> MLPHead:
    # 448 training rows: 7 batches of 64, 32 rows per process; no dropout, so one process
    # with the same global batch follows the same path up to float summation order
    return MLPHead(
        task="regression",
        hidden_sizes=(16,),
        dropout=0.0,
        lr=0.02,
        batch_size=batch_size,
        max_epochs=5,
        patience=None,
        validation_fraction=0.125,
        device="cpu",
        random_state=0,
    )


def interactions():
    import pandas as pd

    rng = np.random.default_rng(1)
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(0, 100, 3000), rng.integers(0, 60, 3000))}
    return pd.DataFrame(sorted(pairs), columns=["user", "item"])


def lightgcn():
    from structaug.recsys import LightGCN

    # BPR batches of 256 drawn alike in both processes, 128 rows each
    return LightGCN(embedding_dim=16, n_layers=2, batch_size=256, max_epochs=3, lr=0.01, device="cpu", random_state=0)


def sequences():
    import pandas as pd

    rng = np.random.default_rng(2)
    rows = [(u, int(rng.integers(1, 41)), t) for u in range(64) for t in range(12)]
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"])


def sasrec():
    from structaug.recsys import SequentialRecommender

    return SequentialRecommender(
        model="sasrec",
        max_len=10,
        hidden_size=16,
        n_layers=1,
        n_heads=1,
        inner_size=32,
        dropout=0.0,
        max_epochs=3,
        batch_size=64,
        lr=0.01,
        bucket=False,
        device="cpu",
        random_state=0,
    )


#: the contrastive sequence models the two processes train (SequentialRecommender settings)
CONTRASTIVE = {
    "cl4srec": dict(model="cl4srec", lmd=0.1),
    "mclrec": dict(model="mclrec", lmd=0.1),
    # stages 2 and 3 on one encoder pass through its own DDP wrapper, the losses outside it
    "mclrec_shared": dict(model="mclrec", lmd=0.1, meta_forward="shared"),
}


def hypertab():
    from structaug.tabular import HyperTabClassifier

    # 448 rows in batches of 64 (32 per process), unweighted: the loss is then the global batch's
    return HyperTabClassifier(max_epochs=2, batch_size=64, class_weight=None, device="cpu", random_state=0)


def hypertab_data() -> tuple[np.ndarray, np.ndarray]:
    X, y = data()
    return X[:448], (y[:448] > np.median(y)).astype(int)


def tjepa():
    from structaug.tabular import TJEPA

    # batches of 64 rows (32 per process), no dropout: the same path as one process
    return TJEPA(
        hidden_size=16,
        n_layers=1,
        n_heads=2,
        inner_size=32,
        predictor_hidden_size=16,
        predictor_n_layers=1,
        predictor_n_heads=2,
        predictor_inner_size=32,
        dropout=0.0,
        predictor_dropout=0.0,
        max_epochs=2,
        patience=None,
        device="cpu",
        random_state=0,
    )


def dain(factor_rank: int = 0):
    from structaug.tensor import InfluenceAugmenter, NeuralTensorCompletion, make_tensor

    # 648 training cells in batches of 128 (64 per process) and a last batch of 8; with
    # factor_rank the factors' L2 term is computed outside the DDP forward, on each process's rows
    train, val, _ = make_tensor((20, 15, 6), 900, random_state=0).split(random_state=0)
    est = NeuralTensorCompletion(
        embedding_dim=12,
        hidden_sizes=(32, 16),
        batch_size=128,
        max_epochs=3,
        patience=None,
        entity_biases=factor_rank > 0,
        factor_rank=factor_rank,
        device="cpu",
    )
    return InfluenceAugmenter(estimator=est, random_state=0), train, val


def linear_run(ckpt: Path | None, max_epochs: int) -> tuple[list[dict], list[float]]:
    """A Trainer run of a linear model through minibatch_epoch, with dropout-free DDP."""
    X, y = data()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Dropout(0.2), torch.nn.Linear(8, 1))
    net = distributed.wrap(model)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(1)
    xt, yt = torch.as_tensor(X), torch.as_tensor(y)

    def epoch(e: int) -> dict:
        return minibatch_epoch(
            net,
            opt,
            lambda a, b: torch.nn.functional.mse_loss(net(a).squeeze(-1), b),
            [xt, yt],
            batch_size=64,
            generator=gen,
        )

    res = Trainer(max_epochs=max_epochs, monitor="loss", seed=3, checkpoint_path=ckpt).fit(
        model, opt, epoch, None, generators=[gen]
    )
    return res.history, [float(p.detach().sum()) for p in model.parameters()]


def main(out: str, tmp: str) -> None:
    X, y = data()
    fitted = head().fit(X, y)
    uneven = head(batch_size=63).fit(X, y)  # shares of 32/31 rows, and a last batch of 7 (4/3)
    weights = [float(p.detach().sum()) for p in fitted.model_.parameters()]
    # a checkpointed run stopped after 3 epochs and resumed to 6, against 6 epochs in one go
    ckpt = Path(tmp) / "ckpt.pt"
    linear_run(ckpt, 3)
    resumed, resumed_w = linear_run(ckpt, 6)
    straight, straight_w = linear_run(None, 6)
    # process 0 fails to write a checkpoint: every process stops with an error, none waits forever
    from structaug import train

    real_save = train.save_verified

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    if distributed.is_main():
        train.save_verified = disk_full
    try:
        linear_run(Path(tmp) / "full" / "ckpt.pt", 2)
        failed = None
    except OSError as exc:
        failed = str(exc)
    finally:
        train.save_verified = real_save
    rec = lightgcn().fit(interactions())
    rec_w = float(rec.user_embeddings_.sum()) + float(rec.item_embeddings_.sum())
    seq = sasrec().fit(sequences())
    ht = hypertab().fit(*hypertab_data())
    ht_w = sum(float(p.detach().sum()) for p in ht.net_.parameters())
    tj = tjepa().fit(X[:448])
    tj_w = sum(float(p.detach().sum()) for p in tj.network_.parameters())
    seq_w = sum(float(p.detach().sum()) for p in seq.model_.parameters())
    # InfoNCE's negatives from the whole batch; MCLRec's three stages through two DDP wrappers
    contrastive = {m: sasrec().set_params(**CONTRASTIVE[m]).fit(sequences()) for m in CONTRASTIVE}
    aug, tensor_train, tensor_val = dain()
    aug.fit(tensor_train, validation=tensor_val)
    aug_fm, _, _ = dain(factor_rank=3)
    aug_fm.fit(tensor_train, validation=tensor_val)
    everyone = distributed.all_gather_objects(
        {
            "weights": weights,
            "resumed_w": resumed_w,
            "straight_w": straight_w,
            "lightgcn_w": rec_w,
            "sasrec_w": seq_w,
            **{
                f"{m}_w": sum(float(p.detach().sum()) for p in rec.model_.parameters())
                for m, rec in contrastive.items()
            },
            "hypertab_w": ht_w,
            "tjepa_w": tj_w,
            "dain_influence_sum": float(aug.cell_importance_.sum()),
            "checkpoint_failure": failed,
            "rank": distributed.rank(),
        }
    )
    if distributed.is_main():
        keep = ("loss", "val_loss")
        Path(out).write_text(
            json.dumps(
                {
                    "world_size": distributed.world_size(),
                    "history": [{k: h[k] for k in keep if k in h} for h in fitted.history_],
                    "uneven": [{k: h[k] for k in keep if k in h} for h in uneven.history_],
                    "ranks": everyone,
                    "resumed": [h["loss"] for h in resumed],
                    "straight": [h["loss"] for h in straight],
                    "files": sorted(p.name for p in Path(tmp).iterdir() if p.is_file()),
                    "lightgcn": [h["loss"] for h in rec.train_result_.history],
                    "sasrec": [h["loss"] for h in seq.train_result_.history],
                    **{m: [h["loss"] for h in rec.train_result_.history] for m, rec in contrastive.items()},
                    "hypertab": [h["loss"] for h in ht.train_result_.history],
                    "tjepa": [h["loss"] for h in tj.train_result_.history],
                    "dain_influence": aug.cell_importance_.tolist(),
                    "dain_factors_influence": aug_fm.cell_importance_.tolist(),
                    "dain_factors_pred": aug_fm.estimator_.predict(tensor_val).tolist(),
                }
            )
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    if torch.distributed.is_initialized():
        # a clean exit, as torchrun scripts should. Not enough alone under load: DDP wrappers in
        # reference cycles died in interpreter finalisation and took gloo's threads with them
        # (SIGABRT, "terminate called without an active exception"); structaug.distributed's
        # exit handler now collects them first
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
