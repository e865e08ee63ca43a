"""Argument checks shared by every layer.

Each failed check raises ``ValueError`` or ``TypeError`` with one message shape: who complained,
which argument, what was expected, what came, and (where it helps) how to fix it::

    Conv1d: invalid value for argument `kernel_size`: expected a positive integer, got 0.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence

import torch
from torch import Tensor


def fail(
    owner: str,
    argument: str,
    expected: str,
    got: object,
    hint: str = "",
    error: type[Exception] = ValueError,
) -> Exception:
    """Build (not raise) the error for a bad argument; callers write ``raise fail(...)``."""
    message = f"{owner}: invalid value for argument `{argument}`: expected {expected}, got {got}."
    if hint:
        message += f" {hint}"
    return error(message)


def describe(value: object) -> str:
    """Short description of a value for error messages (tensors by shape and dtype)."""
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    return repr(value)


def positive_int(owner: str, argument: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(owner, argument, "a positive integer", repr(value))
    return value


def non_negative_int(owner: str, argument: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise fail(owner, argument, "a non-negative integer", repr(value))
    return value


def probability(owner: str, argument: str, value: object) -> float:
    """A dropout-style rate in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise fail(owner, argument, "a number in [0, 1)", repr(value))
    return float(value)


def positive_float(owner: str, argument: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise fail(owner, argument, "a positive finite number", repr(value))
    return float(value)


def one_of(owner: str, argument: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        listed = ", ".join(repr(choice) for choice in choices)
        raise fail(owner, argument, f"one of {listed}", repr(value))
    return value  # type: ignore[return-value]


def int_tuple(owner: str, argument: str, value: object, size: int, minimum: int) -> tuple[int, ...]:
    """An int or a tuple of ``size`` ints, each at least ``minimum``, as a tuple."""
    bound = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    expected = f"{bound} or a tuple of {size} of them"
    items = (value,) * size if isinstance(value, int) else value
    if (
        not isinstance(items, tuple | list)
        or len(items) != size
        or any(isinstance(item, bool) or not isinstance(item, int) for item in items)
        or any(item < minimum for item in items)
    ):
        raise fail(owner, argument, expected, repr(value))
    return tuple(items)


def floating_tensor(owner: str, argument: str, value: object, ndim: int, layout: str) -> Tensor:
    """A floating-point tensor of rank ``ndim``; ``layout`` names its axes, e.g. ``(B, T, C)``."""
    if not isinstance(value, Tensor):
        raise fail(
            owner,
            argument,
            f"a tensor {layout} or a convrec.nn.Padded",
            describe(value),
            error=TypeError,
        )
    if value.dim() != ndim:
        raise fail(owner, argument, f"a {ndim}-D tensor {layout}", describe(value))
    if not torch.is_floating_point(value):
        raise fail(
            owner,
            argument,
            f"a floating-point tensor {layout}",
            describe(value),
            hint="Convert it with .float().",
            error=TypeError,
        )
    return value


def channels(owner: str, data: Tensor, axis: int, expected: int, layout: str) -> None:
    """Refuse an input whose channel axis does not hold ``expected`` channels."""
    if data.shape[axis] != expected:
        raise fail(
            owner,
            "input",
            f"{expected} channels on the channel axis of {layout}",
            f"{data.shape[axis]} (shape {tuple(data.shape)})",
        )


def unknown_name(kind: str, name: object, names: Sequence[str]) -> ValueError:
    """Build the error for a name missing from a registry: the valid names and close matches."""
    close = difflib.get_close_matches(str(name), list(names), n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return ValueError(f"unknown {kind} {name!r}: expected one of {', '.join(sorted(names))}.{hint}")
