"""TrainOps' per-step overhead against a minimal hand-written PyTorch loop.

    python benchmarks/bench_train.py [--steps 60] [--threads 1] [--hidden 256] ...

Both loops train the same GRU sequence model (written here against the SequenceModel API:
``h_t = GRU(x_{t-1}, h_{t-1})``, ``x_t ~ N(W h_t + b, I)``, exact NLL) with the same Adam optimizer
on the same shuffled minibatches of the same data, on the CPU. Each is timed ``--repeats`` times,
alternating, after a warm-up; the best time of each is kept. Printed: steps/s, sequences/s and
the overhead ratio ``time(TrainOps) / time(minimal loop)`` (goal: <= 1.05), by wall-clock time and
by this process's CPU time (the steadier figure on a machine shared with other work).
"""

from __future__ import annotations

import argparse
import time

import pyro.distributions as dist
import torch
from torch import nn
from torch.utils.data import DataLoader

from seqgen import Config, SeqBatch, SequenceModel, State, TrainConfig, TrainOps, config, state


@config
class GRUConfig(Config):
    obs_dim: int = 64
    hidden: int = 256


@state
class GRUState(State):
    prev: torch.Tensor  # [batch, obs_dim]
    h: torch.Tensor  # [1, batch, hidden]


class GRUSequenceModel(SequenceModel):
    """``h_t = GRU(x_{t-1}, h_{t-1})``, ``x_t ~ N(W h_t + b, I)`` with ``x_0 = 0``, ``h_0 = 0``."""

    config_cls = GRUConfig
    capabilities = frozenset({"log_prob", "generate", "gradient"})

    def __init__(self, cfg: GRUConfig):
        super().__init__(cfg)
        self.gru = nn.GRU(cfg.obs_dim, cfg.hidden, batch_first=True)
        self.out = nn.Linear(cfg.hidden, cfg.obs_dim)

    @property
    def obs_shape(self):
        return torch.Size([self.config.obs_dim])

    def initial_state(self, batch_size):
        w = self.out.weight
        return GRUState(w.new_zeros(batch_size, self.config.obs_dim), w.new_zeros(1, batch_size, self.config.hidden))

    def prior_step(self, s, context_t):
        y, h = self.gru(s.prev.unsqueeze(1), s.h)  # y: [batch, 1, hidden]
        return dist.Normal(self.out(y[:, 0]), 1.0).to_event(1), GRUState(s.prev, h)

    def observe(self, s, x_t):
        return GRUState(x_t, s.h)

    def _log_prob(self, x, context, mask, lengths):
        inputs = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], dim=1)  # [batch, time, obs_dim]
        y, _ = self.gru(inputs)  # [batch, time, hidden]
        lp = dist.Normal(self.out(y), 1.0).log_prob(x).sum(-1)  # [batch, time]
        return (lp * mask).sum(1)


def minimal_loop(model: GRUSequenceModel, x: torch.Tensor, args):
    """The reference: DataLoader, zero_grad, loss, backward, step. Returns (wall, CPU) seconds."""
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = model.objective().loss_fn
    loader = DataLoader(range(len(x)), batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(0), collate_fn=lambda idx: SeqBatch.from_tensor(x[idx]))
    start, cpu, step = time.perf_counter(), time.process_time(), 0
    while step < args.steps:
        for batch in loader:
            opt.zero_grad(set_to_none=True)
            loss_fn(batch, 1.0).loss.backward()
            opt.step()
            step += 1
            if step == args.steps:
                break
    return time.perf_counter() - start, time.process_time() - cpu


def trainops_loop(model: GRUSequenceModel, x: torch.Tensor, args):
    cfg = TrainConfig(max_steps=args.steps, epochs=None, batch_size=args.batch_size, lr=args.lr, device="cpu",
                      progress="off", log_every=args.log_every, seed=0)
    ops = TrainOps(model, cfg)
    data = SeqBatch.from_tensor(x)
    start, cpu = time.perf_counter(), time.process_time()
    ops.fit(data)
    return time.perf_counter() - start, time.process_time() - cpu


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--time", type=int, default=50, help="sequence length")
    p.add_argument("--obs-dim", type=int, default=64)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--lr", type=float, default=1e-3)
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch_size * 8, args.time, args.obs_dim)  # 8 batches per epoch
    cfg = GRUConfig(obs_dim=args.obs_dim, hidden=args.hidden)
    n_params = sum(p.numel() for p in GRUSequenceModel(cfg).parameters())
    print(f"GRU model: obs_dim={args.obs_dim} hidden={args.hidden} ({n_params:,} parameters); batch {args.batch_size} x "
          f"{args.time} steps; Adam; {args.steps} steps per run; torch threads: {torch.get_num_threads()}")

    def fresh():
        torch.manual_seed(0)
        return GRUSequenceModel(cfg)

    warm = argparse.Namespace(**{**vars(args), "steps": 3})
    minimal_loop(fresh(), x, warm)
    trainops_loop(fresh(), x, warm)
    base, ours = [], []
    for _ in range(args.repeats):
        base.append(minimal_loop(fresh(), x, args))
        ours.append(trainops_loop(fresh(), x, args))
    (tb, cb), (to, co) = [tuple(min(col) for col in zip(*runs)) for runs in (base, ours)]
    for name, t, c in (("minimal loop", tb, cb), ("TrainOps", to, co)):
        print(f"{name:>13}: {args.steps / t:8.2f} steps/s  {args.steps * args.batch_size / t:9.1f} sequences/s  "
              f"(best of {args.repeats}: {t:.3f} s wall, {c:.3f} s CPU)")
    print(f"overhead ratio TrainOps / minimal: {to / tb:.3f}x wall, {co / cb:.3f}x CPU (goal <= 1.05x)")

if __name__ == "__main__":
    main()
