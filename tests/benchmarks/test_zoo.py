"""The zoo harness of ``benchmarks/zoo.py``: baselines are measured on the splits of every seed the
networks train with, so that a mean is compared with a mean over the same splits."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


@pytest.fixture
def zoo(monkeypatch) -> ModuleType:
    """``benchmarks/zoo.py`` loaded from its path, its folder importable as the script sees it."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("zoo", BENCHMARKS / "zoo.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "zoo", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_baselines_run_on_the_splits_of_each_seed(zoo, monkeypatch):
    def fake_load_dataset(name, seed=0):
        return SimpleNamespace(name=name, seed=seed)

    def accuracy_of_the_seed(splits):
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
