"""A trained model with its task's preprocessing and output transform, as one module to export.

``convrec predict`` standardises raw inputs, pads them into a :class:`~convrec.nn.Padded` batch,
runs the model and turns its outputs into probabilities or units. :class:`ExportedModel` does the
same in tensor operations, so that ``torch.export`` and ONNX capture all of it:

    x = features(inputs)                       a task's own input features (maxwell, audio
                                               frames, whose lengths become frame counts)
    x = (x - mean_b) / std_b                   each series by its own valid steps (optional)
    x = (x - mean) / std                       the training split's statistics
    x = 0 beyond each length                   as the padding of a Padded batch
    y = model(Padded(x, lengths))
    y = softmax(y) | y * scale + shift         probabilities, or values in units

Its forward takes ``(inputs, lengths)`` for variable-length input and ``(inputs,)`` for
fixed-size input (images, windows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from convrec.nn import Padded
from convrec.nn.padded import zero_padding

OUTPUTS = ("probabilities", "values")


@dataclass
class ExportSpec:
    """What a task does around its model at prediction time (see the module docstring).

    Attributes:
        input_kind: ``'sequence'``, ``'image'``, ``'tokens'`` (int64 ids) or ``'waveform'``
            (samples, ``(B, S)``).
        input_shape: one raw input's shape, ``None`` for a variable number of steps.
        variable_length: the inputs are ``(B, T, ...)`` with lengths ``(B,)``.
        output: ``'probabilities'`` (softmax over the last axis) or ``'values'``.
        input_layout, output_layout: the axes, in words, for the graph's documentation.
        features: a module computing the task's input features from raw inputs, or None; a
            module with ``frames(lengths)`` changes the number of steps (samples to frames).
        example_steps: the padded steps of the example batch the graph is traced with (enough
            for ``features``), or None for a few.
        mean, std: the training split's statistics (broadcast against one item), or None.
        each_series: standardise every series by its own valid steps first.
        scale, shift: ``values`` in units are ``y * scale + shift`` (per last axis).
        metadata: what a user of the file needs besides the graph (class names, columns, ...).
        output_size: values per output (per step for sequence outputs), if known.
    """

    input_kind: str
    input_shape: tuple[int | None, ...]
    variable_length: bool
    output: str
    input_layout: str
    output_layout: str
    features: nn.Module | None = None
    example_steps: int | None = None
    mean: Tensor | None = None
    std: Tensor | None = None
    each_series: bool = False
    scale: Tensor | None = None
    shift: Tensor | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    output_size: int | None = None


class ExportedModel(nn.Module):
    """``model`` with the preprocessing and output transform of an :class:`ExportSpec`.

    Shape:
        inputs: ``(B, T, ...)`` with ``lengths (B,)`` if ``spec.variable_length``, else one
        fixed-size batch ``(B, ...)``; output: what the task's ``predict`` returns, batched
        (sequence outputs ``(B, T, ...)``, zero beyond each length).
    """

    def __init__(self, model: nn.Module, spec: ExportSpec) -> None:
        super().__init__()
        self.model = model
        self.features = spec.features
        self.each_series = spec.each_series
        self.variable_length = spec.variable_length
        self.probabilities = spec.output == "probabilities"
        for name in ("mean", "std", "scale", "shift"):
            value = getattr(spec, name)
            self.register_buffer(name, None if value is None else value.float())

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        if lengths is not None:
            lengths = self.feature_lengths(lengths)
        x = self.prepare(inputs, lengths)
        if lengths is not None:
            x = zero_padding(x, lengths)
        output = self.model(Padded.trusted(x, lengths) if lengths is not None else x)
        sequence = isinstance(output, Padded)
        y = self.finish(output.data if sequence else output)
        return zero_padding(y, lengths) if sequence else y

    def prepare(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Raw inputs to the model's inputs: features, then standardisation (``lengths``: the
        features' steps)."""
        x = inputs if self.features is None else self.features(inputs)
        if self.each_series:
            x = _each_series_standardised(x, lengths)
        return self.standardised(x)

    def standardised(self, x: Tensor) -> Tensor:
        """Features in the training split's standard units."""
        return x if self.mean is None else (x - self.mean) / self.std

    def feature_lengths(self, lengths: Tensor) -> Tensor:
        """The model's steps for raw inputs of ``lengths`` steps: frames for samples."""
        frames = getattr(self.features, "frames", None)
        return lengths if frames is None else frames(lengths)

    def finish(self, y: Tensor) -> Tensor:
        """The model's outputs to the task's: probabilities, or values in units."""
        if self.probabilities:
            y = y.softmax(dim=-1)
        if self.scale is not None:
            y = y * self.scale + self.shift
        return y


def _each_series_standardised(x: Tensor, lengths: Tensor | None) -> Tensor:
    """``(B, T, F)``: every feature of every series at mean 0 and standard deviation 1 over its
    valid steps (``convrec.tasks.dataset.each_series_standardised`` on each unpadded series)."""
    if lengths is None:
        lengths = torch.full((x.shape[0],), x.shape[1], device=x.device)
    valid = (torch.arange(x.shape[1], device=x.device) < lengths.unsqueeze(-1)).unsqueeze(-1)
    count = lengths.view(-1, 1, 1).to(x.dtype)
    mean = torch.where(valid, x, 0).sum(dim=1, keepdim=True) / count
    variance = torch.where(valid, (x - mean) ** 2, 0).sum(dim=1, keepdim=True) / count
    return (x - mean) / variance.sqrt().clamp_min(1e-8)
