"""Recurrent cells written from the lecture notes' equations: one time step each.

Each cell is a pure function of ``(x_t, state, weights)``, the reference every fast path is tested
against, and a module that holds the weights and follows the cell protocol of
:mod:`convrec.nn.cell_protocol`, with a fused scan: PyTorch's kernels (cuDNN on GPU) where they
compute the cell, else the hand-written backward through time of :mod:`convrec.nn.fast_scan`.
Weights use PyTorch's layout so that cells and layers exchange weights with ``torch.nn`` and
cuDNN:

- ``weight_ih``: ``(G * H, I)``, the input weights of all ``G`` gates stacked;
- ``weight_hh``: ``(G * H, H)``, the recurrent weights;
- ``bias_ih``, ``bias_hh``: ``(G * H,)``, added together (two biases, as PyTorch and cuDNN keep).

Gate order is PyTorch's: LSTM ``(i, f, g, o)``, GRU ``(r, z, n)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from convrec.checks import fail, one_of, positive_int
from convrec.errors import InvalidTypeError
from convrec.nn.aten_scan import aten_scan
from convrec.nn.cell_protocol import RecurrentCell, ScanResult, register_cell, stacked
from convrec.nn.checks import floating_tensor
from convrec.nn.fast_scan import gru_scan, rnn_scan
from convrec.nn.fast_scan import lstm_scan as fast_lstm_scan
from convrec.nn.init import RECURRENT_SCHEMES, init_recurrent_
from convrec.nn.triton_scan import gru_scan_triton, lstm_scan_triton, triton_runs

LSTMState = tuple[Tensor, Tensor]
NONLINEARITIES = ("tanh", "relu")


def rnn_cell(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    nonlinearity: str = "tanh",
) -> Tensor:
    """One step of the vanilla (Elman) RNN, as the notes' RNN architecture writes it:

        h_t = phi(W_x x_t + W_h h_{t-1} + b)

    with ``phi`` = tanh or ReLU, ``W_x = weight_ih``, ``W_h = weight_hh`` and
    ``b = bias_ih + bias_hh``.

    Shape:
        x: ``(B, I)``; h: ``(B, H)``; returns ``h_t (B, H)``.
    """
    a = _linear(x, weight_ih, bias_ih) + _linear(h, weight_hh, bias_hh)
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)


def lstm_cell(
    x: Tensor,
    state: LSTMState,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
) -> LSTMState:
    """One step of the LSTM (Hochreiter & Schmidhuber 1997), following the notes' LSTM control flow:

        f_t = sigmoid(W_f [h_{t-1}, x_t] + b_f)        forget gate
        i_t = sigmoid(W_i [h_{t-1}, x_t] + b_i)        input gate
        C~_t = tanh(W_C [h_{t-1}, x_t] + b_C)          candidate cell state
        o_t = sigmoid(W_o [h_{t-1}, x_t] + b_o)        output gate
        C_t = f_t * C_{t-1} + i_t * C~_t               cell state
        h_t = o_t * tanh(C_t)                          hidden state

    (Seed 003 wraps the cell update in an extra sigmoid; that is a slip, and the other decks and
    Hochreiter and Schmidhuber 1997 give the form above.)

    Shape:
        x: ``(B, I)``; state: ``(h, C)``, each ``(B, H)``; returns ``(h_t, C_t)``.
    """
    h, c = state
    i, f, candidate, o = lstm_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    c = f * c + i * candidate
    h = o * torch.tanh(c)
    return h, c


def lstm_gates(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The LSTM's gates at one step (:func:`lstm_cell`): ``(i_t, f_t, C~_t, o_t)``, ``(B, H)``."""
    a = _linear(x, weight_ih, bias_ih) + _linear(h, weight_hh, bias_hh)
    a_i, a_f, a_g, a_o = a.chunk(4, dim=-1)
    return torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)


def peephole_lstm_cell(
    x: Tensor,
    state: LSTMState,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    weight_peephole: Tensor,
) -> LSTMState:
    """One step of the LSTM with peephole connections (Gers & Schmidhuber 2000, "Recurrent nets
    that time and count"; Gers, Schraudolph & Schmidhuber 2002): the gates also look at the cell
    state through diagonal weights ``p_i, p_f, p_o``, the input and forget gates at ``C_{t-1}``,
    the output gate at the new ``C_t``:

        i_t = sigmoid(W_i [h_{t-1}, x_t] + p_i * C_{t-1} + b_i)        input gate
        f_t = sigmoid(W_f [h_{t-1}, x_t] + p_f * C_{t-1} + b_f)        forget gate
        C~_t = tanh(W_C [h_{t-1}, x_t] + b_C)                          candidate cell state
        C_t = f_t * C_{t-1} + i_t * C~_t                               cell state
        o_t = sigmoid(W_o [h_{t-1}, x_t] + p_o * C_t + b_o)            output gate
        h_t = o_t * tanh(C_t)                                          hidden state

    Shape:
        x: ``(B, I)``; state: ``(h, C)``, each ``(B, H)``; ``weight_peephole``: ``(3 * H,)``,
        ``[p_i; p_f; p_o]``; returns ``(h_t, C_t)``.
    """
    h, c = state
    p_i, p_f, p_o = weight_peephole.chunk(3)
    a_i, a_f, a_g, a_o = (_linear(x, weight_ih, bias_ih) + _linear(h, weight_hh, bias_hh)).chunk(
        4, dim=-1
    )
    i = torch.sigmoid(a_i + p_i * c)
    f = torch.sigmoid(a_f + p_f * c)
    candidate = torch.tanh(a_g)
    c = f * c + i * candidate
    o = torch.sigmoid(a_o + p_o * c)
    h = o * torch.tanh(c)
    return h, c


def lstm_gate_values(i: Tensor, f: Tensor, candidate: Tensor, o: Tensor) -> dict[str, Tensor]:
    """An LSTM's gates by the names the gate-saturation diagnostics read."""
    return {
        "input (sigmoid)": i,
        "forget (sigmoid)": f,
        "candidate (tanh)": candidate,
        "output (sigmoid)": o,
    }


def gru_cell(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    reset_after: bool = False,
) -> Tensor:
    """One step of the GRU (Cho et al. 2014), as the notes write it:

        z_t = sigmoid(W_z [h_{t-1}, x_t])                update gate
        r_t = sigmoid(W_r [h_{t-1}, x_t])                reset gate
        h~_t = tanh(W [r_t * h_{t-1}, x_t])              candidate (reset before the matmul)
        h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

    With ``reset_after=True``, the variant cuDNN and ``torch.nn.GRU`` compute (Keras'
    ``reset_after=True``): the reset gate scales the recurrent product instead,
    ``h~_t = tanh(W_hx x_t + b_hx + r_t * (W_hh h_{t-1} + b_hh))``.

    The update gate follows the notes: ``z_t`` weighs the candidate. ``torch.nn.GRU`` weighs the
    old state with its ``z``, so its update gate is ``1 - z_t``, and its update-gate weights and
    biases are the negation of convrec's (see :func:`flip_update_gate`).

    Shape:
        x: ``(B, I)``; h: ``(B, H)``; returns ``h_t (B, H)``.
    """
    _, z, candidate = gru_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh, reset_after)
    return (1 - z) * h + z * candidate


def gru_gates(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    reset_after: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """The GRU's gates at one step (:func:`gru_cell`): ``(r_t, z_t, h~_t)``, each ``(B, H)``."""
    x_r, x_z, x_n = _linear(x, weight_ih, bias_ih).chunk(3, dim=-1)
    w_hr, w_hz, w_hn = weight_hh.chunk(3, dim=0)
    b_hr, b_hz, b_hn = (None, None, None) if bias_hh is None else bias_hh.chunk(3)
    r = torch.sigmoid(x_r + _linear(h, w_hr, b_hr))
    z = torch.sigmoid(x_z + _linear(h, w_hz, b_hz))
    if reset_after:
        candidate = torch.tanh(x_n + r * _linear(h, w_hn, b_hn))
    else:
        candidate = torch.tanh(x_n + _linear(r * h, w_hn, b_hn))
    return r, z, candidate


def flip_update_gate(parameter: Tensor) -> Tensor:
    """Negate the update-gate block (the middle third) of a GRU weight or bias.

    Converts between convrec's update gate ``z`` and ``torch.nn.GRU``'s ``1 - z``, both ways,
    since ``1 - sigmoid(a) = sigmoid(-a)``.
    """
    reset, update, candidate = parameter.chunk(3, dim=0)
    return torch.cat([reset, -update, candidate], dim=0)


def _linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return torch.nn.functional.linear(x, weight, bias)


class MatrixCell(RecurrentCell):
    """A cell whose gates are affine in ``x_t`` and ``h_{t-1}`` through stacked weights in
    PyTorch's layout (see the module docstring); ``gates`` is the number of stacked blocks ``G``,
    and ``gate_names`` names the blocks of ``weight_hh`` in order."""

    gates: int
    gate_names: tuple[str, ...]

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, init: str = "torch"
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = positive_int(owner, "input_size", input_size)
        self.hidden_size = positive_int(owner, "hidden_size", hidden_size)
        if not isinstance(bias, bool):
            raise fail(owner, "bias", "True or False", repr(bias), error=InvalidTypeError)
        rows = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(rows)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(rows)) if bias else None
        self.init = one_of(owner, "init", init, RECURRENT_SCHEMES)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_recurrent_(self, self.init)

    def weights(self) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def stacked_weights(self, cells: list[MatrixCell]) -> list[Tensor | None]:
        """``weight_ih, weight_hh, bias_ih, bias_hh`` of each direction's cell stacked on a
        leading axis ``D``."""
        return [stacked(cells, name) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    def initial_state(self, x: Tensor) -> Tensor:
        return x.new_zeros(x.shape[0], self.hidden_size)

    def recurrent_weights(self) -> dict[str, Tensor]:
        return dict(zip(self.gate_names, self.weight_hh.chunk(self.gates), strict=True))

    def parameters_per_gate(self) -> dict[str, int]:
        per_gate = sum(parameter.numel() for parameter in self.weights() if parameter is not None)
        return dict.fromkeys(self.gate_names, per_gate // self.gates)

    def _check(self, x: Tensor, h: Tensor, argument: str) -> None:
        owner = type(self).__name__
        floating_tensor(owner, "input", x, 2, "(B, I)")
        if x.shape[1] != self.input_size:
            raise fail(owner, "input", f"(B, {self.input_size})", f"shape {tuple(x.shape)}")
        if h.shape != (x.shape[0], self.hidden_size):
            raise fail(
                owner,
                argument,
                f"shape ({x.shape[0]}, {self.hidden_size})",
                f"shape {tuple(h.shape)}",
            )

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


@register_cell("rnn")
class RNNCell(MatrixCell):
    """The vanilla RNN cell ``h_t = phi(W_x x_t + W_h h_{t-1} + b)`` (see :func:`rnn_cell`).

    Args:
        input_size: features ``I`` of ``x_t``.
        hidden_size: units ``H``.
        bias: learn ``b``.
        nonlinearity: ``'tanh'`` or ``'relu'``.
        init: ``'torch'`` or ``'keras'`` (see :mod:`convrec.nn.init`).

    Shape:
        x: ``(B, I)``; h: ``(B, H)`` or None (zeros); output ``(B, H)``.

    Example:
        >>> RNNCell(3, 5)(torch.randn(2, 3)).shape
        torch.Size([2, 5])
    """

    gates = 1
    gate_names = ("hidden",)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        init: str = "torch",
    ) -> None:
        self.nonlinearity = one_of("RNNCell", "nonlinearity", nonlinearity, NONLINEARITIES)
        super().__init__(input_size, hidden_size, bias, init)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        h = self.initial_state(x) if h is None else h
        self._check(x, h, "h")
        return rnn_cell(x, h, *self.weights(), self.nonlinearity)

    def step(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return (rnn_cell(x, state[0], *self.weights(), self.nonlinearity),)

    def gate_values(self, x: Tensor, state: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """The saturating activations of one step, ``(B, H)`` each: ``h_t`` if ``phi = tanh``."""
        if self.nonlinearity != "tanh":
            return {}
        return {"hidden (tanh)": rnn_cell(x, state[0], *self.weights(), self.nonlinearity)}

    @property
    def export_kind(self) -> str:
        return f"rnn_{self.nonlinearity}"

    def fused_scan(
        self,
        cells: list[RNNCell],
        x: Tensor,
        lengths: Tensor | None,
        start: tuple[Tensor, ...],
        keep: Tensor | None,
        need_state: bool,
    ) -> ScanResult:
        """PyTorch's kernel; with recurrent dropout, :func:`convrec.nn.fast_scan.rnn_scan`."""
        if keep is None:
            kernel = torch.rnn_tanh if self.nonlinearity == "tanh" else torch.rnn_relu
            return aten_scan(kernel, _aten_weights(cells), x, lengths, start, need_state)
        outputs, h = rnn_scan(
            x, lengths, start[0], *self.stacked_weights(cells), self.nonlinearity, keep
        )
        return outputs, (h,)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity!r}"


@register_cell("lstm")
class LSTMCell(MatrixCell):
    """The LSTM cell (see :func:`lstm_cell` for the equations).

    Args:
        input_size: features ``I`` of ``x_t``.
        hidden_size: units ``H``.
        bias: learn the gate biases.
        init: ``'torch'``, or ``'keras'`` (which also sets the forget-gate bias to 1).

    Shape:
        x: ``(B, I)``; state: ``(h, C)``, each ``(B, H)``, or None (zeros); output ``(h_t, C_t)``.

    Example:
        >>> h, c = LSTMCell(3, 5)(torch.randn(2, 3))
        >>> h.shape, c.shape
        (torch.Size([2, 5]), torch.Size([2, 5]))
    """

    gates = 4
    gate_names = ("input", "forget", "candidate", "output")
    state_names = ("h", "c")
    export_kind = "lstm"

    def reset_parameters(self) -> None:
        hidden = self.hidden_size
        init_recurrent_(self, self.init, forget_gate=slice(hidden, 2 * hidden))

    def forward(self, x: Tensor, state: LSTMState | None = None) -> LSTMState:
        if state is None:
            state = (self.initial_state(x), self.initial_state(x))
        self._check(x, state[0], "state[0] (h)")
        self._check(x, state[1], "state[1] (C)")
        return self.step(x, state)

    def step(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return lstm_cell(x, (state[0], state[1]), *self.weights())

    def gate_values(self, x: Tensor, state: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """The gates of one step, ``(B, H)`` each, given ``x_t`` and ``(h_{t-1}, C_{t-1})``."""
        return lstm_gate_values(*lstm_gates(x, state[0], *self.weights()))

    def fused_scan(
        self,
        cells: list[LSTMCell],
        x: Tensor,
        lengths: Tensor | None,
        start: tuple[Tensor, ...],
        keep: Tensor | None,
        need_state: bool,
    ) -> ScanResult:
        """PyTorch's kernel; with recurrent dropout, :func:`lstm_scan`."""
        if keep is None:
            return aten_scan(torch.lstm, _aten_weights(cells), x, lengths, start, need_state)
        return lstm_scan(cells, x, lengths, start, keep)


@register_cell("gru")
class GRUCell(MatrixCell):
    """The GRU cell (see :func:`gru_cell` for the equations and the two variants).

    Args:
        input_size: features ``I`` of ``x_t``.
        hidden_size: units ``H``.
        bias: learn the gate biases.
        reset_after: False (default) applies the reset gate to ``h`` before the matmul, as the
            notes write it; True applies it after, as cuDNN does (PyTorch's fused kernel).
        init: ``'torch'`` or ``'keras'``.

    Shape:
        x: ``(B, I)``; h: ``(B, H)`` or None (zeros); output ``(B, H)``.

    Example:
        >>> GRUCell(3, 5)(torch.randn(2, 3)).shape
        torch.Size([2, 5])
    """

    gates = 3
    gate_names = ("reset", "update", "candidate")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        reset_after: bool = False,
        init: str = "torch",
    ) -> None:
        if not isinstance(reset_after, bool):
            raise fail(
                "GRUCell", "reset_after", "True or False", repr(reset_after), error=InvalidTypeError
            )
        self.reset_after = reset_after
        super().__init__(input_size, hidden_size, bias, init)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        h = self.initial_state(x) if h is None else h
        self._check(x, h, "h")
        return gru_cell(x, h, *self.weights(), self.reset_after)

    def step(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return (gru_cell(x, state[0], *self.weights(), self.reset_after),)

    def gate_values(self, x: Tensor, state: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """The gates of one step, ``(B, H)`` each, given ``x_t`` and ``h_{t-1}``."""
        r, z, candidate = gru_gates(x, state[0], *self.weights(), self.reset_after)
        return {"reset (sigmoid)": r, "update (sigmoid)": z, "candidate (tanh)": candidate}

    @property
    def export_kind(self) -> str:
        return "gru_reset_after" if self.reset_after else "gru"

    def fused_scan(
        self,
        cells: list[GRUCell],
        x: Tensor,
        lengths: Tensor | None,
        start: tuple[Tensor, ...],
        keep: Tensor | None,
        need_state: bool,
    ) -> ScanResult:
        """PyTorch's kernel for ``reset_after=True`` without recurrent dropout (its update gate
        is ``1 - z``: the weights go in flipped); the notes' GRU on a GPU with Triton,
        :func:`convrec.nn.triton_scan.gru_scan_triton`; else
        :func:`convrec.nn.fast_scan.gru_scan`."""
        if keep is None and self.reset_after:
            weights = [[flip_update_gate(part) for part in cell] for cell in _aten_weights(cells)]
            return aten_scan(torch.gru, weights, x, lengths, start, need_state)
        if not self.reset_after and triton_runs(x, self.hidden_size):
            outputs, h = gru_scan_triton(x, lengths, start[0], *self.stacked_weights(cells), keep)
            return outputs, (h,)
        outputs, h = gru_scan(
            x, lengths, start[0], *self.stacked_weights(cells), self.reset_after, keep
        )
        return outputs, (h,)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, reset_after={self.reset_after}"


def lstm_scan(
    cells: list[LSTMCell],
    x: Tensor,
    lengths: Tensor | None,
    start: tuple[Tensor, ...],
    keep: Tensor | None,
) -> ScanResult:
    """An LSTM layer's scan, with the peepholes of the cells that have them: Triton's on a GPU
    (:func:`convrec.nn.triton_scan.lstm_scan_triton`), else
    :func:`convrec.nn.fast_scan.lstm_scan`."""
    weights = cells[0].stacked_weights(cells)
    peephole = stacked(cells, "weight_peephole") if hasattr(cells[0], "weight_peephole") else None
    scan = lstm_scan_triton if triton_runs(x, cells[0].hidden_size) else fast_lstm_scan
    outputs, h, c = scan(x, lengths, *start, *weights, weight_peephole=peephole, keep=keep)
    return outputs, (h, c)


def _aten_weights(cells: list[MatrixCell]) -> list[list[Tensor]]:
    """Each direction's weights as PyTorch's kernels take them (biases left out if none)."""
    return [[weight for weight in cell.weights() if weight is not None] for cell in cells]
