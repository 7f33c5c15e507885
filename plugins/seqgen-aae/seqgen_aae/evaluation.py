"""A discriminative score for generated sequences: can a small classifier tell them from real ones?

Post-hoc classifier two-sample test (Lopez-Paz & Oquab 2017, *Revisiting classifier two-sample
tests*; the "discriminative score" of Yoon et al. 2019, TimeGAN): a one-layer GRU reads a sequence
``x: [time, obs_dim]``, a linear unit on its final state gives the logit of "real". It is trained
with binary cross-entropy on ``train_fraction`` of each set and scored on the rest:

    accuracy = (1/M) Σ_i 1[ sign ℓ(x_i) = (x_i is real) ]   over held-out real and generated sequences

0.5 means the classifier cannot tell them apart (best); 1.0 means every sequence is told. ``score``
is ``|accuracy - 0.5|`` (0 best). The classifier's seed is fixed and the caller's RNG is left as it was.
"""

from __future__ import annotations

from typing import Dict

import torch
from torch import nn

from seqgen import DataError, ShapeError

__all__ = ["discriminative_score"]


class _Classifier(nn.Module):
    def __init__(self, obs_dim: int, hidden: int):
        super().__init__()
        self.rnn = nn.GRU(obs_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.rnn(x)  # h: [1, n, hidden]
        return self.out(h[0]).squeeze(-1)  # [n] logits of "real"


def _as_sequences(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ShapeError(name, "[num, time, obs_dim]", tuple(getattr(x, "shape", ())), "pass a stack of equal-length sequences")
    if x.shape[0] < 4:
        raise DataError(name, f"needs at least 4 sequences to train and test a classifier, got {x.shape[0]}", "generate or hold out more sequences")
    return x.detach().float().cpu()


def discriminative_score(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    hidden: int = 32,
    epochs: int = 100,
    batch_size: int = 64,
    lr: float = 1e-2,
    train_fraction: float = 0.5,
    seed: int = 0,
) -> Dict[str, float]:
    """``{'accuracy', 'score'}`` of a GRU classifier of real vs generated sequences (see the module docstring).

    real, fake: ``[num, time, obs_dim]`` (same ``time`` and ``obs_dim``); both sets are split at
    ``train_fraction`` (in order: shuffle beforehand if the order means something).
    """
    real, fake = _as_sequences(real, "real"), _as_sequences(fake, "fake")
    if real.shape[1:] != fake.shape[1:]:
        raise ShapeError("fake", f"[num, {real.shape[1]}, {real.shape[2]}] (like real)", tuple(fake.shape), "generate sequences of the real data's length and width")
    if not 0 < train_fraction < 1:
        raise DataError("train_fraction", f"must be in (0, 1), got {train_fraction!r}", "pass e.g. 0.5")
    cut_r, cut_f = int(len(real) * train_fraction), int(len(fake) * train_fraction)
    x_train = torch.cat([real[:cut_r], fake[:cut_f]])
    y_train = torch.cat([torch.ones(cut_r), torch.zeros(cut_f)])
    x_test = torch.cat([real[cut_r:], fake[cut_f:]])
    y_test = torch.cat([torch.ones(len(real) - cut_r), torch.zeros(len(fake) - cut_f)])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = _Classifier(real.shape[2], hidden)
        opt = torch.optim.Adam(clf.parameters(), lr=lr)
        loss_fn = nn.BCEWithLogitsLoss()
        for _ in range(epochs):
            order = torch.randperm(len(x_train))
            for i in range(0, len(order), batch_size):
                idx = order[i : i + batch_size]
                opt.zero_grad()
                loss_fn(clf(x_train[idx]), y_train[idx]).backward()
                opt.step()
        with torch.no_grad():
            accuracy = float(((clf(x_test) > 0).float() == y_test).float().mean())
    return {"accuracy": accuracy, "score": abs(accuracy - 0.5)}
