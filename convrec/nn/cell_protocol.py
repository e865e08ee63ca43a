"""The recurrent cell protocol: what a cell defines so that :class:`convrec.nn.Recurrent` runs it
stacked, bidirectional, over padded batches, with dropout, recurrent dropout, initial and final
states, diagnostics and, where the cell has one, a fused kernel.

A cell is one time step written as its equations. It subclasses :class:`RecurrentCell` and
defines:

- ``__init__(input_size, hidden_size, **options)``, keeping ``input_size`` and ``hidden_size``;
- ``state_names``: the named parts of its state, the output first (``('h',)``, ``('h', 'c')``);
- ``step(x_t, state) -> state``: the equations, ``x_t`` ``(B, I)``, each state part ``(B, S_k)``.

and may define:

- ``state_sizes()``: each part's size ``S_k`` (default: ``hidden_size`` for every part);
- ``gate_values(x_t, state)``: the saturating activations of one step by name
  (``'forget (sigmoid)'``), which the gate-saturation diagnostics read;
- ``recurrent_weights()``: the recurrent weight block of each gate, for the diagnostics' norms;
- ``parameters_per_gate()``: parameter counts per gate, for the model summary;
- ``fused_scan(cells, x, lengths, start, keep, need_state)``: a fast kernel over a whole
  sequence for the cells of one layer (one per direction), equal to the loop over ``step``;
- ``export_kind``: the name of the graph operator that computes a layer of the cell while a model
  is exported (:mod:`convrec.nn.export_ops`); a cell without one cannot be exported, and a
  subclass that rewrites ``step`` does not inherit its base's.

Cells are found by name (``Recurrent('peephole_lstm', ...)``, a model's ``cell`` option) once
registered with :func:`register_cell`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from convrec.checks import unknown_name
from convrec.errors import InvalidValueError

# (outputs (D, B, T, S_0), final state parts (D, B, S_k))
ScanResult = tuple[Tensor, tuple[Tensor, ...]]


class RecurrentCell(nn.Module):
    """Base class of recurrent cells (see the module docstring for the protocol).

    Example:
        >>> import torch
        >>> class Leaky(RecurrentCell):
        ...     '''h_t = (1 - a) * h_{t-1} + a * tanh(W x_t)'''
        ...     def __init__(self, input_size, hidden_size, rate=0.5):
        ...         super().__init__()
        ...         self.input_size, self.hidden_size, self.rate = input_size, hidden_size, rate
        ...         self.weight = nn.Linear(input_size, hidden_size)
        ...     def step(self, x, state):
        ...         h, = state
        ...         return ((1 - self.rate) * h + self.rate * torch.tanh(self.weight(x)),)
        >>> from convrec.nn import Recurrent
        >>> Recurrent(Leaky, 3, 4, bidirectional=True)(torch.randn(2, 5, 3)).shape
        torch.Size([2, 5, 8])
    """

    input_size: int
    hidden_size: int
    state_names: tuple[str, ...] = ("h",)

    def state_sizes(self) -> tuple[int, ...]:
        """The size of each state part, in the order of ``state_names``."""
        return (self.hidden_size,) * len(self.state_names)

    def step(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """One time step: ``x_t (B, I)`` and the state entering it, each part ``(B, S_k)``, to
        the state after it; part 0 is the step's output."""
        raise NotImplementedError(f"{type(self).__name__} does not define step(x, state)")

    def gate_values(self, x: Tensor, state: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """The saturating activations of one step, ``(B, H)`` each, named ``'name (sigmoid)'``
        or ``'name (tanh)'``; none by default."""
        return {}

    def recurrent_weights(self) -> dict[str, Tensor]:
        """Each gate's block of recurrent weights (its largest singular value is reported by
        the gradient-flow diagnostics); none by default."""
        return {}

    def parameters_per_gate(self) -> dict[str, int]:
        """The cell's parameters counted per gate; empty (one group) by default."""
        return {}

    fused_scan: Callable[..., ScanResult] | None = None
    """Optional: ``fused_scan(cells, x, lengths, start, keep, need_state)`` runs the cells of one
    layer (``cells[d]`` for direction ``d``, all of this class and configuration) over
    ``x (D, B, T, I)`` (direction 1 already reversed within each length), ``lengths (B,)`` or
    None, ``start`` the initial state parts ``(D, B, S_k)``, ``keep (D, B, S_0)`` the scaled
    recurrent-dropout mask or None; returns the outputs ``(D, B, T, S_0)`` (exact up to each
    length) and the final state parts at each length (only part 0 is read unless
    ``need_state``)."""

    export_kind: str | None = None
    """Optional: one of :data:`convrec.nn.export_ops.EXPORT_KINDS`."""


_CELLS: dict[str, Callable[..., RecurrentCell]] = {}


def register_cell(name: str) -> Callable[[type[RecurrentCell]], type[RecurrentCell]]:
    """Decorator: register a cell class (or a function building one) under ``name``, so that
    layers and models build it by name (plugins register their cells with it)."""
    if name in _CELLS:
        raise InvalidValueError(f"recurrent cell {name!r}: registered twice")

    def add(cell: type[RecurrentCell]) -> type[RecurrentCell]:
        _CELLS[name] = cell
        return cell

    return add


def registered_cells() -> list[str]:
    """The names of the registered cells, sorted."""
    return sorted(_CELLS)


def find_cell(name: str) -> Callable[..., RecurrentCell]:
    """The cell registered as ``name``; an unknown name lists the valid ones and close
    matches."""
    if name not in _CELLS:
        raise unknown_name("recurrent cell", name, list(_CELLS))
    return _CELLS[name]


def stacked(cells: Sequence[nn.Module], name: str) -> Tensor | None:
    """The parameter ``name`` of each direction's cell stacked on a leading axis ``D``, or None
    when the cells have none (no bias)."""
    parts = [getattr(cell, name) for cell in cells]
    if parts[0] is None:
        return None
    return parts[0].unsqueeze(0) if len(parts) == 1 else torch.stack(parts)
