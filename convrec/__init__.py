"""convrec: convolutional and recurrent neural networks for sequences and grids, on PyTorch.

``convrec.train(task, ...)`` trains and writes a run directory; ``convrec.load(run_dir)`` reads
the model back. Layers are in :mod:`convrec.nn`, models in :mod:`convrec.models`.
"""

__version__ = "0.1.0"

from convrec.train.run import load, train

__all__ = ["__version__", "load", "train"]
