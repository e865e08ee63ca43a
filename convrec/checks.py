"""Argument checks with one error-message shape, shared by every part of convrec.

Each failed check raises a :class:`~convrec.errors.UserError` (``InvalidValueError``, a
``ValueError``, or ``InvalidTypeError``, a ``TypeError``) whose message says who complained, which
argument, what was expected, what came, and (where it helps) how to fix it::

    Conv1d: invalid value for argument `kernel_size`: expected a positive integer, got 0.

What is shown of a value is cut to :data:`ECHO_LIMIT` characters, so that a huge or
self-expanding input (a YAML alias bomb, a long array) never makes a huge message. The checks of
tensors (rank, dtype, channels, finiteness) are layer matters and live in
:mod:`convrec.nn.checks`.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Iterable, Sequence

from convrec.errors import InvalidValueError, UserError

ECHO_LIMIT = 200
"""At most this many characters of a value appear in an error message."""


def brief(text: object, limit: int = ECHO_LIMIT) -> str:
    """``str(text)``, cut to ``limit`` characters with a note of how much was left out."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def fail(
    owner: str,
    argument: str,
    expected: str,
    got: object,
    hint: str = "",
    error: type[UserError] = InvalidValueError,
) -> UserError:
    """Build (not raise) the error for a bad argument; callers write ``raise fail(...)``."""
    message = (
        f"{owner}: invalid value for argument `{argument}`: expected {expected}, got {brief(got)}."
    )
    if hint:
        message += f" {hint}"
    return error(message)


def is_array(value: object) -> bool:
    """Whether ``value`` is an array (a torch tensor, a NumPy array): it has a shape and a
    dtype."""
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, type)


def holds_arrays(value: object) -> bool:
    """Whether ``value`` is a list or tuple holding arrays (such as sequences not yet batched)."""
    return isinstance(value, list | tuple) and any(is_array(item) for item in value)


def describe(value: object) -> str:
    """Short description of a value for error messages: tensors and arrays by shape and dtype,
    lists and tuples of them by their first items, anything else by its (cut) ``repr``."""
    if is_array(value):
        kind = "a tensor" if type(value).__module__.startswith("torch") else "an array"
        return f"{kind} of shape {tuple(value.shape)} and dtype {value.dtype}"
    if holds_arrays(value):
        shown = "; ".join(describe(item) for item in value[:2])
        more = "; ..." if len(value) > 2 else ""
        return f"a {type(value).__name__} of {len(value)} items ({shown}{more})"
    return brief(repr(value))


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


def flag(owner: str, argument: str, value: object) -> bool:
    """A switch: ``True`` or ``False`` and nothing else (not 1, not ``"yes"``)."""
    if not isinstance(value, bool):
        raise fail(owner, argument, "true or false", repr(value))
    return value


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


def unknown_name(kind: str, name: object, names: Sequence[str]) -> InvalidValueError:
    """Build the error for a name missing from a registry: the valid names and close matches."""
    close = difflib.get_close_matches(str(name), list(names), n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return InvalidValueError(
        f"unknown {kind} {brief(repr(name))}: expected one of {', '.join(sorted(names))}.{hint}"
    )
