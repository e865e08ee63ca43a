"""Where fetched and built data lives, and how its integrity is checked.

Everything sits under one data directory: ``$CONVREC_DATA`` when set, else ``~/.cache/convrec``.
Each source has its own folder, ``<data dir>/<source name>/``, written only by atomic renames.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from convrec.errors import InvalidValueError, PathNotFoundError


class DataMissingError(PathNotFoundError):
    """A dataset's files are not in the data directory; the message gives the command to fetch
    them."""


class ChecksumMismatch(InvalidValueError):  # noqa: N818 (the name RELIABILITY_SCENARIOS.md uses)
    """A file's SHA-256 is not the one recorded for it."""


def data_dir() -> Path:
    """The data directory: ``$CONVREC_DATA`` when set, else ``~/.cache/convrec``."""
    configured = os.environ.get("CONVREC_DATA")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "convrec"


def source_dir(name: str) -> Path:
    """The folder of one source, ``<data dir>/<name>`` (not created)."""
    return data_dir() / name


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected: str) -> Path:
    """Return ``path`` if its SHA-256 is ``expected``; raise :class:`ChecksumMismatch` if not."""
    actual = sha256(path)
    if actual != expected:
        raise ChecksumMismatch(
            f"{path}: SHA-256 is {actual}, expected {expected}. The file is damaged or not the "
            f"recorded version; delete it and fetch again."
        )
    return path


def missing(dataset: str, source: str, path: Path) -> DataMissingError:
    """The error for a dataset whose source files are absent, with the command that fetches
    them."""
    return DataMissingError(
        f"{dataset}: no data at {path}. Fetch it with `convrec data fetch {source}` "
        f"(or pass `root=` the folder holding your own copy of the original files)."
    )
