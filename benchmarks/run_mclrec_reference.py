"""MCLRec: structaug's training step against the reference implementation (QinHsiu/MCLRec), side by side.

Both sides train MCLRec on Beauty with the reference's Beauty settings
(``scripts/train_beauty.sh`` on top of its ``seq.yaml`` and ``MCLRec.yaml``: SASRec encoder with
2 layers, 2 heads, hidden 64, inner 256, GELU, hidden and attention dropout 0.5, max length 50;
batches of 256, Adam lr 1e-3, no weight decay; crop 0.5 / mask 0.5 / reorder 0.8 views;
lmd 0, beta 0.05, temperature 1, dot similarity, the regulariser on (``use_rl=1``, weight 0.1);
augmenters 64 → 32 → 16 → 64; ``joint=0``: the three-stage meta update per batch, encoder step
→ augmenter step → encoder step). Each side runs in its own fresh process with one torch
thread, in float32 (the reference has no bf16), and the order alternates between repeats so
drift in the machine's load does not favour one side. Per run: ``--warmup`` steps, then
``--steps`` timed steps; recorded are the mean (and median) wall milliseconds per step, CPU
milliseconds per step, the peak resident memory during the steps (the high-water mark reset
just before the first step, so it includes the data already loaded) and over the whole
process, and the **extrapolated** epoch time (batches per epoch, 514 on both sides, × mean ms
per step; no epoch is run). Timing starts from the same point on both sides: the time between
the starts of consecutive training steps, so a step includes making the next batch and its
two data-level views.

* reference: its ``recbole.trainer.Trainer._train_epoch`` runs unchanged (its dataloader, its
  per-sequence views in ``SequentialDataLoader.mclrec_aug``, its three stages with
  ``optimizer`` / ``optimizer_1`` / ``optimizer``), with the model's ``calculate_loss`` passed
  in as ``loss_func`` behind a wrapper that records the time of each batch's first call
  (``mode="step1"``) and ends the epoch after ``warmup + steps`` batches. The model, dataset,
  dataloaders and trainer are built as its ``run_recbole`` (``run_seq.py``) builds them, from
  its own ``seq.yaml`` and the arguments of its ``scripts/train_beauty.sh`` (read from the
  checkout), on the CPU (``use_gpu=False``). It reads its own
  ``dataset/Amazon_Beauty/Amazon_Beauty.inter``; its ``Amazon_Beauty.txt`` is byte-identical
  to the ``seqrec/Beauty.txt`` structaug loads, and both workers hash their 131,413 training
  (history, next item) examples in raw item ids: the payload's ``same_examples`` says whether
  the two sides train on the same examples.
* structaug: the committed ``train_one_epoch`` with ``MODELS["MCLRec"]`` and ``VIEWS`` from
  ``benchmarks/run_mclrec_epoch_time.py`` (``MCLRec(n_items, lmd=0.0, beta=0.05)``, the
  paper's views), with ``model.train_step`` behind the same kind of wrapper. ``--variants``
  picks the structaug rows: ``fp32`` (uniformly shuffled batches, as the reference's: the
  ratio the summary leads with), ``fp32+bucket`` (length-bucketed batches, the benchmark's and
  recommender's default) and ``bf16+bucket`` (bf16 autocast, an extra row: the reference has
  no bf16).

Both workers count the optimiser steps (per training step: 2 encoder steps, 1 augmenter step)
and report their settings; the markdown lists them side by side and ``settings_differ`` names
any setting that differs.

Differences that remain (same settings, different implementations):

* The reference's mask operator writes item 0 (the padding id) into the masked positions;
  structaug writes a mask token (``n_items + 1``). The same number of positions is masked.
* The reference runs its encoder on all 50 positions of every batch and every layer;
  structaug drops columns that are padding in every row of the batch and computes the last
  block at the read position only (same numbers). With ``+bucket`` batches hold similar
  lengths (which also makes the in-batch negatives length-correlated).
* Stage 2: the reference calls its full ``calculate_loss`` (forwards of the sequence and both
  views with autograd, a backward through the encoder whose gradients stage 3 then zeroes);
  structaug encodes the two views without autograd. The augmenter update is the same.
* The reference's next-item cross-entropy also scores the padding row (12,102 columns;
  structaug 12,101), makes each view's encoding in a separate call (structaug stacks the
  three), builds the contrastive masks with a Python loop per call, and steps ``torch.optim.Adam``
  per parameter (structaug: fused Adam); its views are made per sequence in Python, structaug's
  vectorised. Random draws (batch order, views, dropout) differ.
* The reference process also holds its validation and test dataloaders (built by its
  ``data_preparation``); its peak memory includes them.
* Under pandas 3 the reference's in-place ``fillna`` is a no-op (it warns); Beauty has no
  missing values, so nothing changes (the examples' hashes agree).

The reference needs ``colorlog`` and ``colorama`` (its ``recbole.utils.logger`` imports them),
which structaug's environment does not have; they are pure Python and go to a separate folder
given as ``--ref-deps``, added to the reference worker's ``sys.path`` only. Everything else it
imports (numpy, pandas, scipy, scikit-learn, PyYAML, tqdm, torch) comes from structaug's
environment. The reference code (written against commit bc8d622b of QinHsiu/MCLRec, 2024-01-05)
stays outside this repository::

    git clone https://github.com/QinHsiu/MCLRec /tmp/MCLRec
    pip install --no-deps --target /tmp/mclrec-deps colorlog==4.7.2 colorama==0.4.4
    OMP_NUM_THREADS=1 python benchmarks/run_mclrec_reference.py --reference /tmp/MCLRec \\
        --ref-deps /tmp/mclrec-deps --repeats 3 --out benchmarks/results/mclrec_reference.json
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from structaug.bench import add_out_arguments, check_ref_deps, claim_out, markdown_header, write_script_results
from structaug.results import (
    StepClock,
    alternating_runs,
    environment,
    in_fresh_process,
    peak_memory_mib,
    reset_peak_memory,
)

BATCH_SIZE = 256
BEAUTY_BATCHES = 514  # Beauty's 131,413 training prefixes in batches of 256, on both sides
#: the reference's Beauty run: its script and config files, inside the checkout
REF_SCRIPT = Path("scripts") / "train_beauty.sh"
REF_YAML = "seq.yaml"
REF_DATASET = "Amazon_Beauty"
#: settings each side reports, in table order
SETTINGS = [
    "hidden_size",
    "n_layers",
    "n_heads",
    "inner_size",
    "hidden_dropout",
    "attn_dropout",
    "layer_norm_eps",
    "init_std",
    "max_len",
    "batch_size",
    "optimizer",
    "lr",
    "weight_decay",
    "lmd",
    "beta",
    "temperature",
    "sim",
    "regulariser",
    "reg_weight",
    "augmenter_sizes",
    "crop_keep",
    "mask_ratio",
    "reorder_ratio",
    "meta_update",
    "precision",
]
VARIANTS = ("fp32", "fp32+bucket", "bf16", "bf16+bucket")


def _counted(counts: Counter, key: str, fn: Any) -> Any:
    def run(*a: Any, **k: Any) -> Any:
        counts[key] += 1
        return fn(*a, **k)

    return run


def _examples_digest(histories: Any, targets: Any) -> str:
    """Order-free hash of (history, next item) rows in raw item ids (padding -1)."""
    import numpy as np

    rows = np.concatenate([histories, targets[:, None]], 1).astype(np.int64)
    rows = rows[np.lexsort(rows.T[::-1])]
    return hashlib.sha256(np.ascontiguousarray(rows).tobytes()).hexdigest()[:16]


def structaug_worker(
    data_dir: str | None, seed: int, warmup: int, steps: int, precision: str, bucket: bool
) -> dict[str, Any]:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    # the epoch-time benchmark's model and views (benchmarks/ is on the path: this script's folder)
    from run_mclrec_epoch_time import MODELS, VIEWS

    from structaug.datasets import load_seqrec
    from structaug.recsys.mclrec import build_sequences, leave_one_out, prefix_examples, prepare_interactions
    from structaug.recsys.mclrec._training import fitted_views, train_one_epoch

    t0 = time.perf_counter()
    log = build_sequences(prepare_interactions(load_seqrec("Beauty", data_dir)))
    train, _, _ = leave_one_out(log.sequences)
    X, y = prefix_examples(train, 50)
    raw = np.concatenate([[-1], log.items.raw_.astype(np.int64)])
    digest = _examples_digest(raw[X.numpy()], raw[y.numpy()])
    torch.manual_seed(seed)
    model = MODELS["MCLRec"](log.n_items)
    opts = model.make_optimizers(1e-3)
    gen = torch.Generator().manual_seed(seed)
    views = fitted_views(VIEWS, model, X)  # what train_one_epoch would fit, fitted once here
    counts: Counter = Counter()
    for name, opt in zip(("encoder", "augmenters"), opts):
        opt.step = _counted(counts, f"{name}_optimizer_steps", opt.step)
    stamp = StepClock(warmup, steps)
    real_step = model.train_step

    def train_step(*a: Any, **k: Any) -> Any:
        stamp()
        counts["train_step"] += 1
        return real_step(*a, **k)

    model.train_step = train_step
    setup_s = time.perf_counter() - t0
    peak_setup = peak_memory_mib()
    reset_peak_memory()
    with contextlib.suppress(StepClock.Enough):
        train_one_epoch(
            model, opts, X, y, batch_size=BATCH_SIZE, gen=gen, views=views, bucket=bucket, precision=precision
        )
    peak_steps = peak_memory_mib()
    enc, blk, aug_layers = model, model.blocks[0], [m for m in model.aug1.mlp if isinstance(m, torch.nn.Linear)]
    group = opts[0].param_groups[0]
    settings = {
        "hidden_size": enc.hidden_size,
        "n_layers": len(enc.blocks),
        "n_heads": blk.n_heads,
        "inner_size": blk.ff1.out_features,
        "hidden_dropout": enc.drop.p,
        "attn_dropout": blk.attn_drop.p,
        "layer_norm_eps": enc.ln.eps,
        "init_std": enc._init_std,
        "max_len": int(X.shape[1]),
        "batch_size": BATCH_SIZE,
        "optimizer": type(opts[0]).__name__.lower(),
        "lr": group["lr"],
        "weight_decay": group["weight_decay"],
        "lmd": model.lmd,
        "beta": model.beta,
        "temperature": model.temperature,
        "sim": model.sim,
        "regulariser": model.use_reg,
        "reg_weight": model.reg_weight,
        "augmenter_sizes": [aug_layers[0].in_features] + [m.out_features for m in aug_layers],
        "crop_keep": views.crop_ratio,
        "mask_ratio": views.mask_ratio,
        "reorder_ratio": views.reorder_ratio,
        "meta_update": "three-stage",
        "precision": precision,
    }
    return {
        **stamp.timing(math.ceil(len(X) / BATCH_SIZE)),
        "setup_s": setup_s,
        "peak_steps_mib": peak_steps,
        "peak_process_mib": max(peak_setup, peak_steps),
        "n_train": int(len(X)),
        "n_items": log.n_items,
        "examples": digest,
        "counts": dict(counts),
        "settings": settings,
        "torch_threads": torch.get_num_threads(),
    }


def reference_args(reference: Path) -> list[str]:
    """``run_seq.py`` and its arguments as the reference's Beauty script runs it."""
    for line in (reference / REF_SCRIPT).read_text().splitlines():
        if "run_seq.py" in line:
            words = shlex.split(line)
            return words[words.index("run_seq.py") :]
    raise RuntimeError(f"no run_seq.py line in {reference / REF_SCRIPT}")


def reference_worker(reference: Path, deps: list[str], seed: int, warmup: int, steps: int) -> dict[str, Any]:
    """Build the reference's model, data and trainer as its ``run_recbole`` does, then run its
    ``Trainer._train_epoch`` unchanged, timed from outside."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    sys.path[:0] = [str(reference), *deps]
    home, work = os.getcwd(), tempfile.mkdtemp(prefix="mclrec_ref_")
    os.chdir(work)  # its Trainer creates ./log/Checkpoint
    sys.argv = reference_args(reference)  # RecBole's Config reads its --key=value arguments
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    t0 = time.perf_counter()
    overrides = {
        "use_gpu": False,
        "seed": seed,
        "data_path": str(reference / "dataset"),
    }
    config = Config(
        model="MCLRec", dataset=REF_DATASET, config_file_list=[str(reference / REF_YAML)], config_dict=overrides
    )
    init_seed(config["seed"], config["reproducibility"])
    config["log_dir"] = os.getcwd()
    dataset = create_dataset(config)
    train_data, _valid_data, _test_data = data_preparation(config, dataset)
    model = get_model(config["model"])(config, train_data).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)

    pre = train_data.pre_processed_data
    tokens = dataset.field2id_token["item_id"]  # id 0 is [PAD]
    lut = np.array([-1] + [int(t) for t in tokens[1:]], dtype=np.int64)
    digest = _examples_digest(lut[pre["item_id_list"].numpy()], lut[pre["item_id"].numpy()])

    counts: Counter = Counter()
    trainer.optimizer.step = _counted(counts, "encoder_optimizer_steps", trainer.optimizer.step)
    trainer.optimizer_1.step = _counted(counts, "augmenters_optimizer_steps", trainer.optimizer_1.step)
    stamp = StepClock(warmup, steps)

    def loss_func(interaction: Any, meta_aug: Any = None, mode: Any = None) -> Any:
        if mode == "step1":  # each batch's first call: the start of a training step
            stamp()
            counts["train_step"] += 1
        counts[f"calculate_loss_{mode}"] += 1
        return model.calculate_loss(interaction, meta_aug, mode)

    setup_s = time.perf_counter() - t0
    peak_setup = peak_memory_mib()
    reset_peak_memory()
    try:
        with contextlib.suppress(StepClock.Enough):
            trainer._train_epoch(train_data, 0, loss_func=loss_func)
    finally:
        os.chdir(home)
        shutil.rmtree(work, ignore_errors=True)
    peak_steps = peak_memory_mib()
    aug = trainer.aug_1
    group = trainer.optimizer.param_groups[0]
    settings = {
        "hidden_size": config["hidden_size"],
        "n_layers": config["n_layers"],
        "n_heads": config["n_heads"],
        "inner_size": config["inner_size"],
        "hidden_dropout": config["hidden_dropout_prob"],
        "attn_dropout": config["attn_dropout_prob"],
        "layer_norm_eps": config["layer_norm_eps"],
        "init_std": config["initializer_range"],
        "max_len": config["MAX_ITEM_LIST_LENGTH"],
        "batch_size": config["train_batch_size"],
        "optimizer": type(trainer.optimizer).__name__.lower(),
        "lr": group["lr"],
        "weight_decay": group["weight_decay"],
        "lmd": config["lmd"],
        "beta": config["beta"],
        "temperature": config["tau"],
        "sim": config["sim"],
        "regulariser": bool(config["use_rl"]),
        "reg_weight": 0.1,  # a constant in its meta_rl
        "augmenter_sizes": [aug.dense_1.in_features, aug.dense_1.out_features]
        + [aug.dense_2.out_features, aug.dense_3.out_features],
        "crop_keep": 1 - config["crop_ratio"],  # its item_crop keeps floor(L * (1 - crop_ratio))
        "mask_ratio": config["mask_ratio"],
        "reorder_ratio": config["reorder_ratio"],
        "meta_update": "three-stage" if config["joint"] == 0 else "joint",
        "precision": "fp32",
    }
    return {
        **stamp.timing(len(train_data)),
        "setup_s": setup_s,
        "peak_steps_mib": peak_steps,
        "peak_process_mib": max(peak_setup, peak_steps),
        "n_train": int(train_data.pr_end),
        "n_items": int(dataset.item_num) - 1,  # its item_num counts the padding id
        "examples": digest,
        "counts": dict(counts),
        "settings": settings,
        "argv": sys.argv,
        "torch_threads": torch.get_num_threads(),
    }


def run_side(side: str, a: argparse.Namespace, seed: int) -> dict[str, Any]:
    """One side in a fresh one-thread process (its own memory peak, nothing cached from the other)."""
    if side == "reference":
        deps = [str(Path(d).resolve()) for d in a.ref_deps]
        return in_fresh_process(reference_worker, a.reference.resolve(), deps, seed, a.warmup, a.steps, threads=1)
    precision, _, batching = side.partition("+")
    return in_fresh_process(
        structaug_worker, a.data_dir, seed, a.warmup, a.steps, precision, batching == "bucket", threads=1
    )


def _label(side: str) -> str:
    return side if side == "reference" else f"structaug {side}"


def summarize(runs: list[dict[str, Any]], sides: list[str]) -> dict[str, Any]:
    """Medians over repeats per side, and structaug / reference."""
    keys = ["ms_per_step", "median_ms_per_step", "cpu_ms_per_step", "epoch_s_extrapolated"]
    keys += ["peak_steps_mib", "peak_process_mib", "setup_s"]
    med = {s: {k: statistics.median(r[k] for r in runs if r["side"] == s) for k in keys} for s in sides}
    ratio = {s: {k: med[s][k] / med["reference"][k] for k in keys if k != "setup_s"} for s in sides if s != "reference"}
    ref = next(r for r in runs if r["side"] == "reference")
    settings = {s: next(r for r in runs if r["side"] == s)["settings"] for s in sides}
    differ = {
        s: [k for k in SETTINGS if settings[s].get(k) != ref["settings"].get(k)] for s in sides if s != "reference"
    }
    full_step = all(
        r["counts"].get("encoder_optimizer_steps") == 2 * r["counts"]["train_step"]
        and r["counts"].get("augmenters_optimizer_steps") == r["counts"]["train_step"]
        and (
            r["side"] != "reference"  # and its three calculate_loss calls per batch
            or all(r["counts"].get(f"calculate_loss_step{i}") == r["counts"]["train_step"] for i in (1, 2, 3))
        )
        for r in runs
    )
    return {
        "median": med,
        "structaug_over_reference": ratio,
        "settings": settings,
        "settings_differ": differ,
        "same_examples": len({r["examples"] for r in runs}) == 1,
        "three_stage_steps_checked": full_step,
    }


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, float):
        return str(v).replace("[", "").replace("]", "").replace(", ", " → ") if isinstance(v, list) else str(v)
    return f"{v:g}"


def markdown(payload: dict[str, Any]) -> str:
    s, cfg, env = payload["summary"], payload["config"], payload["environment"]
    sides = cfg["sides"]
    steps_per_epoch = next(r["steps_per_epoch"] for r in payload["runs"] if r["side"] == "reference")
    lines = markdown_header("MCLRec: structaug against the reference implementation (Beauty)", env) + [
        "",
        f"One torch thread per process, {cfg['repeats']} repeat(s) per side (alternating order), "
        f"{cfg['warmup']} warm-up + {cfg['steps']} timed training steps per run (batches of {BATCH_SIZE}, "
        "the full three-stage meta update each), the reference's Beauty settings on both sides. "
        "Medians over repeats of each run's mean; the epoch time is **extrapolated** "
        f"({steps_per_epoch} batches × mean ms per step), not measured. The reference's Beauty file is "
        f"byte-identical to structaug's: {cfg['data_txt_identical']}; same training examples on both sides "
        f"(hashes of the raw (history, next item) rows): {s['same_examples']}; every step made 2 encoder and "
        f"1 augmenter optimiser steps: {s['three_stage_steps_checked']}.",
        "",
        "| side | ms / step (mean) | ms / step (median) | CPU ms / step | epoch s (extrapolated) "
        "| peak RSS during steps (MiB) | peak RSS of the process (MiB) | wall / reference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for side in sides:
        m = s["median"][side]
        ratio = s["structaug_over_reference"].get(side, {}).get("ms_per_step")
        lines.append(
            f"| {_label(side)} | {m['ms_per_step']:.1f} | {m['median_ms_per_step']:.1f} | {m['cpu_ms_per_step']:.1f} "
            f"| {m['epoch_s_extrapolated']:.1f} | {m['peak_steps_mib']:.0f} | {m['peak_process_mib']:.0f} | "
            + (f"{ratio:.3f}" if ratio is not None else "1")
            + " |"
        )
    lines += ["", "structaug / reference (medians):", "", "| side | wall | CPU | peak RSS during steps | peak RSS |"]
    lines.append("|---|---|---|---|---|")
    for side, r in s["structaug_over_reference"].items():
        lines.append(
            f"| {_label(side)} | {r['ms_per_step']:.3f} | {r['cpu_ms_per_step']:.3f} | "
            f"{r['peak_steps_mib']:.3f} | {r['peak_process_mib']:.3f} |"
        )
    structaug_sides = [x for x in sides if x != "reference"]
    lines += ["", "Settings as each side reports them:", ""]
    lines.append("| setting | reference | " + " | ".join(_label(x) for x in structaug_sides) + " |")
    lines.append("|---|---|" + "---|" * len(structaug_sides))
    for k in SETTINGS:
        vals = [_fmt(s["settings"][x].get(k)) for x in structaug_sides]
        lines.append(f"| {k} | {_fmt(s['settings']['reference'].get(k))} | " + " | ".join(vals) + " |")
    lines += [
        "",
        "Differences that remain (see the script's docstring): the reference masks with the padding id, "
        "structaug with a mask token; the reference runs every layer on all 50 positions, structaug trims "
        "all-padding columns and computes the last block at the read position only (`+bucket`: "
        "length-bucketed batches); the reference's stage 2 runs its full loss with autograd through the "
        "encoder, structaug's encodes the views without autograd; the reference scores the padding row too, "
        "encodes the sequence and each view in separate calls, builds the contrastive masks in Python loops, "
        "makes the views per sequence in Python and uses per-parameter Adam (structaug: fused Adam); its "
        "process also holds its validation and test dataloaders.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path, required=True, help="a checkout of QinHsiu/MCLRec (outside this repo)")
    p.add_argument(
        "--ref-deps",
        action="append",
        default=[],
        metavar="PATH",
        help="a folder with the reference's extra packages (colorlog, colorama), put on its worker's sys.path; "
        "repeatable",
    )
    p.add_argument("--data-dir", default=None, help="structaug's data root (default: STRUCTAUG_DATA, ../shared)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=5, help="untimed steps at the start of each run")
    p.add_argument("--steps", type=int, default=50, help="timed steps per run")
    p.add_argument(
        "--variants",
        default="fp32,fp32+bucket,bf16+bucket",
        help=f"structaug rows, comma-separated from {', '.join(VARIANTS)} (fp32: uniformly shuffled batches "
        "as the reference's; +bucket: length-bucketed batches)",
    )
    p.add_argument("--seed", type=int, default=0, help="the first repeat's seed (then +1 each)")
    add_out_arguments(p, "mclrec_reference")
    a = p.parse_args()
    out = claim_out(p, a)
    variants = [v for v in a.variants.split(",") if v]
    if not variants or any(v not in VARIANTS for v in variants) or len(set(variants)) != len(variants):
        p.error(f"--variants {a.variants!r}: choose distinct names from {', '.join(VARIANTS)}")
    for flag, value, low in (("--repeats", a.repeats, 1), ("--warmup", a.warmup, 0), ("--steps", a.steps, 1)):
        if value < low:
            p.error(f"{flag} {value}: must be at least {low}")
    if a.warmup + a.steps >= BEAUTY_BATCHES:  # both sides stop inside their first epoch
        p.error(f"--warmup + --steps must stay below the {BEAUTY_BATCHES} batches of an epoch")
    if not (a.reference / REF_SCRIPT).is_file() or not (a.reference / "recbole" / "trainer" / "trainer.py").is_file():
        p.error(f"--reference {a.reference}: no {REF_SCRIPT} / recbole there (clone https://github.com/QinHsiu/MCLRec)")
    check_ref_deps(p, a.ref_deps)  # also refuses a folder holding its own torch

    from structaug.datasets._paths import find_dataset

    beauty = find_dataset(Path("seqrec") / "Beauty.txt", "Beauty", a.data_dir)
    ref_txt = a.reference / "dataset" / REF_DATASET / f"{REF_DATASET}.txt"
    sha = {k: hashlib.sha256(f.read_bytes()).hexdigest()[:16] for k, f in (("structaug", beauty), ("ref", ref_txt))}
    sides = ["reference"] + variants
    runs = alternating_runs(
        sides,
        a.repeats,
        a.seed,
        lambda side, seed: run_side(side, a, seed),
        lambda side, seed, r: (
            f"seed {seed} {_label(side):>23}: {r['ms_per_step']:.1f} ms/step (median {r['median_ms_per_step']:.1f}, "
            f"CPU {r['cpu_ms_per_step']:.1f}), epoch ~{r['epoch_s_extrapolated']:.1f} s extrapolated, "
            f"peak {r['peak_steps_mib']:.0f} MiB during steps / {r['peak_process_mib']:.0f} MiB, "
            f"setup {r['setup_s']:.1f} s"
        ),
    )
    payload: dict[str, Any] = {
        "benchmark": "mclrec_reference",
        "environment": environment("cpu"),
        "config": {
            "dataset": "Beauty",
            "repeats": a.repeats,
            "warmup": a.warmup,
            "steps": a.steps,
            "seed": a.seed,
            "sides": sides,
            "batch_size": BATCH_SIZE,
            "threads_per_process": 1,
            "structaug_data": str(beauty),
            "reference_data": f"dataset/{REF_DATASET}/{REF_DATASET}.inter",
            "data_txt_sha256": sha,
            "data_txt_identical": sha["structaug"] == sha["ref"],
        },
        "runs": runs,
    }
    payload["summary"] = summarize(runs, sides)
    md = markdown(payload)
    write_script_results(out, payload, md)
    print(md)


if __name__ == "__main__":
    main()
