"""WAV files: RIFF/WAVE chunks parsed here, PCM 8/16/24/32-bit and IEEE float 32/64.

The ``fmt `` chunk may be plain (format 1 PCM, 3 float) or WAVE_FORMAT_EXTENSIBLE (0xFFFE, whose
sub-format GUID names PCM or float). Chunks other than ``fmt `` and ``data`` are skipped, and so
is anything after the ``data`` chunk. Streaming writers cannot know the data size when they write
the header: a ``data`` chunk declaring 0, 0x7FFFF000 (``espeak-ng --stdout``) or 0xFFFFFFFF bytes
takes the bytes present to the end of the file. Any other declared size that runs past the end of
the file is a truncated file, and refused.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import numpy as np

from convrec.data.readers.errors import FormatError
from convrec.data.readers.source import Source, read_source

PCM = 1
IEEE_FLOAT = 3
EXTENSIBLE = 0xFFFE
GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
"""The 14 bytes after the format code in the sub-format GUID of every standard format."""
STREAMED_SIZES = frozenset({0, 0x7FFFF000, 0xFFFFFFFF})
"""Data sizes that mean "unknown": the data runs to the end of the file."""


class Wav(NamedTuple):
    """A decoded WAV file.

    Shape:
        samples: ``(channels, frames)`` float32; PCM scaled to [-1, 1] (a 16-bit sample ``s``
        becomes ``s / 32768``, an 8-bit one ``(s - 128) / 128``), float data as stored.
    """

    samples: np.ndarray
    sample_rate: int


def read_wav(source: Source) -> Wav:
    """Read a WAV file from a path or bytes.

    Args:
        source: a path (str or Path) or the file's bytes.

    Returns:
        ``Wav(samples, sample_rate)``, ``samples`` of shape ``(channels, frames)``, float32.

    Raises:
        FormatError: not a RIFF/WAVE file, an unsupported encoding, a missing or truncated chunk.

    Example:
        >>> header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 40, b"WAVE", b"fmt ", 16,
        ...                      1, 1, 8000, 16000, 2, 16, b"data", 4)
        >>> read_wav(header + struct.pack("<2h", 16384, -32768))
        Wav(samples=array([[ 0.5, -1. ]], dtype=float32), sample_rate=8000)
    """
    data, name = read_source(source, decompress=False)
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise FormatError(
            name, "byte 0", "a RIFF/WAVE header ('RIFF', size, 'WAVE')", f"{data[:12]!r}"
        )
    offset = 12
    encoding = None
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        body = offset + 8
        if chunk_id == b"data":
            if encoding is None:
                raise FormatError(
                    name, f"byte {offset}", "a 'fmt ' chunk before the 'data' chunk", "'data' first"
                )
            if size in STREAMED_SIZES:
                size = len(data) - body
            elif body + size > len(data):
                raise FormatError(
                    name,
                    f"byte {offset}",
                    f"{size} bytes of audio (the 'data' chunk's declared size)",
                    f"{len(data) - body}: the file is truncated",
                )
            return _decode(data[body : body + size], encoding, name, body)
        if body + size > len(data):
            raise FormatError(
                name,
                f"byte {offset}",
                f"a {chunk_id!r} chunk of {size} bytes",
                f"{len(data) - body} bytes before the end of the file",
            )
        if chunk_id == b"fmt ":
            encoding = _read_format(data[body : body + size], name, offset)
        offset = body + size + size % 2
    raise FormatError(name, f"byte {offset}", "a 'data' chunk", "the end of the file")


class _Encoding(NamedTuple):
    code: int
    channels: int
    sample_rate: int
    bits: int


def _read_format(chunk: bytes, name: str, offset: int) -> _Encoding:
    """Parse a ``fmt `` chunk starting at byte ``offset`` and check it describes a supported
    encoding."""
    if len(chunk) < 16:
        raise FormatError(name, f"byte {offset}", "a 'fmt ' chunk of at least 16 bytes", len(chunk))
    code, channels, sample_rate, _, block_align, bits = struct.unpack_from("<HHIIHH", chunk)
    if code == EXTENSIBLE:
        if len(chunk) < 40:
            raise FormatError(
                name,
                f"byte {offset}",
                "an extensible 'fmt ' chunk of 40 bytes",
                f"{len(chunk)} bytes",
            )
        code = struct.unpack_from("<H", chunk, 24)[0]
        if chunk[26:40] != GUID_TAIL:
            raise FormatError(
                name, f"byte {offset + 34}", "a standard sub-format GUID", f"{chunk[24:40].hex()}"
            )
    supported = {PCM: (8, 16, 24, 32), IEEE_FLOAT: (32, 64)}
    if bits not in supported.get(code, ()):
        raise FormatError(
            name,
            f"byte {offset + 8}",
            "PCM (format 1) of 8, 16, 24 or 32 bits, or IEEE float (format 3) of 32 or 64 bits",
            f"format {code} of {bits} bits",
        )
    if channels == 0 or sample_rate == 0:
        raise FormatError(
            name,
            f"byte {offset + 10}",
            "at least one channel and a positive sample rate",
            f"{channels} channels at {sample_rate} Hz",
        )
    if block_align != channels * bits // 8:
        raise FormatError(
            name,
            f"byte {offset + 20}",
            f"a block size of {channels * bits // 8} bytes ({channels} channels of {bits} bits)",
            block_align,
        )
    return _Encoding(code, channels, sample_rate, bits)


def _decode(audio: bytes, encoding: _Encoding, name: str, offset: int) -> Wav:
    """Interleaved little-endian frames to ``(channels, frames)`` float32."""
    frame_size = encoding.channels * encoding.bits // 8
    if len(audio) % frame_size:
        raise FormatError(
            name,
            f"byte {offset}",
            f"audio data in whole frames of {frame_size} bytes",
            f"{len(audio)} bytes",
        )
    if encoding.code == IEEE_FLOAT:
        values = np.frombuffer(audio, dtype=f"<f{encoding.bits // 8}").astype(np.float32)
    elif encoding.bits == 8:
        values = (np.frombuffer(audio, dtype=np.uint8).astype(np.float32) - 128) / 128
    elif encoding.bits == 24:
        triples = np.frombuffer(audio, dtype=np.uint8).reshape(-1, 3)
        padded = np.zeros((len(triples), 4), dtype=np.uint8)
        padded[:, 1:] = triples  # the low byte stays zero: a 32-bit sample scaled by 2**8
        values = (padded.view("<i4")[:, 0] / 2.0**31).astype(np.float32)
    else:
        values = np.frombuffer(audio, dtype=f"<i{encoding.bits // 8}") / 2.0 ** (encoding.bits - 1)
        values = values.astype(np.float32)
    samples = np.ascontiguousarray(values.reshape(-1, encoding.channels).T)  # (channels, frames)
    return Wav(samples, encoding.sample_rate)
