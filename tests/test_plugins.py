"""Plugins: a user's own dataset, task and model (examples/plugin) are found by every command,
through --import or an installed package's entry point, in fresh processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from convrec.errors import UserError
from convrec.tasks import Classification, base, register_task

EXAMPLE = Path(__file__).parent.parent / "examples" / "plugin" / "convrec_sine_plugin.py"


def convrec(*arguments: str, cwd: Path, path: Path | None = None) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    environment.pop("CONVREC_IMPORT", None)
    if path is not None:
        environment["PYTHONPATH"] = str(path)
    return subprocess.run(
        [sys.executable, "-m", "convrec.cli", *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=300,
    )


def test_an_imported_plugin_trains_predicts_evaluates_and_reports(tmp_path):
    shutil.copy(EXAMPLE, tmp_path)
    plugin = ["--import", "convrec_sine_plugin"]
    trained = convrec(
        *plugin, "train", "sine-frequency", "--epochs", "2", "--out", "runs", cwd=tmp_path
    )
    assert trained.returncode == 0, trained.stderr
    (run,) = (tmp_path / "runs").iterdir()
    time = np.linspace(0, 1, 64)
    waves = {"slow": np.sin(6 * np.pi * time), "fast": np.sin(14 * np.pi * time)}
    np.savez(tmp_path / "waves.npz", **waves)
    predict = ["predict", str(run), "waves.npz", "--out", "waves.csv"]
    for arguments in (predict, ["evaluate", str(run)], ["report", str(run)]):
        result = convrec(*plugin, *arguments, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    fetched = convrec(*plugin, "data", "fetch", "sine-waves", cwd=tmp_path)
    assert fetched.returncode == 0 and "sine-waves: nothing to fetch" in fetched.stdout
    header, *rows = (tmp_path / "waves.csv").read_text().splitlines()
    assert header == "id,predicted,p_slow,p_fast"
    assert [row.split(",")[0] for row in rows] == ["slow", "fast"]
    forgotten = convrec("predict", str(run), "waves.npz", cwd=tmp_path)
    assert forgotten.returncode == 2
    assert "the run's task 'sine-frequency' is not registered here" in forgotten.stderr
    assert "--import MODULE" in forgotten.stderr and "Traceback" not in forgotten.stderr


def test_a_plugin_cell_trains_in_a_zoo_model_through_set_and_its_diagnostics_run(tmp_path):
    shutil.copy(EXAMPLE, tmp_path)
    plugin = ["--import", "convrec_sine_plugin"]
    trained = convrec(
        *plugin,
        "train",
        "sine-frequency",
        "--model",
        "gru",
        "--set",
        "model_options.cell=mgu",
        "--set",
        "model_options.bidirectional=true",
        "--set",
        "model_options.hidden_size=8",
        "--set",
        "model_options.return_sequences=false",
        "--epochs",
        "1",
        "--out",
        "runs",
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert "cell: mgu" in (run / "config.yaml").read_text()
    diagnosed = convrec(*plugin, "diagnose", str(run), cwd=tmp_path)
    assert diagnosed.returncode == 0, diagnosed.stderr
    flows = json.loads((run / "gradient_flow.json").read_text())
    assert [flow["cell"] for flow in flows] == ["MinimalGatedUnit"] * 4  # 2 layers, 2 directions
    assert set(flows[0]["saturation"]) == {"forget (sigmoid)", "candidate (tanh)"}
    assert set(flows[0]["recurrent_norm"]) == {"forget", "candidate"}


def installed(site: Path, module: str, source: str) -> Path:
    """``module`` in ``site`` with the metadata of an installed package declaring it as a
    convrec plugin, as ``pip install`` leaves it."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(source)
    info = site / f"{module.replace('_', '-')}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[convrec.plugins]\nexample = {module}\n")
    return site


@pytest.mark.slow  # two trainings in fresh processes, ~16 s; --import is tested above
def test_an_installed_plugin_is_found_without_import(tmp_path):
    site = installed(tmp_path / "site", "convrec_sine_plugin", EXAMPLE.read_text())
    listing = convrec("tasks", cwd=tmp_path, path=site)
    assert listing.returncode == 0 and "sine-frequency" in listing.stdout, listing.stderr
    trained = convrec(
        "train", "sine-frequency", "--epochs", "1", "--out", "runs", cwd=tmp_path, path=site
    )
    assert trained.returncode == 0, trained.stderr
    models = convrec("models", cwd=tmp_path, path=site)
    assert "tiny-cnn" in models.stdout


def test_a_plugin_that_fails_to_import_is_named_in_one_line(tmp_path):
    site = installed(tmp_path / "site", "broken_plugin", "raise RuntimeError('half written')\n")
    result = convrec("train", "no-such-task", cwd=tmp_path, path=site)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "the convrec plugin 'example' of broken_plugin (broken_plugin) failed to import" in (
        result.stderr
    )
    assert "RuntimeError: half written" in result.stderr


def test_a_missing_import_is_one_line(tmp_path):
    result = convrec("--import", "no_such_module_here", "tasks", cwd=tmp_path)
    assert result.returncode == 2
    assert "`--import`: no module 'no_such_module_here'" in result.stderr


def test_two_tasks_of_one_name_are_refused(monkeypatch):
    monkeypatch.setattr(base, "_TASKS", dict(base._TASKS))  # the registry as it was, after

    class First(Classification):
        name = "twice-named"
        dataset = "digits"
        default_model = "mlp"

    class Second(Classification):
        name = "twice-named"
        dataset = "digits"
        default_model = "mlp"

    register_task(First)
    with pytest.raises(UserError, match="task 'twice-named' is registered twice"):
        register_task(Second)
