"""ONNX forms of convrec's graph operators, for ``torch.onnx.export(custom_translation_table=...)``.

``convrec::recurrent_layer`` (:mod:`convrec.nn.export_ops`) becomes ONNX's ``RNN``, ``LSTM`` or
``GRU`` operator with ``sequence_lens``, so the number of steps stays an input and each direction
reads a sequence to its true length. The weights are reordered from convrec's layout to ONNX's:

- LSTM gates ``[i, f, C~, o]`` to ``[i, o, f, c]``, peepholes ``[p_i, p_f, p_o]`` to
  ``[p_i, p_o, p_f]``;
- GRU gates ``[r, z, h~]`` to ``[z, r, h]`` with the update block negated: the notes' ``z``
  weighs the candidate, ONNX's the old state, and ``1 - sigmoid(a) = sigmoid(-a)``;
  ``reset_after`` is ONNX's ``linear_before_reset``;
- biases ``b_ih, b_hh`` concatenated into ``B``.

ONNX's recurrent operators are time-major, ``X (T, B, I)`` and ``Y (T, D, B, H)``; the
translation transposes to and from convrec's batch-first layout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from onnxscript import opset18 as op

# Source block order of convrec's stacked weights -> ONNX's (with the blocks to negate).
_GATE_ORDER = {"lstm": ((0, 3, 1, 2), ()), "gru": ((1, 0, 2), (1,)), "rnn": ((0,), ())}
_PEEPHOLE_ORDER = (0, 2, 1)
_INT32 = 6


def _reorder(
    weight: Any, order: tuple[int, ...], negate: tuple[int, ...], size: int, columns: bool
) -> Any:
    """Permute (and negate some of) the ``len(order)`` blocks of ``size`` entries along axis 1
    of ``(D, G * H, I)`` weights (``columns``) or ``(D, G * H)`` biases, as constant-foldable
    ``Gather`` and ``Mul``."""
    if len(order) == 1:
        return weight
    rows = [block * size + row for block in order for row in range(size)]
    reordered = op.Gather(weight, op.Constant(value_ints=rows), axis=1)
    if not negate:
        return reordered
    signs = [-1.0 if block in negate else 1.0 for block in order for _ in range(size)]
    sign = op.Constant(value_floats=signs)
    if columns:
        sign = op.Unsqueeze(sign, op.Constant(value_ints=[1]))
    return op.Mul(reordered, op.CastLike(sign, reordered))


def recurrent_layer(
    x: Any,
    lengths: Any,
    h0: Any,
    c0: Any,
    weight_ih: Any,
    weight_hh: Any,
    bias_ih: Any,
    bias_hh: Any,
    weight_peephole: Any,
    kind: str,
    hidden_size: int,
    bidirectional: bool,
) -> tuple[Any, Any, Any]:
    """``convrec::recurrent_layer`` as ONNX operators (arguments as the operator's)."""
    family = "lstm" if kind.endswith("lstm") else kind.split("_")[0]
    order, negate = _GATE_ORDER[family]
    directions = 2 if bidirectional else 1
    weights = [
        _reorder(weight, order, negate, hidden_size, True) for weight in (weight_ih, weight_hh)
    ]
    bias = None
    if bias_ih is not None:
        biases = [_reorder(part, order, negate, hidden_size, False) for part in (bias_ih, bias_hh)]
        bias = op.Concat(*biases, axis=1)
    sequence_lens = op.Cast(lengths, to=_INT32)
    time_major = op.Transpose(x, perm=[1, 0, 2])
    attributes: dict[str, Any] = {
        "hidden_size": hidden_size,
        "direction": "bidirectional" if bidirectional else "forward",
    }
    if family == "lstm":
        peephole = None
        if weight_peephole is not None:
            peephole = _reorder(weight_peephole, _PEEPHOLE_ORDER, (), hidden_size, False)
        y, h, c = op.LSTM(time_major, *weights, bias, sequence_lens, h0, c0, peephole, **attributes)
    elif family == "gru":
        reset_after = int(kind == "gru_reset_after")
        y, h = op.GRU(
            time_major,
            *weights,
            bias,
            sequence_lens,
            h0,
            linear_before_reset=reset_after,
            **attributes,
        )
        c = op.Identity(h)
    else:
        activation = "Tanh" if kind == "rnn_tanh" else "Relu"
        y, h = op.RNN(
            time_major,
            *weights,
            bias,
            sequence_lens,
            h0,
            activations=[activation] * directions,
            **attributes,
        )
        c = op.Identity(h)
    batch_first = op.Transpose(y, perm=[2, 0, 1, 3])  # (T, D, B, H) -> (B, T, D, H)
    outputs = op.Reshape(batch_first, op.Constant(value_ints=[0, 0, -1]))
    return outputs, h, c


def translation_table() -> dict[Callable[..., Any], Callable[..., Any]]:
    """The ``custom_translation_table`` of ``torch.onnx.export`` for convrec's operators."""
    import convrec.nn.export_ops  # noqa: F401 (registers the operator)

    return {torch.ops.convrec.recurrent_layer.default: recurrent_layer}
