"""Causal layers run chunk by chunk, with their state as plain tensors.

A stream feeds a sequence in pieces: ``(B, t, F)`` chunks of any length ``t >= 1``. Each
streamable layer maps a chunk and its state to its output for that chunk and the new state, so
that the outputs of all chunks, put together, are the outputs of the whole sequence:

- :class:`~convrec.nn.Recurrent` (unidirectional, any cell): the state is the cells' state,
  carried from one chunk to the next (:meth:`~convrec.nn.Recurrent.advance`); many-to-one
  layers give the output after the chunk's last step;
- :class:`~convrec.nn.Conv1d` with ``padding='causal'`` and stride 1: the state is the last
  ``(k - 1) * d`` input steps, zeros at the start, as the causal padding is;
- :class:`~convrec.nn.GlobalPool` (max, min, mean, sum): the running summary of the steps so
  far, so a many-to-one model gives its output for the sequence up to the chunk's end;
- position-wise modules (:class:`~convrec.nn.Pointwise`, ``nn.Linear``, dropout, activations,
  :class:`~convrec.nn.Embedding`): no state.

Anything else, a bidirectional layer included, reads the future and is refused by name.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.checks import fail
from convrec.nn.conv import Conv1d
from convrec.nn.embedding import Embedding
from convrec.nn.padded import Padded
from convrec.nn.pointwise import Pointwise
from convrec.nn.pool import GlobalPool
from convrec.nn.recurrent import Recurrent

LayerState = dict[str, Tensor]
STATELESS = (
    Pointwise,
    Embedding,
    nn.Linear,
    nn.Dropout,
    nn.Identity,
    nn.ReLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.GELU,
)


def streaming_refusal(module: nn.Module, name: str = "") -> str | None:
    """Why ``module`` cannot run chunk by chunk (naming the layer), or None if it can."""
    label = f"{name} ({type(module).__name__})" if name else type(module).__name__
    if isinstance(module, Recurrent):
        if module.bidirectional:
            return f"{label} is bidirectional: its reverse direction starts at the sequence's end"
        return None
    if isinstance(module, Conv1d):
        if module.padding != "causal" or module.stride != (1,):
            return (
                f"{label} has padding={module.padding!r}, stride {module.stride[0]}: only "
                "causal convolutions of stride 1 look at the past alone"
            )
        return None
    if isinstance(module, GlobalPool):
        if module.kind not in ("max", "min", "mean", "sum"):
            return f"{label} pools by {module.kind!r}, which has no running form here"
        return None
    if isinstance(module, nn.Sequential):
        for index, part in enumerate(module):
            reason = streaming_refusal(part, f"{name}.{index}" if name else str(index))
            if reason is not None:
                return reason
        return None
    if isinstance(module, STATELESS):
        return None
    return f"{label} is not a layer convrec can run chunk by chunk"


def stream_chunk(
    module: nn.Module, chunk: Tensor, state: LayerState | None
) -> tuple[Tensor, LayerState]:
    """``module``'s output for ``chunk`` given its ``state`` (None at the start), and its new
    state.

    Shape:
        chunk: ``(B, t, F)`` (token ids ``(B, t)``); output ``(B, t, F')``, or ``(B, F')`` after
        a many-to-one layer (its value after the chunk's last step).
    """
    if isinstance(module, Recurrent):
        carried = None if state is None else tuple(state[f"part{k}"] for k in range(len(state)))
        outputs, final = module.advance(chunk, carried)
        new_state = {f"part{index}": part for index, part in enumerate(final)}
        if module.return_sequences:
            return outputs, new_state
        return torch.cat(list(final[0][-module.num_directions :]), dim=-1), new_state
    if isinstance(module, Conv1d):
        return _causal_convolution(module, chunk, state)
    if isinstance(module, GlobalPool):
        return _running_pool(module, chunk, state)
    if isinstance(module, nn.Sequential):
        return stream_parts(list(module), chunk, state)
    output = module(chunk)
    return (output.data if isinstance(output, Padded) else output), {}


def stream_parts(
    parts: Sequence[nn.Module], chunk: Tensor, state: LayerState | None
) -> tuple[Tensor, LayerState]:
    """:func:`stream_chunk` through ``parts`` in order; the state's keys are prefixed
    ``"<index>."``."""
    new_state: LayerState = {}
    for index, part in enumerate(parts):
        own = _prefixed(state, f"{index}.")
        chunk, after = stream_chunk(part, chunk, own or None)
        new_state |= {f"{index}.{key}": value for key, value in after.items()}
    return chunk, new_state


def _prefixed(state: LayerState | None, prefix: str) -> LayerState:
    if not state:
        return {}
    return {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}


def _causal_convolution(
    conv: Conv1d, chunk: Tensor, state: LayerState | None
) -> tuple[Tensor, LayerState]:
    """A causal convolution over the chunk with the last ``(k - 1) * d`` input steps before it
    (zeros before the first chunk): ``(B, t, C_in) -> (B, t, C_out)``."""
    history = (conv.kernel_size[0] - 1) * conv.dilation[0]
    if state is None:
        past = chunk.new_zeros(chunk.shape[0], history, chunk.shape[2])
    else:
        past = state["past"]
    window = torch.cat([past, chunk], dim=1)
    output = F.conv1d(
        window.transpose(1, 2), conv.weight, conv.bias, 1, 0, conv.dilation, conv.groups
    ).transpose(1, 2)
    return output, {"past": window[:, window.shape[1] - history :]}


def _running_pool(
    pool: GlobalPool, chunk: Tensor, state: LayerState | None
) -> tuple[Tensor, LayerState]:
    """The pool of every step so far: ``(B, t, C) -> (B, C)``."""
    if pool.kind in ("max", "min"):
        extreme = chunk.amax(dim=1) if pool.kind == "max" else chunk.amin(dim=1)
        if state is not None:
            pick = torch.maximum if pool.kind == "max" else torch.minimum
            extreme = pick(state["extreme"], extreme)
        return extreme, {"extreme": extreme}
    total = chunk.sum(dim=1) + (0 if state is None else state["total"])
    count = chunk.new_full((chunk.shape[0], 1), chunk.shape[1])
    count = count + (0 if state is None else state["count"])
    output = total / count if pool.kind == "mean" else total
    return output, {"total": total, "count": count}


def check_streamable(
    owner: str, parts: Sequence[nn.Module], model: nn.Module | None = None
) -> None:
    """Refuse, naming the layer (by its name in ``model`` if given), a part that reads the
    future."""
    names = {id(module): name for name, module in (model or nn.Module()).named_modules()}
    for index, part in enumerate(parts):
        reason = streaming_refusal(part, names.get(id(part)) or str(index))
        if reason is not None:
            raise fail(owner, "model", "a causal model (see convrec.nn.streaming)", reason)
