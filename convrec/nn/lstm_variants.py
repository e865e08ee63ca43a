"""Two LSTM variants from the literature the notes cite, as cells of the recurrent protocol: the
peephole LSTM (Gers & Schmidhuber 2000) and the layer-normalised LSTM (Ba, Kiros & Hinton 2016).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.nn.cell_protocol import ScanResult, register_cell
from convrec.nn.cells import LSTMCell, lstm_gate_values, lstm_scan, peephole_lstm_cell


@register_cell("peephole_lstm")
class PeepholeLSTMCell(LSTMCell):
    """The LSTM with peephole connections (Gers & Schmidhuber 2000, "Recurrent nets that time and
    count"): the gates see the cell state through diagonal weights ``p_i, p_f, p_o``
    (equations in :func:`convrec.nn.cells.peephole_lstm_cell`), which lets the LSTM time
    intervals precisely.

    Args:
        input_size: features ``I`` of ``x_t``.
        hidden_size: units ``H``.
        bias: learn the gate biases.
        init: ``'torch'`` (peepholes uniform in ``+-1/sqrt(H)`` like every weight) or
            ``'keras'`` (peepholes 0, so training starts from the plain LSTM; forget bias 1).

    Shape:
        x: ``(B, I)``; state: ``(h, C)``, each ``(B, H)``, or None (zeros); output ``(h_t, C_t)``;
        ``weight_peephole``: ``(3 * H,)``, ``[p_i; p_f; p_o]``.

    Example:
        >>> h, c = PeepholeLSTMCell(3, 5)(torch.randn(2, 3))
        >>> h.shape
        torch.Size([2, 5])
    """

    export_kind = "peephole_lstm"

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if "weight_peephole" not in self._parameters:  # built by the first call
            self.weight_peephole = nn.Parameter(self.weight_hh.new_empty(3 * self.hidden_size))
        with torch.no_grad():
            if self.init == "keras":
                self.weight_peephole.zero_()
            else:
                bound = 1 / math.sqrt(self.hidden_size)
                self.weight_peephole.uniform_(-bound, bound)

    def step(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return peephole_lstm_cell(x, (state[0], state[1]), *self.weights(), self.weight_peephole)

    def gate_values(self, x: Tensor, state: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """The gates of one step, ``(B, H)`` each, given ``x_t`` and ``(h_{t-1}, C_{t-1})``."""
        h, c = state[0], state[1]
        p_i, p_f, p_o = self.weight_peephole.chunk(3)
        a = F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)
        a_i, a_f, a_g, a_o = a.chunk(4, dim=-1)
        i = torch.sigmoid(a_i + p_i * c)
        f = torch.sigmoid(a_f + p_f * c)
        candidate = torch.tanh(a_g)
        o = torch.sigmoid(a_o + p_o * (f * c + i * candidate))
        return lstm_gate_values(i, f, candidate, o)

    def parameters_per_gate(self) -> dict[str, int]:
        counts = super().parameters_per_gate()
        for gate in ("input", "forget", "output"):
            counts[gate] += self.hidden_size
        return counts

    def fused_scan(
        self,
        cells: list[PeepholeLSTMCell],
        x: Tensor,
        lengths: Tensor | None,
        start: tuple[Tensor, ...],
        keep: Tensor | None,
        need_state: bool,
    ) -> ScanResult:
        """:func:`convrec.nn.cells.lstm_scan` with the peepholes."""
        return lstm_scan(cells, x, lengths, start, keep)


@register_cell("layer_norm_lstm")
class LayerNormLSTMCell(LSTMCell):
    """The layer-normalised LSTM (Ba, Kiros & Hinton 2016, "Layer Normalization", section 3.1):
    the input and recurrent contributions to the gates are normalised separately over the ``4H``
    gate units, and the cell state before its ``tanh``, which keeps the gates' scale steady
    through time and speeds up training on long sequences:

        a_t = LN(W_x x_t; g_x) + LN(W_h h_{t-1}; g_h) + b             all four gates, (B, 4H)
        i_t, f_t, o_t = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o)      input, forget, output
        C~_t = tanh(a_g)                                              candidate cell state
        C_t = f_t * C_{t-1} + i_t * C~_t                              cell state
        h_t = o_t * tanh(LN(C_t; g_C, b_C))                           hidden state

    with ``LN(v; g, b) = g * (v - mean(v)) / sqrt(var(v) + 1e-5) + b`` over the last axis
    (``b = bias_ih + bias_hh``; the gate norms have gains only, since ``b`` holds their shift).
    It has no fused scan: it runs the reference loop.

    Args:
        input_size, hidden_size, bias, init: as :class:`convrec.nn.LSTMCell`.

    Shape:
        x: ``(B, I)``; state: ``(h, C)``, each ``(B, H)``, or None (zeros); output ``(h_t, C_t)``.

    Example:
        >>> h, c = LayerNormLSTMCell(3, 5)(torch.randn(2, 3))
        >>> h.shape
        torch.Size([2, 5])
    """

    fused_scan = None

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, init: str = "torch"
    ) -> None:
        super().__init__(input_size, hidden_size, bias, init)
        self.norm_ih = nn.LayerNorm(4 * hidden_size, bias=False)
        self.norm_hh = nn.LayerNorm(4 * hidden_size, bias=False)
        self.norm_c = nn.LayerNorm(hidden_size)

    def _gates(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        a = self.norm_ih(F.linear(x, self.weight_ih)) + self.norm_hh(F.linear(h, self.weight_hh))
        if self.bias_ih is not None:
            a = a + self.bias_ih + self.bias_hh
        a_i, a_f, a_g, a_o = a.chunk(4, dim=-1)
        return torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)

    def step(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        h, c = state[0], state[1]
        i, f, candidate, o = self._gates(x, h)
        c = f * c + i * candidate
        h = o * torch.tanh(self.norm_c(c))
        return h, c

    def gate_values(self, x: Tensor, state: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """The gates of one step, ``(B, H)`` each, given ``x_t`` and ``(h_{t-1}, C_{t-1})``."""
        i, f, candidate, o = self._gates(x, state[0])
        return lstm_gate_values(i, f, candidate, o)

    def parameters_per_gate(self) -> dict[str, int]:
        counts = super().parameters_per_gate()
        for gate in counts:
            counts[gate] += 2 * self.hidden_size  # the gate norms' gains
        counts["cell-state norm"] = 2 * self.hidden_size
        return counts
