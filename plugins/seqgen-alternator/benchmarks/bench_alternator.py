"""Speed of the alternator against a per-step loop implementation of the same networks.

    python plugins/seqgen-alternator/benchmarks/bench_alternator.py [--threads 1] [--reps 30] [--smoke]

Reference configuration (issue #5): x_dim 10, z_dim 1, T = 275, MLP networks of width 64 (the
default ``hidden=(64, 64)``), one sequence per batch, one thread. Printed:

- training: ms per Adam step of the plugin's objective (batched ``g_φ``, chunked linear scan,
  batched ``f_θ``) and of a loop written here that runs Algorithm 1 one step at a time with the
  same two networks (``f_θ`` and ``g_φ`` called on ``[1, dim]`` at every step), and their ratio
  (goal: ≥ 20×);
- generation: ms to sample 1000 trajectories of length 275 with ``model.distribution(275)``
  (GenCore, all 1000 in one batch; goal: < 1 s), and ms per trajectory for it and for the loop
  sampling one trajectory at a time.

Each figure is the median of ``--reps`` timed runs after warm-up. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time

import torch

from seqgen import LorenzDataset, SeqBatch
from seqgen_alternator import Alternator, AlternatorConfig


def loop_log_lik(model: Alternator, x: torch.Tensor) -> torch.Tensor:
    """Algorithm 1 step by step: ``Σ_t log N(x_t; √(1−σ_x²) f(z_{t−1}), σ_x²)`` for ``x: [1, T, x_dim]``."""
    cfg = model.config
    a, b = math.sqrt(1 - cfg.sigma_x**2), math.sqrt(1 - cfg.alpha - cfg.sigma_z**2)
    const = cfg.obs_dim * (math.log(cfg.sigma_x) + 0.5 * math.log(2 * math.pi))
    z = x.new_empty(x.shape[0], cfg.z_dim).normal_()
    total = x.new_zeros(x.shape[0])
    for t in range(x.shape[1]):  # a lean loop: plain tensor arithmetic, no distribution objects
        loc = a * model.observation_net(z)  # [1, x_dim]
        total = total - 0.5 * ((x[:, t] - loc) / cfg.sigma_x).pow(2).sum(-1) - const
        z = math.sqrt(cfg.alpha) * model.feature_net(x[:, t]) + b * z + cfg.sigma_z * torch.randn_like(z)
    return total


def loop_generate(model: Alternator, steps: int) -> torch.Tensor:
    """One trajectory ``[1, T, x_dim]`` from the same networks, one step at a time."""
    cfg = model.config
    a, b = math.sqrt(1 - cfg.sigma_x**2), math.sqrt(1 - cfg.alpha - cfg.sigma_z**2)
    z = torch.randn(1, cfg.z_dim)
    xs = []
    for _ in range(steps):
        x = a * model.observation_net(z) + cfg.sigma_x * torch.randn(1, cfg.obs_dim)
        z = math.sqrt(cfg.alpha) * model.feature_net(x) + b * z + cfg.sigma_z * torch.randn_like(z)
        xs.append(x)
    return torch.stack(xs, 1)


def timed(fn, reps: int, warmup: int = 3):
    """``(wall, cpu)``: median wall-clock and process CPU time of ``fn()`` in milliseconds.

    On a shared machine the wall time includes waiting for a core; the CPU time does not.
    """
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(reps):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(1e3 * (time.perf_counter() - start))
        cpu.append(1e3 * (time.process_time() - start_cpu))
    return statistics.median(wall), statistics.median(cpu)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--steps", type=int, default=275, help="sequence length T")
    parser.add_argument("--trajectories", type=int, default=1000)
    parser.add_argument("--smoke", action="store_true", help="a few reps of a short sequence (for CI)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.reps, args.steps, args.trajectories = 2, 20, 10
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = AlternatorConfig(obs_dim=10, z_dim=1, hidden=(64, 64))
    model = Alternator(cfg)
    data = LorenzDataset(1, args.steps, obs="linear", obs_dim=10, seed=0)
    x = data[0].x[None]  # [1, T, 10]
    batch = SeqBatch.from_tensor(x)
    loss_fn = model.objective().loss_fn
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(compute_loss):
        def run():
            opt.zero_grad(set_to_none=True)
            compute_loss().backward()
            opt.step()

        return run

    fused = timed(step(lambda: loss_fn(batch, 1.0).loss), args.reps)
    loop = timed(step(lambda: -loop_log_lik(model, x).sum() / x.shape[1]), args.reps)
    dist = model.distribution(args.steps).expand([args.trajectories])
    gen = timed(dist.sample, max(3, args.reps // 5), warmup=1)
    with torch.no_grad():
        loop_gen = timed(lambda: loop_generate(model, args.steps), max(3, args.reps // 3), warmup=1)

    n = args.trajectories
    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"machine: {platform.processor() or platform.machine()}, os.cpu_count()={os.cpu_count()}, torch {torch.__version__}, threads={torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    print(f"config: x_dim=10 z_dim=1 T={args.steps} hidden={cfg.hidden} activation={cfg.activation}, one sequence per batch; medians of {args.reps} reps")
    print("                                    wall ms     cpu ms")
    print(f"training step, plugin (parallel)  {fused[0]:9.2f}  {fused[1]:9.2f}")
    print(f"training step, per-step loop      {loop[0]:9.2f}  {loop[1]:9.2f}")
    print(f"  speed-up (goal >= 20x)          {loop[0] / fused[0]:8.1f}x  {loop[1] / fused[1]:8.1f}x")
    print(f"sampling {n} x {args.steps} in one batch  {gen[0]:9.1f}  {gen[1]:9.1f}   (goal < 1000 ms for 1000)")
    print(f"  per trajectory                  {gen[0] / n:9.3f}  {gen[1] / n:9.3f}")
    print(f"per-step loop, one trajectory     {loop_gen[0]:9.2f}  {loop_gen[1]:9.2f}")

if __name__ == "__main__":
    main()
