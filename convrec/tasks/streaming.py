"""A trained model fed one sequence chunk by chunk: ``convrec.load(RUN).stream()``.

Each :meth:`Stream.push` takes the next raw steps of the sequence, ``(t, features)`` (token ids
``(t,)``, waveform samples ``(t,)``), prepares them as ``predict`` does (the task's features and
training statistics, step by step), runs the model's causal layers from the state the last push
left (:mod:`convrec.nn.streaming`), and returns the task's outputs for those steps: ``(t,
outputs)`` for a model with an output per step, or ``(outputs,)`` for the sequence so far for a
many-to-one model; with ``every_step=True`` a many-to-one model gives ``(t, outputs)``, its
output after each step. Pushing a sequence in chunks of any sizes gives what ``predict`` gives
for the whole sequence.

A forecaster's stream gives, once ``lookback`` observations have come, a forecast after each
new one (``(t, horizon)``, each equal to ``predict`` on the window ending there; ``(0,
horizon)`` before). A waveform stream's steps are the front end's frames
(:class:`~convrec.data.audio.framewise.FramewiseMFCC`): a push returns an output for each frame
its samples complete (a many-to-one model's after each frame, as with ``every_step``), ``(0,
outputs)`` when they complete none (a 20 ms chunk of 16 kHz audio completes two 10 ms frames);
its samples still short of a frame are part of the state.

The state is a dictionary of plain tensors (:attr:`Stream.state`): save it with safetensors,
restore it with :meth:`Stream.load_state`, start over with :meth:`Stream.reset`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from convrec.checks import describe, fail
from convrec.nn.streaming import check_streamable, stream_parts
from convrec.tasks.exported import ExportedModel, ExportSpec


class Stream:
    """Chunk-by-chunk inference of one sequence through a causal model (see the module
    docstring).

    Raises:
        InvalidValueError: the model has a layer that reads the future (named), or the task
            standardises each series by its whole length.
    """

    def __init__(self, model: nn.Module, spec: ExportSpec, every_step: bool = False) -> None:
        owner = "stream"
        parts = getattr(model, "streaming_parts", None)
        if parts is None:
            raise fail(
                owner,
                "model",
                "a model whose layers run chunk by chunk (rnn, lstm, gru, charlm, maxwell-cell "
                "and plugins defining streaming_parts)",
                type(model).__name__,
            )
        if spec.each_series or spec.input_kind == "image":
            raise fail(
                owner,
                "task",
                "a task whose inputs are sequences prepared step by step",
                "one that standardises each series by its own length"
                if spec.each_series
                else "one of images",
            )
        self.parts = parts()
        check_streamable(owner, self.parts, model)
        self.wrapped = ExportedModel(model, spec).eval()
        self.kind = spec.input_kind
        self.features = spec.input_shape[-1] if self.kind == "sequence" else None
        self.every_step = every_step
        self.output_size = spec.output_size
        self._state: dict[str, Tensor] = {}

    @torch.no_grad()
    def push(self, chunk: np.ndarray | Tensor) -> np.ndarray:
        """The outputs for the next ``t >= 1`` steps of the sequence: ``chunk`` is ``(t,
        features)`` (token ids or waveform samples: ``(t,)``)."""
        steps = torch.as_tensor(np.asarray(chunk))
        expected = {"tokens": "(t,) token ids", "waveform": "(t,) samples"}.get(
            self.kind, f"(t, {self.features}) values"
        )
        shape_ok = steps.dim() == (2 if self.features else 1) and steps.shape[0] >= 1
        if shape_ok and self.features:
            shape_ok = steps.shape[1] == self.features
        if not shape_ok:
            raise fail("Stream.push", "chunk", f"an array {expected}, t >= 1", describe(chunk))
        batch = steps[None].long() if self.kind == "tokens" else steps[None].float()
        if self.kind == "waveform":
            return self._push_samples(batch)
        prepared = self.wrapped.prepare(batch)
        output, self._state = stream_parts(
            self.parts, prepared, self._state or None, self.every_step
        )
        if output.dim() == 3 and output.shape[1] == 0:  # no window complete yet
            return np.zeros((0, self.output_size), np.float32)
        return self.wrapped.finish(output)[0].numpy()

    def _push_samples(self, samples: Tensor) -> np.ndarray:
        """Waveform samples ``(1, t)`` through the front end: the outputs of the frames they
        complete, ``(frames, outputs)``."""
        layers = {name: value for name, value in self._state.items() if name != "pending_samples"}
        frames, pending = self.wrapped.features.advance(samples, self._state.get("pending_samples"))
        outputs = torch.zeros(0, self.output_size)
        if frames.shape[1] > 0:
            prepared = self.wrapped.standardised(frames)
            output, layers = stream_parts(self.parts, prepared, layers or None, every_step=True)
            outputs = self.wrapped.finish(output)[0]
        self._state = layers | {"pending_samples": pending}
        return outputs.numpy()

    @property
    def state(self) -> dict[str, Tensor]:
        """The state after the last push, as plain tensors (a copy; empty before the first)."""
        return {name: value.clone() for name, value in self._state.items()}

    def load_state(self, state: dict[str, Tensor]) -> None:
        """Continue from a state :attr:`state` returned (for this model)."""
        if not isinstance(state, dict) or not all(
            isinstance(value, Tensor) for value in state.values()
        ):
            raise fail(
                "Stream.load_state",
                "state",
                "a dict of tensors, as Stream.state gives",
                describe(state),
            )
        self._state = {name: value.clone() for name, value in state.items()}

    def reset(self) -> None:
        """Start a new sequence."""
        self._state = {}
