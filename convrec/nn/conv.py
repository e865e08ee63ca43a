"""Convolution over 1, 2 or 3 spatial axes, with padding modes for any stride and padded batches.

Layouts follow the package convention: sequences ``(B, T, C)`` for :class:`Conv1d`, grids
``(B, C, H, W)`` and ``(B, C, D, H, W)`` for :class:`Conv2d` and :class:`Conv3d`.

Two implementations of the same operation, tested against each other:

- :func:`convolve`, the fast path, on ``torch.nn.functional.conv{1,2,3}d``;
- :func:`convolve_reference`, the notes' definition of discrete convolution: every output
  is the dot product of the kernel with one window of the zero-padded input,
  ``y[o, i] = b[o] + sum_{c, k} w[o, c, k] * x[c, i * S + k * D - P]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.checks import fail, int_tuple, one_of, positive_int
from convrec.nn.checks import channels, parameter_dtype
from convrec.nn.init import CONV_SCHEMES, init_conv_
from convrec.nn.padded import Padded, require_output_lengths, unwrap, wrap, zero_padding
from convrec.nn.sizes import PADDING_MODES, conv_output_size, padding_pair

PaddingPairs = tuple[tuple[int, int], ...]
_FUNCTIONAL = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def resolve_padding(
    owner: str, padding: object, kernel_size: tuple[int, ...], dilation: tuple[int, ...]
) -> PaddingPairs:
    """Turn a layer's ``padding`` (int, mode, or a tuple of one int or mode per axis) into pairs."""
    dims = len(kernel_size)
    per_axis = padding if isinstance(padding, tuple | list) else (padding,) * dims
    expected = f"an integer >= 0, one of {PADDING_MODES}, or a tuple of {dims} of those"
    if len(per_axis) != dims or not all(
        (isinstance(item, int) and not isinstance(item, bool) and item >= 0)
        or item in PADDING_MODES
        for item in per_axis
    ):
        raise fail(owner, "padding", expected, repr(padding))
    return tuple(
        padding_pair(item, k, d) for item, k, d in zip(per_axis, kernel_size, dilation, strict=True)
    )


def convolve(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple[int, ...],
    padding: PaddingPairs,
    dilation: tuple[int, ...],
    groups: int = 1,
) -> Tensor:
    """Fast convolution of a channels-first input.

    Shape:
        x: ``(B, C_in, *spatial)``; weight: ``(C_out, C_in / groups, *kernel)``;
        output: ``(B, C_out, *spatial_out)``.
    """
    conv = _FUNCTIONAL[len(stride)]
    if all(left == right for left, right in padding):
        return conv(x, weight, bias, stride, [left for left, _ in padding], dilation, groups)
    return conv(F.pad(x, _pad_argument(padding)), weight, bias, stride, 0, dilation, groups)


def convolve_reference(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple[int, ...],
    padding: PaddingPairs,
    dilation: tuple[int, ...],
    groups: int = 1,
) -> Tensor:
    """The convolution written from its definition: a dot product with each window. Same shapes
    as :func:`convolve`."""
    dims = len(stride)
    windows = F.pad(x, _pad_argument(padding))
    for axis in range(dims):
        extent = dilation[axis] * (weight.shape[2 + axis] - 1) + 1
        windows = windows.unfold(2 + axis, extent, stride[axis])
        windows = windows[..., :: dilation[axis]]
    # windows: (B, C_in, *spatial_out, *kernel); split channels into groups.
    batch, channels = windows.shape[:2]
    windows = windows.reshape(batch, groups, channels // groups, *windows.shape[2:])
    kernel = weight.reshape(groups, weight.shape[0] // groups, *weight.shape[1:])
    spatial, taps = "ijk"[:dims], "IJK"[:dims]  # output positions and kernel taps per axis
    output = torch.einsum(f"zgc{spatial}{taps},goc{taps}->zgo{spatial}", windows, kernel).reshape(
        batch, weight.shape[0], *windows.shape[3 : 3 + dims]
    )
    if bias is not None:
        output = output + bias.view(1, -1, *([1] * dims))
    return output


def _pad_argument(padding: PaddingPairs) -> list[int]:
    """``F.pad`` wants pairs for the last axis first."""
    return [amount for pair in reversed(padding) for amount in pair]


class _ConvNd(nn.Module):
    dims: int
    layout: str
    channels_last: bool

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | str | tuple[int | str, ...] = "valid",
        dilation: int | tuple[int, ...] = 1,
        groups: int = 1,
        bias: bool = True,
        init: str = "torch",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_channels = positive_int(owner, "in_channels", in_channels)
        self.out_channels = positive_int(owner, "out_channels", out_channels)
        self.groups = positive_int(owner, "groups", groups)
        if in_channels % groups or out_channels % groups:
            raise fail(
                owner,
                "groups",
                "a divisor of both in_channels and out_channels",
                f"groups={groups} with in_channels={in_channels}, out_channels={out_channels}",
            )
        self.kernel_size = int_tuple(owner, "kernel_size", kernel_size, self.dims, 1)
        self.stride = int_tuple(owner, "stride", stride, self.dims, 1)
        self.dilation = int_tuple(owner, "dilation", dilation, self.dims, 1)
        self.padding = padding
        self.padding_pairs = resolve_padding(owner, padding, self.kernel_size, self.dilation)
        self.init = one_of(owner, "init", init, CONV_SCHEMES)
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels // groups, *self.kernel_size)
        )
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        init_conv_(self.weight, self.bias, init)

    def forward(self, x: Tensor | Padded) -> Tensor | Padded:
        owner = type(self).__name__
        time_dims = (1,) if self.channels_last else tuple(range(2, 2 + self.dims))
        data, lengths, time_dim = unwrap(owner, x, self.dims + 2, self.layout, time_dims)
        channel_axis = -1 if self.channels_last else 1
        channels(owner, data, channel_axis, self.in_channels, self.layout)
        parameter_dtype(owner, data, self.weight)
        spatial = data.shape[1:-1] if self.channels_last else data.shape[2:]
        self._check_spatial_size(tuple(spatial))
        data = zero_padding(data, lengths, time_dim)
        if self.channels_last:
            data = data.transpose(1, 2)
        output = convolve(
            data,
            self.weight,
            self.bias,
            self.stride,
            self.padding_pairs,
            self.dilation,
            self.groups,
        )
        if self.channels_last:
            output = output.transpose(1, 2)
        if lengths is None:
            return output
        axis = 0 if self.channels_last else time_dim - 2
        output_lengths = conv_output_size(
            lengths,
            self.kernel_size[axis],
            self.stride[axis],
            self.padding_pairs[axis],
            self.dilation[axis],
        )
        require_output_lengths(
            owner, lengths, output_lengths, hint="Use padding='same' or a smaller kernel."
        )
        return wrap(output, output_lengths, time_dim)

    def _check_spatial_size(self, spatial: tuple[int, ...]) -> None:
        for axis, size in enumerate(spatial):
            output = conv_output_size(
                size,
                self.kernel_size[axis],
                self.stride[axis],
                self.padding_pairs[axis],
                self.dilation[axis],
            )
            if output < 1:
                raise fail(
                    type(self).__name__,
                    "input",
                    f"a spatial size of at least {size - output + 1} on spatial axis {axis}",
                    f"{size} (input of spatial shape {spatial})",
                    hint="Use padding='same' or a smaller kernel.",
                )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding!r}, dilation={self.dilation}, "
            f"groups={self.groups}, bias={self.bias is not None}"
        )


class Conv1d(_ConvNd):
    """1D convolution over sequences, channels last.

    Args:
        in_channels: input features ``C_in``.
        out_channels: number of filters, the output channels ``C_out``.
        kernel_size: taps ``F``.
        stride: step ``S`` between windows.
        padding: ``'valid'`` (default), ``'same'``, ``'causal'`` or an int, for any stride.
        dilation: spacing between taps.
        groups: split channels into this many independent groups.
        bias: add a learned bias per output channel.
        init: ``'torch'``, ``'kaiming'`` or ``'xavier'`` (see :mod:`convrec.nn.init`).

    Shape:
        input: ``(B, T, C_in)`` or a :class:`Padded` of it; output: ``(B, T_out, C_out)``, with
        ``T_out = floor((T + 2P - F) / S) + 1`` and, for a ``Padded``, each length mapped the same
        way. Positions beyond each length are zeroed before the convolution, so a sequence's
        output never depends on the padding around it.

    Example:
        >>> conv = Conv1d(4, 8, kernel_size=3, padding="same")
        >>> conv(torch.randn(2, 10, 4)).shape
        torch.Size([2, 10, 8])
    """

    dims = 1
    layout = "(B, T, C)"
    channels_last = True


class Conv2d(_ConvNd):
    """2D convolution over images or spectrograms, channels first.

    Arguments as :class:`Conv1d`, per axis ``(H, W)``.

    Shape:
        input: ``(B, C_in, H, W)``, or a :class:`Padded` whose ``time_dim`` (2 or 3) is the
        variable axis (e.g. time in a ``(B, C, F, T)`` spectrogram); output
        ``(B, C_out, H_out, W_out)`` by the same formula on each axis.

    Example:
        >>> Conv2d(3, 6, kernel_size=5)(torch.randn(1, 3, 32, 32)).shape
        torch.Size([1, 6, 28, 28])
    """

    dims = 2
    layout = "(B, C, H, W)"
    channels_last = False


class Conv3d(_ConvNd):
    """3D convolution over volumes or videos, channels first.

    Arguments as :class:`Conv1d`, per axis ``(D, H, W)``.

    Shape:
        input: ``(B, C_in, D, H, W)``, or a :class:`Padded` with ``time_dim`` in 2..4; output
        ``(B, C_out, D_out, H_out, W_out)``.

    Example:
        >>> Conv3d(1, 2, kernel_size=3, padding="same")(torch.randn(1, 1, 4, 5, 6)).shape
        torch.Size([1, 2, 4, 5, 6])
    """

    dims = 3
    layout = "(B, C, D, H, W)"
    channels_last = False
