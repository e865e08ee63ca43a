"""The errors convrec raises for what a user gave it, as opposed to its own bugs.

A :class:`UserError` means an argument, a file, a configuration or the machine's set-up is not
what convrec can use, and its message says what was expected and what came. The command line
prints such an error as one line (``--debug`` or ``CONVREC_DEBUG=1`` shows its traceback too);
any other exception is a bug and shows its traceback. Each concrete error also derives from the
built-in exception it refines (``ValueError``, ``TypeError``, ``FileNotFoundError``,
``RuntimeError``), so code that catches those keeps working.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user; the message names the argument, what was expected and what
    came."""


class InvalidValueError(UserError, ValueError):
    """An argument, option or file holds a value convrec cannot use."""


class InvalidTypeError(UserError, TypeError):
    """An argument has a type convrec cannot use."""


class PathNotFoundError(UserError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class UnavailableError(UserError, RuntimeError):
    """The machine lacks what was asked of it: a device, a program, a package."""


class WriteError(UserError, OSError):
    """A file could not be written: a full disk, a file-size limit, a read-only file system, no
    permission. The message names the file and the cause; ``errno`` is the system's."""

    def __init__(self, path: object, error: OSError, what: str = "") -> None:
        cause = error.strerror or str(error)
        super().__init__(error.errno, f"cannot write {what or path}: {cause}")
        self.filename = str(path)

    def __str__(self) -> str:
        return str(self.args[1])
