"""The conditional VAE of LAGNN: p(x_neighbour | x_centre).

Architecture as in the reference implementation (``Citation/cvae_models.py``): the encoder
is an MLP on ``[x_j, x_i]`` (one hidden layer of 256, ReLU) with linear heads for the mean
and log-variance of a 10-d latent; the decoder is an MLP on ``[z, x_i]`` (256, ReLU) with
a sigmoid output, trained with binary cross-entropy + KL (summed, averaged over the batch).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["NeighborCVAE", "cvae_loss", "row_normalize"]


def row_normalize(x: torch.Tensor) -> torch.Tensor:
    """Divide each row by its sum (rows summing to 0 stay 0), as the reference's ``normalize``.

    Not PyG's ``NormalizeFeatures``: it subtracts the global minimum and divides by the row
    sum clamped to >= 1, so rows summing to less than 1 (generated probabilities, features
    already scaled into [0, 1]) stay unnormalised. The two agree on bag-of-words counts
    (Cora, CiteSeer: bit-identical), not on what the CVAE generates, which the method needs
    normalised like the input.
    """
    s = x.sum(dim=-1, keepdim=True)
    return x / torch.where(s == 0, torch.ones_like(s), s)


def cvae_loss(recon: torch.Tensor, target: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """(BCE + KL) summed over features and latent dims, averaged over the batch."""
    bce = F.binary_cross_entropy(recon, target, reduction="sum")
    kld = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp())
    return (bce + kld) / target.shape[0]


class NeighborCVAE(nn.Module):
    """CVAE generating a neighbour's features conditioned on the centre node's features.

    Parameters
    ----------
    n_features : int
        Feature dimension F (of both the generated and the conditioning vector).
    hidden_size : int
        Width of the encoder's and decoder's hidden layer (reference: 256).
    latent_size : int
        Latent dimension (reference: 10).
    """

    def __init__(self, n_features: int, hidden_size: int = 256, latent_size: int = 10):
        super().__init__()
        self.n_features = n_features
        self.latent_size = latent_size
        self.encoder = nn.Sequential(nn.Linear(2 * n_features, hidden_size), nn.ReLU())
        self.to_mean = nn.Linear(hidden_size, latent_size)
        self.to_log_var = nn.Linear(hidden_size, latent_size)
        # The decoder's first layer acts on [z, c]; it is kept as two linear maps so that the
        # (large) condition part c @ W_c can be computed once and reused for every sample.
        self.dec_z = nn.Linear(latent_size, hidden_size)
        self.dec_c = nn.Linear(n_features, hidden_size, bias=False)
        self.dec_out = nn.Linear(hidden_size, n_features)

    def encode(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(torch.cat([x, c], dim=-1))
        return self.to_mean(h), self.to_log_var(h)

    def condition(self, c: torch.Tensor) -> torch.Tensor:
        """The decoder's pre-activation contribution of the condition, ``c @ W_c``."""
        return self.dec_c(c)

    def decode(
        self, z: torch.Tensor, c: torch.Tensor | None = None, *, c_proj: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Feature probabilities for latent ``z`` given condition ``c`` (or its cached projection)."""
        if c_proj is None:
            if c is None:
                raise ValueError("decode needs the condition c or its projection c_proj")
            c_proj = self.condition(c)
        h = F.relu(self.dec_z(z) + c_proj)
        return torch.sigmoid(self.dec_out(h))

    def forward(
        self, x: torch.Tensor, c: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruct ``x`` (neighbour features) given ``c`` (centre); returns (recon, mean, log_var)."""
        mean, log_var = self.encode(x, c)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        z = mean + eps * torch.exp(0.5 * log_var)
        return self.decode(z, c), mean, log_var
