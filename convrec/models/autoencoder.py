"""A 1-D convolutional autoencoder: each window of a series squeezed through a narrow code and
rebuilt, so that a window unlike the training data rebuilds badly (reconstruction-error anomaly
detection)."""

from __future__ import annotations

import itertools

from torch import Tensor, nn

from convrec.checks import fail, positive_int, probability
from convrec.models.arguments import fixed_input, positive_ints, sequence_shape
from convrec.models.registry import register
from convrec.nn import Padded


@register(
    "conv-autoencoder",
    "1-D convolutional autoencoder: strided convolutions down, transposed ones up, per window",
    inputs=("sequence",),
)
class ConvAutoencoder(nn.Module):
    """Strided 1-D convolutions halve the window's length at each of ``channels``' layers
    (conv-BN-ReLU), then as many transposed convolutions double it back to the input's length;
    the last (the ``head``) gives ``output_size`` values per step with no activation. The
    layout of the Keras example "Timeseries anomaly detection using an Autoencoder" (Conv1D 32
    and 16 with stride 2, then Conv1DTranspose), with batch normalisation.

    Args:
        input_shape: ``(T, F)``, ``T`` fixed and divisible by ``2 ** len(channels)``.
        output_size: values rebuilt per step (``F`` to rebuild the input).
        channels: filters of each strided layer, outermost first; the code is
            ``(T / 2 ** len(channels), channels[-1])``.
        kernel_size: odd kernel of every convolution.
        dropout: drop rate after the first layer (and its mirror).

    Shape:
        input: ``(B, T, F)``, or a :class:`Padded` whose windows all have the full length ``T``;
        output ``(B, T, output_size)``.

    Example:
        >>> net = ConvAutoencoder((64, 1), 1, channels=(8, 4))
        >>> net(torch.randn(3, 64, 1)).shape
        torch.Size([3, 64, 1])
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        output_size: int,
        channels: tuple[int, ...] = (32, 16),
        kernel_size: int = 7,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        owner = "ConvAutoencoder"
        self.input_shape = sequence_shape(owner, input_shape, fixed_length=True)
        positive_int(owner, "output_size", output_size)
        channels = positive_ints(owner, "channels", channels)
        positive_int(owner, "kernel_size", kernel_size)
        dropout = probability(owner, "dropout", dropout)
        if kernel_size % 2 == 0:
            raise fail(owner, "kernel_size", "an odd number of steps", repr(kernel_size))
        steps, features = self.input_shape
        if steps % 2 ** len(channels):
            raise fail(
                owner,
                "input_shape",
                f"a length T divisible by 2 ** {len(channels)} (one halving per layer)",
                repr(tuple(input_shape)),
            )
        padding = kernel_size // 2
        down: list[nn.Module] = []
        for index, (before, after) in enumerate(zip((features, *channels), channels, strict=False)):
            down += [
                nn.Conv1d(before, after, kernel_size, stride=2, padding=padding, bias=False),
                nn.BatchNorm1d(after),
                nn.ReLU(),
            ]
            if index == 0 and dropout:
                down.append(nn.Dropout(dropout))
        up: list[nn.Module] = []
        mirrored = channels[::-1]
        for index, (before, after) in enumerate(itertools.pairwise(mirrored)):
            up += [
                nn.ConvTranspose1d(before, after, kernel_size, 2, padding, 1, bias=False),
                nn.BatchNorm1d(after),
                nn.ReLU(),
            ]
            if index == len(mirrored) - 2 and dropout:
                up.append(nn.Dropout(dropout))
        self.encoder, self.decoder = nn.Sequential(*down), nn.Sequential(*up)
        self.head = nn.ConvTranspose1d(channels[0], output_size, kernel_size, 2, padding, 1)

    def forward(self, x: Tensor | Padded) -> Tensor:
        if isinstance(x, Padded):
            if bool((x.lengths != x.max_length).any()):
                raise fail(
                    "ConvAutoencoder",
                    "input",
                    f"windows all of the full length {self.input_shape[0]}",
                    f"lengths from {int(x.lengths.min())} to {int(x.lengths.max())}",
                    hint="Cut the series into windows of the model's length.",
                )
            x = x.data
        x = fixed_input("ConvAutoencoder", x, self.input_shape)
        rebuilt = self.head(self.decoder(self.encoder(x.transpose(1, 2))))
        return rebuilt.transpose(1, 2)  # (B, T, O)
