"""Properties every layer shares: padding invariance and gradcheck; and the recurrent layers'
invariants (PBT-3): causality, batch independence and chunked inference.

Padding invariance: a sequence's output is the same whatever padding the batch adds around it
(other sequences, extra padded steps, garbage values in the padding).
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.func import functional_call

from convrec.nn import (
    GRU,
    LSTM,
    RNN,
    BatchNorm,
    Conv1d,
    Conv2d,
    Conv3d,
    ConvBNReLU,
    Embedding,
    GlobalPool,
    KMaxPool1d,
    Padded,
    Pointwise,
    Pool1d,
    Pool2d,
    Pool3d,
    ResidualBlock,
    VGGBlock,
)

stacks = st.fixed_dictionaries(
    {
        "lengths": st.lists(st.integers(8, 20), min_size=1, max_size=4),
        "extra": st.integers(0, 6),
        "channels": st.integers(1, 3),
        "kernel": st.integers(1, 3),
        "stride": st.integers(1, 2),
        "padding": st.sampled_from(["valid", "same", "causal", 1]),
        "pool": st.sampled_from(["max", "min", "mean", "sum"]),
        "global_pool": st.sampled_from(["max", "mean"]),
        "kind": st.sampled_from(["lstm", "gru", "rnn"]),
        "backend": st.sampled_from(["fused", "reference"]),
        "garbage": st.sampled_from([0.0, 1e6, float("nan")]),
    }
)
RECURRENT = {
    "lstm": lambda size, backend: LSTM(size, 4, bidirectional=True, backend=backend),
    "gru": lambda size, backend: GRU(
        size, 4, bidirectional=True, reset_after=True, backend=backend
    ),
    "rnn": lambda size, backend: RNN(size, 4, bidirectional=True, backend=backend),
}


@given(case=stacks)
def test_conv_pool_birnn_global_pool_stack_ignores_the_padding_around_each_sequence(case):
    model = nn.Sequential(
        Conv1d(case["channels"], 5, case["kernel"], case["stride"], case["padding"]),
        Pool1d(case["pool"], 2),
        RECURRENT[case["kind"]](5, case["backend"]),
        GlobalPool(case["global_pool"]),
    ).double()
    lengths = case["lengths"]
    steps = max(lengths) + case["extra"]
    data = torch.full((len(lengths), steps, case["channels"]), case["garbage"], dtype=torch.float64)
    sequences = [torch.randn(length, case["channels"], dtype=torch.float64) for length in lengths]
    for item, sequence in enumerate(sequences):
        data[item, : len(sequence)] = sequence
    batched = model(Padded(data, lengths))
    for item, sequence in enumerate(sequences):
        alone = model(sequence.unsqueeze(0))
        torch.testing.assert_close(batched[item : item + 1], alone, rtol=1e-10, atol=1e-10)


@given(
    lengths=st.lists(st.integers(6, 12), min_size=1, max_size=3),
    extra=st.integers(0, 4),
    padding=st.sampled_from(["valid", "same", "causal"]),
)
def test_spectrogram_stack_ignores_the_padding_on_its_time_axis(lengths, extra, padding):
    model = nn.Sequential(
        Conv2d(1, 3, 3, stride=(1, 2), padding=padding),
        BatchNorm(3).eval(),
        Pool2d("max", 2),
        GlobalPool("mean"),
    ).double()
    steps = max(lengths) + extra
    data = torch.full((len(lengths), 1, 6, steps), 1e6, dtype=torch.float64)
    for item, length in enumerate(lengths):
        data[item, ..., :length] = torch.randn(1, 6, length, dtype=torch.float64)
    batched = model(Padded(data, lengths, time_dim=3))
    for item, length in enumerate(lengths):
        alone = model(data[item : item + 1, ..., :length])
        torch.testing.assert_close(batched[item : item + 1], alone, rtol=1e-10, atol=1e-10)


def gradcheck_layer(
    layer: nn.Module, shape: tuple[int, ...], lengths: list[int] | None = None, time_dim=1
):
    """gradcheck with respect to the input and every parameter, in float64."""
    layer = layer.double()
    names = [name for name, _ in layer.named_parameters()]
    parameters = [parameter.detach().clone().requires_grad_() for parameter in layer.parameters()]

    def run(x: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        value = Padded(x, lengths, time_dim) if lengths is not None else x
        output = functional_call(layer, dict(zip(names, values, strict=True)), (value,))
        return output.data if isinstance(output, Padded) else output

    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    return torch.autograd.gradcheck(run, (x, *parameters))


LAYERS = {
    "conv1d": (lambda: Conv1d(2, 3, 3, stride=2, padding="same"), (2, 7, 2), [7, 4]),
    "conv2d": (lambda: Conv2d(2, 2, 3, padding="causal", dilation=(1, 2)), (1, 2, 5, 6), None),
    "conv3d": (lambda: Conv3d(1, 2, 2), (1, 1, 3, 3, 3), None),
    "pool1d_max": (lambda: Pool1d("max", 3, 2), (2, 7, 2), [7, 3]),
    "pool1d_lp": (lambda: Pool1d("lp", 2, padding=1), (2, 5, 2), [5, 2]),
    "pool2d_mean": (lambda: Pool2d("mean", 2), (1, 2, 5, 5), None),
    "pool3d_min": (lambda: Pool3d("min", 2), (1, 1, 3, 4, 4), None),
    "kmax": (lambda: KMaxPool1d(2), (2, 5, 2), [5, 3]),
    "global_mean": (lambda: GlobalPool("mean"), (2, 5, 2), [5, 2]),
    "batchnorm": (lambda: BatchNorm(2), (3, 4, 2), [4, 2, 3]),
    "pointwise": (lambda: Pointwise(nn.Linear(2, 3)), (2, 4, 2), [4, 1]),
    "conv_bn_relu": (lambda: ConvBNReLU(2, 3), (2, 6, 2), [6, 4]),
    "residual": (lambda: ResidualBlock(2, 3, stride=2), (2, 6, 2), [6, 3]),
    "vgg": (lambda: VGGBlock(1, 2, num_convs=1, dims=2, batch_norm=False), (1, 1, 4, 4), None),
    "rnn": (lambda: RNN(2, 3, num_layers=2, bidirectional=True), (2, 5, 2), [5, 2]),
    "lstm_native": (lambda: LSTM(2, 3, bidirectional=True), (2, 5, 2), [5, 3]),
    "lstm_reference": (
        lambda: LSTM(2, 3, bidirectional=True, backend="reference"),
        (2, 5, 2),
        [5, 3],
    ),
    "gru_notes": (lambda: GRU(2, 3, bidirectional=True), (2, 5, 2), [5, 2]),
    "gru_native": (lambda: GRU(2, 3, reset_after=True), (2, 5, 2), [4, 5]),
}


@pytest.mark.parametrize("name", LAYERS)
def test_every_layer_passes_gradcheck(name):
    build, shape, lengths = LAYERS[name]
    assert gradcheck_layer(build(), shape, lengths)


def test_embedding_passes_gradcheck_on_its_weights():
    embed = Embedding(5, 3, padding_idx=0).double()
    tokens = torch.tensor([[1, 4, 0], [2, 0, 0]])

    def run(weight: torch.Tensor) -> torch.Tensor:
        return functional_call(embed, {"weight": weight}, (tokens,)).data

    assert torch.autograd.gradcheck(run, (embed.weight.detach().clone().requires_grad_(),))


UNIDIRECTIONAL = {  # the notes' GRU (reset_after=False) has only the reference loop
    "rnn": lambda backend, **options: RNN(3, 5, backend=backend, **options),
    "lstm": lambda backend, **options: LSTM(3, 5, backend=backend, **options),
    "gru_notes": lambda backend, **options: GRU(3, 5, backend="reference", **options),
    "gru_native": lambda backend, **options: GRU(
        3, 5, reset_after=True, backend=backend, **options
    ),
}
recurrent_cases = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(sorted(UNIDIRECTIONAL)),
        "backend": st.sampled_from(["fused", "reference"]),
        "batch": st.integers(1, 8),
        "steps": st.integers(1, 300),
    }
)


def recurrent_layer(case: dict, **options: object) -> nn.Module:
    """The case's unidirectional layer, in eval mode, for inputs ``(B, L, 3)``."""
    return UNIDIRECTIONAL[case["kind"]](case["backend"], **options).eval()


def as_tuple(state: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


@settings(max_examples=15)
@given(case=recurrent_cases, data=st.data())
def test_recurrent_outputs_before_a_perturbed_step_are_exactly_unchanged(case, data):
    layer = recurrent_layer(case)
    x = torch.randn(case["batch"], case["steps"], 3)
    step = data.draw(st.integers(0, case["steps"] - 1), label="perturbed step")
    perturbed = x.clone()
    perturbed[:, step] += 10.0
    with torch.no_grad():
        before, after = layer(x), layer(perturbed)
    assert before.shape == (case["batch"], case["steps"], 5)
    assert torch.equal(before[:, :step], after[:, :step])
    assert not torch.equal(before[:, step], after[:, step])


@settings(max_examples=15)
@given(case=recurrent_cases)
def test_recurrent_prediction_for_a_sample_does_not_depend_on_the_others(case):
    layer = recurrent_layer(case)
    x = torch.randn(case["batch"], case["steps"], 3)
    with torch.no_grad():
        batched = layer(x)
        alone = torch.cat([layer(x[item : item + 1]) for item in range(case["batch"])])
    torch.testing.assert_close(batched, alone, rtol=0, atol=1e-6)


@settings(max_examples=15)
@given(case=recurrent_cases, data=st.data())
def test_recurrent_inference_in_chunks_carrying_the_state_equals_one_pass(case, data):
    layer = recurrent_layer(case, return_state=True)
    x = torch.randn(case["batch"], case["steps"], 3)
    cuts = data.draw(st.sets(st.integers(1, case["steps"]), max_size=4), label="chunk ends")
    with torch.no_grad():
        whole, final = layer(x)
        state, outputs, begin = None, [], 0
        for end in sorted({*cuts, case["steps"]}):
            output, state = layer(x[:, begin:end], state)
            outputs.append(output)
            begin = end
    torch.testing.assert_close(torch.cat(outputs, dim=1), whole, rtol=0, atol=1e-6)
    for carried, once in zip(as_tuple(state), as_tuple(final), strict=True):
        torch.testing.assert_close(carried, once, rtol=0, atol=1e-6)
