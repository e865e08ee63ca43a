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

import re
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from convrec.checks import fail, keyword_names, one_of
from convrec.data.series_files import SeriesTable, read_series
from convrec.data.splits import Pairs, Splits, holdout
from convrec.errors import InvalidValueError, PathNotFoundError
from convrec.tasks.base import register_task
from convrec.tasks.classification import Classification
from convrec.tasks.dataset import standardised

SERIES_MODELS: dict[str, dict[str, Any]] = {
    "fcn": {"epochs": 150, "batch_size": 16, "lr": 1e-3},
    "resnet": {"epochs": 150, "batch_size": 16, "lr": 1e-3},
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
2017's UCR baselines); the UCR recipes use them too."""

STANDARDISATIONS = ("channel", "series", "none")


def natural_order(labels: set[str]) -> tuple[str, ...]:
    """Class names sorted as a person would: ``2`` before ``10``, then text."""

    def key(label: str) -> tuple:
        return tuple(
            (0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", label)
            if part
        )

    return tuple(sorted(labels, key=key))


@register_task
class SeriesFiles(Classification):
    """Classification of a user's own series, read from files.

    Args:
        data: the file of labelled series to learn from.
        test: a file of labelled series to test on (default: ``test_split`` of ``data``).
        validation: a file to choose the epoch on (default: ``validation_split`` of the rest).
        label_column, id_column, time_column: CSV columns (see :func:`read_series`).
        validation_split, test_split: the fractions held out when no file is given.
        standardise: ``'channel'`` (each channel by the training split's mean and standard
            deviation), ``'series'`` (each series by its own, as the UCR archive is) or
            ``'none'``.
    """

    name = "series"
    description = "your own time series (--data FILE: .npz, .csv, .ts): classification"
    default_model = "fcn"
    models: ClassVar[dict[str, dict[str, Any]]] = SERIES_MODELS

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
    ) -> None:
        super().__init__()
        self.files = {"data": data, "test": test, "validation": validation}
        for role, path in self.files.items():
            if path is not None and not Path(path).is_file():
                raise PathNotFoundError(
                    f"{self.name}: invalid value for argument `{role}`: expected a file of "
                    f"series, got {path} (no such file)"
                )
        self.columns = {"label_column": label_column, "id_column": id_column}
        self.columns["time_column"] = time_column
        for argument, fraction in (
            ("validation_split", validation_split),
            ("test_split", test_split),
        ):
            if isinstance(fraction, bool) or not isinstance(fraction, int | float):
                raise fail(self.name, argument, "a fraction in (0, 1)", repr(fraction))
            if not 0 < fraction < 1:
                raise fail(self.name, argument, "a fraction in (0, 1)", repr(fraction))
        self.fractions = {"validation": validation_split, "test": test_split}
        one_of(self.name, "standardise", standardise, STANDARDISATIONS)
        self.standardise_each_series = standardise == "series"
        self.standardise = standardise != "none"
        self.channels: tuple[str, ...] = ()
        self.summary: dict[str, Any] | None = None

    @classmethod
    def options(cls) -> tuple[str, ...] | None:
        return keyword_names(cls.__init__)

    @property
    def input_columns(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.channels

    def read(self, path: str | Path, labelled: bool = True) -> SeriesTable:
        """The series of one file, read with this task's column names."""
        return read_series(path, labelled=labelled, **self.columns)

    def load_splits(self, seed: int) -> Splits:
        if self.files["data"] is None:
            raise fail(self.name, "data", "a file of labelled series (--data FILE)", "none")
        tables = {role: self.read(path) for role, path in self.files.items() if path is not None}
        train = tables["data"]
        self.channels = train.channels
        for role, table in tables.items():
            if table.channels != train.channels and role != "data":
                raise InvalidValueError(
                    f"{self.name}: the {role} file {table.source} has the channels "
                    f"{', '.join(table.channels)}, the data file {', '.join(train.channels)}"
                )
        self.classes = natural_order(set(train.labels))
        if len(self.classes) < 2:
            raise InvalidValueError(
                f"{self.name}: expected at least two classes in {train.source}, got only "
                f"{self.classes[0]!r}; a classifier needs something to tell apart"
            )
        pairs = {role: self._pairs(table, role) for role, table in tables.items()}
        for role in ("test", "validation"):
            if role not in pairs:
                pairs["data"], pairs[role] = self._hold_out(pairs["data"], role, seed)
        self.summary = self._summarise(pairs)
        lengths = {len(item) for split in pairs.values() for item in split.inputs}
        return Splits(
            self.name,
            pairs["data"],
            pairs["validation"],
            pairs["test"],
            self.classes,
            info={"channels": self.channels},
            variable_length=len(lengths) > 1,
        )

    def _pairs(self, table: SeriesTable, role: str) -> Pairs:
        index = {label: position for position, label in enumerate(self.classes)}
        unknown = sorted(set(table.labels) - set(index))
        if unknown:
            raise InvalidValueError(
                f"{self.name}: the {role} file {table.source} has labels never seen in training: "
                f"{', '.join(map(repr, unknown[:5]))}; the classes are "
                f"{', '.join(map(repr, self.classes))}"
            )
        inputs = [torch.from_numpy(series.astype(np.float32)) for series in table.series]
        return Pairs(inputs, torch.tensor([index[label] for label in table.labels]))

    def _hold_out(self, pairs: Pairs, role: str, seed: int) -> tuple[Pairs, Pairs]:
        labels = pairs.targets.numpy()
        counts = Counter(labels.tolist())
        scarce = [self.classes[label] for label, count in sorted(counts.items()) if count < 2]
        if scarce:
            raise InvalidValueError(
                f"{self.name}: the class {scarce[0]!r} has only one series, too few to hold out a "
                f"{role} split by class; add series, or give a --{role} file"
            )
        kept, held = holdout(labels, self.fractions[role], seed + (role == "validation"))
        return pairs.subset(kept), pairs.subset(held)

    def _summarise(self, pairs: dict[str, Pairs]) -> dict[str, Any]:
        names = {"data": "train", "validation": "validation", "test": "test"}
        counts = {names[role]: Counter(split.targets.tolist()) for role, split in pairs.items()}
        train = [counts["train"].get(label, 0) for label in range(len(self.classes))]
        return {
            "sizes": {split: sum(count.values()) for split, count in counts.items()},
            "classes": {
                name: {split: count.get(label, 0) for split, count in counts.items()}
                for label, name in enumerate(self.classes)
            },
            "imbalance": max(train) / max(1, min(train)),
            "channels": list(self.channels),
        }

    def data_summary(self) -> dict[str, Any] | None:
        return self.summary

    def labelled_data(self, path: str | Path) -> Pairs:
        """A labelled file of the training kind as model-ready pairs (normalised as in
        training), for ``convrec evaluate RUN --data FILE``."""
        pairs = self._pairs(self.read(path), "evaluation")
        if self.standardise_each_series:
            pairs = self._each_series(pairs)
        if self.mean is not None:
            pairs = standardised(pairs, self.mean, self.std)
        return pairs

    def state(self) -> dict[str, Any]:
        return super().state() | {"channels": list(self.channels), **self.columns}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.channels = tuple(state["channels"])
        self.columns = {key: state[key] for key in ("label_column", "id_column", "time_column")}
