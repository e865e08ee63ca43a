"""Argument checks shared by every layer.

Each failed check raises ``ValueError`` or ``TypeError`` with one message shape: who complained,
which argument, what was expected, what came, and (where it helps) how to fix it::

    Conv1d: invalid value for argument `kernel_size`: expected a positive integer, got 0.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Iterable, Sequence

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


def holds_tensors(value: object) -> bool:
    """Whether ``value`` is a list or tuple holding tensors (such as sequences not yet batched)."""
    return isinstance(value, list | tuple) and any(isinstance(item, Tensor) for item in value)


def describe(value: object) -> str:
    """Short description of a value for error messages (tensors by shape and dtype, lists and
    tuples of tensors by their first items)."""
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if holds_tensors(value):
        shown = "; ".join(describe(item) for item in value[:2])
        more = "; ..." if len(value) > 2 else ""
        return f"a {type(value).__name__} of {len(value)} items ({shown}{more})"
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
        ragged = "Batch sequences of different lengths with convrec.nn.Padded.from_sequences."
        raise fail(
            owner,
            argument,
            f"a tensor {layout} or a convrec.nn.Padded",
            describe(value),
            hint=ragged if holds_tensors(value) else "",
            error=TypeError,
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
            error=TypeError,
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
            error=TypeError,
        )


def first_non_finite(data: Tensor) -> tuple[int, ...] | None:
    """The index of the first NaN or Inf in ``data``, or None if every value is finite.

    NaN and Inf reach the sum, so a finite sum clears the tensor without the elementwise test.
    """
    if bool(torch.isfinite(data.detach().sum())):
        return None
    bad = (~torch.isfinite(data.detach())).nonzero()
    return tuple(bad[0].tolist()) if len(bad) else None


def keyword_names(function: Callable, exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """The named keyword options of ``function`` (not ``self``, ``*args``, ``**kwargs``), less
    ``exclude``."""
    skipped = {"self", *exclude}
    return tuple(
        parameter.name
        for parameter in inspect.signature(function).parameters.values()
        if parameter.name not in skipped
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    )


def takes_any_keyword(function: Callable) -> bool:
    """Whether ``function`` takes ``**kwargs``, so that no option name can be refused."""
    parameters = inspect.signature(function).parameters.values()
    return any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters)


def known_options(
    owner: str, argument: str, options: Iterable[str], valid: Sequence[str] | None
) -> None:
    """Refuse option names not in ``valid`` (None: anything goes), naming the valid ones and close
    matches."""
    unknown = sorted(set(options) - set(valid)) if valid is not None else []
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(valid), n=1)
        raise fail(
            owner,
            argument,
            f"options among {', '.join(valid) or '(none)'}",
            ", ".join(map(repr, unknown)),
            hint=f"Did you mean {close[0]!r}?" if close else "",
        )


def unknown_name(kind: str, name: object, names: Sequence[str]) -> ValueError:
    """Build the error for a name missing from a registry: the valid names and close matches."""
    close = difflib.get_close_matches(str(name), list(names), n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return ValueError(f"unknown {kind} {name!r}: expected one of {', '.join(sorted(names))}.{hint}")
