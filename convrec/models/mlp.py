"""The fully connected baseline: a multi-layer perceptron on the flattened input."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from convrec.checks import fail, positive_int, probability
from convrec.models.arguments import (
    boolean,
    fixed_input,
    image_or_sequence_shape,
    positive_ints,
)
from convrec.models.registry import register
from convrec.nn import Padded


@register(
    "mlp",
    "Fully connected baseline on the flattened input (shift-variant, fixed-size input)",
    inputs=("image", "sequence"),
)
class MLP(nn.Module):
    """Multi-layer perceptron on the flattened input: the notes' fully connected baseline.

    Hidden layers ``Linear -> [BatchNorm] -> ReLU -> [Dropout]`` trained by back-propagation
    (Rumelhart, Hinton and Williams 1986), with ReLU, dropout (Srivastava et al. 2014) and batch
    normalisation (Ioffe and Szegedy 2015) as modern MLPs have them. Seed 001 ("Shift Invariance
    Problem") uses this model to motivate convolutions: every input position has its own weights,
    so a pattern moved by one step is a new input to learn (shift variance), and the input size is
    fixed when the model is built.

    Args:
        input_shape: ``(C, H, W)`` for images or ``(T, F)`` for sequences, every size fixed:
            ``T=None`` is refused.
        output_size: number of outputs ``O``.
        hidden_sizes: units of each hidden layer, in order.
        dropout: drop rate after each hidden layer's ReLU.
        batch_norm: normalise each hidden layer's pre-activations.

    Shape:
        input: ``(B, C, H, W)`` or ``(B, T, F)`` as ``input_shape``, or a :class:`Padded` whose
        sequences all have the full length ``T``; output ``(B, O)``.

    Example:
        >>> mlp = MLP((50, 3), 2, hidden_sizes=(16,))
        >>> mlp(torch.randn(4, 50, 3)).shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        output_size: int,
        hidden_sizes: tuple[int, ...] = (256, 128),
        dropout: float = 0.2,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        self.input_shape = image_or_sequence_shape("MLP", input_shape, fixed_size=True)
        positive_int("MLP", "output_size", output_size)
        hidden_sizes = positive_ints("MLP", "hidden_sizes", hidden_sizes)
        dropout = probability("MLP", "dropout", dropout)
        boolean("MLP", "batch_norm", batch_norm)
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(self.input_shape)
        for hidden_size in hidden_sizes:
            layers.append(nn.Linear(width, hidden_size, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden_size))
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = hidden_size
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, output_size)

    def forward(self, x: Tensor | Padded) -> Tensor:
        if isinstance(x, Padded):
            exporting = torch.compiler.is_exporting()  # lengths are symbolic, not checked
            if not exporting and bool((x.lengths != x.max_length).any()):
                raise fail(
                    "MLP",
                    "input",
                    "sequences all of the full length (the MLP needs fixed-size input)",
                    f"lengths from {int(x.lengths.min())} to {int(x.lengths.max())} in a batch "
                    f"padded to {x.max_length}",
                    hint="Pad or crop every sequence to one length, or use a convolutional or "
                    "recurrent model.",
                )
            x = x.data
        x = fixed_input("MLP", x, self.input_shape)
        return self.head(self.features(x))  # (B, O)
