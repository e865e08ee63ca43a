"""Training: the visible loop on Lightning Fabric, callbacks, checkpoints, run directories."""

from convrec.train.checkpoint import IncompatibleCheckpointError
from convrec.train.config import TrainConfig, make_config
from convrec.train.loop import Callback, FitState, Loop, TrainingDivergedError, fit
from convrec.train.run import Run, TrainedModel, evaluate, load, resolve_config, train
from convrec.train.safe_load import UnsafeCheckpointError
from convrec.train.storage import CheckpointChecksumMismatch, CorruptCheckpointError

__all__ = [
    "Callback",
    "CheckpointChecksumMismatch",
    "CorruptCheckpointError",
    "FitState",
    "IncompatibleCheckpointError",
    "Loop",
    "Run",
    "TrainConfig",
    "TrainedModel",
    "TrainingDivergedError",
    "UnsafeCheckpointError",
    "evaluate",
    "fit",
    "load",
    "make_config",
    "resolve_config",
    "train",
]
