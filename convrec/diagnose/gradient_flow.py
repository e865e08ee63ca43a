"""Gradient flow through time in every recurrent layer, as the notes analyse backpropagation
through time.

The gradient reaching an early hidden state is a product of step Jacobians,

    dL/dh_t = dL/dh_T * dh_T/dh_{T-1} * ... * dh_{t+1}/dh_t

whose norm shrinks (vanishing) or grows (exploding) geometrically with ``T - t`` unless the cell
keeps it near 1: the LSTM's additive cell state and the GRU's update gate. For each recurrent layer
and direction, on one batch, :func:`gradient_flow` measures, per lag ``k`` (steps before the last
valid step ``T`` of each sequence, in the direction's own order):

- ``loss_gradient[k]``: the mean over sequences of ``||dL/dh_t||_2``;
- ``jacobian[k]``: the mean of ``||dh_T/dh_t||_F`` (the Jacobian product; ``sqrt(H)`` at lag 0),
  through every path from ``h_t`` to ``h_T`` (for an LSTM, with ``C_t`` held fixed);
- ``saturation[gate][k]``: the share of a gate's units within ``tolerance`` of their limits
  (a sigmoid near 0 or 1, a tanh near -1 or 1), where their derivative, and the gradient, vanish;

and per gate the largest singular value of its block of ``weight_hh``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from convrec.checks import brief, fail
from convrec.errors import InvalidTypeError, InvalidValueError
from convrec.nn.padded import Padded
from convrec.nn.recurrent import Recurrent
from convrec.run_files import read_json

Step = tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]


@dataclass(frozen=True)
class RecurrentFlow:
    """The gradient flow through one layer and direction of a recurrent module.

    Attributes:
        module: the recurrent module's qualified name in the model (``'encoder'``).
        cell: the cell's name (``'RNN'``, ``'LSTM'``, ``'GRU'``, ``'PeepholeLSTM'``, ...).
        layer: the stacked layer, from 0.
        direction: ``'forward'`` or ``'reverse'``.
        loss_gradient: ``||dL/dh_t||`` per lag (index 0 is the last valid step).
        jacobian: ``||dh_T/dh_t||_F`` per lag.
        saturation: per gate (``'forget (sigmoid)'``, ...), the saturated share per lag.
        recurrent_norm: per gate, the largest singular value of its recurrent weights.
        sequences: per lag, how many sequences are long enough to have it, the number each
            mean above is taken over (empty in files written before it was recorded).
    """

    module: str
    cell: str
    layer: int
    direction: str
    loss_gradient: list[float]
    jacobian: list[float]
    saturation: dict[str, list[float]]
    recurrent_norm: dict[str, float]
    sequences: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.module or 'model'} {self.cell} layer {self.layer} {self.direction}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_flows(path: Path) -> list[RecurrentFlow]:
    """The flows of a run's ``gradient_flow.json``, each checked to have the fields and types of
    :class:`RecurrentFlow` (a run directory is untrusted input).

    Raises:
        InvalidValueError: the file is not such a list; the message names what is wrong.
    """
    value = read_json(path)
    if not isinstance(value, list):
        raise InvalidValueError(f"{path}: expected a list of flows, got {type(value).__name__}")
    flows = []
    for index, item in enumerate(value):
        try:
            flow = RecurrentFlow(**item)
            numbers = [*flow.loss_gradient, *flow.jacobian, *flow.recurrent_norm.values()]
            numbers += [share for shares in flow.saturation.values() for share in shares]
            if not all(isinstance(number, int | float) for number in numbers) or not all(
                isinstance(text, str) for text in (flow.module, flow.cell, flow.direction)
            ):
                raise TypeError("a field of the wrong type")
            flows.append(flow)
        except (TypeError, AttributeError) as error:
            raise InvalidValueError(
                f"{path}: flow {index} is not a gradient flow ({brief(error)})"
            ) from None
    return flows


def recurrent_modules(model: nn.Module) -> list[tuple[str, Recurrent]]:
    """convrec's recurrent layers in ``model``, with their qualified names."""
    return [
        (name, module) for name, module in model.named_modules() if isinstance(module, Recurrent)
    ]


def gradient_flow(
    model: nn.Module,
    inputs: Tensor | Padded,
    targets: Any,
    loss_function: Callable[[Any, Any], Tensor],
    probes: int = 16,
    tolerance: float = 0.05,
) -> list[RecurrentFlow]:
    """Measure the gradient flow through time of every recurrent layer of ``model`` on one batch.

    The model runs in eval mode (no dropout) with a step hook on every recurrent layer
    (:meth:`convrec.nn.Recurrent.register_step_hook`), which runs the reference loop and keeps
    every ``h_t``, for any cell; its mode is restored afterwards and no parameter gradient is
    left behind. Parameters frozen for training (``requires_grad=False``, a frozen backbone)
    take part in the measurement, since ``dh_T/dh_t`` depends on the weights, not on whether
    they train, and are frozen again afterwards.
    ``||dh_T/dh_t||_F`` is computed from ``min(probes, H)`` backward passes along orthonormal
    directions of ``h_T``: exactly when ``probes >= H``, otherwise an unbiased estimate of its
    square.

    Args:
        model: a model containing :class:`convrec.nn.Recurrent` layers (``RNN``, ``LSTM``,
            ``GRU`` or any cell); the saturation of a cell's gates is measured where the cell
            defines ``gate_values``, the recurrent norms where it defines
            ``recurrent_weights``.
        inputs: a batch, e.g. ``(B, T, C)`` or a :class:`Padded`.
        targets: what ``loss_function`` compares the model's output with.
        loss_function: ``(output, targets) -> scalar loss``.
        probes: backward passes per layer and direction for the Jacobian norm.
        tolerance: a sigmoid below ``tolerance`` or above ``1 - tolerance``, or a tanh beyond
            ``1 - tolerance`` in magnitude, counts as saturated.

    Returns:
        One :class:`RecurrentFlow` per layer and direction, in the model's order; a layer the
        model does not call (an attention decoder steps its layer's cell itself) has none.
    """
    layers = recurrent_modules(model)
    if not layers:
        raise fail(
            "gradient_flow",
            "model",
            "a model with convrec recurrent layers (convrec.nn.Recurrent, RNN, LSTM or GRU)",
            f"a {type(model).__name__} without any",
        )
    if not (isinstance(probes, int) and probes > 0):
        raise fail(
            "gradient_flow", "probes", "a positive int", repr(probes), error=InvalidTypeError
        )
    if not 0 < tolerance < 0.5:
        raise fail("gradient_flow", "tolerance", "a number in (0, 0.5)", repr(tolerance))
    steps: dict[tuple[str, int], list[Step]] = defaultdict(list)
    lengths: dict[str, Tensor | None] = {}
    was_training = model.training
    model.eval()
    frozen = [parameter for parameter in model.parameters() if not parameter.requires_grad]
    for parameter in frozen:
        parameter.requires_grad_(True)
    handles = []
    for name, module in layers:
        handles.append(module.register_step_hook(_recorder(steps, name)))
        handles.append(module.register_forward_pre_hook(_length_keeper(lengths, name)))
    try:
        with torch.enable_grad():
            loss = loss_function(model(inputs), targets)
            flows = [
                _measure(
                    name, module, index, steps[name, index], lengths[name], loss, probes, tolerance
                )
                for name, module in layers
                if name in lengths  # a layer whose cell the model steps by itself never runs
                for index in range(len(module.cells))
            ]
    finally:
        for handle in handles:
            handle.remove()
        for parameter in frozen:
            parameter.requires_grad_(False)
        model.train(was_training)
    return flows


def _recorder(steps: dict[tuple[str, int], list[Step]], name: str) -> Callable[..., None]:
    def record(
        index: int, x: Tensor, previous: tuple[Tensor, ...], state: tuple[Tensor, ...]
    ) -> None:
        steps[name, index].append((x, previous, state))

    return record


def _length_keeper(lengths: dict[str, Tensor | None], name: str) -> Callable[..., None]:
    def keep(module: nn.Module, arguments: tuple) -> None:
        given = arguments[0]
        lengths[name] = given.lengths if isinstance(given, Padded) else None

    return keep


def _measure(
    name: str,
    module: Recurrent,
    index: int,
    steps: list[Step],
    lengths: Tensor | None,
    loss: Tensor,
    probes: int,
    tolerance: float,
) -> RecurrentFlow:
    cell = module.cells[index]
    hidden = [state[0] for _, _, state in steps]
    if not hidden[-1].requires_grad:
        raise fail(
            "gradient_flow",
            "model",
            "hidden states that depend on trainable parameters or the input",
            f"{name or 'model'} computes its hidden states without gradients",
        )
    batch, time = hidden[0].shape[0], len(hidden)
    lengths = torch.full((batch,), time) if lengths is None else lengths.cpu()
    gradients = torch.autograd.grad(loss, hidden, retain_graph=True, allow_unused=True)
    loss_gradient = torch.stack(
        [
            torch.zeros(batch) if gradient is None else gradient.norm(dim=-1).cpu()
            for gradient in gradients
        ]
    )
    with torch.no_grad():
        gates = [cell.gate_values(x, previous) for x, previous, _ in steps]
        saturation = {
            gate: _by_lag(
                torch.stack([_saturated(step[gate], gate, tolerance) for step in gates]), lengths
            )
            for gate in (gates[0] if gates else {})
        }
        recurrent_norm = {
            gate: float(torch.linalg.matrix_norm(block.float(), ord=2))
            for gate, block in cell.recurrent_weights().items()
        }
    layer, direction = divmod(index, module.num_directions)
    return RecurrentFlow(
        module=name,
        cell=module.cell_name,
        layer=layer,
        direction="reverse" if direction else "forward",
        loss_gradient=_by_lag(loss_gradient, lengths),
        jacobian=_by_lag(_jacobian_norms(hidden, probes), lengths),
        saturation=saturation,
        recurrent_norm=recurrent_norm,
        sequences=[int((lengths > lag).sum()) for lag in range(int(lengths.max()))],
    )


def _jacobian_norms(hidden: list[Tensor], probes: int) -> Tensor:
    """``(T, B)``: ``||dh_T/dh_t||_F`` per step and sequence, from backward passes along
    orthonormal directions of ``h_T`` (all of them when ``probes >= H``)."""
    final = hidden[-1]
    size = final.shape[-1]
    if probes >= size:
        directions = torch.eye(size, dtype=final.dtype, device=final.device)
    else:
        generator = torch.Generator().manual_seed(0)
        gaussian = torch.randn(size, probes, generator=generator, dtype=final.dtype)
        directions = torch.linalg.qr(gaussian).Q.T.to(final.device)
    squares = torch.zeros(len(hidden), final.shape[0])
    for direction in directions:
        rows = torch.autograd.grad((final @ direction).sum(), hidden, retain_graph=True)
        squares += torch.stack([row.detach().square().sum(-1).cpu() for row in rows])
    return (squares * size / len(directions)).sqrt()


def _saturated(values: Tensor, gate: str, tolerance: float) -> Tensor:
    """``(B,)``: the share of each sequence's units of one gate at one step that saturate."""
    if "sigmoid" in gate:
        near_limit = (values < tolerance) | (values > 1 - tolerance)
    else:
        near_limit = values.abs() > 1 - tolerance
    return near_limit.float().mean(-1).cpu()


def _by_lag(values: Tensor, lengths: Tensor) -> list[float]:
    """Average ``(T, B)`` per-step values over sequences by lag ``k = length - 1 - t``.

    Returns one mean per lag ``0 .. max(lengths) - 1``, over the sequences long enough for it.
    """
    lags = []
    for lag in range(int(lengths.max())):
        valid = lengths > lag
        steps = (lengths - 1 - lag).clamp(min=0)
        column = values[steps, torch.arange(values.shape[1])]
        lags.append(float(column[valid].mean()))
    return lags
