"""Your own time series: ``convrec train series --data FILE [--test FILE]``.

The file (``.npz``, long or wide CSV, UCR/UEA ``.ts``; see :mod:`convrec.data.series_files`)
gives the series and their labels; the classes are the training labels, in natural order. A
given ``--test`` (and ``--validation``) file is used as it is; otherwise seeded, stratified
holdouts of ``test_split`` and then ``validation_split`` are drawn from the data. Everything
prediction needs (class names, channels, the columns that name ids and times, normalisation)
is saved in the run, so ``convrec predict RUN FILE`` and ``convrec evaluate RUN --data FILE``
read new files of the same kind.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from convrec.checks import flag, keyword_names, one_of
from convrec.data.series_files import SeriesTable, read_series
from convrec.data.series_index import index_long_csv
from convrec.data.splits import LazyInputs
from convrec.errors import InvalidValueError
from convrec.tasks.base import register_task
from convrec.tasks.files import FileClassification

SERIES_MODELS: dict[str, dict[str, Any]] = {
    "fcn": {"epochs": 150, "batch_size": 16, "lr": 1e-3},
    "resnet": {"epochs": 150, "batch_size": 16, "lr": 1e-3},
    "inception-time": {"epochs": 150, "batch_size": 16, "lr": 1e-3},
} | {
    cell: {
        "epochs": 150,
        "batch_size": 16,
        "lr": 3e-3,
        "model_options": {"return_sequences": False, "pooling": "mean", "num_layers": 1},
    }
    for cell in ("gru", "lstm")
}
"""Training options per model for series classification (FCN and ResNet after Wang et al.
2017's UCR baselines; InceptionTime on the same schedule); the UCR recipes use them too."""

STANDARDISATIONS = ("channel", "series", "none")


def _columns(series: np.ndarray, order: list[int]) -> np.ndarray:
    return series[:, order]


def _unnamed(channels: tuple[str, ...]) -> bool:
    """Channels named by their position (``c0``, ``c1``, ... of an ``.npz`` or ``.ts``, the
    ``value`` of a wide CSV), not by a file's columns."""
    return channels in (("value",), tuple(f"c{index}" for index in range(len(channels))))


@register_task
class SeriesFiles(FileClassification):
    """Classification of a user's own series, read from files.

    Args:
        data, test, validation: files of labelled series (see :class:`FileClassification`).
        label_column, id_column, time_column: CSV columns (see :func:`read_series`).
        validation_split, test_split: the fractions held out when no file is given.
        standardise: ``'channel'`` (each channel by the training split's mean and standard
            deviation), ``'series'`` (each series by its own first, as the UCR archive is) or
            ``'none'``.
        lazy: read a long CSV's series from the file when a batch needs them, for files larger
            than memory (one pass first checks every row; the rows of a series must be
            together, see :mod:`convrec.data.series_index`).
    """

    name = "series"
    description = "your own time series (--data FILE: .npz, .csv, .ts): classification"
    default_model = "fcn"
    models: ClassVar[dict[str, dict[str, Any]]] = SERIES_MODELS
    items = "series"

    def __init__(
        self,
        data: str | None = None,
        test: str | None = None,
        validation: str | None = None,
        label_column: str = "label",
        id_column: str | None = None,
        time_column: str | None = None,
        validation_split: float = 0.2,
        test_split: float = 0.2,
        standardise: str = "channel",
        lazy: bool = False,
    ) -> None:
        super().__init__(data, test, validation, validation_split, test_split)
        self.columns = {
            "label_column": label_column,
            "id_column": id_column,
            "time_column": time_column,
        }
        one_of(self.name, "standardise", standardise, STANDARDISATIONS)
        self.standardise_each_series = standardise == "series"
        self.standardise = standardise != "none"
        self.lazy = flag(self.name, "lazy", lazy)
        self.channels: tuple[str, ...] = ()

    @classmethod
    def options(cls) -> tuple[str, ...] | None:
        return keyword_names(cls.__init__)

    @property
    def input_columns(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.channels

    def read(self, path: str | Path, labelled: bool = True) -> SeriesTable:
        """The series of one file, read with this task's column names (a long CSV indexed, its
        series read on demand, when ``lazy``)."""
        if self.lazy and Path(path).suffix.lower() == ".csv":
            return index_long_csv(path, labelled=labelled, **self.columns)
        return read_series(path, labelled=labelled, **self.columns)

    def read_labelled(self, path: str | Path, role: str) -> tuple[list[np.ndarray], list[str]]:
        table = self.read(path)
        if role == "data":
            self.channels = table.channels
            return table.series, table.labels
        return self._in_training_order(table, role), table.labels

    def _in_training_order(self, table: SeriesTable, role: str) -> list[np.ndarray]:
        """The series of a later file with their channels in the training data's order
        (matched by name; by position where either file's channels have no names, as an
        ``.npz`` or ``.ts``), refused if it has others."""
        if table.channels == self.channels:
            return table.series
        unnamed = _unnamed(table.channels) or _unnamed(self.channels)
        if unnamed and len(table.channels) == len(self.channels):
            return table.series
        if unnamed or set(table.channels) != set(self.channels):
            raise InvalidValueError(
                f"{self.name}: the {role} file {table.source} has the channels "
                f"{', '.join(table.channels)}; the model reads {', '.join(self.channels)}"
            )
        order = [table.channels.index(channel) for channel in self.channels]
        if isinstance(table.series, LazyInputs):
            return table.series.map(partial(_columns, order=order))
        return [_columns(series, order) for series in table.series]

    def splits_info(self) -> dict[str, Any]:
        return {"channels": list(self.channels)}

    def prediction_inputs(self, path: str | Path) -> tuple[list[str], list[np.ndarray]]:
        table = self.read(path, labelled=False)
        return table.ids, self._in_training_order(table, "prediction")

    def state(self) -> dict[str, Any]:
        return super().state() | {"channels": list(self.channels), **self.columns}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.channels = tuple(state["channels"])
        self.columns = {key: state[key] for key in ("label_column", "id_column", "time_column")}
