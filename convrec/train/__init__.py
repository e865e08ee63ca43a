"""Training: the visible loop on Lightning Fabric, callbacks, checkpoints, run directories.

Names are loaded on first use, so that reading a trained model (``convrec.train.trained``)
does not import Lightning.
"""

from importlib import import_module
from typing import Any

_HOMES = {
    "Callback": "loop",
    "FitState": "loop",
    "Loop": "loop",
    "TrainingDivergedError": "loop",
    "fit": "loop",
    "IncompatibleCheckpointError": "checkpoint",
    "TrainConfig": "config",
    "make_config": "config",
    "Run": "run",
    "train": "run",
    "resolve_config": "resolve",
    "TrainedModel": "trained",
    "evaluate": "trained",
    "load": "trained",
    "UnsafeCheckpointError": "safe_load",
    "CheckpointChecksumMismatch": "storage",
    "CorruptCheckpointError": "storage",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'convrec.train' has no attribute {name!r}")
    return getattr(import_module(f"convrec.train.{_HOMES[name]}"), name)
