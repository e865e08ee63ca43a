"""Truncated backpropagation through time (TBPTT): each training batch cut along time into
windows of ``tbptt_steps`` steps, the recurrent state carried from one window to the next and
detached between them, one optimizer step per window.

Williams & Peng (1990), "An efficient gradient-based algorithm for on-line training of recurrent
network trajectories"; Lightning 1.x's ``truncated_bptt_steps``, removed in Lightning 2.0. Each
row of a batch is one sequence, so the state starts from zeros at every batch and never crosses
from one sequence into another.

A model trains this way if it has a method ``advance(inputs, state) -> (outputs, state)``
(:class:`convrec.models.CharLM` has one): ``state`` is None (zeros) or what the previous call
returned, a tensor or a tuple of tensors with the batch on axis 1, such as the
``(num_layers, B, H)`` parts of :class:`convrec.nn.LSTM`'s ``(h, c)``. Its targets must be per
step (many-to-many), aligned with the inputs' time axis.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from convrec.checks import describe
from convrec.errors import InvalidValueError
from convrec.nn import Padded
from convrec.train.batches import sequence_lengths

if TYPE_CHECKING:
    from lightning.fabric import Fabric

    from convrec.tasks import Task

State = Tensor | tuple[Tensor, ...]


@dataclass(frozen=True)
class Window:
    """Steps ``start`` to ``start + tbptt_steps`` of a batch, for the rows still running.

    Attributes:
        start: the window's first step in the batch.
        inputs, targets: the window of those rows: ``(A, W, ...)`` tensors, or ``Padded`` with
            lengths ``clamp(lengths - start, 0, W)``, all ``>= 1``.
        rows: ``(A,)`` the indices of those rows in the batch; None when every row runs.
    """

    start: int
    inputs: Tensor | Padded
    targets: Tensor | Padded
    rows: Tensor | None


def time_windows(
    inputs: Tensor | Padded, targets: Tensor | Padded, tbptt_steps: int
) -> Iterator[Window]:
    """Cut a batch into consecutive windows of ``tbptt_steps`` steps (the last may be shorter).

    The rows of a ``Padded`` batch whose sequence has ended before a window are left out of it;
    a window where every row has ended is skipped. The first window holds every row (a
    ``Padded`` length is at least 1).

    Args:
        inputs: ``(B, T, ...)`` or a ``Padded`` (its time axis at ``time_dim``).
        targets: per-step targets with the same ``T`` steps: ``(B, T, ...)`` or a ``Padded``.
        tbptt_steps: steps per window.

    Raises:
        InvalidValueError: the targets do not have the inputs' ``T`` steps (one target per
            sequence, say), or a ``Padded`` target's lengths are not the inputs'.

    Example:
        >>> batch = Padded(torch.arange(1, 11).view(2, 5), [5, 2])
        >>> [(w.start, w.inputs.lengths.tolist(), w.rows) for w in time_windows(batch, batch, 2)]
        [(0, [2, 2], None), (2, [2], tensor([0])), (4, [1], tensor([0]))]
    """
    steps = time_length(inputs)
    _check_aligned(inputs, targets, steps)
    for start in range(0, steps, tbptt_steps):
        size = min(tbptt_steps, steps - start)
        rows = None
        if isinstance(inputs, Padded):
            running = inputs.lengths > start  # (B,)
            if not running.any():
                continue
            rows = None if running.all() else running.nonzero().squeeze(1)
        yield Window(start, _cut(inputs, start, size, rows), _cut(targets, start, size, rows), rows)


def time_length(batch: Tensor | Padded) -> int:
    """``T``: the padded length of a ``Padded``, axis 1 of a tensor (0 if it has none)."""
    if isinstance(batch, Padded):
        return batch.max_length
    return batch.shape[1] if batch.dim() > 1 else 0


def _check_aligned(inputs: Tensor | Padded, targets: Tensor | Padded, steps: int) -> None:
    if time_length(targets) != steps:
        raise InvalidValueError(
            "invalid value for argument `tbptt_steps`: truncated BPTT cuts inputs and targets "
            f"into the same windows of time, so the targets need the inputs' {steps} steps; got "
            f"inputs of shape {tuple(inputs.shape)} and targets of shape {tuple(targets.shape)}. "
            "Train a task with a target per step, or leave tbptt_steps unset (full BPTT)."
        )
    if isinstance(targets, Padded):
        expected = (
            inputs.lengths
            if isinstance(inputs, Padded)
            else torch.full_like(targets.lengths, steps)
        )
        if not torch.equal(targets.lengths, expected.to(targets.lengths.device)):
            raise InvalidValueError(
                "invalid value for argument `tbptt_steps`: truncated BPTT needs each target "
                f"sequence as long as its input; got input lengths {expected.tolist()} and "
                f"target lengths {targets.lengths.tolist()}"
            )


def _cut(batch: Tensor | Padded, start: int, size: int, rows: Tensor | None) -> Tensor | Padded:
    """Steps ``start`` to ``start + size`` of ``rows`` (all if None) of ``batch``."""
    if isinstance(batch, Padded):
        data = batch.data.narrow(batch.time_dim, start, size)
        lengths = (batch.lengths - start).clamp(0, size)  # (B,)
        if rows is not None:
            data, lengths = data.index_select(0, rows), lengths.index_select(0, rows)
        return Padded(data, lengths, batch.time_dim)
    window = batch.narrow(1, start, size)
    return window if rows is None else window.index_select(0, rows)


def select_rows(state: State | None, rows: Tensor | None) -> State | None:
    """The state of ``rows`` alone (axis 1 of each tensor); all of it if ``rows`` is None.

    Shape:
        state: ``(L, B, H)`` or a tuple of them; rows: ``(A,)``; returns ``(L, A, H)`` parts.
    """
    if state is None or rows is None:
        return state
    if isinstance(state, Tensor):
        return state.index_select(1, rows)
    return tuple(part.index_select(1, rows) for part in state)


def put_rows(state: State | None, part: State, rows: Tensor | None) -> State:
    """``state`` with its ``rows`` replaced by ``part`` (every row if ``rows`` is None): the
    rows that did not run keep their state unchanged.

    Shape:
        state: ``(L, B, H)`` or a tuple of them (None only with ``rows`` None); part:
        ``(L, A, H)`` likewise; rows: ``(A,)``.
    """
    if rows is None:
        return part
    if isinstance(part, Tensor):
        return state.index_copy(1, rows, part)
    return tuple(whole.index_copy(1, rows, new) for whole, new in zip(state, part, strict=True))


def detached(state: State) -> State:
    """The state cut from the graph of the window that computed it."""
    if isinstance(state, Tensor):
        return state.detach()
    return tuple(part.detach() for part in state)


def check_state(state: object, batch_size: int, model: str) -> State:
    """``state`` if it is a tensor or a tuple of tensors with the batch on axis 1.

    Raises:
        InvalidValueError: anything else, naming the model and what it returned.
    """
    parts = state if isinstance(state, tuple) else (state,)
    if parts and all(
        isinstance(part, Tensor) and part.dim() >= 2 and part.shape[1] == batch_size
        for part in parts
    ):
        return state
    shown = ", ".join(describe(part) for part in parts) or "an empty tuple"
    raise InvalidValueError(
        f"invalid value for argument `tbptt_steps`: {model}.advance must return a state of "
        f"tensors with the batch ({batch_size} rows) on axis 1, such as (num_layers, B, H), to "
        f"carry it between windows; got {shown}"
    )


def advance(
    fabric: Fabric, model: nn.Module, inputs: Tensor | Padded, state: State | None
) -> tuple[Tensor | Padded, State]:
    """``model.advance(inputs, state)`` as Fabric runs ``forward``: the inputs cast to the
    precision's dtype, under its forward context (autocast), the outputs cast back."""
    precision = fabric.strategy.precision
    inputs, state = precision.convert_input((inputs, state))
    with precision.forward_context():
        outputs, state = model.advance(inputs, state)
    return precision.convert_output((outputs, state))


def check_model_advances(model: nn.Module, name: str) -> None:
    """Refuse a model that cannot carry its state from one window to the next.

    Raises:
        InvalidValueError: ``model`` has no ``advance(inputs, state)`` method.
    """
    if not callable(getattr(model, "advance", None)):
        raise InvalidValueError(
            f"invalid value for argument `tbptt_steps`: truncated BPTT carries the recurrent "
            f"state between windows through the model's advance(inputs, state) -> (outputs, "
            f"state) method, and model {name!r} has none. Choose a model with advance (such as "
            "'charlm'), or leave tbptt_steps unset (full BPTT)."
        )


def check_task_per_step(task: Task) -> None:
    """Refuse a task whose targets are not per step (many-to-one): its loss is not a sum
    over windows of time.

    Raises:
        InvalidValueError: ``task.outputs_per_step`` is false.
    """
    if not task.outputs_per_step:
        raise InvalidValueError(
            f"invalid value for argument `tbptt_steps`: truncated BPTT needs a target at every "
            f"step, and task {task.name!r} has one target per sequence (many-to-one). Leave "
            "tbptt_steps unset (full BPTT) for it."
        )


def steps_per_epoch(loader: DataLoader, tbptt_steps: int | None) -> int:
    """Optimizer steps in an epoch of ``loader``: one per batch, or with ``tbptt_steps`` one
    per window, ``ceil(T / tbptt_steps)`` for a batch whose longest sequence has ``T`` steps.

    Counted on the batches of the loader's current epoch (the first, before training); with
    sequences of varying length another epoch's batches may give a few windows more or fewer.
    """
    if tbptt_steps is None:
        return len(loader)
    lengths = sequence_lengths(loader.dataset)
    return sum(
        math.ceil(max(lengths[index] for index in batch) / tbptt_steps)
        for batch in loader.batch_sampler
    )
