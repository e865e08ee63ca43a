import shutil
import struct
import subprocess
import wave

import numpy as np
import pytest

from convrec.data.readers import FormatError
from convrec.data.readers.wav import Wav, read_wav

GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def chunk(chunk_id: bytes, body: bytes, size: int | None = None) -> bytes:
    padding = b"\x00" * (len(body) % 2)
    return chunk_id + struct.pack("<I", len(body) if size is None else size) + body + padding


def fmt(code: int, channels: int, rate: int, bits: int, extensible: bool = False) -> bytes:
    block = channels * bits // 8
    tag = 0xFFFE if extensible else code
    head = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    if extensible:
        head += struct.pack("<HHIH", 22, bits, 0, code) + GUID_TAIL  # cbSize, valid bits, mask
    return chunk(b"fmt ", head)


def with_wave(path, samples: np.ndarray, width: int, rate: int = 16000) -> bytes:
    """Write (frames, channels) integer samples with the standard library's ``wave``."""
    if width == 3:
        raw = samples.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        raw = samples.astype({1: "u1", 2: "<i2", 4: "<i4"}[width]).tobytes()
    with wave.open(str(path), "wb") as file:
        file.setnchannels(samples.shape[1])
        file.setsampwidth(width)
        file.setframerate(rate)
        file.writeframes(raw)
    return path.read_bytes()


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize(
    ("bits", "low", "high", "scaled"),
    [
        (8, 0, 256, lambda x: (x - 128) / 128),
        (16, -(2**15), 2**15, lambda x: x / 2**15),
        (24, -(2**23), 2**23, lambda x: x / 2**23),
        (32, -(2**31), 2**31, lambda x: x / 2**31),
    ],
)
def test_pcm_written_by_wave_reads_back_exactly(tmp_path, channels, bits, low, high, scaled):
    rng = np.random.default_rng(bits + channels)
    samples = rng.integers(low, high, size=(50, channels), dtype=np.int64)
    samples[:2] = [[low] * channels, [high - 1] * channels]  # the extremes
    data = with_wave(tmp_path / "a.wav", samples, bits // 8, rate=11025)
    wav = read_wav(data)
    assert isinstance(wav, Wav) and wav.sample_rate == 11025
    assert wav.samples.dtype == np.float32 and wav.samples.shape == (channels, 50)
    np.testing.assert_array_equal(
        wav.samples, scaled(samples.T.astype(np.float64)).astype(np.float32)
    )
    assert wav.samples.min() == -1 and wav.samples.max() <= 1


def test_path_str_and_bytes_read_alike(tmp_path):
    data = with_wave(tmp_path / "a.wav", np.arange(-5, 5).reshape(5, 2) * 1000, 2)
    from_path, from_str, from_bytes = (
        read_wav(x) for x in (tmp_path / "a.wav", str(tmp_path / "a.wav"), data)
    )
    assert from_path.sample_rate == from_str.sample_rate == from_bytes.sample_rate == 16000
    np.testing.assert_array_equal(from_path.samples, from_bytes.samples)
    np.testing.assert_array_equal(from_str.samples, from_bytes.samples)


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("extensible", [False, True])
def test_ieee_float_reads_back_as_stored(bits, extensible):
    values = np.array([[0.25, -1.0, 0.999, 1.5], [0.0, -0.5, 2**-20, -1.25]])  # (channels, frames)
    raw = values.T.astype(f"<f{bits // 8}").tobytes()
    wav = read_wav(riff(fmt(3, 2, 48000, bits, extensible), chunk(b"data", raw)))
    np.testing.assert_array_equal(wav.samples, values.astype(np.float32))
    assert wav.sample_rate == 48000


def test_extensible_pcm_and_skipped_chunks():
    samples = np.array([[1, -2], [3, -4], [32767, -32768]], dtype="<i2")  # (frames, channels)
    data = riff(
        chunk(b"JUNK", b"odd"),  # an odd size: one pad byte follows
        fmt(1, 2, 8000, 16, extensible=True),
        chunk(b"LIST", b"INFOsome text"),
        chunk(b"data", samples.tobytes()),
        chunk(b"LIST", b"after the data"),
    )
    wav = read_wav(data)
    np.testing.assert_array_equal(wav.samples, samples.T / np.float32(32768))


@pytest.mark.parametrize("declared", [0, 0x7FFFF000, 0xFFFFFFFF])
def test_streamed_data_size_takes_the_bytes_present(declared):
    samples = np.arange(-300, 300, 7, dtype="<i2")
    data = riff(fmt(1, 1, 22050, 16)) + chunk(b"data", samples.tobytes(), size=declared)
    np.testing.assert_array_equal(read_wav(data).samples[0], samples / np.float32(32768))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_stdout_reads_like_its_file_output(tmp_path):
    streamed = subprocess.run(
        ["espeak-ng", "--stdout", "hello"], capture_output=True, check=True
    ).stdout
    assert struct.unpack_from("<I", streamed, 40)[0] == 0x7FFFF000  # the size it cannot know
    subprocess.run(["espeak-ng", "-w", str(tmp_path / "hello.wav"), "hello"], check=True)
    from_stream, from_file = read_wav(streamed), read_wav(tmp_path / "hello.wav")
    assert from_stream.sample_rate == from_file.sample_rate == 22050
    assert from_stream.samples.shape[0] == 1 and from_stream.samples.shape[1] > 10000
    np.testing.assert_array_equal(from_stream.samples, from_file.samples)


def test_zero_frames_give_an_empty_channels_by_frames_array():
    wav = read_wav(riff(fmt(1, 3, 8000, 16), chunk(b"data", b"")))
    assert wav.samples.shape == (3, 0) and wav.samples.dtype == np.float32


GOOD_FMT = fmt(1, 1, 8000, 16)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"OggS" + bytes(20), r"<bytes>, byte 0: expected a RIFF/WAVE header"),
        (riff(chunk(b"data", b"\x00\x00"), GOOD_FMT), r"byte 12: expected a 'fmt ' chunk before"),
        (riff(GOOD_FMT), r"expected a 'data' chunk, got the end of the file"),
        (
            riff(GOOD_FMT, chunk(b"data", bytes(8), size=100)),
            r"expected 100 bytes of audio .* got 8",
        ),
        (riff(GOOD_FMT, chunk(b"data", bytes(3))), r"whole frames of 2 bytes, got 3 bytes"),
        (
            riff(fmt(1, 1, 8000, 12)),
            r"PCM \(format 1\) of 8, 16, 24 or 32 bits.* got format 1 of 12",
        ),
        (riff(fmt(2, 1, 8000, 4)), r"got format 2 of 4 bits"),
        (riff(fmt(3, 1, 8000, 16)), r"got format 3 of 16 bits"),
        (riff(fmt(1, 0, 8000, 16)), r"at least one channel .* got 0 channels at 8000 Hz"),
        (riff(chunk(b"fmt ", bytes(10))), r"'fmt ' chunk of at least 16 bytes, got 10"),
        (
            riff(chunk(b"fmt ", GOOD_FMT[8:20] + struct.pack("<HH", 4, 16))),
            r"block size of 2 bytes",
        ),
        (riff(chunk(b"LIST", bytes(4), size=50)), r"byte 12: expected a b'LIST' chunk of 50 bytes"),
        (
            riff(fmt(1, 1, 8000, 16, extensible=True)[:-1] + b"\x00"),
            r"expected a standard sub-format GUID",
        ),
    ],
)
def test_malformed_files_raise_format_error_naming_the_position(data, match):
    with pytest.raises(FormatError, match=match):
        read_wav(data)


def test_a_file_is_named_in_the_message(tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"RIFF")
    with pytest.raises(FormatError, match=r"broken\.wav, byte 0"):
        read_wav(tmp_path / "broken.wav")
