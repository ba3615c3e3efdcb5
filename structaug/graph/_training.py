"""Training LA-GNNs and their backbones: the paper's loop through the shared Trainer.

Per epoch (reference ``lagcn.py``): ``samples`` forward passes, each on freshly generated
features; loss = mean cross-entropy over the passes + ``consistency_weight`` × the
consistency loss; then one evaluation pass on another fresh sample. The checkpoint with
the lowest validation loss is kept, and its test accuracy is read from the same pass (the
reference evaluates the best model on the sample drawn at its validation step).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.data import Data
from torch_geometric.nn import GCNConv

from ..exceptions import DataValidationError, InvalidParameterError
from ..random import local_torch_seed
from ..sparse import select_rows
from ..train import Trainer, TrainResult, resolve_device
from ..validation import check_bool, check_fraction, check_positive_float, check_positive_int
from ._augmenter import _NodeFeatureAugmenter
from ._cvae import row_normalize
from ._models import GAT, GCN, GCNII, LAGAT, LAGCN, LAGCNII
from ._neighbors import check_num_neighbors, neighbor_loader, neighbor_sampler, with_generator
from ._ops import to_sparse_features
from ._samplers import _FixedSampler
from ._validation import check_node_features, check_node_task

__all__ = [
    "MODEL_KINDS",
    "PAPER_CONFIGS",
    "NodeFitResult",
    "build_model",
    "consistency_loss",
    "fit_node_model",
    "paper_config",
    "train_node_classifier",
]


_LAGCN = dict(hidden_size=8, concat=1, samples=4, lr=0.01, weight_decay=5e-4, dropout=0.5, max_epochs=2000)
_LAGAT = dict(
    hidden_size=8,
    n_heads=4,
    n_out_heads=1,
    concat=1,
    samples=4,
    lr=0.01,
    weight_decay=5e-4,
    dropout=0.6,
    max_epochs=1000,
)
_LAGCNII = dict(
    hidden_size=32,
    n_layers=64,
    concat=1,
    samples=4,
    lr=0.01,
    wd_conv=0.01,
    wd_linear=5e-4,
    dropout=0.6,
    alpha=0.1,
    theta=0.5,
    max_epochs=1000,
    consistency=False,
)
_GCNII = dict(
    hidden_size=64,
    n_layers=64,
    lr=0.01,
    wd_conv=0.01,
    wd_linear=5e-4,
    dropout=0.6,
    alpha=0.1,
    theta=0.5,
    max_epochs=1500,
)

#: Hyperparameters per model kind and dataset, from the reference's ``semi.sh`` (LA models)
#: and the backbones' papers (GCN: Kipf & Welling; GAT: Veličković et al.; GCNII: Chen et al.).
#: ``"default"`` is used for any other graph. ``patience`` is ours (see docs/lagnn.md).
PAPER_CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    "gcn": {"default": dict(hidden_size=16, lr=0.01, weight_decay=5e-4, dropout=0.5, max_epochs=2000)},
    "lagcn": {
        "default": _LAGCN,
        "cora": _LAGCN,
        "citeseer": _LAGCN,
        "pubmed": {**_LAGCN, "hidden_size": 4, "concat": 3, "lr": 0.02, "max_epochs": 300},
    },
    "gat": {
        "default": dict(
            hidden_size=8, n_heads=8, n_out_heads=1, lr=0.005, weight_decay=5e-4, dropout=0.6, max_epochs=1000
        ),
        "pubmed": dict(
            hidden_size=8, n_heads=8, n_out_heads=8, lr=0.01, weight_decay=1e-3, dropout=0.6, max_epochs=1000
        ),
    },
    "lagat": {"default": _LAGAT, "cora": _LAGAT, "citeseer": _LAGAT, "pubmed": {**_LAGAT, "n_heads": 2, "concat": 3}},
    "gcnii": {
        "default": _GCNII,
        "cora": _GCNII,
        "citeseer": {**_GCNII, "hidden_size": 256, "n_layers": 32, "dropout": 0.7, "theta": 0.6},
        "pubmed": {**_GCNII, "hidden_size": 256, "n_layers": 16, "dropout": 0.5, "theta": 0.4, "wd_conv": 5e-4},
    },
    "lagcnii": {
        "default": _LAGCNII,
        "cora": _LAGCNII,
        "citeseer": {**_LAGCNII, "hidden_size": 128, "n_layers": 32, "dropout": 0.7, "theta": 0.6, "consistency": True},
        "pubmed": {
            **_LAGCNII,
            "hidden_size": 64,
            "n_layers": 16,
            "concat": 3,
            "dropout": 0.5,
            "theta": 0.4,
            "wd_conv": 5e-4,
            "consistency": True,
        },
    },
}
MODEL_KINDS = tuple(PAPER_CONFIGS)
#: models whose input layer accepts a sparse CSR ``x`` (a linear map of it, after fast_dropout)
_SPARSE_READY = (GCN, LAGCN, GAT, LAGAT, GCNII)


def paper_config(kind: str, dataset: str | None = None, **overrides: Any) -> dict[str, Any]:
    """The paper's hyperparameters for ``kind`` on ``dataset`` (case-insensitive), with overrides."""
    kind = _kind(kind)
    table = PAPER_CONFIGS[kind]
    cfg = dict(table.get((dataset or "").lower(), table["default"]))
    cfg.setdefault("samples", 1)
    cfg.setdefault("concat", 0)
    cfg.setdefault("consistency", kind.startswith("la"))
    cfg.setdefault("temperature", 0.5)
    cfg.setdefault("consistency_weight", 1.0)
    cfg.setdefault("patience", 200)
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise InvalidParameterError(f"unknown hyperparameter(s) {sorted(unknown)} for {kind}; known: {sorted(cfg)}")
    cfg.update(overrides)
    _check_config(kind, cfg)
    return cfg


#: integer hyperparameters and their minimum
_INT_MIN = {"hidden_size": 1, "n_heads": 1, "n_out_heads": 1, "n_layers": 1, "samples": 1, "max_epochs": 1, "concat": 0}


def _check_config(kind: str, cfg: dict[str, Any]) -> None:
    """Reject hyperparameter values that would fail (or silently do nothing) later in training."""
    for key, minimum in _INT_MIN.items():
        if key in cfg:
            check_positive_int(cfg[key], key, minimum=minimum)
    for key in ("lr", "temperature", "theta"):
        if key in cfg:
            check_positive_float(cfg[key], key)
    for key in ("weight_decay", "wd_conv", "wd_linear", "consistency_weight"):
        if key in cfg:
            check_positive_float(cfg[key], key, allow_zero=True)
    if "dropout" in cfg:
        check_fraction(cfg["dropout"], "dropout", inclusive_low=True, inclusive_high=False)
    if "alpha" in cfg:
        check_fraction(cfg["alpha"], "alpha", inclusive_low=True)
    if cfg["patience"] is not None:
        check_positive_int(cfg["patience"], "patience")
    if not isinstance(cfg["consistency"], bool):
        raise InvalidParameterError(f"consistency must be a bool, got {cfg['consistency']!r}")
    if kind.startswith("la") and cfg["concat"] < 1:
        raise InvalidParameterError(f"concat must be >= 1 for {kind} (generated feature branches), got {cfg['concat']}")
    if not kind.startswith("la") and cfg["concat"] != 0:
        raise InvalidParameterError(
            f"concat={cfg['concat']} has no effect on {kind}, which takes no generated features; use la{kind}"
        )


def _kind(kind: Any) -> str:
    """``kind`` normalised ("LA-GCN" -> "lagcn"), or :class:`InvalidParameterError`."""
    norm = kind.lower().replace("-", "") if isinstance(kind, str) else kind
    if norm not in PAPER_CONFIGS:
        raise InvalidParameterError(f"unknown model kind {kind!r}; choose from {list(MODEL_KINDS)}")
    return norm


def build_model(kind: str, in_channels: int, out_channels: int, cfg: dict[str, Any]) -> nn.Module:
    """Instantiate ``kind`` from a :func:`paper_config` dict."""
    kind = _kind(kind)
    check_positive_int(in_channels, "in_channels")
    check_positive_int(out_channels, "out_channels")
    h = cfg["hidden_size"]
    if kind == "gcn":
        return GCN(in_channels, h, out_channels, dropout=cfg["dropout"], cached=True)
    if kind == "lagcn":
        return LAGCN(in_channels, h, out_channels, concat=cfg["concat"], dropout=cfg["dropout"], cached=True)
    if kind == "gat":
        return GAT(
            in_channels, h, out_channels, heads=cfg["n_heads"], out_heads=cfg["n_out_heads"], dropout=cfg["dropout"]
        )
    if kind == "lagat":
        return LAGAT(
            in_channels,
            h,
            out_channels,
            concat=cfg["concat"],
            heads=cfg["n_heads"],
            out_heads=cfg["n_out_heads"],
            dropout=cfg["dropout"],
        )
    if kind == "gcnii":
        return GCNII(
            in_channels,
            h,
            out_channels,
            num_layers=cfg["n_layers"],
            alpha=cfg["alpha"],
            theta=cfg["theta"],
            dropout=cfg["dropout"],
        )
    if kind == "lagcnii":
        return LAGCNII(
            in_channels,
            h,
            out_channels,
            concat=cfg["concat"],
            num_layers=cfg["n_layers"],
            alpha=cfg["alpha"],
            theta=cfg["theta"],
            dropout=cfg["dropout"],
        )
    raise AssertionError(kind)  # unreachable: _kind checked it


def consistency_loss(log_probs: list[torch.Tensor], temperature: float = 0.5) -> torch.Tensor:
    """Mean squared distance of each pass's prediction to the sharpened average prediction.

    The target ``avg_p ** (1/T)`` (renormalised) is detached, as in GRAND and the reference.
    """
    ps = [lp.exp() for lp in log_probs]
    avg = torch.stack(ps).mean(0)
    sharp = avg.pow(1.0 / temperature)
    sharp = (sharp / sharp.sum(1, keepdim=True)).detach()
    return torch.stack([(p - sharp).pow(2).sum(1).mean() for p in ps]).mean()


@dataclass
class NodeFitResult:
    """Outcome of :func:`train_node_classifier`."""

    model: nn.Module
    val_acc: float
    test_acc: float
    val_loss: float
    best_epoch: int | None
    epochs_run: int
    fit_time: float
    epoch_time: float
    peak_memory_mib: float | None = None
    train_result: TrainResult | None = field(default=None, repr=False)


def _acc(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(-1) == y).float().mean()) if len(y) else float("nan")


def _check_augmenter(model_name: str, concat: int, augmenter: Any, data: Any) -> None:
    """Where an LA model's generated features come from, checked before anything is built.

    An LA model (``concat`` > 0) draws them from a fitted augmenter or, without one, takes
    ``data.x_aug`` [N, concat, F] as they are; a plain model takes none.
    """
    if not concat:
        if augmenter is not None:
            raise InvalidParameterError(
                f"{model_name} takes no generated features, so augmenter= has no effect; "
                f"use its LA twin (la{model_name.lower()}) or drop augmenter"
            )
        return
    if augmenter is None:
        x_aug = getattr(data, "x_aug", None)
        if x_aug is None:
            raise InvalidParameterError(
                f"{model_name} needs generated features: augmenter=LocalAugmenter(...).fit(data) (resampled "
                f"every pass, as in the paper) or a graph with x_aug [N, {concat}, F] (e.g. from LocalAugment)"
            )
        if (
            not isinstance(x_aug, torch.Tensor)
            or x_aug.dim() != 3
            or x_aug.shape[0] != data.x.shape[0]
            or x_aug.shape[1] != concat
            or x_aug.shape[2] != data.x.shape[1]
        ):
            shape = tuple(x_aug.shape) if isinstance(x_aug, torch.Tensor) else type(x_aug).__name__
            raise DataValidationError(
                f"data.x_aug must have shape [N, {concat}, F] = "
                f"[{data.x.shape[0]}, {concat}, {data.x.shape[1]}] for {model_name}, "
                f"got {shape}"
            )
        check_node_features(x_aug.reshape(-1, x_aug.shape[-1]), "data.x_aug")
        return
    if not isinstance(augmenter, _NodeFeatureAugmenter):
        raise InvalidParameterError(
            f"augmenter must be a fitted LocalAugmenter or RandomNeighborAugmenter, got {type(augmenter).__name__}"
        )
    augmenter._check_data(data)  # fitted, and for a graph like this one (before any model is built)


def train_node_classifier(
    model: nn.Module,
    data: Any,
    *,
    x: torch.Tensor | None = None,
    augmenter: Any = None,
    samples: int = 1,
    consistency: bool = False,
    temperature: float = 0.5,
    consistency_weight: float = 1.0,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    max_epochs: int = 2000,
    patience: int | None = 200,
    device: str | torch.device = "auto",
    random_state: int | None = 0,
    verbose: bool = False,
    sparse_input: bool | None = None,
    batch_size: int | None = None,
    num_neighbors: Sequence[int] | None = None,
) -> NodeFitResult:
    """Semi-supervised node classification with optional local augmentation.

    Parameters
    ----------
    model : nn.Module
        A plain model ``model(x, edge_index)``, or an LA model (has ``concat``) called as
        ``model(x, edge_index, x_gen)`` with ``x_gen`` [N, concat, F].
    data : Data
        With ``edge_index``, ``y`` and ``train_mask``/``val_mask``/``test_mask``.
    x : Tensor, optional
        The model's input features (default ``data.x``).
    augmenter : LocalAugmenter or RandomNeighborAugmenter, optional
        A FITTED augmenter feeding an LA model: every pass draws ``concat`` fresh feature
        matrices from it (the same generator ``augmenter.sample(data, n=concat)`` uses, on
        the training device, from this training's seeded stream), conditioned on ``data.x``.
        Without it an LA model takes ``data.x_aug`` [N, concat, F] as it is, for every pass
        (e.g. a graph from the :class:`~structaug.graph.LocalAugment` transform).
    samples : int
        Stochastic passes per epoch (LA models; paper: 4).
    consistency : bool
        Add :func:`consistency_loss` × ``consistency_weight`` (paper: T=0.5, weight 1).
    max_epochs : int
        Epoch budget (early stopping on the validation loss after ``patience`` epochs
        without improvement; ``None``: all epochs).
    random_state : int or None
        Seeds dropout and the feature draws (``None``: dropout unseeded, draws from seed 0).
    verbose : bool, default False
        Progress bar over epochs.
    sparse_input : bool, optional
        Feed ``x`` to the model as a sparse CSR matrix (first-layer product and dropout on the
        stored entries only; same values, same random draws). ``None``: do so for this
        package's models (GCN, GAT, GCNII and their LA twins) when at most 25 % of ``x`` is
        non-zero, as for bag-of-words features.
    batch_size : int, optional
        Train on mini-batches of ``batch_size`` training nodes with their sampled
        neighbourhoods (PyG's ``NeighborLoader``), for graphs too large for a full-batch pass.
        The generated features are drawn per batch, for the batch's nodes only, so memory
        grows with the batch, not the graph; ``x`` stays where it is (CPU) and only each
        batch's rows move to the device. Validation and test nodes are evaluated in batches
        of the same size on the same kind of sampled neighbourhood (re-drawn identically at
        every evaluation). ``None`` (default): full-batch, the paper's training.
    num_neighbors : list of int, optional
        Neighbours sampled per hop in mini-batch mode (``-1``: all); default ``[10, 10]``,
        two hops for the two message-passing layers of GCN/GAT. A deeper model (GCNII) then
        sees a two-hop sampled subgraph; give one entry per hop it should see.

    Raises
    ------
    DataValidationError
        Before training: a malformed graph (see :func:`~structaug.graph._validation.check_node_task`):
        ``x``/``edge_index`` shape, dtype, NaN/inf or out-of-range ids; ``y`` not integer or with a
        label outside ``[0, out_channels)`` on a masked node; masks not boolean of length N; an
        empty training or validation mask; ``x``'s feature count differing from the model's
        ``in_channels``; an augmenter fitted on another feature count; a malformed ``data.x_aug``.
    InvalidParameterError
        An LA model with neither ``augmenter`` nor ``data.x_aug``, an ``augmenter`` for a plain
        model or of another type, a non-positive ``samples``/``max_epochs``/``lr``/``batch_size``,
        or ``num_neighbors`` without ``batch_size`` or not a list of ints >= 1 (or -1).
    NotFittedError
        An unfitted ``augmenter``.
    """
    concat = getattr(model, "concat", 0)
    check_positive_int(samples, "samples")
    check_positive_int(max_epochs, "max_epochs")
    if optimizer is None:
        check_positive_float(lr, "lr")
    check_positive_float(temperature, "temperature")
    check_bool(verbose, "verbose")
    hops: list[int] = []
    if batch_size is not None:
        check_positive_int(batch_size, "batch_size")
        hops = check_num_neighbors([10, 10] if num_neighbors is None else num_neighbors)
    elif num_neighbors is not None:
        raise InvalidParameterError("num_neighbors samples mini-batches: give batch_size too (None trains full-batch)")
    check_node_task(data, x, model=model)
    _check_augmenter(type(model).__name__, concat, augmenter, data)
    dev = resolve_device(device)
    model = model.to(dev)
    x = data.x if x is None else x
    auto_sparse = sparse_input is None
    feed_sparse = isinstance(model, _SPARSE_READY) if sparse_input is None else bool(sparse_input)
    max_density = 0.25 if auto_sparse else 1.0
    y = data.y.to(dev)
    masks = {k: getattr(data, f"{k}_mask").to(dev) for k in ("train", "val", "test")}
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator(device=dev)
    gen.manual_seed(0 if random_state is None else int(random_state))
    n_pass = max(1, samples) if concat else 1
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)

    def loss_of(logps: list[torch.Tensor], labelled: Any, target: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the passes on the ``labelled`` rows, plus the consistency
        loss over every row (labelled or not, as in the reference)."""
        loss = torch.stack([F.nll_loss(lp[labelled], target) for lp in logps]).mean()
        if consistency and n_pass > 1:
            loss = loss + consistency_weight * consistency_loss(logps, temperature)
        return loss

    def eval_metrics(out: torch.Tensor, yv: torch.Tensor, yt: torch.Tensor, n_val: int) -> dict[str, float]:
        """``out``: logits of the validation nodes, then the test nodes."""
        return {
            "val_loss": float(F.cross_entropy(out[:n_val], yv).detach()),
            "val_acc": _acc(out[:n_val], yv),
            "test_acc": _acc(out[n_val:], yt),
        }

    generators = [gen]
    if batch_size is None:
        sampler = None
        if concat:  # one path: the augmenter's own generator, built on the training device
            sampler = (
                augmenter._feature_sampler(data, dev) if augmenter is not None else _FixedSampler(data.x_aug.to(dev))
            )
        x = x.to(dev)
        if feed_sparse:
            x = to_sparse_features(x, max_density=max_density)
        ei = data.edge_index.to(dev)

        def forward() -> torch.Tensor:
            if sampler is not None:
                return model(x, ei, sampler(concat, gen))
            return model(x, ei)

        def train_epoch(epoch: int) -> dict[str, float]:
            model.train()
            optimizer.zero_grad(set_to_none=True)
            logps = [F.log_softmax(forward(), dim=-1) for _ in range(n_pass)]
            tr = masks["train"]
            loss = loss_of(logps, tr, y[tr])
            loss.backward()
            optimizer.step()
            return {"train_loss": float(loss.detach())}

        @torch.no_grad()  # one evaluation pass; no autograd graph needed
        def validate(epoch: int) -> dict[str, float]:
            model.eval()
            out = forward()
            va, te = masks["val"], masks["test"]
            return eval_metrics(torch.cat([out[va], out[te]]), y[va], y[te], int(va.sum()))

    else:
        _release_gcn_cache(model)  # every batch is another subgraph: no cached adjacency
        batches = _NeighborBatches(
            data, x, augmenter, concat, hops, batch_size, dev, feed_sparse, max_density, gen, random_state
        )
        generators.append(batches.shuffle_generator)

        def train_epoch(epoch: int) -> dict[str, float]:
            model.train()
            total, seen = 0.0, 0
            for xb, ei, draw, nid, bs in batches.train():
                optimizer.zero_grad(set_to_none=True)
                # every node of the sampled subgraph enters the consistency loss; its seeds the loss
                logps = [F.log_softmax(_call(model, xb, ei, draw), dim=-1) for _ in range(n_pass)]
                loss = loss_of(logps, slice(0, bs), y[nid[:bs]])
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * bs
                seen += bs
            return {"train_loss": total / seen}

        val_idx, test_idx = (masks[k].nonzero().flatten() for k in ("val", "test"))

        @torch.no_grad()
        def validate(epoch: int) -> dict[str, float]:
            model.eval()
            out = torch.cat([_call(model, xb, ei, draw)[:bs] for xb, ei, draw, _, bs in batches.evaluate()])
            return eval_metrics(out, y[val_idx], y[test_idx], val_idx.numel())

    trainer = Trainer(
        max_epochs=max_epochs,
        patience=patience,
        monitor="val_loss",
        mode="min",
        device=dev,
        seed=random_state,
        verbose=verbose,
        desc=type(model).__name__,
    )
    res = trainer.fit(model, optimizer, train_epoch, validate, generators=generators)
    best = res.history[res.best_epoch] if res.best_epoch is not None else res.history[-1]
    peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None
    epoch_times = [h["epoch_time"] for h in res.history]
    return NodeFitResult(
        model=model,
        val_acc=best["val_acc"],
        test_acc=best["test_acc"],
        val_loss=best["val_loss"],
        best_epoch=res.best_epoch,
        epochs_run=res.epochs_run,
        fit_time=res.fit_time,
        epoch_time=sum(epoch_times) / max(len(epoch_times), 1),
        peak_memory_mib=peak,
        train_result=res,
    )


def _call(model: nn.Module, x: torch.Tensor, ei: torch.Tensor, draw: Callable[[], torch.Tensor] | None) -> torch.Tensor:
    """``model(x, ei)``, with freshly generated features for an LA model (``draw`` not None)."""
    return model(x, ei) if draw is None else model(x, ei, draw())


class _NeighborBatches:
    """The mini-batches of :func:`train_node_classifier` with ``batch_size``.

    PyG's ``NeighborLoader`` samples each batch's subgraph (seeds first, ``n_id`` their
    global ids); this class gathers the batch's rows of the model input ``x`` (kept sparse
    when it is fed sparse) and builds the batch's feature generator from the same
    ``_feature_sampler`` the full-batch path uses, on the batch's nodes only. An LA model's
    generated features are thus ``[n_batch, k, F]``, never ``[N, k, F]``.
    """

    def __init__(
        self,
        data: Any,
        x: torch.Tensor,
        augmenter: Any,
        concat: int,
        num_neighbors: list[int],
        batch_size: int,
        device: torch.device,
        sparse_input: bool,
        max_density: float,
        gen: torch.Generator,
        random_state: int | None,
    ):
        self.data, self.x, self.augmenter, self.concat = data, x, augmenter, concat
        self.device, self.sparse_input, self.max_density, self.gen = device, sparse_input, max_density, gen
        seed = 0 if random_state is None else int(random_state)
        graph = Data(edge_index=data.edge_index.cpu(), num_nodes=data.x.shape[0])
        self.shuffle_generator = torch.Generator().manual_seed(seed)
        self._eval_seed = seed + 1
        self._eval_generator = torch.Generator()
        cpu_mask = {k: getattr(data, f"{k}_mask").cpu() for k in ("train", "val", "test")}
        # one sampler (the graph in CSC form, O(E) memory) for both loaders
        sampler = neighbor_sampler(graph, num_neighbors, self.shuffle_generator)
        self._train = neighbor_loader(
            graph,
            sampler,
            cpu_mask["train"].nonzero().flatten(),
            batch_size=batch_size,
            shuffle=True,
            generator=self.shuffle_generator,
        )
        self._eval = neighbor_loader(
            graph,
            with_generator(sampler, self._eval_generator),
            torch.cat([cpu_mask["val"].nonzero().flatten(), cpu_mask["test"].nonzero().flatten()]),
            batch_size=batch_size,
            shuffle=False,
            generator=self._eval_generator,
        )

    def _inputs(self, batch: Any) -> tuple:
        nid = batch.n_id
        xb = select_rows(self.x, nid.to(self.x.device)).to(self.device)
        if self.sparse_input:
            xb = to_sparse_features(xb, max_density=self.max_density)
        elif xb.layout != torch.strided:
            xb = xb.to_dense()
        ei = batch.edge_index.to(self.device)
        draw = None
        if self.concat:
            if self.augmenter is not None:
                raw = select_rows(self.data.x, nid.to(self.data.x.device))
                raw = raw.to_dense() if raw.layout != torch.strided else raw
                sampler = self.augmenter._feature_sampler(Data(x=raw, edge_index=batch.edge_index), self.device)
            else:
                sampler = _FixedSampler(self.data.x_aug[nid.to(self.data.x_aug.device)].to(self.device))
            draw = lambda: sampler(self.concat, self.gen)  # fresh features every call
        return xb, ei, draw, nid.to(self.device), int(batch.batch_size)

    def train(self) -> Iterator[tuple]:
        """One epoch of shuffled training batches: ``(x, edge_index, draw, n_id, batch_size)``."""
        for batch in self._train:
            yield self._inputs(batch)

    def evaluate(self) -> Iterator[tuple]:
        """The validation nodes, then the test nodes, in batches; the same subgraphs every call."""
        self._eval_generator.manual_seed(self._eval_seed)
        # PyG's compiled kernels (pyg-lib, torch-sparse) draw from torch's global CPU stream
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._eval_seed)
            for batch in self._eval:
                yield self._inputs(batch)


def fit_node_model(
    kind: str,
    data: Any,
    *,
    augmenter: Any = None,
    dataset: str | None = None,
    normalize_features: bool = True,
    random_state: int = 0,
    device: str | torch.device = "auto",
    verbose: bool = False,
    batch_size: int | None = None,
    num_neighbors: Sequence[int] | None = None,
    **overrides: Any,
) -> NodeFitResult:
    """Build ``kind`` ("gcn", "lagcn", "gat", "lagat", "gcnii", "lagcnii") with the paper's
    hyperparameters for ``dataset`` and train it on ``data``.

    ``augmenter`` feeds LA models: a fitted :class:`~structaug.graph.LocalAugmenter` (or the
    :class:`~structaug.graph.RandomNeighborAugmenter` control), drawn from afresh in every
    pass; without it an LA model trains on ``data.x_aug`` as it is (see
    :func:`train_node_classifier`). Input features are row-normalised first when
    ``normalize_features`` (as in the paper). Keyword ``overrides`` replace single
    hyperparameters of :func:`paper_config` (e.g. ``max_epochs=300, patience=100,
    hidden_size=16``).

    The data are checked before anything is built or trained (same checks and errors as
    :func:`train_node_classifier`; the model has ``max(y) + 1`` classes, so labels on masked
    nodes must be >= 0). ``random_state`` seeds the weight initialisation, the training's
    dropout and the feature draws without touching the caller's torch random state: after
    the call, ``torch.rand`` continues the stream it had before.

    ``batch_size`` (with ``num_neighbors``) trains on sampled mini-batches through PyG's
    ``NeighborLoader`` instead of the paper's full-batch passes, for graphs whose
    ``[N, concat, F]`` generated features or full-graph activations do not fit (see
    :func:`train_node_classifier`).
    """
    cfg = paper_config(kind, dataset, **overrides)
    random_state = check_positive_int(random_state, "random_state", minimum=0)
    check_node_task(data)
    _check_augmenter(_kind(kind), cfg.get("concat", 0), augmenter, data)
    dev = resolve_device(device)
    x = row_normalize(data.x.float()) if normalize_features else data.x
    # Weight init on the CPU generator seeded locally (the same draws torch.manual_seed(seed)
    # would give); the Trainer seeds dropout inside its own preserved-RNG block.
    with local_torch_seed(random_state):
        model = build_model(kind, data.x.shape[1], int(data.y.max()) + 1, cfg)
    model = model.to(dev)
    if isinstance(model, GCNII):
        opt = torch.optim.Adam(model.param_groups(cfg["wd_conv"], cfg["wd_linear"]), lr=cfg["lr"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    res = train_node_classifier(
        model,
        data,
        x=x,
        augmenter=augmenter,
        samples=cfg["samples"],
        consistency=cfg["consistency"],
        temperature=cfg["temperature"],
        consistency_weight=cfg["consistency_weight"],
        optimizer=opt,
        max_epochs=cfg["max_epochs"],
        patience=cfg["patience"],
        device=dev,
        random_state=random_state,
        verbose=verbose,
        batch_size=batch_size,
        num_neighbors=num_neighbors,
    )
    _release_gcn_cache(res.model)
    return res


def _release_gcn_cache(model: nn.Module) -> None:
    """Turn off and clear the normalised-adjacency cache of ``model``'s ``GCNConv`` layers.

    :func:`build_model` caches it for training speed (one graph, many epochs); the returned
    model would otherwise apply the training graph's adjacency to any other graph it is
    called on, a silently wrong result (or an index error for a smaller graph).
    """
    for m in model.modules():
        if isinstance(m, GCNConv):
            m.cached = False
            m._cached_edge_index = None
            m._cached_adj_t = None
