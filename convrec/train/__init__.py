"""Training: the visible loop on Lightning Fabric, callbacks, checkpoints, run directories."""

from convrec.train.config import TrainConfig, make_config
from convrec.train.loop import Callback, FitState, Loop, TrainingDivergedError, fit
from convrec.train.run import Run, TrainedModel, evaluate, load, resolve_config, train

__all__ = [
    "Callback",
    "FitState",
    "Loop",
    "Run",
    "TrainConfig",
    "TrainedModel",
    "TrainingDivergedError",
    "evaluate",
    "fit",
    "load",
    "make_config",
    "resolve_config",
    "train",
]
