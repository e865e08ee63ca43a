"""Receptive fields: how many input samples (or pixels) each layer's outputs see, and how far apart.

Seed 001, "Distributing the Convolution": two 3x3 layers, the first with stride 3, give each output
of the second a 9x9 window of the image, with 18 weights instead of 81. Per spatial axis, a layer
with kernel ``k``, dilation ``d`` and stride ``s`` maps its input's field ``(jump, size)`` to

    size_out = size_in + d * (k - 1) * jump_in        jump_out = jump_in * s

starting from ``(1, 1)`` at the input: ``jump`` is the product of strides (input samples between
adjacent outputs) and ``size`` the extent of input each output depends on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from convrec.checks import describe, fail
from convrec.errors import InvalidTypeError
from convrec.nn.conv import _ConvNd
from convrec.nn.padded import Padded
from convrec.nn.pool import GlobalPool, KMaxPool1d, _PoolNd
from convrec.nn.recurrent import Recurrent

_TORCH_WINDOWED = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
)
_WHOLE_INPUT = (Recurrent, GlobalPool, KMaxPool1d, nn.RNNBase)


@dataclass(frozen=True)
class LayerField:
    """The receptive field of one layer's outputs, per spatial axis.

    Attributes:
        name: the layer's qualified name in the model (``'features.0'``).
        layer: its class name.
        output_shape: shape of its output for the example input.
        jump: input samples between adjacent outputs, per axis; None after a layer with no
            spatial axis left (global pooling).
        size: input samples each output depends on, per axis; None when every output depends on
            the whole input (recurrent layers, global and k-max pooling, and all layers after them).
    """

    name: str
    layer: str
    output_shape: tuple[int, ...]
    jump: tuple[int, ...] | None
    size: tuple[int, ...] | None


@dataclass(frozen=True)
class _Field:
    jump: tuple[int, ...] | None
    size: tuple[int, ...] | None


def receptive_field(
    model: nn.Module, input_shape: Sequence[int] | Tensor | Padded
) -> list[LayerField]:
    """Jump and receptive-field size of every convolution, pooling and recurrent layer of ``model``.

    Runs ``model`` once on an example input and follows the data through the autograd graph, so
    branches (residual shortcuts) and functional operations between layers are accounted for: a
    layer's input field is the widest of the fields that reach it. Position-wise layers
    (activations, normalisation) leave the field unchanged. A layer with fewer spatial axes than
    its input's field (a 1D layer after a 2D one, with a reshape between) continues from the last
    axes, where convrec keeps time in spectrograms ``(B, C, F, T)``.

    Args:
        model: any module. Counted layers: convrec's convolutions, pooling (windowed, k-max,
            global) and recurrent layers, and ``torch.nn``'s ``Conv1d``-``Conv3d``,
            ``MaxPool1d``-``3d``, ``AvgPool1d``-``3d``, ``RNN``, ``LSTM`` and ``GRU``; every
            other module counts as position-wise.
        input_shape: the input's shape (a zero float tensor is used), or an example input.

    Returns:
        One :class:`LayerField` per call of a counted layer, in execution order.

    Example:
        >>> model = nn.Sequential(Conv2d(1, 1, 3, stride=3), Conv2d(1, 1, 3))
        >>> [(row.jump, row.size) for row in receptive_field(model, (1, 1, 27, 27))]
        [((3, 3), (3, 3)), ((3, 3), (9, 9))]
    """
    example = _example(input_shape)
    names = {module: name for name, module in model.named_modules()}
    recorded: dict[object, _Field] = {}
    rows: list[LayerField] = []

    def hook(module: nn.Module, inputs: tuple, output: object) -> None:
        incoming = _field_reaching(inputs[0], recorded)
        field = _apply(module, incoming)
        data = output[0] if isinstance(output, tuple) else output
        data = data.data if isinstance(data, Padded) else data
        if isinstance(data, Tensor) and data.grad_fn is not None:
            recorded[data.grad_fn] = field
        shape = tuple(data.shape) if isinstance(data, Tensor) else ()
        rows.append(
            LayerField(names.get(module, ""), type(module).__name__, shape, field.jump, field.size)
        )

    handles = [
        module.register_forward_hook(hook)
        for module in model.modules()
        if isinstance(module, (_ConvNd, _PoolNd, *_TORCH_WINDOWED, *_WHOLE_INPUT))
    ]
    try:
        with torch.enable_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    return rows


def _example(input_shape: Sequence[int] | Tensor | Padded) -> Tensor | Padded:
    if isinstance(input_shape, Padded):
        data = input_shape.data
        if torch.is_floating_point(data):
            data = data.detach().requires_grad_()
        return Padded.trusted(data, input_shape.lengths, input_shape.time_dim)
    if isinstance(input_shape, Tensor):
        return (
            input_shape.detach().requires_grad_()
            if torch.is_floating_point(input_shape)
            else input_shape
        )
    if not isinstance(input_shape, Sequence) or not all(
        isinstance(size, int) and size > 0 for size in input_shape
    ):
        raise fail(
            "receptive_field",
            "input_shape",
            "a sequence of positive ints, a tensor or a Padded",
            describe(input_shape),
            error=InvalidTypeError,
        )
    return torch.zeros(tuple(input_shape), requires_grad=True)


def _field_reaching(value: object, recorded: dict[object, _Field]) -> _Field | None:
    """The widest field among the recorded layer outputs (or the model input) that ``value``
    was computed from; None when it comes from the input directly."""
    data = value.data if isinstance(value, Padded) else value
    if not isinstance(data, Tensor) or data.grad_fn is None:
        return None
    found: list[_Field] = []
    stack, seen = [data.grad_fn], set()
    while stack:
        node = stack.pop()
        if node in recorded:
            found.append(recorded[node])
        elif node not in seen:
            seen.add(node)
            stack.extend(following for following, _ in node.next_functions if following is not None)
    return _widest(found)


def _widest(fields: list[_Field]) -> _Field | None:
    """Per axis, the largest jump and size among ``fields``."""
    if not fields:
        return None
    jumps = [field.jump for field in fields if field.jump is not None]
    jump = tuple(map(max, zip(*jumps, strict=False))) if jumps else None
    if any(field.size is None for field in fields):
        return _Field(jump, None)
    return _Field(jump, tuple(map(max, zip(*(field.size for field in fields), strict=False))))


def _apply(module: nn.Module, incoming: _Field | None) -> _Field:
    """The field of ``module``'s output given its input's."""
    if isinstance(module, _WHOLE_INPUT):
        keeps_time = isinstance(module, (Recurrent, nn.RNNBase)) and getattr(
            module, "return_sequences", True
        )
        jump = incoming.jump if incoming is not None and keeps_time else None
        return _Field(jump, None)
    kernel, stride, dilation = _geometry(module)
    dims = len(kernel)
    if incoming is None:
        incoming = _Field((1,) * dims, (1,) * dims)
    jump_in = incoming.jump[-dims:] if incoming.jump is not None else (1,) * dims
    jump = tuple(j * s for j, s in zip(jump_in, stride, strict=True))
    if incoming.size is None:
        return _Field(jump, None)
    size_in = incoming.size[-dims:]
    size = tuple(
        r + d * (k - 1) * j for r, k, d, j in zip(size_in, kernel, dilation, jump_in, strict=True)
    )
    return _Field(jump, size)


def _geometry(module: nn.Module) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """``(kernel, stride, dilation)`` per spatial axis of a windowed layer."""
    if isinstance(module, (_ConvNd, _PoolNd)):
        return module.kernel_size, module.stride, module.dilation
    dims = int(type(module).__name__[-2])  # torch's Conv1d, MaxPool2d, AvgPool3d, ...

    def per_axis(value: object) -> tuple[int, ...]:
        return tuple(value) if isinstance(value, tuple | list) else (value,) * dims

    stride = module.stride if module.stride is not None else module.kernel_size
    return per_axis(module.kernel_size), per_axis(stride), per_axis(getattr(module, "dilation", 1))
