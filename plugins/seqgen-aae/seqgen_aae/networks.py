"""The AAE's two networks besides the decoder: the sequence encoder ``q(z | x)`` and the discriminator.

Encoder (one code per sequence; Makhzani et al. 2016, §2, the three choices of ``q(z | x)``)::

    e_t = LayerNorm(MLP(x_t))                         per-step features      [batch, time, embed_dim]
    h   = GRU([e_t, inputs_t, mask_t]) at t = L - 1   the recurrent summary  [batch, rnn_hidden]
    ē   = Σ_t mask_t e_t / Σ_t mask_t                 the mean feature       [batch, embed_dim]
    s   = [h, ē]                                      the sequence summary
    deterministic:  z = f(s)
    gaussian:       [μ, s'] = f(s),  z = μ + σ ⊙ ε,  σ = softplus(s') + 1e-4,  ε ~ N(0, I)
    universal:      z = f([s, η]),  η ~ N(0, I)   (noise as an input; ``f`` has hidden layers)

``L`` is each sequence's length (its last observed step + 1), read with ``pack_padded_sequence``, so
right-padding never reaches the code; ``mask_t`` tells a hidden step inside a sequence from a zero.
The layer norm (Ba et al. 2016) keeps the GRU's inputs at unit scale whatever the size of the
MLP's weights: unbounded features of a 784-pixel image saturate the GRU's gates (a squashing
nonlinearity instead saturates itself once adversarial updates grow the weights), and a saturated
encoder gives every image the same summary, so the same code. The mean feature ``ē`` is a path
from the data to the code that no recurrent gate can close: on one-step sequences (flat images) an
update gate that learns to stay shut (``h = (1 - u) ⊙ n ≈ 0``) otherwise starves the code.

Discriminator: ``D(z, y) = σ(ℓ(z, y))`` with ``ℓ`` an MLP of ReLU hidden layers and a *linear* output
unit, trained with binary cross-entropy on the logit ``ℓ`` (``BCEWithLogits``) — no sigmoid after a
ReLU (which would pin ``D ≥ ½``), no batch norm, no dropout. ``y`` is the one-hot label with an
extra "unlabelled" slot when the regularisation is label-conditioned (§2.3), else nothing.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from seqgen import MLP, ShapeError

__all__ = ["SequenceEncoder", "Discriminator", "MIN_SCALE"]

MIN_SCALE = 1e-4  # floor on the Gaussian encoder's σ


class SequenceEncoder(nn.Module):
    """``x: [batch, time, obs_dim] -> z: [batch, z_dim]`` (see the module docstring).

    Args: ``obs_shape`` (``(obs_dim,)``); ``kind`` (``'deterministic' | 'gaussian' | 'universal'``); ``z_dim``;
    ``embed_dim``, ``feature_hidden`` (the per-step MLP); ``rnn_hidden`` (GRU width);
    ``code_hidden`` (the head's hidden layers); ``noise_dim`` (``η``'s width); ``input_dim``
    (given per-step inputs read alongside ``x``).
    """

    def __init__(
        self,
        obs_shape,
        *,
        kind: str,
        z_dim: int,
        embed_dim: int,
        feature_hidden: Sequence[int],
        rnn_hidden: int,
        code_hidden: Sequence[int],
        noise_dim: int,
        input_dim: int = 0,
    ):
        super().__init__()
        self.kind, self.z_dim, self.noise_dim, self.input_dim = kind, z_dim, noise_dim, input_dim
        (obs_dim,) = tuple(obs_shape)
        self.features = nn.Sequential(MLP(obs_dim, embed_dim, hidden=tuple(feature_hidden)), nn.LayerNorm(embed_dim))
        self.rnn = nn.GRU(embed_dim + input_dim + 1, rnn_hidden, batch_first=True)
        head_in = rnn_hidden + embed_dim + (noise_dim if kind == "universal" else 0)
        self.head = MLP(head_in, z_dim * (2 if kind == "gaussian" else 1), hidden=tuple(code_hidden))

    def summary(self, x: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor, inputs: Optional[torch.Tensor]) -> torch.Tensor:
        """``s = [h, ē]``: the GRU's state after step ``lengths - 1`` and the mean feature over observed
        steps, ``[batch, rnn_hidden + embed_dim]``."""
        e = self.features(x)  # [batch, time, embed_dim]
        m = mask.unsqueeze(-1).to(e.dtype)  # [batch, time, 1]
        parts = [e] + ([] if inputs is None else [inputs.to(e.dtype)]) + [m]
        u = torch.cat(parts, dim=-1)  # [batch, time, embed_dim + input_dim + 1]
        packed = nn.utils.rnn.pack_padded_sequence(u, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.rnn(packed)  # [1, batch, rnn_hidden], rows in the original order
        mean = (e * m).sum(1) / m.sum(1).clamp_min(1)  # [batch, embed_dim]
        return torch.cat([h[0], mean], dim=-1)

    def forward(self, x, mask, lengths, inputs=None) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """``(z: [batch, z_dim], extras)``; ``extras`` holds ``z_loc``/``z_scale`` for the Gaussian encoder."""
        h = self.summary(x, mask, lengths, inputs)  # [batch, rnn_hidden + embed_dim]
        if self.kind == "deterministic":
            return self.head(h), {}
        if self.kind == "gaussian":
            loc, raw = self.head(h).chunk(2, dim=-1)  # [batch, 2 z_dim] -> 2 x [batch, z_dim]
            scale = F.softplus(raw) + MIN_SCALE
            return loc + scale * torch.randn_like(loc), {"z_loc": loc, "z_scale": scale}
        eta = torch.randn(h.shape[0], self.noise_dim, dtype=h.dtype, device=h.device)  # [batch, noise_dim]
        return self.head(torch.cat([h, eta], dim=-1)), {}


class Discriminator(nn.Module):
    """``ℓ(z, y)``: the discriminator's logit, ``[batch, z_dim] (+ [batch, label_slots]) -> [batch]``.

    ``D = σ(ℓ)`` spans (0, 1): the output unit is an ``nn.Linear`` with nothing after it.
    """

    def __init__(self, z_dim: int, *, label_slots: int = 0, hidden: Sequence[int] = (128, 128)):
        super().__init__()
        self.z_dim, self.label_slots = z_dim, label_slots
        self.net = MLP(z_dim + label_slots, 1, hidden=tuple(hidden), activation="relu")

    def forward(self, z: torch.Tensor, labels_one_hot: Optional[torch.Tensor] = None) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ShapeError("z", f"[batch, z_dim={self.z_dim}]", tuple(z.shape), "pass one code per sequence")
        if self.label_slots:
            if labels_one_hot is None or tuple(labels_one_hot.shape) != (z.shape[0], self.label_slots):
                got = "None" if labels_one_hot is None else tuple(labels_one_hot.shape)
                raise ShapeError("labels_one_hot", f"[batch={z.shape[0]}, {self.label_slots}] (classes + an unlabelled slot)", got, "pass the one-hot labels of a label-conditioned discriminator")
            z = torch.cat([z, labels_one_hot.to(z.dtype)], dim=-1)  # [batch, z_dim + label_slots]
        return self.net(z).squeeze(-1)  # [batch]
