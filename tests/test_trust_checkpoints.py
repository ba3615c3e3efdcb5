"""Issue #20, Trainer checkpoints: fingerprints, checksums, orphan temp files, bad parameters, kill + resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import script_module

from structaug.exceptions import CheckpointMismatchError, CorruptFileError, DataValidationError, InvalidParameterError
from structaug.io import (
    ORPHAN_AGE_S,
    ORPHAN_MIN_AGE_S,
    atomic_torch_save,
    atomic_write_text,
    load_verified,
    remove_orphan_tmps,
    save_verified,
)
from structaug.train import Trainer, batch_indices, minibatch_epoch, predict_batched

# -- a tiny training run --------------------------------------------------------------------


def _data(n=48, seed=0, d=3):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    return X, (X.sum(1, keepdim=True) > 0).float()


def _setup(hidden=4, p=0.0, lr=1e-2, opt="adam"):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.Dropout(p), torch.nn.Linear(hidden, 1))
    optim = (torch.optim.Adam if opt == "adam" else torch.optim.SGD)(model.parameters(), lr=lr)
    return model, optim, torch.Generator().manual_seed(1)


def _fit(ckpt, *, epochs=2, data=None, config=None, hidden=4, p=0.0, lr=1e-2, opt="adam", seed=0, **trainer_kw):
    """Train the tiny model; returns (model, result). ``data``/``config`` go into the fingerprint."""
    model, optim, gen = _setup(hidden, p, lr, opt)
    X, y = _data() if data is None else data
    loss = lambda xb, yb: torch.nn.functional.binary_cross_entropy_with_logits(model(xb), yb)
    fp = {"data": (X, y), "config": {"batch_size": 16} if config is None else config}
    res = Trainer(max_epochs=epochs, seed=seed, verbose=False, checkpoint_path=ckpt, **trainer_kw).fit(
        model,
        optim,
        lambda e: minibatch_epoch(model, optim, loss, [X, y], batch_size=16, generator=gen),
        generators=[gen],
        fingerprint=fp,
    )
    return model, res


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


# -- 1. a checkpoint of other data / config / model / optimizer is refused ------------------


def test_resume_with_other_data_raises_naming_data_and_loads_nothing(tmp_path):
    ckpt = tmp_path / "run.pt"
    _fit(ckpt)
    before = ckpt.read_bytes()
    X, y = _data()
    with pytest.raises(
        CheckpointMismatchError,
        match=r"run\.pt was written for another run: data \('data'\) "
        r"differs: data\[0\]: checkpoint sha256:",
    ):
        _fit(ckpt, data=(X.flip(0), y.flip(0)))  # the same rows, reversed: the reported case
    assert ckpt.read_bytes() == before  # not overwritten either


@pytest.mark.parametrize(
    "change, part, entry",
    [
        (dict(config={"batch_size": 32}), "config", r"config\['batch_size'\]: checkpoint 16, this run 32"),
        (dict(hidden=5), "model", r"tensor '0.weight': checkpoint \(4, 3\) float32, this run \(5, 3\) float32"),
        (dict(p=0.5), "model", r"module '1' p: checkpoint 0.0, this run 0.5"),
        (dict(lr=0.1), "optimizer", r"optimizer 0 lr: checkpoint 0.01, this run 0.1"),
        (dict(opt="sgd"), "optimizer", r"optimizer 0: checkpoint Adam, this run SGD"),
        (dict(seed=1), "trainer", r"seed: checkpoint 0, this run 1"),
        (dict(mode="max"), "trainer", r"mode: checkpoint 'min', this run 'max'"),
    ],
)
def test_resume_with_another_setting_names_the_part_that_differs(tmp_path, change, part, entry):
    ckpt = tmp_path / "run.pt"
    _fit(ckpt)
    with pytest.raises(CheckpointMismatchError, match=rf"\({part!r}\) differs: .*{entry}"):
        _fit(ckpt, **change)


def test_budget_is_not_fingerprinted_and_a_longer_run_equals_an_uninterrupted_one(tmp_path):
    ckpt = tmp_path / "run.pt"
    _fit(ckpt, epochs=2, patience=5, monitor="loss")
    # more epochs, another patience and a time budget: the documented "resume with --epochs 60"
    resumed, res = _fit(ckpt, epochs=4, patience=9, max_time=1e6, monitor="loss")
    ref, ref_res = _fit(None, epochs=4, monitor="loss")
    assert res.resumed_from == 1 and res.epochs_run == 4
    assert all(torch.equal(v, _weights(ref)[k]) for k, v in _weights(resumed).items())
    assert [h["loss"] for h in res.history] == [h["loss"] for h in ref_res.history]
    # fewer epochs than the checkpoint: returned as it is, nothing retrained
    again, res2 = _fit(ckpt, epochs=1, monitor="loss")
    assert res2.epochs_run == 4 and all(torch.equal(v, _weights(ref)[k]) for k, v in _weights(again).items())


def test_a_missing_or_extra_fingerprint_part_is_a_mismatch(tmp_path):
    ckpt = tmp_path / "run.pt"
    _fit(ckpt)
    model, optim, _ = _setup()
    with pytest.raises(
        CheckpointMismatchError,
        match=r"data \('data'\): the checkpoint has a 'data' fingerprint, "
        r"this run gives none",
    ):
        Trainer(max_epochs=2, seed=0, verbose=False, checkpoint_path=ckpt).fit(
            model, optim, lambda e: {}, generators=[torch.Generator()]
        )


def test_format1_checkpoint_is_refused_with_how_to_start_over(tmp_path):
    ckpt = tmp_path / "old.pt"
    model, optim, gen = _setup()
    # what the Trainer wrote before checksums and fingerprints
    atomic_torch_save(
        {
            "format": 1,
            "model": model.state_dict(),
            "optimizers": [optim.state_dict()],
            "stateful": [],
            "rng": {"torch": torch.get_rng_state(), "gens": [gen.get_state()]},
            "history": [],
            "best_epoch": None,
            "best_score": None,
            "best_state": None,
            "wait": 0,
            "epoch": 0,
            "elapsed": 0.0,
            "stopped": False,
        },
        ckpt,
    )
    with pytest.raises(
        CheckpointMismatchError,
        match=r"old\.pt was written by an older structaug \(format 1.*"
        r"resume=False to start over",
    ):
        _fit(ckpt)
    _, res = _fit(ckpt, resume=False)  # the way out the message gives: start over, overwrite it
    assert res.resumed_from is None and load_verified(ckpt)["format"] == 2


def test_bench_rerun_on_reversed_data_is_refused_not_reported_with_the_old_scores(tmp_path):
    """The reported case: ``bench mclrec --checkpoint-dir`` names checkpoints by dataset name, so a
    rerun on a changed file resumed the other data's checkpoint and reported its NDCG."""
    from structaug.bench import BenchConfig
    from structaug.bench import mclrec as bench

    rng = np.random.default_rng(0)
    (tmp_path / "seqrec").mkdir()
    seqs = [rng.integers(1, 25, size=rng.integers(5, 8)).tolist() for _ in range(40)]
    write = lambda rows: (tmp_path / "seqrec" / "Beauty.txt").write_text(
        "\n".join(" ".join(map(str, [u + 1, *s])) for u, s in enumerate(rows)) + "\n"
    )
    extra = {"methods": "SASRec", "epochs": 1, "batch_size": 64, "checkpoint_dir": str(tmp_path / "ckpt")}
    cfg = BenchConfig(data_dir=str(tmp_path), datasets=["Beauty"], seeds=[0], verbose=False, extra=extra)
    write(seqs)
    first = bench.run(cfg)[0]
    assert first.status == "ok", first.error
    write([s[::-1] for s in seqs])  # same name, same users, reversed sequences
    again = bench.run(cfg)[0]
    assert again.status == "error" and "ndcg@10" not in again.metrics
    assert "CheckpointMismatchError" in again.error and "data ('data') differs" in again.error


def test_fit_sequential_fingerprints_its_data_and_settings_but_not_its_budget(tmp_path):
    from structaug.datasets import make_sequences
    from structaug.recsys import SASRec
    from structaug.recsys.mclrec import (
        SequenceViews,
        build_sequences,
        fit_sequential,
        leave_one_out,
        pad_sequences,
        prefix_examples,
        prepare_interactions,
    )

    log = build_sequences(
        prepare_interactions(make_sequences(n_users=40, n_items=30, min_len=5, max_len=8, random_state=0))
    )
    train, valid, _ = leave_one_out(log.sequences)
    X, y = prefix_examples(train, 8)
    vh = pad_sequences(valid[0], 8), valid[1]
    ckpt = tmp_path / "seq.pt"

    def fit(epochs=1, crop=0.5, data=(X, y)):
        torch.manual_seed(0)
        model = SASRec(log.n_items, max_len=8, hidden_size=8, n_layers=1, n_heads=1, inner_size=16)
        return fit_sequential(
            model,
            *data,
            valid=vh,
            max_epochs=epochs,
            batch_size=64,
            device=torch.device("cpu"),
            seed=0,
            gen=torch.Generator().manual_seed(0),
            checkpoint_path=ckpt,
            views=SequenceViews(crop_ratio=crop, mask_ratio=0.5, reorder_ratio=0.8),
        )

    fit()
    with pytest.raises(CheckpointMismatchError, match=r"config\['view_crop_ratio'\]: checkpoint 0.5, this run 0.6"):
        fit(crop=0.6)
    with pytest.raises(CheckpointMismatchError, match=r"data\[0\]: checkpoint sha256:"):
        fit(data=(X.flip(0), y.flip(0)))  # the same examples in another order
    assert fit(epochs=2).resumed_from == 0  # the budget may grow


# -- 2. corrupt checkpoints are never used ---------------------------------------------------


@pytest.mark.parametrize("damage", ["flip-middle", "flip-quarter", "truncate", "empty", "text"])
def test_corrupt_checkpoint_raises_and_the_model_is_untouched(tmp_path, damage):
    ckpt = tmp_path / "run.pt"
    _fit(ckpt)
    raw = bytearray(ckpt.read_bytes())
    if damage.startswith("flip"):
        i = len(raw) // 2 if damage == "flip-middle" else len(raw) // 4
        raw[i] ^= 0x01
    elif damage == "truncate":
        raw = raw[: len(raw) * 2 // 3]
    elif damage == "empty":
        raw = bytearray()
    else:
        raw = bytearray(b'{"not": "a checkpoint"}')
    ckpt.write_bytes(bytes(raw))
    model, optim, gen = _setup()
    w0 = _weights(model)
    with pytest.raises(
        CorruptFileError,
        match=r"checkpoint .*run\.pt is corrupt.*nothing from it was used: "
        r"delete the file",
    ):
        Trainer(max_epochs=2, seed=0, verbose=False, checkpoint_path=ckpt).fit(
            model, optim, lambda e: {}, generators=[gen]
        )
    assert all(torch.equal(v, w0[k]) for k, v in _weights(model).items())


def test_no_single_byte_flip_loads_different_content(tmp_path):
    """Every flipped byte (sampled over the file) is either caught or left the payload intact
    (zip padding): garbage is never returned."""
    path = tmp_path / "f.pt"
    obj = {"w": torch.arange(50, dtype=torch.float32), "n": 3}
    save_verified(obj, path)
    raw = path.read_bytes()
    caught = 0
    for i in range(0, len(raw), max(1, len(raw) // 150)):
        bad = bytearray(raw)
        bad[i] ^= 0x10
        path.write_bytes(bytes(bad))
        try:
            got = load_verified(path)
        except CorruptFileError:
            caught += 1
            continue
        assert torch.equal(got["w"], obj["w"]) and got["n"] == 3, f"byte {i}"
    assert caught > 100


# -- 3. orphan temporary files ----------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from structaug.io import _atomic_write

    def write(fh):
        fh.write(b"half a checkpoint")
        fh.flush()
        Path(sys.argv[2]).write_text("writing")
        time.sleep(60)  # killed here

    _atomic_write(sys.argv[1], write)
""")


def _env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS=str(torch.get_num_threads()))


def _wait_for(path: Path, proc: subprocess.Popen, timeout=90.0):
    t0 = time.monotonic()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "the subprocess never got there"
        time.sleep(0.05)


def test_orphan_tmp_of_a_killed_writer_is_removed_but_a_live_writers_is_kept(tmp_path):
    target = tmp_path / "ckpt.pt"
    atomic_write_text("version 1", target)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(target), str(tmp_path / "started")],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(tmp_path / "started", proc)
        tmps = [p for p in tmp_path.iterdir() if p.name.startswith(".ckpt.pt.") and p.name.endswith(".tmp")]
        assert len(tmps) == 1 and f".{proc.pid}." in tmps[0].name
        atomic_write_text("version 2", target)  # the writer is alive: its tmp stays
        assert tmps[0].exists()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert tmps[0].exists()  # SIGKILL: nothing cleaned up
        atomic_write_text("version 3", target)  # dead writer, but the tmp is seconds old: kept a minute
        assert tmps[0].exists()
        past = time.time() - ORPHAN_MIN_AGE_S - 5
        os.utime(tmps[0], (past, past))
        atomic_write_text("version 3", target)  # the next save of the same target removes the orphan
        assert not tmps[0].exists() and target.read_text() == "version 3"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt", "started", "writer.py"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_tmps_that_cannot_be_attributed_are_removed_only_when_old(tmp_path):
    target = tmp_path / "a.pt"
    old, new = time.time() - ORPHAN_AGE_S - 60, time.time()
    files = {
        ".a.pt.otherhost.12345.abcd1234.tmp": (old, True),  # another host: by age only
        ".a.pt.otherhost.12346.abcd1235.tmp": (new, False),
        ".a.pt.x7k2_9qa.tmp": (old, True),  # written before pids were recorded
        ".a.pt.x7k2_9qb.tmp": (new, False),
        ".a.pt.b.x7k2_9qc.tmp": (old, False),  # an old tmp of another target, "a.pt.b"
        "notes.txt": (old, False),
    }
    for name, (mtime, _) in files.items():
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (mtime, mtime))
    removed = {p.name for p in remove_orphan_tmps(target)}
    assert removed == {n for n, (_, gone) in files.items() if gone}
    assert all((tmp_path / n).exists() != gone for n, (_, gone) in files.items())


# -- 4. foreign files and loads that fail anyway -----------------------------------------------


def test_foreign_files_at_the_checkpoint_path(tmp_path):
    ckpt = tmp_path / "x.pt"
    torch.save({"weight": torch.ones(2)}, ckpt)  # a plain torch file
    with pytest.raises(CorruptFileError, match="has no structaug checksum"):
        _fit(ckpt)
    save_verified({"cache": 1}, ckpt)  # checksummed, but not a Trainer checkpoint
    with pytest.raises(CheckpointMismatchError, match=r"x\.pt is not a Trainer checkpoint of format 2"):
        _fit(ckpt)


def test_a_load_that_fails_raises_a_mismatch_and_restores_everything(tmp_path):
    ckpt = tmp_path / "run.pt"
    _fit(ckpt)
    payload = load_verified(ckpt)
    payload["model"]["2.weight"] = torch.zeros(1, 7)  # fingerprint intact, weights of another shape
    save_verified(payload, ckpt)
    model, optim, gen = _setup()
    w0, g0 = _weights(model), gen.get_state()
    with pytest.raises(
        CheckpointMismatchError,
        match=r"run\.pt does not fit this model/optimizers "
        r"\(RuntimeError: .*Nothing was loaded",
    ):
        Trainer(max_epochs=2, seed=0, verbose=False, checkpoint_path=ckpt).fit(
            model, optim, lambda e: {}, generators=[gen], fingerprint={"data": _data(), "config": {"batch_size": 16}}
        )
    # load_state_dict had already copied the matching tensors: they were put back
    assert all(torch.equal(v, w0[k]) for k, v in _weights(model).items()) and torch.equal(gen.get_state(), g0)


# -- 5. parameters ------------------------------------------------------------------------------

BAD_BATCH = [0, -1, 2.5, "8", True, None]


@pytest.mark.parametrize("bad", BAD_BATCH)
@pytest.mark.parametrize("fn", ["batch_indices", "minibatch_epoch", "predict_batched"])
def test_bad_batch_size_is_an_invalid_parameter_at_the_call(fn, bad):
    model = torch.nn.Linear(3, 1)
    X = torch.zeros(5, 3)
    call = {
        "batch_indices": lambda: batch_indices(5, bad),  # raised by the call, not the first next()
        "minibatch_epoch": lambda: minibatch_epoch(
            model, torch.optim.SGD(model.parameters(), lr=0.1), lambda xb: model(xb).sum(), [X], batch_size=bad
        ),
        "predict_batched": lambda: predict_batched(model, [X], batch_size=bad),
    }[fn]
    with pytest.raises(InvalidParameterError, match="batch_size"):
        call()


def test_batch_helpers_data_checks_and_valid_edges():
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(DataValidationError, match=r"tensors\[0\]=5, tensors\[1\]=4"):
        predict_batched(lambda a, b: a, [torch.zeros(5, 3), torch.zeros(4)])
    with pytest.raises(DataValidationError, match="tensors have no rows"):
        minibatch_epoch(model, opt, lambda xb: model(xb).sum(), [torch.zeros(0, 3)], batch_size=2)
    with pytest.raises(InvalidParameterError, match=r"tensors must be a non-empty list"):
        predict_batched(model, torch.zeros(5, 3))
    with pytest.raises(InvalidParameterError, match="n must be >= 0"):
        batch_indices(-1, 2)
    # documented valid edges, with their values
    assert predict_batched(model, [torch.zeros(0, 3)]).shape == (0,)
    assert list(batch_indices(0, 4)) == []
    assert [b.tolist() for b in batch_indices(5, 2, shuffle=False)] == [[0, 1], [2, 3], [4]]
    out = predict_batched(lambda x: x * 2, [torch.arange(5.0)], batch_size=2)
    assert torch.equal(out, torch.arange(5.0) * 2)


@pytest.mark.parametrize(
    "param, value",
    [
        ("max_epochs", -1),
        ("max_epochs", 2.5),
        ("max_epochs", "10"),
        ("patience", 0),
        ("patience", 1.5),
        ("checkpoint_every", 0),
        ("checkpoint_every", -2),
        ("max_time", 0),
        ("max_time", -5),
        ("max_time", float("nan")),
        ("max_time", float("inf")),
        ("mode", "up"),
        ("min_delta", float("nan")),
        ("min_delta", -0.1),
        ("min_delta", "0"),
        ("monitor", 3),
        ("seed", 1.5),
        ("seed", True),
        ("device", "gpu"),
        ("resume", "False"),
        ("restore_best", 1),
        ("verbose", "yes"),
        ("checkpoint_path", 3),
        ("checkpoint_path", ""),
    ],
)
def test_bad_trainer_parameter_names_it(param, value):
    with pytest.raises(InvalidParameterError, match=rf"^{param}\b"):
        Trainer(**{param: value})


def test_bad_fit_arguments_name_them_before_any_epoch(tmp_path):
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = []
    epoch = lambda e: calls.append(e) or {}
    t = Trainer(max_epochs=2, verbose=False)
    cases = [
        (lambda: t.fit("model", opt, epoch), r"^model must be a torch.nn.Module"),
        (lambda: t.fit(model, "adam", epoch), r"^optimizer must be a torch.optim.Optimizer"),
        (lambda: t.fit(model, [opt, None], epoch), r"^optimizer\[1\] must be"),
        (lambda: t.fit(model, opt, None), r"^train_epoch must be callable"),
        (lambda: t.fit(model, opt, epoch, validate=1), r"^validate must be callable"),
        (lambda: t.fit(model, opt, epoch, fingerprint=[1, 2]), r"^fingerprint must be a mapping"),
        (lambda: t.fit(model, opt, epoch, fingerprint={1: "x"}), r"^fingerprint keys must be"),
        (lambda: t.fit(model, opt, epoch, generators=[0]), r"^generators\[0\] must be"),
        (lambda: t.fit(model, opt, epoch, stateful=[object()]), r"^stateful\[0\] \(object\) has no state_dict"),
        (
            lambda: Trainer(max_epochs=2, verbose=False, checkpoint_path=tmp_path).fit(model, opt, epoch),
            r"^checkpoint_path .* is a folder",
        ),
    ]
    (tmp_path / "file").write_text("")
    cases.append(
        (
            lambda: Trainer(max_epochs=2, verbose=False, checkpoint_path=tmp_path / "file" / "c.pt").fit(
                model, opt, epoch
            ),
            r"^checkpoint_path .*c\.pt: its folder cannot be created",
        )
    )
    for call, msg in cases:
        with pytest.raises(InvalidParameterError, match=msg):
            call()
    assert calls == []  # every error came before the first epoch


def test_valid_fingerprint_edges(tmp_path):
    # no caller parts: the automatic ones still guard the resume
    model, optim, gen = _setup()
    Trainer(max_epochs=1, verbose=False, checkpoint_path=tmp_path / "a.pt").fit(model, optim, lambda e: {})
    res = Trainer(max_epochs=2, verbose=False, checkpoint_path=tmp_path / "a.pt").fit(model, optim, lambda e: {})
    assert res.resumed_from == 0 and res.epochs_run == 2
    with pytest.raises(
        CheckpointMismatchError,
        match=r"\('state'\) differs: generators: checkpoint \[\], this run \['torch.Generator\(cpu\)'\]",
    ):
        Trainer(max_epochs=2, verbose=False, checkpoint_path=tmp_path / "a.pt").fit(
            model, optim, lambda e: {}, generators=[gen]
        )
    # numpy scalars, lists and a digest string describe the same as Python values / tuples
    fp = {"config": {"lr": np.float64(0.5), "sizes": [1, 2]}, "data": "ab" * 32}
    Trainer(max_epochs=1, verbose=False, checkpoint_path=tmp_path / "b.pt").fit(
        model, optim, lambda e: {}, fingerprint=fp
    )
    res = Trainer(max_epochs=2, verbose=False, checkpoint_path=tmp_path / "b.pt").fit(
        model, optim, lambda e: {}, fingerprint={"config": {"lr": 0.5, "sizes": (1, 2)}, "data": "ab" * 32}
    )
    assert res.resumed_from == 0
    assert load_verified(tmp_path / "b.pt")["fingerprint"]["config"] == {
        "config['lr']": "0.5",
        "config['sizes']": "(1, 2)",
    }


def test_attributes_a_torch_release_adds_do_not_orphan_checkpoints(tmp_path):
    ckpt = tmp_path / "run.pt"
    _fit(ckpt, epochs=1)
    payload = load_verified(ckpt)
    fp = payload["fingerprint"]
    # as if written by a torch without Adam's decoupled_weight_decay and Dropout's inplace
    del fp["optimizer"]["optimizer 0 decoupled_weight_decay"], fp["model"]["module '1' inplace"]
    save_verified(payload, ckpt)
    _, res = _fit(ckpt, epochs=2)
    assert res.resumed_from == 0 and res.epochs_run == 2
    # a tensor the checkpoint lacks is still a mismatch
    payload = load_verified(ckpt)
    del payload["fingerprint"]["model"]["tensor '2.bias'"]
    save_verified(payload, ckpt)
    with pytest.raises(CheckpointMismatchError, match=r"tensor '2.bias': checkpoint absent, this run \(1,\) float32"):
        _fit(ckpt, epochs=3)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "0", [0]])
def test_bad_random_state_names_it(bad):
    from structaug.random import check_random_state

    with pytest.raises(InvalidParameterError, match="^random_state must be"):
        check_random_state(bad)


# -- 6. fault: SIGKILL mid-training, resume, identical to an uninterrupted run ----------------

RUN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np
    import torch
    from structaug.train import Trainer, minibatch_epoch

    def run(ckpt, pause_at=None, marker=None, epochs=6):
        g = torch.Generator().manual_seed(0)
        X = torch.randn(64, 4, generator=g)
        y = (X[:, :2].sum(1) > 0).long()
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                    torch.nn.Linear(8, 2))
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        gen, rng = torch.Generator().manual_seed(1), np.random.default_rng(2)
        loss = lambda xb, yb: torch.nn.functional.cross_entropy(model(xb), yb)

        def epoch(e):
            if e == pause_at:  # checkpoint e-1 is on disk: wait here to be killed
                Path(marker).write_text(str(e))
                time.sleep(120)
            out = minibatch_epoch(model, opt, loss, [X, y], batch_size=16, generator=gen)
            sched.step()
            out["noise"] = float(rng.random())  # a numpy generator's stream must resume too
            return out

        def val(e):
            with torch.no_grad():
                return {"val_loss": float(loss(X, y))}

        res = Trainer(max_epochs=epochs, seed=0, verbose=False, checkpoint_path=ckpt, patience=10).fit(
            model, opt, epoch, val, generators=[gen, rng], stateful=[sched],
            fingerprint={"data": (X, y), "config": {"lr": 1e-2, "batch_size": 16}})
        return model, res

    if __name__ == "__main__":
        run(sys.argv[1], pause_at=int(sys.argv[2]), marker=sys.argv[3])
""")


def _load_run(tmp_path):
    return script_module(tmp_path, "faultrun", RUN)


def test_sigkill_mid_training_then_resume_equals_an_uninterrupted_run(tmp_path):
    mod, script = _load_run(tmp_path)
    ckpt, marker, k = tmp_path / "run.pt", tmp_path / "paused", 3
    proc = subprocess.Popen(
        [sys.executable, str(script), str(ckpt), str(k), str(marker)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(marker, proc)
        assert load_verified(ckpt)["epoch"] == k - 1  # epochs 0..k-1 are on disk
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    resumed, res = mod.run(ckpt)
    ref, ref_res = mod.run(None)
    assert res.resumed_from == k - 1 and res.epochs_run == ref_res.epochs_run == 6
    assert all(torch.equal(v, _weights(ref)[k_]) for k_, v in _weights(resumed).items())
    strip = lambda h: [{k_: v for k_, v in m.items() if k_ not in ("epoch_time",)} for m in h]
    assert strip(res.history) == strip(ref_res.history)  # losses, val_loss and the numpy draws
    assert (res.best_epoch, res.best_score) == (ref_res.best_epoch, ref_res.best_score)


def test_tmp_of_a_same_named_host_in_another_pid_space_is_kept(tmp_path):
    """Another container with this hostname (or one that shares its first characters) writes
    tmp names whose pid means nothing here: they go by age only, never as a "dead" local pid."""
    import socket

    target = tmp_path / "a.pt"
    alien = tmp_path / f".a.pt.{socket.gethostname()[:32]}.999999.abcd1234.tmp"
    alien.write_text("a live writer elsewhere")
    past = time.time() - ORPHAN_MIN_AGE_S - 5
    os.utime(alien, (past, past))
    assert remove_orphan_tmps(target) == [] and alien.exists()


def test_fingerprint_is_the_same_in_another_process_or_refuses():
    """Sets hash independently of PYTHONHASHSEED, numpy scalars as their values, and an object
    whose only representation is a memory address is refused instead of never matching."""
    import numpy as np

    from structaug.exceptions import InvalidParameterError
    from structaug.io import fingerprint

    values = {"a": {"x", "y", "z"}, "b": np.int64(3), "c": [np.float32(0.5)]}
    code = (
        "import numpy as np; from structaug.io import fingerprint; "
        "print(fingerprint({'a': {'x', 'y', 'z'}, 'b': np.int64(3), 'c': [np.float32(0.5)]}))"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**_env(), "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in (1, 2)
    }
    assert digests == {fingerprint(values)}
    assert fingerprint(np.int64(1)) == fingerprint(1)
    with pytest.raises(InvalidParameterError, match="memory address"):
        fingerprint({"rng": np.random.default_rng(0)})
