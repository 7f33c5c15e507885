"""Sample-quality figures for generated images against held-out real ones.

All images are grey levels ``[n, P]`` in ``[0, 1]`` (``P`` pixels, flattened).

- ``adversarial_accuracy`` (re-exported from :mod:`seqgen.metrics`): nearest-neighbour adversarial
  accuracy (Yale et al. 2020), error ``½[(acc_S − ½)² + (acc_T − ½)²]``, 0 is best.
- :func:`pixel_covariance_mse`: ``mean_{ij} (C^gen_ij − C^real_ij)²`` of the two pixel covariances.
- :func:`inverted_contrast_share`: the share of samples whose centred image is anti-correlated with
  the real data's mean image ``m``: ``⟨p − p̄, m − m̄⟩ < 0`` (a white-on-black digit turned black-on-white).
- :class:`DigitClassifier`: multinomial logistic regression, ``softmax(W p + c)``, fitted to real
  digits by L-BFGS on the L2-penalised cross-entropy; :meth:`DigitClassifier.confident_share` is
  the share of samples whose top class is one of ``digits`` with probability ``>= threshold``,
  :meth:`DigitClassifier.confident_by_digit` the same share split by digit (both from
  :meth:`DigitClassifier.confident_counts`).
"""

from __future__ import annotations

from typing import Dict, Iterable, Tuple, Union

import torch
from torch import nn

import seqgen
from seqgen.metrics import adversarial_accuracy

__all__ = ["adversarial_accuracy", "pixel_covariance_mse", "inverted_contrast_share", "DigitClassifier", "quality_report"]


def _pixels(images: torch.Tensor, argument: str) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.dim() < 2 or images.shape[0] < 2:
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise seqgen.ShapeError(argument, "[n >= 2, *pixels]", got, "pass a stack of at least two images")
    return images.reshape(images.shape[0], -1).double()  # [n, P]


def pixel_covariance_mse(generated: torch.Tensor, real: torch.Tensor) -> float:
    """``mean_{ij} (Cov(generated)_ij − Cov(real)_ij)²`` over all ``P × P`` pixel pairs."""
    g, r = _pixels(generated, "generated"), _pixels(real, "real")
    if g.shape[1] != r.shape[1]:
        raise seqgen.ShapeError("generated", f"[n, {r.shape[1]}] pixels like real", tuple(generated.shape), "compare images of one size")
    return float((torch.cov(g.T) - torch.cov(r.T)).pow(2).mean())


def inverted_contrast_share(images: torch.Tensor, reference_mean: torch.Tensor) -> float:
    """Share of ``images: [n, P]`` anti-correlated with the real mean image ``reference_mean: [P]``."""
    p = _pixels(images, "images")
    m = reference_mean.reshape(-1).double()
    score = (p - p.mean(1, keepdim=True)) @ (m - m.mean())  # [n]
    return float((score < 0).double().mean())


class DigitClassifier(nn.Module):
    """``softmax(W p + c)`` over 10 digits, fitted by :meth:`fit` (``p: [n, P]`` in ``[0, 1]``)."""

    def __init__(self, num_pixels: int = 784, num_classes: int = 10):
        super().__init__()
        self.linear = nn.Linear(num_pixels, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``[n, num_classes]``."""
        return torch.softmax(self.linear(images.reshape(images.shape[0], -1).to(self.linear.weight)), dim=-1)

    def fit(self, images: torch.Tensor, labels: torch.Tensor, *, l2: float = 1e-4, iterations: int = 200) -> "DigitClassifier":
        """Minimise ``CE(labels, W p + c) + l2 · ‖W‖²`` with full-batch L-BFGS from ``W = 0, c = 0``
        (deterministic: the fit does not depend on the global random state)."""
        x = images.reshape(images.shape[0], -1).to(self.linear.weight)
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.bias.zero_()
        opt = torch.optim.LBFGS(self.parameters(), max_iter=iterations, history_size=20, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(self.linear(x), labels) + l2 * self.linear.weight.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return self

    @torch.no_grad()
    def accuracy(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        return float((self(images).argmax(-1) == labels).double().mean())

    @torch.no_grad()
    def confident_counts(self, images: torch.Tensor, digits: Iterable[int], threshold: float = 0.9) -> Tuple[Dict[int, int], int]:
        """``({digit: count}, n)``: for each of ``digits``, how many of the ``n`` images have it as their
        most probable class with probability ``>= threshold`` (one pass of the classifier)."""
        prob, cls = self(images).max(-1)
        sure = cls[prob >= threshold]
        return {d: int((sure == d).sum()) for d in sorted(set(digits))}, len(cls)

    def confident_by_digit(self, images: torch.Tensor, digits: Iterable[int], threshold: float = 0.9) -> Dict[int, float]:
        """For each of ``digits``, the share of all images confidently of that digit (see
        :meth:`confident_counts`; the shares sum to :meth:`confident_share`, and a generator that
        makes only one kind of digit shows here, not there)."""
        counts, n = self.confident_counts(images, digits, threshold)
        return {d: c / n for d, c in counts.items()}

    def confident_share(self, images: torch.Tensor, digits: Iterable[int], threshold: float = 0.9) -> float:
        """Share of images whose most probable class is in ``digits`` with probability ``>= threshold``."""
        counts, n = self.confident_counts(images, digits, threshold)
        return sum(counts.values()) / n


def quality_report(generated: torch.Tensor, real: torch.Tensor, *, classifier: DigitClassifier, digits: Iterable[int], reference_mean: torch.Tensor) -> Dict[str, Union[float, Dict[int, float]]]:
    """Every figure at once for ``generated`` and ``real`` (equal-size ``[n, P]`` sets in ``[0, 1]``).

    Floats, except ``confident_by_digit`` and ``confident_by_digit_real``: ``{digit: share}`` of the
    generated and of the real images.
    """
    aa = adversarial_accuracy(real, generated)
    return {
        "aai_error": aa["error"],
        "acc_real": aa["acc_real"],
        "acc_fake": aa["acc_fake"],
        "pixel_cov_mse": pixel_covariance_mse(generated, real),
        "inverted_share": inverted_contrast_share(generated, reference_mean),
        "confident_share": classifier.confident_share(generated, digits),
        "confident_share_real": classifier.confident_share(real, digits),
        "confident_by_digit": classifier.confident_by_digit(generated, digits),
        "confident_by_digit_real": classifier.confident_by_digit(real, digits),
    }
