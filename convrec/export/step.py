"""A stream's step as one ONNX graph, the state passed in and out (the external-state mode of
streaming keyword spotters): ``export_run(RUN, 'onnx-step')`` writes ``RUN/model_step.onnx``.

The graph runs one push of :class:`~convrec.tasks.streaming.Stream`: the next chunk of the
sequence and the state the last call returned in; the outputs for the chunk and the new state
out. The caller keeps the state between calls and may save it, reset it or keep one per stream
in a batch. At the start each state tensor is filled with its value in the metadata
(``state_start``: 0, or ``-inf``/``inf`` for running max/min pools), in the shape the metadata's
``state`` gives (``"batch"`` for the batch axis).

- Inputs: ``chunk``, ``(batch, time, features)`` float32 (token ids ``(batch, time)`` int64;
  waveforms ``(batch, samples)`` float32 with ``samples`` a multiple of the front end's hop),
  then one ``state.<name>`` per state tensor.
- Outputs: the task's outputs for the chunk, ``(batch, time, outputs)`` (every step's; a
  many-to-one model's output after each step), then one ``next.<name>`` per state tensor.

A waveform's front end keeps the last ``n_fft - hop`` samples as its state, zeros at the start:
silence before the stream, which the first frames read, as a microphone switched on in a quiet
room would. Frame ``k`` then ends at sample ``(k + 1) * hop`` (metadata ``frame_times``: the
seconds between frames and of the first frame's end), where ``predict``'s frames end at ``n_fft
+ k * hop``: the same analysis on a grid ``n_fft - hop`` samples earlier. Everything else equals
``Stream.push`` from the same state (tested). A forecaster's window, whose state grows until it
is full, has no step graph.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx
import torch
from torch import Tensor, nn

from convrec.checks import fail
from convrec.errors import InvalidValueError
from convrec.nn.streaming import check_streamable, start_state, stream_parts
from convrec.tasks.exported import ExportedModel, ExportSpec

STEP_FRAMES = 2  # frames in the example chunk a waveform step graph is traced with


class StreamStep(nn.Module):
    """One push of a stream as a module: ``(chunk, *state) -> (outputs, *next_state)``, the
    state's tensors in the order of ``names``."""

    def __init__(self, model: nn.Module, spec: ExportSpec, names: list[str]) -> None:
        super().__init__()
        self.wrapped = ExportedModel(model, spec)
        self.parts = nn.ModuleList(model.streaming_parts())
        self.names = names
        self.waveform = spec.input_kind == "waveform"

    def forward(self, chunk: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        carried = dict(zip(self.names, state, strict=True))
        after = {}
        if self.waveform:
            front_end = self.wrapped.features
            samples = torch.cat([carried.pop("pending_samples"), chunk], dim=1)
            keep = front_end.n_fft - front_end.hop_length
            after["pending_samples"] = samples[:, samples.shape[1] - keep :]
            x = self.wrapped.standardised(front_end(samples))
        else:
            x = self.wrapped.prepare(chunk)
        output, layers = stream_parts(list(self.parts), x, carried, every_step=True)
        after |= layers
        return (self.wrapped.finish(output), *(after[name] for name in self.names))


def initial_state(model: nn.Module, spec: ExportSpec, batch: int) -> dict[str, Tensor]:
    """The state tensors of a stream of ``batch`` sequences at its start
    (:func:`~convrec.nn.streaming.start_state`, and the front end's pending samples)."""
    parts = model.streaming_parts()
    check_streamable("export", parts, model)
    wrapped = ExportedModel(model, spec).eval()
    pending = {}
    if spec.input_kind == "waveform":
        front_end = wrapped.features
        x = torch.zeros(batch, 1, front_end.n_mfcc)
        pending["pending_samples"] = torch.zeros(batch, front_end.n_fft - front_end.hop_length)
    else:
        x = wrapped.prepare(example_chunk(spec, batch, steps=1))
    try:
        return start_state(parts, x) | pending
    except InvalidValueError:
        raise fail(
            "export",
            "format",
            "a model whose stream state has a fixed shape for 'onnx-step'",
            f"{type(model).__name__}, which keeps a growing window",
        ) from None


def example_chunk(spec: ExportSpec, batch: int, steps: int = 3) -> Tensor:
    """A chunk of ``steps`` steps (waveforms: :data:`STEP_FRAMES` hops) to trace with."""
    if spec.input_kind == "tokens":
        return torch.ones(batch, steps, dtype=torch.long)
    if spec.input_kind == "waveform":
        return torch.rand(batch, STEP_FRAMES * spec.features.hop_length) - 0.5
    return torch.rand(batch, steps, spec.input_shape[-1]) + 0.5


def batch_axes(two: dict[str, Tensor], three: dict[str, Tensor]) -> dict[str, int]:
    """Each state tensor's batch axis (``(layers, B, H)`` for recurrent layers, first for the
    rest), found by comparing the start states of two batch sizes."""
    return {
        name: next(
            axis
            for axis, (a, b) in enumerate(zip(two[name].shape, three[name].shape, strict=True))
            if a != b
        )
        for name in two
    }


def step_onnx(model: nn.Module, spec: ExportSpec) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """The graph of the module docstring, batch and chunk length dynamic, and its metadata:
    each state tensor's shape (``"batch"`` on its batch axis) and start value, and a waveform's
    frame times.

    Raises:
        InvalidValueError: images, series standardised by their whole length, a layer that
            reads the future (named), or a forecaster's growing window.
    """
    from convrec.export import name_axes, onnx_model

    if spec.input_kind == "image" or spec.each_series:
        raise fail(
            "export",
            "format",
            "a task whose inputs are sequences prepared step by step for 'onnx-step'",
            "images" if spec.input_kind == "image" else "series standardised by their length",
        )
    state = initial_state(model, spec, 2)
    names = list(state)
    axes = batch_axes(state, initial_state(model, spec, 3))
    dynamic = torch.export.Dim.DYNAMIC
    if spec.input_kind == "waveform":
        hops = torch.export.Dim("hops", min=1, max=1 << 20)
        chunk: dict[int, Any] = {0: dynamic, 1: hops * spec.features.hop_length}
    else:
        chunk = {0: dynamic, 1: dynamic}
    shapes = {"chunk": chunk, "state": tuple({axes[name]: dynamic} for name in names)}
    output = "probabilities" if spec.output == "probabilities" else "values"
    proto = onnx_model(
        StreamStep(model, spec, names).eval(),
        (example_chunk(spec, 2), *state.values()),
        shapes,
        ["chunk", *(f"state.{name}" for name in names)],
        [output, *(f"next.{name}" for name in names)],
        variable_length=False,
    )
    name_axes(proto, {(0, 1): "time"})
    frames = proto.graph.output[0].type.tensor_type.shape.dim[1]
    if spec.input_kind == "waveform" and frames.dim_param:  # a frame per hop of samples
        frames.dim_param = "frames"
    layouts = {
        name: ["batch" if axis == axes[name] else size for axis, size in enumerate(value.shape)]
        for name, value in state.items()
    }
    starts = {name: _json_number(value.flatten()[0].item()) for name, value in state.items()}
    metadata: dict[str, Any] = {"state": layouts, "state_start": starts}
    if spec.input_kind == "waveform":
        step, _ = spec.features.frame_times()  # the first frame ends one hop in, not n_fft
        metadata["frame_times"] = {"step": step, "first": step}
    return proto, metadata


def start_arrays(metadata: Mapping[str, str], batch: int = 1) -> dict[str, np.ndarray]:
    """The state inputs of an ``onnx-step`` graph at the start of ``batch`` streams, from the
    file's metadata (onnxruntime's ``get_modelmeta().custom_metadata_map``): each
    ``state.<name>`` filled with its ``state_start`` value in its ``state`` shape."""
    layouts, starts = json.loads(metadata["state"]), json.loads(metadata["state_start"])
    return {
        f"state.{name}": np.full(
            [batch if size == "batch" else size for size in layout], float(starts[name]), "f4"
        )
        for name, layout in layouts.items()
    }


def _json_number(value: float) -> float | str:
    """A start value as JSON holds it: infinities as ``'inf'``/``'-inf'`` (numpy reads both)."""
    return value if abs(value) != float("inf") else ("inf" if value > 0 else "-inf")
