"""Padding invariance for sequence models with one output per sequence."""

import torch
from torch import Tensor, nn

from convrec.nn import Padded


def padded_batch(sequences: list[Tensor], extra: int = 0, fill: float = 0) -> Padded:
    """``sequences`` ``(T_i, *)`` padded with ``fill`` to the longest plus ``extra`` steps."""
    lengths = [len(sequence) for sequence in sequences]
    shape = (len(sequences), max(lengths) + extra, *sequences[0].shape[1:])
    data = sequences[0].new_full(shape, fill)
    for index, sequence in enumerate(sequences):
        data[index, : len(sequence)] = sequence
    return Padded(data, lengths)


def assert_same_output_however_padded(model: nn.Module, sequences: list[Tensor], fill: float):
    """In eval mode, each sequence's output alone equals its output in a batch padded to the
    longest sequence and in one padded 5 steps further with ``fill``."""
    model.eval()
    with torch.no_grad():
        alone = torch.cat([model(sequence[None]) for sequence in sequences])
        for extra, value in ((0, 0), (5, fill)):
            together = model(padded_batch(sequences, extra, value))
            torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)
