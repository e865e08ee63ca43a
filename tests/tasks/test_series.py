"""Your own series: every file format reads to the same series, a run trains, predicts and
evaluates from files alone, and bad files are one clear error with nothing written."""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import convrec
from convrec.data.series_files import read_series
from convrec.data.series_index import index_long_csv
from convrec.data.splits import LazyInputs
from convrec.errors import UserError
from convrec.files import write_npz
from convrec.tasks import create_task


def make_series(count: int = 24, length: int = 30, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """``count`` two-channel series: class ``up`` rises, ``down`` falls (easy to learn)."""
    rng = np.random.default_rng(seed)
    labels = ["up" if index % 2 == 0 else "down" for index in range(count)]
    ramp = np.linspace(-1, 1, length)
    series = np.stack(
        [
            np.stack([ramp if label == "up" else -ramp, np.sin(ramp * 3)], axis=-1)
            + 0.1 * rng.normal(size=(length, 2))
            for label in labels
        ]
    )
    return series, labels


def write_long_csv(path: Path, series: np.ndarray, labels: list[str], shuffle: bool = True):
    rows = [
        {"sequence_id": f"s{index}", "time": step, "x": value[0], "y": value[1], "label": label}
        for index, (values, label) in enumerate(zip(series, labels, strict=True))
        for step, value in enumerate(values)
    ]
    if shuffle:  # series interleaved, each one's steps still in time order
        rows.sort(key=lambda row: (row["time"], row["sequence_id"]))
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_wide_csv(path: Path, series: np.ndarray, labels: list[str]):
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "label", *(f"t{step}" for step in range(series.shape[1]))])
        for index, (values, label) in enumerate(zip(series, labels, strict=True)):
            writer.writerow([f"s{index}", label, *values[:, 0]])


def write_ts(path: Path, series: np.ndarray, labels: list[str]):
    lines = ["@problemName own", "@univariate false", "@dimensions 2", "@equalLength true"]
    lines += [f"@seriesLength {series.shape[1]}", "@classLabel true down up", "@data"]
    for values, label in zip(series, labels, strict=True):
        channels = [",".join(repr(float(v)) for v in values[:, c]) for c in range(2)]
        lines.append(":".join([*channels, label]))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def series():
    return make_series()


def test_every_format_reads_to_the_same_series_and_labels(tmp_path, series):
    values, labels = series
    write_npz(tmp_path / "stacked.npz", {"X": values, "y": np.array(labels)})
    keyed = {f"s{index}": array for index, array in enumerate(values)}
    write_npz(tmp_path / "keyed.npz", {**keyed, "y": np.array(labels)})
    write_long_csv(tmp_path / "long.csv", values, labels)
    write_ts(tmp_path / "series.ts", values, labels)
    import pandas  # the test extra installs convrec[parquet]: pandas and pyarrow

    pandas.read_csv(tmp_path / "long.csv").to_parquet(tmp_path / "long.parquet")
    for name in ("stacked.npz", "keyed.npz", "long.csv", "series.ts", "long.parquet"):
        table = read_series(tmp_path / name)
        # in the order the file first names them: s0, s1, s10, ... in the interleaved CSV
        order = [int(identifier.removeprefix("s")) for identifier in table.ids]
        assert table.labels == [labels[index] for index in order], name
        assert len(table.series) == 24 and table.series[0].shape == (30, 2), name
        for read, index in zip(table.series, order, strict=True):
            np.testing.assert_allclose(read, values[index], rtol=1e-12, err_msg=name)
    assert read_series(tmp_path / "long.csv").channels == ("x", "y")
    write_wide_csv(tmp_path / "wide.csv", values, labels)
    wide = read_series(tmp_path / "wide.csv")
    assert wide.ids[:2] == ["s0", "s1"] and wide.labels == labels
    np.testing.assert_allclose(wide.series[3][:, 0], values[3][:, 0])


def test_a_wide_csv_may_hold_shorter_series_and_a_long_one_variable_lengths(tmp_path):
    (tmp_path / "wide.csv").write_text("label,a,b,c\nx,1,2,3\ny,4,5,\n")
    assert [len(item) for item in read_series(tmp_path / "wide.csv").series] == [3, 2]
    (tmp_path / "long.csv").write_text("id,v,label\na,1,x\na,2,x\nb,3,y\n")
    assert [len(item) for item in read_series(tmp_path / "long.csv").series] == [2, 1]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A short run on a long CSV with its own test file."""
    folder = tmp_path_factory.mktemp("own")
    values, labels = make_series(40)
    write_long_csv(folder / "train.csv", values, labels)
    test_values, test_labels = make_series(12, seed=1)
    write_long_csv(folder / "test.csv", test_values, test_labels)
    run = convrec.train(
        "series",
        epochs=8,
        progress=False,
        out=str(folder / "runs"),
        task_options={"data": str(folder / "train.csv"), "test": str(folder / "test.csv")},
    )
    return run, folder


def test_a_run_on_a_csv_learns_and_saves_what_prediction_needs(trained_run):
    run, _ = trained_run
    assert run.metrics["test"]["test"]["accuracy"] > 0.9
    description = convrec.load(run.directory).description
    assert description["task_state"]["classes"] == ["down", "up"]
    assert description["task_state"]["channels"] == ["x", "y"]
    data = (run.directory / "data.json").read_text()
    assert '"train": 32' in data and '"validation": 8' in data and '"test": 12' in data


def test_predict_and_evaluate_read_new_files_in_a_fresh_process(trained_run, tmp_path):
    run, folder = trained_run
    values, labels = make_series(12, seed=1)
    write_npz(tmp_path / "new.npz", {"X": values})  # no labels needed to predict
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "convrec.cli",
            "predict",
            str(run.directory),
            str(tmp_path / "new.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "new.predictions.csv").read_text().splitlines()
    assert lines[0] == "id,predicted,p_down,p_up"
    predicted = [line.split(",")[1] for line in lines[1:]]
    assert np.mean([p == label for p, label in zip(predicted, labels, strict=True)]) > 0.9
    script = textwrap.dedent(
        f"""
        from convrec.train.trained import evaluate
        print(evaluate({str(run.directory)!r}, {str(folder / "test.csv")!r}))
        """
    )
    scored = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    accuracy = run.metrics["test"]["test"]["accuracy"]
    assert f"'accuracy': {accuracy}" in scored.stdout


BAD = {
    "empty-file": ("empty.csv", "", r"a header line"),
    "one-class": ("one.csv", "label,a,b\nx,1,2\nx,3,4\n", r"at least two classes"),
    "class-with-one-series": (
        "rare.csv",
        "label,a,b\nx,1,2\nx,3,4\nx,5,6\ny,7,8\n",
        r"the class 'y' has only one of the series, too few to hold out a test split",
    ),
    "missing-value": ("gap.csv", "id,v,label\na,1,x\na,,x\nb,3,y\n", r"an empty cell"),
    "not-a-number": ("word.csv", "id,v,label\na,1,x\na,two,x\nb,3,y\n", r"got 'two'"),
    "digit-groups": ("groups.csv", "id,v,label\na,1_0,x\na,2,x\nb,3,y\n", r"got '1_0'"),
    "unsorted-time": (
        "time.csv",
        "id,time,v,label\na,2,1,x\na,1,2,x\nb,1,3,y\n",
        r"times increasing within series 'a'.*an earlier time, 1 after 2",
    ),
    "repeated-time": (
        "twice.csv",
        "id,time,v,label\na,1,1,x\na,1,2,x\nb,1,3,y\n",
        r"a repeated time",
    ),
    "duplicate-id-in-wide": (
        "dup.csv",
        "id,label,a,b\ns,x,1,2\nt,y,3,4\n",
        None,  # not an error: ids unique; the next case repeats one
    ),
    "label-changes-within-a-series": (
        "flip.csv",
        "id,v,label\na,1,x\na,2,y\nb,3,y\n",
        r"the label 'x' of series 'a' on every one of its rows",
    ),
    "empty-label": ("blank.csv", "label,a,b\n,1,2\nx,3,4\ny,5,6\n", r"a label, got an empty one"),
    "repeated-column": ("cols.csv", "label,a,a\nx,1,2\n", r"each column name once"),
    "ragged-row": ("ragged.csv", "label,a,b\nx,1\n", r"line 2: expected 3 cells"),
    "not-utf8": ("latin.csv", b"label,a\n\xe9t\xe9,1\n", r"UTF-8"),
    "unknown-suffix": (
        "series.xlsx",
        "x",
        r"expected series in a \.npz, \.csv, \.ts, \.parquet file",
    ),
    "no-labels": ("nolabel.csv", "a,b\n1,2\n3,4\n", r"expected the label column 'label' \(name"),
    "infinite": ("inf.csv", "label,a,b\nx,1,inf\ny,3,4\n", r"a finite number"),
}
BAD.pop("duplicate-id-in-wide")


@pytest.mark.parametrize(("name", "content", "message"), BAD.values(), ids=BAD.keys())
def test_a_bad_file_is_one_clear_error_and_nothing_is_written(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    out = tmp_path / "runs"
    with pytest.raises(UserError, match=message):
        convrec.train(
            "series", epochs=1, progress=False, out=str(out), task_options={"data": str(path)}
        )
    assert not out.exists()


def test_prediction_matches_channels_by_name_and_refuses_others(trained_run, tmp_path):
    run, _ = trained_run
    values, labels = make_series(6, seed=3)
    write_long_csv(tmp_path / "new.csv", values, labels)
    trained = convrec.load(run.directory)
    names, inputs = trained.task.prediction_inputs(tmp_path / "new.csv")
    rows = (tmp_path / "new.csv").read_text().splitlines()
    header = rows[0].split(",")
    swapped = [",".join(row.split(",")[i] for i in (0, 1, 3, 2, 4)) for row in rows]
    (tmp_path / "swapped.csv").write_text("\n".join(swapped) + "\n")
    assert header[2:4] == ["x", "y"]
    again_names, again = trained.task.prediction_inputs(tmp_path / "swapped.csv")
    assert again_names == names
    for read, expected in zip(again, inputs, strict=True):
        np.testing.assert_array_equal(read, expected)  # columns matched by name
    (tmp_path / "other.csv").write_text("sequence_id,voltage,current\na,1,2\na,3,4\n")
    with pytest.raises(UserError, match=r"has the channels voltage, current; the model reads x, y"):
        trained.task.prediction_inputs(tmp_path / "other.csv")


def test_test_files_must_match_the_training_data(tmp_path, series):
    values, labels = series
    write_long_csv(tmp_path / "train.csv", values, labels)
    (tmp_path / "unseen.csv").write_text("id,x,y,label\na,1,2,sideways\na,3,4,sideways\n")
    (tmp_path / "channels.csv").write_text("id,z,label\na,1,up\na,2,up\n")
    for name, message in (
        ("unseen.csv", r"labels never seen in training: 'sideways'"),
        ("channels.csv", r"has the channels z; the model reads x, y"),
    ):
        with pytest.raises(UserError, match=message):
            convrec.train(
                "series",
                epochs=1,
                progress=False,
                out=str(tmp_path / "runs"),
                task_options={"data": str(tmp_path / "train.csv"), "test": str(tmp_path / name)},
            )


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"X": np.zeros((2, 3, 4, 5)), "y": np.array([0, 1])}, r"numbers of shape \(N, T\)"),
        ({"X": np.zeros((3, 4)), "y": np.array([0, 1])}, r"3 labels, one per series"),
        ({"X": np.zeros((2, 4)), "other": np.zeros(3)}, r"only 'X' and 'y'"),
        ({"a": np.zeros((0, 2)), "y": np.array(["p"])}, r"series 'a'.*at least one step"),
    ],
)
def test_bad_npz_archives_are_named(tmp_path, arrays, message):
    write_npz(tmp_path / "bad.npz", arrays)
    with pytest.raises(UserError, match=message):
        read_series(tmp_path / "bad.npz")


def test_a_missing_data_file_is_refused_before_anything_is_built(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"series: invalid value for argument `data`"):
        convrec.train("series", task_options={"data": str(tmp_path / "none.csv")})
    with pytest.raises(ValueError, match=r"`data`: expected labelled series \(--data PATH\)"):
        convrec.train("series", progress=False, out=str(tmp_path / "runs"))


def test_arrays_train_through_the_python_api_and_are_recorded_as_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVREC_DATA", str(tmp_path / "data"))
    values, labels = make_series(24)
    run = convrec.train(
        "series", data=(values, np.array(labels)), epochs=1, progress=False, out=str(tmp_path)
    )
    recorded = Path(run.config.task_options["data"])
    assert recorded.parent == tmp_path / "data" / "arrays" and recorded.suffix == ".npz"
    again = convrec.train(
        "series", data=(values, np.array(labels)), epochs=1, progress=False, out=str(tmp_path)
    )
    assert again.config.task_options["data"] == str(recorded)  # one file per content
    with pytest.raises(UserError, match=r"argument `data`: expected a path, an array"):
        convrec.train("series", data=[values, labels], progress=False, out=str(tmp_path))
    with pytest.raises(UserError, match=r"y with one entry per series, got X \(24, 30, 2\) and"):
        convrec.train("series", data=(values, labels[1:]), progress=False, out=str(tmp_path))
    ragged = [values[0], values[1][:10]]
    with pytest.raises(UserError, match=r"series of different lengths go in a .npz"):
        convrec.train("series", data=(ragged, labels[:2]), progress=False, out=str(tmp_path))
    assert len(list((tmp_path / "data" / "arrays").iterdir())) == 1  # nothing bad written


def test_a_lazy_long_csv_reads_the_same_series_one_at_a_time(tmp_path):
    values, labels = make_series(24)
    write_long_csv(tmp_path / "sorted.csv", values, labels, shuffle=False)
    eager = read_series(tmp_path / "sorted.csv")
    lazy = index_long_csv(tmp_path / "sorted.csv")
    assert isinstance(lazy.series, LazyInputs) and not lazy.series.varies
    assert (lazy.ids, lazy.labels, lazy.channels) == (eager.ids, eager.labels, eager.channels)
    for read, expected in zip(lazy.series, eager.series, strict=True):
        np.testing.assert_array_equal(read, expected)
    options = {"data": str(tmp_path / "sorted.csv")}
    eager_task, lazy_task = (
        create_task("series", **options),
        create_task("series", **options, lazy=True),
    )
    eager_data, lazy_data = eager_task.build_data(0), lazy_task.build_data(0)
    assert isinstance(lazy_data.train.inputs, LazyInputs)
    for index in range(len(eager_data.train)):
        torch.testing.assert_close(lazy_data.train[index][0], eager_data.train[index][0])
    torch.testing.assert_close(lazy_task.mean, eager_task.mean)
    torch.testing.assert_close(lazy_task.std, eager_task.std)
    run = convrec.train(
        "series",
        epochs=1,
        progress=False,
        out=str(tmp_path / "runs"),
        data=tmp_path / "sorted.csv",
        task_options={"lazy": True},
    )
    assert 0 <= run.metrics["test"]["test"]["accuracy"] <= 1


def test_a_lazy_csv_refuses_what_it_cannot_read_as_the_eager_reader_does(tmp_path):
    values, labels = make_series(6)
    write_wide_csv(tmp_path / "wide.csv", values, labels)
    with pytest.raises(UserError, match=r"one row per id, a wide CSV: read it without lazy"):
        index_long_csv(tmp_path / "wide.csv")
    write_long_csv(tmp_path / "long.csv", values, labels, shuffle=False)
    text = (tmp_path / "long.csv").read_text()
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())  # as Excel writes
    assert index_long_csv(tmp_path / "bom.csv").ids == read_series(tmp_path / "long.csv").ids
    with pytest.raises(UserError, match=r"expected the label column 'kind'"):
        index_long_csv(tmp_path / "long.csv", label_column="kind")
    with pytest.raises(UserError, match=r"expected the time column 'ts'"):
        index_long_csv(tmp_path / "long.csv", time_column="ts")


def test_lazy_files_of_different_lengths_make_padded_batches(tmp_path):
    values, labels = make_series(12)
    write_long_csv(tmp_path / "train.csv", values, labels, shuffle=False)
    short, short_labels = make_series(6, length=20, seed=1)
    write_long_csv(tmp_path / "test.csv", short, short_labels, shuffle=False)
    task = create_task(
        "series", data=str(tmp_path / "train.csv"), test=str(tmp_path / "test.csv"), lazy=True
    )
    data = task.build_data(0)
    assert task.variable_length
    test = data.tests["test"]
    inputs, _ = task.collate([test[0], test[1]])
    assert inputs.data.shape == (2, 20, 2) and inputs.lengths.tolist() == [20, 20]


def test_a_lazy_csv_needs_each_series_rows_together(tmp_path):
    values, labels = make_series(6)
    write_long_csv(tmp_path / "mixed.csv", values, labels, shuffle=True)
    with pytest.raises(UserError, match=r"line 8: expected the rows of series 's0' together"):
        index_long_csv(tmp_path / "mixed.csv")


def test_data_given_twice_or_through_set_is_one_clear_error(tmp_path, series):
    values, labels = series
    write_long_csv(tmp_path / "train.csv", values, labels)
    with pytest.raises(UserError, match=r"argument `data`: given twice, as data and as task_opt"):
        convrec.train(
            "series",
            data=tmp_path / "train.csv",
            task_options={"data": str(tmp_path / "other.csv")},
            progress=False,
            out=str(tmp_path / "runs"),
        )
    command = [sys.executable, "-m", "convrec.cli", "train", "series", "--out", str(tmp_path)]
    result = subprocess.run(
        [*command, "--set", f"data={tmp_path / 'train.csv'}"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "data is an option of its own, --data" in result.stderr
    assert "Traceback" not in result.stderr
