"""Evaluation metrics shared by the models and studies.

Units: log-likelihoods are nats per observed time step (:func:`per_step`). Sample-quality
metrics compare generated with held-out real data:

- :func:`mmd`: squared maximum mean discrepancy with a Gaussian kernel (Gretton et al. 2012),
  the unbiased U-statistic ``MMD² = E k(x,x') + E k(y,y') − 2 E k(x,y)``.
- :func:`adversarial_accuracy`: nearest-neighbour adversarial accuracy (Yale et al. 2020):
  ``acc_T`` = share of real points whose nearest other point is real, ``acc_S`` = share of
  generated points whose nearest other point is generated; error ``½[(acc_S−½)² + (acc_T−½)²]``
  (0 is best: the two sets are indistinguishable by nearest neighbours).
- :func:`parzen_log_likelihood`: Gaussian Parzen-window log-likelihood of test points under
  samples (Breuleux et al. 2011; the protocol of the GAN and AAE papers), bandwidth chosen on a
  validation set by :func:`select_parzen_bandwidth`.
- :func:`affine_latent_fit`: per-dimension MAE/MSE/Pearson correlation between true latents and
  inferred latents after a least-squares affine map (latents are identifiable only up to one).
"""

from __future__ import annotations

import math
from typing import Dict, Sequence

import torch

from .errors import DataError, ShapeError

__all__ = [
    "per_step",
    "mmd",
    "adversarial_accuracy",
    "parzen_log_likelihood",
    "select_parzen_bandwidth",
    "affine_latent_fit",
]


def per_step(total: torch.Tensor, mask: torch.Tensor) -> float:
    """Nats per observed step: ``Σ total / Σ mask`` (``total: [batch]`` per-sequence sums)."""
    return float(total.sum() / mask.sum())


def _flat_pair(x: torch.Tensor, y: torch.Tensor, name: str, min_points: int = 2):
    x, y = x.reshape(x.shape[0], -1).double(), y.reshape(y.shape[0], -1).double()  # [n, d], [m, d]
    if x.shape[1] != y.shape[1]:
        raise ShapeError(name, f"samples with {x.shape[1]} features", y.shape[1], "compare sets of the same shape")
    if x.shape[0] < min_points or y.shape[0] < min_points:
        raise DataError(name, f"need at least {min_points} points per set, got {x.shape[0]} and {y.shape[0]}", "pass more samples")
    return x, y


def mmd(x: torch.Tensor, y: torch.Tensor, *, bandwidth: float | None = None) -> float:
    """Unbiased squared MMD between sets ``x: [n, *]`` and ``y: [m, *]`` (Gaussian kernel).

    ``bandwidth`` defaults to the median pairwise distance of the pooled set (the median heuristic).
    """
    x, y = _flat_pair(x, y, "mmd")
    pooled = torch.cat([x, y])
    d2 = torch.cdist(pooled, pooled).pow(2)  # [n+m, n+m]
    if bandwidth is None:
        off = d2[~torch.eye(len(pooled), dtype=torch.bool)]
        bandwidth = float(off.median().clamp_min(1e-12).sqrt())
    k = torch.exp(-d2 / (2 * bandwidth**2))
    n, m = len(x), len(y)
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    exx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    eyy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(exx + eyy - 2 * kxy.mean())


def adversarial_accuracy(real: torch.Tensor, fake: torch.Tensor) -> Dict[str, float]:
    """Nearest-neighbour adversarial accuracy: ``{'acc_real', 'acc_fake', 'error'}`` (error 0 is best).

    Sets should be of equal size (the statistic's ½ baseline assumes it).
    """
    real, fake = _flat_pair(real, fake, "adversarial_accuracy")
    inf = torch.tensor(float("inf"), dtype=real.dtype)
    d_rr = torch.cdist(real, real).fill_diagonal_(inf)
    d_ff = torch.cdist(fake, fake).fill_diagonal_(inf)
    d_rf = torch.cdist(real, fake)
    acc_t = (d_rr.min(1).values < d_rf.min(1).values).double().mean()  # real's nearest is real
    acc_s = (d_ff.min(1).values < d_rf.min(0).values).double().mean()  # fake's nearest is fake
    err = 0.5 * ((acc_s - 0.5) ** 2 + (acc_t - 0.5) ** 2)
    return {"acc_real": float(acc_t), "acc_fake": float(acc_s), "error": float(err)}


def parzen_log_likelihood(samples: torch.Tensor, test: torch.Tensor, bandwidth: float, *, chunk: int = 256) -> torch.Tensor:
    """Per-test-point Parzen log-likelihood ``[m]`` (nats), Gaussian kernels of std ``bandwidth``.

    ``log p(y) = logsumexp_i(−‖y − s_i‖² / 2h²) − log n − (d/2) log(2π h²)``.
    """
    s, y = _flat_pair(samples, test, "parzen_log_likelihood", min_points=1)
    n, d = s.shape
    out = []
    for i in range(0, len(y), chunk):
        d2 = torch.cdist(y[i : i + chunk], s).pow(2)  # [chunk, n]
        out.append(torch.logsumexp(-d2 / (2 * bandwidth**2), dim=1))
    return torch.cat(out) - math.log(n) - 0.5 * d * math.log(2 * math.pi * bandwidth**2)


def select_parzen_bandwidth(samples: torch.Tensor, valid: torch.Tensor, candidates: Sequence[float]) -> float:
    """The candidate bandwidth with the highest mean Parzen log-likelihood on ``valid``."""
    scores = [float(parzen_log_likelihood(samples, valid, h).mean()) for h in candidates]
    return float(candidates[max(range(len(scores)), key=scores.__getitem__)])


def affine_latent_fit(true: torch.Tensor, inferred: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Fit ``true ≈ [inferred, 1] W`` by least squares; per-dimension errors and correlation.

    true: ``[*, d_true]``, inferred: ``[*, d_inf]`` (leading dims flattened together).
    Returns ``{'mae', 'mse', 'corr'}`` each ``[d_true]``, and ``'fitted'`` shaped like ``true``.
    """
    if true.shape[:-1] != inferred.shape[:-1]:
        raise ShapeError("inferred", f"leading dims {tuple(true.shape[:-1])}", tuple(inferred.shape[:-1]), "pass latents for the same steps")
    t = true.reshape(-1, true.shape[-1]).double()  # [n, d_true]
    z = inferred.reshape(-1, inferred.shape[-1]).double()  # [n, d_inf]
    design = torch.cat([z, torch.ones_like(z[:, :1])], dim=1)  # [n, d_inf + 1]
    w = torch.linalg.lstsq(design, t).solution  # [d_inf + 1, d_true]
    fit = design @ w
    err = fit - t
    tc, fc = t - t.mean(0), fit - fit.mean(0)
    corr = (tc * fc).sum(0) / (tc.norm(dim=0) * fc.norm(dim=0)).clamp_min(1e-12)
    return {
        "mae": err.abs().mean(0),
        "mse": err.pow(2).mean(0),
        "corr": corr,
        "fitted": fit.reshape(true.shape).to(true.dtype),
    }
