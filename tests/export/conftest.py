"""The runs the export, streaming and serving tests share."""

from __future__ import annotations

import csv

import pytest

import convrec
from tests.export.runs import TINY_MAXWELL
from tests.tasks.test_series import make_series


@pytest.fixture(scope="session")
def series_run(tmp_path_factory):
    """A GRU run on a long CSV of two-channel series of 12 to 30 steps."""
    folder = tmp_path_factory.mktemp("series")
    values, labels = make_series(32)
    with (folder / "train.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "a", "b", "label"])
        for index, (series, label) in enumerate(zip(values, labels, strict=True)):
            for step in series[: 12 + index % 19]:
                writer.writerow([f"s{index}", *step, label])
    return convrec.train(
        "series",
        model="gru",
        epochs=2,
        progress=False,
        out=str(folder / "runs"),
        model_options={"hidden_size": 8, "bidirectional": True},
        task_options={"data": str(folder / "train.csv")},
    )


@pytest.fixture(scope="session")
def maxwell_run(tmp_path_factory):
    return convrec.train(
        "maxwell",
        model="gru",
        epochs=1,
        progress=False,
        out=str(tmp_path_factory.mktemp("runs")),
        task_options=TINY_MAXWELL,
        model_options={"hidden_size": 8},
    )
