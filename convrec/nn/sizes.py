"""Output sizes and padding, one axis at a time, as pure functions of ints or integer tensors.

The notes' formulas for the output size of a convolution and of pooling:

    convolution:  W2 = (W1 + 2P - F) / S + 1          (rounded down)
    pooling:      W2 = ceil((N - F) / S) + 1

with F the effective kernel extent ``dilation * (kernel - 1) + 1``. Padding is a pair
``(left, right)`` per axis, resolved from an int or from a mode:

- ``'valid'``: no padding.
- ``'same'``: ``F - 1`` zeros split as ``left = (F - 1) // 2``, the rest on the right, for any
  stride. The output has ``ceil(W1 / S)`` positions and output ``i`` is centred on input ``i * S``,
  whatever ``W1`` is. (TensorFlow instead splits padding by ``W1`` when ``S > 1``, which shifts
  every window with the input length; convrec's split is what keeps padded batches exact.)
- ``'causal'``: ``F - 1`` zeros on the left only; output ``i`` sees inputs ``<= i * S``.
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import Tensor

from convrec.checks import fail

PADDING_MODES = ("valid", "same", "causal")

Size = TypeVar("Size", int, Tensor)
Padding = int | str | tuple[int, int]


def effective_kernel(kernel_size: int, dilation: int = 1) -> int:
    """The extent ``F`` covered by a dilated kernel: ``dilation * (kernel_size - 1) + 1``."""
    return dilation * (kernel_size - 1) + 1


def padding_pair(padding: Padding, kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """Resolve one axis's padding (int, mode or explicit ``(left, right)``) to ``(left, right)``."""
    if isinstance(padding, tuple):
        return padding
    if isinstance(padding, int):
        return padding, padding
    total = effective_kernel(kernel_size, dilation) - 1
    if padding == "valid":
        return 0, 0
    if padding == "same":
        return total // 2, total - total // 2
    if padding == "causal":
        return total, 0
    raise fail("padding_pair", "padding", f"an integer or one of {PADDING_MODES}", repr(padding))


def conv_output_size(
    n: Size, kernel_size: int, stride: int = 1, padding: Padding = 0, dilation: int = 1
) -> Size:
    """Output length of a convolution along one axis: ``floor((n + 2P - F) / S) + 1``.

    Args:
        n: input length, an int or an integer tensor of lengths.
        kernel_size: kernel taps along the axis.
        stride: step between windows.
        padding: int ``P`` (both sides), ``'valid'``, ``'same'``, ``'causal'`` or ``(left, right)``.
        dilation: spacing between taps.

    Example:
        >>> conv_output_size(10, 3)  # the notes' 1D example: 8 outputs
        8
        >>> conv_output_size(10, 3, stride=2, padding="same")
        5
    """
    left, right = padding_pair(padding, kernel_size, dilation)
    return (n + left + right - effective_kernel(kernel_size, dilation)) // stride + 1


def pool_output_size(
    n: Size,
    kernel_size: int,
    stride: int | None = None,
    padding: Padding = 0,
    dilation: int = 1,
    ceil_mode: bool = True,
) -> Size:
    """Output length of pooling along one axis: ``ceil((n + 2P - F) / S) + 1`` (the notes' formula).

    With ``ceil_mode=False`` the division rounds down (PyTorch's and Keras' default). A last window
    that would start beyond the input (possible only when ``S > F``) is dropped, as PyTorch does.
    With ``'same'`` or ``'causal'`` padding the output length is ``ceil(n / S)`` in either mode.

    Example:
        >>> pool_output_size(4, 2)  # the notes' 4x4 grid with 2x2 windows, stride 2
        2
        >>> pool_output_size(5, 2)  # the last window is partial
        3
    """
    stride = kernel_size if stride is None else stride
    if isinstance(padding, str) and padding != "valid":
        return conv_output_size(n, kernel_size, stride, padding, dilation)
    left, right = padding_pair(padding, kernel_size, dilation)
    span = n + left + right - effective_kernel(kernel_size, dilation)
    if not ceil_mode:
        return span // stride + 1
    # ceil(span / stride) without a negative floor division, which ONNX's integer Div (it
    # truncates) would turn into a wrong size in an exported graph
    size = (span + stride - 1) // stride + 1
    starts_outside = (size - 1) * stride >= n + left
    if isinstance(starts_outside, Tensor):
        return size - starts_outside.to(size.dtype)
    if isinstance(starts_outside, torch.SymBool):  # while exporting: no branch on the size
        beyond = (size - 1) * stride - (n + left)  # >= 0 when the last window starts outside
        return size - torch.sym_min(torch.sym_max(beyond + 1, 0), 1)
    return size - int(starts_outside)
