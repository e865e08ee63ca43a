"""Your own series with numeric targets: per series or per step, from long CSV, wide CSV,
``.npz`` and ``.ts``; a run learns, predicts and evaluates from files alone, and bad files are
one clear error with nothing written."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import convrec
from convrec.data.series_targets import read_series_targets
from convrec.errors import UserError
from convrec.files import write_npz
from convrec.tasks import create_task


def amplitudes(count: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Sines of varying length whose amplitude is the target."""
    rng = np.random.default_rng(seed)
    targets = rng.uniform(0.5, 3.0, count)
    series = [
        amplitude * np.sin(np.arange(rng.integers(16, 28)) / 3)[:, None] for amplitude in targets
    ]
    return series, targets


def write_long(path: Path, series, targets, per_step: bool = False) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["sequence_id", "time", "x", "target"])
        for index, (values, target) in enumerate(zip(series, targets, strict=True)):
            for step, value in enumerate(values[:, 0]):
                wanted = target[step] if per_step else target
                writer.writerow([f"s{index}", step, f"{value:.6f}", f"{wanted:.6f}"])
    return path


def test_every_format_reads_the_same_targets(tmp_path):
    series, targets = amplitudes(5)
    long = read_series_targets(
        write_long(tmp_path / "a.csv", series, targets), target_columns=("target",), per_step=False
    )
    assert np.allclose(np.concatenate(long.targets), targets, atol=1e-6)
    assert long.channels == ("x",) and long.series[2].shape == series[2].shape
    with (tmp_path / "wide.csv").open("w") as file:
        file.write("id,target,v0,v1,v2\n")
        file.writelines(f"w{i},{t},1,2,3\n" for i, t in enumerate(targets))
    wide = read_series_targets(tmp_path / "wide.csv", target_columns=("target",), per_step=False)
    assert np.allclose(np.concatenate(wide.targets), targets) and wide.series[0].shape == (3, 1)
    stacked = np.stack([item[:16, 0] for item in series])
    write_npz(tmp_path / "x.npz", {"X": stacked, "y": np.stack([targets, -targets], axis=1)})
    archive = read_series_targets(tmp_path / "x.npz", target_columns=("target",), per_step=False)
    assert archive.target_columns == ("y0", "y1") and archive.targets[1].tolist() == pytest.approx(
        [targets[1], -targets[1]]
    )
    write_npz(tmp_path / "p.npz", {"X": stacked, "y": stacked * 2})
    steps = read_series_targets(tmp_path / "p.npz", target_columns=("target",), per_step=True)
    assert steps.targets[0].shape == (16, 1) and np.allclose(steps.targets[0][:, 0], stacked[0] * 2)
    (tmp_path / "r.ts").write_text(
        "@problemName r\n@univariate true\n@equalLength true\n@targetLabel true\n@data\n"
        "1,2,3:0.5\n4,5,6:1.5\n"
    )
    ts = read_series_targets(tmp_path / "r.ts", target_columns=("target",), per_step=False)
    assert [target[0] for target in ts.targets] == [0.5, 1.5]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regression")
    series, targets = amplitudes(60)
    write_long(folder / "train.csv", series, targets)
    run = convrec.train(
        "series-regression",
        epochs=15,
        batch_size=4,
        lr=1e-2,
        progress=False,
        out=str(folder / "runs"),
        task_options={"data": str(folder / "train.csv")},
        model_options={"hidden_size": 16},
    )
    return run, folder


def test_a_run_learns_the_targets_and_saves_what_prediction_needs(trained_run):
    run, _ = trained_run
    metrics = run.metrics["test"]["test"]
    assert metrics["r2"] > 0.6 and metrics["mae"] < 0.5
    description = convrec.load(run.directory).description
    assert description["model_options"]["return_sequences"] is False  # pooled per series
    assert description["task_state"]["target_columns"] == ["target"]
    assert (run.directory / "predicted_vs_true.png").stat().st_size > 0


def test_predict_and_evaluate_read_new_files_in_a_fresh_process(trained_run, tmp_path):
    run, _ = trained_run
    series, targets = amplitudes(8, seed=1)
    new = write_long(tmp_path / "new.csv", series, targets)
    command = [sys.executable, "-m", "convrec.cli"]
    subprocess.run([*command, "predict", str(run.directory), str(new)], check=True)
    rows = list(csv.DictReader((tmp_path / "new.predictions.csv").read_text().splitlines()))
    assert [row["id"] for row in rows] == [f"s{index}" for index in range(8)]
    predicted = np.array([float(row["target"]) for row in rows])
    assert np.abs(predicted - targets).mean() < 0.6
    result = subprocess.run(
        [*command, "evaluate", str(run.directory), "--data", str(new)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "new.csv" in result.stdout and "r2" in result.stdout


def test_targets_per_step_are_masked_to_each_series_length(tmp_path):
    rng = np.random.default_rng(0)
    series = [rng.normal(size=(length, 1)) for length in rng.integers(8, 20, 40)]
    echoes = [item[:, 0] + 0.5 * np.concatenate([[0], item[:-1, 0]]) for item in series]
    path = write_long(tmp_path / "steps.csv", series, echoes, per_step=True)
    run = convrec.train(
        "series-regression",
        epochs=12,
        batch_size=4,
        lr=1e-2,
        progress=False,
        out=str(tmp_path / "runs"),
        task_options={"data": str(path), "per_step": True},
        model_options={"hidden_size": 16},
    )
    assert run.metrics["test"]["test"]["r2"] > 0.5
    trained = convrec.load(run.directory)
    short, longer = series[0], np.concatenate([series[0], np.full((30, 1), 1e3)])
    alone = trained.predict([short])[0]
    assert alone.shape == (len(short), 1)
    batched = trained.predict([short, series[1], longer])
    assert np.allclose(batched[0], alone, atol=1e-5)  # padding in the batch changes nothing
    assert np.allclose(batched[2][: len(short)], alone, atol=1e-5)  # a causal read-out
    assert not np.allclose(batched[2][len(short) :], alone[-1], atol=1e-2)


BAD = {
    "varying target": (
        "sequence_id,x,target\na,1,1\na,2,2\nb,1,1\nb,2,1\nc,1,1\nc,1,1\n",
        {},
        r"series 'a', step 1: expected the target \[1.0\] of the series on every one of its "
        r"rows \(or per_step=true",
    ),
    "no target": (
        "sequence_id,x,y\na,1,1\na,2,2\n",
        {},
        r"line 1: expected the target columns target \(name yours with task_options.target_col"
        r"umns\), got the columns sequence_id, x, y",
    ),
    "text target": (
        "id,target,v0,v1\na,big,1,2\nb,1,1,2\n",
        {},
        r"line 2, column 'target': expected a number, got 'big'",
    ),
    "too few": (
        "sequence_id,x,target\na,1,1\na,2,1\nb,1,2\nb,2,2\n",
        {},
        r"2 series are too few to hold out a test split",
    ),
    "per step with fcn": (
        "sequence_id,x,target\na,1,1\na,2,2\n",
        {"per_step": True, "model": "fcn"},
        r"targets per step need a model with an output per step \(gru, lstm, rnn\), got 'fcn'",
    ),
}


@pytest.mark.parametrize(("content", "options", "message"), BAD.values(), ids=BAD.keys())
def test_a_bad_file_is_one_clear_error_and_nothing_is_written(tmp_path, content, options, message):
    path = tmp_path / "series.csv"
    path.write_text(content)
    out = tmp_path / "runs"
    model = options.pop("model", None)
    with pytest.raises(UserError, match=message):
        convrec.train(
            "series-regression",
            model=model,
            epochs=1,
            progress=False,
            out=str(out),
            task_options={"data": str(path), **options},
        )
    assert not out.exists()


def test_target_scaling_comes_from_the_training_split_and_holdouts_are_not_empty(tmp_path):
    series, targets = amplitudes(10)
    path = write_long(tmp_path / "s.csv", series, targets)
    task = create_task("series-regression", data=str(path))
    data = task.build_data(0)
    trained = np.concatenate([task.in_units(target.numpy()) for _, target in data.train])
    assert task.target_mean[0] == pytest.approx(trained.mean(), rel=1e-5)
    with pytest.raises(UserError, match=r"argument `test_split`: expected a fraction that holds"):
        create_task("series-regression", data=str(path), test_split=0.04).build_data(0)
