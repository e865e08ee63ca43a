"""The zoo harness of ``benchmarks/zoo.py``: baselines are measured on the splits of every seed the
networks train with, so that a mean is compared with a mean over the same splits."""

import sys
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest

from tests.benchmarks.scripts import load_script


@pytest.fixture
def zoo() -> ModuleType:
    return load_script("zoo")


def test_baselines_run_on_the_splits_of_each_seed(zoo, monkeypatch):
    events = []

    def fake_load_dataset(name, seed=0):
        events.append(("load", seed))
        return SimpleNamespace(name=name, seed=seed)

    def accuracy_of_the_seed(splits):
        events.append(("fit", splits.seed))
        return {"accuracy": 0.5 + splits.seed / 10, "C": "1"}

    fake_baselines = ModuleType("baselines")
    fake_baselines.BASELINES = {
        "reviews": [("fake", accuracy_of_the_seed)],
        "dna": [("unused", accuracy_of_the_seed)],
    }
    monkeypatch.setitem(sys.modules, "baselines", fake_baselines)
    monkeypatch.setattr(zoo.convrec.data, "load_dataset", fake_load_dataset)

    results = zoo.baseline_results({"reviews"}, [0, 1, 2])

    assert len(results) == 1
    (result,) = results
    assert (result.row.task, result.row.model, result.row.metric) == (
        "reviews",
        "baseline: fake",
        "accuracy",
    )
    assert result.values == pytest.approx([0.5, 0.6, 0.7])
    assert len(result.seconds) == 3
    assert result.cells()[3:5] == ["0.6000", "0.5000-0.7000"]
    assert events == [(event, seed) for seed in (0, 1, 2) for event in ("load", "fit")]


def test_the_transfer_row_reports_the_frozen_runs_gain_over_scratch(zoo, monkeypatch, tmp_path):
    accuracy = {"scratch": 0.80, "frozen": 0.83, "every layer": 0.81}
    calls = []

    def fake_train(task, model, seed, out, progress, **options):
        kind = "source" if task == "fashion-mnist" else "scratch"
        if options.get("finetune"):
            kind = "frozen" if options.get("freeze") == "backbone" else "every layer"
        calls.append((task, kind, seed))
        test = {"accuracy": accuracy.get(kind, 0.9) + seed / 100}
        return SimpleNamespace(
            directory=tmp_path / f"{kind}-{seed}",
            metrics={"test": {"test": test}, "train_seconds": 1.0},
        )

    monkeypatch.setattr(zoo.convrec, "train", fake_train)
    result = zoo.transfer_row([0, 1], tmp_path)

    assert result.values == pytest.approx([0.03, 0.03])
    assert (
        "scratch 0.8050" in result.note
        and "every layer trained from the convolutions 0.8150" in result.note
    )
    assert [call for call in calls if call[0] == "fashion-mnist"] == [
        ("fashion-mnist", "source", 0),
        ("fashion-mnist", "source", 1),
    ]


def test_an_ensemble_row_averages_disjoint_seeds_for_each_value(zoo, monkeypatch, tmp_path):
    trained, ensembles = [], []

    def fake_train(task, model, seed, out, progress):
        trained.append(seed)
        return SimpleNamespace(directory=f"run-{seed}", metrics={"train_seconds": 2.0})

    def fake_ensemble(runs):
        ensembles.append(runs)
        return {"test": {"accuracy": 0.9 + len(ensembles) / 100}}

    monkeypatch.setattr(zoo.convrec, "train", fake_train)
    monkeypatch.setattr(zoo, "evaluate_ensemble", fake_ensemble)
    row = zoo.Row("italy-power", "fcn", "accuracy", ">= 0.96", "anchor", ensemble=3)
    result = zoo.train_row(row, [0, 1], tmp_path)

    assert trained == [0, 1, 2, 3, 4, 5]
    assert ensembles == [["run-0", "run-1", "run-2"], ["run-3", "run-4", "run-5"]]
    assert result.values == pytest.approx([0.91, 0.92]) and result.seconds == [6.0, 6.0]
    assert row.key == "italy-power:fcnx3" and result.cells()[1].startswith("fcn x3")


def test_an_ensemble_rows_baseline_averages_the_members_probabilities(zoo, monkeypatch):
    labels = np.array([0, 1, 1])
    member_probabilities = {  # each member gets one item wrong; their mean gets none wrong
        0: [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]],
        1: [[0.4, 0.6], [0.1, 0.9], [0.3, 0.7]],
        2: [[0.8, 0.2], [0.2, 0.8], [0.55, 0.45]],
        3: [[0.1, 0.9], [0.1, 0.9], [0.1, 0.9]],
        4: [[0.1, 0.9], [0.1, 0.9], [0.1, 0.9]],
        5: [[0.1, 0.9], [0.1, 0.9], [0.1, 0.9]],
    }
    loaded = []

    def fake_load_dataset(name, seed=0):
        loaded.append(seed)
        return SimpleNamespace(seed=seed)

    fake_baselines = ModuleType("baselines")
    fake_baselines.ENSEMBLE_BASELINES = {
        "reviews": [("fake", lambda s: (np.array(member_probabilities[s.seed]), labels))]
    }
    monkeypatch.setitem(sys.modules, "baselines", fake_baselines)
    monkeypatch.setattr(zoo.convrec.data, "load_dataset", fake_load_dataset)
    rows = [
        zoo.Row("reviews", "textcnn", "accuracy", "", "measured"),
        zoo.Row("reviews", "textcnn", "accuracy", "", "measured", 3),
    ]

    (result,) = zoo.ensemble_baseline_results(rows, [0, 1])

    assert loaded == [0, 1, 2, 3, 4, 5]
    assert result.values == pytest.approx([1.0, 2 / 3])
    assert result.cells()[:2] == ["reviews", "baseline: fake x3 (mean probabilities)"]
