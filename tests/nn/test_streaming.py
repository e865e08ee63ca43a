"""Streaming: a sequence pushed in chunks of any sizes gives the outputs of the whole sequence,
for every streamable layer and the zoo's causal models; layers that read the future are refused
by name."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from convrec.errors import InvalidValueError
from convrec.models import create
from convrec.nn import Conv1d, GlobalPool, Pointwise, Pool1d, Recurrent, registered_cells
from convrec.nn.streaming import check_streamable, stream_chunk, stream_parts

STEPS = 17
FEATURES = 3


def chunked(parts, inputs: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    """The outputs of each chunk of ``inputs`` (cut by ``sizes``, cycled) in turn."""
    outputs, state, start, index = [], None, 0, 0
    while start < inputs.shape[1]:
        size = sizes[index % len(sizes)]
        output, state = stream_parts(parts, inputs[:, start : start + size], state)
        outputs.append(output)
        start, index = start + size, index + 1
    return outputs


CHUNKINGS = st.lists(st.integers(1, 7), min_size=1, max_size=6)


@pytest.mark.parametrize("cell", [cell for cell in registered_cells() if cell != "maxwell"])
@given(sizes=CHUNKINGS)
def test_every_cell_streams_as_it_runs_whole(cell, sizes):
    torch.manual_seed(0)
    layer = Recurrent(cell, FEATURES, 4, num_layers=2).eval()
    inputs = torch.randn(2, STEPS, FEATURES)
    with torch.no_grad():
        whole = layer(inputs)
        pieces = torch.cat(chunked([layer], inputs, sizes), dim=1)
    torch.testing.assert_close(pieces, whole, atol=1e-5, rtol=1e-5)


@given(sizes=CHUNKINGS, kind=st.sampled_from(["max", "min", "mean", "sum"]))
def test_causal_convolutions_recurrence_and_running_pools_stream_as_they_run_whole(sizes, kind):
    torch.manual_seed(0)
    parts = [
        Conv1d(FEATURES, 5, 3, padding="causal"),
        Conv1d(5, 5, 2, padding="causal", dilation=3),
        Pointwise(nn.ReLU()),
        Recurrent("lstm", 5, 4),
        GlobalPool(kind),
        nn.Linear(4, 2),
    ]
    inputs = torch.randn(2, STEPS, FEATURES)
    with torch.no_grad():
        outputs = chunked(parts, inputs, sizes)
        for end, output in zip(_ends(STEPS, sizes), outputs, strict=True):
            prefix = inputs[:, :end]
            for part in parts:
                prefix = part(prefix)
            torch.testing.assert_close(output, prefix, atol=1e-5, rtol=1e-5)


@given(sizes=CHUNKINGS, kind=st.sampled_from(["max", "min", "mean", "sum", "last"]))
def test_every_step_gives_a_many_to_one_model_s_output_for_each_prefix(sizes, kind):
    torch.manual_seed(0)
    pool = [] if kind == "last" else [GlobalPool(kind)]
    parts = [
        Recurrent("gru", FEATURES, 4, return_sequences=bool(pool)),
        *pool,
        nn.Linear(4, 2),
    ]
    inputs = torch.randn(2, STEPS, FEATURES)
    every, state, start, index = [], None, 0, 0
    with torch.no_grad():
        while start < STEPS:
            size = sizes[index % len(sizes)]
            output, state = stream_parts(parts, inputs[:, start : start + size], state, True)
            every.append(output)
            start, index = start + size, index + 1
        every = torch.cat(every, dim=1)  # (B, T, 2)
        for end in range(1, STEPS + 1):
            prefix = inputs[:, :end]
            for part in parts:
                prefix = part(prefix)
            torch.testing.assert_close(every[:, end - 1], prefix, atol=1e-5, rtol=1e-5)


@given(sizes=CHUNKINGS)
def test_a_forecaster_streams_a_forecast_for_every_window_a_chunk_completes(sizes):
    torch.manual_seed(0)
    model = create("forecaster", input_shape=(5, FEATURES), output_size=2, hidden_size=4).eval()
    inputs = torch.randn(2, STEPS, FEATURES)
    with torch.no_grad():
        pieces = chunked(model.streaming_parts(), inputs, sizes)
        windows = [model(inputs[:, end - 5 : end]) for end in range(5, STEPS + 1)]
    ends = _ends(STEPS, sizes)
    for previous, end, piece in zip([0, *ends], ends, pieces, strict=False):
        assert piece.shape[1] == max(0, end - max(previous, 4))  # windows ending in it
    got = torch.cat([piece for piece in pieces if piece.shape[1]], dim=1)
    torch.testing.assert_close(got, torch.stack(windows, dim=1), atol=1e-5, rtol=1e-5)


def test_a_forecaster_of_windows_of_any_length_is_refused():
    model = create("forecaster", input_shape=(None, FEATURES), output_size=2, hidden_size=4)
    with pytest.raises(InvalidValueError, match="windows of no fixed length"):
        check_streamable("stream", model.streaming_parts())


def _ends(steps: int, sizes: list[int]) -> list[int]:
    ends, start, index = [], 0, 0
    while start < steps:
        start, index = min(start + sizes[index % len(sizes)], steps), index + 1
        ends.append(start)
    return ends


@pytest.mark.parametrize(
    ("name", "options", "kind"),
    [
        ("gru", {"num_layers": 2}, "sequence"),
        ("lstm", {"return_sequences": False, "pooling": "mean"}, "sequence"),
        ("rnn", {"return_sequences": False}, "tokens"),
        ("charlm", {"hidden_size": 8, "embedding_dim": 4}, "tokens"),
        ("maxwell-cell", {"hidden_size": 2}, "sequence"),
    ],
)
def test_the_zoo_s_causal_models_stream_as_they_run_whole(name, options, kind):
    torch.manual_seed(0)
    tokens = kind == "tokens"
    shape = (None,) if tokens else (None, 8 if name == "maxwell-cell" else FEATURES)
    extra = {"vocab_size": 9} if tokens else {}
    model = create(
        name, input_shape=shape, output_size=9 if name == "charlm" else 2, **options, **extra
    )
    model.eval()
    inputs = torch.randint(1, 9, (1, STEPS)) if tokens else torch.rand(1, STEPS, shape[-1]) + 0.1
    with torch.no_grad():
        whole = model(inputs)
        whole = (
            whole.data if hasattr(whole, "data") and not isinstance(whole, torch.Tensor) else whole
        )
        pieces = chunked(model.streaming_parts(), inputs, [3, 1, 5])
    if whole.dim() == 3:  # an output per step
        torch.testing.assert_close(torch.cat(pieces, dim=1), whole, atol=1e-5, rtol=1e-5)
    else:  # many-to-one: the last push's output is the whole sequence's
        torch.testing.assert_close(pieces[-1], whole, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("part", "named"),
    [
        (Recurrent("gru", FEATURES, 4, bidirectional=True), "is bidirectional"),
        (Conv1d(FEATURES, 4, 3, padding="same"), "padding='same'"),
        (Conv1d(FEATURES, 4, 3, stride=2, padding="causal"), "stride 2"),
        (Pool1d("max", 2), "not a layer convrec can run chunk by chunk"),
    ],
)
def test_a_layer_that_reads_the_future_is_refused_by_name(part, named):
    with pytest.raises(InvalidValueError, match=named):
        check_streamable("stream", [nn.Linear(FEATURES, FEATURES), part])


def test_the_state_is_plain_tensors_that_continue_a_stream():
    torch.manual_seed(0)
    layer = Recurrent("lstm", FEATURES, 4).eval()
    inputs = torch.randn(1, 8, FEATURES)
    with torch.no_grad():
        _, state = stream_chunk(layer, inputs[:, :5], None)
        saved = {name: value.clone() for name, value in state.items()}
        rest, _ = stream_chunk(layer, inputs[:, 5:], saved)
        whole = layer(inputs)
    assert set(saved) == {"part0", "part1"}  # h and c, (layers, B, H) each
    torch.testing.assert_close(rest, whole[:, 5:])
