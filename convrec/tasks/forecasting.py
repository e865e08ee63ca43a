"""Forecasting: from a window of the past ``(lookback, features)`` to the next ``horizon`` values
of the target series; mean squared error on the standardised scale, errors reported in the
series' own units."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from convrec.data.splits import Pairs, Splits
from convrec.errors import InvalidValueError
from convrec.nn import Padded
from convrec.tasks.base import TaskData
from convrec.tasks.dataset import DatasetTask, evaluating, materialised
from convrec.tasks.exported import ExportSpec


class Forecasting(DatasetTask):
    """Multi-step forecasts of one column of a series (the loader standardises every column with
    statistics of the training part; the target is column ``info['target']``)."""

    standardise = False
    curve_metric = "mae"

    def __init__(self, root: str | None = None, **dataset_options: Any) -> None:
        super().__init__(root, **dataset_options)
        self.horizon: int | None = None
        self.columns: tuple[str, ...] = ()
        self.series_mean: np.ndarray | None = None
        self.series_std: np.ndarray | None = None

    @property
    def output_size(self) -> int:
        return self._known(self.horizon)

    @property
    def input_columns(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.columns

    @property
    def output_columns(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(f"step_{step + 1}" for step in range(self.output_size))

    def inputs_of(self, dataset: Dataset) -> Pairs:
        return materialised(dataset)

    def learn_targets(self, splits: Splits) -> None:
        info = splits.info
        self.horizon = int(info["horizon"])
        self.columns = tuple(info["columns"])
        self.series_mean = np.asarray(info["mean"], dtype=np.float64)
        self.series_std = np.asarray(info["std"], dtype=np.float64)
        if info["target"] != self.columns[0]:
            raise InvalidValueError(f"{self.name}: the target must be the first column")

    def in_units(self, standardised: Tensor) -> np.ndarray:
        """Target values from the standardised scale back to the series' units."""
        return standardised.double().numpy() * self.series_std[0] + self.series_mean[0]

    def loss(self, prediction: Tensor | Padded, target: Tensor | Padded) -> Tensor:
        return F.mse_loss(prediction, target)

    def evaluate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:
        """Mean absolute and root-mean-square error over every window and step, in units."""
        predicted, true = self.outputs(model, dataset)
        errors = self.in_units(predicted) - self.in_units(true)
        return {
            "mae": float(np.abs(errors).mean()),
            "rmse": float(np.sqrt((errors**2).mean())),
        }

    def plot(self, model: nn.Module, data: TaskData, directory: Path) -> list[Path]:
        from convrec.diagnose.plots import plot_forecasts

        predicted, true = self.outputs(model, data.tests["test"])
        return [
            plot_forecasts(
                self.in_units(true),
                self.in_units(predicted),
                self.columns[0],
                directory / "forecasts.png",
            )
        ]

    def export_spec(self) -> ExportSpec:
        """Windows in units in, the next ``horizon`` values in units out (as :meth:`predict`)."""
        spec = super().export_spec()
        spec.mean = torch.from_numpy(self.series_mean)
        spec.std = torch.from_numpy(self.series_std)
        spec.scale = torch.from_numpy(self.series_std[:1])
        spec.shift = torch.from_numpy(self.series_mean[:1])
        spec.output_layout = f"(batch, {self.output_size}) float32 values in units"
        return spec

    def predict(self, model: nn.Module, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The next ``horizon`` values for each window ``(lookback, columns)`` in units."""
        windows = [
            (np.asarray(window, dtype=np.float64) - self.series_mean) / self.series_std
            for window in sequences
        ]
        batch = self.model_inputs([window.astype(np.float32) for window in windows])
        with evaluating(model) as device:
            output = model(batch.to(device)).float().cpu()
        return list(self.in_units(output))

    def state(self) -> dict[str, Any]:
        return super().state() | {
            "horizon": self.horizon,
            "columns": list(self.columns),
            "series_mean": self.series_mean.tolist(),
            "series_std": self.series_std.tolist(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.horizon = state["horizon"]
        self.columns = tuple(state["columns"])
        self.series_mean = np.asarray(state["series_mean"])
        self.series_std = np.asarray(state["series_std"])
