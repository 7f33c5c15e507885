"""The sample-quality figures of the MNIST study on cases with known answers."""

import pytest
import torch

import seqgen
from seqgen_langevin.evaluation import DigitClassifier, inverted_contrast_share, pixel_covariance_mse, quality_report


def _images(n=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 16, generator=g)  # [n, 16] grey levels


def test_pixel_covariance_mse():
    a = _images()
    assert pixel_covariance_mse(a, a) == 0.0
    shifted = a + 0.3  # a shift leaves the covariance alone
    assert pixel_covariance_mse(shifted, a) == pytest.approx(0.0, abs=1e-12)
    want = float((torch.cov(2 * a.T.double()) - torch.cov(a.T.double())).pow(2).mean())
    assert pixel_covariance_mse(2 * a, a) == pytest.approx(want)  # Cov(2a) = 4 Cov(a)
    with pytest.raises(seqgen.ShapeError):
        pixel_covariance_mse(a[:, :8], a)


def test_inverted_contrast_share():
    mean = torch.zeros(16)
    mean[5:9] = 1.0  # a bright stroke on a dark background
    digits = mean.expand(10, 16) * 0.9 + 0.05 * _images(10)
    assert inverted_contrast_share(digits, mean) == 0.0
    assert inverted_contrast_share(1 - digits, mean) == 1.0
    assert inverted_contrast_share(torch.cat([digits[:3], 1 - digits[3:]]), mean) == pytest.approx(0.7)


def test_classifier_confidence():
    g = torch.Generator().manual_seed(1)
    centres = torch.eye(10, 16)  # class k lights pixel k
    labels = torch.arange(10).repeat(20)
    x = centres[labels] + 0.05 * torch.rand(200, 16, generator=g)
    torch.manual_seed(0)
    clf = DigitClassifier(16).fit(x, labels, l2=0.0, iterations=50)
    assert clf.accuracy(x, labels) == 1.0  # separable
    assert clf.confident_share(centres[[1, 3, 6]], [1, 3, 6]) == 1.0
    assert clf.confident_share(centres[[0, 2]], [1, 3, 6]) == 0.0  # confident, but not a trained digit
    flat = torch.full((4, 16), 0.1)
    assert clf.confident_share(flat, [1, 3, 6], threshold=0.99) == 0.0  # no class wins clearly
    ones = centres[[1, 1, 1, 3]]  # one kind of digit: the total share hides it, the split shows it
    assert clf.confident_share(ones, [1, 3, 6]) == 1.0
    assert clf.confident_by_digit(ones, [6, 1, 3]) == {1: 0.75, 3: 0.25, 6: 0.0}
    assert clf.confident_by_digit(torch.cat([centres[[0, 1]], flat[:2]]), [1, 3, 6], threshold=0.99) == {1: 0.25, 3: 0.0, 6: 0.0}
    report = quality_report(x[:20], x[20:40], classifier=clf, digits=range(10), reference_mean=x.mean(0))
    assert set(report) >= {"aai_error", "pixel_cov_mse", "inverted_share", "confident_share", "confident_share_real", "confident_by_digit", "confident_by_digit_real"}
    assert sum(report["confident_by_digit"].values()) == pytest.approx(report["confident_share"])


def test_classifier_fit_ignores_the_global_random_state():
    """The fit starts from zero weights, so two fits after different seeds agree exactly (the quality
    script builds its classifier before seeding; a random start moved figures by a sample)."""
    g = torch.Generator().manual_seed(2)
    x, labels = torch.rand(60, 16, generator=g), torch.arange(10).repeat(6)
    fits = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        fits.append(DigitClassifier(16).fit(x, labels, iterations=20).linear.weight.detach())
    assert torch.equal(fits[0], fits[1])
