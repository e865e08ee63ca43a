"""A user's series to forecast, from a file: a CSV with a time column and value columns, or a
``.npy`` array.

- ``.csv``: a header line, then one row per step. The time column (named, or the first whose
  name is one of :data:`TIME_COLUMNS`, in any case) holds numbers (``1700``, ``0.5``) or ISO 8601
  dates and times (``2014-01-31``, ``2014-01-31 12:30``); its values must increase by one regular
  step (a fixed duration, or a whole number of months: monthly and yearly dates are regular
  though months differ in length). Every other column (or those named) is a value column of
  numbers; an empty cell or ``NA`` is a missing value (NaN here; the task refuses or fills it).
- ``.parquet``: the same table, read with pandas and pyarrow when installed.
- ``.npy``: ``(N,)`` or ``(N, F)`` numbers, one row per step, no times.

Anything else is a :class:`~convrec.data.readers.FormatError` naming the file, the line and what
is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convrec.data.readers import FormatError
from convrec.data.series_files import read_table
from convrec.errors import InvalidValueError, PathNotFoundError

TIME_COLUMNS = ("time", "timestamp", "date", "datetime", "ds", "year", "month", "week", "day")
SUFFIXES = (".csv", ".parquet", ".npy")
MISSING = ("", "na", "nan", "null", "none")
"""Cells read as missing values (case ignored)."""
DATE_HINT = "numbers or ISO 8601 dates (2014-01-31, 2014-01-31 12:30)"


@dataclass(frozen=True)
class Step:
    """The regular interval between a series' times: ``amount`` of ``unit``, where ``unit`` is
    ``'number'`` (numeric times), ``'month'`` (calendar months, at the same day and time of
    each), ``'month-end'`` (calendar months, at the last day of each) or ``'s'`` (seconds)."""

    amount: float
    unit: str

    def describe(self) -> str:
        """``'1'``, ``'30 minutes'``, ``'1 day'``, ``'3 months'``, ``'1 year'``."""
        if self.unit == "number":
            return f"{self.amount:g}"
        if self.unit in ("month", "month-end"):
            years, months = divmod(int(self.amount), 12)
            return _count(years, "year") if not months else _count(int(self.amount), "month")
        for size, name in ((86400 * 7, "week"), (86400, "day"), (3600, "hour"), (60, "minute")):
            if self.amount % size == 0:
                return _count(int(self.amount // size), name)
        return _count(self.amount, "second")

    def after(self, last: float | np.datetime64, count: int) -> list[str]:
        """The ``count`` times that follow ``last``, as text in the file's own style."""
        steps = np.arange(1, count + 1)
        if self.unit == "number":
            return [f"{last + self.amount * step:.15g}" for step in steps]
        if self.unit in ("month", "month-end"):
            month = last.astype("datetime64[M]")
            months = month + (steps * int(self.amount)).astype("timedelta64[M]")
            if self.unit == "month-end":  # the day before the next month begins, same time
                offset = last - (month + 1).astype(last.dtype)
                return [_date_text((next + 1).astype(last.dtype) + offset) for next in months]
            offset = last - month.astype(last.dtype)
            return [_date_text(time.astype(last.dtype) + offset) for time in months]
        clock = self.amount % 86400 != 0
        return [
            _date_text(last + np.timedelta64(int(self.amount), "s") * step, clock) for step in steps
        ]


def _count(amount: float, unit: str) -> str:
    return f"{amount:g} {unit}" + ("" if amount == 1 else "s")


def _date_text(time: np.datetime64, clock: bool = False) -> str:
    """``2014-01-31``, or with ``clock`` (or a time of day) ``2014-01-31 12:30:00``."""
    text = str(np.datetime_as_string(time, unit="s")).replace("T", " ")
    return text if clock else text.removesuffix(" 00:00:00")


@dataclass
class TimedSeries:
    """One series read from a file.

    Attributes:
        values: ``(N, F)`` float64, one row per step, NaN where a value is missing.
        columns: the names of the ``F`` value columns (``value`` or ``c0``, ``c1``, ... for arrays).
        times: ``(N,)`` float64 or ``datetime64[s]``, or None when the file has no time column.
        step: the regular interval between the times, or None without times.
        source: the file's path, for messages.
        time_column: the column the times came from, or None.
    """

    values: np.ndarray
    columns: tuple[str, ...]
    times: np.ndarray | None
    step: Step | None
    source: str
    time_column: str | None = None

    def time_text(self, index: int) -> str:
        """The time of step ``index`` as text (its position where the file has no times)."""
        if self.times is None:
            return str(index)
        time = self.times[index]
        if self.times.dtype.kind == "f":
            return f"{time:.15g}"
        return _date_text(
            time, self.step is not None and self.step.unit == "s" and self.step.amount % 86400 != 0
        )


def parse_time(text: str) -> float | np.datetime64:
    """A time written by :meth:`TimedSeries.time_text` or :meth:`Step.after`, read back."""
    try:
        return float(text)
    except ValueError:
        return np.datetime64(text.replace(" ", "T"), "s")


def read_timed_series(
    path: str | Path, *, time_column: str | None = None, columns: list[str] | None = None
) -> TimedSeries:
    """Read the series in ``path`` (the format from its suffix; see the module).

    Args:
        path: a ``.csv`` or ``.npy`` file.
        time_column: the CSV column of times (default: the first of :data:`TIME_COLUMNS`
            present, case ignored; ``'none'`` for no time column).
        columns: the value columns to read (default: every column but the time column).

    Raises:
        PathNotFoundError: no file at ``path``.
        InvalidValueError: an unknown suffix.
        FormatError: anything malformed (see the module).
    """
    path = Path(path)
    if not path.is_file():
        raise PathNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".parquet"):
        series = _from_csv(path, time_column, columns)
    elif suffix == ".npy":
        series = _from_npy(path, columns)
    else:
        raise InvalidValueError(
            f"{path}: expected a series in a {', '.join(SUFFIXES)} file, got the suffix "
            f"{path.suffix or '(none)'!r}"
        )
    if len(series.values) == 0:
        raise FormatError(series.source, "the file", "at least one step", "none")
    return series


def _from_npy(path: Path, columns: list[str] | None) -> TimedSeries:
    name = str(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise FormatError(name, "byte 0", "a NumPy .npy array of numbers", f"{error}") from None
    if array.ndim not in (1, 2) or array.dtype.kind not in "iuf":
        raise FormatError(name, "the array", "numbers of shape (N,) or (N, F)", array.shape)
    values = array.astype(np.float64).reshape(len(array), -1)
    if np.isinf(values).any():
        step = int(np.argwhere(np.isinf(values))[0][0])
        raise FormatError(name, f"row {step}", "finite numbers (NaN for a missing value)", "inf")
    names = ("value",) if array.ndim == 1 else tuple(f"c{i}" for i in range(values.shape[1]))
    if columns is not None:
        unknown = [column for column in columns if column not in names]
        if unknown:
            raise FormatError(name, "the array", f"the columns {', '.join(names)}", unknown)
        values = values[:, [names.index(column) for column in columns]]
        names = tuple(columns)
    return TimedSeries(values, names, None, None, name)


def _from_csv(path: Path, time_column: str | None, columns: list[str] | None) -> TimedSeries:
    header, rows, name = read_table(path)
    clock = _time_column(name, header, time_column)
    wanted = columns or [column for column in header if column != clock]
    for column in wanted:
        if column not in header or column == clock:
            raise FormatError(name, "line 1", f"the value column {column!r}", ", ".join(header))
    if not wanted:
        raise FormatError(name, "line 1", "at least one value column", ", ".join(header))
    numbered = [
        (number, row)
        for number, row in enumerate(rows[1:], start=2)
        if any(cell.strip() for cell in row)
    ]
    at = [header.index(column) for column in wanted]
    values = np.array(
        [
            [_value(row[index], name, number, header[index]) for index in at]
            for number, row in numbered
        ],
        dtype=np.float64,
    ).reshape(len(numbered), len(wanted))
    if clock is None:
        return TimedSeries(values, tuple(wanted), None, None, name)
    times = _times(name, [(number, row[header.index(clock)]) for number, row in numbered], clock)
    lines = [number for number, _ in numbered]
    step = _regular_step(name, times, lines, clock)
    return TimedSeries(values, tuple(wanted), times, step, name, clock)


def _time_column(name: str, header: list[str], time_column: str | None) -> str | None:
    if time_column == "none":
        return None
    if time_column is not None:
        if time_column not in header:
            raise FormatError(name, "line 1", f"the time column {time_column!r}", ", ".join(header))
        return time_column
    return next((column for column in header if column.lower() in TIME_COLUMNS), None)


def _value(text: str, name: str, number: int, column: str) -> float:
    """A value cell as a number; a missing one is NaN."""
    value = text.strip()
    if value.lower() in MISSING:
        return math.nan
    try:
        if "_" in value:
            raise ValueError(value)
        number_value = float(value)
    except ValueError:
        raise FormatError(
            name,
            f"line {number}, column {column!r}",
            "a number or an empty cell",
            repr(text),
            "Name the value columns to read with `columns`.",
        ) from None
    if math.isinf(number_value):
        raise FormatError(name, f"line {number}, column {column!r}", "a finite number", value)
    return number_value


def _times(name: str, cells: list[tuple[int, str]], clock: str) -> np.ndarray:
    """The time column as float64 numbers, or as ``datetime64[s]`` when any cell is a date."""
    try:
        return np.array([float(text) for _, text in cells], dtype=np.float64)
    except ValueError:
        pass
    times = []
    for number, text in cells:
        try:
            times.append(np.datetime64(text.strip().replace(" ", "T"), "s"))
        except ValueError:
            raise FormatError(
                name, f"line {number}, column {clock!r}", DATE_HINT, repr(text)
            ) from None
    return np.array(times, dtype="datetime64[s]")


def _regular_step(name: str, times: np.ndarray, lines: list[int], clock: str) -> Step | None:
    """The one interval between consecutive times; unsorted, repeated or irregular times are
    refused, naming the first line that breaks the order."""
    if len(times) < 2:
        return None
    gaps = np.diff(times)
    for index, gap in enumerate(gaps):
        if not gap > gaps.dtype.type(0):
            raise FormatError(
                name,
                f"line {lines[index + 1]}, column {clock!r}",
                "times increasing from row to row (sort the rows by time)",
                f"{'a repeated' if gap == 0 else 'an earlier'} time",
            )
    if times.dtype.kind == "f":
        step = float(np.median(gaps))
        irregular = np.flatnonzero(~np.isclose(gaps, step, rtol=1e-6, atol=0))
        candidate = Step(step, "number")
    else:
        candidate = _month_step(times)
        if candidate is not None:  # calendar months: their lengths differ, the dates do not
            irregular = np.flatnonzero(np.diff(times.astype("datetime64[M]")) != candidate.amount)
        else:
            seconds = gaps.astype(np.int64)
            candidate = Step(int(np.median(seconds)), "s")
            irregular = np.flatnonzero(seconds != candidate.amount)
    if len(irregular):
        index = int(irregular[0])
        raise FormatError(
            name,
            f"line {lines[index + 1]}, column {clock!r}",
            f"one regular step between times ({candidate.describe()} for most rows)",
            f"{_gap_text(times[index], times[index + 1])}",
            "Fill the missing steps (empty value cells are allowed) or drop the time column "
            "with time_column=none.",
        )
    return candidate


def _month_step(times: np.ndarray) -> Step | None:
    """A step of whole months if every time falls on the last day of its month (month ends
    win: Jan 31 and Mar 31 go on to May 31) or on the same day of it, at the same clock time,
    and no two share a month; else None."""
    months = times.astype("datetime64[M]")
    gaps = np.diff(months).astype(np.int64)
    if gaps.min() < 1:
        return None
    clock = times - times.astype("datetime64[D]").astype(times.dtype)
    last_days = (times + np.timedelta64(1, "D")).astype("datetime64[M]") != months
    from_start = times - months.astype(times.dtype)
    amount = int(np.median(gaps))
    if np.all(last_days) and np.all(clock == clock[0]):
        return Step(amount, "month-end")
    if np.all(from_start == from_start[0]):
        return Step(amount, "month")
    return None


def _gap_text(before: float | np.datetime64, after: float | np.datetime64) -> str:
    if isinstance(before, np.datetime64):
        return f"{_date_text(after)} after {_date_text(before)}"
    return f"{after:g} after {before:g}"
