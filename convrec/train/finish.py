"""The end of a run: the best weights evaluated on every test set, the shared model written with
what prediction needs, and the run's pictures drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from convrec.diagnose.inspection import inspect_model
from convrec.diagnose.plots import plot_learning_curves
from convrec.files import write_json
from convrec.tasks import Task, TaskData
from convrec.train.config import TrainConfig
from convrec.train.loop import FitState
from convrec.train.model_files import save_model

EXAMPLE_ITEMS = 256
"""Test items whose median length is recorded as the model's example length."""


def finish_run(
    directory: Path,
    config: TrainConfig,
    task: Task,
    model: nn.Module,
    data: TaskData,
    state: FitState,
    train_seconds: float,
) -> dict[str, Any]:
    """Calibrate the task on the best weights (:meth:`~convrec.tasks.base.Task.calibrate`),
    write the shared model, draw the plots, evaluate; return the metrics."""
    model.eval()
    task.calibrate(model, data)
    test = next(iter(data.tests.values()))
    save_model(
        directory,
        model,
        {
            "task": config.task,
            "task_options": config.task_options,
            "task_state": task.state(),
            "model": config.model,
            "model_options": config.model_options,
            "model_arguments": task.model_arguments(),
            "input_columns": list(task.input_columns),
            "output_columns": list(task.output_columns),
            "example_length": example_length(task, test),
        },
    )
    summary = task.data_summary()
    if summary is not None:
        write_json(directory / "data.json", summary)
    plot_learning_curves(state.history, directory / "learning_curves.png", task.curve_metric)
    task.plot(model, data, directory)
    inspect_model(model, task, test, directory)
    return {
        "task": config.task,
        "model": config.model,
        "epochs": state.epoch,
        "best_epoch": state.best_epoch,
        "validation_loss": state.best_loss,
        "train_seconds": round(train_seconds, 2),
        "test": {name: task.evaluate(model, dataset) for name, dataset in data.tests.items()},
    }


def example_length(task: Task, dataset: Dataset) -> int | None:
    """The median length of (up to :data:`EXAMPLE_ITEMS` of) the model-ready inputs of
    ``dataset`` where the model's time axis is open, for summaries of the run; None where every
    input has the same shape."""
    if None not in task.input_shape:
        return None
    count = min(len(dataset), EXAMPLE_ITEMS)
    items = [dataset[index] for index in range(count)]
    inputs, _ = task.collate(items)
    lengths = batch_lengths(inputs)
    return int(sorted(lengths)[len(lengths) // 2])


def batch_lengths(inputs: Any) -> list[int]:
    """The lengths of a collated batch: a ``Padded`` batch's own, else its time axis."""
    lengths = getattr(inputs, "lengths", None)
    if lengths is not None:
        return [int(length) for length in lengths]
    return [int(inputs.shape[1])] * int(inputs.shape[0])
