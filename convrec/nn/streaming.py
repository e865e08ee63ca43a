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
  :class:`~convrec.nn.Embedding`): no state;
- :class:`SlidingWindow` around a model of a fixed window (a forecaster of its last ``T``
  steps): the state is the last ``T - 1`` steps; once ``T`` steps have come, every step gives
  the model's output for the window ending there, and a chunk that completes no window gives
  none. Each output costs a whole window's run: the model was trained on windows that start
  from a zero state, so carrying its state across them would change its answers.

Anything else, a bidirectional layer included, reads the future and is refused by name.

With ``every_step=True`` a many-to-one layer gives its output after each step of the chunk
instead of the last one alone: the output the whole model would give if the sequence ended there
(a keyword detector's posterior after every frame).

A stream starts from no state (``None``); :func:`start_state` gives the same start as tensors,
for a graph that takes its state as inputs: zeros, and an infinite extreme for running max and
min pools.
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


class SlidingWindow(nn.Module):
    """A streaming part: ``model`` on each window of ``steps`` steps ending at a new step.

    Shape:
        model: ``(N, steps, F) -> (N, O)``; as a part: ``(B, t, F) -> (B, n, O)``, one output
        per window the chunk completes.
    """

    def __init__(self, model: nn.Module, steps: int | None) -> None:
        super().__init__()
        self.model, self.steps = model, steps


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
    if isinstance(module, SlidingWindow):
        if module.steps is None:
            return f"{label} reads windows of no fixed length, so no window ends at a step"
        return None
    if isinstance(module, STATELESS):
        return None
    return f"{label} is not a layer convrec can run chunk by chunk"


def stream_chunk(
    module: nn.Module, chunk: Tensor, state: LayerState | None, every_step: bool = False
) -> tuple[Tensor, LayerState]:
    """``module``'s output for ``chunk`` given its ``state`` (None at the start), and its new
    state.

    Shape:
        chunk: ``(B, t, F)`` (token ids ``(B, t)``); output ``(B, t, F')``, or ``(B, F')`` after
        a many-to-one layer (its value after the chunk's last step; ``(B, t, F')``, its value
        after each step, with ``every_step``).
    """
    if isinstance(module, Recurrent):
        carried = None if state is None else tuple(state[f"part{k}"] for k in range(len(state)))
        outputs, final = module.advance(chunk, carried)
        new_state = {f"part{index}": part for index, part in enumerate(final)}
        if module.return_sequences or every_step:
            return outputs, new_state
        return torch.cat(list(final[0][-module.num_directions :]), dim=-1), new_state
    if isinstance(module, Conv1d):
        return _causal_convolution(module, chunk, state)
    if isinstance(module, GlobalPool):
        return _running_pool(module, chunk, state, every_step)
    if isinstance(module, nn.Sequential):
        return stream_parts(list(module), chunk, state, every_step)
    if isinstance(module, SlidingWindow):
        return _sliding_window(module, chunk, state)
    output = module(chunk)
    return (output.data if isinstance(output, Padded) else output), {}


def stream_parts(
    parts: Sequence[nn.Module], chunk: Tensor, state: LayerState | None, every_step: bool = False
) -> tuple[Tensor, LayerState]:
    """:func:`stream_chunk` through ``parts`` in order; the state's keys are prefixed
    ``"<index>."``."""
    new_state: LayerState = {}
    for index, part in enumerate(parts):
        own = _prefixed(state, f"{index}.")
        chunk, after = stream_chunk(part, chunk, own or None, every_step)
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


def _sliding_window(
    part: SlidingWindow, chunk: Tensor, state: LayerState | None
) -> tuple[Tensor, LayerState]:
    """The model on every complete window ending in the chunk, as one batch: ``(B, t, F) ->
    (B, n, O)``; the state keeps the last ``steps - 1`` steps (fewer before the first window)."""
    steps = part.steps
    history = chunk if state is None else torch.cat([state["past"], chunk], dim=1)
    count = history.shape[1] - steps + 1
    if count > 0:
        windows = history.unfold(1, steps, 1).transpose(2, 3)  # (B, n, steps, F)
        flat = part.model(windows.reshape(-1, steps, history.shape[2]))  # (B * n, O)
        outputs = flat.reshape(history.shape[0], count, -1)
    else:
        outputs = chunk.new_zeros(chunk.shape[0], 0, 0)
    return outputs, {"past": history[:, max(0, history.shape[1] - steps + 1) :]}


def _running_pool(
    pool: GlobalPool, chunk: Tensor, state: LayerState | None, every_step: bool = False
) -> tuple[Tensor, LayerState]:
    """The pool of every step so far: ``(B, t, C) -> (B, C)``, or ``(B, t, C)`` (the pool up to
    each step) with ``every_step``."""
    if pool.kind in ("max", "min"):
        extremes = _running_extremes(chunk, pool.kind)  # (B, t, C)
        if state is not None:
            pick = torch.maximum if pool.kind == "max" else torch.minimum
            extremes = pick(state["extreme"].unsqueeze(1), extremes)
        extreme = extremes[:, -1]
        return (extremes if every_step else extreme), {"extreme": extreme}
    totals = chunk.cumsum(dim=1) + (0 if state is None else state["total"].unsqueeze(1))
    steps = torch.arange(1, chunk.shape[1] + 1, device=chunk.device, dtype=chunk.dtype)
    counts = steps.view(1, -1, 1) + (0 if state is None else state["count"].unsqueeze(1))
    total, count = totals[:, -1], counts[:, -1].expand(chunk.shape[0], 1)
    outputs = totals / counts if pool.kind == "mean" else totals
    return (outputs if every_step else outputs[:, -1]), {"total": total, "count": count}


def start_state(parts: Sequence[nn.Module], chunk: Tensor) -> LayerState:
    """The state tensors that continue as no state does, for a stream of ``chunk``'s batch
    size: zeros, and ``-inf`` (max) or ``+inf`` (min) for running extremes.

    Raises:
        InvalidValueError: a :class:`SlidingWindow`, whose state grows until its window is full.
    """
    with torch.no_grad():
        return _start(parts, chunk)[1]


def _start(parts: Sequence[nn.Module], chunk: Tensor) -> tuple[Tensor, LayerState]:
    state: LayerState = {}
    for index, part in enumerate(parts):
        if isinstance(part, SlidingWindow):
            raise fail(
                "start_state", "parts", "layers whose state has a fixed shape", "a SlidingWindow"
            )
        if isinstance(part, nn.Sequential):
            chunk, own = _start(list(part), chunk)
        else:
            chunk, after = stream_chunk(part, chunk, None)
            fill = 0.0
            if isinstance(part, GlobalPool) and part.kind in ("max", "min"):
                fill = -torch.inf if part.kind == "max" else torch.inf
            own = {name: torch.full_like(value, fill) for name, value in after.items()}
        state |= {f"{index}.{name}": value for name, value in own.items()}
    return chunk, state


def _running_extremes(chunk: Tensor, kind: str) -> Tensor:
    """The max (or min) of each prefix of the chunk: ``(B, t, C) -> (B, t, C)``. While exporting,
    as a masked reduction over a ``(t, t)`` lower triangle: ONNX has no cumulative max."""
    if not torch.compiler.is_exporting():
        return (chunk.cummax(dim=1) if kind == "max" else chunk.cummin(dim=1)).values
    steps = torch.arange(chunk.shape[1], device=chunk.device)
    earlier = (steps.unsqueeze(1) >= steps).unsqueeze(-1)  # (t, t, 1): step s <= step u
    fill = -torch.inf if kind == "max" else torch.inf
    masked = torch.where(earlier, chunk.unsqueeze(1), fill)  # (B, t, t, C)
    return masked.amax(dim=2) if kind == "max" else masked.amin(dim=2)


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
