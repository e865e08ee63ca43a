"""Your own series to forecast: times of every kind read to one regular step, a run trains,
forecasts and evaluates from files alone, and bad files are one clear error with nothing
written."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import convrec
from convrec.data.forecast_files import Step, parse_time, read_timed_series
from convrec.errors import UserError
from convrec.tasks import create_task


def seasonal(length: int, seed: int = 0) -> np.ndarray:
    """A noisy 12-step season with a covariate that leads it by one step."""
    steps = np.arange(length + 1)
    season = 10 + 5 * np.sin(2 * np.pi * steps / 12)
    noise = np.random.default_rng(seed).normal(0, 0.2, length + 1)
    return np.stack([season[1:] + noise[1:], season[:-1]], axis=-1)


def write_csv(path: Path, times: list[str], values: np.ndarray, header=("sales", "price")):
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["date", *header])
        for time, row in zip(times, values, strict=True):
            writer.writerow([time, *(f"{value:.6f}" for value in row)])
    return path


def months(first_year: int, count: int, day: int = 1) -> list[str]:
    start = np.datetime64(f"{first_year}-01", "M")
    return [str((start + step).astype("datetime64[D]") + day - 1) for step in range(count)]


@pytest.mark.parametrize(
    ("times", "step"),
    [
        (["1700", "1701", "1702"], "1"),
        (["0.5", "1.0", "1.5"], "0.5"),
        (["2014-01-01", "2014-01-02", "2014-01-03"], "1 day"),
        (["2014-01-01 23:00", "2014-01-01 23:30", "2014-01-02 00:00"], "30 minutes"),
        (["2014-01-15", "2014-02-15", "2014-03-15"], "1 month"),
        (["2014-01-31", "2014-02-28", "2014-03-31"], "1 month"),
        (["2012-07-01", "2013-07-01", "2014-07-01"], "1 year"),
        (["2014-01-06", "2014-01-13", "2014-01-20"], "1 week"),
        (["2014-01-31", "2014-03-31", "2014-05-31"], "2 months"),  # month ends: Jul 31 next
    ],
)
def test_times_of_every_kind_read_to_one_regular_step(tmp_path, times, step):
    path = write_csv(tmp_path / "s.csv", times, np.ones((3, 2)))
    series = read_timed_series(path)
    assert series.columns == ("sales", "price") and series.step.describe() == step
    following = series.step.after(series.times[-1], 2)
    again = write_csv(tmp_path / "t.csv", [*times, *following], np.ones((5, 2)))
    assert read_timed_series(again).step == series.step  # the forecast's times continue it
    assert parse_time(series.time_text(2)) == series.times[2]


def test_a_missing_month_is_named_at_its_line(tmp_path):
    dates = ["2014-01-01", "2014-02-01", "2014-03-01", "2014-05-01", "2014-06-01"]
    path = write_csv(tmp_path / "s.csv", dates, np.ones((5, 2)))
    with pytest.raises(UserError, match=r"line 5, .* \(1 month for most rows\), got 2014-05-01 af"):
        read_timed_series(path)
    ends = write_csv(
        tmp_path / "e.csv", ["2014-01-31", "2014-03-31", "2014-05-31"], np.ones((3, 2))
    )
    series = read_timed_series(ends)
    assert series.step.after(series.times[-1], 2) == ["2014-07-31", "2014-09-30"]


def test_month_end_dates_continue_at_month_ends():
    assert Step(1, "month-end").after(np.datetime64("2024-01-31", "s"), 2) == [
        "2024-02-29",
        "2024-03-31",
    ]


def test_a_npy_array_is_a_series_without_times(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(10.0))
    series = read_timed_series(tmp_path / "a.npy")
    assert series.values.shape == (10, 1) and series.times is None and series.columns == ("value",)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A short run on a monthly CSV with a covariate and a test file continuing it."""
    folder = tmp_path_factory.mktemp("forecast")
    values = seasonal(180)
    times = months(2000, 180)
    write_csv(folder / "train.csv", times[:150], values[:150])
    write_csv(folder / "test.csv", times[150:], values[150:])
    run = convrec.train(
        "forecast",
        epochs=12,
        batch_size=16,
        progress=False,
        out=str(folder / "runs"),
        task_options={
            "data": str(folder / "train.csv"),
            "test": str(folder / "test.csv"),
            "target": "sales",
            "lookback": 12,
            "horizon": 3,
        },
    )
    return run, folder, values, times


def test_a_run_forecasts_better_than_the_seasons_spread(trained_run):
    run, _, values, _ = trained_run
    assert run.metrics["test"]["test"]["mae"] < 0.5 * values[:, 0].std()
    summary = (run.directory / "data.json").read_text()
    assert '"step": "1 month"' in summary and '"from"' in summary and "2012-07-01" in summary
    state = convrec.load(run.directory).description["task_state"]
    assert state["columns"] == ["sales", "price"] and state["step"] == [1, "month"]


def test_predict_and_evaluate_read_new_files_in_a_fresh_process(trained_run, tmp_path):
    run, _, values, times = trained_run
    recent = write_csv(tmp_path / "recent.csv", times[100:140], values[100:140])
    command = [sys.executable, "-m", "convrec.cli"]
    subprocess.run([*command, "predict", str(run.directory), str(recent)], check=True)
    rows = list(csv.DictReader((tmp_path / "recent.predictions.csv").read_text().splitlines()))
    assert [row["time"] for row in rows] == times[140:143]
    assert {row["origin"] for row in rows} == {times[139]}
    forecast = np.array([float(row["sales"]) for row in rows])
    assert np.abs(forecast - values[140:143, 0]).max() < 2.5
    result = subprocess.run(
        [*command, "evaluate", str(run.directory), "--data", str(recent)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "recent.csv" in result.stdout and "mae" in result.stdout
    subprocess.run([*command, "report", str(run.directory)], check=True, capture_output=True)
    page = (run.directory / "report.html").read_text()
    assert "Step: 1 month" in page and "2012-07-01" in page


def test_prediction_needs_the_times_training_had(trained_run, tmp_path):
    run, _, values, _ = trained_run
    np.save(tmp_path / "no_times.npy", values[:40])
    trained = convrec.load(run.directory)
    with pytest.raises(UserError, match=r"expected the columns c0, c1, got \['sales', 'price'\]"):
        trained.task.prediction_inputs(tmp_path / "no_times.npy")
    numbers = write_csv(tmp_path / "numbers.csv", [str(t) for t in range(40)], values[:40])
    with pytest.raises(UserError, match=r"has times of another kind in 'date'; .* dates there"):
        trained.task.prediction_inputs(numbers)


def test_the_splits_are_chronological_without_files(tmp_path):
    values = seasonal(100)
    path = write_csv(tmp_path / "s.csv", months(2000, 100), values)
    task = create_task("forecast", data=str(path), target="sales", lookback=6, horizon=2)
    task.build_data(0)
    summary = task.data_summary()
    assert summary["rows"]["steps"] == {"train": 70, "validation": 15, "test": 15}
    assert summary["rows"]["to"]["train"] < summary["rows"]["from"]["validation"]
    assert summary["sizes"]["train"] == 70 - 6 - 2 + 1


def test_missing_values_are_refused_or_filled(tmp_path):
    values = seasonal(60)
    values[10, 0] = np.nan
    path = write_csv(tmp_path / "s.csv", months(2000, 60), values)
    options = {"data": str(path), "target": "sales", "lookback": 6}
    with pytest.raises(UserError, match=r"1 missing values, the first at 2000-11-01 in 'sales'"):
        create_task("forecast", **options).build_data(0)
    task = create_task("forecast", **options, fill_missing=True)
    train = task.build_data(0).train
    assert torch.isfinite(train.inputs).all() and torch.isfinite(train.targets).all()


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


BAD = {
    "unsorted": (
        lines("date,y", "2014-01-02,1", "2014-01-01,2", "2014-01-03,3"),
        {},
        r"line 3, column 'date': expected times increasing .* got an earlier time",
    ),
    "repeated": (
        lines("time,y", "1,1", "2,2", "2,3"),
        {},
        r"line 4, column 'time': expected times increasing .* got a repeated time",
    ),
    "irregular": (
        lines("date,y", *(f"2014-01-{day:02d},{day}" for day in (1, 2, 3, 5, 6))),
        {},
        r"line 5, column 'date': expected one regular step between times \(1 day",
    ),
    "not a date": (
        lines("date,y", "2014-01-01,1", "1/2/2014,2"),
        {},
        r"line 3, column 'date': expected numbers or ISO 8601 dates",
    ),
    "text values": (
        lines("time,y,region", "1,1,north", "2,2,south"),
        {"target": "y"},
        r"line 2, column 'region': expected a number or an empty cell, got 'north'",
    ),
    "no target": (
        lines("time,a,b", *(f"{t},{t},{t}" for t in range(40))),
        {},
        r"argument `target`: expected the column to forecast, one of a, b, got none",
    ),
    "unknown target": (
        lines("time,a", *(f"{t},{t}" for t in range(40))),
        {"target": "sales"},
        r"argument `target`: expected one of a, got sales",
    ),
    "empty column": (
        lines("time,y", *(f"{t}," for t in range(40))),
        {"fill_missing": True},
        r"has no values in the column 'y'",
    ),
    "too short": (
        lines("time,y", *(f"{t},{t}" for t in range(10))),
        {"lookback": 24},
        r"expected a window that fits",
    ),
    "header only": (lines("time,y"), {}, r"expected at least one step, got none"),
    "wrong suffix": ("1\n2\n", {}, r"\.parquet, \.npy file, got the suffix"),
}


@pytest.mark.parametrize(("content", "options", "message"), BAD.values(), ids=BAD.keys())
def test_a_bad_file_is_one_clear_error_and_nothing_is_written(tmp_path, content, options, message):
    path = tmp_path / ("series.txt" if "suffix" in message else "series.csv")
    path.write_text(content)
    out = tmp_path / "runs"
    with pytest.raises(UserError, match=message):
        convrec.train(
            "forecast",
            epochs=1,
            progress=False,
            out=str(out),
            task_options={"data": str(path)} | options,
        )
    assert not out.exists()


def test_later_files_must_continue_the_series_with_its_columns(tmp_path):
    values = seasonal(80)
    data = write_csv(tmp_path / "data.csv", months(2000, 60), values[:60])
    gap = write_csv(tmp_path / "gap.csv", months(2006, 20), values[60:])
    other = write_csv(tmp_path / "other.csv", months(2005, 20), values[60:], ("sales", "cost"))
    cases = [
        ({"test": str(gap)}, r"must continue the series where .* ends \(2004-12-01, so at "),
        ({"test": str(other)}, r"lacks the columns price of the training data"),
    ]
    for files, message in cases:
        task = create_task("forecast", data=str(data), target="sales", lookback=6, **files)
        with pytest.raises(UserError, match=message):
            task.build_data(0)
    with pytest.raises(UserError, match=r"a --validation file needs a --test file after it"):
        create_task("forecast", data=str(data), validation=str(gap))


def test_a_stream_forecasts_after_every_observation_as_predict_does_on_its_window(trained_run):
    run, _, values, _ = trained_run
    trained = convrec.load(run.directory)
    observations = values[:40].astype(np.float32)  # (40, 2) sales and price
    stream = trained.stream()
    pushed, start = [], 0
    for size in [1, 4, 9, 2, 7, 11, 6]:
        pushed.append(stream.push(observations[start : start + size]))
        start += size
    assert [len(part) for part in pushed[:3]] == [0, 0, 3]  # a window needs 12 observations
    forecasts = np.concatenate(pushed)  # (29, 3): after observations 12 .. 40
    windows = [observations[end - 12 : end] for end in range(12, 41)]
    expected = np.stack(trained.predict(windows))
    np.testing.assert_allclose(forecasts, expected, atol=1e-5 * np.abs(expected).max())
