"""The notes' hands-on example: the stress history of a Maxwell solid with power-law viscosity,

    dsigma/dt = E dlambda/dt - (sigma / nu0) |sigma / sigma0|^(m - 1),

learned sequence to sequence: inputs ``x_j = (lambda_j, dlambda/dt_j, dt_j)``, output
``sigma_j / sigma0``, loss the sequence MSE ``(1/T) sum_j (y^_j - y_j)^2`` of the notes' RNN
example.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from convrec.checks import fail, positive_int
from convrec.data.maxwell import Histories, HistorySpec, Material, generate, triangles
from convrec.data.sequences import SequenceDataset
from convrec.errors import InvalidValueError
from convrec.nn import Padded
from convrec.nn.losses import sequence_mse
from convrec.tasks.base import Task, TaskData, register_task
from convrec.tasks.dataset import evaluating
from convrec.tasks.envelope import Envelope
from convrec.tasks.exported import ExportSpec

RATE_SCALE = 1e-4  # per second: the signed log-rate feature is sign * log10(1 + |rate| / scale)
RAW_COLUMNS = 2  # with raw_increments: dlambda and dt, the last two features, not standardised
COLUMNS = ("stretch", "stretch_rate", "dt")  # of a raw history (T, 3)
# A raw history's stretch step must match ``rate * dt`` within ``RATE_RTOL`` of the step plus
# ``STRETCH_ATOL``: generated histories agree to 1e-12, and a float32 stretch (8 ulps near 1)
# with steps above 1e-3 of the stretch still passes.
RATE_RTOL = 1e-3
STRETCH_ATOL = 1e-6


class MaxwellSet(SequenceDataset):
    """Histories as model features and scaled targets, keeping the raw arrays for metrics.

    Shape:
        raw: ``(N, T, 3)`` columns ``(stretch, stretch_rate, dt)``; stress: ``(N, T)`` in MPa.
    """

    def __init__(self, inputs: Tensor, targets: Tensor, raw: np.ndarray, stress: np.ndarray):
        super().__init__(list(inputs), list(targets))
        self.raw, self.stress = raw, stress


def raw_inputs(histories: Histories) -> np.ndarray:
    """``(N, T, 3)``: stretch, stretch rate (1/s) and step duration (s) at each step."""
    return np.stack([histories.stretch, histories.stretch_rate, histories.dt], axis=-1)


def check_history(label: str, sequence: np.ndarray) -> np.ndarray:
    """A raw history as ``float64`` ``(T, 3)``, or ``ValueError`` naming ``label`` and the step.

    The columns are those of :func:`raw_inputs`: ``lambda_j`` at the end of step ``j``,
    ``dlambda/dt`` over step ``j`` and its duration ``dt_j``, so for ``j >= 1``

        lambda_j - lambda_(j-1) = rate_j * dt_j

    within ``RATE_RTOL`` of the larger side plus ``STRETCH_ATOL`` (the stretch before step 0 is
    not part of the history, so step 0 is not checked). Every value must be finite, every
    ``dt`` and ``lambda`` positive.
    """
    owner, expected = "maxwell.predict", "finite values of shape (T, 3): stretch, stretch_rate, dt"
    sequence = np.asarray(sequence, dtype=np.float64)
    if sequence.ndim != 2 or sequence.shape[1] != 3 or len(sequence) == 0:
        raise fail(owner, label, expected + ", at least one step", f"shape {sequence.shape}")
    if not np.isfinite(sequence).all():
        step, column = np.argwhere(~np.isfinite(sequence))[0]
        got = f"{sequence[step, column]} at step {step}, column {COLUMNS[column]!r}"
        raise fail(owner, label, expected, got)
    stretch, rate, dt = sequence.T  # each (T,)
    for column, values in (("dt", dt), ("stretch", stretch)):
        if (values <= 0).any():
            step = int(np.argmax(values <= 0))
            got = f"{column} = {values[step]} at step {step}"
            raise fail(owner, label, f"{column} > 0 at every step", got)
    increment, driven = np.diff(stretch), (rate * dt)[1:]  # (T - 1,) each, for steps 1 .. T-1
    allowed = RATE_RTOL * np.maximum(np.abs(increment), np.abs(driven)) + STRETCH_ATOL
    if (np.abs(increment - driven) > allowed).any():
        step = int(np.argmax(np.abs(increment - driven) > allowed)) + 1
        raise fail(
            owner,
            label,
            "a stretch_rate that matches the stretch, rate_j * dt_j = stretch_j - stretch_(j-1) "
            f"within {RATE_RTOL:g} relative + {STRETCH_ATOL:g}",
            f"stretch_rate = {rate[step]:.6g} at step {step}, while the stretch changes at "
            f"(stretch_j - stretch_(j-1)) / dt_j = {increment[step - 1] / dt[step]:.6g}",
        )
    return sequence


def _relative(error: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``error / scale``; NaN where the scale is 0 (a history without stress has no relative
    error), which the statistics leave out."""
    return np.divide(error, scale, out=np.full_like(error, np.nan), where=scale > 0)


def sequence_metrics(predicted: np.ndarray, true: np.ndarray, raw: np.ndarray) -> dict[str, float]:
    """Median and 95th percentile over sequences of three errors, each relative:

    - ``rel_l2``: ``||s^ - s|| / ||s||`` over the history;
    - ``work``: error of the work ``W = sum_j s_j dlambda_j`` (for a closed loop, the loop's area,
      the dissipated energy), over ``sum_j |s_j| |dlambda_j|``;
    - ``peak``: error of the peak ``max_j |s_j|`` over the true peak.

    A history whose denominator is 0 (no stress at all) is left out of that error's statistics.

    Shape:
        predicted, true: ``(N, T)``; raw: ``(N, T, 3)``.
    """
    stretch_step = raw[..., 1] * raw[..., 2]
    errors = {
        "rel_l2": _relative(np.linalg.norm(predicted - true, axis=1), np.linalg.norm(true, axis=1)),
        "work": _relative(
            np.abs(((predicted - true) * stretch_step).sum(axis=1)),
            np.abs(true * stretch_step).sum(axis=1),
        ),
        "peak": _relative(
            np.abs(np.abs(predicted).max(axis=1) - np.abs(true).max(axis=1)),
            np.abs(true).max(axis=1),
        ),
    }
    metrics = {}
    for name, values in errors.items():
        kept = values[~np.isnan(values)]
        metrics[f"{name}_median"] = float(np.median(kept)) if kept.size else math.nan
        metrics[f"{name}_p95"] = float(np.percentile(kept, 95)) if kept.size else math.nan
    return metrics


@register_task
class Maxwell(Task):
    """Stress history of a viscoelastic solid, with test sets beyond the training distribution.

    Args:
        train_size, validation_size, test_size: histories per split (each test set has
            ``test_size``, the notes' triangles one per rate).
        log_features: also give the model ``sign(rate) log10(1 + |rate| / 1e-4)`` and
            ``log10(dt)``, which span the log-uniform rates evenly, and the step's stretch
            increment ``rate * dt``, which the stress update is driven by.
        segments, steps_per_segment: the shape of the training histories.
        raw_increments: also give the model, as its last two features and not standardised, the
            step's stretch increment ``dlambda_j = rate_j * dt_j`` and duration ``dt_j`` in
            seconds, for a model that integrates the law itself (``maxwell-cell``, whose recipe
            sets it; a model taking ``increment_columns`` is refused without it).
    """

    name = "maxwell"
    description = "viscoelastic (Maxwell, power-law viscosity) stress history, sequence to sequence"
    default_model = "gru"
    training_defaults: ClassVar[dict[str, Any]] = {"epochs": 60, "batch_size": 32, "lr": 5e-3}
    models: ClassVar[dict[str, dict[str, Any]]] = {
        cell: {"model_options": {"hidden_size": 64, "num_layers": 1}}
        for cell in ("gru", "lstm", "rnn")
    } | {
        # a few dozen parameters, most far from their start: larger steps, fewer epochs; two
        # SDIRK2 substeps per step (benchmarks/maxwell_rates.py: a quarter of one step's error)
        "maxwell-cell": {
            "epochs": 20,
            "lr": 5e-2,
            "task_options": {"raw_increments": True},
            "model_options": {"hidden_size": 1, "substeps": 2},
        }
    }
    input_kind = "sequence"
    outputs_per_step = True
    input_columns = COLUMNS
    output_columns = ("stress",)
    curve_metric = "rel_l2_median"

    def __init__(
        self,
        train_size: int = 1000,
        validation_size: int = 100,
        test_size: int = 200,
        log_features: bool = True,
        segments: int = 6,
        steps_per_segment: int = 25,
        raw_increments: bool = False,
    ) -> None:
        self.sizes = {
            split: positive_int("maxwell", f"{split}_size", size)
            for split, size in (
                ("train", train_size),
                ("validation", validation_size),
                ("test", test_size),
            )
        }
        if not isinstance(log_features, bool):
            raise fail("maxwell", "log_features", "True or False", repr(log_features))
        self.log_features = log_features
        if not isinstance(raw_increments, bool):
            raise fail("maxwell", "raw_increments", "True or False", repr(raw_increments))
        self.raw_increments = raw_increments
        self.spec = HistorySpec(
            segments=positive_int("maxwell", "segments", segments),
            steps_per_segment=positive_int("maxwell", "steps_per_segment", steps_per_segment),
        )
        self.material = Material()
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.envelope: Envelope | None = None  # of the raw training inputs; None: unknown

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        features = 6 if self.log_features else 3
        return (None, features + (RAW_COLUMNS if self.raw_increments else 0))

    @property
    def output_size(self) -> int:
        return 1

    def model_defaults(self, model: str, model_options: Sequence[str]) -> dict[str, Any]:
        """A model that integrates the law from the raw increments (one taking
        ``increment_columns``, found as the last two features) needs ``raw_increments``."""
        if "increment_columns" in model_options and not self.raw_increments:
            raise InvalidValueError(
                f"maxwell: the model {model!r} integrates the stress from each step's raw "
                "stretch increment and dt, which the task gives only with raw_increments; "
                "set --set task_options.raw_increments=true (its recipe does)"
            )
        return {}

    def test_specs(self) -> dict[str, HistorySpec]:
        """The random test sets: in distribution, and each way beyond it."""
        spec = self.spec
        low, high = spec.rate_range
        return {
            "in-distribution": spec,
            "longer-4x": replace(spec, segments=4 * spec.segments),
            "dt-halved": replace(spec, steps_per_segment=2 * spec.steps_per_segment),
            "dt-doubled": replace(spec, steps_per_segment=max(1, spec.steps_per_segment // 2)),
            "rates-10x-faster": replace(spec, rate_range=(10 * low, 10 * high)),
            "rates-10x-slower": replace(spec, rate_range=(low / 10, high / 10)),
            "stretch-1.5x": replace(
                spec,
                stretch_range=(
                    spec.stretch_range[0],
                    spec.stretch_range[0] + 1.5 * (spec.stretch_range[1] - spec.stretch_range[0]),
                ),
            ),
        }

    def build_data(self, seed: int) -> TaskData:
        streams = np.random.SeedSequence(seed).spawn(3 + len(self.test_specs()))

        def make(spec: HistorySpec, size: int, stream: np.random.SeedSequence) -> Histories:
            return generate(size, spec, self.material, np.random.default_rng(stream))

        train = make(self.spec, self.sizes["train"], streams[0])
        self.envelope = Envelope.of(COLUMNS, raw_inputs(train))
        features = self._features(raw_inputs(train))
        self.mean = features.reshape(-1, features.shape[-1]).mean(axis=0)
        # a constant feature (one segment: one rate) is centred, not divided by zero
        self.std = np.maximum(features.reshape(-1, features.shape[-1]).std(axis=0), 1e-8)
        if self.raw_increments:  # passed through as they are
            self.mean[-RAW_COLUMNS:], self.std[-RAW_COLUMNS:] = 0.0, 1.0
        tests = {
            name: self._dataset(make(spec, self.sizes["test"], stream))
            for (name, spec), stream in zip(self.test_specs().items(), streams[3:], strict=True)
        }
        tests["triangles"] = self._dataset(
            triangles(self.material, steps_per_segment=self.spec.steps_per_segment)
        )
        return TaskData(
            train=self._dataset(train),
            validation=self._dataset(make(self.spec, self.sizes["validation"], streams[1])),
            tests=tests,
        )

    def _features(self, raw: np.ndarray) -> np.ndarray:
        """``(N, T, 3)`` raw columns to ``(N, T, F)`` features (not yet standardised), in
        float64."""
        features = HistoryFeatures(self.log_features, self.raw_increments)
        return features(torch.from_numpy(np.asarray(raw, dtype=np.float64))).numpy()

    def export_spec(self) -> ExportSpec:
        """Raw histories ``(batch, time, 3)`` (stretch, rate, dt) in, stress in MPa out; the
        features are :class:`HistoryFeatures`. The checks of :meth:`predict` (positive ``dt``,
        a rate that matches the stretch, the training envelope) stay in Python."""
        if self.mean is None or self.std is None:
            raise RuntimeError("maxwell: build_data or load_state must run before export")
        stress = self.material.reference_stress
        return ExportSpec(
            input_kind="sequence",
            input_shape=(None, len(COLUMNS)),
            variable_length=True,
            output="values",
            input_layout="(batch, time, 3) float32 stretch, stretch rate (1/s), dt (s)",
            output_layout="(batch, time, 1) float32 stress (MPa)",
            features=HistoryFeatures(self.log_features, self.raw_increments),
            mean=torch.from_numpy(self.mean),
            std=torch.from_numpy(self.std),
            scale=torch.tensor([stress]),
            shift=torch.zeros(1),
            metadata=self.export_metadata()
            | {"input_shape": [None, len(COLUMNS)], "envelope": self.state()["envelope"]},
        )

    def _model_inputs(self, raw: np.ndarray) -> Tensor:
        if self.mean is None or self.std is None:
            raise RuntimeError("maxwell: build_data or load_state must run before the model")
        return torch.as_tensor((self._features(raw) - self.mean) / self.std, dtype=torch.float32)

    def _dataset(self, histories: Histories) -> MaxwellSet:
        raw = raw_inputs(histories)
        targets = torch.as_tensor(histories.stress / self.material.reference_stress)
        return MaxwellSet(
            self._model_inputs(raw), targets.float().unsqueeze(-1), raw, histories.stress
        )

    def loss(self, prediction: Tensor | Padded, target: Tensor | Padded) -> Tensor:
        return sequence_mse(prediction, target)

    def _stress(self, model: nn.Module, inputs: Sequence[Tensor]) -> list[np.ndarray]:
        """Predicted stress in MPa for each ``(T_i, F)`` feature sequence."""
        batch = Padded.from_sequences(list(inputs))
        with evaluating(model) as device:
            output = model(batch.to(device)).data[..., 0].float().cpu().numpy()
        output = output * self.material.reference_stress
        return [row[:length] for row, length in zip(output, batch.lengths.tolist(), strict=True)]

    def evaluate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:
        predicted = np.stack(self._stress(model, dataset.inputs))
        return sequence_metrics(predicted, dataset.stress, dataset.raw)

    def predict(self, model: nn.Module, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Stress in MPa ``(T_i,)`` for each raw history ``(T_i, 3)``: stretch, rate, dt.

        Refuses (``ValueError`` naming the sequence and step) a wrong shape, NaN or Inf,
        ``dt <= 0``, ``stretch <= 0`` and a stretch rate that does not match the stretch (see
        :func:`check_history`); warns with :class:`OutOfDistributionWarning` where a column
        leaves the range of the training inputs.
        """
        checked = [check_history(f"sequence {index}", raw) for index, raw in enumerate(sequences)]
        for index, raw in enumerate(checked):  # warn only once every sequence passed
            if self.envelope is not None:
                self.envelope.warn_outside("maxwell.predict", f"sequence {index}", raw)
        return self._stress(model, [self._model_inputs(raw[None])[0] for raw in checked])

    def plot(self, model: nn.Module, data: TaskData, directory: Path) -> list[Path]:
        from convrec.diagnose.plots import plot_hysteresis, plot_stress_time

        shown = {
            "triangles": data.tests["triangles"],
            "in-distribution": data.tests["in-distribution"],
        }
        curves = []
        for name, dataset in shown.items():
            count = min(3, len(dataset))
            predicted = self._stress(model, dataset.inputs[:count])
            for index in range(count):
                curves.append(
                    (f"{name} {index}", dataset.raw[index], dataset.stress[index], predicted[index])
                )
        return [
            plot_hysteresis(curves, directory / "hysteresis.png"),
            plot_stress_time(curves, directory / "stress_time.png"),
        ]

    def state(self) -> dict[str, Any]:
        return {
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "envelope": self.envelope.state() if self.envelope is not None else None,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.mean = np.asarray(state["mean"], dtype=np.float64)
        self.std = np.asarray(state["std"], dtype=np.float64)
        self.envelope = Envelope.from_state(COLUMNS, state.get("envelope"))


class HistoryFeatures(nn.Module):
    """:meth:`Maxwell._features` in tensor operations: ``(B, T, 3)`` raw columns (stretch,
    rate, dt) to ``(B, T, F)`` features, not yet standardised."""

    def __init__(self, log_features: bool, raw_increments: bool) -> None:
        super().__init__()
        self.log_features = log_features
        self.raw_increments = raw_increments

    def forward(self, raw: Tensor) -> Tensor:
        stretch, rate, dt = raw[..., 0], raw[..., 1], raw[..., 2]
        columns = [stretch - 1.0, rate, dt]
        if self.log_features:
            columns += [
                torch.sign(rate) * torch.log10(1 + rate.abs() / RATE_SCALE),
                torch.log10(dt),
                rate * dt,
            ]
        if self.raw_increments:
            columns += [rate * dt, dt]
        return torch.stack(columns, dim=-1)
