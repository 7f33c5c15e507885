"""Synthetic data from the Lorenz system: a chaotic 3-D latent with linear-Gaussian or spiking readouts.

Latent dynamics (Lorenz 1963), ``z = (z1, z2, z3)``::

    dz1/dt = σ (z2 - z1),   dz2/dt = z1 (ρ - z3) - z2,   dz3/dt = z1 z2 - β z3

with σ = 10, ρ = 28, β = 8/3 (the chaotic regime) by default, integrated with the classical
fourth-order Runge–Kutta scheme at step Δt = 0.01. Initial conditions are drawn independently
per trajectory, ``z_0 ~ N((0, 0, 25), 10² I)``; the first ``burn_in`` steps are discarded so every
recorded trajectory lies on the attractor, then ``length`` states are kept, one every Δt. The
returned latents are normalised per dimension to zero mean and unit variance, with the mean and
standard deviation taken over all trajectories and steps of the call.

Observations, in the style of the LFADS benchmarks (Sussillo et al., 2016; Pandarinath et al., 2018):

- linear: ``x_t = C z_t + ε_t``, ``C ∈ R^{obs_dim×3}``, ``C_ij ~ N(0, 1/3)`` (so each ``x`` dim has
  about unit variance), ``ε_t ~ N(0, noise² I)``;
- spiking: ``num_neurons`` Poisson neurons with Gaussian tuning curves around preferred points
  ``c_n ~ N(0, I_3)`` in the normalised latent space,
  ``λ_{t,n} = base_rate + max_rate · exp(-‖z_t - c_n‖² / (2 width²))`` (expected count per step),
  ``y_{t,n} ~ Poisson(λ_{t,n})``.

Seeds: ``seed`` draws the initial conditions and the observation noise; ``param_seed`` draws the
readout (``C`` or the ``c_n``), so train and validation sets built with different ``seed`` and
the same ``param_seed`` share one observation model. Same seeds ⇒ identical data.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Tuple, Union

import numpy as np
import torch

from ..errors import DataError
from .collate import SequenceDataset, require_int

__all__ = ["lorenz_trajectories", "linear_observations", "spiking_observations", "LorenzDataset"]

LORENZ_OBS = ("linear", "spiking")


def _rng(seed: int, stream: int) -> np.random.Generator:
    """Independent numpy streams per purpose (0: initial states, 1: noise, 2: readout) from one seed."""
    require_int("seed", seed, minimum=0)
    return np.random.default_rng([seed, stream])


def _require_number(argument: str, value: Any, *, positive: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= 0 if positive else value < 0):
        bound = "> 0" if positive else ">= 0"
        raise DataError(argument, f"'{argument}' must be a finite number {bound} (got {value!r})", f"pass a number {bound}")
    return float(value)


def lorenz_trajectories(
    num: int,
    length: int,
    *,
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
    dt: float = 0.01,
    burn_in: int = 500,
    seed: int = 0,
    normalize: bool = True,
) -> torch.Tensor:
    """``num`` Lorenz trajectories of ``length`` steps: ``z: [num, length, 3]`` float32.

    RK4 at step ``dt`` from ``z_0 ~ N((0, 0, 25), 10² I)``, ``burn_in`` steps discarded (see the
    module docstring). ``normalize=True`` rescales each dimension to zero mean and unit variance
    over the whole ``[num, length]`` sample; ``False`` returns the raw states.
    """
    require_int("num", num)
    require_int("length", length, minimum=2 if normalize and num == 1 else 1)
    require_int("burn_in", burn_in, minimum=0)
    sigma, rho, beta, dt = (_require_number(n, v, positive=True) for n, v in (("sigma", sigma), ("rho", rho), ("beta", beta), ("dt", dt)))

    def f(z: np.ndarray) -> np.ndarray:  # [num, 3] -> dz/dt [num, 3]
        z1, z2, z3 = z[:, 0], z[:, 1], z[:, 2]
        return np.stack([sigma * (z2 - z1), z1 * (rho - z3) - z2, z1 * z2 - beta * z3], axis=1)

    z = np.array([0.0, 0.0, 25.0]) + 10.0 * _rng(seed, 0).standard_normal((num, 3))  # [num, 3]
    out = np.empty((length, num, 3))
    for t in range(burn_in + length):  # a loop over time is inherent to integrating an ODE
        if t >= burn_in:
            out[t - burn_in] = z
        k1 = f(z)
        k2 = f(z + 0.5 * dt * k1)
        k3 = f(z + 0.5 * dt * k2)
        k4 = f(z + dt * k3)
        z = z + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    out = out.transpose(1, 0, 2)  # [num, length, 3]
    if normalize:
        out = (out - out.mean(axis=(0, 1))) / out.std(axis=(0, 1))
    return torch.from_numpy(np.ascontiguousarray(out)).float()


def _latents(z: Any) -> np.ndarray:
    if not isinstance(z, torch.Tensor) or z.dim() < 1 or z.shape[-1] != 3 or not z.is_floating_point():
        got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise DataError("z", f"expected a float tensor [..., 3] of Lorenz latents, got {got}", "pass lorenz_trajectories(...)")
    return z.detach().cpu().double().numpy()


def linear_observations(
    z: torch.Tensor,
    obs_dim: int,
    *,
    noise: float = 0.1,
    seed: int = 0,
    param_seed: int = 0,
    return_params: bool = False,
) -> Union[torch.Tensor, Tuple[torch.Tensor, Dict[str, torch.Tensor]]]:
    """``x = z Cᵀ + noise · ε``: ``z: [..., 3] -> x: [..., obs_dim]`` (dtype/device of ``z``).

    ``C: [obs_dim, 3]``, ``C_ij ~ N(0, 1/3)`` from ``param_seed``; ``ε ~ N(0, I)`` from ``seed``.
    With ``return_params=True`` also returns ``{'loading': C}``.
    """
    require_int("obs_dim", obs_dim)
    noise = _require_number("noise", noise, positive=False)
    zz = _latents(z)
    loading = _rng(param_seed, 2).standard_normal((obs_dim, 3)) / math.sqrt(3.0)  # [obs_dim, 3]
    x = zz @ loading.T + noise * _rng(seed, 1).standard_normal(zz.shape[:-1] + (obs_dim,))  # [..., obs_dim]
    x = torch.from_numpy(x).to(device=z.device, dtype=z.dtype)
    return (x, {"loading": torch.from_numpy(loading).to(z)}) if return_params else x


def spiking_observations(
    z: torch.Tensor,
    num_neurons: int,
    *,
    seed: int = 0,
    param_seed: int = 0,
    width: float = 1.0,
    max_rate: float = 2.0,
    base_rate: float = 0.05,
    return_params: bool = False,
) -> Union[torch.Tensor, Tuple[torch.Tensor, Dict[str, torch.Tensor]]]:
    """Poisson spike counts from Gaussian tuning curves: ``z: [..., 3] -> y: [..., num_neurons]``.

    ``λ_{t,n} = base_rate + max_rate · exp(-‖z_t - c_n‖² / (2 width²))``, ``y ~ Poisson(λ)``, with
    preferred points ``c_n ~ N(0, I_3)`` from ``param_seed`` and the counts drawn from ``seed``.
    Counts are returned as floats (dtype/device of ``z``). With ``return_params=True`` also returns
    ``{'centres': [num_neurons, 3], 'rates': λ [..., num_neurons]}``.
    """
    require_int("num_neurons", num_neurons)
    width = _require_number("width", width, positive=True)
    max_rate = _require_number("max_rate", max_rate, positive=False)
    base_rate = _require_number("base_rate", base_rate, positive=False)
    zz = _latents(z)
    centres = _rng(param_seed, 2).standard_normal((num_neurons, 3))  # [N, 3]
    sq_dist = ((zz[..., None, :] - centres) ** 2).sum(-1)  # [..., N]
    rates = base_rate + max_rate * np.exp(-sq_dist / (2.0 * width**2))  # [..., N]
    counts = _rng(seed, 1).poisson(rates).astype(np.float64)
    y = torch.from_numpy(counts).to(device=z.device, dtype=z.dtype)
    if not return_params:
        return y
    return y, {"centres": torch.from_numpy(centres).to(z), "rates": torch.from_numpy(rates).to(z)}


class LorenzDataset(SequenceDataset):
    """``num`` Lorenz sequences of ``length`` steps with a linear or spiking readout.

    Items: ``x: [length, obs_dim]`` (``obs_kind 'normal'`` for ``obs='linear'``, ``'poisson'`` counts
    for ``obs='spiking'``, where ``obs_dim`` is the number of neurons) and ``targets: [length, 3]``,
    the true normalised latents. ``params`` holds the readout (``loading``, or ``centres`` and the
    true ``rates``). Other keywords go to :func:`lorenz_trajectories` (``sigma``, ``rho``, ``beta``,
    ``dt``, ``burn_in``) and to the readout (``noise``; ``width``, ``max_rate``, ``base_rate``).
    """

    def __init__(
        self,
        num: int,
        length: int,
        *,
        obs: str = "linear",
        obs_dim: int = 10,
        seed: int = 0,
        param_seed: int = 0,
        noise: float = 0.1,
        width: float = 1.0,
        max_rate: float = 2.0,
        base_rate: float = 0.05,
        sigma: float = 10.0,
        rho: float = 28.0,
        beta: float = 8.0 / 3.0,
        dt: float = 0.01,
        burn_in: int = 500,
    ):
        if obs not in LORENZ_OBS:
            raise DataError("obs", f"expected one of {', '.join(map(repr, LORENZ_OBS))}, got {obs!r}", "pass obs='linear' or obs='spiking'")
        z = lorenz_trajectories(num, length, sigma=sigma, rho=rho, beta=beta, dt=dt, burn_in=burn_in, seed=seed)  # [num, length, 3]
        if obs == "linear":
            x, self.params = linear_observations(z, obs_dim, noise=noise, seed=seed, param_seed=param_seed, return_params=True)
        else:
            x, self.params = spiking_observations(
                z, obs_dim, seed=seed, param_seed=param_seed, width=width, max_rate=max_rate, base_rate=base_rate, return_params=True
            )
        super().__init__(x, targets=z, obs_kind="normal" if obs == "linear" else "poisson", name=f"lorenz ({obs}, seed {seed})")
        self.obs, self.seed, self.param_seed = obs, seed, param_seed

    def _describe_extra(self):
        return [f"Lorenz latents (targets [time, 3], normalised), {self.obs} readout, seed {self.seed}, param_seed {self.param_seed}"]
