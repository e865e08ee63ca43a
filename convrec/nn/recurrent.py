"""Stacked and bidirectional recurrent layers over padded batches: :class:`RNN`, :class:`LSTM`,
:class:`GRU`.

With a :class:`Padded` input every sequence runs to its true length: the forward direction stops
at its last valid step, and the reverse direction starts there (each sequence is reversed within
its length, run forward, and reversed back), so neither direction ever reads padding.

Two backends compute the same numbers:

- ``'reference'``: a Python loop over time calling the cells of :mod:`convrec.nn.cells`; final
  states are frozen once ``t`` reaches a sequence's length.
- ``'native'``: PyTorch's fused recurrent kernels (``torch.lstm``, ``torch.gru``,
  ``torch.rnn_tanh``, ``torch.rnn_relu``; cuDNN on GPU), one call per layer and direction over the
  padded batch, with the layer's own weights. Outputs before each length are exact because padding
  only follows them; final hidden states are read at each last valid step. An LSTM asked for its
  final cell state on a batch of mixed lengths runs in chunks of time that end at each distinct
  length (see ``_run_to_each_length``). Nothing is packed.

``backend='auto'`` picks ``'native'`` unless the cell needs the loop: the notes' GRU
(``reset_after=False``) and recurrent dropout have no fused kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.checks import describe, fail, one_of, positive_int, probability
from convrec.errors import InvalidTypeError
from convrec.nn.cells import (
    GRUCell,
    LSTMCell,
    RNNCell,
    flip_update_gate,
    gru_cell,
    lstm_cell,
    rnn_cell,
)
from convrec.nn.checks import channels, parameter_dtype
from convrec.nn.init import RECURRENT_SCHEMES
from convrec.nn.padded import Padded, last_valid, reverse_sequences, unwrap, wrap

BACKENDS = ("auto", "native", "reference")
State = Tensor | tuple[Tensor, Tensor]
# (x_t, recurrent state entering the step, state after the step)
StepRecord = Callable[[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]], None]


class _Recurrent(nn.Module):
    """Shared machinery. Subclasses set ``cell_class`` and define ``_step(cell)``, the cell
    equation as a function ``(x_t, state) -> state``, and ``_native_kernel(cell)``, the fused op.

    ``recorder``, when set to a function ``(cell_index, x_t, previous_state, state)``, forces the
    reference backend and sees every step of every cell (``cell_index = layer * D + direction``);
    the diagnostics of :mod:`convrec.diagnose.gradient_flow` use it.
    """

    cell_class: type[nn.Module]
    has_cell_state = False

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
        super().__init__()
        owner = type(self).__name__
        self.input_size = positive_int(owner, "input_size", input_size)
        self.hidden_size = positive_int(owner, "hidden_size", hidden_size)
        self.num_layers = positive_int(owner, "num_layers", num_layers)
        self.dropout = probability(owner, "dropout", dropout)
        self.recurrent_dropout = probability(owner, "recurrent_dropout", recurrent_dropout)
        for name, flag in (
            ("bias", bias),
            ("bidirectional", bidirectional),
            ("return_sequences", return_sequences),
            ("return_state", return_state),
        ):
            if not isinstance(flag, bool):
                raise fail(owner, name, "True or False", repr(flag), error=InvalidTypeError)
        self.bidirectional = bidirectional
        self.return_sequences = return_sequences
        self.return_state = return_state
        one_of(owner, "init", init, RECURRENT_SCHEMES)
        self.num_directions = 2 if bidirectional else 1
        self.cells = nn.ModuleList(
            self.cell_class(
                input_size if layer == 0 else hidden_size * self.num_directions,
                hidden_size,
                bias,
                init=init,
                **cell_options,
            )
            for layer in range(num_layers)
            for _ in range(self.num_directions)
        )
        self.backend = one_of(owner, "backend", backend, BACKENDS)
        self.recorder: Callable[..., None] | None = None
        reason = self._why_not_native(training=True)
        if backend == "native" and reason:
            raise fail(owner, "backend", "'auto' or 'reference'", "'native'", hint=f"{reason}.")

    def _why_not_native(self, training: bool) -> str:
        """Why the fused kernel cannot compute this layer, or '' if it can."""
        if training and self.recurrent_dropout > 0:
            return "Recurrent dropout has no fused kernel"
        return ""

    def forward(self, x: Tensor | Padded, state: State | None = None) -> Tensor | Padded | tuple:
        """Run the layer.

        Args:
            x: ``(B, T, I)`` or a :class:`Padded` of it.
            state: initial state, ``(num_layers * D, B, H)`` (``D`` = 2 if bidirectional), or a
                pair ``(h_0, c_0)`` of those for an LSTM; None for zeros.

        Returns:
            ``(B, T, D * H)`` (a ``Padded`` for a ``Padded`` input) with
            ``return_sequences=True``, else ``(B, D * H)``: each direction's output at the end of
            its pass (the forward one at each sequence's last valid step). With
            ``return_state=True``, a pair ``(output, final_state)`` with the final state shaped
            like ``state``, taken at each sequence's true length.
        """
        owner = type(self).__name__
        data, lengths, _ = unwrap(owner, x, 3, "(B, T, C)", (1,))
        channels(owner, data, -1, self.input_size, "(B, T, C)")
        parameter_dtype(owner, data, self.cells[0].weight_ih)
        initial = self._initial_state(state, data)
        native = self.recorder is None and (
            self.backend == "native"
            or (self.backend == "auto" and not self._why_not_native(self.training))
        )
        layer_input, final_states = data, []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                start = tuple(part[index] for part in initial)
                output, final = self._run_direction(
                    index, layer_input, lengths, start, direction == 1, native
                )
                outputs.append(output)
                final_states.append(final)
            layer_input = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
            if layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, self.training)
        final_state = tuple(torch.stack(part) for part in zip(*final_states, strict=True))
        if self.return_sequences:
            output = wrap(layer_input, lengths)
        else:
            output = torch.cat(list(final_state[0][-self.num_directions :]), dim=-1)
        if not self.return_state:
            return output
        return output, (final_state if self.has_cell_state else final_state[0])

    def _initial_state(self, state: State | None, data: Tensor) -> tuple[Tensor, ...]:
        owner = type(self).__name__
        shape = (self.num_layers * self.num_directions, data.shape[0], self.hidden_size)
        parts = 2 if self.has_cell_state else 1
        if state is None:
            return tuple(data.new_zeros(shape) for _ in range(parts))
        given = state if isinstance(state, tuple | list) else (state,)
        expected = (
            f"{'a pair (h_0, c_0) of tensors' if parts == 2 else 'a tensor'} of shape {shape}"
        )
        if len(given) != parts or not all(isinstance(part, Tensor) for part in given):
            raise fail(owner, "state", expected, describe(state), error=InvalidTypeError)
        for part in given:
            if part.shape != shape or part.dtype != data.dtype:
                raise fail(owner, "state", f"{expected} and dtype {data.dtype}", describe(part))
        return tuple(given)

    def _run_direction(
        self,
        index: int,
        x: Tensor,
        lengths: Tensor | None,
        start: tuple[Tensor, ...],
        reverse: bool,
        native: bool,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """One layer in one direction: ``(B, T, I) -> (B, T, H)`` and the final state."""
        if reverse:
            x = reverse_sequences(x, lengths)
        cell = self.cells[index]
        if native:
            output, final = self._scan_native(cell, x, lengths, start)
        else:
            keep = None
            if self.training and self.recurrent_dropout > 0:
                keep = F.dropout(x.new_ones(x.shape[0], self.hidden_size), self.recurrent_dropout)
            record = None if self.recorder is None else partial(self.recorder, index)
            output, final = scan_reference(self._step(cell), x, lengths, start, keep, record)
        if reverse:
            output = reverse_sequences(output, lengths)
        return output, final

    def _scan_native(
        self, cell: nn.Module, x: Tensor, lengths: Tensor | None, start: tuple[Tensor, ...]
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        weights = self._native_weights(cell)
        has_bias = cell.bias_ih is not None
        train = torch.is_grad_enabled()
        kernel = self._native_kernel(cell)

        def run(chunk: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
            hidden = tuple(part.unsqueeze(0) for part in state)
            output, *final = kernel(
                chunk, _hx(hidden), weights, has_bias, 1, 0.0, train, False, True
            )
            return output, tuple(part[0] for part in final)

        if lengths is None:
            return run(x, start)
        if self.has_cell_state and self.return_state:
            return _run_to_each_length(run, x, lengths, start)
        output, _ = run(x, start)
        return output, (last_valid(output, lengths),)

    def _native_weights(self, cell: nn.Module) -> list[Tensor]:
        return [weight for weight in cell.weights() if weight is not None]

    @classmethod
    def from_torch(cls, module: nn.RNNBase, **options: object) -> _Recurrent:
        """Build a layer holding a copy of a ``torch.nn`` recurrent module's weights.

        Args:
            module: a ``torch.nn.RNN``, ``LSTM`` or ``GRU`` of the matching kind (no projections).
            **options: further keyword arguments of the layer (``return_sequences``, ...).
        """
        torch_class = {LSTM: nn.LSTM, GRU: nn.GRU, RNN: nn.RNN}[cls]
        if not isinstance(module, torch_class) or getattr(module, "proj_size", 0):
            raise fail(
                f"{cls.__name__}.from_torch",
                "module",
                f"a torch.nn.{torch_class.__name__} without projections",
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

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"bidirectional={self.bidirectional}, dropout={self.dropout}, "
            f"recurrent_dropout={self.recurrent_dropout}, "
            f"return_sequences={self.return_sequences}, return_state={self.return_state}, "
            f"backend={self.backend!r}"
        )


def _hx(hidden: tuple[Tensor, ...]) -> Tensor | tuple[Tensor, ...]:
    """The fused kernels take an LSTM's state as a pair and the others' as one tensor."""
    return hidden if len(hidden) == 2 else hidden[0]


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


class RNN(_Recurrent):
    """Stacked, optionally bidirectional vanilla RNN, ``h_t = phi(W_x x_t + W_h h_{t-1} + b)``.

    Args:
        input_size: features ``I``.
        hidden_size: units ``H`` per direction.
        num_layers: stacked layers; layer ``l + 1`` reads layer ``l``'s outputs.
        bias: learn biases.
        nonlinearity: ``'tanh'`` or ``'relu'``.
        dropout: dropout on the outputs of every layer but the last.
        recurrent_dropout: dropout on ``h_{t-1}`` where it enters the recurrence, one mask per
            sequence (reference backend only).
        bidirectional: add a reverse direction; outputs are concatenated ``[forward; reverse]``.
        return_sequences: True for all steps (many-to-many), False for one vector per sequence
            (many-to-one).
        return_state: also return the final state.
        backend: ``'auto'``, ``'native'`` or ``'reference'``.
        init: ``'torch'`` or ``'keras'``.

    Shape:
        input: ``(B, T, I)`` or a :class:`Padded`; output ``(B, T, D * H)`` or ``(B, D * H)``.

    Example:
        >>> RNN(3, 4, bidirectional=True)(torch.randn(2, 7, 3)).shape
        torch.Size([2, 7, 8])
    """

    cell_class = RNNCell

    def _step(self, cell: nn.Module) -> Callable:
        def step(x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            return (rnn_cell(x, state[0], *cell.weights(), cell.nonlinearity),)

        return step

    def _native_kernel(self, cell: nn.Module) -> Callable:
        return torch.rnn_tanh if cell.nonlinearity == "tanh" else torch.rnn_relu

    @staticmethod
    def _options_from_torch(module: nn.RNNBase) -> dict[str, object]:
        return {"nonlinearity": module.nonlinearity}


class LSTM(_Recurrent):
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
    has_cell_state = True

    def _step(self, cell: nn.Module) -> Callable:
        def step(x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            return lstm_cell(x, (state[0], state[1]), *cell.weights())

        return step

    def _native_kernel(self, cell: nn.Module) -> Callable:
        return torch.lstm


class GRU(_Recurrent):
    """Stacked, optionally bidirectional GRU (equations in :func:`convrec.nn.cells.gru_cell`).

    Arguments as :class:`RNN`, without ``nonlinearity``, plus ``reset_after``: False (default)
    applies the reset gate before the recurrent matmul as the notes do, and runs on the reference
    backend; True applies it after, as cuDNN does, and runs on the fused kernels.

    Shape:
        input: ``(B, T, I)`` or a :class:`Padded`; output ``(B, T, D * H)`` or ``(B, D * H)``.

    Example:
        >>> GRU(3, 4, reset_after=True)(torch.randn(2, 7, 3)).shape
        torch.Size([2, 7, 4])
    """

    cell_class = GRUCell

    def _why_not_native(self, training: bool) -> str:
        if not self.cells[0].reset_after:
            return "The notes' GRU (reset_after=False) has no fused kernel; use reset_after=True"
        return super()._why_not_native(training)

    def _step(self, cell: nn.Module) -> Callable:
        def step(x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            return (gru_cell(x, state[0], *cell.weights(), cell.reset_after),)

        return step

    def _native_weights(self, cell: nn.Module) -> list[Tensor]:
        return [flip_update_gate(weight) for weight in super()._native_weights(cell)]

    def _native_kernel(self, cell: nn.Module) -> Callable:
        return torch.gru

    @staticmethod
    def _options_from_torch(module: nn.RNNBase) -> dict[str, object]:
        return {"reset_after": True}

    @staticmethod
    def _weight_from_torch(weight: Tensor) -> Tensor:
        return flip_update_gate(weight)
