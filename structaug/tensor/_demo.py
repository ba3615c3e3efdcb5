"""``structaug demo`` rows for tensors: DAIN vs the same neural model without augmentation
vs tensorly's masked CP, on a generated non-linear low-rank tensor."""

from __future__ import annotations

import time

from ..demo import DemoRow
from ._augmenter import InfluenceAugmenter, fit_augmented
from ._baselines import TensorlyCompletion
from ._completion import NeuralTensorCompletion
from ._data import make_tensor

__all__ = ["demo_rows"]


def demo_rows(quick: bool = False, device: str = "auto", seed: int = 0) -> list[DemoRow]:
    """Test RMSE of DAIN, the un-augmented neural model and CP (rank 3) on generated data.

    The network is narrower than the reference (``hidden_sizes=(256, 256, 32)``, or
    ``(64, 64, 16)`` with ``quick``) so the demo runs in seconds on two CPU cores.
    """
    shape, nnz = ((30, 25, 6), 2000) if quick else ((40, 30, 6), 4000)  # dense enough for a neural model
    tensor = make_tensor(shape, nnz=nnz, rank=3, random_state=seed)
    tr, va, te = tensor.split(random_state=seed)
    est = NeuralTensorCompletion(
        hidden_sizes=(64, 64, 16) if quick else (256, 256, 32),
        batch_size=256,
        max_epochs=15 if quick else 40,
        patience=5,
        device=device,
        random_state=seed,
    )
    name = f"lowrank {'x'.join(map(str, shape))} ({nnz} cells)"
    note = "narrow MLP for the demo"

    t0 = time.perf_counter()
    aug = InfluenceAugmenter(estimator=est, random_state=seed).fit(tr, validation=va, shape=tensor.shape)
    base_s = time.perf_counter() - t0
    base_rmse = -aug.estimator_.score(te)
    t1 = time.perf_counter()
    dain = fit_augmented(est, tr, aug.sample(), va)
    dain_s = base_s + time.perf_counter() - t1

    t2 = time.perf_counter()
    cp = TensorlyCompletion(method="cp", rank=3, n_iter_max=50 if quick else 100, random_state=seed)
    cp.fit(tr, shape=tensor.shape)
    cp_s = time.perf_counter() - t2
    return [
        DemoRow("tensor", name, "DAIN (neural + influence-sampled cells)", "rmse", -dain.score(te), dain_s, note),
        DemoRow(
            "tensor", name, "neural completion (no augmentation)", "rmse", base_rmse, aug.timings_["train_s"], note
        ),
        DemoRow("tensor", name, "CP rank 3 (tensorly, masked)", "rmse", -cp.score(te), cp_s),
    ]
