"""``SeqBatch``: a padded batch of sequences with its mask (what TrainOps feeds a model)."""

from __future__ import annotations

from typing import Optional

import attrs
import torch

__all__ = ["SeqBatch"]


def _move(t, device, non_blocking):
    return None if t is None else t.to(device, non_blocking=non_blocking)


@attrs.frozen(kw_only=True)
class SeqBatch:
    """A padded batch.

    Fields (batch-first, ``time`` = the longest sequence in the batch):
      x:       ``[batch, time, *obs_shape]`` observations (float, or long tokens with obs_shape ``()``);
               padded steps hold zeros.
      mask:    ``[batch, time]`` bool, True = observed.
      lengths: ``[batch]`` long, number of steps up to and including the last observed one.
      inputs:  optional ``[batch, time, input_dim]`` given inputs/actions (an agent's context).
      labels:  optional ``[batch]`` long class labels (label-conditioned models).
      targets: optional ``[batch, time, target_dim]`` supervised latent features (e.g. neural decoding).
    """

    x: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    inputs: Optional[torch.Tensor] = None
    labels: Optional[torch.Tensor] = None
    targets: Optional[torch.Tensor] = None

    @classmethod
    def from_tensor(cls, x: torch.Tensor, mask: Optional[torch.Tensor] = None, **extra) -> "SeqBatch":
        """Wrap an already padded ``x`` (all steps observed unless ``mask`` says otherwise)."""
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        steps = torch.arange(1, x.shape[1] + 1, device=x.device)
        lengths = (mask.long() * steps).amax(dim=1)  # [batch] last observed step + 1
        return cls(x=x, mask=mask, lengths=lengths, **extra)

    @property
    def batch_size(self) -> int:
        return self.x.shape[0]

    @property
    def num_steps(self) -> int:
        return self.x.shape[1]

    @property
    def num_observed(self) -> torch.Tensor:
        """Observed steps in the whole batch (a scalar tensor): the per-step denominator."""
        return self.mask.sum()

    def to(self, device, non_blocking: bool = False) -> "SeqBatch":
        return SeqBatch(
            x=self.x.to(device, non_blocking=non_blocking),
            mask=self.mask.to(device, non_blocking=non_blocking),
            lengths=self.lengths.to(device, non_blocking=non_blocking),
            inputs=_move(self.inputs, device, non_blocking),
            labels=_move(self.labels, device, non_blocking),
            targets=_move(self.targets, device, non_blocking),
        )
