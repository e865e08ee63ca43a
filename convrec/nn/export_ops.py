"""A recurrent layer as one graph operator, for ``torch.export`` and ONNX.

A loop over time cannot be exported with a variable number of steps: ``torch.export`` unrolls it
for the example's length. While a model is being exported (``torch.compiler.is_exporting()``),
:class:`convrec.nn.Recurrent` therefore runs each layer of a cell with an ``export_kind`` as one
custom operator, ``convrec::recurrent_layer``, whose shapes are symbolic in batch and time.

Its eager kernel is :mod:`convrec.nn.fast_scan` (so an exported program runs anywhere
``convrec.nn`` is imported); :mod:`convrec.export.onnx_ops` translates it to ONNX's own ``RNN``,
``LSTM`` and ``GRU`` operators with ``sequence_lens``, which read each sequence to its true length
in both directions, as the layer does.

The kinds, and the cells that have them:

- ``'rnn_tanh'``, ``'rnn_relu'``: :class:`~convrec.nn.cells.RNNCell`;
- ``'lstm'``, ``'peephole_lstm'``: :class:`~convrec.nn.cells.LSTMCell`,
  :class:`~convrec.nn.lstm_variants.PeepholeLSTMCell`;
- ``'gru'``, ``'gru_reset_after'``: :class:`~convrec.nn.cells.GRUCell`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from convrec.checks import fail
from convrec.nn.cell_protocol import RecurrentCell, stacked
from convrec.nn.fast_scan import gru_scan, lstm_scan, rnn_scan
from convrec.nn.padded import reverse_sequences, zero_padding

EXPORT_KINDS = ("rnn_tanh", "rnn_relu", "lstm", "peephole_lstm", "gru", "gru_reset_after")


@torch.library.custom_op("convrec::recurrent_layer", mutates_args=())
def recurrent_layer(
    x: Tensor,
    lengths: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    weight_peephole: Tensor | None,
    kind: str,
    hidden_size: int,
    bidirectional: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """One layer of a recurrent network, every direction, over a padded batch.

    Args:
        x: ``(B, T, I)``.
        lengths: ``(B,)`` integers in ``1..T``; the reverse direction starts at each length.
        h0, c0: initial states ``(D, B, H)``; ``c0`` is read by the LSTMs only.
        weight_ih, weight_hh, bias_ih, bias_hh: the cells' weights in convrec's layout stacked
            on a leading direction axis: ``(D, G * H, I)``, ``(D, G * H, H)``, ``(D, G * H)``.
        weight_peephole: ``(D, 3 * H)`` for ``'peephole_lstm'``, else None.
        kind: one of :data:`EXPORT_KINDS`.
        hidden_size, bidirectional: ``H``, and ``D == 2`` (constants of the graph operator).

    Returns:
        ``outputs (B, T, D * H)``, zero beyond each length, and the final ``h_n`` and ``c_n``
        ``(D, B, H)`` at each length (``c_n`` is ``h_n`` for cells without a cell state).
    """
    directions = 2 if bidirectional else 1
    inputs = [x] if directions == 1 else [x, reverse_sequences(x, lengths)]
    stacked_inputs = torch.stack(inputs)
    weights = (weight_ih, weight_hh, bias_ih, bias_hh)
    if kind in ("lstm", "peephole_lstm"):
        outputs, h, c = lstm_scan(
            stacked_inputs, lengths, h0, c0, *weights, weight_peephole=weight_peephole
        )
    elif kind in ("gru", "gru_reset_after"):
        outputs, h = gru_scan(stacked_inputs, lengths, h0, *weights, kind == "gru_reset_after")
        c = h
    else:
        outputs, h = rnn_scan(stacked_inputs, lengths, h0, *weights, kind.removeprefix("rnn_"))
        c = h
    per_direction = list(outputs.unbind(0))
    if directions == 2:
        per_direction[1] = reverse_sequences(per_direction[1], lengths)
    return zero_padding(torch.cat(per_direction, dim=-1), lengths, 1), h, c.clone()


@recurrent_layer.register_fake
def _recurrent_layer_shapes(
    x: Tensor,
    lengths: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    weight_peephole: Tensor | None,
    kind: str,
    hidden_size: int,
    bidirectional: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    directions = 2 if bidirectional else 1
    state = h0.new_empty(directions, x.shape[0], hidden_size)
    return x.new_empty(x.shape[0], x.shape[1], directions * hidden_size), state, state.clone()


def declared_export_kind(cell: RecurrentCell) -> str | None:
    """The cell's ``export_kind`` if the class that declares it also defines the cell's
    ``step`` (or inherits it): a subclass that rewrites ``step`` without declaring its own kind
    (a layer-normalised LSTM built on the LSTM) has none, so it is never exported as its base."""
    classes = type(cell).__mro__
    declares = next(owner for owner in classes if "export_kind" in vars(owner))
    steps = next(owner for owner in classes if "step" in vars(owner))
    return cell.export_kind if issubclass(declares, steps) else None


def exported_layer(
    owner: str,
    cells: list[RecurrentCell],
    x: Tensor,
    lengths: Tensor | None,
    start: tuple[Tensor, ...],
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run one layer's cells (one per direction) as :func:`recurrent_layer`: ``x (B, T, I)`` to
    ``(B, T, D * H)`` and the final state parts ``(D, B, H)``.

    Raises:
        ValueError: the cell has no ``export_kind``, naming the cells that have one.
    """
    cell = cells[0]
    kind = declared_export_kind(cell)
    if kind not in EXPORT_KINDS:
        raise fail(
            owner,
            "cell",
            "a cell with an ONNX and torch.export form (rnn, lstm, peephole_lstm, gru)",
            f"{type(cell).__name__}",
            hint="Export runs each recurrent layer as one operator with a variable number of "
            "steps; a cell written only as its step equations has no such operator yet.",
        )
    if lengths is None:
        lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
    c0 = start[1] if len(start) > 1 else start[0]
    peephole = stacked(cells, "weight_peephole") if kind == "peephole_lstm" else None
    weights = [stacked(cells, name) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    outputs, h, c = recurrent_layer(
        x, lengths, start[0], c0, *weights, peephole, kind, cell.hidden_size, len(cells) == 2
    )
    return outputs, ((h, c) if len(start) > 1 else (h,))
