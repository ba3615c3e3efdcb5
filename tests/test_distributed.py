"""Data-parallel training under torchrun (structaug.distributed, #22): two CPU processes
with gloo train like one process on the same global batch; checkpoints are written by process
0 and resume every process exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from structaug import distributed
from structaug.train import resolve_device

HERE = Path(__file__).parent


def _worker():
    """tests/ddp_worker.py, the script the two processes run (its models and data)."""
    sys.path.insert(0, str(HERE))
    try:
        import ddp_worker
    finally:
        sys.path.remove(str(HERE))
    return ddp_worker


def _one_process(fit):
    """``fit()`` here, on one thread like each torchrun process, leaving this process's RNG alone."""
    threads = torch.get_num_threads()
    with torch.random.fork_rng():
        torch.set_num_threads(1)
        try:
            return fit()
        finally:
            torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """Run tests/ddp_worker.py under ``torchrun --standalone --nproc_per_node 2`` once."""
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("this torch build has no gloo backend")
    tmp = tmp_path_factory.mktemp("ddp")
    out = tmp / "out.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    proc = subprocess.run(
        [*cmd, str(HERE / "ddp_worker.py"), str(out), str(tmp)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_two_processes_follow_one_process_on_the_same_global_batch(two_processes):
    ddp_worker = _worker()
    assert two_processes["world_size"] == 2
    X, y = ddp_worker.data()
    one = _one_process(lambda: ddp_worker.head().fit(X, y))
    ours = two_processes["history"]
    assert len(ours) == len(one.history_) == 5
    for h2, h1 in zip(ours, one.history_):
        # the training loss is the mean over both processes' rows: the global batch's
        assert h2["loss"] == pytest.approx(h1["loss"], rel=1e-4)
        assert h2["val_loss"] == pytest.approx(h1["val_loss"], rel=1e-4)
    # the losses really moved (a run that did nothing would pass the comparison)
    assert ours[-1]["val_loss"] < 0.5 * ours[0]["val_loss"]


def test_lightgcn_in_two_processes_follows_one_process(two_processes):
    ddp_worker = _worker()
    one = _one_process(lambda: ddp_worker.lightgcn().fit(ddp_worker.interactions()))
    losses = [h["loss"] for h in one.train_result_.history]
    assert two_processes["lightgcn"] == pytest.approx(losses, rel=1e-4)
    assert losses[-1] < losses[0]


def test_sasrec_in_two_processes_follows_one_process(two_processes):
    ddp_worker = _worker()
    one = _one_process(lambda: ddp_worker.sasrec().fit(ddp_worker.sequences()))
    losses = [h["loss"] for h in one.train_result_.history]
    assert two_processes["sasrec"] == pytest.approx(losses, rel=1e-4)
    assert losses[-1] < losses[0]


def test_hypertab_in_two_processes_follows_one_process(two_processes):
    ddp_worker = _worker()
    one = _one_process(lambda: ddp_worker.hypertab().fit(*ddp_worker.hypertab_data()))
    losses = [h["loss"] for h in one.train_result_.history]
    assert two_processes["hypertab"] == pytest.approx(losses, rel=1e-4)
    assert losses[-1] < losses[0]


def test_tjepa_encoder_in_two_processes_follows_one_process(two_processes):
    ddp_worker = _worker()
    X, _ = ddp_worker.data()
    one = _one_process(lambda: ddp_worker.tjepa().fit(X[:448]))
    losses = [h["loss"] for h in one.train_result_.history]
    assert two_processes["tjepa"] == pytest.approx(losses, rel=1e-4)
    assert len(losses) == 2


def test_dain_influence_recorded_in_two_processes_adds_up_to_one_process(two_processes):
    # each process scores the cells of its share of every batch; the epoch's scores are summed
    # over the processes, so every cell has the score one process would give it
    ddp_worker = _worker()
    aug, train, val = ddp_worker.dain()
    one = _one_process(lambda: aug.fit(train, validation=val))
    ours = np.asarray(two_processes["dain_influence"])
    assert ours.shape == (train.nnz,) and np.all(ours != 0)
    np.testing.assert_allclose(ours, one.cell_importance_, rtol=1e-3, atol=1e-6)


def test_dain_with_the_factor_term_in_two_processes_follows_one_process(two_processes):
    # the factors' L2 penalty is added outside the DDP forward; its gradient is averaged with the rest
    ddp_worker = _worker()
    aug, train, val = ddp_worker.dain(factor_rank=3)
    one = _one_process(lambda: aug.fit(train, validation=val))
    np.testing.assert_allclose(two_processes["dain_factors_pred"], one.estimator_.predict(val), rtol=1e-4, atol=1e-5)
    ours = np.asarray(two_processes["dain_factors_influence"])
    np.testing.assert_allclose(ours, one.cell_importance_, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("model", ["cl4srec", "mclrec", "mclrec_shared"])
def test_contrastive_sequence_models_in_two_processes_follow_one_process(two_processes, model):
    # each process encodes its share; InfoNCE (and MCLRec's meta loss and regulariser) take
    # their negatives from every process's rows, so the loss is the global batch's
    ddp_worker = _worker()
    params = ddp_worker.CONTRASTIVE[model]
    one = _one_process(lambda: ddp_worker.sasrec().set_params(**params).fit(ddp_worker.sequences()))
    losses = [h["loss"] for h in one.train_result_.history]
    assert two_processes[model] == pytest.approx(losses, rel=1e-4)
    assert losses[-1] < losses[0]


def test_uneven_shares_are_weighted_to_the_global_batch_mean(two_processes):
    ddp_worker = _worker()
    X, y = ddp_worker.data()
    one = _one_process(lambda: ddp_worker.head(batch_size=63).fit(X, y))
    for h2, h1 in zip(two_processes["uneven"], one.history_, strict=True):
        assert h2["loss"] == pytest.approx(h1["loss"], rel=1e-4)
        assert h2["val_loss"] == pytest.approx(h1["val_loss"], rel=1e-4)


def test_every_process_ends_with_the_same_weights(two_processes):
    ranks = two_processes["ranks"]
    assert [r["rank"] for r in ranks] == [0, 1]
    for key in (
        "weights",
        "resumed_w",
        "straight_w",
        "lightgcn_w",
        "sasrec_w",
        "cl4srec_w",
        "mclrec_w",
        "mclrec_shared_w",
        "hypertab_w",
        "tjepa_w",
        "dain_influence_sum",
    ):
        assert ranks[0][key] == ranks[1][key]


def test_resume_under_torchrun_reproduces_the_uninterrupted_run(two_processes):
    # dropout draws differ by process and are restored per process from the checkpoint
    assert two_processes["resumed"] == two_processes["straight"]
    assert two_processes["ranks"][0]["resumed_w"] == two_processes["ranks"][0]["straight_w"]
    assert two_processes["files"] == ["ckpt.pt"]  # one file, from process 0; no temporary files left


def test_a_checkpoint_process_0_cannot_write_stops_every_process(two_processes):
    failed = [r["checkpoint_failure"] for r in two_processes["ranks"]]
    assert failed[0] == "disk full"  # process 0's own error
    assert failed[1] is not None and "process 0 could not write the checkpoint" in failed[1]


def test_without_a_launch_everything_is_one_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    model = torch.nn.Linear(2, 1)
    assert not distributed.launched() and distributed.wrap(model) is model
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    idx = torch.arange(10)
    local, scale = distributed.shard_batch(idx)
    assert torch.equal(local, idx) and scale == 1.0
    assert not distributed.is_wrapped(distributed.LossModule(model, lambda m, x: m(x).sum()))
    assert distributed.mean_over_ranks({"a": 1.5}) == {"a": 1.5}
    assert distributed.sum_over_ranks(1, 2) == [1.0, 2.0]
    assert distributed.broadcast_flag(True) is True
    assert distributed.all_gather_objects({"x": 1}) == [{"x": 1}]
    monkeypatch.setenv("WORLD_SIZE", "not a number")
    assert not distributed.launched()


def test_each_launched_process_takes_its_own_gpu(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert distributed.local_cuda_device() == torch.device("cuda", 3)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda", 3)
    assert resolve_device("cuda") == torch.device("cuda", 3)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)  # an explicit index is kept
    monkeypatch.delenv("WORLD_SIZE")
    assert resolve_device("auto") == torch.device("cuda")


def test_init_from_env_releases_its_process_group_at_exit(monkeypatch):
    """The group structaug starts is destroyed by an atexit handler, after a garbage collection
    (DDP wrappers in reference cycles otherwise die in interpreter finalisation, and gloo's
    threads with them: SIGABRT at exit in 7 of 25 loaded torchrun runs)."""
    import atexit

    registered, calls = [], []
    state = {"up": False}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: state["up"])
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda backend: state.update(up=True))
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    monkeypatch.setattr(torch.distributed, "destroy_process_group", lambda: calls.append("destroy"))
    assert distributed.init_from_env("cpu") and distributed.init_from_env("cpu")
    assert registered == [distributed._release_at_exit]  # once, for the group it started

    class Cycle:  # stands in for a DDP wrapper its loss closure refers back to
        pass

    import gc
    import weakref

    gc.disable()
    try:
        obj = Cycle()
        obj.me = obj
        alive = weakref.ref(obj)
        del obj
        assert alive() is not None  # only a collection frees it
        registered[0]()
        assert alive() is None and calls == ["destroy"]
        state["up"] = False  # the script destroyed the group itself: only the collection runs
        registered[0]()
        assert calls == ["destroy"]
    finally:
        gc.enable()


def test_a_group_the_script_started_is_left_to_the_script(monkeypatch):
    import atexit

    registered = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    assert distributed.init_from_env("cpu") and registered == []
