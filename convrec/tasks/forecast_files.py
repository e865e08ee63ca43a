"""Your own series to forecast: ``convrec train forecast --data FILE [--test FILE]``.

The file (a CSV with a time column and value columns, or a ``.npy`` array; see
:mod:`convrec.data.forecast_files`) is one series in time order. The model sees the last
``lookback`` steps of every value column (the target and its covariates) and forecasts the
next ``horizon`` values of ``target``. The splits are chronological: without ``--test`` the last
``test_split`` of the steps tests and the ``validation_split`` before it chooses the epoch; a
``--validation`` or ``--test`` file must continue the series where the one before it ends (its
windows may look back into the steps before it, as a forecast made then would). Every column is
standardised with the training part's mean and standard deviation; errors are reported in the
target's own units. Everything prediction needs (columns, time column, step, lookback,
normalisation) is saved in the run: ``convrec predict RUN recent.csv`` forecasts the
``horizon`` steps after the file's last one, with their times.
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset

from convrec.checks import fail, flag, keyword_names, positive_int
from convrec.data.forecast_files import Step, TimedSeries, parse_time, read_timed_series
from convrec.data.forecasting import SeriesWindows, chronological_ends, fill_gaps, windowed
from convrec.data.splits import Splits
from convrec.errors import InvalidValueError
from convrec.tasks.base import register_task
from convrec.tasks.files import require_paths, split_fraction
from convrec.tasks.forecasting import Forecasting

FORECAST_MODELS: dict[str, dict[str, Any]] = {
    "forecaster": {"epochs": 200, "batch_size": 16, "lr": 3e-3, "weight_decay": 1e-4},
}
ROLES = ("data", "validation", "test")


@register_task
class ForecastFiles(Forecasting):
    """Forecasting a user's own series, read from files.

    Args:
        data: the series to learn from (a ``.csv`` or ``.npy`` file).
        test, validation: files continuing it (default: the chronological splits of ``data``).
        target: the value column to forecast (default: the only one).
        columns: the value columns the model sees (default: every column but the time column).
        time_column: the CSV column of times (default: found by name; ``'none'`` for none).
        lookback: steps the model sees; horizon: steps it forecasts.
        validation_split, test_split: the fractions of the steps held out, in time order, when
            no file is given.
        fill_missing: fill missing values by linear interpolation between their neighbours
            (default: refuse them).
    """

    name = "forecast"
    description = "your own series to forecast (--data FILE: .csv with times, .npy)"
    default_model = "forecaster"
    models: ClassVar[dict[str, dict[str, Any]]] = FORECAST_MODELS

    def __init__(
        self,
        data: str | None = None,
        test: str | None = None,
        validation: str | None = None,
        target: str | None = None,
        columns: list[str] | None = None,
        time_column: str | None = None,
        lookback: int = 24,
        horizon: int = 1,
        validation_split: float = 0.15,
        test_split: float = 0.15,
        fill_missing: bool = False,
    ) -> None:
        super().__init__()
        self.paths = {"data": data, "test": test, "validation": validation}
        if validation is not None and test is None:
            raise InvalidValueError(
                f"{self.name}: a --validation file needs a --test file after it (the test part "
                "of a series comes last); give both, or neither"
            )
        if columns is not None and (
            not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)
        ):
            raise fail(self.name, "columns", "a list of column names", repr(columns))
        flag(self.name, "fill_missing", fill_missing)
        self.reading = {"time_column": time_column, "columns": columns}
        self.target = target
        self.lookback = positive_int(self.name, "lookback", lookback)
        self.horizon = positive_int(self.name, "horizon", horizon)
        self.fractions = (
            split_fraction(self.name, "validation_split", validation_split),
            split_fraction(self.name, "test_split", test_split),
        )
        if sum(self.fractions) >= 1:
            raise fail(
                self.name,
                "validation_split",
                f"with test_split {test_split}, less than 1 in all (some steps must train)",
                validation_split,
            )
        self.fill_missing = fill_missing
        self.step: Step | None = None
        self.summary: dict[str, Any] | None = None

    @classmethod
    def options(cls) -> tuple[str, ...] | None:
        return keyword_names(cls.__init__)

    def read(self, path: str | Path, role: str) -> TimedSeries:
        """One file's series, its columns in the model's order (target first), gaps filled
        or refused; a file after the first must have the first's columns."""
        series = read_timed_series(path, **self.reading)
        if role == "data":
            self.columns = self._ordered(series)
            self.reading["time_column"] = series.time_column or "none"  # found: kept for later
        elif role in ("prediction", "evaluation") and self.step is not None:
            dated = series.times is not None and series.times.dtype.kind == "M"
            if series.times is None or dated != (self.step.unit != "number"):
                raise InvalidValueError(
                    f"{self.name}: {series.source} has "
                    + ("no times" if series.times is None else "times of another kind")
                    + f" in {self.reading['time_column']!r}; the model was trained on "
                    + ("numbers" if self.step.unit == "number" else "dates")
                    + " there"
                )
        missing = [column for column in self.columns if column not in series.columns]
        if missing:
            raise InvalidValueError(
                f"{self.name}: the {role} file {series.source} lacks the columns "
                f"{', '.join(missing)} of the training data"
            )
        order = [series.columns.index(column) for column in self.columns]
        series.values, series.columns = series.values[:, order], self.columns
        return self._complete(series, role)

    def _ordered(self, series: TimedSeries) -> tuple[str, ...]:
        if self.target is None:
            if len(series.columns) > 1:
                raise InvalidValueError(
                    f"{self.name}: invalid value for argument `target`: expected the column "
                    f"to forecast, one of {', '.join(series.columns)}, got none"
                )
            self.target = series.columns[0]
        if self.target not in series.columns:
            raise fail(self.name, "target", f"one of {', '.join(series.columns)}", self.target)
        return (self.target, *(c for c in series.columns if c != self.target))

    def _complete(self, series: TimedSeries, role: str) -> TimedSeries:
        gaps = np.isnan(series.values)
        if not gaps.any():
            return series
        empty = [name for name, column in zip(series.columns, gaps.T, strict=True) if column.all()]
        if empty or not self.fill_missing:
            step, column = np.argwhere(gaps)[0]
            raise InvalidValueError(
                f"{self.name}: the {role} file {series.source} has "
                + (
                    f"no values in the column {empty[0]!r}"
                    if empty
                    else f"{int(gaps.sum())} missing values, the first at "
                    f"{series.time_text(step)} in {series.columns[column]!r}; fill them, or "
                    "set fill_missing=true to interpolate them"
                )
            )
        series.values = fill_gaps(series.values)
        return series

    def load_splits(self, seed: int) -> Splits:
        """The windows of the chronological splits (``seed`` is unused: nothing is random)."""
        if self.paths["data"] is None:
            raise fail(self.name, "data", "a series to forecast (--data FILE)", "none")
        require_paths(self.name, self.paths, "a series file")
        parts = {role: self.read(path, role) for role, path in self.paths.items() if path}
        order = [role for role in ROLES if role in parts]
        for before, after in itertools.pairwise(order):
            self._check_continues(parts[before], parts[after], after)
        values = np.concatenate([parts[role].values for role in order])
        self.step = parts["data"].step
        ends = self._ends(parts)
        splits = windowed(
            self.name, values, self.columns, self.target, self.lookback, self.horizon, ends
        )
        self.summary = self._summarise(splits, self._times(parts, order), ends)
        return splits

    def _ends(self, parts: dict[str, TimedSeries]) -> tuple[int, int]:
        """Where training and validation end in the concatenated series (see the module)."""
        length = len(parts["data"].values)
        validation_fraction, test_fraction = self.fractions
        if "test" not in parts:
            return chronological_ends(self.name, length, validation_fraction, test_fraction)
        if "validation" in parts:
            return length, length + len(parts["validation"].values)
        return int(length * (1 - validation_fraction)), length

    def _check_continues(self, before: TimedSeries, after: TimedSeries, role: str) -> None:
        if before.times is None or after.times is None or before.step is None:
            return
        expected = before.step.after(before.times[-1], 1)[0]
        if after.time_text(0) != expected:
            raise InvalidValueError(
                f"{self.name}: the {role} file {after.source} must continue the series where "
                f"{before.source} ends ({before.time_text(len(before.values) - 1)}, so at "
                f"{expected}), got {after.time_text(0)}"
            )

    def _times(self, parts: dict[str, TimedSeries], order: list[str]) -> list[str]:
        texts = []
        for role in order:
            texts += [parts[role].time_text(index) for index in range(len(parts[role].values))]
        if parts["data"].times is None:
            return [str(index) for index in range(len(texts))]
        return texts

    def _summarise(self, splits: Splits, times: list[str], ends: tuple[int, int]) -> dict[str, Any]:
        length = len(times)
        bounds = {
            "train": (0, ends[0]),
            "validation": (ends[0], ends[1]),
            "test": (ends[1], length),
        }
        return {
            "sizes": {split: len(getattr(splits, split)) for split in bounds},
            "rows": {
                "steps": {split: stop - start for split, (start, stop) in bounds.items()},
                "from": {split: times[start] for split, (start, _) in bounds.items()},
                "to": {split: times[stop - 1] for split, (_, stop) in bounds.items()},
            },
            "step": None if self.step is None else self.step.describe(),
            "target": self.target,
            "columns": list(self.columns),
        }

    def data_summary(self) -> dict[str, Any] | None:
        return self.summary

    def labelled_data(self, path: str | Path) -> Dataset:
        """The windows of the series at ``path`` (each a forecast inside the file), standardised
        as in training, for ``convrec evaluate RUN --data FILE``."""
        series = self.read(path, "evaluation")
        standard = (series.values - self.series_mean) / self.series_std
        return SeriesWindows(
            torch.from_numpy(standard.astype(np.float32)),
            0,
            self.lookback,
            self.output_size,
            0,
            len(standard),
        )

    def prediction_inputs(self, path: str | Path) -> tuple[list[str], list[np.ndarray]]:
        """The last ``lookback`` steps of the series at ``path``, named by its last time."""
        series = self.read(path, "prediction")
        if len(series.values) < self.lookback:
            raise InvalidValueError(
                f"{self.name}: {series.source} has {len(series.values)} steps; the model "
                f"forecasts from the last {self.lookback}"
            )
        last = len(series.values) - 1
        return [series.time_text(last)], [series.values[-self.lookback :]]

    def prediction_table(self, names: list[str], predictions: list[np.ndarray]) -> str:
        """CSV: ``origin`` (the last time seen), ``time`` (of the forecast step), ``step`` and
        the target's forecast, one row per step ahead."""
        rows = io.StringIO()
        writer = csv.writer(rows, lineterminator="\n")
        writer.writerow(["origin", "time", "step", self.target])
        for origin, forecast in zip(names, predictions, strict=True):
            times = (
                self.step.after(parse_time(origin), len(forecast))
                if self.step is not None
                else [str(int(origin) + step) for step in range(1, len(forecast) + 1)]
            )
            for step, (time, value) in enumerate(zip(times, forecast, strict=True), start=1):
                writer.writerow([origin, time, step, f"{value:.6g}"])
        return rows.getvalue()

    def state(self) -> dict[str, Any]:
        return super().state() | {
            "target": self.target,
            "lookback": self.lookback,
            "time_column": self.reading["time_column"],
            "step": None if self.step is None else [self.step.amount, self.step.unit],
            "fill_missing": self.fill_missing,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.target = state["target"]
        self.lookback = state["lookback"]
        self.reading = {"time_column": state["time_column"], "columns": list(self.columns)}
        self.step = None if state["step"] is None else Step(*state["step"])
        self.fill_missing = state["fill_missing"]
