"""One property for every reader: whatever the bytes (arbitrary, or a valid file truncated,
bit-flipped, cut or padded), a reader returns or raises FormatError, and nothing else."""

import gzip
import io
import struct
from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convrec.data.readers import (
    FormatError,
    read_fasta,
    read_idx,
    read_sequences_csv,
    read_sequences_npz,
    read_ts,
    read_wav,
)


def wav_file(code: int, bits: int, extensible: bool) -> bytes:
    samples = np.linspace(-1, 1, 24)
    if code == 3:
        audio = samples.astype(f"<f{bits // 8}").tobytes()
    else:
        audio = (samples * 30000).astype("<i2").tobytes()
    block = 2 * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else code, 2, 8000, 8000 * block, block, bits)
    if extensible:
        fmt += struct.pack("<HHIH", 22, bits, 0, code)
        fmt += b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(audio)) + audio
    return b"RIFF" + struct.pack("<I", len(body)) + body


def npz_file() -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, first=np.arange(6.0).reshape(3, 2), second=np.arange(4, dtype="<i2")
    )
    return buffer.getvalue()


IDX = struct.pack(">HBB2I", 0, 0x0B, 2, 3, 2) + np.arange(6, dtype=">i2").tobytes()
TS = (
    b"# tiny\n@problemName Tiny\n@missing true\n@dimensions 2\n@equalLength false\n"
    b"@classLabel true up down\n@data\n1,2,3:4,5,?:up\n0.5,1e-3:7,8:down\n"
)
READERS = {
    "idx": (read_idx, IDX),
    "idx.gz": (read_idx, gzip.compress(IDX, mtime=0)),
    "ts": (read_ts, TS),
    "ts-regression": (read_ts, b"@targetLabel true\n@data\n1,2:3,4:0.5\n5,6:7,8:1e3\n"),
    "fasta": (read_fasta, b">one\nACGTN\nAC\n>two\nRYKM\n"),
    "csv": (
        partial(read_sequences_csv, columns=["x", "y"]),
        b"sequence_id,x,y\na,1,2\nb,3,4\na,5,6e-1\n",
    ),
    "npz": (read_sequences_npz, npz_file()),
    "wav": (read_wav, wav_file(1, 16, False)),
    "wav-float-extensible": (read_wav, wav_file(3, 32, True)),
}


@st.composite
def mutations(draw: st.DrawFn, valid: bytes) -> bytes:
    """A valid file after one to three truncations, bit flips, insertions or deletions."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
        if kind == "truncate":
            del data[position:]
        elif kind == "flip":
            if position < len(data):
                data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[position : position + draw(st.integers(1, 8))]
    return bytes(data)


def read_or_format_error(reader, data: bytes) -> None:
    try:
        reader(data)
    except FormatError as error:
        assert str(error).startswith("<bytes>, ") and ": expected " in str(error)


@pytest.mark.parametrize("name", list(READERS))
def test_valid_fixtures_are_read(name):
    """The damaged files below start from files that read."""
    reader, valid = READERS[name]
    assert reader(valid) is not None


@pytest.mark.parametrize("name", list(READERS))
@settings(max_examples=100, deadline=1000)
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_format_error(name, data):
    read_or_format_error(READERS[name][0], data)


@pytest.mark.parametrize("name", list(READERS))
@settings(max_examples=250, deadline=1000)
@given(data=st.data())
def test_damaged_valid_files_raise_only_format_error(name, data):
    reader, valid = READERS[name]
    read_or_format_error(reader, data.draw(mutations(valid)))
