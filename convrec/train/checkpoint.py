"""Checkpoints (everything to resume) and the shared model (safetensors weights plus JSON).

Checkpoints are written through Fabric to a temporary file and renamed into place, so a crash
never leaves half a checkpoint where a good one was; they load with ``weights_only=True``, which
refuses pickled code. The shared model never unpickles anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save
from torch import nn

from convrec.files import write_bytes, write_json
from convrec.train.loop import Loop


def save_checkpoint(loop: Loop, path: Path) -> None:
    """Model, optimizer, scheduler, loop state and the random-number state, atomically."""
    temporary = path.with_name(f".{path.name}.tmp")
    loop.fabric.save(
        temporary,
        {
            "model": loop.model,
            "optimizer": loop.optimizer,
            "scheduler": loop.scheduler.state_dict(),
            "fit": loop.state.state_dict(),
            "rng": torch.get_rng_state(),
        },
    )
    if loop.fabric.is_global_zero:
        os.replace(temporary, path)
    loop.fabric.barrier()


def load_checkpoint(loop: Loop, path: Path) -> None:
    """Restore everything :func:`save_checkpoint` wrote into ``loop``."""
    if not path.is_file():
        raise ValueError(f"invalid value for argument `resume`: no checkpoint at {path}")
    rest = loop.fabric.load(
        path, {"model": loop.model, "optimizer": loop.optimizer}, weights_only=True
    )
    loop.scheduler.load_state_dict(rest["scheduler"])
    loop.state.load_state_dict(rest["fit"])
    torch.set_rng_state(rest["rng"])


def load_model_weights(model: nn.Module, path: Path) -> None:
    """Load only the model's weights from a checkpoint (e.g. ``best.ckpt``)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])


def save_model(directory: Path, model: nn.Module, description: dict[str, Any]) -> None:
    """``model.safetensors`` (weights) and ``model.json`` (how to rebuild and feed the model)."""
    tensors = {
        name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()
    }
    write_bytes(directory / "model.safetensors", save(tensors))
    write_json(directory / "model.json", description)


def read_model(directory: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The weights and the description :func:`save_model` wrote."""
    for name in ("model.safetensors", "model.json"):
        if not (directory / name).is_file():
            raise ValueError(
                f"invalid value for argument `run_dir`: {directory} has no {name}; "
                "is it a finished convrec run directory?"
            )
    return load_file(directory / "model.safetensors"), json.loads(
        (directory / "model.json").read_text()
    )
