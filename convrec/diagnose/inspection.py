"""The pictures and measurements of a trained model that any task gets: the first convolution's
filters and feature maps, and the gradient flow through time of its recurrent layers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from convrec.diagnose.features import plot_first_convolution
from convrec.diagnose.gradient_flow import RecurrentFlow, gradient_flow, recurrent_modules
from convrec.diagnose.plots import plot_gradient_flow
from convrec.files import write_json

FILTER_EXAMPLES = 4


def example_batch(
    task: Any, dataset: Dataset, size: int, device: Any = "cpu", indices: list[int] | None = None
) -> tuple[Any, Any]:
    """The items ``indices`` (default: the first ``size``) of ``dataset``, batched by the task,
    on ``device``."""
    chosen = indices if indices is not None else range(min(size, len(dataset)))
    inputs, targets = task.collate([dataset[index] for index in chosen])
    return inputs.to(device), targets.to(device)


def varied_indices(dataset: Dataset, count: int) -> list[int]:
    """Up to ``count`` items to show: the first of each of ``count`` different classes where the
    dataset's ``targets`` are class ids (a test split sorted by class would otherwise show one
    class), else items spread evenly over the dataset."""
    total = len(dataset)
    spread = list(dict.fromkeys(index * total // count for index in range(min(count, total))))
    targets = getattr(dataset, "targets", None)
    if not isinstance(targets, torch.Tensor | np.ndarray):  # none, or per-step targets
        return spread
    labels = np.asarray(targets)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        return spread
    _, first = np.unique(labels, return_index=True)
    chosen = sorted(int(index) for index in first[:count])
    return chosen + [index for index in spread if index not in chosen][: count - len(chosen)]


def inspect_model(
    model: nn.Module, task: Any, dataset: Dataset, directory: Path, sequences: int = 32
) -> list[Path]:
    """Write ``first_convolution.png`` (if the model convolves) and, for recurrent models,
    ``gradient_flow.json`` and ``gradient_flow.png`` measured on the first ``sequences`` items.

    Args:
        model: a trained model.
        task: its :class:`convrec.tasks.Task` (batches items, gives the loss).
        dataset: model-ready ``(input, target)`` items, e.g. the test split.
        directory: where the files go.
        sequences: how many items the gradient flow is averaged over.

    Returns:
        The files written.
    """
    device = next(model.parameters()).device
    written = []
    shown = varied_indices(dataset, FILTER_EXAMPLES)
    examples, _ = example_batch(task, dataset, FILTER_EXAMPLES, device, shown)
    picture = plot_first_convolution(model, examples, directory / "first_convolution.png")
    if picture is not None:
        written.append(picture)
    if recurrent_modules(model):
        inputs, targets = example_batch(task, dataset, sequences, device)
        flows = gradient_flow(model, inputs, targets, task.loss)
        written.append(write_flows(flows, directory / "gradient_flow.json"))
        written.append(plot_gradient_flow(flows, directory / "gradient_flow.png"))
    return written


def write_flows(flows: list[RecurrentFlow], path: Path) -> Path:
    return write_json(path, [flow.to_dict() for flow in flows])
