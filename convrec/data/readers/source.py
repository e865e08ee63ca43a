"""Where a reader's bytes come from: a path or bytes, gzip-compressed or not."""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path

from convrec.data.readers.errors import FormatError
from convrec.errors import InvalidTypeError, PathNotFoundError

Source = str | os.PathLike | bytes | bytearray | memoryview
"""A reader's input: a path (``str`` or :class:`~pathlib.Path`) or the file's bytes."""

GZIP_MAGIC = b"\x1f\x8b"
MAX_DECOMPRESSED = 1 << 32
"""Most bytes a gzip-compressed source may expand to (4 GiB): a guard against gzip bombs."""


def source_name(source: Source) -> str:
    """The name error messages give a source: its path, or ``<bytes>``."""
    if isinstance(source, bytes | bytearray | memoryview):
        return "<bytes>"
    return os.fspath(source)


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
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise PathNotFoundError(
                f"invalid value for argument `source`: expected a file or bytes, got {path} "
                "(not a file)."
            )
        data = path.read_bytes()
    else:
        raise InvalidTypeError(
            f"invalid value for argument `source`: expected a path (str or Path) or bytes, "
            f"got {type(source).__name__}."
        )
    name = source_name(source)
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


def read_text(source: Source) -> tuple[str, str]:
    """The UTF-8 text of a source (a byte-order mark dropped, gzip undone) and its name for
    messages; undecodable bytes raise :class:`FormatError` naming the line."""
    data, name = read_source(source)
    try:
        return data.decode("utf-8-sig"), name
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise FormatError(name, f"line {line}", "UTF-8 text", f"{error.reason}") from None
