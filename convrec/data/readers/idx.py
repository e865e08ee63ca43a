"""IDX files, the format of MNIST and Fashion-MNIST.

The header is big-endian: two zero bytes, a type code, the number of dimensions, then one 4-byte
size per dimension; the data follows in C order. A gzip-compressed file (``*.gz``) is recognised
by its magic bytes.
"""

from __future__ import annotations

import math

import numpy as np

from convrec.data.readers.errors import FormatError
from convrec.data.readers.source import Source, read_source

TYPE_CODES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_DIMENSIONS = 32


def read_idx(source: Source) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into an array of its shape and type.

    The declared shape is checked against the bytes present before anything is allocated: the
    data must hold exactly ``product(sizes) * itemsize`` bytes, neither fewer nor more.

    Args:
        source: a path (str or Path) or the file's bytes.

    Returns:
        An array of the declared sizes ``(d0, d1, ...)``, e.g. ``(60000, 28, 28)`` uint8 for
        MNIST images, ``(60000,)`` for labels; native byte order, writable.

    Raises:
        FormatError: a bad magic number or type code, or data that does not match the sizes.

    Example:
        >>> read_idx(bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]))
        array([[1, 2, 3],
               [4, 5, 6]], dtype=uint8)
    """
    data, name = read_source(source)
    if len(data) < 4:
        raise FormatError(name, "byte 0", "a 4-byte IDX magic number", f"{len(data)} bytes")
    if data[:2] != b"\x00\x00":
        raise FormatError(name, "byte 0", "two zero bytes opening the IDX magic number", data[:2])
    code, ndim = data[2], data[3]
    if code not in TYPE_CODES:
        codes = ", ".join(f"0x{known:02X}" for known in TYPE_CODES)
        raise FormatError(name, "byte 2", f"a type code among {codes}", f"0x{code:02X}")
    if not 1 <= ndim <= MAX_DIMENSIONS:
        raise FormatError(name, "byte 3", f"1 to {MAX_DIMENSIONS} dimensions", ndim)
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise FormatError(
            name, "byte 4", f"{ndim} 4-byte sizes", f"{len(data) - 4} bytes before the end"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * axis : 8 + 4 * axis], "big") for axis in range(ndim))
    dtype = TYPE_CODES[code]
    expected = math.prod(shape) * dtype.itemsize
    if len(data) - header_size != expected:
        raise FormatError(
            name,
            f"byte {header_size}",
            f"{expected} bytes of data (shape {shape}, {dtype.itemsize} bytes each)",
            f"{len(data) - header_size}",
            hint="The file is truncated or has trailing bytes.",
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header_size)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )
