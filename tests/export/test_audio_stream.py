"""Audio out of convrec: a clip classifier on the framewise front end exports with its front end
(raw waveforms and their lengths in, probabilities out), streams 20 ms at a time, and
``convrec stream`` hears its classes in a long recording; the centred front end is refused."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch
from typer.testing import CliRunner

import convrec
from convrec.cli import app
from convrec.data.audio_files import fit_length
from convrec.errors import UserError
from convrec.export import export_run
from tests.export.test_stream_run import run_step_graph
from tests.tasks.test_audio_files import CLASSES, audio_folder, sound, write_wav


@pytest.fixture(scope="module")
def tone_run(tmp_path_factory):
    """A unidirectional GRU on framewise MFCCs of tones and noise, clips of 0.2 to 0.4 s."""
    folder = tmp_path_factory.mktemp("tones")
    run = convrec.train(
        "audio",
        model="gru",
        epochs=12,
        batch_size=8,
        lr=1e-2,
        model_options={"hidden_size": 16, "return_sequences": False},
        progress=False,
        out=str(folder / "runs"),
        task_options={"data": str(audio_folder(folder / "data")), "front_end": "framewise-mfcc"},
    )
    return run.directory


def test_the_graph_takes_waveforms_of_any_length_and_equals_predict_and_the_stream(
    tone_run, tmp_path
):
    path = export_run(tone_run, out=tmp_path / "tones.onnx")
    session = onnxruntime.InferenceSession(str(path))
    metadata = session.get_modelmeta().custom_metadata_map
    assert [item.name for item in session.get_inputs()] == ["inputs", "lengths"]
    assert metadata["input_kind"] == '"waveform"' and metadata["sample_rate"] == "16000"
    trained = convrec.load(tone_run)
    clip = trained.task.clip_length
    rng = np.random.default_rng(0)
    lengths = np.array([clip, clip // 2, 600, clip])  # down to one frame
    waveforms = rng.uniform(-1, 1, (4, clip)).astype(np.float32) * 0.3
    padded = waveforms.copy()
    for row, length in enumerate(lengths):
        padded[row, length:] = rng.uniform(-5, 5, clip - length)  # not what a clip holds
    (probabilities,) = session.run(None, {"inputs": padded, "lengths": lengths})
    fitted = trained.predict([waveforms[0], waveforms[3]])  # full-length clips: as predict
    np.testing.assert_allclose(probabilities[[0, 3]], np.stack(fitted), atol=1e-5)
    for row, length in enumerate(lengths):  # each waveform alone, pushed in chunks
        stream = trained.stream()
        alone = waveforms[row, :length]
        pushed = [stream.push(alone[start : start + 97]) for start in range(0, length, 97)]
        last = next(output for output in reversed(pushed) if len(output))
        np.testing.assert_allclose(last[-1], probabilities[row], atol=1e-5)  # its last frame


def test_every_step_of_a_stream_is_the_model_on_the_clip_so_far(tone_run):
    trained = convrec.load(tone_run)
    waveform = sound("high", 0.3, 16_000, np.random.default_rng(1)).astype(np.float32)
    stream = trained.stream(every_step=True)
    chunks = [stream.push(waveform[start : start + 320]) for start in range(0, 4_800, 320)]
    # a frame needs 512 samples, then every 160 more complete one
    assert [chunk.shape[0] for chunk in chunks[:4]] == [0, 1, 2, 2]
    every = np.concatenate(chunks)
    frames = 1 + (4_800 - 512) // 160
    assert every.shape == (frames, 3)
    session = onnxruntime.InferenceSession(str(export_run(tone_run)))
    for frame in (0, 7, frames - 1):  # the graph on the samples of the first frames alone
        samples = 512 + 160 * frame
        inputs = {"inputs": waveform[None, :samples], "lengths": np.array([samples])}
        np.testing.assert_allclose(every[frame], session.run(None, inputs)[0][0], atol=1e-5)
    state = stream.state
    assert "pending_samples" in state and state["pending_samples"].shape[1] < 512


def test_convrec_stream_hears_the_tones_of_a_long_recording(tone_run, tmp_path):
    rng = np.random.default_rng(2)
    recording = 0.01 * rng.standard_normal(16_000 * 8)
    for name, second in (("high", 2), ("low", 5)):
        clip = fit_length(sound(name, 0.3, 16_000, rng), 4_800)
        recording[second * 16_000 : second * 16_000 + 4_800] = clip
    write_wav(tmp_path / "long.wav", recording, 16_000)
    result = CliRunner().invoke(
        app,
        [
            *("stream", str(tone_run), str(tmp_path / "long.wav")),
            *("--threshold", "0.6", "--background", "noise"),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [line.split("│")[1:3] for line in result.output.splitlines() if "│" in line]
    heard = [(time.strip(), name.strip()) for time, name in rows]
    found = [(name, float(time)) for time, name in heard if name in CLASSES]
    assert [name for name, _ in found] == ["high", "low"], result.output  # noise never
    assert 2.0 <= found[0][1] <= 2.6 and 5.0 <= found[1][1] <= 5.6, result.output
    assert "real-time factor" in result.output


def test_a_centred_front_end_is_refused_by_export_and_stream(tmp_path):
    from tests.tasks.test_audio_files import keyword_run

    run = keyword_run.__wrapped__(tmp_path)
    with pytest.raises(UserError, match=r"centres frames .* framewise front end"):
        export_run(run)
    result = CliRunner().invoke(app, ["stream", str(run), str(run / "model.json")])
    assert isinstance(result.exception, UserError) and "centres frames" in str(result.exception)


def test_the_step_graph_takes_20_ms_packets_with_the_state_in_and_out(tone_run, tmp_path):
    path = export_run(tone_run, "onnx-step", tmp_path / "step.onnx")
    waveform = sound("low", 0.4, 16_000, np.random.default_rng(3)).astype(np.float32)
    packets = [waveform[start : start + 320] for start in range(0, 6_400, 320)]
    stream = convrec.load(tone_run).stream(every_step=True)
    stream.load_state({"pending_samples": torch.zeros(1, 512 - 160)})  # silence before it
    expected = [stream.push(packet) for packet in packets]
    got = run_step_graph(path, packets)
    assert all(output.shape == (2, 3) for output in got)  # two 10 ms frames per packet
    np.testing.assert_allclose(np.concatenate(got), np.concatenate(expected), atol=1e-5)


def test_convrec_stream_refuses_a_model_that_does_not_take_audio(series_run, tmp_path):
    (tmp_path / "a.wav").write_bytes(b"")
    result = CliRunner().invoke(app, ["stream", str(series_run.directory), str(tmp_path / "a.wav")])
    assert isinstance(result.exception, UserError)
    assert "listens to audio" in str(result.exception) and "sequence inputs" in str(
        result.exception
    )
