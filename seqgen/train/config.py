"""``TrainConfig``: every knob of :class:`~seqgen.train.TrainOps`, frozen and validated.

A ``TrainConfig`` is a frozen, keyword-only attrs class (``seqgen.config``): every field is
checked when it is built, ``evolve``/``with_overrides`` re-run the checks, and
``from_dict(to_dict(c)) == c``. Cross-field rules (``epochs``, ``max_steps`` or ``max_minutes`` must be given,
an annealed KL needs ``kl_warmup_steps > 0``, …) are checked in ``__attrs_post_init__``.
Things that depend on the machine (``device='cuda'`` with no GPU present, ``precision='fp16'``
on a CPU) are checked by ``TrainOps.fit``, since a config may be written on one machine and
run on another.

Units: every ``*_every``/``*_steps`` field counts optimizer steps (one minibatch each, per
process); ``batch_size`` is per process, so under ``torchrun`` the global batch is
``batch_size * world_size``.
"""

from __future__ import annotations

import os
import re
from typing import Optional, Tuple

import attrs

from ..config import Config, config, in_range, non_negative, non_negative_int, one_of, positive, positive_int
from ..errors import ConfigError

__all__ = ["TrainConfig", "OPTIMIZERS", "KL_SCHEDULES", "LR_SCHEDULES", "PRECISIONS", "DEVICE_PATTERN"]

OPTIMIZERS = ("adam", "adamw", "sgd")
KL_SCHEDULES = ("none", "linear", "sigmoid", "cyclic")
LR_SCHEDULES = ("constant", "cosine", "step", "warmup_cosine")
PRECISIONS = ("fp32", "bf16", "fp16")
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def _optional(validator):
    return attrs.validators.optional(validator)


def _is_bool(instance, attribute, value):
    if not isinstance(value, bool):
        raise ConfigError(attribute.name, f"'{attribute.name}' must be true or false (got {value!r})")


def _is_int(instance, attribute, value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(attribute.name, f"'{attribute.name}' must be an integer (got {value!r})")


def _is_name(instance, attribute, value):
    if not isinstance(value, str) or not value:
        raise ConfigError(attribute.name, f"'{attribute.name}' must be a non-empty string (got {value!r})")


def _device(instance, attribute, value):
    if not isinstance(value, str) or not DEVICE_PATTERN.match(value):
        raise ConfigError(
            attribute.name,
            f"'device' must be 'auto', 'cpu', 'cuda' or 'cuda:N' (got {value!r})",
            "write e.g. device='cuda:0'",
        )


def _betas_converter(value):
    return tuple(value) if isinstance(value, list) else value


def _betas(instance, attribute, value):
    ok = isinstance(value, tuple) and len(value) == 2
    ok = ok and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0.0 <= b < 1.0 for b in value)
    if not ok:
        raise ConfigError(attribute.name, f"'betas' must be two numbers in [0, 1) (got {value!r})", "write e.g. betas=(0.9, 0.999)")


def _path_converter(value):
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _is_path(instance, attribute, value):
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(attribute.name, f"'{attribute.name}' must be a directory path or None (got {value!r})")


@config
class TrainConfig(Config):
    """How :class:`~seqgen.train.TrainOps` trains (DESIGN §4).

    Optimisation
      lr, optimizer ('adam'|'adamw'|'sgd'), weight_decay, betas (Adam/AdamW), momentum (SGD),
      grad_clip (max global L2 norm of the gradient, ``‖g‖₂ = sqrt(Σ_p ‖g_p‖²)``; None or 0 = off).
    Length
      epochs, max_steps and/or max_minutes (training stops at whichever comes first; at least one
      is required; max_minutes is a wall-clock budget for one ``fit`` call, checked after each
      step, so the step that crosses it completes and is evaluated and checkpointed as usual),
      batch_size (per process), eval_batch_size (None: batch_size), shuffle, drop_last.
    Schedules (see :mod:`seqgen.train.schedules`)
      kl_schedule ('none'|'linear'|'sigmoid'|'cyclic'), kl_warmup_steps (the annealing span),
      kl_floor (the weight at step 0), kl_cycles and kl_cycle_ratio (Fu et al. 2019's M and R);
      lr_schedule ('constant'|'cosine'|'step'|'warmup_cosine'), lr_warmup_steps (a linear ramp
      before any schedule), lr_min_factor (cosine's floor as a fraction of lr), lr_step_size and
      lr_gamma ('step': ``lr * gamma ** (step // step_size)``).
    Machine
      seed, device ('auto'|'cpu'|'cuda'|'cuda:N'), precision ('fp32'|'bf16'|'fp16'; autocast,
      bf16 on CUDA or the CPU, fp16 on CUDA only and with a GradScaler), num_threads (None: leave
      torch's setting), num_workers (DataLoader worker processes), ddp_find_unused_parameters
      (passed to DistributedDataParallel).
    Files and logs
      out_dir (None: write nothing), checkpoint_every (steps; None: only at the end),
      keep_checkpoints (newest kept; None: all), log_every (steps), progress ('auto': a tqdm bar when
      stderr is a terminal and ``CI`` is unset), tensorboard.
    Evaluation and stopping
      eval_every (steps; None: once per epoch), early_stopping_patience (evaluations without an
      improvement of more than min_delta; None: off), early_stopping_metric (None: the objective's
      first evaluation metric), early_stopping_mode ('min'|'max'), on_nonfinite ('raise'|'skip').
    """

    lr: float = attrs.field(default=1e-3, validator=positive)
    optimizer: str = attrs.field(default="adam", validator=one_of(*OPTIMIZERS))
    weight_decay: float = attrs.field(default=0.0, validator=non_negative)
    betas: Tuple[float, float] = attrs.field(default=(0.9, 0.999), converter=_betas_converter, validator=_betas)
    momentum: float = attrs.field(default=0.0, validator=in_range(0.0, 1.0, hi_open=True))
    grad_clip: Optional[float] = attrs.field(default=None, validator=_optional(non_negative))

    epochs: Optional[int] = attrs.field(default=10, validator=_optional(positive_int))
    max_steps: Optional[int] = attrs.field(default=None, validator=_optional(positive_int))
    max_minutes: Optional[float] = attrs.field(default=None, validator=_optional(positive))
    batch_size: int = attrs.field(default=32, validator=positive_int)
    eval_batch_size: Optional[int] = attrs.field(default=None, validator=_optional(positive_int))
    shuffle: bool = attrs.field(default=True, validator=_is_bool)
    drop_last: bool = attrs.field(default=False, validator=_is_bool)

    kl_schedule: str = attrs.field(default="none", validator=one_of(*KL_SCHEDULES))
    kl_warmup_steps: int = attrs.field(default=0, validator=non_negative_int)
    kl_floor: float = attrs.field(default=0.0, validator=in_range(0.0, 1.0))
    kl_cycles: int = attrs.field(default=4, validator=positive_int)
    kl_cycle_ratio: float = attrs.field(default=0.5, validator=in_range(0.0, 1.0, lo_open=True))

    lr_schedule: str = attrs.field(default="constant", validator=one_of(*LR_SCHEDULES))
    lr_warmup_steps: int = attrs.field(default=0, validator=non_negative_int)
    lr_min_factor: float = attrs.field(default=0.0, validator=in_range(0.0, 1.0))
    lr_step_size: int = attrs.field(default=1000, validator=positive_int)
    lr_gamma: float = attrs.field(default=0.1, validator=in_range(0.0, 1.0, lo_open=True))

    seed: int = attrs.field(default=0, validator=non_negative_int)
    device: str = attrs.field(default="auto", validator=_device)
    precision: str = attrs.field(default="fp32", validator=one_of(*PRECISIONS))
    num_threads: Optional[int] = attrs.field(default=None, validator=_optional(positive_int))
    num_workers: int = attrs.field(default=0, validator=non_negative_int)
    ddp_find_unused_parameters: bool = attrs.field(default=False, validator=_is_bool)

    out_dir: Optional[str] = attrs.field(default=None, converter=_path_converter, validator=_is_path)
    checkpoint_every: Optional[int] = attrs.field(default=None, validator=_optional(positive_int))
    keep_checkpoints: Optional[int] = attrs.field(default=3, validator=_optional(positive_int))
    log_every: int = attrs.field(default=50, validator=positive_int)
    progress: str = attrs.field(default="auto", validator=one_of("auto", "on", "off"))
    tensorboard: bool = attrs.field(default=False, validator=_is_bool)

    eval_every: Optional[int] = attrs.field(default=None, validator=_optional(positive_int))
    early_stopping_patience: Optional[int] = attrs.field(default=None, validator=_optional(positive_int))
    early_stopping_metric: Optional[str] = attrs.field(default=None, validator=_optional(_is_name))
    early_stopping_mode: str = attrs.field(default="min", validator=one_of("min", "max"))
    min_delta: float = attrs.field(default=0.0, validator=non_negative)
    on_nonfinite: str = attrs.field(default="raise", validator=one_of("raise", "skip"))

    def __attrs_post_init__(self):
        if self.epochs is None and self.max_steps is None and self.max_minutes is None:
            raise ConfigError("epochs", "'epochs', 'max_steps' and 'max_minutes' are all None", "give epochs=N, max_steps=N or max_minutes=M (or several)")
        if self.epochs is None and self.max_steps is None and self.lr_schedule in ("cosine", "warmup_cosine"):
            raise ConfigError(
                "lr_schedule",
                f"lr_schedule={self.lr_schedule!r} needs a step horizon, but only max_minutes bounds the run",
                "give max_steps or epochs as well, or use lr_schedule='constant' or 'step'",
            )
        if self.kl_schedule != "none" and self.kl_warmup_steps == 0:
            raise ConfigError(
                "kl_warmup_steps",
                f"'kl_warmup_steps' must be > 0 when kl_schedule={self.kl_schedule!r} (got 0)",
                "set kl_warmup_steps to the number of steps the KL weight takes to reach 1",
            )
        if self.kl_schedule == "cyclic" and self.kl_warmup_steps < self.kl_cycles:
            raise ConfigError(
                "kl_cycles",
                f"'kl_cycles' must be <= kl_warmup_steps={self.kl_warmup_steps} (got {self.kl_cycles})",
                "use fewer cycles or a longer kl_warmup_steps",
            )
        if self.lr_schedule == "warmup_cosine" and self.lr_warmup_steps == 0:
            raise ConfigError(
                "lr_warmup_steps",
                "'lr_warmup_steps' must be > 0 when lr_schedule='warmup_cosine' (got 0)",
                "set lr_warmup_steps, or use lr_schedule='cosine'",
            )
        if self.optimizer != "sgd" and self.momentum != 0.0:
            raise ConfigError(
                "momentum",
                f"'momentum' applies to optimizer='sgd' only (got momentum={self.momentum} with optimizer={self.optimizer!r})",
                "set betas for Adam/AdamW, or optimizer='sgd'",
            )

    @property
    def clip_norm(self) -> Optional[float]:
        """The gradient-clipping threshold, or None when clipping is off (None or 0)."""
        return self.grad_clip if self.grad_clip else None
