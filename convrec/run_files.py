"""Reading a run directory as untrusted input: only regular files inside it, of bounded size.

A run directory may come from anyone (copied, downloaded, edited), so nothing in it is
followed: a symbolic link (to ``/etc/passwd``, to ``/dev/zero``), a FIFO, a socket or a device
in its place is refused with an error naming it, before anything reads it or writes through it,
and no file is read past a size limit. Files are opened with ``O_NOFOLLOW`` (where the system
has it), so a link swapped in between the check and the read is refused too.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from convrec.checks import brief
from convrec.errors import InvalidValueError, PathNotFoundError

JSON_LIMIT = 16 << 20
"""The largest JSON file of a run read (16 MiB; ``gradient_flow.json`` of long sequences is
the largest, about 1 MiB per 1,000 steps)."""
PICTURE_LIMIT = 64 << 20
"""The largest picture of a run embedded in a report (64 MiB)."""


class UnsafeRunFileError(InvalidValueError):
    """A run directory holds a link or a special file where convrec expects a file or folder,
    or a file larger than it reads."""


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def check_tree(directory: Path, depth: int = 3) -> None:
    """Refuse a run directory holding anything but regular files and folders (a symbolic link,
    a FIFO, a socket, a device), down to ``depth`` levels.

    Raises:
        PathNotFoundError: ``directory`` does not exist.
        UnsafeRunFileError: ``directory`` itself, or something in it, is not a plain folder or
            file; the message names it.
    """
    try:
        mode = os.lstat(directory).st_mode
    except FileNotFoundError:
        raise PathNotFoundError(f"{directory} does not exist") from None
    if not stat.S_ISDIR(mode):
        raise UnsafeRunFileError(
            f"{directory}: expected a run directory (a plain folder), got "
            + ("a file" if stat.S_ISREG(mode) else _kind(mode))
        )
    with os.scandir(directory) as entries:
        for entry in entries:
            entry_mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISDIR(entry_mode):
                if depth > 1:
                    check_tree(Path(entry.path), depth - 1)
            elif not stat.S_ISREG(entry_mode):
                raise UnsafeRunFileError(
                    f"{entry.path}: expected a regular file or folder inside the run directory, "
                    f"got {_kind(entry_mode)}; convrec follows nothing out of a run directory"
                )


def read_bytes(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises:
        PathNotFoundError: there is no file at ``path``.
        UnsafeRunFileError: ``path`` is a link or a special file, or larger than ``limit``.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        mode = os.lstat(path).st_mode
        if not stat.S_ISREG(mode):
            raise UnsafeRunFileError(f"{path}: expected a regular file, got {_kind(mode)}")
        handle = os.open(path, flags)
    except FileNotFoundError:
        raise PathNotFoundError(f"{path}: no such file") from None
    except OSError as error:  # ELOOP: a link swapped in after the check
        raise UnsafeRunFileError(f"{path}: cannot be read safely ({error.strerror})") from None
    with os.fdopen(handle, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise UnsafeRunFileError(f"{path}: expected a regular file")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise UnsafeRunFileError(f"{path}: expected at most {limit} bytes, got more")
    return data


def read_json(path: Path, limit: int = JSON_LIMIT) -> Any:
    """The JSON value of the run file ``path`` (see :func:`read_bytes`).

    Raises:
        InvalidValueError: the file is not UTF-8 JSON, or nested too deep to read.
    """
    data = read_bytes(path, limit)
    try:
        return json.loads(data)
    except RecursionError:
        raise InvalidValueError(f"{path}: expected JSON, got values nested too deep") from None
    except ValueError as error:  # not JSON, or not UTF-8
        raise InvalidValueError(f"{path}: expected JSON, got {brief(error)}") from None
