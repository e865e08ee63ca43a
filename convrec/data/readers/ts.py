"""UCR/UEA ``.ts`` files: time-series classification and regression archives.

A file opens with comments (``#``, or ``%`` as in ARFF) and ``@`` headers (case-insensitive), then
``@data`` and one case per line: the channels separated by ``:``, the values of a channel by ``,``,
the label last, ``?`` for a missing value::

    @problemName Tiny
    @timeStamps false
    @missing true
    @univariate false
    @dimensions 2
    @equalLength true
    @seriesLength 3
    @classLabel true up down
    @data
    1,2,3:4,5,?:up

Whatever the header promises is checked against every case: the number of channels, equal lengths,
the series length, missing values and the labels. Timestamped files (``@timeStamps true``) are
refused. A header given twice is refused, except ``@problemName`` (``UnitTest_TEST.ts`` in the
sktime wheel names itself twice); the first name is kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from convrec.data.readers.errors import FormatError
from convrec.data.readers.source import Source, read_text

COMMENTS = ("#", "%")
HEADERS = {
    "problemname": "@problemName",
    "timestamps": "@timeStamps",
    "missing": "@missing",
    "univariate": "@univariate",
    "dimensions": "@dimensions",
    "equallength": "@equalLength",
    "serieslength": "@seriesLength",
    "classlabel": "@classLabel",
    "targetlabel": "@targetLabel",
}


@dataclass(frozen=True)
class TsFile:
    """The cases of a ``.ts`` file and what its header says.

    Attributes:
        series: one float64 array per case, NaN where the file has ``?``.
        labels: the class name of each case (str), its target (float64) for regression, or
            ``None`` for an unlabelled file.
        class_names: the classes declared by ``@classLabel true ...``, in order; ``None`` for
            regression and unlabelled files.
        problem_name: ``@problemName``, or ``None``.
        dimensions: channels per case.
        equal_length: whether every case has the same length (checked, whatever the header says).
        series_length: the common length when ``equal_length``, else ``None``.
        header: every header as written, keyed by its lower-cased tag without ``@``.

    Shape:
        series[i]: ``(T_i, dimensions)``; labels: ``(N,)`` for ``N`` cases.
    """

    series: list[np.ndarray]
    labels: np.ndarray | None
    class_names: tuple[str, ...] | None
    problem_name: str | None
    dimensions: int
    equal_length: bool
    series_length: int | None
    header: Mapping[str, str]


def read_ts(source: Source) -> TsFile:
    """Read a UCR/UEA ``.ts`` file (optionally gzip-compressed).

    Args:
        source: a path (str or Path) or the file's bytes.

    Returns:
        A :class:`TsFile`; ``series[i]`` has shape ``(T_i, channels)``.

    Raises:
        FormatError: a malformed header, or a case that breaks what the header promises.

    Example:
        >>> text = "@univariate true\\n@classLabel true a b\\n@data\\n1,2,?:b\\n3,4,5:a\\n"
        >>> tiny = read_ts(text.encode())
        >>> tiny.series[0]
        array([[ 1.],
               [ 2.],
               [nan]])
        >>> tiny.labels, tiny.class_names, tiny.series_length
        (array(['b', 'a'], dtype='<U1'), ('a', 'b'), 3)
    """
    text, name = read_text(source)
    lines = text.split("\n")
    header = _Header.read(lines, name)
    return _read_cases(lines, header, _Promises.of(header, name), name)


@dataclass(frozen=True)
class _Header:
    """The headers before ``@data``: value and line number by lower-cased tag."""

    values: dict[str, str]
    line_numbers: dict[str, int]
    data_line: int

    @classmethod
    def read(cls, lines: list[str], name: str) -> _Header:
        values: dict[str, str] = {}
        line_numbers: dict[str, int] = {}
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line or line.startswith(COMMENTS):
                continue
            if not line.startswith("@"):
                expected = "a comment ('#' or '%') or an '@' header before @data"
                raise FormatError(name, f"line {number}", expected, repr(line[:40]))
            written, _, value = line[1:].replace("\t", " ").partition(" ")
            tag = written.lower()
            if tag == "data":
                return cls(values, line_numbers, number)
            if tag not in HEADERS:
                expected = f"a header among {', '.join(HEADERS.values())} or @data"
                raise FormatError(name, f"line {number}", expected, f"@{written}")
            if tag in values and tag != "problemname":
                raise FormatError(name, f"line {number}", f"{HEADERS[tag]} once", "a second one")
            values.setdefault(tag, value.strip())
            line_numbers.setdefault(tag, number)
        last = len(lines) - (lines[-1] == "")
        raise FormatError(name, f"line {last}", "an @data line", "the end of the file")

    def flag(self, tag: str, default: bool, name: str) -> bool:
        """A ``true``/``false`` header, ``default`` when absent."""
        value = self.values.get(tag, str(default)).lower()
        if value not in ("true", "false"):
            raise self.error(tag, name, "true or false", value)
        return value == "true"

    def count(self, tag: str, name: str) -> int | None:
        """A positive integer header, ``None`` when absent."""
        if tag not in self.values:
            return None
        if not re.fullmatch(r"0*[1-9][0-9]{0,8}", self.values[tag]):
            raise self.error(tag, name, "a positive integer", self.values[tag])
        return int(self.values[tag])

    def error(self, tag: str, name: str, expected: str, got: object) -> FormatError:
        return FormatError(
            name, f"line {self.line_numbers[tag]}", f"{HEADERS[tag]} {expected}", got
        )


@dataclass(frozen=True)
class _Promises:
    """What the header promises about every case."""

    dimensions: int | None
    equal_length: bool
    series_length: int | None
    missing: bool
    class_names: tuple[str, ...] | None
    regression: bool

    @classmethod
    def of(cls, header: _Header, name: str) -> _Promises:
        if header.flag("timestamps", False, name):
            raise header.error(
                "timestamps",
                name,
                "false",
                "true: timestamped series are not supported; write the values without times",
            )
        dimensions = header.count("dimensions", name)
        if header.flag("univariate", False, name):
            if dimensions not in (None, 1):
                raise header.error("dimensions", name, "1 with @univariate true", dimensions)
            dimensions = 1
        series_length = header.count("serieslength", name)
        switch, _, listed = header.values.get("classlabel", "").partition(" ")
        class_names = tuple(listed.split()) or None
        if "classlabel" in header.values and (switch.lower() == "true") != bool(class_names):
            raise header.error(
                "classlabel", name, "true <names> or false", header.values["classlabel"]
            )
        if class_names is not None and len(set(class_names)) < len(class_names):
            raise header.error("classlabel", name, "with distinct class names", listed)
        regression = header.flag("targetlabel", False, name)
        if "classlabel" not in header.values and "targetlabel" not in header.values:
            expected = "@classLabel or @targetLabel before @data"
            raise FormatError(name, f"line {header.data_line}", expected, "neither")
        if regression and class_names is not None:
            raise header.error("targetlabel", name, "false with @classLabel true", "true")
        return cls(
            dimensions=dimensions,
            equal_length=header.flag("equallength", False, name) or series_length is not None,
            series_length=series_length,
            missing=header.flag("missing", True, name),
            class_names=class_names,
            regression=regression,
        )


def _read_cases(lines: list[str], header: _Header, promises: _Promises, name: str) -> TsFile:
    """Parse and check the cases after the ``@data`` line."""
    labelled = promises.regression or promises.class_names is not None
    dimensions = promises.dimensions
    series: list[np.ndarray] = []
    labels: list[str | float] = []
    for number in range(header.data_line + 1, len(lines) + 1):
        line = lines[number - 1].strip()
        if not line or line.startswith(COMMENTS):
            continue
        position = f"line {number}"
        fields = line.split(":")
        label = fields.pop().strip() if labelled else None
        if not fields or len(fields) != (dimensions or len(fields)):
            expected = f"{dimensions or 'one or more'} channels separated by ':'"
            expected += ", then the label" if labelled else ""
            raise FormatError(name, position, expected, f"{len(fields)} channels")
        dimensions = len(fields)
        if label is not None:
            labels.append(_label(label, promises, name, position))
        if not promises.missing and "?" in line:
            raise FormatError(name, position, "no '?' (the header says @missing false)", "'?'")
        channels = [_channel(field, name, position, index) for index, field in enumerate(fields)]
        length = len(channels[0])
        if any(len(channel) != length for channel in channels):
            lengths = ", ".join(str(len(channel)) for channel in channels)
            raise FormatError(name, position, "channels of one length", f"lengths {lengths}")
        if promises.series_length not in (None, length):
            expected = f"{promises.series_length} values per channel (@seriesLength)"
            raise FormatError(name, position, expected, length)
        if promises.equal_length and series and length != len(series[0]):
            expected = f"{len(series[0])} values per channel like the first case (@equalLength)"
            raise FormatError(name, position, expected, length)
        series.append(np.stack(channels, axis=1))  # (T, C)
    lengths = {len(case) for case in series}
    dtype = np.float64 if promises.regression else str
    return TsFile(
        series=series,
        labels=np.array(labels, dtype=dtype) if labelled else None,
        class_names=promises.class_names,
        problem_name=header.values.get("problemname"),
        dimensions=dimensions or 0,
        equal_length=len(lengths) <= 1,
        series_length=lengths.pop() if len(lengths) == 1 else None,
        header=header.values,
    )


def _label(text: str, promises: _Promises, name: str, position: str) -> str | float:
    """A case's label: one of the declared class names, or a number for regression."""
    if promises.regression:
        try:
            if "_" in text:  # float() reads "1_0" as 10
                raise ValueError(text)
            return float(text)
        except ValueError:
            raise FormatError(name, position, "a numeric target last", repr(text)) from None
    if text not in promises.class_names:
        expected = f"a class label among {', '.join(promises.class_names)} last"
        raise FormatError(name, position, expected, repr(text))
    return text


def _channel(field: str, name: str, position: str, number: int) -> np.ndarray:
    """One channel's comma-separated values, ``?`` read as NaN.

    Shape:
        ``(T,)`` float64.
    """
    values = field.replace("?", "nan").split(",")
    try:
        if "_" in field:  # NumPy reads "1_0" as 10; a data file never means that
            raise ValueError(field)
        return np.array(values, dtype=np.float64)
    except ValueError:
        column, value = next(
            (column, value) for column, value in enumerate(field.split(",")) if not _number(value)
        )
        raise FormatError(
            name,
            f"{position}, channel {number + 1}, value {column + 1}",
            "a number or '?'",
            repr(value),
        ) from None


def _number(text: str) -> bool:
    if "_" in text:
        return False
    try:
        np.array([text.replace("?", "nan")], dtype=np.float64)
    except ValueError:
        return False
    return True
