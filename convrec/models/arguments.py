"""Checks of what the zoo models share: input shapes, width lists, flags and fixed-size inputs.

Each failed check raises the four-part error of :func:`convrec.nn.checks.fail`, naming the model::

    MLP: invalid value for argument `input_shape`: expected (T, F) with a fixed length T (MLP
    needs fixed-size input), got (None, 3). Pad or crop every sequence to one length, ...
"""

from __future__ import annotations

import torch
from torch import Tensor

from convrec.checks import describe, fail
from convrec.errors import InvalidTypeError, InvalidValueError


def _is_size(value: object, allow_none: bool) -> bool:
    if value is None:
        return allow_none
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def image_shape(
    owner: str, input_shape: object, fixed_size: bool = True
) -> tuple[int, int | None, int | None]:
    """``input_shape`` as an image's ``(C, H, W)`` of positive ints; ``H`` and ``W`` may be
    ``None`` (sizes that vary from batch to batch) unless ``fixed_size``."""
    if (
        not isinstance(input_shape, tuple | list)
        or len(input_shape) != 3
        or not _is_size(input_shape[0], allow_none=False)
        or not all(_is_size(side, allow_none=not fixed_size) for side in input_shape[1:])
    ):
        sides = "positive integers" if fixed_size else "positive integers or None"
        raise fail(owner, "input_shape", f"an image shape (C, H, W) of {sides}", repr(input_shape))
    return tuple(input_shape)  # type: ignore[return-value]


def sequence_shape(
    owner: str, input_shape: object, fixed_length: bool = False
) -> tuple[int | None, int]:
    """``input_shape`` as a sequence's ``(T, F)``: ``F`` features per step, ``T`` steps or
    ``None`` (lengths vary); ``None`` is refused when the model needs ``fixed_length``."""
    if (
        not isinstance(input_shape, tuple | list)
        or len(input_shape) != 2
        or not _is_size(input_shape[0], allow_none=True)
        or not _is_size(input_shape[1], allow_none=False)
    ):
        raise fail(
            owner,
            "input_shape",
            "a sequence shape (T, F): F a positive integer, T a positive integer or None",
            repr(input_shape),
        )
    if fixed_length and input_shape[0] is None:
        raise fail(
            owner,
            "input_shape",
            f"(T, F) with a fixed length T ({owner} needs fixed-size input)",
            repr(input_shape),
            hint="Pad or crop every sequence to one length, or use a convolutional or "
            "recurrent model.",
        )
    return tuple(input_shape)  # type: ignore[return-value]


def sequence_features(owner: str, input_shape: object) -> int:
    """The features ``F`` of a sequence shape ``(T, F)``; see :func:`sequence_shape`."""
    return sequence_shape(owner, input_shape)[1]


def image_or_sequence_shape(
    owner: str, input_shape: object, fixed_size: bool = False
) -> tuple[int | None, ...]:
    """``input_shape`` as an image's ``(C, H, W)`` or a sequence's ``(T, F)``, told apart by
    length; see :func:`image_shape` and :func:`sequence_shape`."""
    if isinstance(input_shape, tuple | list) and len(input_shape) == 3:
        return image_shape(owner, input_shape, fixed_size)
    if isinstance(input_shape, tuple | list) and len(input_shape) == 2:
        return sequence_shape(owner, input_shape, fixed_size)
    raise fail(
        owner,
        "input_shape",
        "an image shape (C, H, W) or a sequence shape (T, F)",
        repr(input_shape),
    )


def input_kind(owner: str, input_shape: object, vocab_size: object) -> str:
    """``'tokens'`` for token ids ``(T,)`` (which need a positive ``vocab_size``), ``'sequence'``
    for features ``(T, F)`` (which take no ``vocab_size``)."""
    if isinstance(input_shape, tuple | list) and len(input_shape) == 1:
        if not _is_size(input_shape[0], allow_none=True):
            raise fail(
                owner, "input_shape", "(T,) with T a positive integer or None", repr(input_shape)
            )
        if not _is_size(vocab_size, allow_none=False):
            raise fail(
                owner, "vocab_size", "a positive integer for token ids (T,)", repr(vocab_size)
            )
        return "tokens"
    sequence_shape(owner, input_shape)
    if vocab_size is not None:
        raise fail(
            owner,
            "vocab_size",
            "None for feature vectors (T, F)",
            repr(vocab_size),
            hint="Give input_shape (T,) for token ids.",
        )
    return "sequence"


def positive_ints(owner: str, argument: str, value: object) -> tuple[int, ...]:
    """A non-empty tuple or list of positive ints, as a tuple."""
    if (
        not isinstance(value, tuple | list)
        or not value
        or not all(_is_size(item, allow_none=False) for item in value)
    ):
        raise fail(owner, argument, "a non-empty tuple of positive integers", repr(value))
    return tuple(value)


def boolean(owner: str, argument: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise fail(owner, argument, "True or False", repr(value), error=InvalidTypeError)
    return value


def fixed_input(owner: str, x: object, input_shape: tuple[int, ...]) -> Tensor:
    """Refuse anything but a floating-point tensor of shape ``(B, *input_shape)``."""
    layout = ", ".join(map(str, input_shape))
    if (
        not isinstance(x, Tensor)
        or not torch.is_floating_point(x)
        or tuple(x.shape[1:]) != tuple(input_shape)
    ):
        raise fail(
            owner,
            "input",
            f"a floating-point tensor of shape (B, {layout}), as its input_shape",
            describe(x),
            error=InvalidValueError if isinstance(x, Tensor) else TypeError,
        )
    return x
