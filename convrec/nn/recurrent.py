"""Stacked and bidirectional recurrent layers over padded batches, for any cell:
:class:`Recurrent`, and its presets :class:`RNN`, :class:`LSTM`, :class:`GRU`.

With a :class:`Padded` input every sequence runs to its true length: the forward direction stops
at its last valid step, and the reverse direction starts there (each sequence is reversed within
its length, run forward, and reversed back), so neither direction ever reads padding.

Two backends compute the same numbers:

- ``'reference'``: a Python loop over time calling the cell's ``step``, its equations; the state
  stops changing once ``t`` reaches a sequence's length.
- ``'fused'``: the cell's ``fused_scan`` over each layer, both directions at once: for the cells of
  :mod:`convrec.nn.cells`, PyTorch's fused kernels (cuDNN on GPU) where they compute the cell, and
  otherwise (the notes' GRU with ``reset_after=False``, the peephole LSTM, recurrent dropout) the
  hand-written backward through time of :mod:`convrec.nn.fast_scan`.

``backend='auto'`` picks ``'fused'`` when the cell has a fused scan. A step hook
(:meth:`Recurrent.register_step_hook`) runs the reference loop, which sees every step. While a
model is exported, each layer is one operator with a variable number of steps
(:mod:`convrec.nn.export_ops`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from convrec.checks import describe, fail, one_of, positive_int, probability
from convrec.errors import InvalidTypeError
from convrec.nn.cell_protocol import RecurrentCell, find_cell
from convrec.nn.cells import GRUCell, LSTMCell, RNNCell, flip_update_gate
from convrec.nn.checks import channels, parameter_dtype
from convrec.nn.export_ops import exported_layer
from convrec.nn.padded import Padded, reverse_sequences, unwrap, wrap

BACKENDS = ("auto", "fused", "reference")
State = Tensor | tuple[Tensor, ...]
# (x_t, recurrent state entering the step, state after the step)
StepRecord = Callable[[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]], None]
# (cell_index = layer * D + direction, x_t, recurrent state entering the step, state after it)
StepHook = Callable[[int, Tensor, tuple[Tensor, ...], tuple[Tensor, ...]], None]


class Recurrent(nn.Module):
    """Stacked, optionally bidirectional layers of any recurrent cell over padded batches.

    Args:
        cell: a :class:`convrec.nn.RecurrentCell` subclass (or a function building one), or the
            name of a registered cell (``'lstm'``, ``'gru'``, ``'rnn'``, ``'peephole_lstm'``,
            ``'layer_norm_lstm'``, and plugins' cells); built as
            ``cell(input_size_of_the_layer, hidden_size, **cell_options)`` once per layer and
            direction.
        input_size: features ``I``.
        hidden_size: units ``H`` per direction.
        num_layers: stacked layers; layer ``l + 1`` reads layer ``l``'s outputs.
        dropout: dropout on the outputs of every layer but the last.
        recurrent_dropout: dropout on the output state ``h_{t-1}`` where it enters the step, one
            mask per sequence, the same at every step (Gal & Ghahramani 2016).
        bidirectional: add a reverse direction; outputs are concatenated ``[forward; reverse]``.
        return_sequences: True for all steps (many-to-many), False for one vector per sequence
            (many-to-one).
        return_state: also return the final state.
        backend: ``'auto'``, ``'fused'`` or ``'reference'`` (see the module docstring).
        **cell_options: passed to every cell (``bias``, ``init``, ``reset_after``, ...).

    Shape:
        input: ``(B, T, I)`` or a :class:`Padded`; output ``(B, T, D * S)`` or ``(B, D * S)``,
        ``S`` the size of the cell's output (state part 0), ``D`` = 2 if bidirectional.

    Example:
        >>> layer = Recurrent("peephole_lstm", 3, 4, num_layers=2, bidirectional=True)
        >>> layer(Padded(torch.randn(2, 7, 3), [7, 4])).data.shape
        torch.Size([2, 7, 8])
    """

    def __init__(
        self,
        cell: str | Callable[..., RecurrentCell],
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        bidirectional: bool = False,
        return_sequences: bool = True,
        return_state: bool = False,
        backend: str = "auto",
        **cell_options: object,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = positive_int(owner, "input_size", input_size)
        self.hidden_size = positive_int(owner, "hidden_size", hidden_size)
        self.num_layers = positive_int(owner, "num_layers", num_layers)
        self.dropout = probability(owner, "dropout", dropout)
        self.recurrent_dropout = probability(owner, "recurrent_dropout", recurrent_dropout)
        for name, flag in (
            ("bidirectional", bidirectional),
            ("return_sequences", return_sequences),
            ("return_state", return_state),
        ):
            if not isinstance(flag, bool):
                raise fail(owner, name, "True or False", repr(flag), error=InvalidTypeError)
        self.bidirectional = bidirectional
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.num_directions = 2 if bidirectional else 1
        build = find_cell(cell) if isinstance(cell, str) else cell
        if not callable(build):
            raise fail(
                owner,
                "cell",
                "a RecurrentCell subclass, a function building one, or a registered name",
                describe(cell),
                error=InvalidTypeError,
            )
        cells = []
        for layer in range(num_layers):
            for _ in range(self.num_directions):
                size = (
                    input_size if layer == 0 else self.num_directions * self._output_size(cells[0])
                )
                cells.append(build(size, hidden_size, **cell_options))
                if not isinstance(cells[-1], RecurrentCell):
                    raise fail(
                        owner,
                        "cell",
                        "a RecurrentCell subclass, a function building one, or a registered name",
                        f"{describe(cell)}, which built {describe(cells[-1])}",
                        error=InvalidTypeError,
                    )
        self.cells = nn.ModuleList(cells)
        self.backend = one_of(owner, "backend", backend, BACKENDS)
        if backend == "fused" and self.cells[0].fused_scan is None:
            raise fail(
                owner,
                "backend",
                "'auto' or 'reference'",
                "'fused'",
                hint=f"{type(self.cells[0]).__name__} has no fused_scan.",
            )
        self._step_hooks: OrderedDict[int, StepHook] = OrderedDict()

    @staticmethod
    def _output_size(cell: RecurrentCell) -> int:
        return cell.state_sizes()[0]

    @property
    def output_size(self) -> int:
        """Features per step of the output: ``D * S``."""
        return self.num_directions * self._output_size(self.cells[0])

    @property
    def cell_name(self) -> str:
        """The cell's class name without a ``Cell`` suffix (``'LSTM'``)."""
        return type(self.cells[0]).__name__.removesuffix("Cell")

    def register_step_hook(self, hook: StepHook) -> RemovableHandle:
        """Call ``hook(cell_index, x_t, recurrent_state, state)`` after every step of every cell
        (``cell_index = layer * D + direction``; ``recurrent_state`` is the state entering the
        step after recurrent dropout). While a hook is registered the layer runs the reference
        loop. Returns a handle whose ``remove()`` takes the hook away."""
        handle = RemovableHandle(self._step_hooks)
        self._step_hooks[handle.id] = hook
        return handle

    def forward(self, x: Tensor | Padded, state: State | None = None) -> Tensor | Padded | tuple:
        """Run the layer.

        Args:
            x: ``(B, T, I)`` or a :class:`Padded` of it.
            state: initial state, ``(num_layers * D, B, S)``, or a tuple of such parts in the
                order of the cell's ``state_names`` (``(h_0, c_0)`` for an LSTM); None for
                zeros.

        Returns:
            ``(B, T, D * S)`` (a ``Padded`` for a ``Padded`` input) with
            ``return_sequences=True``, else ``(B, D * S)``: each direction's output at the end of
            its pass (the forward one at each sequence's last valid step). With
            ``return_state=True``, a pair ``(output, final_state)`` with the final state shaped
            like ``state``, taken at each sequence's true length.
        """
        data, lengths, _ = unwrap(type(self).__name__, x, 3, "(B, T, C)", (1,))
        outputs, final_state = self._run(data, lengths, state, self.return_state)
        directions = self.num_directions
        if self.return_sequences:
            output = wrap(outputs, lengths)
        else:
            output = torch.cat(list(final_state[0][-directions:]), dim=-1)
        if not self.return_state:
            return output
        return output, (final_state if len(final_state) > 1 else final_state[0])

    def advance(self, x: Tensor, state: State | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Every step's output and the final state, whatever ``return_sequences`` and
        ``return_state`` say: a chunk of a stream, continued from ``state``.

        Shape:
            x: ``(B, T, I)``; state: as :meth:`forward`'s, or None for zeros; returns the
            outputs ``(B, T, D * S)`` and the final state parts ``(num_layers * D, B, S_k)``.
        """
        data, _, _ = unwrap(type(self).__name__, x, 3, "(B, T, C)", (1,))
        return self._run(data, None, state, True)

    def _run(
        self, data: Tensor, lengths: Tensor | None, state: State | None, need_state: bool
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Every layer over ``data (B, T, I)``: the last layer's outputs ``(B, T, D * S)`` and
        the final state parts."""
        owner = type(self).__name__
        channels(owner, data, -1, self.input_size, "(B, T, C)")
        first = next(self.cells[0].parameters(), None)
        if first is not None:
            parameter_dtype(owner, data, first)
        initial = self._initial_state(state, data)
        fused = not self._step_hooks and (
            self.backend == "fused"
            or (self.backend == "auto" and self.cells[0].fused_scan is not None)
        )
        directions = self.num_directions
        layer_input, final_states = data, []
        for layer in range(self.num_layers):
            span = slice(layer * directions, (layer + 1) * directions)
            start = tuple(part[span] for part in initial)
            output, final = self._run_layer(layer, layer_input, lengths, start, fused, need_state)
            final_states.append(final)
            layer_input = output
            if layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, self.training)
        final_state = tuple(torch.cat(parts) for parts in zip(*final_states, strict=True))
        return layer_input, final_state

    def _initial_state(self, state: State | None, data: Tensor) -> tuple[Tensor, ...]:
        owner = type(self).__name__
        cell = self.cells[0]
        rows, batch = self.num_layers * self.num_directions, data.shape[0]
        shapes = [(rows, batch, size) for size in cell.state_sizes()]
        if state is None:
            return tuple(data.new_zeros(shape) for shape in shapes)
        given = state if isinstance(state, tuple | list) else (state,)
        names = ", ".join(cell.state_names)
        expected = (
            f"a tensor of shape {shapes[0]}"
            if len(shapes) == 1
            else f"a tuple ({names}) of tensors of shapes {', '.join(map(str, shapes))}"
        )
        if len(given) != len(shapes) or not all(isinstance(part, Tensor) for part in given):
            raise fail(owner, "state", expected, describe(state), error=InvalidTypeError)
        for part, shape in zip(given, shapes, strict=True):
            if part.shape != shape or part.dtype != data.dtype:
                raise fail(owner, "state", f"{expected} and dtype {data.dtype}", describe(part))
        return tuple(given)

    def _run_layer(
        self,
        layer: int,
        x: Tensor,
        lengths: Tensor | None,
        start: tuple[Tensor, ...],
        fused: bool,
        need_state: bool,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """One layer, every direction: ``(B, T, I) -> (B, T, D * S)`` and the final state parts
        ``(D, B, S_k)``."""
        directions = self.num_directions
        cells = list(self.cells[layer * directions : (layer + 1) * directions])
        if torch.compiler.is_exporting():
            return exported_layer(type(self).__name__, cells, x, lengths, start)
        inputs = [x] + ([reverse_sequences(x, lengths)] if directions == 2 else [])
        keep = None
        if self.training and self.recurrent_dropout > 0:
            ones = x.new_ones(directions, x.shape[0], self._output_size(cells[0]))
            keep = F.dropout(ones, self.recurrent_dropout)
        if fused:
            stacked = inputs[0].unsqueeze(0) if directions == 1 else torch.stack(inputs)
            outputs, final = cells[0].fused_scan(cells, stacked, lengths, start, keep, need_state)
            outputs = list(outputs.unbind(0))
        else:
            outputs, finals = [], []
            for direction, cell in enumerate(cells):
                record = self._recorder(layer * directions + direction)
                output, final = scan_reference(
                    cell.step,
                    inputs[direction],
                    lengths,
                    tuple(part[direction] for part in start),
                    None if keep is None else keep[direction],
                    record,
                )
                outputs.append(output)
                finals.append(final)
            final = tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
        if directions == 2:
            outputs[1] = reverse_sequences(outputs[1], lengths)
        return torch.cat(outputs, dim=-1) if directions == 2 else outputs[0], final

    def _recorder(self, index: int) -> StepRecord | None:
        if not self._step_hooks:
            return None

        def record(x: Tensor, recurrent: tuple[Tensor, ...], state: tuple[Tensor, ...]) -> None:
            for hook in list(self._step_hooks.values()):
                hook(index, x, recurrent, state)

        return record

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bidirectional={self.bidirectional}, dropout={self.dropout}, "
            f"recurrent_dropout={self.recurrent_dropout}, "
            f"return_sequences={self.return_sequences}, return_state={self.return_state}, "
            f"backend={self.backend!r}"
        )


def scan_reference(
    step: Callable[[Tensor, tuple[Tensor, ...]], tuple[Tensor, ...]],
    x: Tensor,
    lengths: Tensor | None,
    start: tuple[Tensor, ...],
    keep: Tensor | None = None,
    record: StepRecord | None = None,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Unroll a cell over time (backpropagation through time differentiates this loop).

    Args:
        step: one time step ``(x_t, state) -> state``; ``state[0]`` is the hidden state ``h``.
        x: ``(B, T, I)``.
        lengths: ``(B,)`` or None; a sequence's state stops changing at its length.
        start: the initial state, each part ``(B, H)``.
        keep: ``(B, H)`` recurrent-dropout mask (scaled), applied to ``h_{t-1}`` where it enters
            the gates, the same at every step (Gal and Ghahramani 2016); None for no dropout.
        record: called after each step with ``(x_t, recurrent state entering it, new state)``.

    Returns:
        The hidden states ``(B, T, H)`` and the final state at each length.
    """
    state, outputs = start, []
    for t in range(x.shape[1]):
        recurrent = state if keep is None else (state[0] * keep, *state[1:])
        updated = step(x[:, t], recurrent)
        if lengths is not None:
            running = (t < lengths).unsqueeze(-1)
            updated = tuple(
                torch.where(running, new, old) for new, old in zip(updated, state, strict=True)
            )
        if record is not None:
            record(x[:, t], recurrent, updated)
        state = updated
        outputs.append(state[0])
    return torch.stack(outputs, dim=1), state


class _Preset(Recurrent):
    """A :class:`Recurrent` of one of PyTorch's cells, with ``torch.nn``'s argument order and
    weights exchanged with ``torch.nn`` (:meth:`from_torch`)."""

    cell_class: type[RecurrentCell]
    torch_class: type[nn.RNNBase]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        bidirectional: bool = False,
        return_sequences: bool = True,
        return_state: bool = False,
        backend: str = "auto",
        init: str = "torch",
        **cell_options: object,
    ) -> None:
        super().__init__(
            self.cell_class,
            input_size,
            hidden_size,
            num_layers,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            bidirectional=bidirectional,
            return_sequences=return_sequences,
            return_state=return_state,
            backend=backend,
            bias=bias,
            init=init,
            **cell_options,
        )

    @classmethod
    def from_torch(cls, module: nn.RNNBase, **options: object) -> _Preset:
        """Build a layer holding a copy of a ``torch.nn`` recurrent module's weights.

        Args:
            module: a ``torch.nn.RNN``, ``LSTM`` or ``GRU`` of the matching kind (no projections).
            **options: further keyword arguments of the layer (``return_sequences``, ...).
        """
        if not isinstance(module, cls.torch_class) or getattr(module, "proj_size", 0):
            raise fail(
                f"{cls.__name__}.from_torch",
                "module",
                f"a torch.nn.{cls.torch_class.__name__} without projections",
                type(module).__name__,
                error=InvalidTypeError,
            )
        layer = cls(
            module.input_size,
            module.hidden_size,
            module.num_layers,
            module.bias,
            module.dropout,
            bidirectional=module.bidirectional,
            **cls._options_from_torch(module),
            **options,
        ).to(module.weight_ih_l0)  # the source's dtype and device
        with torch.no_grad():
            for index, cell in enumerate(layer.cells):
                layer_index, direction = divmod(index, layer.num_directions)
                suffix = f"_l{layer_index}{'_reverse' if direction else ''}"
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    source = getattr(module, f"{name}{suffix}", None)
                    if source is not None:
                        getattr(cell, name).copy_(layer._weight_from_torch(source))
        return layer

    @staticmethod
    def _options_from_torch(module: nn.RNNBase) -> dict[str, object]:
        return {}

    @staticmethod
    def _weight_from_torch(weight: Tensor) -> Tensor:
        return weight


class RNN(_Preset):
    """Stacked, optionally bidirectional vanilla RNN, ``h_t = phi(W_x x_t + W_h h_{t-1} + b)``.

    Args:
        input_size: features ``I``.
        hidden_size: units ``H`` per direction.
        num_layers: stacked layers; layer ``l + 1`` reads layer ``l``'s outputs.
        bias: learn biases.
        nonlinearity: ``'tanh'`` or ``'relu'``.
        dropout: dropout on the outputs of every layer but the last.
        recurrent_dropout: dropout on ``h_{t-1}`` where it enters the recurrence, one mask per
            sequence.
        bidirectional: add a reverse direction; outputs are concatenated ``[forward; reverse]``.
        return_sequences: True for all steps (many-to-many), False for one vector per sequence
            (many-to-one).
        return_state: also return the final state.
        backend: ``'auto'``, ``'fused'`` or ``'reference'``.
        init: ``'torch'`` or ``'keras'``.

    Shape:
        input: ``(B, T, I)`` or a :class:`Padded`; output ``(B, T, D * H)`` or ``(B, D * H)``.

    Example:
        >>> RNN(3, 4, bidirectional=True)(torch.randn(2, 7, 3)).shape
        torch.Size([2, 7, 8])
    """

    cell_class = RNNCell
    torch_class = nn.RNN

    @staticmethod
    def _options_from_torch(module: nn.RNNBase) -> dict[str, object]:
        return {"nonlinearity": module.nonlinearity}


class LSTM(_Preset):
    """Stacked, optionally bidirectional LSTM (equations in :func:`convrec.nn.cells.lstm_cell`).

    Arguments as :class:`RNN`, without ``nonlinearity``; ``init='keras'`` also sets the forget-gate
    bias to 1. The final state is a pair ``(h_n, c_n)``.

    Shape:
        input: ``(B, T, I)`` or a :class:`Padded`; output ``(B, T, D * H)`` or ``(B, D * H)``.

    Example:
        >>> lstm = LSTM(3, 4, return_sequences=False)
        >>> lstm(Padded(torch.randn(2, 7, 3), [7, 4])).shape
        torch.Size([2, 4])
    """

    cell_class = LSTMCell
    torch_class = nn.LSTM


class GRU(_Preset):
    """Stacked, optionally bidirectional GRU (equations in :func:`convrec.nn.cells.gru_cell`).

    Arguments as :class:`RNN`, without ``nonlinearity``, plus ``reset_after``: False (default)
    applies the reset gate before the recurrent matmul as the notes do (convrec's fused scan);
    True applies it after, as cuDNN does (PyTorch's fused kernels).

    Shape:
        input: ``(B, T, I)`` or a :class:`Padded`; output ``(B, T, D * H)`` or ``(B, D * H)``.

    Example:
        >>> GRU(3, 4, reset_after=True)(torch.randn(2, 7, 3)).shape
        torch.Size([2, 7, 4])
    """

    cell_class = GRUCell
    torch_class = nn.GRU

    @staticmethod
    def _options_from_torch(module: nn.RNNBase) -> dict[str, object]:
        return {"reset_after": True}

    @staticmethod
    def _weight_from_torch(weight: Tensor) -> Tensor:
        return flip_update_gate(weight)
