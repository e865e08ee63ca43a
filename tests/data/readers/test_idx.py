import gzip
import struct

import numpy as np
import pytest

from convrec.data.readers import FormatError
from convrec.data.readers.idx import read_idx

CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D}
CODES[np.float64] = 0x0E


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype", list(CODES))
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), (0, 4)])
def test_round_trip_is_bitwise(dtype, shape):
    rng = np.random.default_rng(len(shape))
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    back = read_idx(idx_bytes(array, CODES[dtype]))
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative and back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_gzip_by_magic_bytes_from_a_path(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images, 0x08)))
    (tmp_path / "plain").write_bytes(idx_bytes(images, 0x08))
    np.testing.assert_array_equal(read_idx(tmp_path / "train-images-idx3-ubyte.gz"), images)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "plain")), images)


def test_big_endian_values_are_read_as_numbers():
    data = struct.pack(">HBBI", 0, 0x0B, 1, 2) + struct.pack(">hh", -2, 258)
    np.testing.assert_array_equal(read_idx(data), [-2, 258])


VALID = idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3), 0x08)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x00\x00", r"<bytes>, byte 0: expected a 4-byte IDX magic number, got 2 bytes"),
        (b"\x01" + VALID[1:], r"byte 0: expected two zero bytes"),
        (VALID[:2] + b"\x07" + VALID[3:], r"byte 2: expected a type code among 0x08, .*got 0x07"),
        (VALID[:3] + b"\x00" + VALID[4:], r"byte 3: expected 1 to 32 dimensions, got 0"),
        (VALID[:3] + b"\x21" + VALID[4:], r"byte 3: expected 1 to 32 dimensions, got 33"),
        (VALID[:9], r"byte 4: expected 2 4-byte sizes, got 5 bytes"),
        (VALID[:-1], r"byte 12: expected 6 bytes of data \(shape \(2, 3\), 1 bytes each\), got 5"),
        (VALID + b"\x00", r"expected 6 bytes of data .* got 7\. The file is truncated or has"),
        (gzip.compress(VALID)[:-6], r"expected a complete gzip stream"),
    ],
)
def test_malformed_files_raise_format_error_naming_the_position(data, match):
    with pytest.raises(FormatError, match=match):
        read_idx(data)


def test_absurd_sizes_are_refused_before_allocating():
    data = struct.pack(">HBB3I", 0, 0x0E, 3, 2**32 - 1, 2**32 - 1, 2**32 - 1) + bytes(16)
    with pytest.raises(
        FormatError, match=r"expected 633825299671392843082401579000 bytes of data .* got 16"
    ):
        read_idx(data)
