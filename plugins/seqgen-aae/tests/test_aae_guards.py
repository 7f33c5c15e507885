"""Guards against the four defects of the public AAE implementation this plugin replaces.

1. its discriminator ended in a sigmoid after a ReLU, so ``D ≥ ½`` always;
2. ``--adversarial False`` parsed as True (argparse's ``type=bool``);
3. its targets were normalised to [-1, 1], outside a sigmoid/Bernoulli decoder's range;
4. its learning rate decayed to nothing within one epoch.
"""

import argparse
import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

import seqgen
from seqgen import DataError, SeqBatch
from seqgen_aae import SPEC, Discriminator, boolean, mnist_images, reconstruction_loss, train_config

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / ".." / "shared" / "data"
needs_mnist = pytest.mark.skipif(not (DATA / "mnist-t10k-images-idx3-ubyte.gz").is_file(), reason=f"MNIST idx files not found in {DATA}")


def _example(name):
    spec = importlib.util.spec_from_file_location(f"_aae_example_{name}", REPO / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- 1. the discriminator
def test_discriminator_ends_in_a_linear_logit():
    disc = Discriminator(2, hidden=(16, 16))
    kinds = [type(m) for m in disc.modules()]
    assert not any(issubclass(k, (nn.Sigmoid, nn.modules.batchnorm._BatchNorm, nn.Dropout)) for k in kinds)
    layers = [m for m in disc.net.net if not isinstance(m, nn.Identity)]
    assert isinstance(layers[-1], nn.Linear) and layers[-1].out_features == 1


def test_discriminator_probability_spans_zero_to_one():
    model = SPEC.build(**{**SPEC.test_config, "disc_hidden": (16, 16)})
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.discriminator.parameters(), lr=2e-2)
    for _ in range(60):
        real = model.sample_codes(64)  # N(0, I)
        fake = real + 3.0  # codes far from the prior
        opt.zero_grad()
        logits = model.discriminator(torch.cat([real, fake]))
        target = torch.cat([torch.ones(64), torch.zeros(64)])
        nn.functional.binary_cross_entropy_with_logits(logits, target).backward()
        opt.step()
    with torch.no_grad():
        real = model.sample_codes(500)
        d_real, d_fake = model.discriminator_prob(real), model.discriminator_prob(real + 3.0)
    # two Gaussians 3√2 standard deviations apart: the Bayes classifier errs on ~7 % of points, so
    # the means sit far from ½ on both sides (seeded; D ≥ ½ everywhere would fail both)
    assert d_fake.mean() < 0.2 and d_real.mean() > 0.8
    assert d_fake.min() < 0.05 and d_real.max() > 0.95


# ---------------------------------------------------------------------------- 2. boolean flags
@pytest.mark.parametrize("text,value", [("False", False), ("false", False), ("0", False), ("no", False), ("True", True), ("yes", True), (" 1 ", True)])
def test_boolean_parses_as_written(text, value):
    assert boolean(text) is value


def test_boolean_refuses_other_words():
    with pytest.raises(argparse.ArgumentTypeError, match="maybe"):
        boolean("maybe")


@pytest.mark.parametrize("name", ["aae_mnist", "aae_timeseries"])
def test_example_adversarial_flag(name):
    parser = _example(name).build_parser()
    assert parser.parse_args(["--adversarial", "False"]).adversarial is False
    assert parser.parse_args(["--adversarial", "true"]).adversarial is True
    assert parser.parse_args([]).adversarial is True
    with pytest.raises(SystemExit):
        parser.parse_args(["--adversarial", "maybe"])


# ---------------------------------------------------------------------------- 3. targets in range
@needs_mnist
@pytest.mark.parametrize("obs", ["bernoulli", "beta", "normal"])
def test_mnist_targets_lie_in_the_decoder_range(obs):
    ds = mnist_images(DATA, split="valid", obs=obs, limit=16)
    x = torch.stack([ds[i].x for i in range(len(ds))])  # [16, 1, 784]
    model = SPEC.build(**{**SPEC.test_config, "obs_dim": 784, "obs": obs})
    assert bool(model.decoder.support.check(x).all())
    if obs == "beta":
        assert bool(((x > 0) & (x < 1)).all())
    torch.manual_seed(0)
    assert torch.isfinite(reconstruction_loss(model, SeqBatch.from_tensor(x)).loss)


@pytest.mark.parametrize("obs", ["bernoulli", "beta"])
def test_targets_normalised_out_of_range_are_refused(obs):
    model = SPEC.build(**{**SPEC.test_config, "obs_dim": 4, "obs": obs})
    x = torch.tensor([[[0.0, 0.25, 0.75, 1.0]]])
    with pytest.raises(DataError, match=r"^x: "):
        reconstruction_loss(model, SeqBatch.from_tensor((x - 0.5) / 0.5))  # the old [-1, 1] scaling


# ---------------------------------------------------------------------------- 4. learning rates
def test_learning_rates_survive_an_epoch():
    torch.manual_seed(0)
    model = SPEC.build(**SPEC.test_config)
    data = seqgen.SequenceDataset(torch.randn(40, 3, 3))
    config = train_config(epochs=1, batch_size=8, progress="off")  # 5 steps: one epoch
    ops = seqgen.TrainOps(model, config)
    ops.fit(data)
    assert ops.state.step == 5
    want = {"reconstruction": model.config.lr_reconstruction, "discriminator": model.config.lr_discriminator, "generator": model.config.lr_generator}
    for name, lr in want.items():
        assert ops.slots[name].optimizer.param_groups[0]["lr"] == pytest.approx(lr)
