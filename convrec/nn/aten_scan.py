"""PyTorch's fused recurrent kernels (``torch.lstm``, ``torch.gru``, ``torch.rnn_tanh``,
``torch.rnn_relu``; cuDNN on GPU) run over a padded batch, one call per direction, with a
convrec cell's own weights.

Outputs before each length are exact because padding only follows them; final hidden states are
read at each last valid step. An LSTM asked for its final cell state on a batch of mixed lengths
runs in chunks of time that end at each distinct length (see :func:`_run_to_each_length`).
Nothing is packed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from convrec.nn.padded import last_valid

Kernel = Callable[..., tuple[Tensor, ...]]


def aten_scan(
    kernel: Kernel,
    weights: list[list[Tensor]],
    x: Tensor,
    lengths: Tensor | None,
    start: tuple[Tensor, ...],
    need_state: bool,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run ``kernel`` over each direction of one layer.

    Args:
        kernel: one of ``torch.lstm``, ``torch.gru``, ``torch.rnn_tanh``, ``torch.rnn_relu``.
        weights: per direction, ``[weight_ih, weight_hh(, bias_ih, bias_hh)]`` in PyTorch's
            layout.
        x: ``(D, B, T, I)``, direction 1 already reversed within each length.
        lengths: ``(B,)`` or None.
        start: the initial state parts, ``(D, B, H)`` each (``(h, c)`` for an LSTM).
        need_state: also read every final state part exactly (the LSTM's cell state).

    Returns:
        ``(D, B, T, H)`` outputs and the final state parts ``(D, B, H)`` at each length.
    """
    has_bias = len(weights[0]) == 4
    train = torch.is_grad_enabled()

    def run(chunk: Tensor, state: tuple[Tensor, ...], index: int) -> tuple[Tensor, ...]:
        hidden = tuple(part.unsqueeze(0) for part in state)
        hx = hidden if len(hidden) == 2 else hidden[0]
        output, *final = kernel(chunk, hx, weights[index], has_bias, 1, 0.0, train, False, True)
        return output, tuple(part[0] for part in final)

    outputs, finals = [], []
    for index in range(x.shape[0]):
        direction_start = tuple(part[index] for part in start)
        if lengths is None:
            output, final = run(x[index], direction_start, index)
        elif need_state and len(start) > 1:
            output, final = _run_to_each_length(
                lambda chunk, state, i=index: run(chunk, state, i),
                x[index],
                lengths,
                direction_start,
            )
        else:
            output, _ = run(x[index], direction_start, index)
            final = (last_valid(output, lengths),)
        outputs.append(output)
        finals.append(final)
    final_state = tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
    return torch.stack(outputs), final_state


def _run_to_each_length(
    run: Callable[[Tensor, tuple[Tensor, ...]], tuple[Tensor, tuple[Tensor, ...]]],
    x: Tensor,
    lengths: Tensor,
    start: tuple[Tensor, ...],
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run a fused kernel over the whole batch in chunks of time that end at each distinct length,
    carrying the state across chunks and keeping each sequence's state where its chunk ends.

    An LSTM's cell state at a sequence's last valid step is not among the kernel's outputs; this
    reads it exactly, with the padded call's total number of steps and one call per distinct
    length, and without packing.
    """
    state, final, outputs, begin = start, start, [], 0
    for end in sorted(set(lengths.tolist())):
        output, state = run(x[:, begin:end], state)
        outputs.append(output)
        ends_here = (lengths == end).unsqueeze(-1)
        final = tuple(
            torch.where(ends_here, now, before) for now, before in zip(state, final, strict=True)
        )
        begin = end
    output = torch.cat(outputs, dim=1)
    return F.pad(output, (0, 0, 0, x.shape[1] - begin)), final
