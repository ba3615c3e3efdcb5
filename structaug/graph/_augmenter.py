"""The graph augmenters: LocalAugmenter (LAGNN's CVAE) and RandomNeighborAugmenter (its control).

``LocalAugmenter.fit(data)`` learns p(x_j | x_i) over every directed edge ``j -> i`` of
``data.edge_index`` with :class:`~structaug.graph._cvae.NeighborCVAE` (mini-batched, so the
edge pairs are never materialised) and, when ``data`` carries labels and a training mask,
keeps the checkpoint the paper's U score selects. ``sample(data, n=k)`` returns a copy of
``data`` with ``x_aug`` of shape ``[N, k, F]``: for every node, ``k`` generated neighbour
feature vectors conditioned on its own features, row-normalised. The layout is node-first,
like every node-level attribute of a PyG ``Data``, so a ``DataLoader`` concatenates the
``x_aug`` of a batch's graphs along dim 0 in step with ``x`` and ``batch``.

One path: ``sample``, the :class:`~structaug.graph.LocalAugment` transform and the LA-GNN
training loop (:func:`~structaug.graph.train_node_classifier` with ``augmenter=``) all draw
from the same :meth:`_NodeFeatureAugmenter._feature_sampler` of the fitted augmenter; only
the random stream differs (the augmenter's own for ``sample``, the training seed's in
training).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch_geometric.data import Data

from ..base import Augmenter, SampleRNG, check_is_fitted
from ..exceptions import DataValidationError, InvalidParameterError
from ..random import RandomState, local_torch_seed
from ..train import Trainer, batch_indices, resolve_device, same_device
from ..validation import check_bool, check_choice, check_positive_float, check_positive_int
from ._cvae import NeighborCVAE, cvae_loss, row_normalize
from ._samplers import _CVAESampler, _RandomNeighborSampler
from ._uscore import SelectorGCN, full_graph, local_subgraph, train_selector, u_score
from ._validation import check_feature_dim, check_graph, check_node_labels, check_node_mask

__all__ = ["LocalAugmenter", "RandomNeighborAugmenter"]

_SELECTIONS = ("auto", "uscore", "last")

#: ``sampler(k, generator) -> [N, k, F]`` node-first generated features (see ``_samplers``)
FeatureSampler = Callable[[int, "torch.Generator | None"], torch.Tensor]


class _NodeFeatureAugmenter(Augmenter):
    """Shared part of the graph augmenters: ``sample(data, n)`` attaches ``x_aug`` [N, n, F].

    A subclass implements :meth:`_feature_sampler`; ``sample``, :class:`LocalAugment` and
    the training loop all generate through it.
    """

    sample_unit: ClassVar[str] = "views"
    default_n: ClassVar[int] = 1

    def sample(self, data: Any = None, n: int | None = None, *, random_state: RandomState = None) -> Any:
        """A copy of ``data`` with ``x_aug`` [N, n, F]: ``n`` generated feature vectors per node.

        Parameters
        ----------
        data : Data
            The graph to augment; its features must have the fitted feature count. Any graph
            (including the fitted one, a graph with no edges or isolated nodes) works.
        n : int, default 1
            ``sample_unit = "views"``: ``sample(data, n)`` returns ``n`` augmented views of
            EVERY node of ``data`` (``x_aug[:, j]`` is the j-th generated feature matrix
            [N, F]); ``n=None`` means ``default_n = 1``. ``n >= 1``.
        random_state : int or Generator, optional
            Overrides the augmenter's own sampling stream for this call.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        InvalidParameterError
            ``n`` is not an int >= 1, or ``data`` is not a graph.
        DataValidationError
            A malformed graph, another feature count than fitted, or ``data`` already has an
            ``x_aug`` (it is never overwritten).
        """
        check_is_fitted(self, self._fitted_attributes)
        if n is not None:
            check_positive_int(n, "n")
        return super().sample(data, n, random_state=random_state)

    def _count_sampled(self, out: Any, data: Any) -> int:
        """Views per node in ``out`` (``x_aug.shape[1]``)."""
        return int(out.x_aug.shape[1])

    def _check_data(self, data: Any) -> None:
        """Raise before any work when the fitted augmenter cannot generate for ``data``."""
        check_is_fitted(self, self._fitted_attributes)
        check_graph(data, require_edges=False)
        check_feature_dim(data, self.n_features_)

    def _feature_sampler(self, data: Any, device: str | torch.device | None = None) -> FeatureSampler:
        """The generator of ``data``'s features on ``device`` (default: ``data.x``'s device)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _generate(self, data: Any, k: int, rng: SampleRNG) -> torch.Tensor:
        """``k`` generated feature vectors per node of ``data``: a contiguous [N, k, F] tensor."""
        sampler = self._feature_sampler(data)
        gen = rng.torch(data.x.device)
        return sampler(k, gen).to(data.x.dtype).contiguous()

    def _sample(self, data: Any, n: int | None, rng: SampleRNG) -> Any:
        if data is None:
            raise InvalidParameterError(f"{type(self).__name__}.sample needs the graph to augment: sample(data, n=k)")
        _check_graph_type(data)
        _check_free_attr(data, "x_aug")
        out = data.clone()
        out.x_aug = self._generate(data, self.default_n if n is None else int(n), rng)
        return out


class LocalAugmenter(_NodeFeatureAugmenter):
    """Learn the distribution of neighbours' features given a node's (LAGNN, Liu et al. 2022).

    Parameters
    ----------
    latent_size : int, default 10
        CVAE latent dimension (paper).
    hidden_size : int, default 256
        Width of the CVAE's encoder and decoder hidden layers (paper).
    max_epochs : int, default 10
        CVAE budget: passes over all directed edges (the reference's ``pretrain_epochs``;
        the CVAE trains all of them, with no early stopping).
    batch_size : int, default 64
        Edge pairs per CVAE step (paper).
    lr : float, default 0.01
        Adam learning rate of the CVAE (the reference's ``pretrain_lr``).
    selection : {"auto", "uscore", "last"}, default "auto"
        ``"uscore"``: keep the checkpoint with the best U score of a pre-trained GCN (needs
        ``data.y`` and ``data.train_mask``); ``"last"``: keep the final weights; ``"auto"``:
        ``"uscore"`` when labels and a training mask are present, else ``"last"``.
    warmup : int, default 200
        CVAE iterations before a checkpoint may be selected (paper).
    num_models : int, default 100
        MC-dropout passes of the selector GCN per U score (paper).
    update_epochs : int, default 20
        Selector-GCN epochs on the generated features after each new best (paper).
    uscore_every : int, default 1
        Score every this many iterations (paper: 1). Larger values trade selection
        granularity for speed on a CPU.
    selector_hidden_size, selector_max_epochs : int, default 32, 100
        The selector GCN's width and pre-training epochs (reference values).
    normalize : bool, default True
        Row-normalise generated features (the reference does; match the model's input).
    device : str, default "auto"
        Where the CVAE is trained; sampling runs on ``data.x``'s device.
    verbose : bool, default False
        Progress bar over CVAE epochs.
    random_state : int, Generator or None
        Seeds weight initialisation, batch order, reparameterisation noise and dropout.

    Attributes
    ----------
    cvae_ : NeighborCVAE
        The selected CVAE (eval mode, on the fit device).
    n_features_ : int
    n_edge_pairs_ : int
        Directed (neighbour, centre) pairs trained on (self-loops dropped).
    selection_ : str
        The selection actually used.
    selected_iteration_ : int or None
        Iteration of the kept checkpoint (``None``: last weights).
    uscore_history_ : list of (iteration, U)
    loss_history_ : list of float
        Mean CVAE loss per epoch.
    fit_time_ : float
        Seconds spent in ``fit``.

    Notes
    -----
    Isolated nodes contribute no training pairs, but ``sample`` still generates features
    for them from their own features (the decoder is conditioned only on the centre node),
    as the reference does for every node. Features must lie in [0, 1] (Bernoulli decoder).
    """

    def __init__(
        self,
        *,
        latent_size: int = 10,
        hidden_size: int = 256,
        max_epochs: int = 10,
        batch_size: int = 64,
        lr: float = 0.01,
        selection: str = "auto",
        warmup: int = 200,
        num_models: int = 100,
        update_epochs: int = 20,
        uscore_every: int = 1,
        selector_hidden_size: int = 32,
        selector_max_epochs: int = 100,
        normalize: bool = True,
        device: str = "auto",
        verbose: bool = False,
        random_state: Any = None,
    ):
        self.latent_size = latent_size
        self.hidden_size = hidden_size
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.selection = selection
        self.warmup = warmup
        self.num_models = num_models
        self.update_epochs = update_epochs
        self.uscore_every = uscore_every
        self.selector_hidden_size = selector_hidden_size
        self.selector_max_epochs = selector_max_epochs
        self.normalize = normalize
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------------------------
    def _validate_params(self) -> None:
        for name in (
            "latent_size",
            "hidden_size",
            "max_epochs",
            "batch_size",
            "num_models",
            "uscore_every",
            "selector_hidden_size",
        ):
            check_positive_int(getattr(self, name), name)
        for name in ("warmup", "update_epochs", "selector_max_epochs"):
            check_positive_int(getattr(self, name), name, minimum=0)
        check_positive_float(self.lr, "lr")
        check_choice(self.selection, _SELECTIONS, "selection")
        check_bool(self.normalize, "normalize")
        check_bool(self.verbose, "verbose")

    def _resolve_selection(self, data: Any) -> str:
        """The selection to use; labels and mask are checked whenever the U score would use them.

        ``"auto"`` falls back to ``"last"`` only when ``y`` or ``train_mask`` is absent or the
        mask selects no node; a malformed ``y``/``train_mask`` raises rather than being skipped.
        """
        has_labels = getattr(data, "y", None) is not None and getattr(data, "train_mask", None) is not None
        if self.selection == "uscore" and not has_labels:
            raise DataValidationError(
                "selection='uscore' needs data.y and data.train_mask (use selection='last' for unlabelled graphs)"
            )
        if self.selection == "last" or not has_labels:
            return "last"
        n = data.x.shape[0]
        why = (
            ": selection='uscore' scores checkpoints on the training nodes "
            "(use selection='last' for a graph without labelled nodes)"
        )
        mask = check_node_mask(data, "train_mask", n, nonempty=self.selection == "uscore", why=why)
        if not bool(mask.any()):
            return "last"  # "auto" on a graph without labelled nodes
        check_node_labels(data, {"train_mask": mask}, n)
        return "uscore"

    def _fit(self, data: Any, **kwargs: Any) -> None:
        if kwargs:
            raise InvalidParameterError(f"LocalAugmenter.fit got unexpected keyword arguments {sorted(kwargs)}")
        check_graph(data, require_edges=True, unit_interval=True)
        selection = self._resolve_selection(data)  # labels/mask checked before any training
        t0 = time.perf_counter()
        dev = resolve_device(self.device)
        rng = self._fit_rng
        gen = rng.torch(dev)
        x = data.x.detach().to(dev, torch.float32)
        n, f = x.shape
        ei = data.edge_index.to(dev)
        keep = ei[0] != ei[1]
        nbr, centre = ei[0][keep], ei[1][keep]  # PyG direction: message j -> i

        # Weight init from our own seed without disturbing the caller's global RNG.
        with local_torch_seed(int(rng.np.integers(2**31 - 1))):
            cvae = NeighborCVAE(f, self.hidden_size, self.latent_size).to(dev)
            selector = (
                SelectorGCN(f, self.selector_hidden_size, int(data.y.max()) + 1).to(dev)
                if selection == "uscore"
                else None
            )
        opt = torch.optim.Adam(cvae.parameters(), lr=self.lr)

        state: dict[str, Any] = {"t": 0, "best": -float("inf"), "best_state": None, "best_t": None}
        self.uscore_history_: list[tuple[int, float]] = []
        if selector is not None:
            train_idx = data.train_mask.to(dev).nonzero().view(-1)
            y = data.y.to(dev)
            sel_opt = torch.optim.Adam(selector.parameters(), lr=0.01, weight_decay=5e-4)
            adj = full_graph(ei, n)
            train_selector(
                selector,
                row_normalize(x),
                adj,
                adj,
                train_idx,
                y[train_idx],
                sel_opt,
                self.selector_max_epochs,
                gen,
                dev,
            )
            sub = local_subgraph(ei, n, train_idx, y)
            x_sub = x[sub.nodes]

        def maybe_select() -> None:
            t = state["t"]
            if selector is None or t % self.uscore_every:
                return
            with torch.no_grad():
                z = torch.randn((len(sub.nodes), self.latent_size), generator=gen, device=dev)
                feats = row_normalize(cvae.decode(z, x_sub))
            score = u_score(selector, feats, sub, self.num_models, gen)
            self.uscore_history_.append((t, score))
            # Unlike the reference, the best score is tracked only after the warm-up: the
            # reference also counts warm-up scores, which can leave it with no checkpoint.
            if t > self.warmup and score > state["best"]:
                state.update(
                    best=score, best_t=t, best_state={k: v.detach().clone() for k, v in cvae.state_dict().items()}
                )
                train_selector(
                    selector,
                    feats,
                    sub.adj1,
                    sub.adj2,
                    sub.train_local,
                    sub.y_train,
                    sel_opt,
                    self.update_epochs,
                    gen,
                    dev,
                )

        def train_epoch(epoch: int) -> dict[str, float]:
            cvae.train()
            total, count = 0.0, 0
            for idx in batch_indices(len(nbr), self.batch_size, generator=gen, device=dev):
                xj, xi = x[nbr[idx]], x[centre[idx]]
                recon, mean, log_var = cvae(xj, xi, gen)
                loss = cvae_loss(recon, xj, mean, log_var)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
                state["t"] += 1
                maybe_select()
            return {"loss": total / max(count, 1)}

        result = Trainer(
            max_epochs=self.max_epochs,
            monitor="__last__",
            device=dev,
            verbose=self.verbose,
            restore_best=False,
            desc="LAGNN cvae",
        ).fit(cvae, opt, train_epoch, generators=[gen])
        if state["best_state"] is not None:
            cvae.load_state_dict(state["best_state"])
        cvae.eval()
        for p in cvae.parameters():
            p.requires_grad_(False)
        self.cvae_ = cvae
        self.n_features_ = f
        self.n_edge_pairs_ = int(len(nbr))
        self.n_iterations_ = state["t"]
        self.selection_ = selection
        self.selected_iteration_ = state["best_t"]
        self.best_uscore_ = state["best"] if state["best_t"] is not None else None
        self.loss_history_ = [h["loss"] for h in result.history]
        self.fit_time_ = time.perf_counter() - t0
        self._device_copies: dict[str, NeighborCVAE] = {}

    # ------------------------------------------------------------------------------
    def _cvae_on(self, device: torch.device) -> NeighborCVAE:
        if same_device(device, next(self.cvae_.parameters()).device):  # "cuda" is "cuda:0": no copy
            return self.cvae_
        for key, cvae in self._device_copies.items():
            if same_device(key, device):
                return cvae
        self._device_copies[str(torch.device(device))] = cvae = copy.deepcopy(self.cvae_).to(device)
        return cvae

    def _check_data(self, data: Any) -> None:
        check_is_fitted(self, self._fitted_attributes)
        check_graph(data, require_edges=False, unit_interval=True)  # the decoder conditions on x in [0, 1]
        check_feature_dim(data, self.n_features_)

    def _feature_sampler(self, data: Any, device: str | torch.device | None = None) -> _CVAESampler:
        """Decode ``p(x_neighbour | x_node)`` for every node of ``data`` (one path: ``sample``,
        :class:`LocalAugment` and the training loop all draw through this).

        The features the generator is conditioned on are ``data.x`` (the same kind of
        features the CVAE was fitted on, e.g. raw bag-of-words), on ``device`` (default:
        ``data.x``'s device).
        """
        self._check_data(data)
        dev = torch.device(device) if device is not None else data.x.device
        return _CVAESampler(self._cvae_on(dev), data.x.to(dev), normalize=self.normalize)


class RandomNeighborAugmenter(_NodeFeatureAugmenter):
    """Ablation control of LAGNN: a uniformly random neighbour's features instead of the CVAE's.

    ``sample(data, n)`` and LA-GNN training with ``augmenter=RandomNeighborAugmenter().fit(data)``
    replace each generated feature vector by the features of a neighbour drawn uniformly
    (the sources of the edges pointing at the node, PyG's message direction; isolated nodes
    get their own features): what the CVAE adds over plain neighbour resampling.

    Parameters
    ----------
    normalize : bool, default True
        Row-normalise the copied features (as :class:`LocalAugmenter` does its generated ones).
    random_state : int, Generator or None
        Seeds the ``sample`` stream (training draws from its own seed).

    Attributes
    ----------
    n_features_ : int
        Feature count of the fitted graph; ``sample`` needs the same.
    """

    def __init__(self, *, normalize: bool = True, random_state: Any = None):
        self.normalize = normalize
        self.random_state = random_state

    def _validate_params(self) -> None:
        check_bool(self.normalize, "normalize")

    def _fit(self, data: Any, **kwargs: Any) -> None:
        if kwargs:
            raise InvalidParameterError(
                f"RandomNeighborAugmenter.fit got unexpected keyword arguments {sorted(kwargs)}"
            )
        check_graph(data, require_edges=False)
        self.n_features_ = int(data.x.shape[1])

    def _feature_sampler(self, data: Any, device: str | torch.device | None = None) -> _RandomNeighborSampler:
        """Copy random neighbours' features of ``data`` on ``device`` (default: ``data.x``'s)."""
        self._check_data(data)
        dev = torch.device(device) if device is not None else data.x.device
        return _RandomNeighborSampler(data.x.to(dev), data.edge_index.to(dev), normalize=self.normalize)


#: attribute names PyG or its users give a meaning of their own
_PYG_RESERVED = frozenset(
    {
        "x",
        "edge_index",
        "edge_attr",
        "edge_weight",
        "edge_type",
        "node_type",
        "y",
        "pos",
        "norm",
        "face",
        "time",
        "batch",
        "ptr",
        "num_nodes",
        "train_mask",
        "val_mask",
        "test_mask",
        "adj",
        "adj_t",
        "n_id",
        "e_id",
    }
)


def _check_attr_name(attr: Any) -> str:
    """Return ``attr`` if generated node features can be stored and batched under it."""
    if not isinstance(attr, str) or not attr.isidentifier() or attr.startswith("_"):
        raise InvalidParameterError(
            f"attr must be a public attribute name (an identifier not starting with '_'), got {attr!r}"
        )
    if attr in _PYG_RESERVED or hasattr(Data, attr):
        raise InvalidParameterError(
            f"attr={attr!r} is reserved by torch_geometric's Data; writing the "
            "generated features there would overwrite the graph: choose another "
            "name (default 'x_aug')"
        )
    if "index" in attr or "batch" in attr:
        raise InvalidParameterError(
            f"attr={attr!r}: PyG's DataLoader offsets attributes whose name contains "
            "'index' or 'batch' when batching graphs, which would corrupt generated "
            "features; choose another name (default 'x_aug')"
        )
    return attr


def _check_graph_type(data: Any) -> None:
    if not hasattr(data, "x") or not hasattr(data, "edge_index"):
        raise InvalidParameterError(
            f"data must be a torch_geometric Data with 'x' and 'edge_index', got {type(data).__name__}"
        )


def _check_free_attr(data: Any, attr: str) -> None:
    """Refuse to overwrite an attribute ``data`` already has (e.g. from an earlier augmentation)."""
    if getattr(data, attr, None) is not None:
        raise DataValidationError(
            f"data already has an attribute {attr!r} (shape {tuple(getattr(getattr(data, attr), 'shape', ()))}), "
            f"e.g. from an earlier augmentation; it is never overwritten or stacked: delete it first "
            f"(del data.{attr}) or write to another name"
        )
