"""A user's time series from their own files: ``.npz``, long or wide CSV, UCR/UEA ``.ts``.

- ``.npz``: ``X`` stacked ``(N, T)`` or ``(N, T, C)`` with labels ``y`` ``(N,)``; or one array
  ``(T_i,)`` / ``(T_i, C)`` per key (any names but ``y``), with ``y`` holding their labels in
  key order.
- long CSV: one row per step, an id column (``sequence_id``, ``series_id`` or ``id``, or the one
  named), optionally a time column (``time``, ``timestamp`` or the one named) whose values must
  increase within each series, the channel columns, and the label column, the same on every row
  of a series. Used when an id repeats.
- wide CSV: one row per series, an optional id column, the label column, and one column per
  step; a shorter series leaves its last cells empty.
- ``.ts``: the UCR/UEA format (:func:`convrec.data.readers.read_ts`).
- ``.parquet``: a long or wide table as in a CSV, read with pandas and pyarrow when installed.

Every value must be a finite number (no empty cell inside a series, no ``NA``), ids unique,
column names unique; anything else is a :class:`~convrec.data.readers.FormatError` naming the
file, the line or key, and what is wrong.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convrec.data.readers import FormatError, read_npz_arrays, read_ts
from convrec.data.readers.source import read_text
from convrec.errors import InvalidValueError, PathNotFoundError, UnavailableError

ID_COLUMNS = ("sequence_id", "series_id", "id")
TIME_COLUMNS = ("time", "timestamp", "t")
SUFFIXES = (".npz", ".csv", ".ts", ".parquet")


@dataclass
class SeriesTable:
    """Series read from one file.

    Attributes:
        ids: one name per series (its id, key or row number).
        series: one float64 array ``(T_i, C)`` per series.
        labels: one label per series as text (class names), or None when the file has none.
        channels: the names of the ``C`` channels (CSV columns, or ``c0``, ``c1``, ...).
        source: the file's path, for messages.
    """

    ids: list[str]
    series: list[np.ndarray]
    labels: list[str] | None
    channels: tuple[str, ...]
    source: str


def read_series(
    path: str | Path,
    *,
    label_column: str = "label",
    id_column: str | None = None,
    time_column: str | None = None,
    labelled: bool = True,
) -> SeriesTable:
    """Read the series of one file (the format from its suffix).

    Args:
        path: a ``.npz``, ``.csv``, ``.ts`` or ``.parquet`` file.
        label_column: the CSV column holding each series' label.
        id_column: the CSV column naming each series (default: the first of
            :data:`ID_COLUMNS` present).
        time_column: the column ordering a long CSV's steps (default: the first of
            :data:`TIME_COLUMNS` present).
        labelled: whether labels are required (for training and evaluation); for prediction
            they may be absent.

    Raises:
        PathNotFoundError: no file at ``path``.
        InvalidValueError: an unknown suffix.
        FormatError: anything malformed (see the module).
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidValueError(
            f"{path}: expected a file of series ({', '.join(SUFFIXES)}), got a folder"
        )
    if not path.is_file():
        raise PathNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        table = _from_npz(path)
    elif suffix in (".csv", ".parquet"):
        table = _from_csv(path, label_column, id_column, time_column, labelled)
    elif suffix == ".ts":
        archive = read_ts(path)
        labels = None if archive.labels is None else [str(label) for label in archive.labels]
        series = [np.asarray(case, dtype=np.float64) for case in archive.series]
        channels = tuple(f"c{index}" for index in range(series[0].shape[1] if series else 0))
        table = SeriesTable(
            [str(i) for i in range(len(series))], series, labels, channels, str(path)
        )
    else:
        raise InvalidValueError(
            f"{path}: expected series in a {', '.join(SUFFIXES)} file, got the suffix "
            f"{path.suffix or '(none)'!r}"
        )
    check_series(table, labelled)
    return table


def check_series(table: SeriesTable, labelled: bool) -> None:
    """Refuse a table without series, labels (when ``labelled``), one width, or finite values."""
    name = table.source
    if not table.series:
        raise FormatError(name, "the file", "at least one series", "none")
    if labelled and table.labels is None:
        raise FormatError(name, "the file", "a label for every series", "no labels")
    if labelled and "" in table.labels:
        unlabelled = table.ids[table.labels.index("")]
        raise FormatError(name, f"series {unlabelled!r}", "a label", "an empty one")
    widths = {array.shape[1] for array in table.series}
    if len(widths) > 1:
        raise FormatError(name, "the file", "the same channels in every series", sorted(widths))
    for identifier, array in zip(table.ids, table.series, strict=True):
        if len(array) == 0:
            raise FormatError(name, f"series {identifier!r}", "at least one step", "none")
        if not np.all(np.isfinite(array)):
            step, channel = np.argwhere(~np.isfinite(array))[0]
            raise FormatError(
                name,
                f"series {identifier!r}, step {step}, channel {table.channels[channel]!r}",
                "a finite number (no missing values)",
                array[step, channel],
            )


def _from_npz(path: Path) -> SeriesTable:
    arrays = read_npz_arrays(path)
    name = str(path)
    labels = arrays.pop("y", None)
    if labels is not None and labels.ndim != 1:
        raise FormatError(name, "array 'y'", "one label per series, shape (N,)", labels.shape)
    text = None if labels is None else [_label_text(value) for value in labels.tolist()]
    if "X" in arrays:
        stacked = arrays.pop("X")
        if arrays:
            raise FormatError(name, "the archive", "only 'X' and 'y'", f"also {sorted(arrays)}")
        if stacked.ndim not in (2, 3) or stacked.dtype.kind not in "iuf":
            raise FormatError(
                name, "array 'X'", "numbers of shape (N, T) or (N, T, C)", stacked.shape
            )
        stacked = stacked.astype(np.float64).reshape(*stacked.shape[:2], -1)
        series = list(stacked)
        ids = [str(index) for index in range(len(series))]
    else:
        for key, array in arrays.items():
            if array.ndim not in (1, 2) or array.dtype.kind not in "iuf":
                hint = "A stacked array (N, T, C) must be named 'X', its labels 'y'."
                raise FormatError(
                    name,
                    f"array {key!r}",
                    "numbers (T,) or (T, C)",
                    array.shape,
                    hint if array.ndim == 3 else "",
                )
        ids = list(arrays)
        series = [
            array.astype(np.float64) if array.ndim == 2 else array.astype(np.float64)[:, None]
            for array in arrays.values()
        ]
    if text is not None and len(text) != len(series):
        raise FormatError(name, "array 'y'", f"{len(series)} labels, one per series", len(text))
    channels = tuple(f"c{index}" for index in range(series[0].shape[1] if series else 0))
    return SeriesTable(ids, series, text, channels, name)


def _label_text(value: object) -> str:
    """A label as text: integral numbers without a decimal point (``3.0`` and ``3`` are both
    class ``'3'``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _csv_rows(path: Path) -> tuple[list[list[str]], str]:
    """A CSV file's rows of cells, the header first, and its name for messages."""
    text, name = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return list(reader), name
    except csv.Error as error:
        raise FormatError(name, f"line {reader.line_num}", "CSV rows", f"{error}") from None


def _parquet_rows(path: Path) -> tuple[list[list[str]], str]:
    """A Parquet file's rows as CSV cells would hold them (the header first; a missing value
    is an empty cell), read with pandas and pyarrow (``pip install 'convrec[parquet]'``);
    "line N" in messages is then row N - 1 of the table."""
    try:
        import pandas
    except ImportError:
        raise UnavailableError(
            f"{path}: reading Parquet needs pandas and pyarrow: pip install 'convrec[parquet]'"
        ) from None
    try:
        frame = pandas.read_parquet(path)
    except ImportError as error:
        raise UnavailableError(
            f"{path}: reading Parquet needs pyarrow: pip install 'convrec[parquet]' ({error})"
        ) from None
    except (OSError, ValueError) as error:
        raise FormatError(str(path), "byte 0", "a Parquet file", f"{error}") from None
    header = [str(column) for column in frame.columns]
    cells = frame.astype(object).where(frame.notna(), "").astype(str)
    return [header, *cells.values.tolist()], str(path)


def read_table(path: Path) -> tuple[list[str], list[list[str]], str]:
    """A CSV (or Parquet) table: its header (names stripped, each once), every row as read (the
    header first; blank rows may follow, any other has a cell per column), and the file's name
    for messages.

    Raises:
        FormatError: an empty file, a repeated column name, a row with another number of cells.
    """
    rows, name = _parquet_rows(path) if path.suffix.lower() == ".parquet" else _csv_rows(path)
    if not rows:
        raise FormatError(name, "line 1", "a header line", "an empty file")
    header = [column.strip() for column in rows[0]]
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        raise FormatError(name, "line 1", "each column name once", f"{', '.join(repeated)} twice")
    for number, row in enumerate(rows[1:], start=2):
        if any(cell.strip() for cell in row) and len(row) != len(header):
            raise FormatError(name, f"line {number}", f"{len(header)} cells", len(row))
    return header, rows, name


def _from_csv(
    path: Path,
    label_column: str,
    id_column: str | None,
    time_column: str | None,
    labelled: bool = False,
) -> SeriesTable:
    header, rows, name = read_table(path)
    if labelled and label_column not in header:
        raise FormatError(
            name,
            "line 1",
            f"the label column {label_column!r} (name yours with task_options.label_column)",
            f"the columns {', '.join(header)}",
        )
    identifier = id_column or next((column for column in ID_COLUMNS if column in header), None)
    for given, role in ((id_column, "id"), (time_column, "time")):
        if given is not None and given not in header:
            raise FormatError(name, "line 1", f"the {role} column {given!r}", ", ".join(header))
    if is_long(header, rows, identifier):
        clock = time_column or next((column for column in TIME_COLUMNS if column in header), None)
        return _long(name, header, rows, identifier, clock, label_column)
    return _wide(name, header, rows, identifier, label_column)


def is_long(header: list[str], rows: list[list[str]], identifier: str | None) -> bool:
    """Whether a table (rows as :func:`read_table` gives them) is long: an id column whose
    values repeat, one row per step; else wide, one row per series."""
    if identifier is None or identifier not in header:
        return False
    at = header.index(identifier)
    ids = [row[at].strip() for row in rows[1:] if any(cell.strip() for cell in row)]
    return len(set(ids)) < len(ids)


def _cell(text: str, name: str, where: str) -> float:
    """A CSV cell as a finite number (digit groups and missing values refused)."""
    value = text.strip()
    try:
        if "_" in value:
            raise ValueError(value)
        number = float(value)
    except ValueError:
        raise FormatError(
            name, where, "a number", repr(text) if value else "an empty cell"
        ) from None
    if not math.isfinite(number):
        raise FormatError(name, where, "a finite number (no missing values)", value)
    return number


class LongRows:
    """Reads a long table one row at a time: each row's cells checked (numbers, the series'
    one label, its times increasing); each series' values kept, or, for a lazy index, only
    where its rows begin in the file and how many there are.

    Args:
        name: the file, for messages.
        header: the column names.
        identifier, clock, label_column: the id, time (or None) and label columns.
        keep_values: keep the values (else the rows of a series must be together).
    """

    def __init__(
        self,
        name: str,
        header: list[str],
        identifier: str,
        clock: str | None,
        label_column: str,
        keep_values: bool = True,
    ) -> None:
        self.name, self.clock, self.keep_values = name, clock, keep_values
        self.at_id = header.index(identifier)
        self.at_clock = None if clock is None else header.index(clock)
        self.at_label = header.index(label_column) if label_column in header else None
        skipped = {identifier, clock, label_column}
        self.channels = tuple(column for column in header if column not in skipped)
        if not self.channels:
            raise FormatError(name, "line 1", "at least one channel column", ", ".join(header))
        self.at_channels = [header.index(column) for column in self.channels]
        self.steps: dict[str, list[list[float]]] = defaultdict(list)
        self.starts: dict[str, int] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.labels: dict[str, str] = {}
        self.last_time: dict[str, float] = {}
        self.current: str | None = None

    def values(self, row: list[str], number: int) -> list[float]:
        """The channels' values of one row, checked."""
        return [
            _cell(row[index], self.name, f"line {number}, column {column!r}")
            for index, column in zip(self.at_channels, self.channels, strict=True)
        ]

    def add(self, row: list[str], number: int, offset: int = 0) -> None:
        """Check the row at line ``number`` (starting at byte ``offset``) and take it in."""
        key = row[self.at_id].strip()
        values = self.values(row, number)
        if key != self.current:
            if not self.keep_values and key in self.starts:
                raise FormatError(
                    self.name,
                    f"line {number}",
                    f"the rows of series {key!r} together (sort the rows by id to read lazily)",
                    "a row after another series",
                )
            self.starts.setdefault(key, offset)
            self.current = key
        self.counts[key] += 1
        if self.keep_values:
            self.steps[key].append(values)
        if self.at_clock is not None:
            where = f"line {number}, column {self.clock!r}"
            time = _cell(row[self.at_clock], self.name, where)
            before = self.last_time.get(key)
            if before is not None and not time > before:
                what = "a repeated time" if time == before else "an earlier time"
                raise FormatError(
                    self.name,
                    where,
                    f"times increasing within series {key!r} (sort the rows by id and time)",
                    f"{what}, {time:g} after {before:g}",
                )
            self.last_time[key] = time
        if self.at_label is not None:
            label = row[self.at_label].strip()
            if self.labels.setdefault(key, label) != label:
                raise FormatError(
                    self.name,
                    f"line {number}",
                    f"the label {self.labels[key]!r} of series {key!r} on every one of its rows",
                    repr(label),
                )

    def label_list(self) -> list[str] | None:
        """The series' labels in the order the file first names them, or None without any."""
        return None if self.at_label is None else [self.labels[key] for key in self.counts]

    def table(self) -> SeriesTable:
        """The series read (``keep_values``)."""
        ids = list(self.steps)
        series = [np.asarray(self.steps[key], dtype=np.float64) for key in ids]
        return SeriesTable(ids, series, self.label_list(), self.channels, self.name)


def _long(
    name: str,
    header: list[str],
    rows: list[list[str]],
    identifier: str,
    clock: str | None,
    label_column: str,
) -> SeriesTable:
    reader = LongRows(name, header, identifier, clock, label_column)
    for number, row in enumerate(rows[1:], start=2):
        if any(cell.strip() for cell in row):
            reader.add(row, number)
    return reader.table()


def _wide(
    name: str, header: list[str], rows: list[list[str]], identifier: str | None, label_column: str
) -> SeriesTable:
    label_at = header.index(label_column) if label_column in header else None
    columns = [
        index for index, column in enumerate(header) if column not in (identifier, label_column)
    ]
    if not columns:
        raise FormatError(name, "line 1", "at least one value column", ", ".join(header))
    ids, series, labels = [], [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        key = row[header.index(identifier)].strip() if identifier else str(number - 2)
        if key in ids:
            raise FormatError(name, f"line {number}", f"a new id in column {identifier!r}", key)
        cells = [row[index] for index in columns]
        length = len(cells)
        while length and not cells[length - 1].strip():  # a shorter series ends early
            length -= 1
        values = [
            _cell(cells[step], name, f"line {number}, column {header[columns[step]]!r}")
            for step in range(length)
        ]
        ids.append(key)
        series.append(np.asarray(values, dtype=np.float64).reshape(-1, 1))
        if label_at is not None:
            labels.append(row[label_at].strip())
    return SeriesTable(ids, series, labels if label_at is not None else None, ("value",), name)
