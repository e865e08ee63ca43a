"""The shared model of a run: ``model.safetensors`` (weights) and ``model.json`` (how to rebuild
the model and feed it). Reading them unpickles nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from convrec.errors import InvalidValueError, PathNotFoundError
from convrec.files import write_bytes, write_json
from convrec.run_files import check_tree, read_json


def save_model(directory: Path, model: nn.Module, description: dict[str, Any]) -> None:
    """``model.safetensors`` (weights) and ``model.json`` (how to rebuild and feed the model)."""
    tensors = {
        name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()
    }
    write_bytes(directory / "model.safetensors", save(tensors))
    write_json(directory / "model.json", description)


def read_model(directory: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The weights and the description :func:`save_model` wrote; nothing is unpickled.

    Raises:
        PathNotFoundError: the directory does not exist.
        InvalidValueError: a file is missing, or is damaged (truncated, a bit flipped, a header
            out of bounds) or not what its name says; the message names it.
    """
    if not directory.is_dir():
        raise PathNotFoundError(
            f"invalid value for argument `run_dir`: {directory} does not exist"
            if not directory.exists()
            else f"invalid value for argument `run_dir`: expected a run directory, got the "
            f"file {directory}"
        )
    for name in ("model.safetensors", "model.json"):
        if not (directory / name).is_file():
            raise InvalidValueError(
                f"invalid value for argument `run_dir`: {directory} has no {name}; "
                "is it a finished convrec run directory?"
            )
    check_tree(directory, depth=1)  # no link or special file in place of these two
    try:
        weights = load_file(directory / "model.safetensors")
    except SafetensorError as error:
        raise _damaged(directory / "model.safetensors", "safetensors file", error) from None
    try:
        description = read_json(directory / "model.json")
    except InvalidValueError as error:
        raise _damaged(directory / "model.json", "JSON file", error) from None
    if not isinstance(description, dict):
        raise _damaged(directory / "model.json", "JSON object", type(description).__name__)
    return weights, description


def _damaged(path: Path, expected: str, error: object) -> InvalidValueError:
    return InvalidValueError(
        f"invalid value for argument `run_dir`: expected a readable {expected} at {path}, got "
        f"a damaged one ({error}); copy the run directory again or train anew"
    )
