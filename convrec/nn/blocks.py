"""Building blocks the notes use: conv-batchnorm-ReLU, the VGG block and the residual block.

Each block works on sequences ``(B, T, C)`` (``dims=1``), images ``(B, C, H, W)`` (``dims=2``) or
volumes (``dims=3``), and on :class:`Padded` batches, where convolutions zero the padding and batch
normalisation takes its statistics from valid positions only.
"""

from __future__ import annotations

from torch import Tensor, nn

from convrec.checks import fail, positive_int
from convrec.nn.conv import Conv1d, Conv2d, Conv3d
from convrec.nn.norm import BatchNorm
from convrec.nn.padded import Padded, wrap
from convrec.nn.pointwise import Pointwise
from convrec.nn.pool import Pool1d, Pool2d, Pool3d

_CONVS = {1: Conv1d, 2: Conv2d, 3: Conv3d}
_POOLS = {1: Pool1d, 2: Pool2d, 3: Pool3d}


def _dims(owner: str, dims: object) -> int:
    if dims not in _CONVS:
        raise fail(owner, "dims", "1, 2 or 3", repr(dims))
    return dims  # type: ignore[return-value]


class ConvBNReLU(nn.Sequential):
    """Convolution (no bias), batch normalisation, ReLU: the basic block of the notes' modern CNNs.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: kernel taps per axis.
        stride: step per axis.
        padding: as for :class:`convrec.nn.Conv1d`; ``'same'`` by default.
        dilation: spacing between taps.
        dims: 1 for sequences, 2 for images, 3 for volumes.

    Shape:
        input: ``(B, T, C_in)`` for ``dims=1``, ``(B, C_in, *spatial)`` otherwise, or a
        :class:`Padded`; output with ``out_channels`` channels.

    Example:
        >>> ConvBNReLU(3, 8, dims=2)(torch.randn(2, 3, 8, 8)).shape
        torch.Size([2, 8, 8, 8])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | str = "same",
        dilation: int = 1,
        dims: int = 1,
    ) -> None:
        conv = _CONVS[_dims("ConvBNReLU", dims)]
        super().__init__(
            conv(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
                dilation,
                bias=False,
                init="kaiming",
            ),
            BatchNorm(out_channels),
            Pointwise(nn.ReLU()),
        )


class VGGBlock(nn.Sequential):
    """VGG block (Simonyan and Zisserman 2015): 3x3 'same' convolutions with ReLU, 2x2 pooling.

    Args:
        in_channels: input channels.
        out_channels: channels of every convolution.
        num_convs: convolutions before the pooling.
        dims: 1, 2 or 3.
        batch_norm: put batch normalisation after each convolution.
        pool: pooling kind (``'max'`` in VGG).

    Shape:
        input: as :class:`ConvBNReLU`; output with ``out_channels`` channels and each spatial
        size halved (rounded up).

    Example:
        >>> VGGBlock(3, 16, dims=2)(torch.randn(1, 3, 32, 32)).shape
        torch.Size([1, 16, 16, 16])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_convs: int = 2,
        dims: int = 2,
        batch_norm: bool = True,
        pool: str = "max",
    ) -> None:
        dims = _dims("VGGBlock", dims)
        positive_int("VGGBlock", "num_convs", num_convs)
        layers: list[nn.Module] = []
        for index in range(num_convs):
            channels = in_channels if index == 0 else out_channels
            if batch_norm:
                layers.append(ConvBNReLU(channels, out_channels, dims=dims))
            else:
                layers += [
                    _CONVS[dims](channels, out_channels, 3, padding="same"),
                    Pointwise(nn.ReLU()),
                ]
        layers.append(_POOLS[dims](pool, 2))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """The basic residual block of He et al. 2015: ``relu(F(x) + shortcut(x))``.

    ``F`` is conv-BN-ReLU then conv-BN, both 'same' and the first with ``stride``; the shortcut is
    the identity, or a strided 1x1 convolution with batch normalisation when the shape changes.
    'same' padding centres output ``i`` on input ``i * stride`` in both paths, so they stay
    aligned for any input size.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: downsampling step of the block.
        kernel_size: taps of the two convolutions.
        dims: 1, 2 or 3.

    Shape:
        input: as :class:`ConvBNReLU`; output with ``out_channels`` channels and spatial sizes
        ``ceil(N / stride)`` (lengths too, for a :class:`Padded`).

    Example:
        >>> ResidualBlock(8, 16, stride=2, dims=1)(torch.randn(2, 50, 8)).shape
        torch.Size([2, 25, 16])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        kernel_size: int = 3,
        dims: int = 1,
    ) -> None:
        super().__init__()
        dims = _dims("ResidualBlock", dims)
        conv = _CONVS[dims]
        self.residual = nn.Sequential(
            ConvBNReLU(in_channels, out_channels, kernel_size, stride, dims=dims),
            conv(
                out_channels, out_channels, kernel_size, padding="same", bias=False, init="kaiming"
            ),
            BatchNorm(out_channels),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                conv(
                    in_channels, out_channels, 1, stride, padding="same", bias=False, init="kaiming"
                ),
                BatchNorm(out_channels),
            )

    def forward(self, x: Tensor | Padded) -> Tensor | Padded:
        return add_relu(self.residual(x), self.shortcut(x))


def add_relu(residual: Tensor | Padded, shortcut: Tensor | Padded) -> Tensor | Padded:
    """``relu(residual + shortcut)``, the join of a residual block; a :class:`Padded` keeps its
    lengths and zero padding.

    Example:
        >>> add_relu(torch.tensor([1.0, -3.0]), torch.tensor([1.0, 1.0]))
        tensor([2., 0.])
    """
    if isinstance(residual, Padded):
        total = residual.data + shortcut.data  # type: ignore[union-attr]
        return wrap(total.relu(), residual.lengths, residual.time_dim)
    return (residual + shortcut).relu()  # type: ignore[operator]
