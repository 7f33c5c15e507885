"""The SRNN's inference features ``a_t`` (Fraccaro, Sønderby, Paquet & Winther, NeurIPS 2016).

- ``'smooth'``: ``a_t = GRU←(a_{t+1}, [d_t, enc(x_t)])``, ``a_{length} = 0`` — a backward GRU, so ``q(z_t)``
  sees the present and the future. Without padding the GRU simply runs from ``t = T-1`` down to 0
  (``reverse=True``); with padding each sequence is reversed *within its own length* before the
  GRU and reversed back after, so ``a_t`` for ``t < length`` reads steps ``t … length-1`` only and
  right-padding never leaks into it. The GRU (:mod:`seqgen_srnn.gru`) reads ``d`` and ``enc(x)``
  as two input parts, so ``[d_t, enc(x_t)]`` is never copied into one tensor.
- ``'filter'``: ``a_t = MLP([d_t, enc(x_t)])`` (one hidden ReLU layer), no look-ahead.

Shapes are time-major: ``d: [time, N, d_dim]``, ``e: [time, N, enc_dim]``, ``a: [time, N, a_dim]``.
"""

from __future__ import annotations

import torch
from torch import nn

from seqgen.components import MLP

from .gru import GRU
from .masking import reverse_within_length

__all__ = ["Inference"]


class Inference(nn.Module):
    """``a_t`` from ``[d_t, enc(x_t)]``: ``kind='smooth'`` (backward GRU) or ``'filter'`` (MLP)."""

    def __init__(self, kind: str, in_dim: int, a_dim: int, hidden: int):
        super().__init__()
        self.kind = kind
        if kind == "smooth":
            self.rnn = GRU(in_dim, a_dim)
        else:
            self.mlp = MLP(in_dim, a_dim, hidden=(hidden,))

    def forward(self, d: torch.Tensor, e: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``d: [time, N, d_dim]``, ``e: [time, N, enc_dim]``, ``lengths: [N]`` -> ``a: [time, N, a_dim]``."""
        if self.kind == "filter":
            return self.mlp(torch.cat([d, e], dim=-1))  # [time, N, d_dim + enc_dim] -> [time, N, a_dim]
        # The GRU reads [d_t, enc(x_t)] as two parts (no concatenated copy; ∂/∂enc only if it needs one).
        if bool((lengths == d.shape[0]).all()):  # no padding: run the GRU from t = T-1 down to 0
            return self.rnn((d, e), reverse=True)[0]
        parts = (reverse_within_length(d, lengths), reverse_within_length(e, lengths))
        return reverse_within_length(self.rnn(parts)[0], lengths)
