"""The anomaly recipes end to end on a series written by the test (a noisy cycle with spikes
and a level shift planted in its validation and test parts): both detectors find the test
anomalies, a forecast's score needs only the past, a run draws its alarms, predicts a new series
and refuses export."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import convrec
from convrec.cli import app
from convrec.errors import InvalidValueError
from convrec.tasks import create_task
from convrec.tasks.anomaly_scores import average_precision
from convrec.tasks.stream_anomalies import AGGREGATES, aggregate_windows

LENGTH = 1000  # yahoo-anomalies' parts: 400 train, 250 validation, 350 test


def cycle(length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = np.arange(length)
    return 100 + 20 * np.sin(2 * np.pi * steps / 25) + rng.normal(0, 1, length)


def planted_series() -> tuple[np.ndarray, np.ndarray]:
    values, labels = cycle(LENGTH, 0), np.zeros(LENGTH, dtype=int)
    for step, jump in ((480, 30.0), (560, -30.0), (700, 35.0), (905, -30.0)):
        values[step] += jump
        labels[step] = 1
    values[800:806] += 25.0  # a short level shift in the test part
    labels[800:806] = 1
    return values, labels


@pytest.fixture(scope="module")
def stream_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    values, labels = planted_series()
    with (folder / "yahoo.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["data", "label"])
        writer.writerows(zip(values.tolist(), labels.tolist(), strict=True))
    return folder


@pytest.fixture(scope="module")
def runs(stream_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    trained = {}
    for model, options in (
        ("gru", {"hidden_size": 16}),
        ("conv-autoencoder", {"channels": (8, 4)}),
    ):
        trained[model] = convrec.train(
            "yahoo-anomalies",
            model,
            epochs=15,
            out=str(out),
            progress=False,
            task_options={"root": str(stream_folder)},
            model_options=options,
        )
    return trained


@pytest.mark.parametrize("model", ["gru", "conv-autoencoder"])
def test_both_detectors_find_every_test_anomaly(runs, model):
    metrics = runs[model].metrics["test"]["test"]
    assert metrics["event_recall"] == 1.0 and metrics["event_precision"] >= 0.6, metrics
    assert metrics["recall"] >= 0.5 and metrics["auc_pr"] > 0.7, metrics
    assert (runs[model].directory / "anomalies.png").stat().st_size > 10_000


def test_a_forecast_score_needs_only_the_past(runs):
    trained = convrec.load(runs["gru"].directory)
    series = cycle(300, 1)
    changed = series.copy()
    changed[200:] += np.random.default_rng(2).normal(0, 50, 100)  # the future, scrambled
    before, after = trained.predict([series[:, None], changed[:, None]])
    np.testing.assert_allclose(before[:200], after[:200], atol=1e-5)
    assert not np.allclose(before[200:, 0], after[200:, 0])


def test_predict_flags_a_spike_in_a_new_series(runs, tmp_path):
    series = cycle(300, 3)
    series[150] += 40
    table = tmp_path / "new.csv"
    with table.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["sequence_id", "value"])
        writer.writerows(("new", value) for value in series.tolist())
    for model in ("gru", "conv-autoencoder"):
        result = CliRunner().invoke(
            app, ["predict", str(runs[model].directory), str(table), "--out", "-"]
        )
        assert result.exit_code == 0, result.output
        rows = list(csv.DictReader(result.output.splitlines()))
        assert len(rows) == 300 and set(rows[0]) == {"sequence_id", "step", "score", "anomaly"}
        flagged = [int(row["step"]) for row in rows if float(row["anomaly"]) == 1]
        assert 150 in flagged and len(flagged) <= 12, (model, flagged)


def test_export_is_refused(runs):
    result = CliRunner().invoke(app, ["export", str(runs["gru"].directory)])
    assert result.exit_code != 0
    assert "no export form" in str(result.exception) + result.output


@pytest.mark.parametrize("model", ["gru", "conv-autoencoder"])
def test_a_clean_series_raises_no_alarm_from_its_first_step(runs, model):
    trained = convrec.load(runs[model].directory)
    for seed in (1, 3, 5):
        (scored,) = trained.predict([cycle(300, seed)[:, None]])
        assert not scored[:, 1].any(), (model, seed, np.flatnonzero(scored[:, 1]))
    if model == "gru":
        assert not scored[:32, 0].any()  # no full window of past: no score


def test_the_threshold_does_not_depend_on_the_test_labels(runs, stream_folder, tmp_path):
    """The same weights calibrated on a stream whose test labels are all cleared: the same
    threshold, while the test metrics change."""
    trained = convrec.load(runs["gru"].directory)
    values, labels = planted_series()
    labels[650:] = 0
    with (tmp_path / "yahoo.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["data", "label"])
        writer.writerows(zip(values.tolist(), labels.tolist(), strict=True))
    task = create_task("yahoo-anomalies", root=str(tmp_path), window=trained.task.window)
    data = task.build_data(seed=0)
    task.calibrate(trained.model, data)
    assert task.threshold == pytest.approx(trained.task.threshold)
    assert task.evaluate(trained.model, data.tests["test"])["recall"] == 0


def test_predict_refuses_a_series_shorter_than_a_window_naming_it(runs):
    trained = convrec.load(runs["conv-autoencoder"].directory)
    with pytest.raises(InvalidValueError, match=r"`input 1`: .*at least 32 steps"):
        trained.predict([cycle(100, 0)[:, None], cycle(20, 0)[:, None]])


def test_a_detector_needs_a_model_of_its_kind(stream_folder):
    task = create_task("yahoo-anomalies", root=str(stream_folder))
    assert task.model_defaults("gru", ["return_sequences", "bidirectional"]) == {
        "return_sequences": True,
        "bidirectional": False,
    }
    with pytest.raises(InvalidValueError, match=r"causal recurrent model.*'conv-autoencoder'"):
        task.model_defaults("conv-autoencoder", ["channels"])
    reconstruction = create_task(
        "yahoo-anomalies", root=str(stream_folder), detector="reconstruction"
    )
    with pytest.raises(InvalidValueError, match=r"output per step of the window.*'fcn'"):
        reconstruction.model_defaults("fcn", ["channels"])
    with pytest.raises(InvalidValueError, match="`detector`"):
        create_task("yahoo-anomalies", detector="density")


def test_training_windows_are_standardised_by_their_own_steps(stream_folder):
    task = create_task("yahoo-anomalies", root=str(stream_folder), window=20)
    data = task.build_data(seed=0)
    inputs, targets = data.train[0]
    assert inputs.shape == targets.shape == (20, 1)
    assert abs(float(inputs.mean())) < 1e-5 and float(inputs.std(correction=0)) == pytest.approx(
        1, abs=1e-4
    )
    series = task.series[:21]
    mean, spread = series[:20].mean(), series[:20].std(correction=0)
    torch.testing.assert_close(targets[:, 0], (series[1:21] - mean) / spread)


def test_each_aggregation_follows_its_rule_on_overlapping_windows():
    generator = torch.Generator().manual_seed(0)
    positions = torch.tensor([0, 3, 5, 9])[:, None] + torch.arange(6)  # (4, 6), overlapping
    errors = torch.rand(4, 6, generator=generator)
    means = errors.mean(dim=1)
    for step in range(15):
        windows, columns = torch.where(positions == step)
        holding = list(zip(windows.tolist(), columns.tolist(), strict=True))
        own = torch.stack([errors[window, column] for window, column in holding])
        expected = {
            "step": own.mean(),
            "any-window": max(means[window] for window, _ in holding),
            "every-window": min(means[window] for window, _ in holding),
        }
        for rule in AGGREGATES:
            scores = aggregate_windows(positions, errors, 15, rule)
            torch.testing.assert_close(scores[step], expected[rule], msg=f"{rule}, step {step}")


def calibrated(trained, folder, **options):
    """A reconstruction task on the stream in ``folder``, calibrated with the trained model."""
    task = create_task("yahoo-anomalies", root=str(folder), detector="reconstruction", **options)
    task.calibrate(trained.model, task.build_data(seed=0))
    return task


def write_stream(folder, values: np.ndarray, labels: np.ndarray) -> None:
    with (folder / "yahoo.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["data", "label"])
        writer.writerows(zip(values.tolist(), labels.tolist(), strict=True))


@pytest.mark.parametrize("anomaly", ["spikes", "a slower cycle"])
def test_the_autoencoder_keeps_the_aggregation_best_on_validation(runs, tmp_path, anomaly):
    """The trained autoencoder calibrated on streams whose validation part holds one-step
    spikes (its own stream) or an 80-step stretch where the cycle runs half as fast: the rule
    kept has the highest validation AUC-PR, and it differs between the two."""
    trained = convrec.load(runs["conv-autoencoder"].directory)
    values, labels = planted_series()
    if anomaly == "a slower cycle":
        values[400:650], labels[400:650] = cycle(250, 7), 0
        values[480:560] = 100 + 20 * np.sin(2 * np.pi * np.arange(80) / 50)
        labels[480:560] = 1
    write_stream(tmp_path, values, labels)
    chosen = calibrated(trained, tmp_path).aggregate
    quality = {}
    for rule in AGGREGATES:
        task = calibrated(trained, tmp_path, aggregate=rule)
        assert task.aggregate == rule
        first, last = task.bounds["validation"]
        scores = task.stream_scores(trained.model)
        quality[rule] = average_precision(scores[first:last], task.labels[first:last])
    assert quality[chosen] == max(quality.values()), quality
    assert chosen == ("step" if anomaly == "spikes" else "every-window"), quality


def test_an_unlabelled_validation_part_keeps_the_steps_own_errors(runs, tmp_path):
    trained = convrec.load(runs["conv-autoencoder"].directory)
    values, labels = planted_series()
    labels[400:650] = 0
    write_stream(tmp_path, values, labels)
    assert calibrated(trained, tmp_path).aggregate == "step"


@pytest.mark.parametrize("rule", AGGREGATES)
def test_the_test_part_does_not_reach_the_calibration(runs, tmp_path, rule):
    """A wild stretch planted at the start of the test part, inside the last validation
    windows' reach: the same threshold and rule, while the test part's scores change."""
    trained = convrec.load(runs["conv-autoencoder"].directory)
    values, labels = planted_series()
    write_stream(tmp_path, values, labels)
    before = calibrated(trained, tmp_path, aggregate=rule)
    values[651:661] += 80.0
    write_stream(tmp_path, values, labels)
    after = calibrated(trained, tmp_path, aggregate=rule)
    assert after.threshold == before.threshold and after.aggregate == before.aggregate == rule
    assert after.score_mean == before.score_mean and after.score_std == before.score_std
    assert after.stream_scores(trained.model)[651:661].max() > before.threshold


def test_a_run_saved_before_the_aggregation_option_scores_each_steps_own_error(runs):
    trained = convrec.load(runs["conv-autoencoder"].directory)
    state = trained.task.state()
    del state["aggregate"]
    task = create_task("yahoo-anomalies", detector="reconstruction")
    task.load_state(state)
    assert task.aggregate == "step"


def test_an_aggregation_is_refused_where_it_has_no_meaning():
    with pytest.raises(InvalidValueError, match="`aggregate`: expected one of"):
        create_task("yahoo-anomalies", detector="reconstruction", aggregate="median")
    with pytest.raises(InvalidValueError, match=r"`aggregate`: expected 'step' for the forecast"):
        create_task("yahoo-anomalies", aggregate="any-window")
