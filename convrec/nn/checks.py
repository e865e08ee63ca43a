"""Checks of the tensors a layer receives: rank, dtype, channels, finiteness.

They raise the same errors, with the same message shape, as the generic argument checks of
:mod:`convrec.checks`::

    Conv1d: invalid value for argument `input`: expected 3 channels on the channel axis of
    (B, C, T), got 4 (shape (8, 4, 100)).
"""

from __future__ import annotations

import torch
from torch import Tensor

from convrec.checks import describe, fail, holds_arrays
from convrec.errors import InvalidTypeError


def floating_tensor(owner: str, argument: str, value: object, ndim: int, layout: str) -> Tensor:
    """A floating-point tensor of rank ``ndim``; ``layout`` names its axes, e.g. ``(B, T, C)``."""
    if not isinstance(value, Tensor):
        ragged = "Batch sequences of different lengths with convrec.nn.Padded.from_sequences."
        raise fail(
            owner,
            argument,
            f"a tensor {layout} or a convrec.nn.Padded",
            describe(value),
            hint=ragged if holds_arrays(value) else "",
            error=InvalidTypeError,
        )
    if value.dim() != ndim:
        raise fail(owner, argument, f"a {ndim}-D tensor {layout}", describe(value))
    if value.numel() == 0:
        raise fail(
            owner,
            argument,
            f"a non-empty tensor {layout}, no axis of size 0 (no empty batch, no empty sequence)",
            describe(value),
        )
    if not torch.is_floating_point(value):
        raise fail(
            owner,
            argument,
            f"a floating-point tensor {layout}",
            describe(value),
            hint="Convert it with .float().",
            error=InvalidTypeError,
        )
    return value


def channels(owner: str, data: Tensor, axis: int, expected: int, layout: str) -> None:
    """Refuse an input whose channel axis (1 or -1) does not hold ``expected`` channels; where the
    other end holds them, say that the input looks channels-last (or channels-first)."""
    if data.shape[axis] != expected:
        other = -1 if axis == 1 else 1
        swapped = data.shape[other] == expected
        looks = "channels-last" if other == -1 else "channels-first"
        hint = (
            f"Axis {other} holds {expected}: is the input {looks}? "
            f"Move the channels with x.movedim({other}, {axis})."
        )
        raise fail(
            owner,
            "input",
            f"{expected} channels on the channel axis of {layout}",
            f"{data.shape[axis]} (shape {tuple(data.shape)})",
            hint=hint if swapped else "",
        )


def parameter_dtype(owner: str, data: Tensor, parameter: Tensor) -> None:
    """Refuse an input whose dtype differs from the layer's parameters (autocast casts them
    itself, so its regions pass)."""
    if data.dtype != parameter.dtype and not torch.is_autocast_enabled(data.device.type):
        raise fail(
            owner,
            "input",
            f"dtype {parameter.dtype}, the dtype of the layer's parameters",
            describe(data),
            hint=f"Cast the input with .to({parameter.dtype}) or the layer with .to({data.dtype}).",
            error=InvalidTypeError,
        )


def first_non_finite(data: Tensor) -> tuple[int, ...] | None:
    """The index of the first NaN or Inf in ``data``, or None if every value is finite.

    NaN and Inf reach the sum, so a finite sum clears the tensor without the elementwise test.
    """
    if bool(torch.isfinite(data.detach().sum())):
        return None
    bad = (~torch.isfinite(data.detach())).nonzero()
    return tuple(bad[0].tolist()) if len(bad) else None
