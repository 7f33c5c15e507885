"""Training: the objectives a model hands over, and ``TrainOps``, the one loop that runs them.

- :mod:`~seqgen.train.objectives`: ``GradientObjective``, ``PhasedObjective``, ``LocalRuleObjective``
- :mod:`~seqgen.train.config`: ``TrainConfig``
- :mod:`~seqgen.train.trainops`: ``TrainOps`` (fit, evaluate, save, resume, load_model)
- :mod:`~seqgen.train.schedules`: KL annealing and LR schedules
- :mod:`~seqgen.train.checkpoint`: safetensors + JSON checkpoints, written atomically
- :mod:`~seqgen.train.distributed`: torchrun / DistributedDataParallel support

Nothing here imports :mod:`seqgen.model` at import time (``seqgen.model`` imports this package).
"""

from .config import TrainConfig
from .metrics import History
from .objectives import GradientObjective, LocalRuleObjective, LossOutput, Objective, Phase, PhasedObjective
from .rng import seed_everything
from .schedules import kl_weight, lr_factor
from .trainops import TrainOps

__all__ = [
    "GradientObjective",
    "History",
    "LocalRuleObjective",
    "LossOutput",
    "Objective",
    "Phase",
    "PhasedObjective",
    "TrainConfig",
    "TrainOps",
    "kl_weight",
    "lr_factor",
    "seed_everything",
]
