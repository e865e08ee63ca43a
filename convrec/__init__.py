"""convrec: convolutional and recurrent neural networks for sequences and grids, on PyTorch."""

__version__ = "0.1.0"
