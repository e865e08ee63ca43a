"""Transfer learning as the notes describe it: reuse a trained network's backbone (every layer
but its ``head``) on a new task, and train a new head, with the backbone frozen or not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from torch import nn

from convrec.errors import InvalidValueError
from convrec.train.model_files import read_model


def backbone_modules(model: nn.Module) -> Iterator[nn.Module]:
    """Every module of ``model`` outside ``model.head`` (unwrapping a Fabric or DDP wrapper)."""
    model = _unwrapped_with_head(model)
    head = set(model.head.modules())
    return (module for module in model.modules() if module not in head)


def backbone_branches(model: nn.Module) -> Iterator[nn.Module]:
    """The backbone's modules that hold no part of the head (the model itself and any container
    of a head layer left out): putting each in evaluation mode reaches every backbone layer and
    no head layer."""
    head = set(_unwrapped_with_head(model).head.modules())
    return (
        module
        for module in backbone_modules(model)
        if not any(inner in head for inner in module.modules())
    )


def freeze_backbone(model: nn.Module) -> None:
    """Stop gradients to every backbone parameter. Call it before the model is wrapped for
    distributed training, which records at wrapping time which parameters take gradients."""
    for module in backbone_modules(model):
        for parameter in module.parameters(recurse=False):
            parameter.requires_grad_(False)


def _unwrapped_with_head(model: nn.Module) -> nn.Module:
    model = getattr(model, "module", model)
    if not isinstance(getattr(model, "head", None), nn.Module):
        raise InvalidValueError(
            f"{type(model).__name__} has no `head` module, so it has no backbone to reuse or freeze"
        )
    return model


def load_backbone(model: nn.Module, run_dir: Path) -> list[str]:
    """Copy every backbone tensor of the run in ``run_dir`` into ``model``; the head keeps its
    fresh initialisation. Returns the names copied.

    Both models must share their backbone: same names and shapes (the same model with the same
    options and input channels); anything else is refused, naming the first difference.
    """
    weights, description = read_model(run_dir)
    target = getattr(model, "module", model)
    state = target.state_dict()
    names = [name for name in state if not name.startswith("head.")]
    for name in names:
        if name not in weights or weights[name].shape != state[name].shape:
            found = tuple(weights[name].shape) if name in weights else "no such tensor"
            raise InvalidValueError(
                f"invalid value for argument `finetune`: the backbone of {run_dir} "
                f"(model {description['model']!r}) does not fit this model: `{name}` should "
                f"have shape {tuple(state[name].shape)}, got {found}. Use the same model, "
                "options and input channels as that run."
            )
    target.load_state_dict({**state, **{name: weights[name] for name in names}})
    return names
