"""Recurrent cells: equal to torch.nn's cells given the same weights, and true to the notes."""

import pytest
import torch

from convrec.nn import GRUCell, LSTMCell, RNNCell, flip_update_gate, gru_cell


def copy_weights(
    source: torch.nn.Module, target: torch.nn.Module, convert=lambda weight: weight
) -> None:
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(target, name).copy_(convert(getattr(source, name)))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_equals_torch(nonlinearity):
    theirs = torch.nn.RNNCell(3, 5, nonlinearity=nonlinearity).double()
    ours = RNNCell(3, 5, nonlinearity=nonlinearity).double()
    copy_weights(theirs, ours)
    x, h = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    torch.testing.assert_close(ours(x, h), theirs(x, h), rtol=1e-12, atol=1e-12)


def test_lstm_cell_equals_torch():
    theirs, ours = torch.nn.LSTMCell(3, 5).double(), LSTMCell(3, 5).double()
    copy_weights(theirs, ours)
    x = torch.randn(4, 3, dtype=torch.float64)
    state = (torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64))
    for ours_part, theirs_part in zip(ours(x, state), theirs(x, state), strict=True):
        torch.testing.assert_close(ours_part, theirs_part, rtol=1e-12, atol=1e-12)


def test_gru_cell_reset_after_equals_torch_with_the_update_gate_flipped():
    theirs, ours = torch.nn.GRUCell(3, 5).double(), GRUCell(3, 5, reset_after=True).double()
    copy_weights(theirs, ours, flip_update_gate)
    x, h = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    torch.testing.assert_close(ours(x, h), theirs(x, h), rtol=1e-12, atol=1e-12)


def test_flip_update_gate_negates_the_middle_third_and_undoes_itself():
    weight = torch.arange(6.0)
    assert flip_update_gate(weight).tolist() == [0.0, 1.0, -2.0, -3.0, 4.0, 5.0]
    assert torch.equal(flip_update_gate(flip_update_gate(weight)), weight)


def gru_with_update_bias(value: float, reset_after: bool) -> GRUCell:
    cell = GRUCell(2, 3, reset_after=reset_after)
    with torch.no_grad():
        cell.bias_ih[3:6] = value
        cell.bias_hh[3:6] = 0.0
    return cell


@pytest.mark.parametrize("reset_after", [False, True])
def test_gru_update_gate_weighs_the_candidate_as_in_the_notes(reset_after):
    # h_t = (1 - z) * h_{t-1} + z * h~_t: z -> 0 keeps the state, z -> 1 takes the candidate.
    x, h = torch.randn(4, 2), torch.randn(4, 3)
    keeps = gru_with_update_bias(-50.0, reset_after)(x, h)
    torch.testing.assert_close(keeps, h)
    takes = gru_with_update_bias(50.0, reset_after)
    candidate_only = takes(x, h)
    assert not torch.allclose(candidate_only, h)
    assert candidate_only.abs().max() < 1  # a tanh output


def test_gru_variants_differ_only_by_where_the_reset_gate_applies():
    before, after = GRUCell(2, 3), GRUCell(2, 3, reset_after=True)
    after.load_state_dict(before.state_dict())
    x, h = torch.randn(4, 2), torch.randn(4, 3)
    assert not torch.allclose(before(x, h), after(x, h))
    # Without a recurrent bias the reset gate has nothing to scale when h = 0: they agree there.
    weights = (before.weight_ih, before.weight_hh, before.bias_ih, torch.zeros(9))
    zero = torch.zeros(4, 3)
    torch.testing.assert_close(
        gru_cell(x, zero, *weights), gru_cell(x, zero, *weights, reset_after=True)
    )


def test_lstm_cell_state_is_a_highway_when_forget_is_open_and_input_closed():
    cell = LSTMCell(2, 3)
    with torch.no_grad():
        cell.bias_ih[0:3] = -50.0  # input gate closed
        cell.bias_ih[3:6] = 50.0  # forget gate open
    x, h, c = torch.randn(4, 2), torch.randn(4, 3), torch.randn(4, 3)
    _, new_c = cell(x, (h, c))
    torch.testing.assert_close(new_c, c)


def test_zero_initial_state_is_the_default():
    cell = LSTMCell(2, 3)
    x = torch.randn(4, 2)
    zeros = torch.zeros(4, 3)
    for default, explicit in zip(cell(x), cell(x, (zeros, zeros)), strict=True):
        torch.testing.assert_close(default, explicit)
    gru = GRUCell(2, 3)
    torch.testing.assert_close(gru(x), gru(x, zeros))


@pytest.mark.parametrize(
    "cell",
    [RNNCell(2, 3).double(), GRUCell(2, 3).double(), GRUCell(2, 3, reset_after=True).double()],
)
def test_single_state_cells_pass_gradcheck(cell):
    x = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(cell, (x, h))


def test_lstm_cell_passes_gradcheck():
    cell = LSTMCell(2, 3).double()
    x = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    c = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, h, c: cell(x, (h, c)), (x, h, c))


def test_cells_without_bias_have_no_bias_parameters():
    cell = LSTMCell(2, 3, bias=False)
    assert cell.bias_ih is None
    assert {name for name, _ in cell.named_parameters()} == {"weight_ih", "weight_hh"}
    assert cell(torch.randn(1, 2))[0].shape == (1, 3)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: RNNCell(2, 3)(torch.randn(4, 5)),
            ValueError,
            r"`input`: expected \(B, 2\), got shape \(4, 5\)",
        ),
        (
            lambda: RNNCell(2, 3)(torch.randn(4, 2), torch.randn(4, 4)),
            ValueError,
            r"`h`: expected shape \(4, 3\)",
        ),
        (
            lambda: LSTMCell(2, 3)(torch.randn(4, 2), (torch.zeros(4, 3), torch.zeros(1, 3))),
            ValueError,
            r"`state\[1\] \(C\)`: expected shape \(4, 3\), got shape \(1, 3\)",
        ),
        (
            lambda: RNNCell(2, 3)(torch.randn(4, 2, 1)),
            ValueError,
            r"expected a 2-D tensor \(B, I\)",
        ),
        (
            lambda: RNNCell(2, 3, nonlinearity="gelu"),
            ValueError,
            r"`nonlinearity`: expected one of 'tanh', 'relu'",
        ),
        (
            lambda: GRUCell(2, 3, reset_after="yes"),
            TypeError,
            r"`reset_after`: expected True or False",
        ),
        (lambda: LSTMCell(0, 3), ValueError, r"LSTMCell: invalid value for argument `input_size`"),
        (
            lambda: LSTMCell(2, 3, init="he"),
            ValueError,
            r"`init`: expected one of 'torch', 'keras'",
        ),
    ],
)
def test_bad_arguments_and_inputs_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()
