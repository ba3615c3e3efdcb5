"""Small torch building blocks shared by several methods."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from .validation import check_dropout

__all__ = ["MLP", "Dropout", "activation", "catalogue_cross_entropy", "fast_dropout"]

_ACTS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "silu": nn.SiLU}


def activation(name: str) -> nn.Module:
    try:
        return _ACTS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(_ACTS)}") from None


class MLP(nn.Sequential):
    """``in → hidden... → out`` with an activation (and optional dropout/batch-norm) between layers.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths including input and output, e.g. ``[30, 64, 64, 2]``.
    act : str
        Activation between layers (none after the last).
    dropout : float
        Dropout after each hidden activation.
    batch_norm : bool
        BatchNorm1d before each hidden activation.
    """

    def __init__(self, sizes: Sequence[int], *, act: str = "relu", dropout: float = 0.0, batch_norm: bool = False):
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least input and output sizes, got {list(sizes)}")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                if batch_norm:
                    layers.append(nn.BatchNorm1d(b))
                layers.append(activation(act))
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


_WORD = 8  # uint8 draws per int64 word


def _random_bytes(n: int, device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
    """``n`` uniform bytes cut out of ``ceil(n / 8)`` random int64 words (one RNG call)."""
    words = torch.randint(
        -(2**63), 2**63 - 1, ((n + _WORD - 1) // _WORD,), dtype=torch.int64, device=device, generator=generator
    )
    return words.view(torch.uint8)[:n]


def fast_dropout(
    x: torch.Tensor, p: float, training: bool = True, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Inverted dropout from 8-bit uniforms carved out of 64-bit random words.

    ``torch.bernoulli_`` (behind ``F.dropout``) draws one random number per element and was
    the single largest cost of LA-GNN training on a CPU (dense generated features, several
    branches and passes per epoch); ``torch.rand_like`` is ~3x cheaper but still dominated the
    dropout of SASRec-family encoders. Drawing 64-bit words and comparing each byte with a
    threshold is ~10x faster than ``bernoulli_``. Used by the graph models and, through
    :class:`Dropout`, by the sequential recommenders. The keep probability is quantised to
    multiples of 1/256 (0.4 -> 102/256) and the rescaling uses the quantised value, so the
    expectation is exact.

    ``x`` may be a sparse CSR matrix (e.g. bag-of-words features): only its stored entries
    are masked, with the *same* random bytes the dense version would use at those positions
    (the full draw is made so the generator advances identically), so
    ``fast_dropout(x.to_sparse_csr()).to_dense()`` equals ``fast_dropout(x)`` bit for bit.
    """
    if not training or p <= 0:
        return x
    if p >= 1:
        if x.layout == torch.sparse_csr:
            return torch.sparse_csr_tensor(
                x.crow_indices(), x.col_indices(), torch.zeros_like(x.values()), x.shape, check_invariants=False
            )
        return torch.zeros_like(x)
    if x.layout == torch.sparse_csr:
        return _sparse_csr_dropout(x, p, generator)
    u = _random_bytes(x.numel(), x.device, generator).view(x.shape)
    thr = max(1, round((1 - p) * 256))
    # The comparison is written straight into a float buffer and scaled in place (no bool
    # mask and float copy of it): the same values as before at about half the cost.
    mask = torch.empty_like(x)
    torch.lt(u, thr, out=mask)
    mask.mul_(256.0 / thr)
    if x.requires_grad and torch.is_grad_enabled():
        return x * mask  # out of place: autograd keeps the mask for the backward pass
    # Inputs without gradient (features, generated features): reuse the mask's buffer for
    # the result, one [N, F] allocation instead of two (fresh large buffers cost page faults).
    return mask.mul_(x)


def _sparse_csr_dropout(x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    crow, col, val = x.crow_indices(), x.col_indices(), x.values()
    n_rows, n_cols = x.shape
    u = _random_bytes(n_rows * n_cols, x.device, generator)
    rows = torch.repeat_interleave(torch.arange(n_rows, device=x.device), crow.diff())
    thr = max(1, round((1 - p) * 256))
    keep_val = torch.empty_like(val)
    torch.lt(u[rows * n_cols + col], thr, out=keep_val)
    keep_val.mul_(val).mul_(256.0 / thr)
    # same index arrays as the valid input, so the invariant check is skipped
    return torch.sparse_csr_tensor(crow, col, keep_val, x.shape, check_invariants=False)


class Dropout(nn.Module):
    """:func:`fast_dropout` as a module (a drop-in for :class:`torch.nn.Dropout`).

    Same expectation as :class:`torch.nn.Dropout` (the keep probability is quantised to
    1/256; exact for p = 0.5). On a CPU it is ~5x faster to draw than ``torch.rand_like``; in
    the SASRec-family encoders, whose dropout masks cover ``[3B, T, H]`` activations and
    ``[3B, heads, T, T]`` attention weights, it cut a Beauty epoch by 21 % (SASRec) and 33 %
    (CL4SRec) on a 2-core Xeon.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = check_dropout(p, "dropout")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fast_dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _CatalogueCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of ``h @ weight.T`` with the softmax kept for a one-pass backward."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raw = h @ weight.T  # in the autocast dtype when autocast is on (bf16 matmul)
        logits = raw.float()
        lse = torch.logsumexp(logits, 1)
        loss = (lse - logits.gather(1, targets.unsqueeze(1)).squeeze(1)).mean()
        # overwrite the logits with the softmax (the float32 buffer is ours when raw was bf16,
        # and raw itself otherwise): the gradient w.r.t. the logits is (softmax - onehot) / B
        probs = logits.sub_(lse.unsqueeze(1)).exp_()
        ctx.mm_dtype = raw.dtype
        ctx.save_for_backward(h, weight, targets, probs)
        return loss

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        h, weight, targets, probs = ctx.saved_tensors
        scale = grad / len(targets)
        g = probs * scale  # out of place: a retained graph can run backward again
        g[torch.arange(len(targets), device=g.device), targets] -= scale
        g = g.to(ctx.mm_dtype)
        grad_h = (g @ weight.to(ctx.mm_dtype)).to(h.dtype) if ctx.needs_input_grad[0] else None
        grad_w = (g.T @ h.to(ctx.mm_dtype)).to(weight.dtype) if ctx.needs_input_grad[1] else None
        return grad_h, grad_w, None


def catalogue_cross_entropy(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``F.cross_entropy(h @ weight.T, targets)`` (mean) over a whole item catalogue, fused.

    Next-item models score every item (12k on Beauty) for each of 256 rows per batch; autograd's
    ``log_softmax`` → ``nll_loss`` chain then zero-fills a ``[B, n_items]`` gradient, scatters
    into it and runs a separate ``log_softmax`` backward. Keeping the softmax from the forward
    pass makes the backward one scaled copy: 18 → 14 ms per call at B=256, 12k items, hidden 64
    on 2 CPU threads, the same values to float rounding. The softmax is computed in float32
    even when autocast runs the matmul in bfloat16 (as ``F.cross_entropy`` does under autocast).

    Parameters
    ----------
    h : Tensor [B, H]
        Representations.
    weight : Tensor [n_classes, H]
        Class (item) embeddings; scores are ``h @ weight.T``.
    targets : LongTensor [B]
        Class indices in ``[0, n_classes)``. Checked on a CPU (``IndexError``); on a GPU the
        check would cost a synchronisation per call, so an out-of-range target trips
        ``gather``'s device-side assert there instead.
    """
    if h.dim() != 2 or weight.dim() != 2 or h.shape[1] != weight.shape[1]:
        raise ValueError(f"h [B, H] and weight [C, H] must share H; got {tuple(h.shape)} and {tuple(weight.shape)}")
    if targets.shape != (h.shape[0],):
        raise ValueError(f"targets must have shape ({h.shape[0]},), got {tuple(targets.shape)}")
    if targets.numel() and targets.device.type == "cpu":
        lo, hi = (int(v) for v in targets.aminmax())
        if lo < 0 or hi >= weight.shape[0]:
            raise IndexError(f"targets must lie in [0, {weight.shape[0]}), got [{lo}, {hi}]")
    return _CatalogueCrossEntropy.apply(h, weight, targets)
