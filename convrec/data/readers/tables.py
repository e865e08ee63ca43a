"""Sequence tables that users supply: a CSV with one row per step, or a ``.npz`` archive with one
array per sequence.

The ``.npz`` reader parses the zip members and their ``.npy`` headers itself: only numeric
arrays are accepted, nothing is unpickled, and each declared shape is checked against the bytes
of its member before any array is allocated.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from convrec.data.readers.errors import FormatError
from convrec.data.readers.source import Source, read_source, read_text, source_name

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
"""The first bytes of a zip archive: a local file header, or the end record of an empty one."""


def read_sequences_csv(
    source: Source, columns: Sequence[str] | None
) -> tuple[list[str], list[np.ndarray]]:
    """Group a CSV's rows by its ``sequence_id`` column into one array per sequence.

    Args:
        source: a path (str or Path) or the file's bytes; a header row names the columns.
        columns: the columns to read, in the order of the arrays' last axis; None for every
            column but ``sequence_id``, in file order.

    Returns:
        The sequence ids in order of first appearance, and one array per id of its rows in file
        order (the rows of one id need not be adjacent).

    Shape:
        arrays[i]: ``(T_i, len(columns))`` float64.

    Raises:
        FormatError: a missing column, or a value that is not a number.

    Example:
        >>> names, arrays = read_sequences_csv(b"sequence_id,x\\na,1\\nb,2\\na,3\\n", ["x"])
        >>> names, arrays[0]
        (['a', 'b'], array([[1.],
               [3.]]))
    """
    text, name = read_text(source)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    groups: dict[str, list[list[float]]] = defaultdict(list)
    try:
        header = reader.fieldnames or []
        repeated = sorted({column for column in header if header.count(column) > 1})
        if repeated:
            raise FormatError(
                name, "line 1", "each column name once", f"{', '.join(repeated)} more than once"
            )
        if columns is None:
            columns = [column for column in header if column != "sequence_id"]
            if not columns:
                raise FormatError(name, "line 1", "value columns besides sequence_id", "none")
        missing = [column for column in ["sequence_id", *columns] if column not in header]
        if missing:
            raise FormatError(
                name,
                "line 1",
                f"columns sequence_id, {', '.join(columns)}",
                f"a header that lacks {', '.join(missing)}",
            )
        for row in reader:
            try:
                groups[row["sequence_id"]].append([_number(row[column]) for column in columns])
            except (TypeError, ValueError):
                raise FormatError(
                    name,
                    f"line {reader.line_num}",
                    f"numbers in the columns {', '.join(columns)}",
                    row,
                ) from None
    except csv.Error as error:
        raise FormatError(name, f"line {reader.line_num}", "CSV rows", f"{error}") from None
    return list(groups), [np.asarray(rows, dtype=np.float64) for rows in groups.values()]


def read_sequences_npz(
    source: Source, *, allow_nan: bool = False
) -> tuple[list[str], list[np.ndarray]]:
    """Read a ``.npz`` archive (as ``np.savez`` writes) of one numeric array per sequence.

    Args:
        source: a path (str or Path) or the file's bytes.
        allow_nan: accept NaN values (missing steps); infinities are always refused.

    Returns:
        The keys in archive order, and one array per key; a 1-D array ``(T,)`` is read as one
        feature, ``(T, 1)``.

    Shape:
        arrays[i]: ``(T_i, F_i)`` float64.

    Raises:
        FormatError: not a zip archive, a member that is not a ``.npy`` array, an array that is not
            1-D or 2-D, not integer or floating point, or not finite.

    Example:
        >>> buffer = io.BytesIO()
        >>> np.savez(buffer, first=np.arange(3), second=np.ones((2, 2)))
        >>> names, arrays = read_sequences_npz(buffer.getvalue())
        >>> names, [array.shape for array in arrays]
        (['first', 'second'], [(3, 1), (2, 2)])
    """
    name = source_name(source)
    arrays = read_npz_arrays(source, kinds="iuf")
    sequences = {key: _sequence(array, allow_nan, name, key) for key, array in arrays.items()}
    return list(sequences), list(sequences.values())


def read_npz_arrays(source: Source, kinds: str = "iufU") -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` archive by key, in archive order, of any shape, read without
    unpickling: only numeric (and, by default, fixed-width text) dtypes are accepted.

    Args:
        source: a path (str or Path) or the file's bytes.
        kinds: the NumPy dtype kinds accepted (``i`` ``u`` ``f`` numbers, ``U`` text, ``b``
            booleans).

    Raises:
        FormatError: not a zip archive, a member that is not a ``.npy`` array, or of another
            dtype.
    """
    data, name = read_source(source, decompress=False)
    if not data.startswith(ZIP_MAGICS):
        raise FormatError(name, "byte 0", "a .npz archive (a zip file, 'PK')", repr(data[:4]))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError) as error:
        raise FormatError(name, "byte 0", "a readable zip archive", f"{error}") from None
    arrays: dict[str, np.ndarray] = {}
    with archive:
        for info in archive.infolist():
            key = info.filename.removesuffix(".npy")
            if key == info.filename or key in arrays:
                raise FormatError(
                    name,
                    f"member {info.filename!r}",
                    "one '<key>.npy' member per key",
                    "another file" if key == info.filename else "a duplicate",
                )
            arrays[key] = _npy(archive, info, name, kinds)
    return arrays


def _npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, kinds: str) -> np.ndarray:
    """Read one ``.npy`` member of a dtype kind in ``kinds``, its shape checked against its size
    first."""
    position = f"member {info.filename!r}"
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version not in ((1, 0), (2, 0)):
                raise FormatError(name, position, "a .npy array of format 1.0 or 2.0", version)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(member)
            if dtype.kind not in kinds or dtype.hasobject:
                expected = {"iuf": "an integer or floating-point array"}.get(
                    kinds, f"an array of numbers or text (dtype kinds {kinds})"
                )
                raise FormatError(name, position, expected, dtype)
            size = math.prod(shape) * dtype.itemsize
            present = info.file_size - member.tell()
            if present != size:
                expected = f"{size} bytes of data (shape {shape}, {dtype})"
                raise FormatError(name, position, expected, present)
            content = member.read(size + 1)
    except FormatError:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        NotImplementedError,  # an unknown compression method
        RuntimeError,  # an encrypted member
        ValueError,
    ) as error:
        raise FormatError(name, position, "a readable .npy array", error) from None
    if len(content) != size:
        raise FormatError(name, position, f"{size} bytes of data", len(content))
    return np.frombuffer(content, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")


def _sequence(array: np.ndarray, allow_nan: bool, name: str, key: str) -> np.ndarray:
    """Check a 1-D or 2-D array's values; return it as ``(T, F)`` float64."""
    position = f"array {key!r}"
    if array.ndim not in (1, 2):
        raise FormatError(name, position, "a 1-D (T,) or 2-D (T, F) array", f"shape {array.shape}")
    if array.shape[0] == 0:
        raise FormatError(name, position, "a sequence of at least one step", "none")
    values = array.astype(np.float64)
    if values.ndim == 1:
        values = values[:, None]  # (T, 1)
    refused = np.isinf(values) if allow_nan else ~np.isfinite(values)
    if refused.any():
        row, column = np.argwhere(refused)[0]
        expected = "finite values or NaN" if allow_nan else "finite values"
        raise FormatError(name, f"{position}[{row}, {column}]", expected, values[row, column])
    return values


def _number(text: str | None) -> float:
    """``float(text)``, but not of digit groups: ``float`` reads ``"1_0"`` as 10."""
    if text is None or "_" in text:
        raise ValueError(text)
    return float(text)
