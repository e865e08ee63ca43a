"""Your own series with numeric targets: ``convrec train series-regression --data FILE``.

The file (see :mod:`convrec.data.series_targets`) gives the series and their targets, one set
per series (``per_step=false``, the default: e.g. a battery's capacity from its charging curve)
or one per step (``per_step=true``: e.g. a joint's torque from the motion so far). Inputs are
standardised per channel (or each series by its own) and targets per column, with the training
split's statistics; the loss is the mean squared error on that scale (per step: each sequence
over its own length, :func:`~convrec.nn.sequence_mse`), and the metrics are in the targets' own
units: mean absolute error, root-mean-square error and R^2 (one minus the squared error over
the targets' variance), over every target value. A given ``--test`` (``--validation``) file is
used as it is; otherwise seeded random holdouts of ``test_split`` and ``validation_split``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from convrec.checks import fail, flag, keyword_names, one_of
from convrec.data.series_targets import TargetTable, read_series_targets
from convrec.data.splits import Pairs, Splits, holdout
from convrec.errors import InvalidValueError
from convrec.nn import Padded
from convrec.nn.losses import sequence_mse
from convrec.tasks.base import TaskData, register_task
from convrec.tasks.dataset import DatasetTask, evaluating, standardised
from convrec.tasks.exported import ExportSpec
from convrec.tasks.files import require_paths, split_fraction
from convrec.tasks.series import STANDARDISATIONS

REGRESSION_MODELS: dict[str, dict[str, Any]] = {
    "gru": {"epochs": 150, "batch_size": 16, "lr": 3e-3, "model_options": {"num_layers": 1}},
    "lstm": {"epochs": 150, "batch_size": 16, "lr": 3e-3, "model_options": {"num_layers": 1}},
    "fcn": {"epochs": 150, "batch_size": 16, "lr": 1e-3},
    "resnet": {"epochs": 150, "batch_size": 16, "lr": 1e-3},
}
"""Training options per model; recurrent models read out per step or pool per series, as the
task needs (:meth:`SeriesRegression.model_defaults`)."""
ROLES = ("data", "validation", "test")


@register_task
class SeriesRegression(DatasetTask):
    """Regression of numeric targets from a user's own series.

    Args:
        data, test, validation: files of series with targets (``.csv``, ``.npz``, ``.ts``).
        target_columns: the target columns (one name or a list); default ``['target']``.
        per_step: a target per step (else per series).
        id_column, time_column: CSV columns (see :func:`read_series_targets`).
        standardise: ``'channel'``, ``'series'`` or ``'none'`` (as the ``series`` kind).
        validation_split, test_split: the fractions held out at random when no file is given.
    """

    name = "series-regression"
    description = "your own series with numeric targets (--data FILE), per series or per step"
    default_model = "gru"
    models: ClassVar[dict[str, dict[str, Any]]] = REGRESSION_MODELS
    curve_metric = "mae"

    def __init__(
        self,
        data: str | None = None,
        test: str | None = None,
        validation: str | None = None,
        target_columns: str | list[str] = "target",
        per_step: bool = False,
        id_column: str | None = None,
        time_column: str | None = None,
        standardise: str = "channel",
        validation_split: float = 0.2,
        test_split: float = 0.2,
    ) -> None:
        super().__init__()
        self.paths = {"data": data, "test": test, "validation": validation}
        names = [target_columns] if isinstance(target_columns, str) else target_columns
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise fail(self.name, "target_columns", "a column name or a list", repr(names))
        flag(self.name, "per_step", per_step)
        self.target_columns = tuple(names)
        self.outputs_per_step = per_step
        self.columns = {"id_column": id_column, "time_column": time_column}
        one_of(self.name, "standardise", standardise, STANDARDISATIONS)
        self.standardise_each_series = standardise == "series"
        self.standardise = standardise != "none"
        self.fractions = {
            "validation": split_fraction(self.name, "validation_split", validation_split),
            "test": split_fraction(self.name, "test_split", test_split),
        }
        self.channels: tuple[str, ...] = ()
        self.target_mean: np.ndarray | None = None
        self.target_std: np.ndarray | None = None
        self.summary: dict[str, Any] | None = None

    @classmethod
    def options(cls) -> tuple[str, ...] | None:
        return keyword_names(cls.__init__)

    def model_defaults(self, model: str, model_options: Sequence[str]) -> dict[str, Any]:
        """A recurrent model reads out every step for targets per step, else pools over time;
        targets per step need a model that reads out every step."""
        if "return_sequences" not in model_options:
            if self.outputs_per_step:
                raise InvalidValueError(
                    f"{self.name}: targets per step need a model with an output per step "
                    f"(gru, lstm, rnn), got {model!r}"
                )
            return {}
        if self.outputs_per_step:
            return {"return_sequences": True, "pooling": "last"}
        return {"return_sequences": False, "pooling": "mean"}

    @property
    def output_size(self) -> int:
        return len(self.target_columns)

    @property
    def input_columns(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.channels

    @property
    def output_columns(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.target_columns

    def read(self, path: str | Path, labelled: bool = True) -> TargetTable:
        """The series (and targets) of one file, read with this task's columns."""
        return read_series_targets(
            path,
            target_columns=self.target_columns,
            per_step=self.outputs_per_step,
            labelled=labelled,
            **self.columns,
        )

    def _labelled(self, path: str | Path, role: str) -> TargetTable:
        table = self.read(path)
        if role == "data":
            self.channels, self.target_columns = table.channels, table.target_columns
        elif table.channels != self.channels or table.target_columns != self.target_columns:
            raise InvalidValueError(
                f"{self.name}: the {role} file {table.source} has the channels "
                f"{', '.join(table.channels)} and targets {', '.join(table.target_columns)}; "
                f"the data file {', '.join(self.channels)} and "
                f"{', '.join(self.target_columns)}"
            )
        return table

    def _pairs(self, table: TargetTable) -> Pairs:
        """Inputs and targets in their units (float64 targets, scaled by :meth:`_scaled`)."""
        inputs = [torch.from_numpy(item.astype(np.float32)) for item in table.series]
        targets = [torch.from_numpy(np.asarray(target, np.float64)) for target in table.targets]
        if self.outputs_per_step:
            return Pairs(inputs, targets)  # type: ignore[arg-type]
        return Pairs(inputs, torch.stack(targets))

    def _scaled(self, pairs: Pairs) -> Pairs:
        """The pairs with float32 targets on the training split's scale."""
        mean, std = torch.from_numpy(self.target_mean), torch.from_numpy(self.target_std)
        if isinstance(pairs.targets, Tensor):
            return Pairs(pairs.inputs, ((pairs.targets - mean) / std).float())
        return Pairs(pairs.inputs, [((target - mean) / std).float() for target in pairs.targets])

    def load_splits(self, seed: int) -> Splits:
        if self.paths["data"] is None:
            raise fail(self.name, "data", "series with targets (--data FILE)", "none")
        require_paths(self.name, self.paths, "a file of series with targets")
        tables = {role: self._labelled(path, role) for role, path in self.paths.items() if path}
        pairs = {role: self._pairs(table) for role, table in tables.items()}
        for role in ("test", "validation"):
            if role not in pairs:
                pairs["data"], pairs[role] = self._hold_out(pairs["data"], role, seed)
        rows = torch.cat([target.reshape(-1, self.output_size) for target in pairs["data"].targets])
        self.target_mean = rows.mean(dim=0).numpy()
        spread = rows.std(dim=0, correction=0).numpy()
        self.target_std = np.where(spread > 0, spread, 1.0)
        pairs = {role: self._scaled(split) for role, split in pairs.items()}
        sizes = {
            split: len(pairs[role])
            for role, split in zip(ROLES, ("train", "validation", "test"), strict=True)
        }
        self.summary = {
            "sizes": sizes,
            "targets": {
                column: {"mean": float(m), "std": float(s)}
                for column, m, s in zip(
                    self.target_columns, self.target_mean, self.target_std, strict=True
                )
            },
        }
        lengths = {len(item) for split in pairs.values() for item in split.inputs}
        return Splits(
            self.name,
            pairs["data"],
            pairs["validation"],
            pairs["test"],
            info={"channels": list(self.channels), "targets": list(self.target_columns)},
            variable_length=len(lengths) > 1,
        )

    def _hold_out(self, pairs: Pairs, role: str, seed: int) -> tuple[Pairs, Pairs]:
        if len(pairs) < 3:
            raise InvalidValueError(
                f"{self.name}: {len(pairs)} series are too few to hold out a {role} split; "
                f"add more, or give a --{role} file"
            )
        kept, held = holdout(
            np.zeros(len(pairs), dtype=np.int64),
            self.fractions[role],
            seed + (role == "validation"),
            stratify=False,
        )
        if len(held) == 0 or len(kept) == 0:
            raise fail(
                self.name,
                f"{role}_split",
                f"a fraction that holds out some of the {len(pairs)} series and keeps some",
                self.fractions[role],
            )
        return pairs.subset(kept), pairs.subset(held)

    def data_summary(self) -> dict[str, Any] | None:
        return self.summary

    def in_units(self, scaled: Tensor | np.ndarray) -> np.ndarray:
        """Targets from the standardised scale ``(..., K)`` back to their units."""
        return np.asarray(scaled, dtype=np.float64) * self.target_std + self.target_mean

    def loss(self, prediction: Tensor | Padded, target: Tensor | Padded) -> Tensor:
        if self.outputs_per_step:
            return sequence_mse(prediction, target)
        return torch.nn.functional.mse_loss(prediction, target)

    def _valid_rows(self, model: nn.Module, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        """Every predicted and true target value ``(rows, K)`` of a split, padding left out."""
        predicted, true = [], []
        with evaluating(model) as device:
            for inputs, targets in DataLoader(dataset, batch_size=256, collate_fn=self.collate):
                output = model(inputs.to(device))
                for out, want in ((output, predicted), (targets, true)):
                    if isinstance(out, Padded):
                        want += [
                            row[:length].cpu()
                            for row, length in zip(out.data, out.lengths.tolist(), strict=True)
                        ]
                    else:
                        want.append(out.reshape(-1, self.output_size).cpu())
        return (
            torch.cat([item.reshape(-1, self.output_size) for item in predicted]).numpy(),
            torch.cat([item.reshape(-1, self.output_size) for item in true]).numpy(),
        )

    def evaluate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:
        """Mean absolute error, root-mean-square error and R^2 over every target value."""
        predicted, true = (self.in_units(rows) for rows in self._valid_rows(model, dataset))
        errors = predicted - true
        spread = ((true - true.mean(axis=0)) ** 2).sum()
        return {
            "mae": float(np.abs(errors).mean()),
            "rmse": float(np.sqrt((errors**2).mean())),
            "r2": float(1 - (errors**2).sum() / spread) if spread > 0 else float("nan"),
        }

    def plot(self, model: nn.Module, data: TaskData, directory: Path) -> list[Path]:
        from convrec.diagnose.plots import plot_predicted_against_true

        predicted, true = (
            self.in_units(rows) for rows in self._valid_rows(model, data.tests["test"])
        )
        return [
            plot_predicted_against_true(
                true, predicted, self.target_columns, directory / "predicted_vs_true.png"
            )
        ]

    def export_spec(self) -> ExportSpec:
        """As the dataset's, with the targets in their units (:meth:`in_units`)."""
        spec = super().export_spec()
        spec.scale = torch.from_numpy(self.target_std)
        spec.shift = torch.from_numpy(self.target_mean)
        spec.output_layout = spec.output_layout.replace("float32", "float32 values in units")
        return spec

    def predict(self, model: nn.Module, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Targets in units for each raw series: ``(K,)``, or ``(T_i, K)`` per step."""
        batch = self.model_inputs(sequences)
        with evaluating(model) as device:
            output = model(batch.to(device))
        if isinstance(output, Padded):
            rows = [
                row[:length]
                for row, length in zip(output.data, output.lengths.tolist(), strict=True)
            ]
        else:
            rows = list(output)
        return [self.in_units(row.cpu().numpy()) for row in rows]

    def labelled_data(self, path: str | Path) -> Pairs:
        """Series with targets at ``path``, model-ready, for ``convrec evaluate RUN --data``."""
        pairs = self._each_series(self._scaled(self._pairs(self._labelled(path, "evaluation"))))
        if self.mean is not None:
            pairs = standardised(pairs, self.mean, self.std)
        return pairs

    def prediction_inputs(self, path: str | Path) -> tuple[list[str], list[np.ndarray]]:
        table = self.read(path, labelled=False)
        if table.channels != self.channels:
            raise InvalidValueError(
                f"{self.name}: {table.source} has the channels {', '.join(table.channels)}; "
                f"the model reads {', '.join(self.channels)}"
            )
        return table.ids, table.series

    def prediction_table(self, names: list[str], predictions: list[np.ndarray]) -> str:
        """CSV: ``id`` (and ``step``) and one column per target."""
        rows = io.StringIO()
        writer = csv.writer(rows, lineterminator="\n")
        writer.writerow(["id", *(["step"] if self.outputs_per_step else []), *self.target_columns])
        for name, prediction in zip(names, predictions, strict=True):
            if not self.outputs_per_step:
                writer.writerow([name, *(f"{value:.6g}" for value in prediction)])
                continue
            for step, values in enumerate(prediction):
                writer.writerow([name, step, *(f"{value:.6g}" for value in values)])
        return rows.getvalue()

    def state(self) -> dict[str, Any]:
        return super().state() | {
            "channels": list(self.channels),
            "target_columns": list(self.target_columns),
            "per_step": self.outputs_per_step,
            "target_mean": self.target_mean.tolist(),
            "target_std": self.target_std.tolist(),
            **self.columns,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.channels = tuple(state["channels"])
        self.target_columns = tuple(state["target_columns"])
        self.outputs_per_step = state["per_step"]
        self.target_mean = np.asarray(state["target_mean"])
        self.target_std = np.asarray(state["target_std"])
        self.columns = {key: state[key] for key in ("id_column", "time_column")}
