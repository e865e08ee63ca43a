"""The Triton scans (the notes' GRU; the LSTM with peepholes or recurrent dropout), run on the CPU
by Triton's interpreter: equal to the reference loop, forward and gradients, with masks, both
directions and recurrent dropout.

Run by ``test_triton_scan.py`` in a fresh process started with ``TRITON_INTERPRET=1``: Triton
fixes the mode of its kernels when they are decorated, and a long test session can have set it
otherwise first."""

import pytest
import torch

from convrec.nn import GRU, LSTM, Padded, Recurrent
from convrec.nn import cells as cells_module
from convrec.nn.cells import gru_cell, lstm_cell, peephole_lstm_cell
from convrec.nn.recurrent import scan_reference
from convrec.nn.triton_scan import MAX_HIDDEN, gru_scan_triton, lstm_scan_triton, triton_runs

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


@pytest.fixture(autouse=True)
def interpreted(monkeypatch):
    """Triton's interpreter for these tests alone (the kernels are imported on first use, so
    under it); other tests keep the CPU scans."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")


def reference(x, lengths, h0, weight_ih, weight_hh, bias_ih, bias_hh, keep):
    outputs, finals = [], []
    for d in range(x.shape[0]):
        biases = (None, None) if bias_ih is None else (bias_ih[d], bias_hh[d])

        def step(x_t, state, d=d, biases=biases):
            return (gru_cell(x_t, state[0], weight_ih[d], weight_hh[d], *biases, False),)

        output, (final,) = scan_reference(
            step, x[d], lengths, (h0[d],), None if keep is None else keep[d]
        )
        outputs.append(output)
        finals.append(final)
    return torch.stack(outputs), torch.stack(finals)


@pytest.mark.parametrize(
    ("directions", "padded", "dropout", "bias", "dtype"),
    [
        (1, False, False, True, torch.float64),
        (2, True, True, True, torch.float64),
        (2, True, False, False, torch.float32),
        (2, True, True, True, torch.float32),
    ],
)
def test_the_triton_gru_is_the_reference_loop(directions, padded, dropout, bias, dtype):
    torch.manual_seed(0)
    batch, steps, inputs, hidden = 19, 6, 3, 20  # a partial block of rows and of units
    bound = hidden**-0.5

    def parameter(*shape):
        return (torch.rand(*shape, dtype=dtype) * 2 - 1).mul(bound).requires_grad_()

    x = torch.randn(directions, batch, steps, inputs, dtype=dtype, requires_grad=True)
    h0 = torch.randn(directions, batch, hidden, dtype=dtype, requires_grad=True)
    weights = [parameter(directions, 3 * hidden, inputs), parameter(directions, 3 * hidden, hidden)]
    biases = (
        [parameter(directions, 3 * hidden), parameter(directions, 3 * hidden)]
        if bias
        else [None, None]
    )
    lengths = torch.randint(1, steps + 1, (batch,)) if padded else None
    if padded:
        lengths[0], lengths[1] = steps, 1
    keep = (torch.rand(directions, batch, hidden) > 0.3).to(dtype) / 0.7 if dropout else None
    results = []
    for scan in (gru_scan_triton, reference):
        outputs, final = scan(x, lengths, h0, *weights, *biases, keep)
        torch.manual_seed(1)  # the same weighting of both (randn_like would follow the strides)
        loss = (outputs * torch.randn(outputs.shape, dtype=dtype)).sum()
        loss = loss + (final * torch.randn(final.shape, dtype=dtype)).sum()
        wanted = [x, h0, *weights, *(b for b in biases if b is not None)]
        results.append((outputs, final, torch.autograd.grad(loss, wanted)))
    tolerance = TOLERANCE[dtype]
    (outputs, final, gradients), (expected, expected_final, expected_gradients) = results
    torch.testing.assert_close(outputs, expected, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(final, expected_final, rtol=tolerance, atol=tolerance)
    for mine, theirs in zip(gradients, expected_gradients, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=tolerance, atol=tolerance)


def test_the_gru_layer_takes_the_triton_scan_where_it_runs_and_agrees(monkeypatch):
    calls = []
    monkeypatch.setattr(
        cells_module,
        "gru_scan_triton",
        lambda *arguments: calls.append(1) or gru_scan_triton(*arguments),
    )
    torch.manual_seed(2)
    fused = GRU(3, 8, num_layers=2, bidirectional=True, return_state=True)
    reference_layer = GRU(3, 8, num_layers=2, bidirectional=True, return_state=True)
    reference_layer.backend = "reference"
    reference_layer.load_state_dict(fused.state_dict())
    batch = Padded(torch.randn(4, 5, 3), [5, 2, 4, 1])
    (output, state), (expected, expected_state) = fused(batch), reference_layer(batch)
    assert len(calls) == 2  # one call per layer, both directions in it
    torch.testing.assert_close(output.data, expected.data, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state, expected_state, rtol=1e-5, atol=1e-5)


def test_the_triton_scan_runs_only_where_it_can(monkeypatch):
    x = torch.zeros(1, 2, 3, 4)
    assert triton_runs(x, MAX_HIDDEN)
    assert not triton_runs(x, MAX_HIDDEN + 1)  # the weights are read whole each step
    monkeypatch.delenv("TRITON_INTERPRET")
    assert not triton_runs(x, 8)  # a CPU tensor, no interpreter


def lstm_reference(x, lengths, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, peephole, keep):
    outputs, finals = [], []
    for d in range(x.shape[0]):
        biases = (None, None) if bias_ih is None else (bias_ih[d], bias_hh[d])

        def step(x_t, state, d=d, biases=biases):
            if peephole is None:
                return lstm_cell(x_t, state, weight_ih[d], weight_hh[d], *biases)
            return peephole_lstm_cell(x_t, state, weight_ih[d], weight_hh[d], *biases, peephole[d])

        output, final = scan_reference(
            step, x[d], lengths, (h0[d], c0[d]), None if keep is None else keep[d]
        )
        outputs.append(output)
        finals.append(final)
    return torch.stack(outputs), *(torch.stack(part) for part in zip(*finals, strict=True))


@pytest.mark.parametrize(
    ("peepholes", "dropout", "dtype"),
    [(True, True, torch.float64), (False, True, torch.float64), (True, False, torch.float32)],
)
def test_the_triton_lstm_is_the_reference_loop(peepholes, dropout, dtype):
    torch.manual_seed(0)
    directions, batch, steps, inputs, hidden = 2, 19, 6, 3, 20
    bound = hidden**-0.5

    def parameter(*shape):
        return (torch.rand(*shape, dtype=dtype) * 2 - 1).mul(bound).requires_grad_()

    x = torch.randn(directions, batch, steps, inputs, dtype=dtype, requires_grad=True)
    h0 = torch.randn(directions, batch, hidden, dtype=dtype, requires_grad=True)
    c0 = torch.randn(directions, batch, hidden, dtype=dtype, requires_grad=True)
    weights = [parameter(directions, 4 * hidden, inputs), parameter(directions, 4 * hidden, hidden)]
    biases = [parameter(directions, 4 * hidden), parameter(directions, 4 * hidden)]
    peephole = parameter(directions, 3 * hidden) if peepholes else None
    lengths = torch.randint(1, steps + 1, (batch,))
    lengths[0], lengths[1] = steps, 1
    keep = (torch.rand(directions, batch, hidden) > 0.3).to(dtype) / 0.7 if dropout else None
    wanted = [x, h0, c0, *weights, *biases, *([peephole] if peepholes else [])]
    results = []
    for scan in (lstm_scan_triton, lstm_reference):
        outputs, h, c = scan(x, lengths, h0, c0, *weights, *biases, peephole, keep)
        torch.manual_seed(1)
        loss = sum((part * torch.randn(part.shape, dtype=dtype)).sum() for part in (outputs, h, c))
        results.append(((outputs, h, c), torch.autograd.grad(loss, wanted)))
    tolerance = TOLERANCE[dtype]
    (values, gradients), (expected, expected_gradients) = results
    for mine, theirs in zip((*values, *gradients), (*expected, *expected_gradients), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=tolerance, atol=tolerance)


def test_the_peephole_lstm_and_recurrent_dropout_take_the_triton_scan(monkeypatch):
    calls = []
    monkeypatch.setattr(
        cells_module,
        "lstm_scan_triton",
        lambda *arguments, **options: calls.append(1) or lstm_scan_triton(*arguments, **options),
    )
    batch = Padded(torch.randn(4, 5, 3), [5, 2, 4, 1])
    for build in (
        lambda backend: Recurrent("peephole_lstm", 3, 8, bidirectional=True, backend=backend),
        lambda backend: LSTM(3, 8, recurrent_dropout=0.3, backend=backend),
    ):
        fused, reference_layer = build("fused"), build("reference")
        reference_layer.load_state_dict(fused.state_dict())
        torch.manual_seed(0)
        output = fused(batch)
        torch.manual_seed(0)
        torch.testing.assert_close(output.data, reference_layer(batch).data, rtol=1e-5, atol=1e-5)
    assert len(calls) == 2
