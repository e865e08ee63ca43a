"""convrec: convolutional and recurrent neural networks for sequences and grids, on PyTorch.

``convrec.train(task, ...)`` trains and writes a run directory; ``convrec.load(run_dir)`` reads
the model back. Layers are in :mod:`convrec.nn`, models in :mod:`convrec.models`.

The package root loads nothing heavy: ``train`` and ``load`` import the training stack
(Lightning, matplotlib, ...) when first called, so that ``import convrec.nn`` needs only PyTorch
and NumPy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The subpackage first, so that the function below, not the subpackage, is `convrec.train`
# (importing a subpackage binds its name in the parent only the first time).
import convrec.train as _training  # noqa: F401 (its __init__ loads nothing itself)

if TYPE_CHECKING:
    from convrec.train.run import Run
    from convrec.train.trained import TrainedModel

__version__ = "0.1.0"

__all__ = ["__version__", "load", "train"]


def train(task: str, model: str | None = None, **options: Any) -> Run:
    """Train a model on a task and write its run directory; see
    :func:`convrec.train.run.train` for the arguments."""
    from convrec.train.run import train as run_training

    return run_training(task, model, **options)


def load(run_dir: Any) -> TrainedModel:
    """The trained model of a run directory; see :func:`convrec.train.trained.load`."""
    from convrec.train.trained import load as load_run

    return load_run(run_dir)
