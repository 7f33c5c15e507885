"""Speed of the SRNN plugin against a straightforward per-step PyTorch loop of the same sizes.

Reference configuration (issue #4): x_dim 88 Bernoulli, T = 50, batch 32, d and a GRUs of 128,
prior/posterior/decoder MLPs of 128, z of 16, one torch thread. Prints milliseconds per training
step (forward, backward and an Adam step) and per generated sequence, for

- ``seqgen-srnn``: ``SRNN.objective().loss_fn`` (the path TrainOps runs: input checks, the
  whole-sequence GRUs with their hand-written backward (``seqgen_srnn/gru.py``), the fused ``z``
  loop, the vectorised decoder; the loops over time as compiled operators, ``seqgen_srnn/_loops.py``),
- ``Python``: the same training step with the loops over time in Python (``SEQGEN_SRNN_COMPILED=0``),
- ``bf16``: the same training step under ``torch.autocast('cpu', bfloat16)``, as TrainConfig
  ``precision='bf16'`` runs it (the GRUs' whole-sequence products and the MLPs in bf16; the
  recurrences, the loss, the parameters and Adam in float32),
- ``nn.GRU``: the same model and weights with ``torch.nn.GRU`` in place of the plugin's GRU layers
  (training step only), to show what the hand-written GRU buys, and
- ``loop``: the same model written the obvious way, one Python loop over time with
  ``nn.GRUCell``, ``torch.distributions`` and a per-step decoder (:class:`LoopSRNN` below).

It also prints the floating-point work of the float32 step's matrix products (from a profile of one
round: ``2mkn`` per product) and the rate ``torch.mm`` reaches on the GRUs' input-product shape in
the same rounds, i.e. how long the products alone take on this core.

Timing: the two are measured in alternating rounds so that load from other processes hits both
alike; each figure is the median (and minimum) of the rounds, in wall-clock milliseconds, plus
the process CPU time per step (which other processes inflate less than wall-clock time, though
they still slow memory and caches). Run: ``python plugins/seqgen-srnn/benchmarks/bench_srnn.py``.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Bernoulli, Normal, kl_divergence

import seqgen
import seqgen_srnn
from seqgen_srnn import _loops


class LoopSRNN(nn.Module):
    """The SRNN written step by step (the baseline): same sizes, same equations, no fusion."""

    def __init__(self, x_dim=88, d_dim=128, a_dim=128, z_dim=16, hidden=128, min_scale=1e-3):
        super().__init__()
        self.z_dim, self.min_scale = z_dim, min_scale
        self.d_cell = nn.GRUCell(x_dim, d_dim)
        self.a_cell = nn.GRUCell(d_dim + x_dim, a_dim)
        self.prior = nn.Sequential(nn.Linear(d_dim + z_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * z_dim))
        self.post = nn.Sequential(nn.Linear(a_dim + z_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * z_dim))
        self.dec = nn.Sequential(nn.Linear(z_dim + d_dim, hidden), nn.ReLU(), nn.Linear(hidden, x_dim))

    def _gauss(self, net, inp):
        loc, raw = net(inp).chunk(2, dim=-1)
        return loc, F.softplus(raw) + self.min_scale

    def loss(self, x):
        """Negative ELBO per step, ``x: [batch, time, x_dim]``."""
        batch, time, _ = x.shape
        d = x.new_zeros(batch, self.d_cell.hidden_size)
        ds = []
        for t in range(time):
            c = x[:, t - 1] if t > 0 else torch.zeros_like(x[:, 0])
            d = self.d_cell(c, d)
            ds.append(d)
        a = x.new_zeros(batch, self.a_cell.hidden_size)
        as_ = [None] * time
        for t in reversed(range(time)):
            a = self.a_cell(torch.cat([ds[t], x[:, t]], dim=-1), a)
            as_[t] = a
        z = x.new_zeros(batch, self.z_dim)
        log_lik, kl = 0.0, 0.0
        for t in range(time):
            p_loc, p_scale = self._gauss(self.prior, torch.cat([ds[t], z], dim=-1))
            m, q_scale = self._gauss(self.post, torch.cat([as_[t], z], dim=-1))
            q, p = Normal(p_loc + m, q_scale), Normal(p_loc, p_scale)
            z = q.rsample()
            logits = self.dec(torch.cat([z, ds[t]], dim=-1))
            log_lik = log_lik + Bernoulli(logits=logits).log_prob(x[:, t]).sum(-1)
            kl = kl + kl_divergence(q, p).sum(-1)
        return -(log_lik - kl).sum() / (batch * time)

    @torch.no_grad()
    def generate(self, batch, time):
        d = self.d_cell.weight_hh.new_zeros(batch, self.d_cell.hidden_size)
        z = d.new_zeros(batch, self.z_dim)
        x_prev = d.new_zeros(batch, self.d_cell.input_size)
        out = []
        for _ in range(time):
            d = self.d_cell(x_prev, d)
            loc, scale = self._gauss(self.prior, torch.cat([d, z], dim=-1))
            z = Normal(loc, scale).sample()
            x_prev = Bernoulli(logits=self.dec(torch.cat([z, d], dim=-1))).sample()
            out.append(x_prev)
        return torch.stack(out, dim=1)


class TorchGRU(nn.GRU):
    """``torch.nn.GRU`` called the way the plugin calls its GRU (input parts, ``reverse``)."""

    def forward(self, x, h0=None, *, reverse=False):
        x = torch.cat(list(x), dim=-1) if isinstance(x, (tuple, list)) else x
        if not reverse:
            return super().forward(x, h0)
        out, _ = super().forward(x.flip(0), h0)
        return out.flip(0), out[-1:]


def with_torch_gru(model):
    """A copy of ``model`` whose GRU layers are ``torch.nn.GRU`` with the same weights."""
    other = copy.deepcopy(model)
    for owner, name in ((other, "d_rnn"), (other.inference, "rnn")):
        mine = getattr(owner, name)
        torch_gru = TorchGRU(mine.input_size, mine.hidden_size)
        torch_gru.load_state_dict(mine.state_dict())
        setattr(owner, name, torch_gru)
    return other


_PRODUCTS = {"aten::mm": (0, 1), "aten::addmm": (1, 2), "aten::addmm_": (1, 2)}  # op -> (mat1, mat2) argument positions


def products_floor(fn, per: int):
    """Profile ``fn`` (``per`` training steps) and return ``(gflop, products_ms, total_ms)`` per step:
    the floating-point work of its matrix products (``2mkn`` each, from the recorded shapes), the
    time the profiler gives those products, and the total self time of every op. The products'
    time is what no fusion of the element-wise work can remove (the profiler adds a few µs to each
    op, so both times sit a little above the unprofiled step)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        fn()
    gflop = products_us = total_us = 0.0
    for e in prof.key_averages(group_by_input_shape=True):
        total_us += e.self_cpu_time_total
        if e.key in _PRODUCTS:
            i, j = _PRODUCTS[e.key]
            (m, k), (_, n) = e.input_shapes[i], e.input_shapes[j]
            gflop += e.count * 2 * m * k * n / 1e9
            products_us += e.self_cpu_time_total
    return gflop / per, products_us / 1e3 / per, total_us / 1e3 / per


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _summary(samples, per):
    walls = [w / per * 1e3 for w, _ in samples]
    cpus = [c / per * 1e3 for _, c in samples]
    return statistics.median(walls), min(walls), statistics.median(cpus)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15, help="alternating timing rounds")
    ap.add_argument("--steps", type=int, default=4, help="training steps per round")
    ap.add_argument("--smoke", action="store_true", help="two tiny rounds (CI)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.rounds, args.steps = 2, 1
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batch, time_steps, x_dim = 32, 50, 88
    x = (torch.rand(batch, time_steps, x_dim) < 0.08).float()  # piano-roll-like density
    data = seqgen.SeqBatch.from_tensor(x)

    model = seqgen_srnn.SPEC.build(obs_dim=x_dim)  # the defaults are the reference sizes
    objective = model.objective()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ref = with_torch_gru(model)
    ref_objective = ref.objective()
    ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-3)
    base = LoopSRNN(x_dim)
    base_opt = torch.optim.Adam(base.parameters(), lr=1e-3)
    n_fused = sum(p.numel() for p in model.parameters())
    n_loop = sum(p.numel() for p in base.parameters())

    def train_fused():
        for _ in range(args.steps):
            opt.zero_grad(set_to_none=True)
            objective.loss_fn(data, 1.0).loss.backward()
            opt.step()

    compiled_setting = os.environ.get(_loops.ENV_VAR, "1")
    compiled_on = _loops.compiled() is not None
    bf16_model = copy.deepcopy(model)
    bf16_objective = bf16_model.objective()
    bf16_opt = torch.optim.Adam(bf16_model.parameters(), lr=1e-3)

    def train_bf16():
        for _ in range(args.steps):
            bf16_opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = bf16_objective.loss_fn(data, 1.0).loss
            loss.backward()
            bf16_opt.step()

    def train_python_loops():  # the same model, its loops over time in Python (not compiled)
        os.environ[_loops.ENV_VAR] = "0"
        try:
            train_fused()
        finally:
            os.environ[_loops.ENV_VAR] = compiled_setting

    def train_torch_gru():
        for _ in range(args.steps):
            ref_opt.zero_grad(set_to_none=True)
            ref_objective.loss_fn(data, 1.0).loss.backward()
            ref_opt.step()

    def train_loop():
        for _ in range(args.steps):
            base_opt.zero_grad(set_to_none=True)
            base.loss(x).backward()
            base_opt.step()

    gen_dist = model.distribution(time_steps)

    def gen_fused():
        gen_dist.sample((batch,))

    def gen_loop():
        base.generate(batch, time_steps)

    def gen_fused_one():
        gen_dist.sample((1,))

    def gen_loop_one():
        base.generate(1, time_steps)

    mm_a, mm_b = torch.randn(batch * time_steps, 128), torch.randn(128, 384)  # the shape of the GRUs' input products

    def mm_20():
        for _ in range(20):
            torch.mm(mm_a, mm_b)

    jobs = {
        "train_fused": (train_fused, args.steps),
        "train_bf16": (train_bf16, args.steps),
        "train_python_loops": (train_python_loops, args.steps),
        "train_torch_gru": (train_torch_gru, args.steps),
        "train_loop": (train_loop, args.steps),
        "gen_fused": (gen_fused, batch),
        "gen_loop": (gen_loop, batch),
        "gen1_fused": (gen_fused_one, 1),
        "gen1_loop": (gen_loop_one, 1),
        "mm": (mm_20, 20),  # the machine's rate in the same rounds
    }
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    for fn, _ in jobs.values():  # warm-up
        fn()
    samples = {k: [] for k in jobs}
    for _ in range(args.rounds):
        for k, (fn, _) in jobs.items():
            samples[k].append(_timed(fn))
    res = {k: _summary(samples[k], per) for k, (_, per) in jobs.items()}

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    fmt_load = lambda v: "?" if v is None else ", ".join(f"{x:.2f}" for x in v)
    print("command:  python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])))
    print(f"machine:  {platform.processor() or platform.machine()}, os.cpu_count()={os.cpu_count()}, torch {torch.__version__}, "
          f"torch threads {torch.get_num_threads()}, load average (1, 5, 15 min) {fmt_load(load_before)} before, {fmt_load(load)} after")
    print(f"config:   x_dim {x_dim} Bernoulli, T={time_steps}, batch {batch}, d/a GRUs 128, MLPs 128, z 16; "
          f"parameters seqgen-srnn {n_fused}, loop {n_loop}; compiled loops (csrc/) {'on' if compiled_on else 'OFF: ' + (_loops.build_error() or _loops.ENV_VAR + '=0')}")
    print(f"timing:   {args.rounds} alternating rounds; wall-clock median (min) and CPU-time median, ms")
    rows = [
        ("training step (fwd+bwd+Adam)", "train_fused", "train_loop"),
        ("generated sequence, batch of 32 (per seq)", "gen_fused", "gen_loop"),
        ("generated sequence, batch of 1", "gen1_fused", "gen1_loop"),
    ]
    for label, a, b in rows:
        fa, fb = res[a], res[b]
        print(f"{label:44s} seqgen-srnn {fa[0]:8.2f} ({fa[1]:7.2f}) cpu {fa[2]:7.2f} | loop {fb[0]:8.2f} ({fb[1]:7.2f}) cpu {fb[2]:7.2f} | speed-up x{fb[0] / fa[0]:.2f}")
    fa, fb = res["train_fused"], res["train_bf16"]
    print(f"{'training step, precision=bf16 (autocast)':44s} bf16        {fb[0]:8.2f} ({fb[1]:7.2f}) cpu {fb[2]:7.2f} | "
          f"speed-up over float32 x{fa[0] / fb[0]:.2f} wall, x{fa[2] / fb[2]:.2f} cpu")
    fa, fb = res["train_fused"], res["train_python_loops"]
    print(f"{'training step with the loops in Python':44s} Python      {fb[0]:8.2f} ({fb[1]:7.2f}) cpu {fb[2]:7.2f} | "
          f"compiled loops speed-up x{fb[0] / fa[0]:.2f} wall, x{fb[2] / fa[2]:.2f} cpu")
    fa, fb = res["train_fused"], res["train_torch_gru"]
    print(f"{'training step with torch.nn.GRU layers':44s} nn.GRU      {fb[0]:8.2f} ({fb[1]:7.2f}) cpu {fb[2]:7.2f} | "
          f"hand-written GRU speed-up x{fb[0] / fa[0]:.2f} wall, x{fb[2] / fa[2]:.2f} cpu")
    gflop, prod_ms, total_ms = products_floor(train_fused, args.steps)
    rate = 2 * mm_a.shape[0] * 128 * 384 / res["mm"][0] / 1e6  # GFLOP/s, median of the rounds
    print(f"{'matrix products of the float32 step':44s} {gflop:.2f} GFLOP per step; profiled: {prod_ms:.1f} ms in the products "
          f"({gflop / prod_ms * 1e3:.0f} GFLOP/s) of {total_ms:.1f} ms in all ops; torch.mm [{mm_a.shape[0]}, 128] x [128, 384] "
          f"ran at {rate:.0f} GFLOP/s (median of the rounds), so the products alone need ~{gflop / rate * 1e3:.1f} ms at that rate")
    goal_ms, goal_x = 35.0, 1.5
    t, cpu = fa[0], fa[2]
    low = res["train_bf16"]
    print(f"goal:     <= {goal_ms} ms per training step: {'met' if t <= goal_ms else 'NOT met'} in float32 ({t:.1f} ms wall median, "
          f"{fa[1]:.1f} ms wall min, {cpu:.1f} ms CPU median), {'met' if low[0] <= goal_ms else 'NOT met'} in bf16 ({low[0]:.1f} ms); "
          f">= {goal_x}x the loop: {'met' if res['train_loop'][0] / t >= goal_x else 'NOT met'} (x{res['train_loop'][0] / t:.2f} in float32)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
