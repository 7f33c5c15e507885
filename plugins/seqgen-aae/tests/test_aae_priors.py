"""The sample-only priors: shapes, dtypes, label selection, densities, and the registry's errors.

Statistical assertions use fixed seeds; each tolerance is stated where it is used.
"""

import math

import pytest
import torch

from seqgen import ConfigError, DataError
from seqgen_aae import PRIORS, AAEConfig, CategoricalPrior, GaussianPrior, MixturePrior, SwissRollPrior, UniformPrior, make_prior

LIKE = torch.zeros(())


def test_registry_lists_the_five_priors():
    assert set(PRIORS) == {"gaussian", "mixture", "swiss_roll", "uniform", "categorical"}


def test_unknown_prior_name_lists_the_valid_ones():
    with pytest.raises(ConfigError) as e:
        AAEConfig(obs_dim=3, prior="gausian")
    msg = str(e.value)
    assert "gausian" in msg and all(repr(name) in msg for name in PRIORS)
    assert "did you mean 'gaussian'" in msg


@pytest.mark.parametrize("name,z_dim", [("gaussian", 3), ("uniform", 3), ("mixture", 3), ("swiss_roll", 2), ("categorical", 3)])
def test_samples_follow_like_and_have_finite_density(name, z_dim):
    prior = make_prior(AAEConfig(obs_dim=1, prior=name, z_dim=z_dim, num_components=3))
    torch.manual_seed(0)
    z = prior.sample(50, like=torch.zeros((), dtype=torch.float64))
    assert z.shape == (50, z_dim) and z.dtype == torch.float64
    lp = prior.log_prob(z)
    assert lp.shape == (50,) and lp.dtype == torch.float64 and bool(torch.isfinite(lp).all())


def test_gaussian_prior_scale_and_density():
    prior = GaussianPrior(2, scale=3.0)
    torch.manual_seed(0)
    z = prior.sample(20000, like=LIKE)
    # std of 20,000 draws: standard error ~0.5 % of 3.0; 3 % tolerance is > 5 standard errors
    assert torch.allclose(z.std(0), torch.full((2,), 3.0), rtol=0.03)
    want = torch.distributions.Normal(0.0, 3.0).log_prob(z[:5]).sum(-1)
    assert torch.allclose(prior.log_prob(z[:5]), want, atol=1e-5)


def test_uniform_prior_box_and_density():
    prior = UniformPrior(3, half_width=2.0)
    torch.manual_seed(0)
    z = prior.sample(1000, like=LIKE)
    assert bool((z.abs() <= 2.0).all())
    assert torch.allclose(prior.log_prob(z), torch.full((1000,), -3 * math.log(4.0)))
    assert prior.log_prob(torch.tensor([[2.5, 0.0, 0.0]])).item() == -math.inf


def test_mixture_density_matches_explicit_gaussians():
    prior = MixturePrior(3, num_components=4, radius=2.0)
    torch.manual_seed(0)
    z = prior.sample(7, like=LIKE)
    comps = []
    for k in range(4):
        phi = 2 * math.pi * k / 4
        u, v = torch.tensor([math.cos(phi), math.sin(phi), 0.0]), torch.tensor([-math.sin(phi), math.cos(phi), 0.0])
        w = torch.tensor([0.0, 0.0, 1.0])
        rot = torch.stack([u, v, w], 1)  # columns: radial, tangential, extra dim
        std = torch.tensor([0.15, 0.05, 0.05]) * 2.0
        cov = rot @ torch.diag(std**2) @ rot.T
        mvn = torch.distributions.MultivariateNormal(2.0 * u, covariance_matrix=cov)
        comps.append(mvn.log_prob(z))
    want = torch.logsumexp(torch.stack(comps), 0) - math.log(4)
    assert torch.allclose(prior.log_prob(z), want, atol=1e-4)


def test_labels_select_their_component_or_segment():
    torch.manual_seed(0)
    labels = torch.tensor([0, 1, 2, 3, 4, -1] * 20)
    mix = MixturePrior(2, num_components=5, radius=3.0)
    z = mix.sample(len(labels), like=LIKE, labels=labels)
    means = mix.component_means(z)
    nearest = ((z[:, None] - means) ** 2).sum(-1).argmin(1)
    labelled = labels >= 0
    # components are > 10 tangential standard deviations apart: every labelled draw lands in its own
    assert torch.equal(nearest[labelled], labels[labelled])
    roll = SwissRollPrior(num_segments=5, radius=3.0)
    z = roll.sample(len(labels), like=LIKE, labels=labels)
    nodes = (torch.arange(roll.NODES) + 0.5) / roll.NODES
    u = nodes[((z[:, None] - roll._curve(nodes)) ** 2).sum(-1).argmin(1)]
    segment = (u * 5).floor().long()
    # the noise (0.05 of the radius) can move a draw across a segment boundary only when it lies
    # within ~0.15 of one in u-units; allow 10 % of draws there
    assert (segment[labelled] == labels[labelled]).float().mean() > 0.9
    cat = CategoricalPrior(5)
    z = cat.sample(len(labels), like=LIKE, labels=labels)
    assert torch.equal(z.argmax(1)[labelled], labels[labelled]) and torch.equal(z.sum(1), torch.ones(len(labels)))


def test_swiss_roll_density_integrates_to_one():
    prior = SwissRollPrior(radius=1.0)
    side = torch.linspace(-1.25, 1.25, 126)
    grid = torch.stack(torch.meshgrid(side, side, indexing="ij"), -1).reshape(-1, 2)
    cell = float(side[1] - side[0]) ** 2
    total = sum(float(prior.log_prob(chunk).exp().sum()) for chunk in grid.split(4096)) * cell
    # a 0.02 grid (0.4 of the noise std 0.05; the midpoint rule's error on a Gaussian bump is then
    # ~exp(-2π² · 6), negligible) over a box holding the roll and 5 noise stds around it
    assert abs(total - 1.0) < 0.01


def test_categorical_density_and_squash():
    prior = CategoricalPrior(4)
    assert prior.log_prob(torch.eye(4)).allclose(torch.full((4,), -math.log(4)))
    assert prior.log_prob(torch.full((1, 4), 0.25)).item() == -math.inf
    assert torch.allclose(prior.squash(torch.zeros(2, 4)).sum(-1), torch.ones(2))


def test_bad_labels_and_configs():
    mix = MixturePrior(2, num_components=3)
    with pytest.raises(DataError, match="label 3 at index 1 is outside"):
        mix.sample(2, like=LIKE, labels=torch.tensor([0, 3]))
    with pytest.raises(ConfigError, match="has no classes"):
        GaussianPrior(2).sample(2, like=LIKE, labels=torch.tensor([0, 1]))
    with pytest.raises(ConfigError, match="z_dim"):
        AAEConfig(obs_dim=1, prior="mixture", z_dim=1)
    with pytest.raises(ConfigError, match="2-D"):
        AAEConfig(obs_dim=1, prior="swiss_roll", z_dim=3)
    with pytest.raises(ConfigError, match="no classes to condition on"):
        AAEConfig(obs_dim=1, prior="gaussian", label_conditioned=True)
    with pytest.raises(ConfigError, match="num_components=4"):
        AAEConfig(obs_dim=1, prior="categorical", z_dim=4, num_components=10, label_conditioned=True)
