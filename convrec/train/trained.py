"""A trained model read back from its run directory, for prediction and evaluation. Loading one
needs neither Lightning nor the data it was trained on, and unpickles nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from convrec.models import create
from convrec.tasks import Task, create_task
from convrec.train.config import read_config_file
from convrec.train.model_files import read_model


@dataclass
class TrainedModel:
    """A model read back from a run directory, with its task (for input features)."""

    model: nn.Module
    task: Task
    description: dict[str, Any]

    def predict(self, sequences: list[np.ndarray]) -> list[np.ndarray]:
        """Predictions for raw input sequences, each ``(T_i, len(input_columns))``."""
        return self.task.predict(self.model, sequences)


def load(run_dir: str | Path) -> TrainedModel:
    """Read ``model.safetensors`` and ``model.json`` of a run; nothing is unpickled."""
    weights, description = read_model(Path(run_dir))
    task = create_task(description["task"], **description["task_options"])
    task.load_state(description["task_state"])
    model = create(
        description["model"], **description["model_arguments"], **description["model_options"]
    )
    model.load_state_dict(weights)
    return TrainedModel(model.eval(), task, description)


def evaluate(run_dir: str | Path) -> dict[str, dict[str, float]]:
    """Metrics of a run's model on its task's test sets, rebuilt from the run's seed."""
    trained = load(run_dir)
    config = read_config_file(Path(run_dir) / "config.yaml")
    data = trained.task.build_data(config["seed"])
    return {
        name: trained.task.evaluate(trained.model, dataset) for name, dataset in data.tests.items()
    }
