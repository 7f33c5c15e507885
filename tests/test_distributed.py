"""Two CPU processes (gloo) train like one process on the same global batch.

Each of 2 ranks reads batches of 4 from its shard; the single-process reference reads batches of
8, which are exactly the union of the ranks' batches (DistributedSampler strides one shared
permutation). With ragged sequences the ranks observe different numbers of steps, so this also
checks that gradients, local-rule directions and metrics are averaged weighted by observed steps.
"""

import json
import os
import socket
import time

import pytest
import safetensors.torch
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from train_fixtures import GaussianAR1, TinyLocalRule, TinyPhased, ar1_batch, params_of

from seqgen import TrainConfig, TrainOps

pytestmark = pytest.mark.slow

CASES = {
    "ar1": (GaussianAR1, dict(grad_clip=0.5)),
    "phased": (TinyPhased, {}),
    "local": (TinyLocalRule, dict(optimizer="sgd", momentum=0.5)),
}


def config(batch_size, out_dir=None, **kw):
    return TrainConfig(max_steps=3, batch_size=batch_size, lr=0.05, device="cpu", progress="off", log_every=1,
                       out_dir=out_dir, seed=3, **kw)


def data():
    return ar1_batch(n=16, ragged=True, seed=11), ar1_batch(n=7, ragged=True, seed=12)


def train(case, batch_size, out_dir=None):
    model_cls, kw = CASES[case]
    torch.manual_seed(0)
    ops = TrainOps(model_cls(), config(batch_size, out_dir, **kw))
    history = ops.fit(*data())
    return ops, history, ops.evaluate(data()[1])


def _worker(rank, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    for case in CASES:
        ops, history, metrics = train(case, 4, out_dir=os.path.join(out, f"run-{case}"))
        assert ops.dist.enabled and ops.dist.world_size == 2
        if rank == 0:
            safetensors.torch.save_file(params_of(ops.model), os.path.join(out, f"{case}.safetensors"))
            with open(os.path.join(out, f"{case}.json"), "w") as f:
                json.dump({"history": list(history), "evaluate": metrics}, f)
    # Tear down together: a rank that destroys the gloo group while its peer is still writing
    # can abort in gloo's threads ("terminate called without an active exception").
    dist.barrier()
    dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_process_on_the_global_batch(tmp_path):
    context = mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=False)
    deadline = time.monotonic() + 120
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for p in context.processes:
                p.kill()
            pytest.fail("distributed workers did not finish within 120 s")
    for case in CASES:
        ops, history, metrics = train(case, 8)
        got = safetensors.torch.load_file(tmp_path / f"{case}.safetensors")
        for name, value in params_of(ops.model).items():
            # float32 all-reduce sums in another order: differences ~1e-7 after 3 steps; 1e-5 is ample.
            assert torch.allclose(got[name], value, atol=1e-5), (case, name, got[name], value)
        saved = json.loads((tmp_path / f"{case}.json").read_text())
        assert saved["evaluate"] == pytest.approx(metrics, rel=1e-5)
        assert [r["step"] for r in saved["history"]] == [r["step"] for r in history]
        for mine, theirs in zip(history, saved["history"]):
            # Per-step averages reduce exactly (weighted by observed steps); the local rule's sq_dist is
            # a nonlinear function of each rank's batch mean, so only its valid metrics can agree.
            keys = [k for k in mine if case != "local" or not k.startswith("train/")]
            assert {k: theirs[k] for k in keys} == pytest.approx({k: mine[k] for k in keys}, rel=1e-5)
        run = tmp_path / f"run-{case}"
        steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines() if '"train"' in line]
        assert steps == [1, 2, 3]  # rank 0 alone logged
        assert (run / "latest").read_text().strip() == "checkpoints/step-00000003"
