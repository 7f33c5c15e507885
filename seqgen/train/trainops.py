"""``TrainOps``: the one training loop every seqgen model is trained with (DESIGN §4).

``TrainOps(model, config).fit(train, valid)`` owns optimizers, devices, the loop, logging and
checkpoints; the model only hands over ``model.objective()`` (a Gradient-, Phased- or
LocalRuleObjective, run by :mod:`seqgen.train.updates`).

One step, in order: the next minibatch of the epoch (:mod:`seqgen.train.data`) is moved to the
device with ``SeqBatch.to``; the objective's update runs (KL weight ``β_t`` from
:mod:`seqgen.train.schedules`); the loss and metrics are kept on the device (no host sync);
then, on their intervals: a log event (``log_every``), an evaluation (``eval_every`` steps, or at
each epoch's end) with early stopping, and a checkpoint (``checkpoint_every``, and always at the
end). Evaluating and checkpointing happen after the epoch counters moved, so a checkpoint taken
at any step resumes exactly: same data order, RNG states, optimizer and scheduler states and
running sums, hence the same per-step losses as the uninterrupted run (with deterministic data
loading; see :mod:`seqgen.train.data`).

Under ``torchrun`` every process runs this loop on its shard; see :mod:`seqgen.train.distributed`.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Union

import torch

from ..errors import ConfigError
from .checkpoint import CHECKPOINTS, load_run, write_checkpoint
from .config import TrainConfig
from .data import TrainLoader, as_dataset, eval_loader
from .devices import autocast, check_precision, make_grad_scaler, resolve_device
from .distributed import DistContext, env_local_rank, setup_distributed
from .metrics import Accumulator, History, stack_metrics
from .objectives import GradientObjective, LocalRuleObjective, PhasedObjective
from .optim import build_slots, move_optimizer_state
from .rng import restore_rng, seed_everything
from .runlog import RunLogger, lr_report, trim_metrics_file
from .schedules import LRHorizon
from .snapshot import RunState, capture, check_model, load_weights, position_for, rebuild_model, restore
from .updates import GradientUpdate, LocalRuleUpdate, NonfiniteGuard, PhasedUpdate

__all__ = ["TrainOps"]

PathLike = Union[str, Path]


class TrainOps:
    """Trains ``model`` as ``config`` says; see the module docstring for the loop.

    Arguments: ``model`` (a :class:`~seqgen.SequenceModel`), ``config`` (a :class:`TrainConfig`,
    a dict for ``TrainConfig.from_dict``, or None for the defaults), ``collate_fn`` (items ->
    ``SeqBatch``; default ``seqgen.data.collate.collate``), ``model_name``/``model_version`` (the
    registry name and plugin version written into checkpoints, so ``resume`` can rebuild the model
    and refuse another one).

    Attributes: ``model``, ``config``, ``objective``, ``slots`` (name -> optimizer, scheduler, scaler),
    ``state`` (:class:`RunState`: step, epoch, …), ``history`` (:class:`History`), ``device``, ``dist``.
    """

    def __init__(self, model, config: Union[TrainConfig, Mapping[str, Any], None] = None, *, collate_fn: Optional[Callable] = None,
                 model_name: Optional[str] = None, model_version: Optional[str] = None):
        from ..model import SequenceModel  # not at import time: seqgen.model imports seqgen.train

        if not isinstance(model, SequenceModel):
            raise ConfigError("model", f"model: expected a seqgen.SequenceModel, got {type(model).__name__}", "subclass seqgen.SequenceModel, or build one with seqgen.load_model")
        if config is None:
            config = TrainConfig()
        elif isinstance(config, Mapping):
            config = TrainConfig.from_dict(config)
        elif not isinstance(config, TrainConfig):
            raise ConfigError("config", f"config: expected a TrainConfig, got {type(config).__name__}", "build it with TrainConfig(...) or TrainConfig.from_dict(...)")
        self.model, self.config, self.collate_fn = model, config, collate_fn
        self.model_name, self.model_version = model_name, model_version
        self.objective = model.objective()
        self.horizon = LRHorizon(config.max_steps)
        self.slots = build_slots(self.objective, model, config, self.horizon)
        self.state = RunState()
        self.history = History()
        self.dist = DistContext()
        self.device: Optional[torch.device] = None
        self._log_acc, self._eval_acc = Accumulator(), Accumulator()
        self._pending_rng = None  # per-rank RNG states from a checkpoint, restored when fit starts
        self._pending_scalers: dict = {}
        self._saved_layout = None  # (world_size, batch_size) the restored batch position refers to
        self._rng_ready = False
        self._update = None
        self._pending_losses: list = []
        self._stop = False
        self._logger: Optional[RunLogger] = None
        self._valid = None
        self._last_kl: Optional[float] = None
        self._t0 = time.perf_counter()

    def __repr__(self) -> str:
        return f"TrainOps({type(self.model).__name__}, step={self.state.step}, epoch={self.state.epoch}, device={self.device})"

    # ------------------------------------------------------------------ public API
    def fit(self, train, valid=None) -> History:
        """Train on ``train`` (a dataset or SeqBatch) until ``epochs``/``max_steps``/``max_minutes``; returns the history.

        Continues from the current step (after ``resume``, where the checkpoint stopped). Raises
        ConfigError (device, precision), DataError (data), TrainingError (a non-finite loss with
        ``on_nonfinite='raise'``; no checkpoint of the bad state is written).
        """
        cfg, s = self.config, self.state
        self._setup()
        self._init_rng()
        loader = TrainLoader(*as_dataset(train, self.collate_fn, argument="train"), cfg, self.dist)
        self._valid = None if valid is None else as_dataset(valid, self.collate_fn, argument="valid")
        spe = loader.steps_per_epoch
        if self._saved_layout is not None:
            s.batch_in_epoch = position_for(s, self._saved_layout, self.dist.world_size, cfg.batch_size)
            self._saved_layout = None
        if s.batch_in_epoch >= spe:  # the data shrank since the checkpoint: start the next epoch
            s.epoch, s.batch_in_epoch = s.epoch + 1, 0
        self.horizon.total_steps = self._planned_steps(spe)
        self._stop = False
        if self._reached_end():
            return self.history
        update = self._get_update()
        if cfg.out_dir is not None and self.dist.is_main and s.step > 0:
            trim_metrics_file(Path(cfg.out_dir), s.step)
        self._logger = RunLogger(cfg, enabled=self.dist.is_main, total_steps=self.horizon.total_steps, initial_step=s.step)
        self._t0 = time.perf_counter()
        self.model.train()
        try:
            while not (self._stop or self._reached_end()):
                for batch in loader.epoch(s.epoch, s.batch_in_epoch):
                    out = update(batch.to(self.device), s.step)
                    if self._after_step(out, spe):
                        break
        finally:
            self._logger.close()
            self._logger = None
            self._flush_losses()
        return self.history

    def evaluate(self, data) -> dict:
        """Metrics of the objective's ``eval_fn`` over ``data``, each weighted by ``batch.num_observed``.

        Names are the model's (``nll`` exact, ``*_bound`` bounds), in nats per observed step;
        under torchrun the sums are reduced over every process's shard.
        """
        self._setup()
        return self._evaluate(*as_dataset(data, self.collate_fn, argument="data"))

    def save(self, dir: Optional[PathLike] = None) -> Path:
        """Write a checkpoint of the current state into run directory ``dir`` (default ``out_dir``).

        Returns the checkpoint's directory. Under torchrun every process must call it (the RNG
        states are gathered); only rank 0 writes.
        """
        run_dir = dir if dir is not None else self.config.out_dir
        if run_dir is None:
            raise ConfigError("dir", "save() needs a directory, and TrainConfig.out_dir is None", "call save(dir) or set out_dir")
        if self._update is not None:
            self._update.guard.flush()
        tensors, meta = capture(self)
        path = Path(run_dir) / CHECKPOINTS / f"step-{self.state.step:08d}"
        if self.dist.is_main:
            path = write_checkpoint(Path(run_dir), self.state.step, tensors, meta, keep=self.config.keep_checkpoints)
        self.dist.barrier()
        return path

    @classmethod
    def resume(cls, path: PathLike, model=None, *, collate_fn: Optional[Callable] = None,
               overrides: Union[Mapping[str, Any], Iterable[str], None] = None,
               model_name: Optional[str] = None, model_version: Optional[str] = None) -> "TrainOps":
        """A TrainOps in the state a checkpoint recorded; ``fit`` then continues the run exactly.

        ``path``: a run directory (its ``latest`` checkpoint, falling back to older ones if it is
        unreadable) or one ``checkpoints/step-*`` directory. ``model``: the model to load the weights
        into (checked against the saved class and config); None rebuilds it through the registry from
        the saved name and config. ``overrides``: TrainConfig changes (a dict, or ``key=value``
        strings), e.g. ``{'max_steps': 2000}``. ``model_name``/``model_version``: when given, must
        match the checkpoint's. Raises CheckpointError on a missing, corrupt or foreign checkpoint.
        """
        ckpt = load_run(Path(path))
        check_model(ckpt, model, model_name=model_name, model_version=model_version)
        if model is None:
            model = rebuild_model(ckpt)
        config = TrainConfig.from_dict(ckpt.meta["train_config"])
        if config.out_dir is not None and ckpt.path.parent.name == CHECKPOINTS:  # follow a moved run directory
            config = config.evolve(out_dir=str(ckpt.path.parent.parent))
        if overrides:
            config = config.evolve(**overrides) if isinstance(overrides, Mapping) else config.with_overrides(overrides)
        saved = ckpt.meta["model"]
        ops = cls(model, config, collate_fn=collate_fn, model_name=saved["name"], model_version=saved["version"])
        restore(ops, ckpt)
        return ops

    @staticmethod
    def load_model(path: PathLike, model=None):
        """Only the trained model from a checkpoint (run or checkpoint directory), in eval mode on the CPU.

        ``model=None`` builds it through the registry from the saved name and config.
        """
        ckpt = load_run(Path(path))
        check_model(ckpt, model, model_name=None, model_version=None)
        if model is None:
            model = rebuild_model(ckpt)
        load_weights(model, ckpt)
        return model.eval()

    # ------------------------------------------------------------------ setup
    def _setup(self) -> None:
        """Device, threads, process group; model, optimizer state and scalers onto the device."""
        cfg = self.config
        device = resolve_device(cfg.device, local_rank=env_local_rank())
        check_precision(cfg, device)
        if cfg.num_threads is not None:
            torch.set_num_threads(cfg.num_threads)
        if not self.dist.enabled:
            self.dist = setup_distributed(device.type)
        self.model.to(device)
        for name, slot in self.slots.items():
            move_optimizer_state(slot.optimizer)
            if slot.scaler is None and not isinstance(self.objective, LocalRuleObjective):
                slot.scaler = make_grad_scaler(cfg, device)
                if slot.scaler is not None and self._pending_scalers.get(name):
                    slot.scaler.load_state_dict(self._pending_scalers.pop(name))
        self.device = device

    def _init_rng(self) -> None:
        """Seed a fresh run (``seed + rank``), or put back the states a checkpoint recorded."""
        if self._rng_ready:
            return
        rank = self.dist.rank
        if self._pending_rng is None:
            seed_everything(self.config.seed + rank)
        elif rank in self._pending_rng:
            restore_rng(*self._pending_rng[rank])
        else:
            warnings.warn(f"the checkpoint has no RNG state for rank {rank} (it ran on {len(self._pending_rng)} process(es)); reseeding", stacklevel=3)
            seed_everything(self.config.seed + rank + self.state.step)
        self._pending_rng = None
        self._rng_ready = True

    def _get_update(self):
        if self._update is None:
            cfg = self.config
            where = f"checkpoints in {cfg.out_dir} hold only states before it" if cfg.out_dir else "nothing was written (out_dir is None)"
            guard = NonfiniteGuard(cfg.on_nonfinite, immediate=self.device.type == "cpu", ctx=self.dist, where=where)
            args = (self.model, cfg, self.dist, guard, lambda: autocast(cfg, self.device))
            if isinstance(self.objective, GradientObjective):
                self._update = GradientUpdate(*args, objective=self.objective, slot=self.slots["main"])
            elif isinstance(self.objective, PhasedObjective):
                self._update = PhasedUpdate(*args, objective=self.objective, slots=self.slots)
            else:
                self._update = LocalRuleUpdate(*args, objective=self.objective, slot=self.slots["main"])
        return self._update

    def _planned_steps(self, steps_per_epoch: int) -> Optional[int]:
        """The steps ``epochs``/``max_steps`` allow; None when only ``max_minutes`` bounds the run."""
        cfg, s = self.config, self.state
        caps = []
        if cfg.max_steps is not None:
            caps.append(cfg.max_steps)
        if cfg.epochs is not None:
            caps.append(s.step + (cfg.epochs - s.epoch) * steps_per_epoch - s.batch_in_epoch)
        return max(s.step, min(caps)) if caps else None

    def _out_of_time(self) -> bool:
        """True once this ``fit`` call has run ``max_minutes``; rank 0's clock decides for all ranks."""
        if self.config.max_minutes is None:
            return False
        late = self.dist.is_main and time.perf_counter() - self._t0 >= 60.0 * self.config.max_minutes
        if not self.dist.enabled:
            return late
        flag = torch.tensor(float(late), device=self.device)  # nccl reduces device tensors only
        return bool(self.dist.all_reduce_max_(flag).item())

    def _reached_end(self) -> bool:
        cfg, s = self.config, self.state
        return (cfg.max_steps is not None and s.step >= cfg.max_steps) or (cfg.epochs is not None and s.epoch >= cfg.epochs)

    # ------------------------------------------------------------------ the loop
    def _after_step(self, out, steps_per_epoch: int) -> bool:
        """Bookkeeping after one update; True when training should stop."""
        cfg, s = self.config, self.state
        self._pending_losses.append(out.losses)
        if out.applied:
            if out.metric_names:
                weighted = out.metric_values * out.n  # [k]: Σ-ready, shared by both windows
                self._log_acc.add_weighted(out.metric_names, weighted, out.n)
                self._eval_acc.add_weighted(out.metric_names, weighted, out.n)
        else:
            s.skipped += 1
            self.history.skipped = s.skipped
        self._last_kl = out.kl_weight
        s.step += 1
        s.batch_in_epoch += 1
        epoch_end = s.batch_in_epoch >= steps_per_epoch
        if epoch_end:
            s.epoch, s.batch_in_epoch = s.epoch + 1, 0
        self._logger.advance()
        timed_out = self._out_of_time()
        self._stop = self._stop or timed_out  # ends the epoch loop in fit as well
        done = self._reached_end() or timed_out
        if s.step % cfg.log_every == 0:
            self._log_train()
        if (cfg.eval_every is not None and s.step % cfg.eval_every == 0) or (cfg.eval_every is None and epoch_end) or (done and s.last_eval_step != s.step):
            self._run_eval()
        stop = done or self._stop
        if stop and not self._log_acc.empty:
            self._log_train()
        if cfg.out_dir is not None and ((cfg.checkpoint_every is not None and s.step % cfg.checkpoint_every == 0) or stop):
            self.save()
        return stop

    def _flush_losses(self) -> None:
        if not self._pending_losses:
            return
        rows = torch.stack(self._pending_losses).tolist()  # [steps, phases]: the one host sync
        self._pending_losses = []
        self.history.losses.extend(sum(r) for r in rows)
        if isinstance(self.objective, PhasedObjective):
            for i, phase in enumerate(self.objective.phases):
                self.history.phase_losses.setdefault(phase.name, []).extend(r[i] for r in rows)

    def _log_train(self) -> None:
        self._update.guard.flush()
        metrics = self._log_acc.result(self.dist)
        self._flush_losses()
        s = self.state
        self._logger.event(step=s.step, epoch=s.epoch, phase="train", metrics=metrics, lr=lr_report(self.slots),
                           kl_weight=self._last_kl, time=time.perf_counter() - self._t0)

    def _run_eval(self) -> None:
        self._update.guard.flush()
        s = self.state
        train = self._eval_acc.result(self.dist)
        record = {"step": s.step, "epoch": s.epoch, **{f"train/{k}": v for k, v in train.items()}}
        watched = train
        if self._valid is not None:
            watched = self._evaluate(*self._valid)
            record.update({f"valid/{k}": v for k, v in watched.items()})
            self._logger.event(step=s.step, epoch=s.epoch, phase="valid", metrics=watched, lr=lr_report(self.slots),
                               kl_weight=self._last_kl, time=time.perf_counter() - self._t0)
        self.history.append(record)
        s.last_eval_step = s.step
        self._early_stopping(watched)

    def _early_stopping(self, metrics: Mapping[str, float]) -> None:
        cfg, s = self.config, self.state
        if not metrics:
            return
        key = cfg.early_stopping_metric or next(iter(metrics))
        if key not in metrics:
            raise ConfigError("early_stopping_metric", f"'early_stopping_metric' {key!r} is not an evaluation metric (got {', '.join(metrics)})", "use one of those names")
        value = metrics[key]
        if s.best is None or (value < s.best - cfg.min_delta if cfg.early_stopping_mode == "min" else value > s.best + cfg.min_delta):
            s.best, s.best_step, s.bad_evals = value, s.step, 0
        else:
            s.bad_evals += 1
        if cfg.early_stopping_patience is not None and s.bad_evals >= cfg.early_stopping_patience:
            self._stop = True

    def _evaluate(self, dataset, collate) -> dict:
        acc = Accumulator()
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                for batch in eval_loader(dataset, collate, self.config, self.dist):
                    batch = batch.to(self.device)
                    with autocast(self.config, self.device):
                        out = self.objective.evaluate(batch)
                    names, values = stack_metrics(out.metrics, out.loss)
                    acc.add(names, values, batch.num_observed)
        finally:
            self.model.train(was_training)
        return acc.result(self.dist)
