"""Speed of the Neural Langevin Machine: Langevin steps/s and GFLOP/s against a plain matmul.

One Euler–Maruyama step of ``B`` chains costs two ``[B, N] × [N, N]`` products, ``2 · 2BN²`` flops
(the element-wise work is counted as free, so overheads lower the figure). The reference is
``torch.mm`` of the same shapes timed in the same run, alternating with the sampler so both see
the same machine load: the machine's practical limit for this shape. Goal: >= 70 % of it.
Then one learning-rule update (``n_t`` Langevin steps on ``N_model`` chains plus the data and
model statistics, and the optimizer step) at the default sizes. Prints its figures; not a test.

    python plugins/seqgen-langevin/benchmarks/bench_langevin.py --threads 1
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import torch

import seqgen
from seqgen_langevin import LangevinConfig, LangevinMachine, langevin_


def _best_of(fn, repeats):
    """Seconds per call: the median of ``repeats`` timings (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: leave torch's setting)")
    p.add_argument("--chains", type=int, default=1000)
    p.add_argument("--neurons", type=int, default=784)
    p.add_argument("--steps", type=int, default=20, help="Langevin steps per timing")
    p.add_argument("--repeats", type=int, default=5, help="timings per measurement (the median is kept)")
    p.add_argument("--updates", type=int, default=5, help="learning-rule updates timed")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    B, N, S = args.chains, args.neurons, args.steps

    print(f"command: {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch threads, device {device}, load average {os.getloadavg()[0]:.2f}")  # fmt: skip

    torch.manual_seed(0)
    J = torch.randn(N, N, device=device) * (2.0 / N**0.5)
    b = torch.zeros(N, device=device)
    x = torch.randn(B, N, device=device)
    a = torch.randn(B, N, device=device)
    out = torch.empty(B, N, device=device)

    def sampler():
        langevin_(x, J, b, dt=0.01, temperature=1.0, num_steps=S)
        sync()

    def matmul():
        for _ in range(2 * S):
            torch.mm(a, J.t(), out=out)
        sync()

    flops_step = 2 * 2 * B * N * N
    t_sampler, t_matmul = [], []
    for _ in range(args.repeats):  # alternate, so both see the same load
        t_sampler.append(_best_of(sampler, 1))
        t_matmul.append(_best_of(matmul, 1))
    ts, tm = statistics.median(t_sampler), statistics.median(t_matmul)
    gf_s, gf_m = flops_step * S / ts / 1e9, flops_step * S / tm / 1e9
    print(f"Langevin sampler, {B} chains x N={N}: {S / ts:.1f} steps/s ({S * B / ts:.3g} chain-steps/s), {gf_s:.1f} GFLOP/s")
    print(f"torch.mm [{B},{N}]x[{N},{N}] (two per step): {gf_m:.1f} GFLOP/s")
    print(f"sampler / matmul rate: {100 * gf_s / gf_m:.1f} % (goal >= 70 %)")

    cfg = LangevinConfig()  # the original's defaults: N=784, N_model=1000, n_t=10
    model = LangevinMachine(cfg).to(device)
    data = torch.randn(1000, 1, cfg.num_neurons, device=device) * 1.5  # a batch of 1000 states
    batch = seqgen.SeqBatch.from_tensor(data)
    opt = torch.optim.SGD(model.parameters(), lr=5e-4, weight_decay=2e-6)

    def update():
        stats = model.learning_statistics(batch)
        for name, param in model.named_parameters():
            param.grad = stats.grads[name]
        opt.step()
        sync()

    c0 = time.process_time()
    t_update = _best_of(update, args.updates)
    cpu_update = (time.process_time() - c0) / (args.updates + 1)  # CPU seconds per update (all threads), warm-up included
    flops_update = 2 * 2 * cfg.num_model_chains * N * N * cfg.langevin_steps + 2 * 2 * (1000 + cfg.num_model_chains) * N * N
    print(f"learning-rule update (batch 1000, N_model {cfg.num_model_chains}, n_t {cfg.langevin_steps}, N {cfg.num_neurons}): "
          f"{t_update * 1e3:.0f} ms wall ({flops_update / t_update / 1e9:.1f} GFLOP/s), {cpu_update * 1e3:.0f} ms CPU time")  # fmt: skip


if __name__ == "__main__":
    main()
