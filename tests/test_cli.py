"""The command line: listings, a training run and what it writes, resuming it, prediction, clear
errors."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from convrec.cli import DEBUG_VARIABLE, app, main, parse_settings
from convrec.data.sources import status
from convrec.tasks.maxwell import Maxwell
from convrec.train import finish, trained

runner = CliRunner()
SMALL = "task_options: {train_size: 32, validation_size: 8, test_size: 8, segments: 3}\n"


def small_training(directory) -> list[str]:
    """Arguments of a two-epoch maxwell training on little data (its config file in
    ``directory``)."""
    config = directory / "small.yaml"
    config.write_text(SMALL)
    return [
        "train",
        "maxwell",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--config",
        str(config),
        "--no-progress",
    ]


def convrec(*arguments: str) -> subprocess.CompletedProcess:
    """Run the installed entry point, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "convrec.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_tasks_and_models_are_listed():
    tasks = runner.invoke(app, ["tasks"]).output
    assert all(name in tasks for name in ("maxwell", "fashion-mnist", "keywords", "char-lm"))
    listing = runner.invoke(app, ["models"]).output
    assert all(name in listing for name in ("gru", "lenet5", "textcnn", "deepbind", "charlm"))
    assert "hidden_size=64" in listing


def test_set_options_nest_by_dots_and_read_values_as_yaml():
    assert parse_settings(["lr=0.01", "model_options.hidden_size=8", "model_options.x=[1, 2]"]) == {
        "lr": 0.01,
        "model_options": {"hidden_size": 8, "x": [1, 2]},
    }
    with pytest.raises(ValueError, match="`--set`: expected KEY=VALUE, got 'lr'"):
        parse_settings(["lr"])


def test_a_model_that_does_not_take_the_tasks_input_is_refused_in_one_line():
    result = convrec("train", "maxwell", "--model", "lenet5", "--epochs", "1")
    message = " ".join(result.stderr.split())
    assert result.returncode == 2
    assert "expected a model that takes sequence input" in message and "got 'lenet5'" in message
    assert "Traceback" not in message


def test_an_unknown_task_is_one_clear_line_without_a_traceback():
    result = convrec("train", "maxwel")
    assert result.returncode == 2
    assert "unknown task 'maxwel'" in result.stderr and "Did you mean 'maxwell'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    result = runner.invoke(app, [*small_training(out), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (directory,) = [path for path in out.iterdir() if path.is_dir()]
    return directory


def test_train_resume_continues_the_run_in_its_own_directory(run_dir, tmp_path, monkeypatch):
    """``--resume`` on a copy of the two-epoch run, for a third epoch (pictures not drawn)."""
    monkeypatch.setattr(Maxwell, "plot", lambda self, model, data, directory: [])
    monkeypatch.setattr(finish, "plot_learning_curves", lambda history, path, metric: path)
    monkeypatch.setattr(finish, "inspect_model", lambda model, task, dataset, directory: None)
    directory = shutil.copytree(run_dir, tmp_path / "run")
    before = (directory / "history.csv").read_text().splitlines()
    arguments = ["train", "maxwell", "--resume", str(directory), "--epochs", "3", "--no-progress"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert str(directory) in "".join(result.output.split())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]
    history = (directory / "history.csv").read_text().splitlines()
    assert len(history) == 4 and history[:3] == before  # the header and epochs 1, 2 kept
    assert json.loads((directory / "metrics.json").read_text())["epochs"] == 3
    assert "epoch-0003" in {path.name for path in (directory / "checkpoints").iterdir()}


def test_a_run_directory_holds_everything_named(run_dir):
    names = {path.name for path in run_dir.iterdir()}
    assert {
        "config.yaml",
        "metrics.json",
        "history.csv",
        "model.safetensors",
        "model.json",
        "checkpoints",
        "learning_curves.png",
        "hysteresis.png",
        "stress_time.png",
        "gradient_flow.json",
        "gradient_flow.png",
    } <= names
    checkpoints = {path.name for path in (run_dir / "checkpoints").iterdir()}
    assert checkpoints == {"epoch-0001", "epoch-0002"}
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["epochs"] == 2 and config["versions"]["torch"].startswith("2.")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["device"] == "cpu"
    assert set(metrics["test"]["triangles"]) >= {"rel_l2_median", "rel_l2_p95", "work_median"}
    with (run_dir / "history.csv").open() as file:
        assert [row["epoch"] for row in csv.DictReader(file)] == ["1", "2"]


def test_summary_of_a_run_and_of_a_model_name(run_dir):
    result = runner.invoke(app, ["summary", str(run_dir), "--length", "20", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert rows[0]["layer"] == "GRU" and rows[0]["output_shape"][:2] == [1, 20]
    assert "layer 0 forward update" in rows[0]["parameter_groups"]
    table = runner.invoke(app, ["summary", "lenet5", "--input-shape", "1,28,28"]).output
    assert "61,706 parameters" in table and "14x14" in table
    words = ["summary", "textcnn", "--input-shape", "50", "--set", "vocab_size=100", "--json"]
    result = runner.invoke(app, words)  # an embedding's example is ids, not floats
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"][0]["layer"] == "Embedding"


def test_summary_without_an_input_shape_is_one_clear_line():
    result = convrec("summary", "lenet5")
    assert result.returncode == 2
    assert "option `--input-shape`" in result.stderr and "Traceback" not in result.stderr


def test_diagnose_and_report_write_their_files(run_dir):
    result = runner.invoke(app, ["diagnose", str(run_dir), "--sequences", "4"])
    assert result.exit_code == 0, result.output
    assert "gradient flow" in result.output and "gradient_flow.png" in result.output
    flows = json.loads((run_dir / "gradient_flow.json").read_text())
    assert flows[0]["cell"] == "GRU" and len(flows[0]["jacobian"]) > 10
    result = runner.invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    page = (run_dir / "report.html").read_text()
    assert "hysteresis" in page and "Gradient flow through time" in page and "GRU" in page


def test_evaluate_reproduces_the_run_metrics(run_dir):
    result = runner.invoke(app, ["evaluate", str(run_dir)])
    assert result.exit_code == 0, result.output
    from convrec.train import evaluate

    metrics = json.loads((run_dir / "metrics.json").read_text())["test"]
    again = evaluate(run_dir)
    assert set(again) == set(metrics)
    for name, values in metrics.items():
        assert again[name] == pytest.approx(values, rel=1e-6), name


def test_predict_npz_and_csv_agree(run_dir, tmp_path):
    rates = np.r_[np.full(10, 0.01), np.full(10, -0.01)]
    sequence = np.stack([1 + np.cumsum(rates * 0.5), rates, np.full(20, 0.5)], axis=-1)
    np.savez(tmp_path / "paths.npz", first=sequence, second=sequence[:7])
    assert runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "paths.npz")]).exit_code == 0
    with np.load(tmp_path / "paths.predictions.npz") as archive:
        first, second = archive["first"], archive["second"]
    assert first.shape == (20,) and second.shape == (7,)
    np.testing.assert_allclose(first[:7], second, rtol=1e-5, atol=1e-6)  # causal: prefix agrees
    with (tmp_path / "paths.csv").open("w") as file:
        file.write("sequence_id,stretch,stretch_rate,dt\n")
        file.writelines(f"a,{s},{r},{d}\n" for s, r, d in sequence)
    result = runner.invoke(
        app,
        ["predict", str(run_dir), str(tmp_path / "paths.csv"), "--out", str(tmp_path / "out.csv")],
    )
    assert result.exit_code == 0, result.output
    with (tmp_path / "out.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [row["step"] for row in rows] == [str(step) for step in range(20)]
    np.testing.assert_allclose([float(row["stress"]) for row in rows], first, rtol=1e-5)


def test_generate_refuses_a_run_that_is_not_a_language_model(run_dir):
    result = runner.invoke(app, ["generate", str(run_dir)])
    assert result.exit_code != 0
    assert "expected a language-model run" in str(result.exception)


def test_predict_refuses_a_csv_without_the_input_columns(run_dir, tmp_path):
    (tmp_path / "bad.csv").write_text("sequence_id,stretch\na,1.0\n")
    result = convrec("predict", str(run_dir), str(tmp_path / "bad.csv"))
    assert result.returncode == 2
    assert "lacks stretch_rate, dt" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow  # two processes, each starting Lightning: ~40 s on 2 cores
def test_two_process_ddp_equals_one_process_with_the_same_global_batch(tmp_path):
    """Fabric's DDP over gloo: 2 CPU processes with half the batch each give one process's
    weights (up to the order of floating-point sums in the all-reduce)."""
    arguments = small_training(tmp_path)
    weights = []
    for devices in ("1", "2"):
        out = tmp_path / f"devices-{devices}"
        result = convrec(*arguments, "--out", str(out), "--device", "cpu", "--devices", devices)
        assert result.returncode == 0, result.stderr
        (directory,) = list(out.iterdir())
        assert json.loads((directory / "metrics.json").read_text())["processes"] == int(devices)
        weights.append(load_file(directory / "model.safetensors"))
    single, distributed = weights
    assert single.keys() == distributed.keys()
    for name in single:
        torch.testing.assert_close(distributed[name], single[name], rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # two processes, each starting Lightning: ~40 s on 2 cores
def test_two_process_ddp_trains_the_head_on_a_frozen_backbone(tmp_path):
    """Gradients stop before DDP wraps the model, so its reducer expects none for the backbone."""
    arguments = small_training(tmp_path)
    source = convrec(*arguments, "--out", str(tmp_path / "source"), "--device", "cpu")
    assert source.returncode == 0, source.stderr
    (source_dir,) = list((tmp_path / "source").iterdir())
    out = tmp_path / "frozen"
    frozen = convrec(
        *arguments,
        *("--out", str(out), "--device", "cpu", "--devices", "2"),
        *("--finetune", str(source_dir), "--freeze", "backbone"),
    )
    assert frozen.returncode == 0, frozen.stderr
    (frozen_dir,) = list(out.iterdir())
    before = load_file(source_dir / "model.safetensors")
    after = load_file(frozen_dir / "model.safetensors")
    backbone = [name for name in before if not name.startswith("head.")]
    assert backbone and all(torch.equal(after[name], before[name]) for name in backbone)
    assert any(
        not torch.equal(after[name], before[name]) for name in after if name.startswith("head.")
    )


def test_data_list_and_fetch_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVREC_DATA", str(tmp_path))
    listing = runner.invoke(app, ["data", "list"])
    assert listing.exit_code == 0
    assert "missing" in listing.stdout and "japanese-vowels" in listing.stdout
    unknown = subprocess.run(
        [sys.executable, "-m", "convrec.cli", "data", "fetch", "gunpont"],
        capture_output=True,
        text=True,
        env={**os.environ, "CONVREC_DATA": str(tmp_path)},
    )
    assert unknown.returncode == 2
    assert "unknown source or dataset 'gunpont'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def run_main(monkeypatch, capsys, *arguments: str) -> tuple[int | None, str]:
    """``convrec ARGUMENTS`` through ``main``: its exit status (None if it returned) and its
    standard error."""
    monkeypatch.setattr(sys, "argv", ["convrec", *arguments])
    try:
        main()
    except SystemExit as exit:
        return exit.code, capsys.readouterr().err
    return None, capsys.readouterr().err


def test_a_user_error_is_one_line_and_a_bug_shows_its_traceback(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv(DEBUG_VARIABLE, raising=False)
    status, error = run_main(monkeypatch, capsys, "evaluate", str(tmp_path / "gone"))
    assert status == 2
    assert error.strip().splitlines() == [
        f"error: invalid value for argument `run_dir`: {tmp_path / 'gone'} does not exist"
    ]

    def bug(run_dir, data=None):
        raise KeyError("a bug")

    monkeypatch.setattr(trained, "evaluate", bug)
    with pytest.raises(KeyError, match="a bug"):  # not turned into a line
        run_main(monkeypatch, capsys, "evaluate", str(tmp_path))


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_debug_shows_the_traceback_of_a_user_error_too(monkeypatch, capsys, tmp_path, how):
    monkeypatch.setenv(DEBUG_VARIABLE, "0")  # restored (unset) afterwards, whatever main sets
    arguments = ["evaluate", str(tmp_path / "gone")]
    if how == "flag":
        arguments.insert(0, "--debug")
    else:
        monkeypatch.setenv(DEBUG_VARIABLE, "1")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_main(monkeypatch, capsys, *arguments)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_asking_for_a_missing_gpu_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv(DEBUG_VARIABLE, raising=False)
    arguments = [*small_training(tmp_path), "--device", "cuda", "--out", str(tmp_path / "runs")]
    status, error = run_main(monkeypatch, capsys, *arguments)
    assert status == 2
    assert error.strip().splitlines() == [
        "error: invalid value for option `device`: 'cuda' with 1 device(s) cannot run on this "
        "machine: `CUDAAccelerator` can not run on your system since the accelerator is not "
        "available."
    ]
    assert not (tmp_path / "runs").exists()


def test_piped_progress_is_a_line_per_epoch_as_it_ends(tmp_path, monkeypatch):
    """In this process: the runner's output is not a terminal, as a pipe is not."""
    monkeypatch.setattr(Maxwell, "plot", lambda self, model, data, directory: [])
    monkeypatch.setattr(finish, "inspect_model", lambda model, task, dataset, directory: None)
    arguments = [*small_training(tmp_path), "--out", str(tmp_path / "runs")]
    arguments.remove("--no-progress")
    result = runner.invoke(app, [*arguments[:3], "1", *arguments[4:]])  # one epoch
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    (epoch,) = [line for line in lines if line.startswith("epoch ")]
    assert re.fullmatch(
        r"epoch 1/1  train \S+  validation \S+  rel_l2_median \S+  lr \S+  [0-9.]+ s  \*", epoch
    )
    assert any(re.match(r"1 epoch in \d+ s; run directory", line) for line in lines)


def test_help_at_80_columns_shows_whole_option_names_and_defaults():
    result = subprocess.run(
        [sys.executable, "-m", "convrec.cli", "train", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        timeout=60,
    )
    assert result.returncode == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    for option in ("--gradient-flow-every", "--clip-grad-norm", "--deterministic"):
        assert option in result.stdout
    assert "[default: (the task's" in result.stdout and "[default: (1.0)]" in result.stdout


def test_report_of_a_missing_run_names_its_argument():
    result = runner.invoke(app, ["report", "/nonexistent/run"])
    assert isinstance(result.exception, FileNotFoundError)
    assert "argument `run_dir`" in str(result.exception)


@pytest.mark.skipif(status("ucr") != "fetched", reason="needs convrec data fetch ucr")
def test_predict_of_a_classification_recipe_reads_every_column_and_names_the_class(tmp_path):
    """Defects of the "your own data" issue: a classifier's CSV input columns were empty, its
    output had no predicted label, and `--out x.csv` with an .npz input wrote a zip."""
    out = tmp_path / "runs"
    result = runner.invoke(
        app, ["train", "italy-power", "--epochs", "1", "--out", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    (run,) = out.iterdir()
    rows = ["sequence_id,value"] + [f"a,{np.sin(step)}" for step in range(24)]
    (tmp_path / "days.csv").write_text("\n".join(rows) + "\n")
    assert runner.invoke(app, ["predict", str(run), str(tmp_path / "days.csv")]).exit_code == 0
    header, line = (tmp_path / "days.predictions.csv").read_text().splitlines()
    assert header == "id,predicted,p_1,p_2" and line.split(",")[1] in ("1", "2")
    np.savez(tmp_path / "days.npz", a=np.sin(np.arange(24.0)))
    arguments = ["predict", str(run), str(tmp_path / "days.npz"), "--out", str(tmp_path / "x.csv")]
    assert runner.invoke(app, arguments).exit_code == 0
    assert (tmp_path / "x.csv").read_text().splitlines()[0] == "id,predicted,p_1,p_2"
