"""benchmarks/anomaly_ceiling.py: a reconstruction run's F1 per rule and smoothing, at the
validation's threshold and at the test part's best."""

import pytest

import convrec
from convrec.data.sources import status
from tests.benchmarks.scripts import load_script


def test_the_test_parts_best_threshold_is_never_beaten_by_the_validations(tmp_path):
    if status("anomalies") != "fetched":
        pytest.skip("source anomalies not fetched (convrec data fetch anomalies)")
    run = convrec.train(
        "yahoo-anomalies",
        "conv-autoencoder",
        epochs=2,
        progress=False,
        out=str(tmp_path),
        task_options={"aggregate": "step"},
    )
    rows = load_script("anomaly_ceiling").ceilings(run.directory, smoothings=(1, 4))
    assert [(row["rule"], row["smooth"]) for row in rows] == [
        (rule, steps) for rule in ("step", "any-window", "every-window") for steps in (1, 4)
    ]
    for row in rows:
        assert 0.0 <= row["f1"] <= row["ceiling"] <= 1.0, row
        assert 0.0 < row["auc_pr"] <= 1.0, row
    step = rows[0]  # the run's own rule and smoothing: its own test F1
    assert step["f1"] == pytest.approx(run.metrics["test"]["test"]["f1"])
