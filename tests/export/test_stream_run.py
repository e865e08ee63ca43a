"""``convrec.load(RUN).stream()``: the main job's stress, pushed a few steps at a time, is what
``predict`` gives for the whole history; the state is plain tensors that continue a stream."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import convrec
from convrec.errors import InvalidValueError
from convrec.models import create
from convrec.tasks import create_task
from convrec.tasks.envelope import OutOfDistributionWarning
from convrec.tasks.exported import ExportSpec
from convrec.tasks.streaming import Stream
from tests.export.runs import TINY_MAXWELL


def history() -> np.ndarray:
    data = create_task("maxwell", **TINY_MAXWELL).build_data(seed=3)
    return data.tests["longer-4x"].raw[0]


def test_a_history_pushed_in_chunks_gives_predict_s_stress(maxwell_run):
    trained = convrec.load(maxwell_run.directory)
    raw = history()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDistributionWarning)
        whole = trained.predict([raw])[0]
    stream = trained.stream()
    pieces, start = [], 0
    for size in [1, 4, 2, 7, 3] * len(raw):
        if start >= len(raw):
            break
        pieces.append(stream.push(raw[start : start + size]))
        start += size
    stress = np.concatenate(pieces)[:, 0]
    np.testing.assert_allclose(stress, whole, atol=1e-5 * np.abs(whole).max())


def test_a_saved_state_continues_the_stream_and_reset_starts_over(maxwell_run):
    trained = convrec.load(maxwell_run.directory)
    raw = history()
    first = trained.stream()
    head = first.push(raw[:6])
    saved = first.state
    assert all(isinstance(value, torch.Tensor) for value in saved.values())
    second = trained.stream()
    second.load_state(saved)
    np.testing.assert_array_equal(second.push(raw[6:9]), first.push(raw[6:9]))
    first.reset()
    np.testing.assert_array_equal(first.push(raw[:6]), head)


def test_a_bad_chunk_and_a_bidirectional_model_are_refused_by_name(maxwell_run):
    stream = convrec.load(maxwell_run.directory).stream()
    with pytest.raises(InvalidValueError, match=r"chunk.*\(t, 3\) values"):
        stream.push(np.zeros((4, 5)))
    model = create("gru", input_shape=(None, 3), output_size=2, bidirectional=True)
    spec = ExportSpec("sequence", (None, 3), True, "values", "", "")
    with pytest.raises(InvalidValueError, match=r"recurrent \(Recurrent\) is bidirectional"):
        Stream(model, spec)


def test_a_max_pool_s_step_graph_starts_from_minus_infinity(tmp_path):
    from convrec.export import write_step_onnx
    from convrec.export.step import step_onnx

    torch.manual_seed(0)
    model = create(
        "gru",
        input_shape=(None, 3),
        output_size=2,
        return_sequences=False,
        pooling="max",
        hidden_size=4,
    ).eval()
    spec = ExportSpec("sequence", (None, 3), True, "values", "(batch, time, 3)", "(batch, 2)")
    path = write_step_onnx(model, spec, {}, tmp_path / "step.onnx")
    chunks = [
        np.random.default_rng(k).normal(size=(n, 3)).astype(np.float32)
        for k, n in enumerate([3, 1, 4])
    ]
    stream = Stream(model, spec, every_step=True)
    expected = [stream.push(chunk) for chunk in chunks]
    for ours, theirs in zip(run_step_graph(path, chunks), expected, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert step_onnx(model, spec)[1]["state_start"]["1.extreme"] == "-inf"


def test_a_forecaster_has_no_step_graph(tmp_path):
    from convrec.export import write_step_onnx

    model = create("forecaster", input_shape=(6, 2), output_size=2, hidden_size=4)
    spec = ExportSpec("sequence", (6, 2), False, "values", "", "")
    with pytest.raises(InvalidValueError, match="keeps a growing window"):
        write_step_onnx(model, spec, {}, tmp_path / "step.onnx")


def test_greedy_generation_through_a_stream_is_what_charlm_generates():
    torch.manual_seed(0)
    model = create(
        "charlm", input_shape=(None,), output_size=9, vocab_size=9, hidden_size=8, embedding_dim=4
    ).eval()
    stream = Stream(model, ExportSpec("tokens", (None,), True, "probabilities", "", ""))
    prompt = np.array([3, 5, 2, 7])
    probabilities = stream.push(prompt)[-1]  # the prompt is read once
    generated = []
    for _ in range(12):  # then one id at a time from the state: no pass over the prefix
        generated.append(int(np.argmax(probabilities[1:])) + 1)  # padding (id 0) never drawn
        probabilities = stream.push(np.array(generated[-1:]))[-1]
    assert generated == model.generate(torch.tensor(prompt), 12, temperature=0).tolist()


def run_step_graph(path, chunks: list[np.ndarray]) -> list[np.ndarray]:
    """Each chunk through an ``onnx-step`` file, the state carried from call to call."""
    import onnxruntime

    from convrec.export.step import start_arrays

    session = onnxruntime.InferenceSession(str(path))
    state = start_arrays(session.get_modelmeta().custom_metadata_map)
    outputs = []
    for chunk in chunks:
        output, *after = session.run(None, {"chunk": chunk[None], **state})
        state = dict(zip(state, after, strict=True))
        outputs.append(output[0])
    return outputs


def test_the_step_graph_carries_the_state_in_and_out_as_a_stream_does(maxwell_run, tmp_path):
    from convrec.export import export_run

    path = export_run(maxwell_run.directory, "onnx-step", tmp_path / "step.onnx")
    raw = history().astype(np.float32)
    sizes = [1, 5, 2, 9, 3, 4]
    chunks = [raw[sum(sizes[:k]) : sum(sizes[: k + 1])] for k in range(len(sizes))]
    stream = convrec.load(maxwell_run.directory).stream()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDistributionWarning)
        expected = [stream.push(chunk) for chunk in chunks]
    got = run_step_graph(path, chunks)
    for ours, theirs in zip(got, expected, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-5 * np.abs(theirs).max())
