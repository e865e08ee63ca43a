"""The model registry: each family file registers its entry functions by name.

Example:
    >>> from convrec.models import create
    >>> create("gru", input_size=3, output_size=1).__class__.__name__
    'RecurrentNet'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from convrec.nn.checks import unknown_name


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    build: Callable[..., nn.Module]


_MODELS: dict[str, ModelEntry] = {}


def register(name: str, description: str) -> Callable[[Callable], Callable]:
    """Decorator: register ``build(input_size, output_size, **options) -> nn.Module``."""

    def add(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        _MODELS[name] = ModelEntry(name, description, build)
        return build

    return add


def available() -> list[ModelEntry]:
    """All registered models, sorted by name."""
    return [_MODELS[name] for name in sorted(_MODELS)]


def entry(name: str) -> ModelEntry:
    """The registered model ``name``; an unknown name lists the valid ones and close matches."""
    if name not in _MODELS:
        raise unknown_name("model", name, list(_MODELS))
    return _MODELS[name]


def create(name: str, **options: object) -> nn.Module:
    """Build the registered model ``name`` with ``options`` (``input_size``, ``output_size``, and
    the family's own keywords)."""
    return entry(name).build(**options)
