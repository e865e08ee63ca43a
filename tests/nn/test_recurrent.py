"""Recurrent layers: the two backends agree, padding is respected, torch.nn is matched."""

import itertools
from functools import partial

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from convrec.nn import GRU, LSTM, RNN, Padded, Recurrent

KINDS = {
    "rnn_tanh": (RNN, {}),
    "rnn_relu": (RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, {}),
    "gru": (GRU, {"reset_after": True}),
}
# every cell with a fused scan: PyTorch's kernels and convrec's hand-written backward
FUSED_KINDS = {
    **KINDS,
    "gru_notes": (GRU, {}),
    "peephole_lstm": (partial(Recurrent, "peephole_lstm"), {}),
}
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


def make_pair(kind: str, dtype: torch.dtype, **options):
    layer_class, cell_options = FUSED_KINDS[kind]
    native = layer_class(3, 5, backend="fused", **cell_options, **options).to(dtype)
    reference = layer_class(3, 5, backend="reference", **cell_options, **options).to(dtype)
    reference.load_state_dict(native.state_dict())
    return native, reference


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize(
    ("kind", "bidirectional", "num_layers", "padded", "dtype", "recurrent_dropout"),
    [
        (*case, 0.0)
        for case in itertools.product(
            FUSED_KINDS, [False, True], [1, 2], [False, True], [torch.float32, torch.float64]
        )
    ]
    + [
        (kind, True, 2, True, torch.float64, 0.4)
        for kind in ("rnn_tanh", "lstm", "gru", "gru_notes", "peephole_lstm")
    ],
)
def test_fused_and_reference_agree_on_outputs_states_and_gradients(
    kind, bidirectional, num_layers, padded, dtype, recurrent_dropout
):
    native, reference = make_pair(
        kind,
        dtype,
        bidirectional=bidirectional,
        num_layers=num_layers,
        return_state=True,
        recurrent_dropout=recurrent_dropout,
    )
    data = torch.randn(4, 7, 3, dtype=dtype)
    lengths = torch.tensor([7, 3, 5, 1])
    results = []
    for layer in (native, reference):
        torch.manual_seed(3)  # the same recurrent-dropout masks in both
        x = data.clone().requires_grad_()
        output, state = layer(Padded(x, lengths) if padded else x)
        values = output.data if padded else output
        loss = values.pow(2).sum() + sum(part.pow(3).sum() for part in as_tuple(state))
        grads = torch.autograd.grad(loss, [x, *layer.parameters()])
        results.append((values, as_tuple(state), grads))
    tolerance = TOLERANCE[dtype]
    (native_out, native_state, native_grads), (ref_out, ref_state, ref_grads) = results
    torch.testing.assert_close(native_out, ref_out, rtol=tolerance, atol=tolerance)
    for native_part, ref_part in zip(native_state, ref_state, strict=True):
        torch.testing.assert_close(native_part, ref_part, rtol=tolerance, atol=tolerance)
    for native_grad, ref_grad in zip(native_grads, ref_grads, strict=True):
        torch.testing.assert_close(native_grad, ref_grad, rtol=tolerance, atol=tolerance)


TORCH_CLASSES = {
    "rnn_tanh": torch.nn.RNN,
    "rnn_relu": torch.nn.RNN,
    "lstm": torch.nn.LSTM,
    "gru": torch.nn.GRU,
}


def torch_layer(kind: str, **options) -> torch.nn.RNNBase:
    extra = {"nonlinearity": "relu"} if kind == "rnn_relu" else {}
    return TORCH_CLASSES[kind](3, 5, batch_first=True, **extra, **options).double()


@pytest.mark.parametrize(
    ("kind", "backend"), list(itertools.product(KINDS, ["fused", "reference"]))
)
def test_matches_torch_nn_on_a_padded_batch_as_torch_packs_it(kind, backend):
    theirs = torch_layer(kind, num_layers=2, bidirectional=True)
    layer_class = KINDS[kind][0]
    ours = layer_class.from_torch(theirs, return_state=True, backend=backend)
    x = torch.randn(5, 8, 3, dtype=torch.float64)
    lengths = torch.tensor([8, 2, 5, 1, 7])
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    their_packed, their_state = theirs(packed)
    their_output, _ = pad_packed_sequence(their_packed, batch_first=True, total_length=8)
    our_output, our_state = ours(Padded(x, lengths))
    torch.testing.assert_close(our_output.data, their_output, rtol=1e-10, atol=1e-10)
    for ours_part, theirs_part in zip(as_tuple(our_state), as_tuple(their_state), strict=True):
        torch.testing.assert_close(ours_part, theirs_part, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    ("kind", "backend", "padded"),
    list(itertools.product(KINDS, ["fused", "reference"], [False, True])),
)
def test_matches_torch_nn_with_an_initial_state(kind, backend, padded):
    theirs = torch_layer(kind, num_layers=2, bidirectional=True)
    ours = KINDS[kind][0].from_torch(theirs, return_state=True, backend=backend)
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4]) if padded else torch.tensor([6, 6, 6])
    h0 = torch.randn(4, 3, 5, dtype=torch.float64)
    state = (h0, torch.randn_like(h0)) if kind == "lstm" else h0
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    their_packed, their_state = theirs(packed, state)
    their_output, _ = pad_packed_sequence(their_packed, batch_first=True, total_length=6)
    our_output, our_state = ours(Padded(x, lengths) if padded else x, state)
    torch.testing.assert_close(our_output.data if padded else our_output, their_output)
    for ours_part, theirs_part in zip(as_tuple(our_state), as_tuple(their_state), strict=True):
        torch.testing.assert_close(ours_part, theirs_part)


@pytest.mark.parametrize("backend", ["fused", "reference"])
def test_many_to_one_is_the_forward_last_valid_step_and_the_reverse_first(backend):
    layer = LSTM(3, 4, bidirectional=True, backend=backend)
    many_to_one = LSTM(3, 4, bidirectional=True, return_sequences=False, backend=backend)
    many_to_one.load_state_dict(layer.state_dict())
    batch = Padded(torch.randn(3, 6, 3), [6, 2, 4])
    sequences = layer(batch).data
    last = many_to_one(batch)
    assert last.shape == (3, 8)
    for item, length in enumerate([6, 2, 4]):
        torch.testing.assert_close(last[item, :4], sequences[item, length - 1, :4])
        torch.testing.assert_close(last[item, 4:], sequences[item, 0, 4:])


def test_output_beyond_each_length_is_zero():
    output = GRU(3, 4, bidirectional=True)(Padded(torch.randn(2, 5, 3), [5, 2]))
    assert output.lengths.tolist() == [5, 2]
    assert not output.data[1, 2:].any()
    assert output.data[1, :2].abs().sum() > 0


def test_between_layer_dropout_acts_only_in_training():
    layer = LSTM(3, 8, num_layers=2, dropout=0.5)
    x = torch.randn(4, 6, 3)
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))
    layer.train()
    assert not torch.allclose(layer(x), layer(x))
    single = LSTM(3, 8, num_layers=1, dropout=0.5)
    torch.testing.assert_close(single(x), single.eval()(x))  # no layer after the last


def test_recurrent_dropout_uses_the_reference_loop_and_only_in_training(monkeypatch):
    fused_calls = []
    fused = torch.gru
    monkeypatch.setattr(torch, "gru", lambda *arguments: fused_calls.append(1) or fused(*arguments))
    layer = GRU(3, 8, recurrent_dropout=0.5, reset_after=True)
    x = torch.randn(4, 6, 3)
    layer.train()
    torch.manual_seed(1)
    first = layer(x)
    torch.manual_seed(1)
    torch.testing.assert_close(layer(x), first)  # seeded, so reproducible
    assert not torch.allclose(layer(x), first)
    assert not fused_calls  # training with recurrent dropout runs the loop
    layer.eval()
    no_dropout = GRU(3, 8, reset_after=True, backend="reference")
    no_dropout.load_state_dict(layer.state_dict())
    torch.testing.assert_close(layer(x), no_dropout(x))
    assert fused_calls  # evaluation has no dropout, so it takes the fused kernel


def test_recurrent_dropout_mask_is_the_same_at_every_step():
    # With an identity recurrence read through the mask, a dropped unit stays dropped.
    layer = RNN(1, 6, recurrent_dropout=0.5, bias=False, nonlinearity="relu")
    with torch.no_grad():
        layer.cells[0].weight_ih.fill_(0.0)
        layer.cells[0].weight_hh.copy_(torch.eye(6))
    layer.train()
    h0 = torch.ones(1, 1, 6)
    output = layer(torch.zeros(1, 5, 1), h0)
    kept = output[0, 0] != 0
    assert 0 < kept.sum() < 6
    for step in range(5):
        assert torch.equal(output[0, step] != 0, kept)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: Recurrent("layer_norm_lstm", 3, 4, backend="fused"),
            r"`backend`: expected 'auto' or 'reference', got 'fused'.*LayerNormLSTMCell has no",
        ),
        (
            lambda: LSTM(3, 4, backend="cudnn"),
            r"`backend`: expected one of 'auto', 'fused', 'reference'",
        ),
        (lambda: LSTM(3, 4, dropout=1.0), r"`dropout`: expected a number in \[0, 1\)"),
        (lambda: LSTM(3, 4, num_layers=0), r"`num_layers`: expected a positive integer, got 0"),
        (lambda: LSTM(3, 4, init="glorot"), r"`init`: expected one of 'torch', 'keras'"),
    ],
)
def test_bad_arguments_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_bidirectional_must_be_a_bool():
    with pytest.raises(TypeError, match="`bidirectional`: expected True or False, got 'yes'"):
        LSTM(3, 4, bidirectional="yes")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda layer: layer(torch.randn(2, 5, 4)),
            ValueError,
            r"expected 3 channels on the channel axis",
        ),
        (lambda layer: layer(torch.randn(2, 5)), ValueError, r"expected a 3-D tensor \(B, T, C\)"),
        (
            lambda layer: layer(torch.randn(2, 5, 3), torch.zeros(1, 2, 4)),
            TypeError,
            r"a tuple \(h, c\) of tensors",
        ),
        (
            lambda layer: layer(torch.randn(2, 5, 3), (torch.zeros(1, 3, 4), torch.zeros(1, 3, 4))),
            ValueError,
            r"`state`: expected a tuple \(h, c\) of tensors of shapes \(1, 2, 4\), \(1, 2, 4\)",
        ),
        (
            lambda layer: layer(torch.randn(2, 5, 3), (torch.zeros(1, 2, 4).double(),) * 2),
            ValueError,
            r"and dtype torch.float32, got a tensor of shape \(1, 2, 4\) and dtype torch.float64",
        ),
    ],
)
def test_bad_inputs_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call(LSTM(3, 4))


def test_from_torch_refuses_another_kind_or_projections():
    with pytest.raises(TypeError, match=r"expected a torch\.nn\.LSTM without projections, got GRU"):
        LSTM.from_torch(torch.nn.GRU(3, 4))
    with pytest.raises(TypeError, match="without projections"):
        LSTM.from_torch(torch.nn.LSTM(3, 4, proj_size=2))


def test_state_dict_names_one_cell_per_layer_and_direction():
    names = set(LSTM(3, 4, num_layers=2, bidirectional=True).state_dict())
    assert {f"cells.{index}.weight_hh" for index in range(4)} <= names
