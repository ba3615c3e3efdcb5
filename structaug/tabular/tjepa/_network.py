"""T-JEPA's torch modules: feature tokenizer, transformer encoders and the latent predictor.

Shapes use ``B`` rows, ``D`` features, ``R`` regularisation tokens, ``h`` the token width.
Token positions are ``0..R-1`` for the [REG] tokens and ``R + j`` for feature ``j`` (input
column order), so a feature-index mask from :class:`~structaug.tabular.JEPAMasking`
maps to positions by adding ``R``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = [
    "FeatureTokenizer",
    "JEPAEncoder",
    "JEPAPredictor",
    "TJEPANetwork",
    "TokenTransformer",
    "sincos_positions",
]


def sincos_positions(n_positions: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """Fixed 1-D sine/cosine position codes ``(n_positions, dim)`` (``dim`` even)."""
    if dim % 2:
        raise ValueError(f"sine/cosine positions need an even width, got {dim}")
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(base) / dim))
    out = torch.zeros(n_positions, dim)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq)
    return out


def _init_trunc_normal(module: nn.Module, std: float = 0.02) -> None:
    """The reference's ``init_type="trunc_normal"``: Linear/Embedding N(0, 0.02), LayerNorm (1, 0)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class FeatureTokenizer(nn.Module):
    """One ``h``-dim token per feature plus ``R`` learnt [REG] tokens.

    Numerical feature ``j``: ``x_j * w_j + b_j`` (a per-feature linear map, as in
    FT-Transformer and the reference). Categorical feature ``j``: an embedding of its code
    plus ``b_j``. A learnt feature-type embedding (numerical vs categorical) is added when
    ``type_embedding`` is on, and fixed sine/cosine position codes over all ``R + D``
    positions (the reference's ``PositionalEncoding``, base 100) identify columns.

    Parameters
    ----------
    numerical_columns, categorical_columns : sequence of int
        Input column positions of each kind (together a permutation of ``range(D)``).
    cardinalities : sequence of int
        Embedding-table size of each categorical column.
    d_token : int
    n_reg_tokens : int
    type_embedding : bool
    """

    # buffers (registered in __init__), typed for mypy
    num_idx: torch.Tensor
    cat_idx: torch.Tensor
    to_column_order: torch.Tensor
    cat_offsets: torch.Tensor
    feature_type: torch.Tensor
    positions: torch.Tensor

    def __init__(
        self,
        numerical_columns: Sequence[int],
        categorical_columns: Sequence[int],
        cardinalities: Sequence[int],
        d_token: int,
        n_reg_tokens: int = 1,
        type_embedding: bool = True,
    ):
        super().__init__()
        num, cat = list(numerical_columns), list(categorical_columns)
        if len(cat) != len(cardinalities):
            raise ValueError("one cardinality per categorical column is needed")
        self.n_features = len(num) + len(cat)
        self.n_reg_tokens = int(n_reg_tokens)
        self.register_buffer("num_idx", torch.as_tensor(num, dtype=torch.long), persistent=False)
        self.register_buffer("cat_idx", torch.as_tensor(cat, dtype=torch.long), persistent=False)
        # tokens are built as [numerical..., categorical...]; this puts them back in column order
        order = torch.as_tensor(num + cat, dtype=torch.long)
        self.register_buffer("to_column_order", torch.argsort(order), persistent=False)
        self.num_weight = nn.Parameter(torch.empty(len(num), d_token))
        self.num_bias = nn.Parameter(torch.empty(len(num), d_token))
        self.cat_embedding = nn.Embedding(max(1, int(sum(cardinalities))), d_token)
        offsets = (
            torch.cumsum(torch.as_tensor([0, *cardinalities[:-1]], dtype=torch.long), 0)
            if cat
            else torch.zeros(0, dtype=torch.long)
        )
        self.register_buffer("cat_offsets", offsets, persistent=False)
        self.cat_bias = nn.Parameter(torch.empty(len(cat), d_token))
        self.reg_tokens = nn.Parameter(torch.empty(self.n_reg_tokens, d_token))
        is_cat = torch.zeros(self.n_features, dtype=torch.long)
        if cat:
            is_cat[torch.as_tensor(cat)] = 1
        self.register_buffer("feature_type", is_cat, persistent=False)
        self.type_embedding = nn.Embedding(2, d_token) if type_embedding else None
        self.register_buffer(
            "positions", sincos_positions(self.n_reg_tokens + self.n_features, d_token, base=100.0), persistent=False
        )
        for p in (self.num_weight, self.num_bias, self.cat_bias, self.reg_tokens):
            if p.numel():  # a table without numerical (or categorical) columns has empty ones
                nn.init.kaiming_uniform_(p, a=math.sqrt(5))  # the reference tokenizer's init

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (B, D) float table, categorical columns holding integer codes → (B, R+D, h)."""
        parts = []
        if len(self.num_idx):
            parts.append(x[:, self.num_idx, None] * self.num_weight + self.num_bias)
        if len(self.cat_idx):
            codes = x[:, self.cat_idx].long() + self.cat_offsets
            parts.append(self.cat_embedding(codes) + self.cat_bias)
        feats = torch.cat(parts, dim=1)[:, self.to_column_order]
        if self.type_embedding is not None:
            feats = feats + self.type_embedding(self.feature_type)
        reg = self.reg_tokens.expand(x.shape[0], -1, -1)
        return torch.cat([reg, feats], dim=1) + self.positions


class TokenTransformer(nn.Module):
    """Transformer layers then the reference's output block (LayerNorm → Linear → LayerNorm)."""

    def __init__(
        self,
        d_model: int,
        n_layers: int,
        n_heads: int,
        d_feedforward: int,
        dropout: float,
        layer_norm_eps: float = 1e-5,
        activation: str = "relu",
    ):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"the token width ({d_model}) must be divisible by the number of heads ({n_heads})")
        layer = nn.TransformerEncoderLayer(
            d_model,
            n_heads,
            d_feedforward,
            dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
            batch_first=True,
        )
        self.layers = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.out = nn.Sequential(
            nn.Dropout(dropout),
            nn.LayerNorm(d_model, eps=layer_norm_eps),
            nn.Linear(d_model, d_model),
            nn.Dropout(dropout),
            nn.LayerNorm(d_model, eps=layer_norm_eps),
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(self.layers(tokens))


def gather_tokens(tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """``tokens`` (B, L, h), ``positions`` (B, k) → (B, k, h)."""
    return torch.gather(tokens, 1, positions[..., None].expand(-1, -1, tokens.shape[-1]))


class JEPAEncoder(nn.Module):
    """Tokenizer + transformer; with ``keep`` it encodes only those features (plus [REG])."""

    def __init__(self, tokenizer: FeatureTokenizer, transformer: TokenTransformer):
        super().__init__()
        self.tokenizer = tokenizer
        self.transformer = transformer

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        tokens = self.tokenizer(x)
        if keep is not None:
            tokens = gather_tokens(tokens, keep)
        return self.transformer(tokens)


class JEPAPredictor(nn.Module):
    """Predict target-encoder tokens at target positions from the context tokens.

    The context output is projected to the predictor width and tagged with fixed position
    codes of its positions; each target position gets a shared learnt [MASK] token plus its
    position code. All ``K`` target subsets of a row are predicted in one batched pass (the
    context is repeated ``K`` times), as in the reference ``TransformerPredictor``.
    """

    positions: torch.Tensor  # buffer

    def __init__(
        self,
        n_positions: int,
        d_model: int,
        d_predictor: int,
        n_layers: int,
        n_heads: int,
        d_feedforward: int,
        dropout: float,
        layer_norm_eps: float = 1e-5,
    ):
        super().__init__()
        self.embed = nn.Linear(d_model, d_predictor)
        self.register_buffer("positions", sincos_positions(n_positions, d_predictor), persistent=False)
        self.mask_token = nn.Parameter(torch.zeros(d_predictor))
        self.transformer = TokenTransformer(d_predictor, n_layers, n_heads, d_feedforward, dropout, layer_norm_eps)
        self.norm = nn.LayerNorm(d_predictor, eps=layer_norm_eps)
        self.proj = nn.Linear(d_predictor, d_model)
        _init_trunc_normal(self)
        nn.init.trunc_normal_(self.mask_token, std=0.02, a=-0.04, b=0.04)

    def forward(self, context: torch.Tensor, context_pos: torch.Tensor, target_pos: torch.Tensor) -> torch.Tensor:
        """``context`` (B, Lc, h), ``context_pos`` (B, Lc), ``target_pos`` (B, K, Lt) → (B, K, Lt, h)."""
        B, K, Lt = target_pos.shape
        Lc = context.shape[1]
        ctx = self.embed(context) + self.positions[context_pos]
        ctx = ctx[:, None].expand(B, K, Lc, ctx.shape[-1]).reshape(B * K, Lc, -1)
        queries = (self.mask_token + self.positions[target_pos]).reshape(B * K, Lt, -1)
        out = self.transformer(torch.cat([ctx, queries], dim=1))
        out = self.proj(self.norm(out)[:, Lc:])
        return out.reshape(B, K, Lt, -1)


class TJEPANetwork(nn.Module):
    """Context encoder, EMA target encoder and predictor in one module (one checkpoint).

    The target encoder starts as a copy of the context encoder, receives no gradient and
    follows it by exponential moving average (:meth:`ema_update`) after every step.
    """

    def __init__(
        self,
        *,
        numerical_columns: Sequence[int],
        categorical_columns: Sequence[int],
        cardinalities: Sequence[int],
        d_model: int,
        n_layers: int,
        n_heads: int,
        d_feedforward: int,
        dropout: float,
        n_reg_tokens: int,
        type_embedding: bool,
        d_predictor: int,
        predictor_layers: int,
        predictor_heads: int,
        predictor_feedforward: int,
        predictor_dropout: float,
    ):
        super().__init__()
        tok = FeatureTokenizer(
            numerical_columns, categorical_columns, cardinalities, d_model, n_reg_tokens, type_embedding
        )
        body = TokenTransformer(d_model, n_layers, n_heads, d_feedforward, dropout)
        _init_trunc_normal(body)
        if tok.type_embedding is not None:
            _init_trunc_normal(tok.type_embedding)
        _init_trunc_normal(tok.cat_embedding)
        self.n_reg_tokens = int(n_reg_tokens)
        self.context_encoder = JEPAEncoder(tok, body)
        self.target_encoder = copy.deepcopy(self.context_encoder)
        for p in self.target_encoder.parameters():
            p.requires_grad_(False)
        self.predictor = JEPAPredictor(
            self.n_reg_tokens + tok.n_features,
            d_model,
            d_predictor,
            predictor_layers,
            predictor_heads,
            predictor_feedforward,
            predictor_dropout,
        )

    def jepa_loss(self, x: torch.Tensor, context: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Latent-space MSE of predicted vs. target-encoder tokens.

        ``context`` (B, k_c) and ``targets`` (B, K, k_t) are feature indices.
        """
        R = self.n_reg_tokens
        B = x.shape[0]
        reg = torch.arange(R, device=x.device).expand(B, R)
        context_pos = torch.cat([reg, context + R], dim=1)  # [REG] tokens are always in the context
        target_pos = targets + R
        with torch.no_grad():
            full = self.target_encoder(x)  # (B, R+D, h): targets see the whole row
            K, Lt = target_pos.shape[1:]
            h = gather_tokens(full, target_pos.reshape(B, K * Lt)).reshape(B, K, Lt, -1)
        z = self.context_encoder(x, context_pos)
        pred = self.predictor(z, context_pos, target_pos)
        return nn.functional.mse_loss(pred, h)

    @torch.no_grad()
    def ema_update(self, momentum: float) -> None:
        """``target ← m · target + (1 − m) · context`` for every parameter."""
        tgt: list[torch.Tensor] = list(self.target_encoder.parameters())
        src: list[torch.Tensor] = [p.detach() for p in self.context_encoder.parameters()]
        torch._foreach_mul_(tgt, momentum)
        torch._foreach_add_(tgt, src, alpha=1.0 - momentum)

    @torch.no_grad()
    def represent(self, x: torch.Tensor, mode: str = "flatten") -> torch.Tensor:
        """Target-encoder representation of full rows: ``flatten`` (B, (R+D)·h) or ``reg`` (B, R·h)."""
        out = self.target_encoder(x)
        if mode == "reg":
            out = out[:, : self.n_reg_tokens]
        return out.reshape(out.shape[0], -1)
