"""The shared trainer: early stopping, best-weight restore, checkpoint/resume, atomic writes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import script_module

from structaug.exceptions import InvalidParameterError
from structaug.io import atomic_torch_save
from structaug.nn import MLP
from structaug.train import Trainer, adam, minibatch_epoch, resolve_device

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, torch
    from structaug.nn import MLP
    from structaug.train import Trainer, minibatch_epoch

    def run(ckpt, kill_at=None, epochs=12, best=False):
        g = torch.Generator().manual_seed(0)
        X = torch.randn(256, 5, generator=g)
        y = (X[:, 0] + X[:, 1] > 0).long()
        torch.manual_seed(0)
        model = MLP([5, 16, 2], dropout=0.3)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        gen = torch.Generator().manual_seed(1)
        loss = lambda xb, yb: torch.nn.functional.cross_entropy(model(xb), yb)

        def epoch(e):
            if kill_at is not None and e == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # a real kill, no cleanup
            return minibatch_epoch(model, opt, loss, [X, y], batch_size=32, generator=gen)

        def val(e):
            model.eval()
            out = {"val_loss": float(torch.nn.functional.cross_entropy(model(X), y).detach())}
            model.train()
            return out

        # best=True: the best weights and the patience counter must survive the kill too
        res = Trainer(max_epochs=epochs, seed=0, verbose=False, checkpoint_path=ckpt, restore_best=best,
                      patience=2 if best else None).fit(model, opt, epoch, val, generators=[gen])
        return model, res

    if __name__ == "__main__":
        ckpt, kill_at, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        best = len(sys.argv) > 4 and sys.argv[4] == "best"
        model, res = run(ckpt if ckpt != "-" else None, kill_at if kill_at >= 0 else None,
                         epochs=40 if best else 12, best=best)
        torch.save({"state": model.state_dict(), "resumed_from": res.resumed_from,
                    "epochs": res.epochs_run, "best_epoch": res.best_epoch,
                    "stopped_early": res.stopped_early}, out)
    """
)


def _xor_data(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=g)
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).long()
    return X, y


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device("cuda")


def test_trainer_learns_and_restores_best():
    X, y = _xor_data()
    torch.manual_seed(0)
    model = MLP([2, 32, 32, 2])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    loss = lambda xb, yb: torch.nn.functional.cross_entropy(model(xb), yb)
    snapshots = {}

    def val(e):
        acc = float((model(X).argmax(1) == y).float().mean())
        snapshots[e] = {k: v.clone() for k, v in model.state_dict().items()}
        return {"val_acc": acc}

    res = Trainer(max_epochs=60, monitor="val_acc", mode="max", verbose=False, seed=0).fit(
        model, opt, lambda e: minibatch_epoch(model, opt, loss, [X, y], batch_size=32, generator=gen), val
    )
    assert res.best_score > 0.9  # XOR is not linearly separable: the MLP really learned
    best = snapshots[res.best_epoch]
    assert all(torch.equal(model.state_dict()[k], best[k]) for k in best)
    assert len(res.history) == res.epochs_run and "loss" in res.history[0] and "epoch_time" in res.history[0]


def test_early_stopping_stops_after_patience():
    model = torch.nn.Linear(1, 1)
    scores = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.1])
    res = Trainer(max_epochs=50, patience=3, verbose=False).fit(
        model, None, lambda e: {}, lambda e: {"val_loss": next(scores)}
    )
    assert res.stopped_early and res.epochs_run == 5 and res.best_epoch == 1 and res.best_score == 0.5


def test_no_monitor_keeps_last_epoch():
    model = torch.nn.Linear(1, 1)
    res = Trainer(max_epochs=3, verbose=False).fit(model, None, lambda e: {"loss": 1.0})
    assert res.best_epoch == 2 and res.epochs_run == 3 and not res.stopped_early
    # with patience, a monitor that is missing (a typo) is an error, not silently no early stopping
    with pytest.raises(InvalidParameterError, match="monitor 'val_lss' is not among epoch 0's metrics.*patience"):
        Trainer(max_epochs=3, patience=1, monitor="val_lss", verbose=False).fit(
            model, None, lambda e: {"val_loss": 1.0}
        )
    # without patience too, when validate is given: best-weight restore would silently be off
    with pytest.raises(InvalidParameterError, match="monitor 'val_acc' is not among epoch 0's metrics.*'__last__'"):
        Trainer(max_epochs=3, monitor="val_acc", verbose=False).fit(
            model, None, lambda e: {}, lambda e: {"val_accuracy": 1.0}
        )
    # or when it disappears after an epoch that had it
    with pytest.raises(InvalidParameterError, match="epoch 1's metrics.*it appeared in an earlier epoch"):
        Trainer(max_epochs=3, monitor="loss", verbose=False).fit(model, None, lambda e: {"loss": 1.0} if e == 0 else {})
    res = Trainer(max_epochs=2, monitor="__last__", verbose=False).fit(
        model, None, lambda e: {}, lambda e: {"val_loss": 1.0 - e}
    )
    assert res.best_epoch == 1 and res.best_score is None


def test_trainer_rejects_bad_settings():
    with pytest.raises(ValueError, match="mode"):
        Trainer(mode="up")
    with pytest.raises(ValueError, match="patience"):
        Trainer(patience=0)
    with pytest.raises(ValueError, match="max_time"):
        Trainer(max_time=0)
    with pytest.raises(ValueError, match="model is on meta but the Trainer runs on cpu"):
        Trainer(device="cpu", verbose=False).fit(torch.nn.Linear(1, 1, device="meta"), None, lambda e: None)
    # no device given: the model's own, whatever it is (the data lives in train_epoch, not here)
    assert Trainer().device is None
    calls = []
    res = Trainer(max_epochs=2, verbose=False).fit(torch.nn.Linear(1, 1, device="meta"), None, calls.append)
    assert calls == [0, 1] and res.epochs_run == 2


def _fake_clock(monkeypatch):
    """perf_counter that only moves when an epoch 'takes' 10 s."""
    import structaug.train as train_mod

    now = [0.0]
    monkeypatch.setattr(train_mod.time, "perf_counter", lambda: now[0])

    def epoch(e):
        now[0] += 10.0
        return {"loss": 1.0 / (e + 1)}

    return epoch


def test_max_time_stops_after_the_epoch_that_crosses_the_budget_and_resumes(tmp_path, monkeypatch):
    epoch = _fake_clock(monkeypatch)
    model = torch.nn.Linear(1, 1)
    ckpt = tmp_path / "t.ckpt"
    val = lambda e: {"val_loss": 1.0 / (e + 1)}
    res = Trainer(max_epochs=100, max_time=25, verbose=False, checkpoint_path=ckpt, checkpoint_every=50).fit(
        model, None, epoch, val
    )
    assert res.epochs_run == 3 and res.stopped_by_time and not res.stopped_early and res.best_epoch == 2
    # the time stop was checkpointed (despite checkpoint_every=50) and is not final:
    # a larger budget continues from epoch 3
    res2 = Trainer(max_epochs=100, max_time=55, verbose=False, checkpoint_path=ckpt).fit(model, None, epoch, val)
    assert res2.resumed_from == 2 and res2.epochs_run == 6 and res2.stopped_by_time and res2.best_epoch == 5
    # a budget that outlasts max_epochs is not a time stop
    res3 = Trainer(max_epochs=2, max_time=1000, verbose=False).fit(model, None, epoch, val)
    assert res3.epochs_run == 2 and not res3.stopped_by_time


def _script(tmp_path):
    """The training script, written to a file: run killed in a subprocess, reference and resume in-process."""
    return script_module(tmp_path, "train_script", SCRIPT)


def _run_killed(script, ckpt, kill_at, out, mode="last"):
    # the parent's thread count: in-process and subprocess runs must do the same float sums
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS=str(torch.get_num_threads()))
    return subprocess.run(
        [sys.executable, str(script), str(ckpt), str(kill_at), str(out), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    mod, script = _script(tmp_path)
    ref, _ = mod.run(None)
    ckpt = tmp_path / "run.ckpt"
    killed = _run_killed(script, ckpt, 5, tmp_path / "never.pt")
    assert killed.returncode == -9 and ckpt.exists() and not (tmp_path / "never.pt").exists(), killed.stderr
    resumed, res = mod.run(ckpt)
    assert res.resumed_from == 4 and res.epochs_run == 12
    for k, v in ref.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_resume_keeps_best_weights_and_patience(tmp_path):
    mod, script = _script(tmp_path)
    ref, a = mod.run(None, epochs=40, best=True)
    assert a.stopped_early and a.epochs_run == a.best_epoch + 3  # patience 2 ended it
    kill_at = a.best_epoch + 2  # one epoch past the best: the patience counter stands at 1
    ckpt = tmp_path / "run.ckpt"
    killed = _run_killed(script, ckpt, kill_at, tmp_path / "never.pt", "best")
    assert killed.returncode == -9, killed.stderr
    resumed, b = mod.run(ckpt, epochs=40, best=True)
    assert b.resumed_from == kill_at - 1
    assert (b.epochs_run, b.best_epoch, b.stopped_early) == (a.epochs_run, a.best_epoch, True)
    for k, v in ref.state_dict().items():  # the restored best weights, not the last epoch's
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_finished_checkpoint_is_not_retrained(tmp_path):
    ckpt = tmp_path / "c.ckpt"
    model = torch.nn.Linear(1, 1)
    calls = []
    Trainer(max_epochs=3, verbose=False, checkpoint_path=ckpt).fit(model, None, lambda e: calls.append(e) or {})
    Trainer(max_epochs=3, verbose=False, checkpoint_path=ckpt).fit(model, None, lambda e: calls.append(e) or {})
    assert calls == [0, 1, 2]


def test_atomic_checkpoint_survives_crash_during_write(tmp_path, monkeypatch):
    path = tmp_path / "model.ckpt"
    atomic_torch_save({"w": torch.ones(3)}, path)

    real_save = torch.save

    def crashing_save(obj, fh, *a, **k):
        fh.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_torch_save({"w": torch.zeros(3)}, path)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.equal(torch.load(path)["w"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt"]  # no temp file left


def test_corrupt_checkpoint_gives_clear_error(tmp_path):
    from structaug.exceptions import CorruptFileError

    ckpt = tmp_path / "bad.ckpt"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(CorruptFileError, match="bad.ckpt is corrupt.*delete the file"):
        Trainer(max_epochs=1, verbose=False, checkpoint_path=ckpt).fit(torch.nn.Linear(1, 1), None, lambda e: {})


def test_dropout_module_keeps_expectation_and_is_identity_in_eval():
    from structaug.nn import Dropout

    x = torch.ones(200, 300, requires_grad=True)
    drop = Dropout(0.5)
    torch.manual_seed(0)
    y = drop(x)
    assert set(torch.unique(y.detach()).tolist()) == {0.0, 2.0}  # inverted dropout: kept x / (1 - p)
    assert abs(float(y.detach().mean()) - 1.0) < 0.02
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # gradient flows through the kept entries only
    torch.manual_seed(0)
    assert torch.equal(drop(x), y)  # seeded by the global generator
    assert drop.eval()(x) is x
    assert "p=0.5" in repr(drop)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert Dropout(0.5).train()(x.detach().bfloat16()).dtype == torch.bfloat16
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="dropout"):
            Dropout(bad)


def test_adam_is_fused_where_supported_and_matches_plain_adam(monkeypatch):
    torch.manual_seed(0)
    w0 = torch.randn(5, 3)
    grads = [torch.randn(5, 3) for _ in range(4)]
    results = []
    for make in (
        lambda p: adam([p], 0.1, weight_decay=0.01),
        lambda p: torch.optim.Adam([p], lr=0.1, weight_decay=0.01),
    ):
        p = torch.nn.Parameter(w0.clone())
        opt = make(p)
        for g in grads:
            p.grad = g.clone()
            opt.step()
        results.append(p.detach())
    assert torch.allclose(results[0], results[1], atol=1e-6) and not torch.equal(results[0], w0)
    if tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4):  # CPU fused Adam since 2.4
        assert adam([torch.nn.Parameter(w0.clone())], 0.1).defaults["fused"]

    real = torch.optim.Adam

    def no_fused(params, **kw):  # a torch build without fused Adam for this device
        if kw.get("fused"):
            raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of supported devices")
        return real(params, **kw)

    monkeypatch.setattr(torch.optim, "Adam", no_fused)
    opt = adam(iter([torch.nn.Parameter(w0.clone())]), 0.1)  # a generator of params is consumed once
    assert not opt.defaults.get("fused") and len(opt.param_groups[0]["params"]) == 1


def test_local_seed_and_preserved_rng_leave_the_callers_stream():
    from structaug.random import local_torch_seed, preserved_torch_rng

    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    with local_torch_seed(3):
        inside = torch.rand(2)
    with preserved_torch_rng():
        torch.manual_seed(99)
        torch.rand(10)
    assert torch.equal(torch.rand(4), expected)
    torch.manual_seed(3)
    assert torch.equal(inside, torch.rand(2))  # the block saw exactly torch.manual_seed(3)'s stream


def test_seeded_fit_gives_the_caller_its_rng_back_and_an_unseeded_one_draws_from_it():
    model = torch.nn.Linear(2, 1)  # built first: its initialisation draws from the global stream

    def run(seed):
        drawn = []
        Trainer(max_epochs=2, seed=seed, verbose=False).fit(
            model, None, lambda e: drawn.append(torch.rand(1)) or {"loss": 0.0}
        )
        return torch.cat(drawn)

    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    inside = run(seed=11)
    assert torch.equal(torch.rand(4), expected)  # the Trainer's reseeding did not leak out
    torch.manual_seed(11)
    assert torch.equal(inside, torch.rand(2))  # the epochs drew from the seeded stream
    torch.manual_seed(5)
    assert torch.equal(run(seed=None), expected[:2])  # no seed: the caller's own stream, advanced
    assert torch.equal(torch.rand(2), expected[2:])


def test_resolve_device_names_the_argument():
    from structaug.exceptions import DeviceUnavailableError, InvalidParameterError
    from structaug.train import resolve_device

    for bad in ["tpu", "cuda:x", 3, 1.5]:
        with pytest.raises(InvalidParameterError, match="device must be"):
            resolve_device(bad)
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailableError, match="CUDA is not available") as err:
            resolve_device("cuda:0")
        assert isinstance(err.value, RuntimeError)


def test_predict_batched_fills_one_output_and_keeps_cat_semantics():
    from structaug.train import predict_batched

    x = torch.arange(23, dtype=torch.float32).reshape(23, 1)
    out = predict_batched(lambda b: torch.cat([b, 2 * b], dim=1), [x], batch_size=5)
    assert out.shape == (23, 2) and torch.equal(out, torch.cat([x, 2 * x], dim=1))
    # an fn whose output rows are not its input rows: the outputs concatenated, as torch.cat
    firsts = predict_batched(lambda b: b[:1], [x], batch_size=5)
    assert torch.equal(firsts, x[::5])
    later = predict_batched(lambda b: b if len(b) == 5 else b[:1], [x], batch_size=5)
    assert torch.equal(later, torch.cat([x[:20], x[20:21]]))
    assert predict_batched(lambda b: b, [torch.zeros(0, 3)]).numel() == 0


def test_a_large_training_table_stays_in_host_memory_on_an_accelerator(monkeypatch):
    from structaug import train

    table = np.arange(24, dtype=np.float32).reshape(8, 3)
    # on the CPU a table is where the model is, however large
    monkeypatch.setattr(train, "HOST_TABLE_BYTES", 0)
    assert train.training_table(table, "cpu").device.type == "cpu"
    # on an accelerator, a table of at least HOST_TABLE_BYTES is left in host memory (no device
    # is touched: this runs without one) and each batch's rows are moved
    host = train.training_table(table, "cuda")
    assert host.device.type == "cpu" and host.dtype == torch.float32
    idx = torch.tensor([5, 0, 7])
    np.testing.assert_array_equal(train.batch_rows(host, idx, "cpu").numpy(), table[[5, 0, 7]])
    assert train.training_table(np.arange(3), "cpu", torch.float64).dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_hypertab_on_a_gpu_trains_alike_with_the_table_in_host_memory(monkeypatch):
    from sklearn.datasets import load_breast_cancer

    from structaug import train
    from structaug.tabular.hypertab import HyperTabClassifier

    X, y = load_breast_cancer(return_X_y=True)
    fit = lambda: HyperTabClassifier(max_epochs=3, random_state=0, device="cuda").fit(X, y).predict_proba(X)
    on_device = fit()
    monkeypatch.setattr(train, "HOST_TABLE_BYTES", 0)  # every table stays on the host
    np.testing.assert_allclose(fit(), on_device, rtol=1e-5, atol=1e-6)
