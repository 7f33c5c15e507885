"""AAEModel: shapes of the extra methods, the phases' parameter groups, labels, and clear errors."""

import math

import pytest
import torch

import seqgen
from seqgen import CapabilityError, ConfigError, DataError, SeqBatch, ShapeError
from seqgen_aae import SPEC, AAEModel, GaussianPrior, Prior, discriminator_loss, generator_loss

TINY = dict(SPEC.test_config)


def build(**overrides):
    torch.manual_seed(0)
    return SPEC.build(**{**TINY, **overrides})


def test_image_and_row_modes_share_the_api():
    flat = build(obs_dim=16, obs="bernoulli", encoder="deterministic")
    x = torch.bernoulli(torch.full((4, 1, 16), 0.5))  # 4 images of 16 pixels, one step each
    assert flat.reconstruct(x).shape == (4, 1, 16) and flat.encode(x).shape == (4, 2)
    assert flat.decode(flat.sample_codes(3)).shape == (3, 1, 16)
    assert flat.distribution(1).sample((5,)).shape == (5, 1, 16)
    rows = build(obs_dim=4, obs="bernoulli")
    x = torch.bernoulli(torch.full((2, 4, 4), 0.5))  # 2 images of 4 rows of 4 pixels
    assert rows.reconstruct(x).shape == (2, 4, 4)
    assert rows.decode(rows.sample_codes(3), 4, sample=True).shape == (3, 4, 4)


def test_reconstructions_stay_in_the_decoder_range():
    model = build(obs_dim=6, obs="bernoulli")
    x = torch.bernoulli(torch.full((3, 2, 6), 0.5))
    r = model.reconstruct(x)
    assert bool(((r > 0) & (r < 1)).all())  # Bernoulli means (probabilities)


def test_mismatched_image_size_is_a_shape_error():
    model = build(obs_dim=784, obs="bernoulli")
    with pytest.raises(ShapeError, match=r"expected \[batch, time, 784\], got \(2, 1, 1024\)"):
        model.reconstruct(torch.zeros(2, 1, 1024))
    with pytest.raises(ShapeError, match="obs_shape"):
        AAEModel(SPEC.make_config(**{**TINY, "obs_dim": 5}), decoder=seqgen.NormalDecoder(10, 4))
    with pytest.raises(ShapeError, match="z_dim=2"):
        AAEModel(SPEC.make_config(**TINY), code_prior=GaussianPrior(3))


def test_no_likelihood_methods():
    model = build()
    x = torch.randn(2, 3, 3)
    for call in (lambda: model.elbo(x), lambda: model.log_prob(x), lambda: model.iwae(x, 2)):
        with pytest.raises(CapabilityError):
            call()
    with pytest.raises(CapabilityError):
        model.distribution(3).log_prob(torch.randn(3, 3))


def test_phase_groups_and_learning_rates():
    model = build(lr_reconstruction=1e-2, lr_discriminator=3e-4, lr_generator=5e-4, adversarial_betas=(0.4, 0.9))
    phases = {p.name: p for p in model.objective().phases}
    assert list(phases) == ["reconstruction", "discriminator", "generator"]
    ids = lambda ps: {id(p) for p in ps}
    enc, disc = ids(model.encoder.parameters()), ids(model.discriminator.parameters())
    dec = ids(model.decoder.parameters()) | ids(model.dec_rnn.parameters()) | ids(model.agent.parameters())
    assert ids(phases["reconstruction"].parameters) == enc | dec
    assert ids(phases["discriminator"].parameters) == disc
    assert ids(phases["generator"].parameters) == enc
    assert enc | dec | disc == ids(model.parameters())
    assert [phases[n].lr for n in phases] == [1e-2, 3e-4, 5e-4]
    assert phases["discriminator"].betas == (0.4, 0.9) and phases["reconstruction"].betas is None


def test_plain_autoencoder_ablation():
    model = build(adversarial=False)
    assert model.discriminator is None
    assert [p.name for p in model.objective().phases] == ["reconstruction"]
    with pytest.raises(ConfigError, match="adversarial=False"):
        model.discriminator_prob(torch.zeros(2, 2))


def test_prior_log_prob_holds_the_code_fixed():
    model = build()
    torch.manual_seed(0)
    z = model.sample_codes(2)
    x = torch.randn(2, 3, 3)
    zs = z.unsqueeze(1).expand(2, 3, 2).clone()
    lp = model.prior_log_prob(x, zs)
    assert torch.allclose(lp[:, 0], model.prior.log_prob(z)) and bool((lp[:, 1:] == 0).all())
    zs[1, 2] += 1.0  # a code that moves has probability 0 under a once-per-sequence draw
    assert model.prior_log_prob(x, zs)[1, 2].item() == -math.inf


def test_label_conditioned_run_without_labels_is_a_clear_error():
    model = build(prior="mixture", num_components=3, label_conditioned=True)
    batch = SeqBatch.from_tensor(torch.randn(4, 2, 3))
    with pytest.raises(DataError, match="label_conditioned=True") as e:
        discriminator_loss(model, batch)
    assert "mark unlabelled sequences with -1" in str(e.value)


def test_labels_out_of_range_are_a_clear_error():
    model = build(prior="mixture", num_components=3, label_conditioned=True)
    batch = SeqBatch.from_tensor(torch.randn(4, 2, 3), labels=torch.tensor([0, 1, 3, -1]))
    with pytest.raises(DataError, match=r"label 3 of sequence 2 is outside \[0, 3\)"):
        generator_loss(model, batch)
    batch = SeqBatch.from_tensor(torch.randn(4, 2, 3), labels=torch.tensor([0, 1, -2, -1]))
    with pytest.raises(DataError, match="label -2"):
        discriminator_loss(model, batch)


def test_label_conditioned_discriminator_sees_label_and_matching_prior_sample():
    model = build(prior="mixture", num_components=3, label_conditioned=True, prior_scale=3.0)
    seen = []
    model.discriminator.register_forward_pre_hook(lambda mod, args: seen.append(args))
    labels = torch.tensor([0, 1, 2, -1, 2, 0])
    batch = SeqBatch.from_tensor(torch.randn(6, 2, 3), labels=labels)
    torch.manual_seed(0)
    out = discriminator_loss(model, batch)
    assert torch.isfinite(out.loss)
    (z_real, y_real), (_, y_fake) = seen
    slots = torch.tensor([0, 1, 2, 3, 2, 0])  # -1 -> the "unlabelled" slot 3
    assert torch.equal(y_real.argmax(1), slots) and torch.equal(y_fake, y_real)
    means = model.prior.component_means(z_real)
    nearest = ((z_real[:, None] - means) ** 2).sum(-1).argmin(1)
    assert torch.equal(nearest[labels >= 0], labels[labels >= 0])  # each class's own component


def test_follows_double_precision():
    model = build(prior="mixture", num_components=3).double()
    x = torch.randn(2, 3, 3, dtype=torch.float64)
    assert model.encode(x).dtype == torch.float64 and model.decode(model.sample_codes(2), 2).dtype == torch.float64
    assert model.initial_state(2).z.dtype == torch.float64


def test_decode_checks_its_codes():
    model = build()
    with pytest.raises(ShapeError, match="z_dim=2"):
        model.decode(torch.zeros(3, 5))
    with pytest.raises(ConfigError, match="num_steps"):
        model.decode(torch.zeros(3, 2), 0)


class _RingPrior(Prior):
    """A sample-only plug-in: points on the unit circle (no density)."""

    def __init__(self):
        self.z_dim = 2

    @classmethod
    def from_config(cls, config):
        return cls()

    def sample(self, num, *, like, labels=None):
        angle = like.new_empty(num).uniform_(0, 2 * math.pi)
        return torch.stack([angle.cos(), angle.sin()], -1)


def test_a_sample_only_prior_trains_and_generates():
    torch.manual_seed(0)
    model = SPEC.build(**TINY, code_prior=_RingPrior())
    batch = SeqBatch.from_tensor(torch.randn(4, 3, 3))
    for phase in model.objective().phases:
        assert torch.isfinite(phase.loss_fn(batch).loss)
    assert model.distribution(3).sample((2,)).shape == (2, 3, 3)
    assert bool(model.initial_state(2).code_log_prob.isnan().all())  # no density to report
    with pytest.raises(CapabilityError, match="sample-only"):
        model.prior_log_prob(torch.randn(2, 3, 3), torch.zeros(2, 3, 2))
