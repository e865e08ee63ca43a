"""A trained model read back from its run directory, for prediction and evaluation. Loading one
needs neither Lightning nor the data it was trained on, and unpickles nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from convrec.checks import brief
from convrec.errors import InvalidValueError, PathNotFoundError, UserError
from convrec.models import create, entry
from convrec.tasks import Task, create_task
from convrec.tasks.base import task_class
from convrec.tasks.streaming import Stream
from convrec.train.config import read_config_file
from convrec.train.model_files import read_model

DESCRIPTION_FIELDS = {
    "task": str,
    "task_options": dict,
    "task_state": dict,
    "model": str,
    "model_options": dict,
    "model_arguments": dict,
    "input_columns": list,
    "output_columns": list,
}
"""The fields of ``model.json`` and their JSON types."""


@dataclass
class TrainedModel:
    """A model read back from a run directory, with its task (for input features)."""

    model: nn.Module
    task: Task
    description: dict[str, Any]

    def predict(self, sequences: list[np.ndarray]) -> list[np.ndarray]:
        """Predictions for raw input sequences, each ``(T_i, len(input_columns))``.

        Raises:
            InvalidValueError: a prediction is NaN or infinite (the inputs were finite, so the
                run's weights or statistics are not what training left).
        """
        predictions = self.task.predict(self.model, sequences)
        for index, prediction in enumerate(predictions):
            if not np.all(np.isfinite(prediction)):
                raise InvalidValueError(
                    f"the prediction for sequence {index} is not finite although its input is; "
                    "the run's weights or input statistics are damaged: copy the run directory "
                    "again or train anew"
                )
        return predictions

    def stream(self, every_step: bool = False) -> Stream:
        """Feed one sequence chunk by chunk with explicit state (causal models; see
        :mod:`convrec.tasks.streaming`); ``every_step``: a many-to-one model's output after
        every step, not only the last."""
        return Stream(self.model, self.task.export_spec(), every_step)


def load(run_dir: str | Path) -> TrainedModel:
    """Read ``model.safetensors`` and ``model.json`` of a run; nothing is unpickled.

    ``model.json`` is checked before anything is built from it: its fields and their types,
    every size in it against the number of values ``model.safetensors`` holds (a tampered
    ``hidden_size`` of 20,000 would otherwise allocate gigabytes before any check), the
    weights' names and shapes against the model it describes, and every weight and input
    statistic for being finite (and standard deviations positive).

    Raises:
        PathNotFoundError: no run directory at ``run_dir``.
        InvalidValueError: a file is missing, damaged, or does not describe its weights; the
            message names the file and what is wrong.
    """
    directory = Path(run_dir)
    weights, description = read_model(directory)
    json_path = directory / "model.json"
    _check_fields(description, json_path)
    _check_registered(description, json_path)
    _check_sizes(description, weights, json_path)
    try:
        task = create_task(description["task"], **description["task_options"])
        task.load_state(description["task_state"])
        model = create(
            description["model"], **description["model_arguments"], **description["model_options"]
        )
        model.load_state_dict(weights)
    except UserError:  # an unknown task or model, a bad option: already says what is wrong
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise InvalidValueError(
            f"{json_path} does not describe the weights beside it or the task it names "
            f"({type(error).__name__}: {brief(error)}); copy the run directory again or train anew"
        ) from None
    _check_finite(weights, description["task_state"], directory)
    return TrainedModel(model.eval(), task, description)


def _check_registered(description: dict[str, Any], path: Path) -> None:
    """The run's task and model are known here, or the message says how to make them known
    (a run directory never names code to import: it is untrusted input)."""
    for kind, lookup in (("task", task_class), ("model", entry)):
        try:
            lookup(description[kind])
        except InvalidValueError as error:
            raise InvalidValueError(
                f"{path}: the run's {kind} {brief(repr(description[kind]))} is not registered "
                f"here; if a plugin defines it, install its package or run convrec --import "
                f"MODULE (or import it before convrec.load). {error}"
            ) from None


def _check_fields(description: dict[str, Any], path: Path) -> None:
    for name, kind in DESCRIPTION_FIELDS.items():
        if not isinstance(description.get(name), kind):
            raise InvalidValueError(
                f"{path}: expected the field `{name}` holding a {kind.__name__}, got "
                f"{brief(repr(description.get(name)))}"
            )


def _check_sizes(description: dict[str, Any], weights: dict[str, Tensor], path: Path) -> None:
    """No whole number in the model's description may exceed the values its weights hold: a
    layer of size ``n`` has at least ``n`` of them, a stack of ``n`` layers ``n`` tensors."""
    held = sum(weight.numel() for weight in weights.values())
    for name, value in _integers(
        {"model_options": description["model_options"], **description["model_arguments"]}
    ):
        if value > held:
            raise InvalidValueError(
                f"{path}: `{name}` is {value}, more than the {held} values model.safetensors "
                "holds; the description does not fit its weights"
            )


def _integers(value: Any, name: str = "") -> list[tuple[str, int]]:
    """Every whole number (ints and integral floats) in nested dicts and lists, with its path."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return [(name, int(value))]
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            for found in _integers(item, f"{name}.{key}".strip("."))
        ]
    if isinstance(value, list | tuple):
        return [
            found
            for index, item in enumerate(value)
            for found in _integers(item, f"{name}[{index}]")
        ]
    return []


def _check_finite(weights: dict[str, Tensor], state: dict[str, Any], directory: Path) -> None:
    for name, weight in weights.items():
        if weight.is_floating_point() and not bool(torch.isfinite(weight).all()):
            raise InvalidValueError(
                f"{directory / 'model.safetensors'}: the weight `{name}` holds NaN or infinite "
                "values; copy the run directory again or train anew"
            )
    for name, values in state.items():
        numbers = np.asarray(_numbers(values) or [], dtype=float)
        if numbers.size == 0:
            continue
        if not np.all(np.isfinite(numbers)) or (name.endswith("std") and np.any(numbers <= 0)):
            expected = "positive finite values" if name.endswith("std") else "finite values"
            raise InvalidValueError(
                f"{directory / 'model.json'}: expected {expected} in the input statistics "
                f"`task_state.{name}`, got {brief(values)}"
            )


def _numbers(values: Any) -> list[float] | None:
    """The numbers of a number or a nested list of numbers only (ragged or not); None for
    anything else (text, mappings, booleans)."""
    if isinstance(values, bool):
        return None
    if isinstance(values, int | float):
        return [float(values)]
    if not isinstance(values, list):
        return None
    found: list[float] = []
    for item in values:
        inner = _numbers(item)
        if inner is None:
            return None
        found += inner
    return found


def evaluate(run_dir: str | Path, data: str | Path | None = None) -> dict[str, dict[str, float]]:
    """Metrics of a run's model on its task's test sets, rebuilt from the run's seed; or, with
    ``data``, on that file of labelled data of the run's kind (a task on the user's own files),
    or, for a recipe, its test sets read from the folder ``data`` (its dataset's files, moved
    since training from where ``task_options.root`` says).

    Raises:
        InvalidValueError: ``data`` given for a run whose task reads neither.
        PathNotFoundError: the run's data is not where ``task_options.root`` says (the message
            says how to give its new place).
    """
    trained = load(run_dir)
    task = trained.task
    root = getattr(task, "root", None)
    if data is not None and hasattr(task, "labelled_data"):
        pairs = task.labelled_data(data)
        return {Path(data).name: task.evaluate(trained.model, pairs)}
    if data is not None:
        if not hasattr(task, "root"):
            raise InvalidValueError(
                f"invalid value for option `data`: a run of {trained.description['task']!r} "
                "makes its own test sets; --data is for your own data or a recipe's files"
            )
        task.root = str(Path(data).absolute())
    config = read_config_file(Path(run_dir) / "config.yaml")
    try:
        built = task.build_data(config["seed"])
    except PathNotFoundError as error:
        if data is not None or root is None:
            raise
        raise PathNotFoundError(
            f"{error} The run read its data from {root} (task_options.root); if the files "
            f"have moved, say where they are now: convrec evaluate {run_dir} --data FOLDER"
        ) from None
    return {name: task.evaluate(trained.model, dataset) for name, dataset in built.tests.items()}
