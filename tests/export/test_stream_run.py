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
