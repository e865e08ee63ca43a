"""The one error every reader raises for a malformed file."""

from __future__ import annotations

from convrec.errors import InvalidValueError


class FormatError(InvalidValueError):
    """A file does not hold what its format promises.

    The message names the file (``<bytes>`` for data given as bytes), the position (a line
    number or a byte offset), what was expected and what came::

        train.ts, line 12: expected 6 channels separated by ':' (@dimensions 6), got 5.

    Args:
        source: the file's path, or ``<bytes>``.
        position: where in the file, e.g. ``line 12`` or ``byte 40``.
        expected: what the format requires there.
        got: what the file holds instead (formatted with ``str``).
        hint: an optional sentence on how to fix it.

    Example:
        >>> FormatError("a.idx", "byte 2", "a type code", "0x07")
        FormatError('a.idx, byte 2: expected a type code, got 0x07.')
    """

    def __init__(
        self, source: str, position: str, expected: str, got: object, hint: str = ""
    ) -> None:
        self.source = source
        self.position = position
        self.expected = expected
        self.got = got
        self.hint = hint
        message = f"{source}, {position}: expected {expected}, got {got}."
        super().__init__(f"{message} {hint}" if hint else message)
