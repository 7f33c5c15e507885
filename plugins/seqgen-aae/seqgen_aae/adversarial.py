"""The AAE's three training phases as a :class:`~seqgen.PhasedObjective` (Makhzani et al. 2016, §2).

On every minibatch TrainOps runs, in order, each with its own optimizer over its own group:

1. ``reconstruction`` (encoder + decoder + agent, ``lr_reconstruction``)::

       L_rec = -(1/N) Σ_b Σ_{t observed} log p(x_{b,t} | d_{b,t}, z_b),   z_b = enc(x_b)

   in nats per observed step (``N`` observed steps in the batch).
2. ``discriminator`` (discriminator, ``lr_discriminator``), prior samples real, codes fake::

       L_D = BCE(ℓ(z', y), 1) + BCE(ℓ(sg[z], y), 0),   z' ~ p(z | y),  z = enc(x)

3. ``generator`` (encoder only, ``lr_generator``), the encoder fools the discriminator::

       L_G = BCE(ℓ(z, y), 1)    (the non-saturating form of  -log D(z))

``ℓ`` is the discriminator's logit and ``BCE`` binary cross-entropy on logits (``BCEWithLogits``),
averaged over the sequences of the batch. With ``label_conditioned`` the discriminator also reads
``y = onehot(label)`` with an extra "unlabelled" slot (label ``-1``), and a labelled sequence's prior
sample comes from its class's part of the prior (§2.3), so each class takes its own component.
With ``adversarial=False`` only phase 1 runs (a plain autoencoder, for ablations).

Evaluation reports ``reconstruction`` (the loss TrainOps watches) and, when adversarial, the
discriminator's loss and its mean outputs ``d_real`` on prior samples and ``d_fake`` on codes.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from seqgen import ConfigError, DataError, LossOutput, Phase, PhasedObjective, SeqBatch

__all__ = [
    "check_labels",
    "label_one_hot",
    "discriminator_logits",
    "reconstruction_loss",
    "discriminator_loss",
    "generator_loss",
    "evaluate",
    "phased_objective",
]


def check_labels(model, labels: Optional[torch.Tensor], batch_size: int) -> torch.Tensor:
    """``labels: [batch]`` integer classes in ``[0, K)`` or ``-1`` (unlabelled), on the model's device.

    Raises DataError when a label-conditioned model gets no labels, or labels of the wrong shape,
    dtype or range.
    """
    k = model.num_classes
    if labels is None:
        raise DataError(
            "labels",
            f"the model is label-conditioned (label_conditioned=True, {k} classes) but the batch has no labels",
            "train on a dataset with labels (mark unlabelled sequences with -1), or build the model with label_conditioned=False",
        )
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.dtype == torch.bool:
        got = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise DataError("labels", f"expected integer class labels, got {got}", "pass a long tensor of class ids (-1 = unlabelled)")
    if tuple(labels.shape) != (batch_size,):
        raise DataError("labels", f"expected one label per sequence, shape ({batch_size},), got {tuple(labels.shape)}", "give each sequence one class id")
    bad = (labels < -1) | (labels >= k)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        value = int(labels[i])
        fix = "mark unlabelled sequences with -1" if value < -1 else f"relabel the data, or build the model with num_components >= {int(labels.max()) + 1}"
        raise DataError("labels", f"label {value} of sequence {i} is outside [0, {k}) (-1 marks an unlabelled sequence); the prior has {k} classes", fix)
    return labels.to(model.device).long()


def label_one_hot(labels: torch.Tensor, num_classes: int, like: torch.Tensor) -> torch.Tensor:
    """``[batch]`` labels -> ``[batch, num_classes + 1]`` one-hot; ``-1`` goes to the last ("unlabelled") slot."""
    slot = torch.where(labels >= 0, labels, torch.full_like(labels, num_classes))
    return F.one_hot(slot, num_classes + 1).to(like.dtype)


def discriminator_logits(model, z: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``ℓ(z, y)`` ``[batch]`` for codes ``z: [batch, z_dim]`` (labels required iff label-conditioned)."""
    if model.discriminator is None:
        raise ConfigError("adversarial", "the model was built with adversarial=False, so it has no discriminator", "build it with adversarial=True")
    if model.num_classes is None:
        if labels is not None:
            raise ConfigError("labels", "labels were given but the model is not label-conditioned", "drop labels, or build the model with label_conditioned=True")
        return model.discriminator(z)
    labels = check_labels(model, labels, z.shape[0])
    return model.discriminator(z, label_one_hot(labels, model.num_classes, z))


def _clean(model, batch: SeqBatch):
    return model.check_inputs(batch.x, mask=batch.mask, context=batch.inputs)


def _batch_labels(model, batch: SeqBatch) -> Optional[torch.Tensor]:
    """The batch's labels when the model conditions on them (checked), else None (labels ignored)."""
    if model.num_classes is None:
        return None
    return check_labels(model, batch.labels, batch.batch_size)


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def reconstruction_loss(model, batch: SeqBatch) -> LossOutput:
    """Phase 1: ``L_rec`` in nats per observed step."""
    x, mask, lengths, context = _clean(model, batch)
    z, _ = model._codes(x, context, mask, lengths)
    rec = -model._log_lik(x, context, mask, z).sum() / mask.sum()
    return LossOutput(loss=rec, metrics={"reconstruction": rec.detach()}, terms={"reconstruction": rec})


def _real_fake_logits(model, batch: SeqBatch, *, detach_codes: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(ℓ(z', y), ℓ(z, y))``, each ``[batch]``: prior samples ``z'`` and the batch's codes ``z``."""
    x, mask, lengths, context = _clean(model, batch)
    labels = _batch_labels(model, batch)
    with torch.set_grad_enabled(torch.is_grad_enabled() and not detach_codes):
        z, _ = model._codes(x, context, mask, lengths)  # [batch, z_dim]
    z_prior = model.sample_codes(z.shape[0], labels=labels)  # [batch, z_dim]
    y = None if labels is None else label_one_hot(labels, model.num_classes, z)
    return model.discriminator(z_prior, y), model.discriminator(z, y)


def discriminator_loss(model, batch: SeqBatch) -> LossOutput:
    """Phase 2: ``L_D``; metrics ``d_real``/``d_fake`` are the mean ``D`` on prior samples / codes."""
    real, fake = _real_fake_logits(model, batch, detach_codes=True)
    loss = _bce(real, 1.0) + _bce(fake, 0.0)
    metrics = {"disc_loss": loss.detach(), "d_real": torch.sigmoid(real).mean().detach(), "d_fake": torch.sigmoid(fake).mean().detach()}
    return LossOutput(loss=loss, metrics=metrics, terms={"discriminator": loss})


def generator_loss(model, batch: SeqBatch) -> LossOutput:
    """Phase 3: ``L_G``, the codes labelled as prior samples."""
    x, mask, lengths, context = _clean(model, batch)
    labels = _batch_labels(model, batch)
    z, _ = model._codes(x, context, mask, lengths)
    y = None if labels is None else label_one_hot(labels, model.num_classes, z)
    fake = model.discriminator(z, y)
    loss = _bce(fake, 1.0)
    return LossOutput(loss=loss, metrics={"gen_loss": loss.detach(), "d_fake": torch.sigmoid(fake).mean().detach()}, terms={"generator": loss})


def evaluate(model, batch: SeqBatch) -> LossOutput:
    """Evaluation: ``reconstruction`` (nats per observed step; the loss) and, when adversarial,
    ``disc_loss``, ``d_real``, ``d_fake``."""
    with torch.no_grad():
        rec = reconstruction_loss(model, batch)
        metrics = dict(rec.metrics)
        if model.discriminator is not None:
            metrics.update(discriminator_loss(model, batch).metrics)
    return LossOutput(loss=rec.loss, metrics=metrics, terms=rec.terms)


def phased_objective(model) -> PhasedObjective:
    """The phases above, each with its parameter group, learning rate and (adversarial) Adam betas."""
    cfg = model.config
    encoder = tuple(model.encoder.parameters())
    decoder = tuple(model.decoder.parameters()) + tuple(model.dec_rnn.parameters()) + tuple(model.agent.parameters())
    phases = [Phase(name="reconstruction", parameters=encoder + decoder, loss_fn=lambda b: reconstruction_loss(model, b), lr=cfg.lr_reconstruction)]
    if model.discriminator is not None:
        betas = tuple(cfg.adversarial_betas)
        phases += [
            Phase(name="discriminator", parameters=tuple(model.discriminator.parameters()), loss_fn=lambda b: discriminator_loss(model, b), lr=cfg.lr_discriminator, betas=betas),
            Phase(name="generator", parameters=encoder, loss_fn=lambda b: generator_loss(model, b), lr=cfg.lr_generator, betas=betas),
        ]
    return PhasedObjective(phases=phases, eval_fn=lambda b: evaluate(model, b))
