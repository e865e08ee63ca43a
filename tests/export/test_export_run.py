"""``convrec export`` of whole runs: the file predicts what ``convrec.load(RUN).predict`` does,
with the task's preprocessing in the graph, in a process where convrec cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import torch
from typer.testing import CliRunner

import convrec
import convrec.nn  # registers convrec::recurrent_layer for torch.export.load
from convrec.cli import app
from convrec.errors import InvalidValueError, PathNotFoundError
from convrec.export import export_run
from convrec.tasks import create_task
from convrec.tasks.envelope import OutOfDistributionWarning
from tests.export.runs import TINY_MAXWELL
from tests.tasks.test_series import make_series

WITHOUT_CONVREC = """
import json, sys
sys.modules["convrec"] = None  # any import of convrec now fails
import numpy as np, onnxruntime
session = onnxruntime.InferenceSession(sys.argv[1])
meta = session.get_modelmeta().custom_metadata_map
batch = np.load(sys.argv[2])
(output,) = session.run(None, {"inputs": batch["inputs"], "lengths": batch["lengths"]})
inputs = {item.name: [item.shape, item.type] for item in session.get_inputs()}
print(json.dumps({"output": output.tolist(), "classes": json.loads(meta["classes"]),
                  "inputs": inputs, "outputs": [item.name for item in session.get_outputs()],
                  "version": json.loads(meta["convrec_version"])}))
"""


def padded(sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A batch ``(B, T, C)`` padded with noise, which the graph must not read."""
    longest = max(len(sequence) for sequence in sequences)
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(len(sequences), longest, sequences[0].shape[1])).astype(np.float32)
    for index, sequence in enumerate(sequences):
        batch[index, : len(sequence)] = sequence
    return batch, np.array([len(sequence) for sequence in sequences], dtype=np.int64)


def test_an_exported_classifier_predicts_in_a_process_without_convrec(series_run, tmp_path):
    path = export_run(series_run.directory)
    assert path == series_run.directory / "model.onnx"
    values, _ = make_series(6, seed=3)
    sequences = [
        series[:length].astype(np.float32)
        for series, length in zip(values, [30, 7, 1, 19, 2, 25], strict=True)
    ]
    inputs, lengths = padded(sequences)
    np.savez(tmp_path / "batch.npz", inputs=inputs, lengths=lengths)
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_CONVREC, str(path), str(tmp_path / "batch.npz")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    expected = convrec.load(series_run.directory).predict(sequences)
    np.testing.assert_allclose(np.array(answer["output"]), np.stack(expected), atol=1e-5)
    assert answer["classes"] == list(convrec.load(series_run.directory).task.classes)
    assert answer["inputs"] == {
        "inputs": [["batch", "time", 2], "tensor(float)"],
        "lengths": [["batch"], "tensor(int64)"],
    }
    assert answer["outputs"] == ["probabilities"] and answer["version"] == convrec.__version__


def test_the_main_job_exports_raw_histories_to_stress_in_both_formats(maxwell_run):
    import onnxruntime

    run = maxwell_run
    trained = convrec.load(run.directory)
    fresh = create_task("maxwell", **TINY_MAXWELL)  # building data refits a task's statistics
    histories = fresh.build_data(seed=5).tests["rates-10x-faster"].raw
    sequences = [
        history[:length].astype(np.float32)
        for history, length in zip(histories, [3, 10, 1, 7], strict=False)
    ]
    inputs, lengths = padded(sequences)
    inputs[..., 2] = np.where(np.arange(inputs.shape[1]) < lengths[:, None], inputs[..., 2], 1.0)
    with warnings.catch_warnings():  # a rate 10x faster than training is outside the envelope
        warnings.simplefilter("ignore", OutOfDistributionWarning)
        expected = trained.predict([sequence.astype(np.float64) for sequence in sequences])
    session = onnxruntime.InferenceSession(str(export_run(run.directory, "onnx")))
    (stress,) = session.run(None, {"inputs": inputs, "lengths": lengths})
    program = torch.export.load(export_run(run.directory, "exported-program"))
    from_program = program.module()(torch.from_numpy(inputs), torch.from_numpy(lengths))
    from_program = from_program.detach().numpy()
    for index, want in enumerate(expected):
        scale = np.abs(want).max()
        np.testing.assert_allclose(stress[index, : lengths[index], 0], want, atol=1e-5 * scale)
        np.testing.assert_allclose(
            from_program[index, : lengths[index], 0], want, atol=1e-5 * scale
        )
        assert not stress[index, lengths[index] :].any()  # zeros past each length


def test_the_command_writes_where_asked_and_refuses_unknown_formats(series_run, tmp_path):
    runner = CliRunner()
    out = tmp_path / "classifier.onnx"
    result = runner.invoke(app, ["export", str(series_run.directory), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0 and "exported to" in result.output
    refused = runner.invoke(app, ["export", str(series_run.directory), "--format", "tflite"])
    assert isinstance(refused.exception, InvalidValueError)  # convrec's main prints it in a line
    assert "'onnx', 'exported-program', 'onnx-step', got 'tflite'" in str(refused.exception)
    missing = runner.invoke(app, ["export", str(tmp_path / "nowhere")])
    assert isinstance(missing.exception, PathNotFoundError)
    assert "no directory" in str(missing.exception)
