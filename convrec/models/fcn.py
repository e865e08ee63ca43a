"""The fully convolutional network for time-series classification (Wang, Yan and Oates 2017)."""

from __future__ import annotations

from torch import Tensor, nn

from convrec.checks import fail, positive_int
from convrec.models.arguments import positive_ints, sequence_features
from convrec.models.registry import register
from convrec.nn import ConvBNReLU, GlobalPool, Padded


@register(
    "fcn",
    "fully convolutional net for time series: 3 conv-BN-ReLU blocks, global average pooling",
    inputs=("sequence",),
)
class FCN(nn.Module):
    """Conv-BN-ReLU blocks ('same' padding), a global average over time, a linear head.

    Follows Wang, Yan and Oates, "Time series classification from scratch with deep neural
    networks: a strong baseline" (IJCNN 2017): three blocks of 128, 256 and 128 filters with
    kernels 8, 5 and 3, no pooling between them, so the class scores rest on features at every
    time step and the network takes any length.

    Args:
        input_shape: ``(T, F)``: steps (``None`` if they vary) and features per step.
        output_size: number of classes ``O``.
        widths: filters of each block.
        kernel_sizes: kernel of each block, one per width.

    Shape:
        input: ``(B, T, F)`` or a :class:`Padded` of it (the average then covers each sequence's
        valid steps only); output ``(B, O)`` logits.

    Example:
        >>> net = FCN((None, 3), 4, widths=(8, 8), kernel_sizes=(5, 3))
        >>> net(Padded(torch.randn(2, 9, 3), [9, 5])).shape
        torch.Size([2, 4])
    """

    def __init__(
        self,
        input_shape: tuple[int | None, ...],
        output_size: int,
        widths: tuple[int, ...] = (128, 256, 128),
        kernel_sizes: tuple[int, ...] = (8, 5, 3),
    ) -> None:
        super().__init__()
        features = sequence_features("FCN", input_shape)
        positive_int("FCN", "output_size", output_size)
        widths = positive_ints("FCN", "widths", widths)
        kernel_sizes = positive_ints("FCN", "kernel_sizes", kernel_sizes)
        if len(kernel_sizes) != len(widths):
            raise fail(
                "FCN",
                "kernel_sizes",
                f"one kernel size per width ({len(widths)})",
                repr(kernel_sizes),
            )
        channels = (features, *widths)
        self.features = nn.Sequential(
            *(
                ConvBNReLU(channels[index], width, kernel_size)
                for index, (width, kernel_size) in enumerate(zip(widths, kernel_sizes, strict=True))
            )
        )
        self.pool = GlobalPool("mean")
        self.head = nn.Linear(widths[-1], output_size)

    def forward(self, x: Tensor | Padded) -> Tensor:
        return self.head(self.pool(self.features(x)))  # (B, T, C) -> (B, C) -> (B, O)
