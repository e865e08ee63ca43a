"""The recurrent cell protocol: any cell written as its equations runs stacked, bidirectional,
masked, with states, dropout and diagnostics hooks; the new cells match their equations."""

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.nn import (
    LSTM,
    LayerNormLSTMCell,
    LSTMCell,
    Padded,
    PeepholeLSTMCell,
    Recurrent,
    RecurrentCell,
    cell_protocol,
    find_cell,
    register_cell,
    registered_cells,
)


class Leaky(RecurrentCell):
    """A leaky integrator, h_t = (1 - a) h_{t-1} + a tanh(W x_t + U h_{t-1}), written here as a
    user would, outside the package."""

    def __init__(self, input_size: int, hidden_size: int, rate: float = 0.5) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.rate = input_size, hidden_size, rate
        self.input_map = nn.Linear(input_size, hidden_size)
        self.recurrent_map = nn.Linear(hidden_size, hidden_size, bias=False)

    def step(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        (h,) = state
        candidate = torch.tanh(self.input_map(x) + self.recurrent_map(h))
        return ((1 - self.rate) * h + self.rate * candidate,)


class Counter(RecurrentCell):
    """Two state parts of different sizes: an output h (H) and a running sum s (2)."""

    state_names = ("h", "s")

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.read = nn.Linear(input_size + 2, hidden_size)

    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size, 2)

    def step(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        _, s = state
        s = s + x[:, :2]
        return torch.tanh(self.read(torch.cat([x, s], dim=-1))), s


def unrolled(cell: RecurrentCell, x: Tensor, state: tuple[Tensor, ...]) -> list[Tensor]:
    outputs = []
    for t in range(x.shape[0]):
        state = cell.step(x[t : t + 1], state)
        outputs.append(state[0][0])
    return outputs


@pytest.mark.parametrize("cell", [Leaky, Counter, "peephole_lstm", "layer_norm_lstm"])
def test_any_cell_gives_each_sequence_the_same_result_whatever_padding_surrounds_it(cell):
    torch.manual_seed(0)
    layer = Recurrent(cell, 3, 4, num_layers=2, bidirectional=True, return_state=True).double()
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    output, state = layer(Padded(x, lengths))
    state = state if isinstance(state, tuple) else (state,)
    for row, length in enumerate(lengths.tolist()):
        alone, alone_state = layer(x[row : row + 1, :length])
        alone_state = alone_state if isinstance(alone_state, tuple) else (alone_state,)
        torch.testing.assert_close(output.data[row, :length], alone[0])
        assert torch.all(output.data[row, length:] == 0)
        for part, alone_part in zip(state, alone_state, strict=True):
            torch.testing.assert_close(part[:, row], alone_part[:, 0])


def test_a_user_cell_is_its_step_unrolled_forward_and_from_the_true_end_in_reverse():
    torch.manual_seed(1)
    layer = Recurrent(Leaky, 2, 3, bidirectional=True, rate=0.3).double()
    x = torch.randn(1, 5, 2, dtype=torch.float64)
    output = layer(Padded(x, [4])).data[0]
    forward_cell, reverse_cell = layer.cells
    zeros = (torch.zeros(1, 3, dtype=torch.float64),)
    expected_forward = unrolled(forward_cell, x[0, :4], zeros)
    expected_reverse = unrolled(reverse_cell, x[0, :4].flip(0), zeros)[::-1]
    for t in range(4):
        torch.testing.assert_close(output[t, :3], expected_forward[t])
        torch.testing.assert_close(output[t, 3:], expected_reverse[t])
    assert forward_cell.rate == 0.3  # the layer's extra keywords reach every cell


def test_state_parts_of_different_sizes_go_in_and_come_out_by_name():
    layer = Recurrent(Counter, 3, 4, num_layers=2, return_state=True)
    start = (torch.zeros(2, 5, 4), torch.ones(2, 5, 2))
    x = torch.randn(5, 7, 3)
    _, (h, s) = layer(x, start)
    assert h.shape == (2, 5, 4) and s.shape == (2, 5, 2)
    torch.testing.assert_close(s[0], 1 + x[..., :2].sum(1))
    with pytest.raises(ValueError, match=r"a tuple \(h, s\) of tensors of shapes \(2, 5, 4\), "):
        layer(x, (torch.zeros(2, 5, 4), torch.ones(2, 5, 4)))


def test_the_second_layer_reads_both_directions_of_the_first():
    layer = Recurrent(Counter, 3, 4, num_layers=2, bidirectional=True)
    assert layer.cells[2].input_size == 8 and layer.output_size == 8


def test_recurrent_dropout_and_dropout_work_for_a_user_cell():
    torch.manual_seed(0)
    layer = Recurrent(Leaky, 3, 16, num_layers=2, dropout=0.3, recurrent_dropout=0.5).train()
    x = torch.randn(2, 5, 3)
    assert not torch.allclose(layer(x), layer(x))  # new masks each call
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))


def test_step_hooks_see_every_step_of_every_cell_and_leave_when_removed():
    layer = LSTM(3, 4, num_layers=2, bidirectional=True)
    seen = []
    handle = layer.register_step_hook(
        lambda index, x, previous, state: seen.append((index, x.shape, len(previous), len(state)))
    )
    layer(Padded(torch.randn(2, 5, 3), [5, 2]))
    assert sorted({record[0] for record in seen}) == [0, 1, 2, 3]
    assert len(seen) == 4 * 5 and all(record[2:] == (2, 2) for record in seen)
    assert seen[0][1] == (2, 3) and seen[-1][1] == (2, 8)
    handle.remove()
    layer(torch.randn(2, 5, 3))
    assert len(seen) == 20


def test_cells_are_found_by_name_and_a_plugin_registers_its_own(monkeypatch):
    monkeypatch.setattr(cell_protocol, "_CELLS", dict(cell_protocol._CELLS))  # restored after
    assert {"rnn", "lstm", "gru", "peephole_lstm", "layer_norm_lstm"} <= set(registered_cells())
    assert find_cell("peephole_lstm") is PeepholeLSTMCell
    with pytest.raises(
        ValueError, match=r"unknown recurrent cell 'peephole-lstm'.*Did you mean 'peephole_lstm'"
    ):
        find_cell("peephole-lstm")
    register_cell("test-leaky")(Leaky)
    assert isinstance(Recurrent("test-leaky", 2, 3).cells[0], Leaky)
    with pytest.raises(ValueError, match="registered twice"):
        register_cell("test-leaky")(Leaky)


def test_something_that_is_not_a_cell_is_refused_naming_the_argument():
    with pytest.raises(TypeError, match=r"`cell`: expected a RecurrentCell subclass.*built"):
        Recurrent(lambda i, h: nn.Linear(i, h), 3, 4)
    with pytest.raises(TypeError, match=r"`cell`: expected a RecurrentCell subclass"):
        Recurrent(3, 4, 5)


def test_a_cell_without_step_says_so():
    class Empty(RecurrentCell):
        def __init__(self, input_size: int, hidden_size: int) -> None:
            super().__init__()
            self.input_size, self.hidden_size = input_size, hidden_size

    with pytest.raises(NotImplementedError, match="Empty does not define step"):
        Recurrent(Empty, 2, 3)(torch.randn(1, 2, 2))


def test_the_peephole_lstm_is_its_equations():
    torch.manual_seed(2)
    cell = PeepholeLSTMCell(3, 4).double()
    x, h, c = (torch.randn(2, size, dtype=torch.float64) for size in (3, 4, 4))
    a = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    p_i, p_f, p_o = cell.weight_peephole.chunk(3)
    i = torch.sigmoid(a[:, :4] + p_i * c)
    f = torch.sigmoid(a[:, 4:8] + p_f * c)
    new_c = f * c + i * torch.tanh(a[:, 8:12])
    o = torch.sigmoid(a[:, 12:] + p_o * new_c)
    h_t, c_t = cell(x, (h, c))
    torch.testing.assert_close(c_t, new_c)
    torch.testing.assert_close(h_t, o * torch.tanh(new_c))
    assert set(cell.gate_values(x, (h, c))) == {
        "input (sigmoid)",
        "forget (sigmoid)",
        "candidate (tanh)",
        "output (sigmoid)",
    }


def test_the_peephole_lstm_with_zero_peepholes_is_the_lstm():
    peephole, plain = PeepholeLSTMCell(3, 4, init="keras"), LSTMCell(3, 4)
    plain.load_state_dict(
        {key: value for key, value in peephole.state_dict().items() if "peephole" not in key}
    )
    assert torch.all(peephole.weight_peephole == 0)
    x, state = torch.randn(2, 3), (torch.randn(2, 4), torch.randn(2, 4))
    for mine, theirs in zip(peephole(x, state), plain(x, state), strict=True):
        torch.testing.assert_close(mine, theirs)


def test_the_layer_normalised_lstm_is_its_equations():
    torch.manual_seed(3)
    cell = LayerNormLSTMCell(3, 4).double()
    with torch.no_grad():
        for norm in (cell.norm_ih, cell.norm_hh, cell.norm_c):
            norm.weight.uniform_(0.5, 1.5)
        cell.norm_c.bias.uniform_(-0.5, 0.5)
    x, h, c = (torch.randn(2, size, dtype=torch.float64) for size in (3, 4, 4))

    def norm(v: Tensor, gain: Tensor, shift: Tensor | float = 0.0) -> Tensor:
        mean, var = v.mean(-1, keepdim=True), v.var(-1, unbiased=False, keepdim=True)
        return gain * (v - mean) / torch.sqrt(var + 1e-5) + shift

    a = (
        norm(x @ cell.weight_ih.T, cell.norm_ih.weight)
        + norm(h @ cell.weight_hh.T, cell.norm_hh.weight)
        + cell.bias_ih
        + cell.bias_hh
    )
    i, f, g, o = a.chunk(4, dim=-1)
    new_c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    expected_h = torch.sigmoid(o) * torch.tanh(norm(new_c, cell.norm_c.weight, cell.norm_c.bias))
    h_t, c_t = cell(x, (h, c))
    torch.testing.assert_close(c_t, new_c)
    torch.testing.assert_close(h_t, expected_h)


def test_a_user_cell_trains():
    torch.manual_seed(0)
    layer = Recurrent(Leaky, 1, 8, return_sequences=False)
    head = nn.Linear(8, 1)
    x = torch.randn(64, 10, 1)
    y = x.sum(1)
    optimizer = torch.optim.Adam([*layer.parameters(), *head.parameters()], lr=0.02)
    first = None
    for _ in range(60):
        loss = F.mse_loss(head(layer(x)), y)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.3 * first


@pytest.mark.parametrize(
    ("cell", "groups"), [(Leaky, 2), ("peephole_lstm", 8), ("layer_norm_lstm", 10)]
)
def test_the_summary_counts_every_parameter_of_any_cell_in_its_groups(cell, groups):
    from convrec.diagnose.summary import summary

    layer = Recurrent(cell, 3, 4, bidirectional=True)
    (row,) = summary(layer, (2, 5, 3)).rows
    assert row.parameters == sum(parameter.numel() for parameter in layer.parameters())
    assert sum(row.parameter_groups.values()) == row.parameters
    assert len(row.parameter_groups) == groups
    assert row.mult_adds > 0
