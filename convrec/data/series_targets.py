"""A user's series with numeric targets (regression), one value set per series or per step.

The files are those of :mod:`convrec.data.series_files`, with target columns instead of a label:

- long CSV: the target columns beside the channels, on every row; a target per series must be
  the same on every row of the series, a target per step may vary.
- wide CSV (one row per series): one target column, per series.
- ``.npz``: ``X`` stacked ``(N, T, C)`` (or ``(N, T)``) with ``y`` ``(N,)`` or ``(N, K)`` per
  series, or ``(N, T)`` / ``(N, T, K)`` per step; or one array per key with ``y`` per series.
- ``.ts``: a UEA regression file (``@targetLabel true``), one target per series.

Every target must be a finite number; anything else is a
:class:`~convrec.data.readers.FormatError` naming the file and where.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convrec.data.readers import FormatError, read_npz_arrays, read_ts
from convrec.data.series_files import (
    ID_COLUMNS,
    SeriesTable,
    check_series,
    is_long,
    read_series,
    read_table,
)
from convrec.errors import InvalidValueError, PathNotFoundError

NO_LABEL = "\x00"
"""A label column no file has: every column is read as a channel."""


@dataclass
class TargetTable:
    """Series and their numeric targets, read from one file.

    Attributes:
        ids: one name per series.
        series: one float64 array ``(T_i, C)`` per series.
        targets: per series ``(K,)`` or per step ``(T_i, K)`` float64 arrays, or None when the
            file has none (prediction).
        channels: the ``C`` input channels' names.
        target_columns: the ``K`` targets' names.
        source: the file's path, for messages.
    """

    ids: list[str]
    series: list[np.ndarray]
    targets: list[np.ndarray] | None
    channels: tuple[str, ...]
    target_columns: tuple[str, ...]
    source: str


def read_series_targets(
    path: str | Path,
    *,
    target_columns: tuple[str, ...],
    per_step: bool,
    id_column: str | None = None,
    time_column: str | None = None,
    labelled: bool = True,
) -> TargetTable:
    """Read the series of one file and their targets (see the module).

    Args:
        path: a ``.csv``, ``.npz`` or ``.ts`` file.
        target_columns: the CSV columns holding the targets (names given to ``.npz`` and ``.ts``
            targets when they have the same count).
        per_step: targets per step, else per series.
        id_column, time_column: as :func:`~convrec.data.series_files.read_series` takes them.
        labelled: whether targets are required (training, evaluation) or may be absent.

    Raises:
        PathNotFoundError, InvalidValueError, FormatError: as ``read_series``, and for targets
            missing, not numbers, or varying within a series whose target is per series.
    """
    path = Path(path)
    if not path.is_file():
        raise PathNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        table = _from_npz(path, target_columns, per_step)
    elif suffix == ".ts":
        table = _from_ts(path, target_columns, per_step)
    else:
        table = _from_csv(path, target_columns, per_step, id_column, time_column, labelled)
    if labelled and table.targets is None:
        raise FormatError(
            table.source,
            "the file",
            f"the targets {', '.join(target_columns)}",
            "none",
        )
    return table


def _from_csv(
    path: Path,
    target_columns: tuple[str, ...],
    per_step: bool,
    id_column: str | None,
    time_column: str | None,
    labelled: bool,
) -> TargetTable:
    header, rows, name = read_table(path)
    if labelled and not any(column in header for column in target_columns):
        raise FormatError(
            name,
            "line 1",
            f"the target columns {', '.join(target_columns)} (name yours with "
            "task_options.target_columns)",
            f"the columns {', '.join(header)}",
        )
    every = read_series(
        path, label_column=NO_LABEL, id_column=id_column, time_column=time_column, labelled=False
    )
    identifier = id_column or next((column for column in ID_COLUMNS if column in header), None)
    if not is_long(header, rows, identifier):
        return _from_wide(path, target_columns, per_step, id_column)
    present = [column for column in target_columns if column in every.channels]
    if present and len(present) < len(target_columns):
        missing = sorted(set(target_columns) - set(present))
        raise FormatError(every.source, "line 1", "every target column", f"no {missing}")
    channels = tuple(column for column in every.channels if column not in target_columns)
    if not channels:
        raise FormatError(every.source, "line 1", "at least one channel column", "only targets")
    inputs = [array[:, [every.channels.index(c) for c in channels]] for array in every.series]
    if not present:
        return TargetTable(every.ids, inputs, None, channels, target_columns, every.source)
    at = [every.channels.index(column) for column in target_columns]
    targets = [array[:, at] for array in every.series]
    if not per_step:
        targets = [
            _constant(every.source, key, rows) for key, rows in zip(every.ids, targets, strict=True)
        ]
    return TargetTable(every.ids, inputs, targets, channels, target_columns, every.source)


def _constant(source: str, key: str, rows: np.ndarray) -> np.ndarray:
    """The one target row of a series whose target is per series."""
    changes = np.flatnonzero(np.any(rows != rows[0], axis=1))
    if len(changes):
        raise FormatError(
            source,
            f"series {key!r}, step {changes[0]}",
            f"the target {rows[0].tolist()} of the series on every one of its rows (or "
            "per_step=true for a target per step)",
            rows[changes[0]].tolist(),
        )
    return rows[0]


def _from_wide(
    path: Path, target_columns: tuple[str, ...], per_step: bool, id_column: str | None
) -> TargetTable:
    if per_step or len(target_columns) != 1:
        raise InvalidValueError(
            f"{path}: a wide CSV (one row per series) holds one target per series; write "
            "targets per step, or several, as a long CSV or a .npz"
        )
    table = read_series(path, label_column=target_columns[0], id_column=id_column, labelled=False)
    targets = None if table.labels is None else _numbers(table)
    return TargetTable(
        table.ids, table.series, targets, table.channels, target_columns, table.source
    )


def _numbers(table: SeriesTable) -> list[np.ndarray]:
    """A wide CSV's target column as numbers (read as the label column, after the first read
    checked every cell of it as a number)."""
    return [np.array([float(text)]) for text in table.labels]


def _from_npz(path: Path, target_columns: tuple[str, ...], per_step: bool) -> TargetTable:
    arrays = read_npz_arrays(path, kinds="iuf")
    name = str(path)
    targets = arrays.pop("y", None)
    if "X" in arrays:
        stacked = arrays.pop("X")
        if arrays or stacked.ndim not in (2, 3):
            raise FormatError(name, "array 'X'", "only 'X' (N, T) or (N, T, C) and 'y'", "more")
        series = list(stacked.astype(np.float64).reshape(*stacked.shape[:2], -1))
        ids = [str(index) for index in range(len(series))]
    else:
        ids = list(arrays)
        series = [array.astype(np.float64).reshape(len(array), -1) for array in arrays.values()]
    channels = tuple(f"c{index}" for index in range(series[0].shape[1] if series else 0))
    if targets is None:
        return TargetTable(ids, series, None, channels, target_columns, name)
    count = len(series)
    if per_step:
        length = len(series[0])
        expected = f"(N, T) or (N, T, K) per step, with N = {count} and T = {length}"
        fits = targets.ndim in (2, 3) and len({len(item) for item in series}) == 1
        fits = fits and targets.shape[:2] == (count, length)
        rows = [target.reshape(length, -1).astype(np.float64) for target in targets] if fits else []
    else:
        expected = f"(N,) or (N, K) per series: N = {count}"
        fits = targets.ndim in (1, 2) and len(targets) == count
        rows = [np.atleast_1d(target).astype(np.float64) for target in targets] if fits else []
    if not fits:
        raise FormatError(name, "array 'y'", expected, f"shape {targets.shape}")
    return _named(TargetTable(ids, series, rows, channels, target_columns, name))


def _from_ts(path: Path, target_columns: tuple[str, ...], per_step: bool) -> TargetTable:
    archive = read_ts(path)
    name = str(path)
    if per_step:
        raise InvalidValueError(f"{name}: a .ts file holds one target per series, not per step")
    if archive.labels is not None and archive.labels.dtype.kind != "f":
        raise FormatError(name, "the header", "@targetLabel true (numbers)", "class labels")
    series = [np.asarray(case, dtype=np.float64) for case in archive.series]
    channels = tuple(f"c{index}" for index in range(archive.dimensions))
    ids = [str(index) for index in range(len(series))]
    targets = None if archive.labels is None else [np.array([v]) for v in archive.labels]
    return _named(TargetTable(ids, series, targets, channels, target_columns, name))


def _named(table: TargetTable) -> TargetTable:
    """Check an archive's series as ``read_series`` does, and its targets: finite, and as many
    as ``target_columns`` names."""
    check_series(SeriesTable(table.ids, table.series, None, table.channels, table.source), False)
    width = table.targets[0].shape[-1]
    for key, target in zip(table.ids, table.targets, strict=True):
        if not np.all(np.isfinite(target)):
            raise FormatError(table.source, f"target of {key!r}", "finite numbers", target)
    if width != len(table.target_columns):
        table.target_columns = tuple(f"y{index}" for index in range(width))
    return table
