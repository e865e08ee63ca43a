"""Atomic file writes: a temporary file in the same directory, fsync, rename, fsync the directory.

A crash mid-write leaves the previous file whole; readers never see half a file. The temporary
lies beside its destination (same file system, so the rename cannot fail with ``EXDEV``) and is
named ``.<name>.<random>.tmp``; one left by a process that was killed is removed by
:func:`remove_temporaries` when the directory is next used.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO

import numpy as np
import yaml

from convrec.errors import WriteError

TEMPORARY_SUFFIX = ".tmp"


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then move it onto ``path``.

    If ``write`` (or the disk) fails, ``path`` keeps its previous content and the temporary file
    is removed; an ``OSError`` (a full disk: ``ENOSPC``, a read-only file system) becomes a
    :class:`~convrec.errors.WriteError` naming ``path``, with the same ``errno``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX
        )
    except OSError as error:
        raise WriteError(path, error) from error
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, WriteError):
            raise WriteError(path, error) from error
        raise
    fsync_directory(path.parent)
    return path


def fsync_directory(path: str | Path) -> None:
    """Make the entries of a directory (a rename into it) durable; a no-op where directories
    cannot be opened (Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def remove_temporaries(directory: str | Path) -> list[Path]:
    """Delete the temporary files and folders (``.*.tmp``) that interrupted writes left in
    ``directory``; returns what was removed. Call it only while nothing writes there."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for path in sorted(directory.glob(f".*{TEMPORARY_SUFFIX}")):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path)
    return removed


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda file: file.write(data))


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode())


def write_json(path: str | Path, value: object) -> Path:
    return write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def write_yaml(path: str | Path, value: object) -> Path:
    return write_text(path, yaml.safe_dump(value, sort_keys=False))


def write_npz(path: str | Path, arrays: Mapping[str, np.ndarray]) -> Path:
    """An ``.npz`` of ``arrays`` under any names (``numpy.savez`` takes the names as keyword
    arguments, so an array named ``file`` clashed with its own parameter); nothing pickled."""

    def write(file: IO[bytes]) -> None:
        with zipfile.ZipFile(file, "w") as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)

    return atomic_write(path, write)


def write_csv(path: str | Path, rows: Iterable[Mapping[str, object]]) -> Path:
    """Rows of a table, columns in order of first appearance."""
    rows = list(rows)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, buffer.getvalue())
