"""A long CSV read lazily, for files larger than memory: one pass checks every row as
:func:`~convrec.data.series_files.read_series` does and notes where each series' rows begin;
a series' values are read from the file when a batch asks for them.

The file must be a long CSV (an id column whose values repeat) with each series' rows together
(sorted by id), UTF-8, one row per line (no quoted line breaks), and not compressed.
"""

from __future__ import annotations

import csv
from functools import partial
from pathlib import Path

import numpy as np

from convrec.data.readers import FormatError
from convrec.data.series_files import ID_COLUMNS, TIME_COLUMNS, LongRows, SeriesTable
from convrec.data.splits import LazyInputs
from convrec.errors import PathNotFoundError

BOM = b"\xef\xbb\xbf"


def index_long_csv(
    path: str | Path,
    *,
    label_column: str = "label",
    id_column: str | None = None,
    time_column: str | None = None,
    labelled: bool = True,
) -> SeriesTable:
    """The series of a long CSV, their ``series`` a :class:`LazyInputs` of ``(T_i, C)`` float64
    arrays read on demand (``varies`` when lengths differ); the columns as ``read_series``
    takes them.

    Raises:
        PathNotFoundError: no file at ``path``.
        FormatError: anything ``read_series`` refuses, a file that is not a long CSV (no id,
            or no id repeated), series whose rows are not together, bytes that are not UTF-8.
    """
    path = Path(path)
    if not path.is_file():
        raise PathNotFoundError(f"{path}: no such file")
    name = str(path)
    with path.open("rb") as file:
        first = file.readline()
        header = [column.strip() for column in _cells(first.removeprefix(BOM), name, 1)]
        identifier = id_column or next((c for c in ID_COLUMNS if c in header), None)
        if identifier not in header:
            raise FormatError(
                name, "line 1", "an id column (sequence_id, series_id or id) to read lazily", header
            )
        for given, role in ((time_column, "time"), (label_column if labelled else None, "label")):
            if given is not None and given not in header:
                raise FormatError(
                    name, "line 1", f"the {role} column {given!r}", f"the columns {header}"
                )
        clock = time_column or next((column for column in TIME_COLUMNS if column in header), None)
        reader = LongRows(name, header, identifier, clock, label_column, keep_values=False)
        offset, number = file.tell(), 1
        for line in iter(file.readline, b""):
            number += 1
            row = _cells(line, name, number)
            if any(cell.strip() for cell in row):
                if len(row) != len(header):
                    raise FormatError(name, f"line {number}", f"{len(header)} cells", len(row))
                reader.add(row, number, offset)
            offset += len(line)
    if not reader.counts:
        raise FormatError(name, "the file", "at least one series", "none")
    if max(reader.counts.values()) == 1:
        raise FormatError(
            name,
            f"column {identifier!r}",
            "a long CSV to read lazily (each id on the rows of its series' steps)",
            "one row per id, a wide CSV: read it without lazy",
        )
    ids = list(reader.counts)
    keys = [(reader.starts[key], reader.counts[key]) for key in ids]
    lengths = [reader.counts[key] for key in ids]
    series = LazyInputs(keys, partial(_read_rows, path, reader.at_channels), lengths=lengths)
    return SeriesTable(ids, series, reader.label_list(), reader.channels, name)


def _cells(line: bytes, name: str, number: int) -> list[str]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FormatError(name, f"line {number}", "UTF-8 text", f"{error.reason}") from None
    return next(csv.reader([text]), [])


def _read_rows(path: Path, columns: list[int], key: tuple[int, int]) -> np.ndarray:
    """The ``(T, C)`` values of the series whose ``T`` rows begin at byte ``key[0]`` (checked
    when the file was indexed)."""
    start, count = key
    rows = []
    with path.open("rb") as file:
        file.seek(start)
        while len(rows) < count:
            row = next(csv.reader([file.readline().decode("utf-8")]), [])
            if any(cell.strip() for cell in row):
                rows.append([float(row[index]) for index in columns])
    return np.asarray(rows, dtype=np.float64)
