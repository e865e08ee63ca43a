"""What a task is: its data, its loss, its metrics, its pictures; and the task registry."""

from __future__ import annotations

import csv
import io
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from torch import Tensor, nn
from torch.utils.data import Dataset

from convrec.checks import keyword_names, known_options, takes_any_keyword, unknown_name
from convrec.data.sequences import collate_padded
from convrec.errors import InvalidValueError
from convrec.nn import Padded
from convrec.plugins import load_entry_points

if TYPE_CHECKING:
    from convrec.tasks.exported import ExportSpec


@dataclass
class TaskData:
    """A task's splits: ``tests`` maps each test set's name to its dataset."""

    train: Dataset
    validation: Dataset
    tests: dict[str, Dataset]


class Task(ABC):
    """A recipe: data, default model and training options, loss, metrics and plots.

    A task object also carries what a trained model needs at prediction time (input
    normalisation statistics, a vocabulary) in :meth:`state`, saved in ``model.json``.

    ``models`` maps each model the recipe is tuned for to its training options (any
    :class:`~convrec.train.TrainConfig` key, ``model_options`` included), which override
    ``training_defaults``; ``default_model`` is one of them.

    ``curve_metric`` names the metric of :meth:`evaluate` measured on the validation split
    after every epoch, written to ``history.csv`` and drawn beside the learning curves.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    default_model: ClassVar[str]
    training_defaults: ClassVar[dict[str, Any]] = {}
    models: ClassVar[dict[str, dict[str, Any]]] = {}
    input_columns: ClassVar[tuple[str, ...]] = ()
    output_columns: ClassVar[tuple[str, ...]] = ()
    outputs_per_step: ClassVar[bool] = False  # a prediction per input step, not per input
    seconds_per_step: ClassVar[float | None] = None  # time between input steps, if known
    curve_metric: ClassVar[str | None] = None  # a key of evaluate(), drawn per epoch

    @property
    @abstractmethod
    def input_kind(self) -> str:
        """``'image'``, ``'sequence'`` or ``'tokens'`` (see :mod:`convrec.models.registry`)."""

    @property
    @abstractmethod
    def input_shape(self) -> tuple[int | None, ...]:
        """One input's shape: ``(C, H, W)``, ``(T, F)`` or ``(T,)``; ``T`` None if it varies."""

    @property
    @abstractmethod
    def output_size(self) -> int:
        """Outputs per sequence (classes, forecast steps) or per step."""

    def model_arguments(self) -> dict[str, Any]:
        """What :func:`convrec.models.create` needs to know of the data."""
        return {
            "input_shape": self.input_shape,
            "output_size": self.output_size,
            "input_kind": self.input_kind,
        }

    def collate(self, items: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        """Batch ``(input, target)`` items; variable-length inputs become a :class:`Padded`."""
        return collate_padded(items)

    @abstractmethod
    def build_data(self, seed: int) -> TaskData:
        """Make or read the splits (and fit the normalisation on the training split)."""

    @abstractmethod
    def loss(self, prediction: Tensor | Padded, target: Tensor | Padded) -> Tensor:
        """The training loss of a batch."""

    @abstractmethod
    def evaluate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:
        """Metrics of ``model`` on one split."""

    def calibrate(self, model: nn.Module, data: TaskData) -> None:
        """Fit what prediction needs of the trained model besides its weights (an alarm
        threshold chosen on validation data), before :meth:`state` is saved; nothing by
        default."""
        return None

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

    def export_spec(self) -> ExportSpec:
        """What :meth:`predict` does around the model, in tensor operations, for export (see
        :mod:`convrec.tasks.exported`); after :meth:`build_data` or :meth:`load_state`.

        Raises:
            InvalidValueError: this task prepares its inputs in ways a graph does not hold.
        """
        raise InvalidValueError(
            f"{self.name}: its prediction has no export form: the inputs are prepared in "
            "Python in ways the exported graph does not hold; use convrec.load(RUN).predict"
        )

    def export_metadata(self) -> dict[str, Any]:
        """What a user of an exported model needs besides the graph (JSON-serialisable)."""
        return {
            "task": self.name,
            "input_kind": self.input_kind,
            "input_shape": list(self.input_shape),
            "input_columns": list(self.input_columns),
            "output_columns": list(self.output_columns),
            "outputs_per_step": self.outputs_per_step,
        }

    def model_defaults(self, model: str, model_options: Sequence[str]) -> dict[str, Any]:
        """Options the model ``model`` (which takes ``model_options``) needs for this task's
        data, set beneath the recipe's and the user's (e.g. a read-out per step); refusing a
        model that cannot fit raises :class:`~convrec.errors.InvalidValueError`."""
        return {}

    def data_summary(self) -> dict[str, Any] | None:
        """After :meth:`build_data`: the split sizes, class counts and imbalance, written to the
        run's ``data.json`` and printed; None where there is nothing worth saying."""
        return None

    @classmethod
    def options(cls) -> tuple[str, ...] | None:
        """The task's own keyword options (``create_task`` refuses others); None if unknown."""
        return None if takes_any_keyword(cls.__init__) else keyword_names(cls.__init__)


def text_table(header: tuple[str, str], names: Sequence[str], texts: Sequence[str]) -> str:
    """A two-column CSV: ``header``, then each input's name and its prediction as text.

    Example:
        >>> print(text_table(("id", "digits"), ["a.wav"], ["4192"]), end="")
        id,digits
        a.wav,4192
    """
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(names, texts, strict=True))
    return rows.getvalue()


_TASKS: dict[str, type[Task]] = {}


def register_task(task_class: type[Task]) -> type[Task]:
    """Class decorator adding a task to the registry under its ``name`` (public: plugins
    register theirs with it, see :mod:`convrec.plugins`).

    Raises:
        InvalidValueError: another class is registered under that name.
    """
    known = _TASKS.get(task_class.name)
    same = (known.__module__, known.__qualname__) if known is not None else None
    if known is not None and same != (task_class.__module__, task_class.__qualname__):
        raise InvalidValueError(
            f"task {task_class.name!r} is registered twice: by {known.__module__}."
            f"{known.__qualname__} and by {task_class.__module__}.{task_class.__qualname__}"
        )
    _TASKS[task_class.name] = task_class
    return task_class


def available_tasks() -> list[type[Task]]:
    """Every registered task, installed plugins' included, sorted by name."""
    load_entry_points()
    return [_TASKS[name] for name in sorted(_TASKS)]


def task_class(name: str) -> type[Task]:
    """The class of the task ``name`` (installed plugins are imported the first time a name is
    not known); an unknown name lists the valid ones."""
    if name not in _TASKS:
        load_entry_points()
    if name not in _TASKS:
        raise unknown_name("task", name, list(_TASKS))
    return _TASKS[name]


def create_task(name: str, **options: Any) -> Task:
    """The task ``name`` with its options; an unknown name lists the valid ones."""
    task_type = task_class(name)
    known_options(name, "task_options", options, task_type.options())
    return task_type(**options)
