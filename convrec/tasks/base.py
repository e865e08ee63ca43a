"""What a task is: its data, its loss, its metrics, its pictures; and the task registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch import Tensor, nn
from torch.utils.data import Dataset

from convrec.nn import Padded
from convrec.nn.checks import unknown_name


@dataclass
class TaskData:
    """A task's splits: ``tests`` maps each test set's name to its dataset."""

    train: Dataset
    validation: Dataset
    tests: dict[str, Dataset]


class Task(ABC):
    """A recipe: data, default model and training options, loss, metrics and plots.

    A task object also carries what a trained model needs at prediction time (input
    normalisation statistics) in :meth:`state`, saved in ``model.json``.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    default_model: ClassVar[str]
    training_defaults: ClassVar[dict[str, Any]] = {}
    model_defaults: ClassVar[dict[str, Any]] = {}
    input_columns: ClassVar[tuple[str, ...]]
    output_columns: ClassVar[tuple[str, ...]]

    @property
    @abstractmethod
    def input_size(self) -> int:
        """Features per step the model receives."""

    @property
    @abstractmethod
    def output_size(self) -> int:
        """Outputs per step (or per sequence) the model gives."""

    @abstractmethod
    def build_data(self, seed: int) -> TaskData:
        """Make or read the splits (and fit the normalisation on the training split)."""

    @abstractmethod
    def loss(self, prediction: Tensor | Padded, target: Tensor | Padded) -> Tensor:
        """The training loss of a batch."""

    @abstractmethod
    def evaluate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:
        """Metrics of ``model`` on one split."""

    @abstractmethod
    def plot(self, model: nn.Module, data: TaskData, directory: Path) -> list[Path]:
        """The task's own pictures as PNG files in ``directory``."""

    @abstractmethod
    def predict(self, model: nn.Module, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Predictions for raw input sequences ``(T_i, len(input_columns))``."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """What prediction needs besides the weights (JSON-serialisable)."""

    @abstractmethod
    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`."""


_TASKS: dict[str, type[Task]] = {}


def register_task(task_class: type[Task]) -> type[Task]:
    """Class decorator adding a task to the registry under its ``name``."""
    _TASKS[task_class.name] = task_class
    return task_class


def available_tasks() -> list[type[Task]]:
    return [_TASKS[name] for name in sorted(_TASKS)]


def create_task(name: str, **options: Any) -> Task:
    """The task ``name`` with its options; an unknown name lists the valid ones."""
    if name not in _TASKS:
        raise unknown_name("task", name, list(_TASKS))
    return _TASKS[name](**options)
