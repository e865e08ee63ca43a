"""Pooling: max, min, mean, sum and Lp over windows, k-max over time, and global pooling.

Layouts follow the package convention: :class:`Pool1d` and :class:`KMaxPool1d` take sequences
``(B, T, C)``; :class:`Pool2d` and :class:`Pool3d` take ``(B, C, H, W)`` and ``(B, C, D, H, W)``.

The definition (seeds 000 and 001, "Pooling"): each output reduces one window of its input. With a
:class:`Padded` input only valid positions take part: no padded position ever wins a max or min or
counts in a mean or sum, and a window with no valid position gives 0. Output sizes follow the notes'
``ceil((N - F) / S) + 1`` by default (``ceil_mode=True``); a partial last window reduces what it
covers, and a mean divides by the number of positions it covers.

Two implementations, tested against each other: :func:`pool_windows`, written from the definition
and used for padded batches, and :func:`pool_fast`, on PyTorch's pooling kernels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.checks import fail, int_tuple, one_of, positive_float, positive_int
from convrec.errors import InvalidTypeError
from convrec.nn.conv import PaddingPairs, resolve_padding
from convrec.nn.padded import (
    Padded,
    broadcast_mask,
    require_output_lengths,
    sequence_mask,
    unwrap,
    unwrap_by_rank,
    wrap,
)
from convrec.nn.sizes import effective_kernel, pool_output_size

POOL_KINDS = ("max", "min", "mean", "sum", "lp")
_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def reduce_valid(
    values: Tensor, valid: Tensor | None, kind: str, dims: tuple[int, ...], norm_type: float = 2.0
) -> Tensor:
    """Reduce ``values`` over ``dims`` using only the positions where ``valid`` is True.

    Args:
        values: any floating tensor.
        valid: bool, broadcastable to ``values``, or None (all valid).
        kind: one of ``'max'``, ``'min'``, ``'mean'``, ``'sum'``, ``'lp'``.
        dims: the axes to reduce.
        norm_type: ``p`` of the Lp pooling ``(sum |x|^p)^(1/p)``.

    Returns:
        ``values`` reduced over ``dims``; 0 where no position was valid.
    """
    if valid is not None:
        valid = valid.expand_as(values)

    def masked(fill: float) -> Tensor:
        return values if valid is None else values.masked_fill(~valid, fill)

    if kind == "max":
        result = masked(float("-inf")).amax(dims)
    elif kind == "min":
        result = masked(float("inf")).amin(dims)
    elif kind == "lp":
        powers = values.abs().pow(norm_type)
        powers = powers if valid is None else powers.masked_fill(~valid, 0.0)
        result = lp_root(powers.sum(dims), norm_type)
    elif kind == "mean" and valid is None:
        result = values.mean(dims)
    else:
        result = masked(0.0).sum(dims)
        if kind == "mean":
            result = result / valid.sum(dims).clamp(min=1)
    if valid is None:
        return result
    return torch.where(valid.any(dims), result, result.new_zeros(()))


def lp_root(total: Tensor, norm_type: float) -> Tensor:
    """``total^(1/p)`` for a sum of ``|x|^p``, kept off 0 so that its gradient stays finite."""
    return total.clamp(min=torch.finfo(total.dtype).tiny).pow(1 / norm_type)


def pool_windows(
    x: Tensor,
    kind: str,
    kernel_size: tuple[int, ...],
    stride: tuple[int, ...],
    padding: PaddingPairs,
    dilation: tuple[int, ...],
    ceil_mode: tuple[bool, ...],
    valid: Tensor | None = None,
    norm_type: float = 2.0,
) -> Tensor:
    """Pool a channels-first input window by window, from the definition.

    Shape:
        x: ``(B, C, *spatial)``; valid: bool broadcastable to ``x`` (e.g. ``(B, 1, T)``) or None;
        output: ``(B, C, *spatial_out)`` with sizes from :func:`pool_output_size`.
    """
    dims = len(kernel_size)
    valid = torch.ones((), dtype=torch.bool, device=x.device) if valid is None else valid
    valid = valid.expand_as(x)
    sizes, pads = [], []
    for axis in range(dims):
        n, (left, _) = x.shape[2 + axis], padding[axis]
        size = pool_output_size(
            n, kernel_size[axis], stride[axis], padding[axis], dilation[axis], ceil_mode[axis]
        )
        extent = effective_kernel(kernel_size[axis], dilation[axis])
        sizes.append(size)
        # sym_max, not max: while exporting, n is symbolic and max would fix its branch
        pads.append((left, torch.sym_max((size - 1) * stride[axis] + extent - n - left, 0)))
    pad_argument = [amount for pair in reversed(pads) for amount in pair]

    def windows_of(tensor: Tensor) -> Tensor:
        """``(B, C, *spatial)`` to ``(B, C, *spatial_out, *kernel)``, one window per output."""
        for axis in range(dims):
            extent = effective_kernel(kernel_size[axis], dilation[axis])
            tensor = tensor.unfold(2 + axis, extent, stride[axis])[..., :: dilation[axis]]
            tensor = tensor.narrow(2 + axis, 0, sizes[axis])
        return tensor

    windows = windows_of(F.pad(x, pad_argument))
    valid_windows = windows_of(F.pad(valid, pad_argument, value=False))
    return reduce_valid(windows, valid_windows, kind, tuple(range(-dims, 0)), norm_type)


def pool_fast(
    x: Tensor,
    kind: str,
    kernel_size: tuple[int, ...],
    stride: tuple[int, ...],
    padding: PaddingPairs,
    dilation: tuple[int, ...],
    ceil_mode: tuple[bool, ...],
    norm_type: float = 2.0,
) -> Tensor | None:
    """Pool with PyTorch's kernels, or return None where they cannot give :func:`pool_windows`'s
    result (asymmetric or large padding, per-axis ceil modes, dilated means). Same shapes."""
    dims = len(kernel_size)
    pads = [left for left, _ in padding]
    symmetric = all(left == right for left, right in padding)
    small = all(
        2 * pad <= effective_kernel(k, d)
        for pad, k, d in zip(pads, kernel_size, dilation, strict=True)
    )
    if not (symmetric and small and len(set(ceil_mode)) == 1):
        return None
    ceil = ceil_mode[0]
    if kind in ("max", "min"):
        sign = 1 if kind == "max" else -1
        return sign * _MAX_POOL[dims](sign * x, kernel_size, stride, pads, dilation, ceil)
    if any(d != 1 for d in dilation):
        return None
    if kind == "mean":
        return _AVG_POOL[dims](x, kernel_size, stride, pads, ceil, count_include_pad=False)
    source = x if kind == "sum" else x.abs().pow(norm_type)
    if dims == 1:  # avg_pool1d has no divisor_override: pool a (B, C, 1, T) image instead.
        total = F.avg_pool2d(
            source.unsqueeze(2),
            (1, *kernel_size),
            (1, *stride),
            (0, *pads),
            ceil,
            divisor_override=1,
        ).squeeze(2)
    else:
        total = _AVG_POOL[dims](source, kernel_size, stride, pads, ceil, divisor_override=1)
    return total if kind == "sum" else lp_root(total, norm_type)


class _PoolNd(nn.Module):
    dims: int
    layout: str
    channels_last: bool

    def __init__(
        self,
        kind: str = "max",
        kernel_size: int | tuple[int, ...] = 2,
        stride: int | tuple[int, ...] | None = None,
        padding: int | str | tuple[int | str, ...] = 0,
        dilation: int | tuple[int, ...] = 1,
        ceil_mode: bool = True,
        norm_type: float = 2.0,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.kind = one_of(owner, "kind", kind, POOL_KINDS)
        self.kernel_size = int_tuple(owner, "kernel_size", kernel_size, self.dims, 1)
        self.stride = (
            self.kernel_size if stride is None else int_tuple(owner, "stride", stride, self.dims, 1)
        )
        self.dilation = int_tuple(owner, "dilation", dilation, self.dims, 1)
        self.padding = padding
        self.padding_pairs = resolve_padding(owner, padding, self.kernel_size, self.dilation)
        if not isinstance(ceil_mode, bool):
            raise fail(owner, "ceil_mode", "True or False", repr(ceil_mode), error=InvalidTypeError)
        self.ceil_mode = ceil_mode
        per_axis = padding if isinstance(padding, tuple | list) else (padding,) * self.dims
        # 'same' and 'causal' fix the output at ceil(N / S); ceil_mode only concerns int padding.
        self.ceil_per_axis = tuple(
            ceil_mode and item not in ("same", "causal") for item in per_axis
        )
        self.norm_type = positive_float(owner, "norm_type", norm_type)

    def forward(self, x: Tensor | Padded) -> Tensor | Padded:
        owner = type(self).__name__
        time_dims = (1,) if self.channels_last else tuple(range(2, 2 + self.dims))
        data, lengths, time_dim = unwrap(owner, x, self.dims + 2, self.layout, time_dims)
        if self.channels_last:
            data = data.transpose(1, 2)
        spatial_time = 2 if self.channels_last else time_dim
        self._check_spatial_size(tuple(data.shape[2:]))
        arguments = (
            self.kind,
            self.kernel_size,
            self.stride,
            self.padding_pairs,
            self.dilation,
            self.ceil_per_axis,
        )
        output = None if lengths is not None else pool_fast(data, *arguments, self.norm_type)
        if output is None:
            valid = None if lengths is None else broadcast_mask(lengths, data, spatial_time)
            output = pool_windows(data, *arguments, valid, self.norm_type)
        if self.channels_last:
            output = output.transpose(1, 2)
        if lengths is None:
            return output
        axis = spatial_time - 2
        output_lengths = pool_output_size(
            lengths,
            self.kernel_size[axis],
            self.stride[axis],
            self.padding_pairs[axis],
            self.dilation[axis],
            self.ceil_per_axis[axis],
        )
        require_output_lengths(
            owner, lengths, output_lengths, hint="Use padding='same' or a smaller window."
        )
        return wrap(output, output_lengths, time_dim)

    def _check_spatial_size(self, spatial: tuple[int, ...]) -> None:
        for axis, size in enumerate(spatial):
            output = pool_output_size(
                size,
                self.kernel_size[axis],
                self.stride[axis],
                self.padding_pairs[axis],
                self.dilation[axis],
                self.ceil_per_axis[axis],
            )
            if output < 1:
                raise fail(
                    type(self).__name__,
                    "input",
                    f"a spatial size that leaves at least one window on spatial axis {axis}",
                    f"{size} (input of spatial shape {spatial})",
                    hint="Use padding='same' or a smaller window.",
                )

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind!r}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding!r}, dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class Pool1d(_PoolNd):
    """Pooling over time for sequences, channels last.

    Args:
        kind: ``'max'``, ``'min'``, ``'mean'``, ``'sum'`` or ``'lp'``.
        kernel_size: window ``F``.
        stride: step ``S``; defaults to the window (non-overlapping windows).
        padding: an int (padded positions never count), ``'valid'``, ``'same'`` or ``'causal'``.
        dilation: spacing within a window.
        ceil_mode: the notes' ``ceil((N - F) / S) + 1`` output size (True, default) or floor.
        norm_type: ``p`` for ``kind='lp'``.

    Shape:
        input: ``(B, T, C)`` or a :class:`Padded` of it; output ``(B, T_out, C)``.

    Example:
        >>> Pool1d("max", 2)(torch.tensor([[[1.0], [3.0], [2.0]]])).flatten()
        tensor([3., 2.])
    """

    dims = 1
    layout = "(B, T, C)"
    channels_last = True


class Pool2d(_PoolNd):
    """Pooling over images, channels first; arguments as :class:`Pool1d`, per axis ``(H, W)``.

    Shape:
        input: ``(B, C, H, W)``, or a :class:`Padded` with ``time_dim`` 2 or 3; output
        ``(B, C, H_out, W_out)``.

    Example:
        >>> grid = torch.tensor([[1.0, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])
        >>> Pool2d("max", 2)(grid.view(1, 1, 4, 4)).view(2, 2)
        tensor([[6., 8.],
                [3., 4.]])
    """

    dims = 2
    layout = "(B, C, H, W)"
    channels_last = False


class Pool3d(_PoolNd):
    """Pooling over volumes, channels first; arguments as :class:`Pool1d`, per axis ``(D, H, W)``.

    Shape:
        input: ``(B, C, D, H, W)``, or a :class:`Padded` with ``time_dim`` in 2..4; output
        ``(B, C, D_out, H_out, W_out)``.

    Example:
        >>> Pool3d("mean", 2)(torch.ones(1, 1, 4, 4, 4)).shape
        torch.Size([1, 1, 2, 2, 2])
    """

    dims = 3
    layout = "(B, C, D, H, W)"
    channels_last = False


class KMaxPool1d(nn.Module):
    """Keep the ``k`` largest values of each channel over time, in their original order.

    k-max pooling over time (Kalchbrenner et al. 2014; the notes' "pooling over time"). Gradients
    flow to the selected positions only.

    Args:
        k: values kept per channel.

    Shape:
        input: ``(B, T, C)`` with ``T >= k``, or a :class:`Padded`; output ``(B, k, C)``. For a
        ``Padded`` input the output is a ``Padded`` with lengths ``min(length, k)``: a sequence
        shorter than ``k`` keeps all its values, and no padded position is ever selected.

    Example:
        >>> KMaxPool1d(2)(torch.tensor([[[1.0], [5.0], [2.0], [4.0]]])).flatten()
        tensor([5., 4.])
    """

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = positive_int("KMaxPool1d", "k", k)

    def forward(self, x: Tensor | Padded) -> Tensor | Padded:
        data, lengths, _ = unwrap("KMaxPool1d", x, 3, "(B, T, C)", (1,))
        steps = data.shape[1]
        if lengths is None and steps < self.k:
            raise fail("KMaxPool1d", "input", f"at least k={self.k} time steps", f"{steps} steps")
        scores = data
        if lengths is not None:
            valid = sequence_mask(lengths, steps).unsqueeze(-1)
            scores = data.masked_fill(~valid, float("-inf"))
        if steps < self.k:  # every sequence is shorter than k: pad so that k positions exist
            scores = F.pad(scores, (0, 0, 0, self.k - steps), value=float("-inf"))
            data = F.pad(data, (0, 0, 0, self.k - steps))
        chosen = scores.topk(self.k, dim=1).indices.sort(dim=1).values  # (B, k, C), time order
        output = data.gather(1, chosen)
        if lengths is None:
            return output
        return wrap(output, lengths.clamp(max=self.k))

    def extra_repr(self) -> str:
        return f"k={self.k}"


class GlobalPool(nn.Module):
    """Pool over all of time or space: ``(B, T, C) -> (B, C)``, ``(B, C, *spatial) -> (B, C)``.

    Args:
        kind: ``'max'``, ``'min'``, ``'mean'``, ``'sum'`` or ``'lp'``.
        norm_type: ``p`` for ``kind='lp'``.

    Shape:
        input: sequences ``(B, T, C)`` (pooled over T), or grids ``(B, C, H, W)`` /
        ``(B, C, D, H, W)`` (pooled over all spatial axes), or a :class:`Padded` of either, where
        only valid positions count: a global mean divides by the true length. Output ``(B, C)``.

    Example:
        >>> batch = Padded(torch.tensor([[[1.0], [3.0], [9.0]]]), [2])
        >>> GlobalPool("mean")(batch)
        tensor([[2.]])
    """

    def __init__(self, kind: str = "max", norm_type: float = 2.0) -> None:
        super().__init__()
        self.kind = one_of("GlobalPool", "kind", kind, POOL_KINDS)
        self.norm_type = positive_float("GlobalPool", "norm_type", norm_type)

    def forward(self, x: Tensor | Padded) -> Tensor:
        data, lengths, time_dim = unwrap_by_rank("GlobalPool", x)
        rank = data.dim()
        dims = (1,) if rank == 3 else tuple(range(2, rank))
        valid = None if lengths is None else broadcast_mask(lengths, data, time_dim)
        return reduce_valid(data, valid, self.kind, dims, self.norm_type)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"
