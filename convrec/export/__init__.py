"""Trained models out of convrec: one self-contained file per run, for ONNX Runtime or
``torch.export``.

``export_run(RUN, 'onnx')`` writes ``RUN/model.onnx``: the task's preprocessing (features and
standardisation), the model and its output transform (probabilities, units) as one graph
(:class:`convrec.tasks.exported.ExportedModel`), whose batch size and number of steps are inputs,
not frozen shapes. Recurrent layers become ONNX's own ``RNN``/``LSTM``/``GRU`` operators with
``sequence_lens`` (:mod:`convrec.export.onnx_ops`). What the graph does not hold (class names, a
vocabulary, input columns, convrec's version) is in the file's metadata as JSON strings.

The graph's inputs:

- ``inputs``: ``(batch, time, features)`` float32 for sequences, ``(batch, time)`` int64 for
  token ids, ``(batch, time)`` float32 for waveforms (time in samples), ``(batch, channels,
  height, width)`` for images; padded with anything past each length;
- ``lengths``: ``(batch,)`` int64, each sequence's true number of steps (variable-length inputs
  only).

``export_run(RUN, 'exported-program')`` writes ``RUN/model.pt2``, a ``torch.export`` program of
the same module (``torch.export.load``; its recurrent layers are the operator
``convrec::recurrent_layer``, so ``import convrec.nn`` first). TorchScript is not offered:
``torch.jit.script`` cannot compile the ``Padded`` batches, and PyTorch has deprecated it in
favour of ``torch.export``.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import onnx
import torch

import convrec
from convrec.checks import one_of
from convrec.errors import UserError
from convrec.files import atomic_write
from convrec.tasks.exported import ExportedModel, ExportSpec

FORMATS = {"onnx": "model.onnx", "exported-program": "model.pt2", "onnx-step": "model_step.onnx"}
OPSET = 18
EXAMPLE_STEPS = 8


def export_run(run_dir: str | Path, format: str = "onnx", out: str | Path | None = None) -> Path:
    """Export the model of a run directory; returns the file written.

    Args:
        run_dir: a run directory (``model.safetensors``, ``model.json``).
        format: ``'onnx'``, ``'exported-program'``, or ``'onnx-step'`` (a stream's step with
            its state in and out, :mod:`convrec.export.step`).
        out: the file to write; default ``RUN/model.onnx``, ``RUN/model.pt2`` or
            ``RUN/model_step.onnx``.

    Raises:
        InvalidValueError: the task's prediction or a layer has no export form (the message
            names which).
    """
    from convrec.train.trained import load

    one_of("export_run", "format", format, tuple(FORMATS))
    trained = load(run_dir)
    spec = trained.task.export_spec()
    module = ExportedModel(trained.model, spec).eval()
    path = Path(out) if out is not None else Path(run_dir) / FORMATS[format]
    metadata = spec.metadata | {"convrec_version": convrec.__version__}
    if format == "onnx":
        return write_onnx(module, spec, metadata, path)
    if format == "onnx-step":
        return write_step_onnx(trained.model, spec, metadata, path)
    return write_exported_program(module, spec, metadata, path)


def example_inputs(spec: ExportSpec) -> tuple[torch.Tensor, ...]:
    """A batch of two to trace the module with: the second sequence one step shorter."""
    variable = spec.example_steps or EXAMPLE_STEPS
    steps = [variable if size is None else size for size in spec.input_shape]
    if spec.input_kind == "tokens":
        inputs = torch.ones(2, *steps, dtype=torch.long)
    else:
        inputs = torch.rand(2, *steps) + 0.5  # positive: the maxwell features take logs of dt
    if not spec.variable_length:
        return (inputs,)
    return inputs, torch.tensor([steps[0], steps[0] - 1])


def dynamic_shapes(spec: ExportSpec) -> dict[str, Any]:
    """Batch size dynamic everywhere; the number of steps too for variable-length inputs.

    ``Dim.DYNAMIC`` lets ``torch.export`` find the range itself (a network that halves the
    time axis twice needs some steps), instead of failing on a range given up front.
    """
    dynamic = torch.export.Dim.DYNAMIC
    if not spec.variable_length:
        return {"inputs": {0: dynamic}}
    return {"inputs": {0: dynamic, 1: dynamic}, "lengths": {0: dynamic}}


@contextmanager
def user_errors_first() -> Iterator[None]:
    """Re-raise a convrec refusal (a layer without an export form) that the exporters wrapped
    in their own errors, so that it reads as one line."""
    try:
        yield
    except Exception as error:
        cause: BaseException | None = error
        while cause is not None and not isinstance(cause, UserError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        raise cause from None


def onnx_model(
    module: torch.nn.Module,
    inputs: tuple[torch.Tensor, ...],
    shapes: dict[str, Any],
    input_names: list[str],
    output_names: list[str] | None = None,
    variable_length: bool | None = None,
) -> onnx.ModelProto:
    """``module`` traced by ``torch.export`` on ``inputs`` with the dynamic ``shapes`` and
    translated to ONNX (opset :data:`OPSET`), convrec's operators included.

    A variable-length graph (default: one given ``lengths`` after ``inputs``) holds for padded
    batches of at least :func:`fewest_steps` steps (recorded in the metadata as
    ``min_padded_steps``); the lengths inside may be shorter.
    """
    from convrec.export.onnx_ops import translation_table

    # the exporter logs a warning per torchvision operator it cannot register without torchvision
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings(), user_errors_first():
        # PyTorch's own deprecation, raised inside torch.export's pytree handling
        warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)", FutureWarning)
        # the batch axis of `lengths` is the one of `inputs`, which the exporter points out
        warnings.filterwarnings("ignore", r"# The axis name: .* will not be used", UserWarning)
        exported = torch.export.export(module.eval(), inputs, dynamic_shapes=shapes)
        program = torch.onnx.export(
            exported,
            input_names=input_names,
            output_names=output_names,
            custom_translation_table=translation_table(),
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
    proto = program.model_proto
    padded = len(inputs) > 1 if variable_length is None else variable_length
    name_axes(proto, {(0, 0): "batch", (0, 1): "time"} if padded else {(0, 0): "batch"})
    if padded:
        proto.metadata_props.add(key="min_padded_steps", value=str(fewest_steps(exported)))
    return proto


def fewest_steps(program: torch.export.ExportedProgram) -> int:
    """The fewest padded steps the program's graph holds for: ``torch.export`` assumes a dynamic
    size is at least 2 and adds what the layers need (a net that halves time twice needs 5)."""
    inputs = program.graph_signature.user_inputs[0]
    steps = next(node for node in program.graph.nodes if node.name == inputs).meta["val"].shape[1]
    if isinstance(steps, int):
        return steps
    return int(program.range_constraints[steps.node.expr].lower)


def name_axes(proto: onnx.ModelProto, names: dict[tuple[int, int], str]) -> None:
    """Rename the symbolic sizes of the graph's inputs (``(input, axis)`` to a name), wherever
    the same symbol appears, so that the file reads ``inputs['batch', 'time', 3]``."""
    symbols = {}
    for (index, axis), name in names.items():
        dimension = proto.graph.input[index].type.tensor_type.shape.dim[axis]
        if dimension.dim_param:
            symbols[dimension.dim_param] = name
    for value in [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]:
        for dimension in value.type.tensor_type.shape.dim:
            if dimension.dim_param in symbols:
                dimension.dim_param = symbols[dimension.dim_param]


def write_onnx(
    module: ExportedModel, spec: ExportSpec, metadata: dict[str, Any], path: Path
) -> Path:
    """``module`` as one ONNX file with its inputs documented and ``metadata`` attached."""
    inputs = example_inputs(spec)
    output = "probabilities" if spec.output == "probabilities" else "values"
    names = ["inputs", "lengths"][: len(inputs)]
    proto = onnx_model(module, inputs, dynamic_shapes(spec), names, [output])
    documentation = {
        "inputs": spec.input_layout + ", padded past each length",
        "lengths": "(batch,) int64 true number of steps of each sequence",
        output: spec.output_layout,
    }
    for value in [*proto.graph.input, *proto.graph.output]:
        value.doc_string = documentation[value.name]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=json.dumps(value))
    return atomic_write(path, lambda file: file.write(proto.SerializeToString()))


def write_step_onnx(
    model: torch.nn.Module, spec: ExportSpec, metadata: dict[str, Any], path: Path
) -> Path:
    """The stream step of :mod:`convrec.export.step` as one ONNX file, its state's shapes and
    start values in the metadata (``state``, ``state_start``) and its inputs and outputs
    documented."""
    from convrec.export.step import step_onnx

    proto, step_metadata = step_onnx(model, spec)
    chunk = spec.input_layout.replace("(batch, time", "(batch, chunk time")
    output = proto.graph.output[0].name
    steps = "frames" if spec.input_kind == "waveform" else "chunk time"
    per_step = spec.output_layout
    if "time" not in per_step:  # a many-to-one model's output after each step
        per_step = per_step.replace("(batch, ", f"(batch, {steps}, ", 1)
    documentation = {
        "chunk": f"{chunk}: the next steps of each stream",
        output: per_step.replace("(batch, time", f"(batch, {steps}") + ", for each step",
    }
    for name, layout in step_metadata["state"].items():
        documentation[f"state.{name}"] = f"{layout} float32: the state the last call returned"
        documentation[f"next.{name}"] = f"{layout} float32: the state to pass to the next call"
    for value in [*proto.graph.input, *proto.graph.output]:
        value.doc_string = documentation[value.name]
    for key, value in (metadata | step_metadata).items():
        proto.metadata_props.add(key=key, value=json.dumps(value))
    return atomic_write(path, lambda file: file.write(proto.SerializeToString()))


def write_exported_program(
    module: ExportedModel, spec: ExportSpec, metadata: dict[str, Any], path: Path
) -> Path:
    """``module`` as a ``torch.export`` program, ``metadata`` in its extra file
    ``convrec.json``."""
    inputs, shapes = example_inputs(spec), dynamic_shapes(spec)
    with torch.no_grad(), user_errors_first():
        program = torch.export.export(module, inputs, dynamic_shapes=shapes)
    buffer = io.BytesIO()
    torch.export.save(program, buffer, extra_files={"convrec.json": json.dumps(metadata)})
    return atomic_write(path, lambda file: file.write(buffer.getvalue()))
