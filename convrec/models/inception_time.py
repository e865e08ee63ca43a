"""InceptionTime for time-series classification (Ismail Fawaz et al. 2020)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from convrec.checks import fail, positive_int
from convrec.models.arguments import positive_ints, sequence_features
from convrec.models.registry import register
from convrec.nn import BatchNorm, Conv1d, GlobalPool, Padded, Pointwise, Pool1d
from convrec.nn.blocks import add_relu


def _concatenate_channels(outputs: list[Tensor | Padded]) -> Tensor | Padded:
    """Branch outputs ``(B, T, C_i)`` joined along channels into ``(B, T, sum C_i)``."""
    first = outputs[0]
    if isinstance(first, Padded):
        joined = torch.cat([output.data for output in outputs], dim=-1)  # type: ignore[union-attr]
        return Padded.trusted(joined, first.lengths, first.time_dim)
    return torch.cat(outputs, dim=-1)  # type: ignore[arg-type]


class InceptionModule(nn.Module):
    """One Inception module for series: a 1x1 bottleneck, parallel 'same' convolutions of
    several widths on it, a max-pool-then-1x1 branch on the input, their outputs stacked along
    channels, batch normalisation and ReLU.

    ``y = relu(BN([w_1 * b(x); ...; w_k * b(x); v * maxpool_3(x)]))`` with ``b`` the bottleneck
    (omitted for a single input channel, as in the paper), ``*`` a convolution over time.

    Args:
        in_channels: input channels ``C_in``.
        filters: channels of each branch; the output has ``filters * (len(kernel_sizes) + 1)``.
        kernel_sizes: taps of the parallel convolutions.
        bottleneck: channels of the 1x1 bottleneck.

    Shape:
        input: ``(B, T, C_in)`` or a :class:`Padded` of it; output ``(B, T, C_out)``, the same
        lengths.

    Example:
        >>> InceptionModule(3, filters=4, kernel_sizes=(5, 3))(torch.randn(2, 10, 3)).shape
        torch.Size([2, 10, 12])
    """

    def __init__(
        self,
        in_channels: int,
        filters: int = 32,
        kernel_sizes: tuple[int, ...] = (40, 20, 10),
        bottleneck: int = 32,
    ) -> None:
        super().__init__()
        positive_int("InceptionModule", "in_channels", in_channels)
        positive_int("InceptionModule", "filters", filters)
        positive_int("InceptionModule", "bottleneck", bottleneck)
        kernel_sizes = positive_ints("InceptionModule", "kernel_sizes", kernel_sizes)
        narrow = bottleneck if in_channels > 1 else in_channels
        self.bottleneck: nn.Module = (
            Conv1d(in_channels, bottleneck, 1, bias=False, init="kaiming")
            if in_channels > 1
            else nn.Identity()
        )
        self.branches = nn.ModuleList(
            Conv1d(narrow, filters, size, padding="same", bias=False, init="kaiming")
            for size in kernel_sizes
        )
        self.pool = nn.Sequential(
            Pool1d("max", 3, stride=1, padding="same"),
            Conv1d(in_channels, filters, 1, bias=False, init="kaiming"),
        )
        self.out_channels = filters * (len(kernel_sizes) + 1)
        self.activation = nn.Sequential(BatchNorm(self.out_channels), Pointwise(nn.ReLU()))

    def forward(self, x: Tensor | Padded) -> Tensor | Padded:
        narrowed = self.bottleneck(x)
        branches = [branch(narrowed) for branch in self.branches] + [self.pool(x)]
        return self.activation(_concatenate_channels(branches))


@register(
    "inception-time",
    "InceptionTime (Ismail Fawaz et al. 2020): Inception modules with shortcuts, global average",
    inputs=("sequence",),
)
class InceptionTime(nn.Module):
    """One InceptionTime network: Inception modules with a residual shortcut around every
    three, a global average over time and a linear head.

    Follows Ismail Fawaz, Lucas, Forestier, Pelletier, Schmidt, Weber, Webb, Idoumghar, Muller
    and Petitjean, "InceptionTime: finding AlexNet for time series classification" (Data Mining
    and Knowledge Discovery, 2020): six modules of four 32-channel branches (convolutions of 40,
    20 and 10 taps after a 32-channel bottleneck, and a max pool of 3 then a 1x1 convolution),
    shortcuts ``relu(x_{3k+3} + BN(u * x_{3k}))`` with ``u`` a 1x1 convolution. The paper's
    classifier is an ensemble of five such networks from different initialisations; train five
    seeds and average their probabilities (``convrec evaluate RUN1 ... RUN5``).

    Args:
        input_shape: ``(T, F)``: steps (``None`` if they vary) and features per step.
        output_size: number of classes ``O``.
        depth: Inception modules; a shortcut closes every ``residual_every`` of them.
        filters: channels of each branch.
        kernel_sizes: taps of the parallel convolutions.
        bottleneck: channels of each module's 1x1 bottleneck.
        residual_every: modules spanned by each shortcut.

    Shape:
        input: ``(B, T, F)`` or a :class:`Padded` of it (the average then covers each sequence's
        valid steps only); output ``(B, O)`` logits.

    Example:
        >>> net = InceptionTime((None, 2), 3, depth=2, filters=4, residual_every=1)
        >>> net(Padded(torch.randn(2, 12, 2), [12, 7])).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        input_shape: tuple[int | None, ...],
        output_size: int,
        depth: int = 6,
        filters: int = 32,
        kernel_sizes: tuple[int, ...] = (40, 20, 10),
        bottleneck: int = 32,
        residual_every: int = 3,
    ) -> None:
        super().__init__()
        features = sequence_features("InceptionTime", input_shape)
        positive_int("InceptionTime", "output_size", output_size)
        positive_int("InceptionTime", "depth", depth)
        positive_int("InceptionTime", "filters", filters)
        positive_int("InceptionTime", "bottleneck", bottleneck)
        positive_int("InceptionTime", "residual_every", residual_every)
        kernel_sizes = positive_ints("InceptionTime", "kernel_sizes", kernel_sizes)
        if depth % residual_every:
            raise fail(
                "InceptionTime",
                "depth",
                f"a multiple of residual_every ({residual_every})",
                repr(depth),
            )
        self.blocks = nn.ModuleList()
        self.shortcuts = nn.ModuleList()
        channels = features
        for index in range(depth):
            module = InceptionModule(channels, filters, kernel_sizes, bottleneck)
            self.blocks.append(module)
            channels = module.out_channels
            if (index + 1) % residual_every == 0:
                start = features if index + 1 == residual_every else channels
                self.shortcuts.append(
                    nn.Sequential(
                        Conv1d(start, channels, 1, bias=False, init="kaiming"),
                        BatchNorm(channels),
                    )
                )
        self.residual_every = residual_every
        self.pool = GlobalPool("mean")
        self.head = nn.Linear(channels, output_size)

    def forward(self, x: Tensor | Padded) -> Tensor:
        shortcut_input = x
        for index, module in enumerate(self.blocks):
            x = module(x)
            if (index + 1) % self.residual_every == 0:
                shortcut = self.shortcuts[index // self.residual_every](shortcut_input)
                x = add_relu(x, shortcut)
                shortcut_input = x
        return self.head(self.pool(x))  # (B, T, C) -> (B, C) -> (B, O)
