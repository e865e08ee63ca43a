"""A model's layer table: output shapes, parameters (per gate and direction for recurrent layers),
window geometry, receptive fields and mult-adds, as the notes explain CNNs by their shape
arithmetic (two 3x3 layers, the first with stride 3, see a 9x9 window with 18 weights
instead of 81).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from rich.table import Table
from torch import Tensor, nn

from convrec.nn.padded import Padded
from convrec.nn.receptive import LayerField, receptive_field
from convrec.nn.recurrent import Recurrent

_GEOMETRY = ("kernel_size", "stride", "padding", "dilation")


@dataclass(frozen=True)
class LayerSummary:
    """One call of one layer.

    Attributes:
        name: the layer's qualified name (``'features.0'``).
        layer: its class name.
        output_shape: its output's shape for the example input (batch first).
        parameters: its own parameters (0 on a repeated call of a shared layer).
        parameter_groups: recurrent layers: parameters per ``'layer L direction gate'``.
        kernel_size, stride, padding, dilation: the window geometry of convolution and pooling.
        jump, receptive_field: input samples between adjacent outputs and seen by each output,
            per spatial axis (see :mod:`convrec.nn.receptive`); None where not defined.
        sees_whole_input: each output depends on the whole input (recurrent layers, global and
            k-max pooling, and the windowed layers after them).
        receptive_seconds: the receptive field along time in seconds, for audio front ends.
        mult_adds: multiply-accumulates per input sample (convolutions, linear and recurrent).
    """

    name: str
    layer: str
    output_shape: tuple[int, ...]
    parameters: int
    parameter_groups: dict[str, int] = field(default_factory=dict)
    kernel_size: Any = None
    stride: Any = None
    padding: Any = None
    dilation: Any = None
    jump: tuple[int, ...] | None = None
    receptive_field: tuple[int, ...] | None = None
    sees_whole_input: bool = False
    receptive_seconds: float | None = None
    mult_adds: int = 0


@dataclass(frozen=True)
class ModelSummary:
    """Every layer call in execution order, and the totals.

    Attributes:
        rows: one :class:`LayerSummary` per call of a leaf layer or recurrent layer.
        input_shape: the example input's shape.
        parameters, trainable: all and trainable parameters of the model.
        parameter_bytes: their memory.
        mult_adds: the sum of the rows' mult-adds per input sample.
        activation_bytes: the memory of every row's output for the example batch, an estimate of
            what training keeps for the backward pass.
    """

    rows: list[LayerSummary]
    input_shape: tuple[int, ...]
    parameters: int
    trainable: int
    parameter_bytes: int
    mult_adds: int
    activation_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self, title: str = "") -> Table:
        """A rich table of the rows, with the totals in its caption."""
        table = Table(title=title or None, caption=self.caption())
        for column in ("layer", "type", "output", "params", "kernel", "stride", "pad", "dil"):
            table.add_column(column, justify="right" if column == "params" else "left")
        for column in ("jump", "receptive field", "mult-adds"):
            table.add_column(column, justify="right")
        for row in self.rows:
            groups = "\n".join(
                f"  {group}: {count:,}" for group, count in row.parameter_groups.items()
            )
            table.add_row(
                row.name,
                row.layer,
                "x".join(map(str, row.output_shape)),
                f"{row.parameters:,}" + (f"\n{groups}" if groups else ""),
                *(_axes(getattr(row, name)) for name in _GEOMETRY),
                _axes(row.jump),
                _receptive(row),
                f"{row.mult_adds:,}" if row.mult_adds else "",
            )
        return table

    def caption(self) -> str:
        return (
            f"input {'x'.join(map(str, self.input_shape))}; {self.parameters:,} parameters "
            f"({self.trainable:,} trainable, {_bytes(self.parameter_bytes)}); "
            f"{self.mult_adds:,} mult-adds per sample; activations {_bytes(self.activation_bytes)}"
        )


def summary(
    model: nn.Module,
    example: Sequence[int] | Tensor | Padded,
    seconds_per_step: float | None = None,
) -> ModelSummary:
    """Run ``model`` once on ``example`` and describe every layer call.

    Args:
        model: any module; leaf modules and convrec's recurrent layers become rows.
        example: an input, or the shape of a float input (batch first), e.g. ``(1, 1, 28, 28)``.
        seconds_per_step: seconds between adjacent time steps of the input (an audio front end's
            hop over its sample rate); gives each receptive field along time in seconds.

    Returns:
        The :class:`ModelSummary`.

    Example:
        >>> from convrec.nn import Conv2d
        >>> first, second = Conv2d(1, 1, 3, stride=3, bias=False), Conv2d(1, 1, 3, bias=False)
        >>> model = nn.Sequential(first, second)
        >>> rows = summary(model, (1, 1, 27, 27)).rows
        >>> rows[1].receptive_field, sum(row.parameters for row in rows)
        ((9, 9), 18)
    """
    example = _example(example)
    data = example.data if isinstance(example, Padded) else example
    batch = data.shape[0]
    fields: dict[str, deque[LayerField]] = defaultdict(deque)
    for row in receptive_field(model, example):
        fields[row.name].append(row)
    names = {module: name for name, module in model.named_modules()}
    inside_recurrent = {
        id(child)
        for module in model.modules()
        if isinstance(module, Recurrent)
        for child in module.modules()
        if child is not module
    }
    rows: list[LayerSummary] = []
    seen: set[int] = set()

    def hook(module: nn.Module, inputs: tuple, output: object) -> None:
        result = output[0] if isinstance(output, tuple) else output
        result = result.data if isinstance(result, Padded) else result
        if not isinstance(result, Tensor):
            return
        name = names.get(module, "")
        first_call = id(module) not in seen
        seen.add(id(module))
        located = fields[name].popleft() if fields[name] else None
        size = located.size if located is not None else None
        rows.append(
            LayerSummary(
                name=name,
                layer=module.cell_name if isinstance(module, Recurrent) else type(module).__name__,
                output_shape=tuple(result.shape),
                parameters=_count(module) if first_call else 0,
                parameter_groups=_gate_groups(module) if first_call else {},
                **{key: _plain(getattr(module, key, None)) for key in _GEOMETRY},
                jump=located.jump if located is not None else None,
                receptive_field=size,
                sees_whole_input=located is not None and size is None,
                receptive_seconds=(
                    size[-1] * seconds_per_step if size and seconds_per_step is not None else None
                ),
                mult_adds=_mult_adds(module, inputs[0], result) // batch,
            )
        )

    handles = [
        module.register_forward_hook(hook)
        for module in model.modules()
        if id(module) not in inside_recurrent
        and (isinstance(module, Recurrent) or not any(True for _ in module.children()))
    ]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    parameters = list(model.parameters())
    return ModelSummary(
        rows=rows,
        input_shape=tuple(data.shape),
        parameters=sum(parameter.numel() for parameter in parameters),
        trainable=sum(parameter.numel() for parameter in parameters if parameter.requires_grad),
        parameter_bytes=sum(
            parameter.numel() * parameter.element_size() for parameter in parameters
        ),
        mult_adds=sum(row.mult_adds for row in rows),
        activation_bytes=sum(math.prod(row.output_shape) * data.element_size() for row in rows),
    )


def example_input(
    input_shape: Sequence[int | None], input_kind: str = "sequence", length: int = 100
) -> Tensor:
    """A batch of one input for a model built for ``input_shape`` (no batch axis), with
    ``length`` steps where the time axis is open (None): zeros, or for token ids (``long``) the
    unknown id 1 at every step (id 0 is padding, and a row of padding only is no input)."""
    shape = (1, *(length if size is None else size for size in input_shape))
    if input_kind == "tokens":
        return torch.ones(shape, dtype=torch.long)
    return torch.zeros(shape)


def _example(example: Sequence[int] | Tensor | Padded) -> Tensor | Padded:
    if isinstance(example, Tensor | Padded):
        return example
    return torch.zeros(tuple(example))


def _count(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def _gate_groups(module: nn.Module) -> dict[str, int]:
    """A recurrent layer's parameters per stacked layer, direction and gate."""
    if not isinstance(module, Recurrent):
        return {}
    groups = {}
    for index, cell in enumerate(module.cells):
        layer, direction = divmod(index, module.num_directions)
        where = f"layer {layer} {'reverse' if direction else 'forward'}"
        per_gate = cell.parameters_per_gate() or {"": _count(cell)}
        for gate, count in per_gate.items():
            groups[f"{where} {gate}".rstrip()] = count
    return groups


def _mult_adds(module: nn.Module, given: object, output: Tensor) -> int:
    """Multiply-accumulates of one call over the whole batch."""
    if isinstance(module, Recurrent):
        data = given.data if isinstance(given, Padded) else given
        steps = int(given.lengths.sum()) if isinstance(given, Padded) else math.prod(data.shape[:2])
        matrices = [weight for weight in module.parameters() if weight.dim() >= 2]
        return steps * sum(weight.numel() for weight in matrices)
    if isinstance(module, nn.RNNBase):
        steps = math.prod(given.shape[:2]) if isinstance(given, Tensor) else 0
        weights = [value for name, value in module.named_parameters() if name.startswith("weight")]
        return steps * sum(weight.numel() for weight in weights)
    weight = getattr(module, "weight", None)
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(weight, Tensor) and weight.dim() >= 3:  # convolutions: (out, in / groups, *k)
        return output.numel() * weight[0].numel()
    return 0


def _plain(value: object) -> object:
    """Geometry as JSON-friendly values: tuples of ints, ints, strings or None."""
    if isinstance(value, tuple | list):
        return tuple(_plain(part) for part in value)
    return value if isinstance(value, int | str) or value is None else str(value)


def _axes(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return "x".join(_axes(part) for part in value)
    return str(value)


def _receptive(row: LayerSummary) -> str:
    if row.receptive_field is None:
        return "whole input" if row.sees_whole_input else ""
    text = _axes(row.receptive_field)
    return f"{text} ({row.receptive_seconds:.3g} s)" if row.receptive_seconds is not None else text


def _bytes(count: int) -> str:
    """``count`` bytes in B, KiB, MiB or GiB."""
    exponent = min(3, int(math.log(count, 1024))) if count > 0 else 0
    unit = ("B", "KiB", "MiB", "GiB")[exponent]
    return f"{count / 1024**exponent:.1f} {unit}" if exponent else f"{count} B"
