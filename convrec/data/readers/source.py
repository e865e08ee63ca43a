"""Where a reader's bytes come from: a path or bytes, gzip-compressed or not."""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from convrec.data.readers.errors import FormatError
from convrec.errors import InvalidTypeError, PathNotFoundError

Source = str | os.PathLike | bytes | bytearray | memoryview
"""A reader's input: a path (``str`` or :class:`~pathlib.Path`) or the file's bytes."""

GZIP_MAGIC = b"\x1f\x8b"
MAX_DECOMPRESSED = 1 << 32
"""Most bytes a gzip-compressed source may expand to (4 GiB): a guard against gzip bombs."""


def source_name(source: Source) -> str:
    """The name error messages give a source: its path, or ``<bytes>``.

    Raises:
        InvalidTypeError: ``source`` is neither a path nor bytes.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return "<bytes>"
    if not isinstance(source, str | os.PathLike):
        raise InvalidTypeError(
            f"invalid value for argument `source`: expected a path (str or Path) or bytes, "
            f"got {type(source).__name__}."
        )
    return os.fspath(source)


def _open(source: Source) -> IO[bytes]:
    """A binary stream of a source (call :func:`source_name` first: it refuses other types).

    Raises:
        FileNotFoundError: no file at the path.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source))
    path = Path(source)
    if not path.is_file():
        raise PathNotFoundError(
            f"invalid value for argument `source`: expected a file or bytes, got {path} "
            "(not a file)."
        )
    return path.open("rb")


def read_source(source: Source, *, decompress: bool = True) -> tuple[bytes, str]:
    """The bytes of a source and its name for messages; gzip data (found by its magic bytes) is
    decompressed unless ``decompress`` is false.

    Raises:
        TypeError: ``source`` is neither a path nor bytes.
        FileNotFoundError: no file at the path.
        FormatError: a damaged gzip stream, or one expanding past 4 GiB.

    Example:
        >>> read_source(gzip.compress(b"ACGT"))
        (b'ACGT', '<bytes>')
    """
    name = source_name(source)
    with _open(source) as stream:
        data = stream.read()
    if decompress and data.startswith(GZIP_MAGIC):
        return _gunzip(data, name), name
    return data, name


def _gunzip(data: bytes, name: str) -> bytes:
    """Decompress in blocks, so that a bomb is refused before it fills the memory."""
    blocks = []
    size = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            while block := stream.read(1 << 20):
                size += len(block)
                if size > MAX_DECOMPRESSED:
                    raise FormatError(
                        name,
                        "byte 0",
                        f"gzip data expanding to at most {MAX_DECOMPRESSED} bytes",
                        "more",
                    )
                blocks.append(block)
    except (OSError, EOFError, zlib.error) as error:
        raise FormatError(name, "byte 0", "a complete gzip stream", f"{error}") from None
    return b"".join(blocks)


class _Bounded(io.RawIOBase):
    """A readable stream that refuses to give more than ``limit`` bytes."""

    def __init__(self, stream: IO[bytes], limit: int, name: str) -> None:
        self.stream, self.limit, self.name, self.given = stream, limit, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self.stream.readinto(buffer)
        self.given += count
        if self.given > self.limit:
            raise FormatError(
                self.name, "byte 0", f"gzip data expanding to at most {self.limit} bytes", "more"
            )
        return count


def iter_lines(source: Source) -> Iterator[str]:
    """The UTF-8 lines of a source, without their line ends (a byte-order mark dropped, gzip
    undone), read as a stream: memory holds one block at a time, however large the file or
    what its gzip data expands to.

    Raises:
        FormatError: a damaged gzip stream, one expanding past 4 GiB, or bytes that are not
            UTF-8 (naming the line).
    """
    name = source_name(source)
    with _open(source) as raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream: IO[bytes] = (
            io.BufferedReader(_Bounded(gzip.GzipFile(fileobj=raw), MAX_DECOMPRESSED, name))
            if compressed
            else raw
        )
        try:
            for number, line in enumerate(stream, start=1):
                try:
                    decoded = line.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as error:
                    raise FormatError(
                        name,
                        f"line {number}",
                        "UTF-8 text",
                        error.reason,
                        "Save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8).",
                    ) from None
                yield decoded.rstrip("\r\n")
        except (OSError, EOFError, zlib.error) as error:
            raise FormatError(name, "byte 0", "a complete gzip stream", f"{error}") from None


def read_text(source: Source) -> tuple[str, str]:
    """The UTF-8 text of a source (a byte-order mark dropped, gzip undone) and its name for
    messages; undecodable bytes raise :class:`FormatError` naming the line."""
    data, name = read_source(source)
    try:
        return data.decode("utf-8-sig"), name
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise FormatError(
            name,
            f"line {line}",
            "UTF-8 text",
            f"{error.reason}",
            "Save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8).",
        ) from None
