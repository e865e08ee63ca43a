"""The model registry: each family file registers its models by name.

Every model is built as ``build(input_shape, output_size, **options)``:

- ``input_shape`` is one sample's shape without the batch axis: ``(C, H, W)`` for images,
  ``(T, F)`` for sequences of ``F`` features (``T`` is ``None`` when lengths vary) and ``(T,)``
  for token ids (token models also take ``vocab_size``);
- ``output_size`` is the number of outputs: classes, forecast steps, or outputs per step.

Every model has a ``head`` attribute, the module that maps its learned features to the outputs;
transfer learning replaces or retrains it and freezes the rest (the backbone).

Example:
    >>> from convrec.models import create
    >>> create("gru", input_shape=(None, 3), output_size=1).__class__.__name__
    'RecurrentNet'
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from torch import nn

from convrec.checks import fail, known_options, unknown_name
from convrec.errors import InvalidValueError
from convrec.plugins import load_entry_points

INPUT_KINDS = ("image", "sequence", "tokens")
_BUILD_ARGUMENTS = ("input_shape", "output_size", "self")


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its name, one-line description, builder and the inputs it takes
    (a subset of :data:`INPUT_KINDS`)."""

    name: str
    description: str
    build: Callable[..., nn.Module]
    inputs: tuple[str, ...]

    def options(self) -> dict[str, Any]:
        """The builder's keyword options and their defaults (``inspect.Parameter.empty`` for a
        required one)."""
        parameters = inspect.signature(self.build).parameters.values()
        return {
            parameter.name: parameter.default
            for parameter in parameters
            if parameter.name not in _BUILD_ARGUMENTS
            and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
        }

    def check_options(self, options: Iterable[str]) -> None:
        """Refuse option names the builder does not take, listing those it does and close
        matches; values are checked when the model is built."""
        known_options(self.name, "model_options", options, list(self.options()))


_MODELS: dict[str, ModelEntry] = {}


def register(
    name: str, description: str, inputs: tuple[str, ...]
) -> Callable[[Callable], Callable]:
    """Decorator: register ``build(input_shape, output_size, **options) -> nn.Module`` (a model
    class or a function) for the input kinds ``inputs`` (public as
    ``convrec.models.register_model``: plugins register theirs with it)."""
    unknown = [kind for kind in inputs if kind not in INPUT_KINDS]
    if name in _MODELS or unknown or not inputs:
        raise InvalidValueError(
            f"model {name!r}: registered twice or with bad input kinds {inputs!r}"
        )

    def add(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _MODELS[name] = ModelEntry(name, description, build, tuple(inputs))
        return build

    return add


def available(input_kind: str | None = None) -> list[ModelEntry]:
    """The registered models (installed plugins' included), sorted by name; only those that take
    ``input_kind`` if given."""
    load_entry_points()
    return [
        _MODELS[name]
        for name in sorted(_MODELS)
        if input_kind is None or input_kind in _MODELS[name].inputs
    ]


def entry(name: str) -> ModelEntry:
    """The registered model ``name`` (installed plugins are imported the first time a name is not
    known); an unknown name lists the valid ones and close matches."""
    if name not in _MODELS:
        load_entry_points()
    if name not in _MODELS:
        raise unknown_name("model", name, list(_MODELS))
    return _MODELS[name]


def create(
    name: str,
    input_shape: tuple[int | None, ...],
    output_size: int,
    input_kind: str | None = None,
    **options: Any,
) -> nn.Module:
    """Build the registered model ``name``.

    Args:
        name: a registered name (``convrec models`` lists them).
        input_shape, output_size: see the module docstring.
        input_kind: what the data is (``'image'``, ``'sequence'`` or ``'tokens'``); a model that
            does not take it is refused, naming the models that do.
        **options: the model's own keywords; an unknown one is refused, naming the valid ones.
    """
    model = entry(name)
    if input_kind is not None:
        check_takes(name, input_kind)
    model.check_options(options)
    return model.build(input_shape=tuple(input_shape), output_size=output_size, **options)


def check_takes(name: str, input_kind: str) -> None:
    """Refuse the registered model ``name`` if it does not take ``input_kind`` input, naming the
    models that do."""
    model = entry(name)
    if input_kind not in model.inputs:
        suitable = ", ".join(other.name for other in available(input_kind))
        raise fail(
            "create",
            "name",
            f"a model that takes {input_kind} input ({suitable})",
            f"{name!r}, which takes {' or '.join(model.inputs)}",
        )
