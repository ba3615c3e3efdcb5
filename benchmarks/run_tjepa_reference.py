"""T-JEPA: structaug's pre-training step against the reference (jose-melo/t-jepa), side by side.

Both sides pre-train on the same table, PMLB ``adult`` (48,842 rows, 14 columns; the paper's
"AD"), read by structaug's loader (``structaug.datasets.load_pmlb``) from the shared datasets
folder; nothing is downloaded. The reference gets that table through a shim: the worker writes
it as the ``adult.csv`` its own ``src/datasets/adult_income.py`` reads (the Kaggle column names
it expects; PMLB's integer codes are the sorted-label codes its ``LabelEncoder`` produces, and
the 8 categorical columns have exactly its hard-coded cardinalities 9, 16, 7, 15, 6, 5, 2, 42:
checked), and the reference loads, scales (its ``encode_data``) and batches it with its own code.

What is timed: the time between the starts of consecutive pre-training steps (one batch's
rows and masks, the target- and context-encoder forwards, the predictor, the latent MSE,
backward, gradient clipping, AdamW, the lr/weight-decay schedules and the EMA update of the
target encoder), for ``--steps`` steps after ``--warmup`` steps, within the first epoch:

* structaug: ``TJEPA.fit`` (``structaug.tabular.tjepa``), unchanged; the worker wraps the
  ``batch_indices`` iterator its epoch loop draws each batch from, to stamp the start of every
  step and to end ``fit`` (an exception) once enough steps ran.
* reference: its entry point ``run.main(args)`` (``run.py``), which builds its ``Encoder``,
  ``Predictors``, ``MaskCollator``, ``DataLoader``, ``init_optim`` and EMA schedule and calls
  ``src.train.Trainer.train()``; the step timed is the body of that method's loop
  ``for itr, (batch, masks_enc, masks_pred) in enumerate(tqdm(self.dataloader))``. The worker
  swaps ``run.DataLoader`` for a subclass whose iterator stamps the start of every step (before
  the batch is collated, so its per-row mask drawing counts, as structaug's ``masking_.draw``
  does) and ends the run the same way. Its files are imported from ``--reference`` and run
  unedited; none is copied here.

Per run: mean milliseconds per step over the timed steps (and the median step), wall and CPU
seconds of the timed window, peak resident memory of the worker (imports, table and model
included), and the **extrapolated** epoch time: steps per epoch (``ceil(48,842 / batch)``, the
same on both sides) × the mean step time; it leaves out each side's end-of-epoch work
(structaug's collapse probe; the reference's checkpoint writes and logging). Each side runs in
its own fresh process with one torch thread (``structaug.results.in_fresh_process``); the order
alternates between repeats. The result table gives medians over repeats and structaug /
reference.

Settings (both sides; the reference's adult sweep ``scripts/tjepa_tuning/config_tjepa_linear_adult.yaml``
fixes the values marked *; where it sweeps a value, its parser's default in ``src/configs.py`` is
used, which is also structaug's default): batch 512*; encoder 4 layers, width 64, 8 heads,
feed-forward 256, dropout 0.1; 1 [REG]/[CLS] token; feature-type embedding on*, feature-index
embedding off*; transformer predictor* 2 layers, width 64, 4 heads, feed-forward 256, dropout
0.1; one context mask per row with 20-40 % of the features (3-6 of 14), 4 target masks* of
20-40 %, targets disjoint from the context; EMA momentum 0.996 -> 1*; AdamW, lr 1e-4 after a
10-epoch* linear warm-up from 0*, cosine to 0* over 300 epochs*, weight decay 0 -> 0*, none on
biases and norms; gradient values clamped at 1.0; init trunc-normal (std 0.02)*. The sweep's
linear probe every 20 epochs is off (``probe_cadence=0``: no part of a step), as are
TensorBoard* and pinned memory* (CPU). The sweep searches the model sizes, lr, dropouts and mask
shares and the repository publishes no tuned adult values, hence the parser defaults for those.
``--batch-size 64`` gives both parsers' default batch.

Differences that remain (they are what each code does, not settings either side exposes):

* Token positions: the reference indexes masks over the first 14 of its 15 positions ([CLS]
  first), so [CLS] is sometimes in a context or target and the last feature never is; structaug
  always adds its [REG] token to the context and never predicts it: its context encoder and
  predictor see one token more per row (on average 5.5 vs 4.5 context tokens and 10 vs 9
  predictor tokens on average). This costs structaug, not the reference.
* Gradient clipping: the reference clamps the context encoder's gradients in backward hooks and
  leaves the predictor's unclamped; structaug clamps both, after backward.
* Data path: the reference's ``DataLoader`` indexes rows one at a time, draws each row's masks in
  a Python loop in its collate function (``MaskCollator``) and runs scikit-learn's
  ``OneHotEncoder`` on the categorical columns in every encoder forward; structaug indexes a
  batch of rows at once, draws a batch's masks vectorised, and embeds category codes from one
  table. These are counted in the step on both sides: they are the implementations compared.
* Preprocessing (before the timed window): min-max scaling (reference) vs standardisation
  (structaug); structaug's embedding tables have one more ("unknown") row per categorical column.
* Batch order: the reference's ``DataLoader`` does not shuffle; structaug shuffles once per epoch.
* Mask sizes are drawn from the same distribution but different random streams, so the two
  sides' timed steps see different (context, target) sizes; more ``--steps`` average this out.
* Python 3.11 (this venv) cannot parse the reference's ``benchmark.py`` and ``run_benchmark.py``
  (3.12 f-strings), which ``src/train.py`` imports only for the downstream benchmark and the
  linear probe: the worker gives it stand-ins for them, and no-op stand-ins for ``wandb`` (it
  logs gradient histograms in step 0 of an epoch, a warm-up step, and epoch summaries, after
  the timed window), ``torchvision`` and ``torch.utils.tensorboard`` (probe and TensorBoard only).

Dependencies: the reference also imports pytorch-lightning, torchmetrics, lightning-utilities,
tabulate, torchinfo and rtdl_revisiting_models, which this venv does not have. They go in a
separate folder (``--ref-deps``, as in the MCLRec script; ``--deps`` also works), put first on the
reference worker's ``sys.path`` only, installed without their dependencies so no second torch
comes in (the worker refuses a folder holding one). Everything stays outside this repository; reference commit 98dda99 (2024-09-28)::

    git clone https://github.com/jose-melo/t-jepa /work/ref/t-jepa
    pip install --target /work/ref/deps --no-deps tabulate torchinfo pytorch-lightning \\
        lightning-utilities torchmetrics rtdl_revisiting_models
    OMP_NUM_THREADS=1 python benchmarks/run_tjepa_reference.py --reference /work/ref/t-jepa \\
        --deps /work/ref/deps --out benchmarks/results/tjepa_reference.json
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.machinery
import io
import math
import os
import shutil
import statistics
import sys
import tempfile
import types
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
)

SIDES = ["structaug", "reference"]
DATASET = "adult"
#: the reference's categorical columns of adult (``src/datasets/adult_income.py``), PMLB names
CATEGORICAL = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
]
#: the reference's hard-coded ``(column, cardinality)`` pairs for adult
REF_CARDINALITIES = [(1, 9), (3, 16), (5, 7), (6, 15), (7, 6), (8, 5), (9, 2), (13, 42)]
#: the reference files whose digest the JSON records (which version ran)
REF_FILES = ["run.py", "src/train.py", "src/encoder.py", "src/predictors.py", "src/mask.py", "src/utils/optim_utils.py"]

#: digest of REF_FILES -> the reference commit they come from
KNOWN_REFERENCE = {"2bdebe87e392e0a8": "98dda991dd5e5d12266b3557aa80a33c4e0a6606"}


def settings(batch_size: int) -> dict[str, Any]:
    """The shared settings, in the reference's argument names (``src/configs.py``)."""
    return {
        "batch_size": batch_size,
        "model_dim_hidden": 64,
        "model_num_layers": 4,
        "model_num_heads": 8,
        "model_dim_feedforward": 256,
        "model_dropout_prob": 0.1,
        "n_cls_tokens": 1,
        "model_feature_type_embedding": True,
        "model_feature_index_embedding": False,
        "pred_type": "transformer",
        "pred_embed_dim": 64,
        "pred_num_layers": 2,
        "pred_num_heads": 4,
        "pred_dim_feedforward": 256,
        "pred_p_dropout": 0.1,
        "mask_min_ctx_share": 0.2,
        "mask_max_ctx_share": 0.4,
        "mask_min_trgt_share": 0.2,
        "mask_max_trgt_share": 0.4,
        "mask_num_preds": 4,
        "mask_num_encs": 1,
        "mask_allow_overlap": False,
        "model_ema_start": 0.996,
        "model_ema_end": 1.0,
        "exp_lr": 1e-4,
        "exp_start_lr": 0.0,
        "exp_final_lr": 0.0,
        "exp_warmup": 10,
        "exp_train_total_epochs": 300,
        "exp_weight_decay": 0.0,
        "exp_final_weight_decay": 0.0,
        "exp_gradient_clipping": 1.0,
        "init_type": "trunc_normal",
    }


def structaug_params(s: dict[str, Any], seed: int) -> dict[str, Any]:
    """The same settings as :class:`~structaug.tabular.TJEPA` parameters (``masking`` aside)."""
    return {
        "hidden_size": s["model_dim_hidden"],
        "n_layers": s["model_num_layers"],
        "n_heads": s["model_num_heads"],
        "inner_size": s["model_dim_feedforward"],
        "dropout": s["model_dropout_prob"],
        "n_reg_tokens": s["n_cls_tokens"],
        "type_embedding": s["model_feature_type_embedding"],
        "predictor_hidden_size": s["pred_embed_dim"],
        "predictor_n_layers": s["pred_num_layers"],
        "predictor_n_heads": s["pred_num_heads"],
        "predictor_inner_size": s["pred_dim_feedforward"],
        "predictor_dropout": s["pred_p_dropout"],
        "ema_start": s["model_ema_start"],
        "ema_end": s["model_ema_end"],
        "lr": s["exp_lr"],
        "start_lr": s["exp_start_lr"],
        "final_lr": s["exp_final_lr"],
        "warmup_epochs": s["exp_warmup"],
        "weight_decay": s["exp_weight_decay"],
        "final_weight_decay": s["exp_final_weight_decay"],
        "grad_clip": s["exp_gradient_clipping"],
        "batch_size": s["batch_size"],
        "max_epochs": s["exp_train_total_epochs"],
        "patience": None,
        "categorical_features": CATEGORICAL,
        "device": "cpu",
        "random_state": seed,
    }


class _Stamps(StepClock):
    """The shared step clock, also reading the peak memory when the first step starts."""

    def __call__(self) -> None:
        if not self.wall:  # the first step starts
            self.peak_before = peak_memory_mib()
        super().__call__()

    def result(self, steps_per_epoch: int) -> dict[str, Any]:
        gaps, _ = self.gaps_ms(steps_per_epoch)
        w, c = self.wall[self.warmup :], self.cpu[self.warmup :]
        ms = 1000.0 * (w[-1] - w[0]) / self.steps
        return {
            "ms_per_step": ms,
            "median_step_ms": statistics.median(gaps[self.warmup :]),
            "step_ms": gaps[self.warmup :],
            "wall_s": w[-1] - w[0],
            "cpu_s": c[-1] - c[0],
            "steps_per_epoch": steps_per_epoch,
            "epoch_s_extrapolated": steps_per_epoch * ms / 1000.0,
            "peak_mib": peak_memory_mib(),
            "peak_mib_before_steps": self.peak_before,
        }


def _n_params(*modules: Any) -> int:
    return sum(p.numel() for m in modules for p in m.parameters() if p.requires_grad)


def structaug_worker(data_dir: str | None, s: dict[str, Any], seed: int, warmup: int, steps: int) -> dict[str, Any]:
    import torch

    from structaug.datasets import load_pmlb
    from structaug.tabular.tjepa import TJEPA, JEPAMasking, _estimator

    torch.set_num_threads(1)
    X, _ = load_pmlb(DATASET, data_dir)
    stamps = _Stamps(warmup, steps)
    real_batches, real_network = _estimator.batch_indices, TJEPA._network
    nets: list[Any] = []

    def timed_batches(*a: Any, **k: Any) -> Any:
        for idx in real_batches(*a, **k):
            stamps()  # the start of the step that trains on idx
            yield idx

    def network(self: Any, enc: Any) -> Any:
        nets.append(real_network(self, enc))
        return nets[-1]

    _estimator.batch_indices, TJEPA._network = timed_batches, network
    masking = JEPAMasking(
        min_context_share=s["mask_min_ctx_share"],
        max_context_share=s["mask_max_ctx_share"],
        min_target_share=s["mask_min_trgt_share"],
        max_target_share=s["mask_max_trgt_share"],
        n_targets=s["mask_num_preds"],
    )
    est = TJEPA(masking=masking, **structaug_params(s, seed))
    try:
        with contextlib.suppress(StepClock.Enough):
            est.fit(X)
    finally:
        _estimator.batch_indices, TJEPA._network = real_batches, real_network
    net = nets[0]
    out = stamps.result(math.ceil(len(X) / s["batch_size"]))
    out["n_params"] = _n_params(net.context_encoder, net.predictor)
    out["n_rows"] = len(X)
    return out


def _stub(name: str, **attrs: Any) -> types.ModuleType:
    """A stand-in module (with a spec, so ``importlib.util.find_spec`` accepts it)."""
    mod = types.ModuleType(name)
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    return mod


class _Nothing:
    def __init__(self, *a: Any, **k: Any) -> None:
        pass


def _nothing(*a: Any, **k: Any) -> None:
    return None


def reference_worker(
    reference: Path, deps: Path | None, data_dir: str | None, s: dict[str, Any], seed: int, warmup: int, steps: int
) -> dict[str, Any]:
    """Run the reference's ``run.main`` on our table, stopped after ``warmup + steps`` steps."""
    import numpy as np
    import torch

    from structaug.datasets import load_pmlb

    torch.set_num_threads(1)
    X, y = load_pmlb(DATASET, data_dir)
    work = Path(tempfile.mkdtemp(prefix="tjepa_ref_"))
    # the shim: our table as the adult.csv its Adult.load() reads (Kaggle names for the columns it reads by name)
    table = X.rename(columns={"sex": "gender"})
    table["income"] = np.asarray(y)
    table.to_csv(work / "adult.csv", index=False)
    home = os.getcwd()
    os.chdir(work)  # it writes ./results and ./checkpoints

    sys.path[:0] = ([str(deps)] if deps is not None else []) + [str(reference)]
    import pytorch_lightning  # noqa: F401  (before the stand-ins: it probes for torchvision)

    _stub("wandb", log=_nothing, init=_nothing, Image=_Nothing, Histogram=_Nothing, config={})
    _stub("torchvision", utils=_stub("torchvision.utils", make_grid=_nothing))
    _stub("torch.utils.tensorboard", SummaryWriter=_Nothing)
    _stub("run_benchmark", set_callbacks_loggers=_nothing)  # Python >= 3.12 syntax; linear probe only
    _stub("benchmark", load_config=_nothing)  # Python >= 3.12 syntax; downstream XGBoost only
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        import run  # the reference's run.py
        from src.configs import build_parser
        from src.datasets.adult_income import Adult

    argv = [f"--{k}={v}" for k, v in s.items()]
    argv += [
        f"--data_path={work}",
        f"--data_set={DATASET}",
        f"--np_seed={seed}",
        f"--torch_seed={seed}",
        "--probe_cadence=0",
        "--log_tensorboard=False",
        "--pin_memory=False",
        "--exp_patience=100",
        "--exp_cache_cadence=20",
    ]
    args = build_parser().parse_args(argv)
    check = Adult(args)
    check.load()  # the reference's own reading of the table, to check the codes fit its embeddings
    found = [(j, int(check.X[:, j].max()) + 1) for j, _ in REF_CARDINALITIES]
    if found != [tuple(c) for c in check.cardinalities] or check.X.shape != X.shape:
        raise RuntimeError(f"adult does not match the reference's layout: {found} vs {check.cardinalities}")

    stamps = _Stamps(warmup, steps)
    built: dict[str, Any] = {}

    class TimedLoader(run.DataLoader):  # the DataLoader run.main builds, stamping each step's start
        def __iter__(self) -> Any:
            batches = super().__iter__()
            while True:
                stamps()
                try:
                    batch = next(batches)
                except StopIteration:
                    return
                yield batch

    real_trainer = run.Trainer

    def trainer(*a: Any, **k: Any) -> Any:
        built.update(k)
        return real_trainer(*a, **k)

    run.DataLoader, run.Trainer = TimedLoader, trainer
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            run.main(args)
    except StepClock.Enough:
        pass
    except BaseException:
        sys.stderr.write(printed.getvalue()[-5000:])
        raise
    finally:
        os.chdir(home)
        shutil.rmtree(work, ignore_errors=True)  # the table copy and the run folders it made
    out = stamps.result(len(built["dataloader"]))
    out["n_params"] = _n_params(built["context_encoder"], built["predictors"])
    # its TabularEncoder keeps the layer it clones as a module of its own, unused in forward
    templates = [
        getattr(m, "transformer_layers", None) for k in ("context_encoder", "predictors") for m in built[k].modules()
    ]
    out["n_params_unused_template_layers"] = _n_params(*[t for t in templates if isinstance(t, torch.nn.Module)])
    out["n_rows"] = len(built["torch_dataset"])
    return out


def run_side(side: str, a: argparse.Namespace, seed: int) -> dict[str, Any]:
    """One side in a fresh one-thread process (its own memory peak, nothing cached from the other)."""
    s = settings(a.batch_size)
    if side == "structaug":
        return in_fresh_process(structaug_worker, a.data_dir, s, seed, a.warmup, a.steps, threads=1)
    deps = a.deps.resolve() if a.deps is not None else None
    return in_fresh_process(
        reference_worker, a.reference.resolve(), deps, a.data_dir, s, seed, a.warmup, a.steps, threads=1
    )


METRICS = [
    "ms_per_step",
    "median_step_ms",
    "wall_s",
    "cpu_s",
    "peak_mib",
    "peak_mib_before_steps",
    "epoch_s_extrapolated",
]


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over repeats per side, and structaug / reference."""
    med = {side: {m: statistics.median(r[m] for r in runs if r["side"] == side) for m in METRICS} for side in SIDES}
    ratio = {m: med["structaug"][m] / med["reference"][m] for m in METRICS if med["reference"][m] > 0}
    params = {side: next(r["n_params"] for r in runs if r["side"] == side) for side in SIDES}
    unused = next(r["n_params_unused_template_layers"] for r in runs if r["side"] == "reference")
    return {
        "median": med,
        "structaug_over_reference": ratio,
        "n_params": params,
        "n_params_unused_template_layers": unused,
    }


def markdown(payload: dict[str, Any]) -> str:
    s, env, cfg = payload["summary"], payload["environment"], payload["config"]
    st = cfg["settings"]
    rows = [
        ("ms per step (mean over the timed steps)", "ms_per_step", ".1f"),
        ("median step (ms)", "median_step_ms", ".1f"),
        (f"wall time of the {cfg['steps']} timed steps (s)", "wall_s", ".2f"),
        (f"CPU time of the {cfg['steps']} timed steps (s)", "cpu_s", ".2f"),
        ("peak resident memory (MiB)", "peak_mib", ".0f"),
        ("peak resident memory before the first step (imports, table, model; MiB)", "peak_mib_before_steps", ".0f"),
        (f"epoch time, extrapolated ({cfg['steps_per_epoch']} steps × ms per step; s)", "epoch_s_extrapolated", ".1f"),
    ]
    lines = markdown_header("T-JEPA: structaug against the reference implementation (adult)", env) + [
        "",
        f"Pre-training on PMLB adult ({cfg['n_rows']:,} rows, 14 features), one torch thread per process, "
        f"{cfg['repeats']} repeat(s) per side (alternating order), {cfg['steps']} steps timed after "
        f"{cfg['warmup']} warm-up steps in the first epoch; medians over repeats. Same settings on both "
        f"sides: batch {st['batch_size']}; encoder {st['model_num_layers']} layers × {st['model_dim_hidden']}, "
        f"{st['model_num_heads']} heads, feed-forward {st['model_dim_feedforward']}; predictor "
        f"{st['pred_num_layers']} layers × {st['pred_embed_dim']}, {st['pred_num_heads']} heads, feed-forward "
        f"{st['pred_dim_feedforward']}; 1 [REG] token; context and target shares 0.2-0.4, "
        f"{st['mask_num_preds']} targets; EMA target encoder 0.996 → 1; AdamW, gradient values clamped at 1. "
        f"Reference: its `run.main` → `Trainer.train()` loop, unedited (commit "
        f"{(cfg['reference_commit'] or 'unknown')[:7]}, files digest {cfg['reference_digest']}). The differences "
        "that remain and the exact command are in `benchmarks/run_tjepa_reference.py`'s docstring; the main "
        "one in cost: structaug's context always holds the [REG] token (one token more per row than the "
        "reference's, in the context encoder and the predictor).",
        "",
        "| measurement | structaug | reference | structaug / reference |",
        "|---|---|---|---|",
    ]
    for label, m, fmt in rows:
        med, ratio = s["median"], s["structaug_over_reference"].get(m)
        lines.append(
            f"| {label} | {med['structaug'][m]:{fmt}} | {med['reference'][m]:{fmt}} | "
            + (f"{ratio:.3f}" if ratio is not None else "—")
            + " |"
        )
    lines.append(f"| trainable parameters | {s['n_params']['structaug']:,} | {s['n_params']['reference']:,} | — |")
    lines += [
        "",
        "The epoch time is extrapolated from the step time; it leaves out each side's end-of-epoch work. "
        f"Of the reference's parameters, {s['n_params_unused_template_layers']:,} are in the two layers its "
        "`TabularEncoder` (encoder and predictor) keeps as templates beside the copies it runs (no gradient, "
        "so AdamW skips them; the EMA update still averages the encoder's), and 128 in a LayerNorm its "
        "predictor never calls; structaug's count includes 512 in the reserved 'unknown' row of each "
        "categorical column's embedding.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path, required=True, help="a work tree of jose-melo/t-jepa (outside this repo)")
    p.add_argument(
        "--ref-deps",
        "--deps",  # the spelling the committed run used
        dest="deps",
        type=Path,
        default=None,
        help="folder with the reference's extra packages (pip install --target, see the docstring)",
    )
    p.add_argument("--data-dir", default=None, help="structaug's data root (default: STRUCTAUG_DATA, ../shared)")
    p.add_argument("--batch-size", type=positive_int, default=512, help="default: the reference's adult sweep")
    p.add_argument("--warmup", type=positive_int, default=5, help="untimed steps first (step 0 included)")
    p.add_argument("--steps", type=positive_int, default=80, help="steps timed per run, in the first epoch")
    p.add_argument("--repeats", type=positive_int, default=3)
    p.add_argument("--seed", type=int, default=0, help="the first repeat's seed (then +1 each)")
    add_out_arguments(p, "tjepa_reference")
    a = p.parse_args()
    out = claim_out(p, a)
    missing = [f for f in REF_FILES if not (a.reference / f).is_file()]
    if missing:
        p.error(f"--reference {a.reference}: no {', '.join(missing)} there (a work tree of jose-melo/t-jepa)")
    check_ref_deps(p, [a.deps])
    from structaug.datasets import load_pmlb

    n_rows = len(load_pmlb(DATASET, a.data_dir)[0])
    steps_per_epoch = math.ceil(n_rows / a.batch_size)
    if a.warmup + a.steps + 1 > steps_per_epoch:  # past the first epoch each side's epoch-end work would count
        p.error(
            f"--warmup {a.warmup} + --steps {a.steps} + 1 must fit in one epoch ({steps_per_epoch} steps at "
            f"batch {a.batch_size})"
        )

    digest = files_digest(a.reference, REF_FILES)
    runs = alternating_runs(
        SIDES,
        a.repeats,
        a.seed,
        lambda side, seed: run_side(side, a, seed),
        lambda side, seed, r: (
            f"seed {seed} {side:>9}: {r['ms_per_step']:.1f} ms/step (median {r['median_step_ms']:.1f}), "
            f"wall {r['wall_s']:.2f} s, CPU {r['cpu_s']:.2f} s, peak {r['peak_mib']:.0f} MiB, "
            f"epoch ~{r['epoch_s_extrapolated']:.1f} s (extrapolated), {r['n_params']:,} parameters"
        ),
    )
    payload: dict[str, Any] = {
        "benchmark": "tjepa_reference",
        "environment": environment("cpu"),
        "config": {
            "dataset": DATASET,
            "n_rows": n_rows,
            "steps_per_epoch": steps_per_epoch,
            "repeats": a.repeats,
            "warmup": a.warmup,
            "steps": a.steps,
            "seed": a.seed,
            "settings": settings(a.batch_size),
            "reference_digest": digest,
            # the commit whose files have that digest, when they do
            "reference_commit": KNOWN_REFERENCE.get(digest),
        },
        "runs": runs,
    }
    payload["summary"] = summarize(runs)
    md = markdown(payload)
    write_script_results(out, payload, md)
    print(md)


if __name__ == "__main__":
    main()
