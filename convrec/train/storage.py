"""Checkpoint folders committed by a manifest: written whole or not at all, checked when read.

A checkpoint is a folder of files and ``manifest.json``, which records each file's SHA-256 and
size (as the data manifests of :mod:`convrec.data.sources` do) and is written last: it is the
commit marker. :func:`commit` writes the files into a temporary folder beside the destination
(same file system), fsyncs each, writes and fsyncs the manifest, fsyncs the folder, renames it
into place and fsyncs the parent. A crash at any moment leaves the previous checkpoints as they
were and the new one either whole or absent; what it leaves behind is a ``.*.tmp`` folder, which
:func:`convrec.files.remove_temporaries` clears at the next start.

Fault hook for tests: with the environment variable ``CONVREC_CHECKPOINT_WRITE_DELAY`` set to a
number of seconds, every checkpoint file is written in two halves with that pause after each, so
that a kill from outside lands inside a write (``benchmarks/kill_resume.py``). Unset, files are
written at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from convrec.data.store import ChecksumMismatch
from convrec.errors import InvalidValueError, PathNotFoundError, WriteError
from convrec.files import TEMPORARY_SUFFIX, fsync_directory
from convrec.run_files import UnsafeRunFileError, read_bytes

MANIFEST = "manifest.json"
WRITE_DELAY_VARIABLE = "CONVREC_CHECKPOINT_WRITE_DELAY"


MANIFEST_LIMIT = 1 << 20
"""The largest manifest read (1 MiB; a checkpoint's is about 200 bytes)."""


class CorruptCheckpointError(InvalidValueError):
    """A checkpoint is not whole: never committed, a file missing, truncated or unreadable."""


class CheckpointChecksumMismatch(CorruptCheckpointError, ChecksumMismatch):  # noqa: N818
    """A checkpoint file's size or SHA-256 is not the one its manifest records."""


def commit(directory: Path, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` (name to content) as the checkpoint folder ``directory``, atomically.

    A folder already at ``directory`` (an uncommitted or damaged one left by an earlier run) is
    replaced. If anything fails, nothing of the new checkpoint remains and the error propagates;
    an ``OSError`` (a full disk: ``ENOSPC``) keeps its errno and names the checkpoint.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{directory.name}."
    temporary = Path(tempfile.mkdtemp(dir=directory.parent, prefix=prefix, suffix=TEMPORARY_SUFFIX))
    try:
        for name, data in files.items():
            write_file(temporary / name, data)
        write_file(temporary / MANIFEST, manifest_bytes(files))
        fsync_directory(temporary)
        if directory.exists():
            discard(directory)
        os.rename(temporary, directory)
    except BaseException as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if isinstance(error, OSError):
            what = f"the checkpoint {directory} (the checkpoints before it are untouched)"
            raise WriteError(directory, error, what) from error
        raise
    fsync_directory(directory.parent)
    return directory


def read_committed(directory: Path) -> dict[str, bytes]:
    """The files of a committed checkpoint folder, each checked against the manifest.

    Raises:
        CorruptCheckpointError: no manifest (the write never finished), an unreadable manifest,
            or a listed file missing.
        CheckpointChecksumMismatch: a file's size or SHA-256 differs from the manifest's.
    """
    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise CorruptCheckpointError(
            f"{directory} has no {MANIFEST}: its write never finished, so it is no checkpoint"
        )
    try:
        records = json.loads(_read(manifest, MANIFEST_LIMIT))["files"]
        expected = {name: (record["bytes"], record["sha256"]) for name, record in records.items()}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise CorruptCheckpointError(
            f"{manifest} is damaged: expected JSON with a `files` table of `bytes` and `sha256`, "
            f"got an error reading it ({error!r})"
        ) from None
    files = {}
    for name, (size, digest) in expected.items():
        path = directory / name
        if Path(name).name != name or not path.is_file():
            raise CorruptCheckpointError(f"{path} is listed in {manifest} but is not in the folder")
        found = path.lstat().st_size
        data = _read(path, found) if found == size else None
        actual = "(not read)" if data is None else hashlib.sha256(data).hexdigest()
        if found != size or actual != digest:
            raise CheckpointChecksumMismatch(
                f"{path} is truncated or damaged: it has {found} bytes with SHA-256 {actual}, "
                f"but {manifest} records {size} bytes with SHA-256 {digest}"
            )
        files[name] = data
    return files


def _read(path: Path, limit: int) -> bytes:
    """A checkpoint file's bytes: a regular file (no link), at most ``limit`` of them."""
    try:
        return read_bytes(path, limit)
    except (UnsafeRunFileError, PathNotFoundError) as error:
        raise CorruptCheckpointError(str(error)) from None


def discard(directory: Path) -> None:
    """Remove a checkpoint folder: first renamed to a temporary name, so that it stops being a
    checkpoint at once, then deleted."""
    doomed = directory.with_name(f".{directory.name}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}")
    os.rename(directory, doomed)
    shutil.rmtree(doomed)


def write_file(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data`` and fsync it (with the write delay hook, in two halves)."""
    delay = float(os.environ.get(WRITE_DELAY_VARIABLE) or 0)
    pieces = (data[: len(data) // 2], data[len(data) // 2 :]) if delay else (data,)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    handle = os.open(path, flags, 0o644)
    try:
        for piece in pieces:
            view = memoryview(piece)
            while view:
                view = view[os.write(handle, view) :]
            if delay:
                time.sleep(delay)
        os.fsync(handle)
    finally:
        os.close(handle)


def manifest_bytes(files: Mapping[str, bytes]) -> bytes:
    """The manifest of ``files`` (name to content): format 1, each file's size and SHA-256."""
    records = {
        name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in files.items()
    }
    return (json.dumps({"format": 1, "files": records}, indent=2, sort_keys=True) + "\n").encode()
