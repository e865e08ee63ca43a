"""Datasets of variable-length sequences and the collate that turns them into ``Padded``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from convrec.checks import describe, fail
from convrec.nn import Padded


class SequenceDataset(Dataset):
    """Pairs of input and target sequences.

    Args:
        inputs: ``N`` floating tensors ``(T_i, F)``.
        targets: ``N`` tensors ``(T_i, O)`` (sequence-to-sequence) or ``(O,)`` / ``()`` (one
            target per sequence).

    Example:
        >>> data = SequenceDataset([torch.zeros(4, 2), torch.ones(2, 2)], [torch.zeros(4, 1)] * 2)
        Traceback (most recent call last):
        ...
        convrec.errors.InvalidValueError: SequenceDataset: ... 2 steps in item 1, ... got 4.
    """

    def __init__(self, inputs: Sequence[Tensor], targets: Sequence[Tensor]) -> None:
        if len(inputs) != len(targets) or not inputs:
            raise fail(
                "SequenceDataset",
                "targets",
                f"one target per input ({len(inputs)} inputs, at least one)",
                f"{len(targets)} targets",
            )
        for index, (x, y) in enumerate(zip(inputs, targets, strict=True)):
            if not isinstance(x, Tensor) or x.dim() != 2 or not torch.is_floating_point(x):
                raise fail(
                    "SequenceDataset",
                    "inputs",
                    "floating (T, F) tensors",
                    f"{describe(x)} at {index}",
                )
            if y.dim() == 2 and len(y) != len(x):
                raise fail(
                    "SequenceDataset",
                    "targets",
                    f"{len(x)} steps in item {index}, like its input",
                    len(y),
                )
        self.inputs, self.targets = list(inputs), list(targets)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.inputs[index], self.targets[index]


def collate_padded(items: Sequence[tuple[Tensor, Tensor]]) -> tuple[Padded, Padded | Tensor]:
    """Batch ``(input, target)`` pairs: inputs into a :class:`Padded` ``(B, T, F)``; sequence
    targets into a ``Padded`` ``(B, T, O)``, per-sequence targets stacked ``(B, ...)``."""
    inputs, targets = zip(*items, strict=True)
    batch = Padded.from_sequences(inputs)
    if targets[0].dim() == 2:
        return batch, Padded.from_sequences(targets)
    return batch, torch.stack(targets)
