"""Anomalies in a stream: a model learns what the normal series looks like from its training part,
every step gets an anomaly score, and steps scoring above a threshold chosen on the validation
part raise an alarm (the notes' "anomaly detection in streams").

Two detectors, chosen by the task option ``detector``:

- ``forecast``: a causal recurrent network predicts each step from the ``window`` steps before
  it (its last output; training asks for the next step at every position of a window); the
  score is the absolute standardised residual ``|(r_t - mean) / std|`` of ``r_t = x_t - x^_t``,
  with the mean and deviation of the training part's residuals. Each step is scored online,
  from the past alone, once ``window`` steps precede it (the first ``window`` steps score 0).
- ``reconstruction``: a convolutional autoencoder rebuilds windows of ``window`` steps (every
  ``window // 8`` steps), standardised by the training part's errors. A step's score needs the
  ``window`` steps after it: an alarm comes ``window`` steps late. The task option
  ``aggregate`` says how a step's score comes from the squared errors (:data:`AGGREGATES`):

  - ``step``: the step's own error, averaged over every window holding it (an odd step);
  - ``any-window``: the highest mean error of the windows holding it (an odd stretch, as a
    discord scores a subsequence);
  - ``every-window``: the lowest mean error of the windows holding it (an odd stretch that
    every window around the step sees, the rule of Keras' autoencoder example).

  By default (``aggregate=None``) the one with the highest AUC-PR on the validation part is
  kept, or ``step`` where the validation part holds no labelled anomaly.

Every window is standardised by its own mean and deviation (as RevIN does, Kim et al. 2022),
and a forecast's target and residual with the window's: a level or a scale the training part
never reached (a trend, growing seasons) is no anomaly by itself; a step far from what its own
recent past predicts is.

The threshold gives the best step F1 on the validation part, or, where the validation part holds
no labelled anomaly, is its highest score (:func:`~convrec.tasks.anomaly_scores.choose_threshold`).
Metrics on the test part: precision, recall and F1 per step and per event, and the area under
the precision-recall curve (:mod:`convrec.tasks.anomaly_scores`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, default_collate

from convrec.checks import fail, one_of, positive_int
from convrec.data.datasets import load_dataset
from convrec.data.splits import Pairs
from convrec.errors import InvalidValueError
from convrec.nn import Padded
from convrec.nn.losses import sequence_mse
from convrec.tasks.anomaly_scores import average_precision, choose_threshold, score_report
from convrec.tasks.base import Task, TaskData, register_task
from convrec.tasks.dataset import EVALUATION_BATCH, evaluating

DETECTORS = ("forecast", "reconstruction")
AGGREGATES = ("step", "any-window", "every-window")
"""How the reconstruction detector scores a step from its windows' errors (module docstring)."""
PARTS = ("train", "validation", "test")


class StreamPart(Pairs):
    """Training windows of one part of the stream (their loss is the validation loss), and which
    part they come from (:meth:`StreamAnomalies.evaluate` scores that part's steps)."""

    def __init__(self, inputs: Tensor, targets: Tensor, part: str) -> None:
        super().__init__(inputs, targets)
        self.part = part


SMALLEST_SPREAD = 0.1  # floor of a window's deviation, in the series' standardised units


def own_scale(windows: Tensor) -> tuple[Tensor, Tensor]:
    """Each window's mean and standard deviation ``(N, 1)`` over its steps ``(N, W)``, the
    deviation at least :data:`SMALLEST_SPREAD` (a flat stretch is not magnified)."""
    mean = windows.mean(dim=1, keepdim=True)
    spread = windows.std(dim=1, keepdim=True, correction=0).clamp_min(SMALLEST_SPREAD)
    return mean, spread


def trailing_mean(values: np.ndarray, steps: int) -> np.ndarray:
    """Each value replaced by the mean of the ``steps`` values up to it (fewer at the start).

    Example:
        >>> trailing_mean(np.array([2.0, 4.0, 6.0, 8.0]), 2).tolist()
        [2.0, 3.0, 5.0, 7.0]
    """
    totals = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - steps, 0)
    return (totals[ends] - totals[starts]) / (ends - starts)


def window_starts(start: int, stop: int, window: int, stride: int) -> list[int]:
    """Starts of the windows of ``window`` steps within ``[start, stop)``, every ``stride`` steps,
    the last one ending at ``stop``.

    Example:
        >>> window_starts(0, 10, 4, 3)
        [0, 3, 6]
        >>> window_starts(5, 12, 4, 2)
        [5, 7, 8]
    """
    starts = list(range(start, stop - window + 1, stride))
    if starts and starts[-1] != stop - window:
        starts.append(stop - window)
    return starts


def aggregate_windows(positions: Tensor, errors: Tensor, length: int, aggregate: str) -> Tensor:
    """Scores ``(length,)`` of the steps of a series from windows' squared errors ``(N, W)`` at
    steps ``positions (N, W)`` (each step in at least one window), by the rule ``aggregate`` of
    :data:`AGGREGATES`.

    Example:
        >>> positions = torch.tensor([[0, 1], [1, 2]])
        >>> errors = torch.tensor([[1.0, 3.0], [5.0, 1.0]])
        >>> [aggregate_windows(positions, errors, 3, rule).tolist() for rule in AGGREGATES]
        [[1.0, 4.0, 1.0], [2.0, 3.0, 3.0], [2.0, 2.0, 3.0]]
    """
    one_of("aggregate_windows", "aggregate", aggregate, AGGREGATES)
    steps = positions.flatten()
    if aggregate == "step":
        totals = torch.zeros(length).index_add_(0, steps, errors.flatten())
        return totals / torch.zeros(length).index_add_(0, steps, torch.ones(steps.numel()))
    window_means = errors.mean(dim=1, keepdim=True).expand_as(errors).flatten()
    reduce = "amax" if aggregate == "any-window" else "amin"
    return torch.zeros(length).scatter_reduce_(0, steps, window_means, reduce, include_self=False)


class StreamAnomalies(Task):
    """One labelled series (:mod:`convrec.data.anomalies`): train on its first part, choose the
    threshold on the next, report on the last.

    Args:
        root: a folder with the series' original file, instead of the data directory.
        detector: ``'forecast'`` (a causal recurrent model's residuals) or ``'reconstruction'``
            (a convolutional autoencoder's errors).
        window: steps a forecast looks back on, or the autoencoder's window (default: the
            series' own).
        smooth: steps of the trailing mean taken of the scores (1: none, the default), so
            that a stretch of moderately odd steps can outscore a single sharp but normal one
            (the QRS complex of every heartbeat).
        aggregate: how the reconstruction detector scores a step from its windows
            (:data:`AGGREGATES`); ``None`` (default): chosen on the validation part.
        **dataset_options: the series loader's options.
    """

    dataset: ClassVar[str]
    default_window: ClassVar[int]
    default_smooth: ClassVar[int] = 1
    default_model = "gru"
    outputs_per_step = True
    input_columns = ("value",)
    output_columns = ("score", "anomaly")
    models: ClassVar[dict[str, dict[str, Any]]] = {
        "gru": {
            "epochs": 20,
            "batch_size": 32,
            "lr": 3e-3,
            "model_options": {"hidden_size": 64},
            "task_options": {"detector": "forecast"},
        },
        "conv-autoencoder": {
            "epochs": 40,
            "batch_size": 32,
            "lr": 3e-3,
            "task_options": {"detector": "reconstruction"},
        },
    }

    def __init__(
        self,
        root: str | None = None,
        detector: str = "forecast",
        window: int | None = None,
        smooth: int | None = None,
        aggregate: str | None = None,
        **dataset_options: Any,
    ) -> None:
        self.root, self.dataset_options = root, dataset_options
        self.detector = one_of(self.name, "detector", detector, DETECTORS)
        self.window = positive_int(
            self.name, "window", self.default_window if window is None else window
        )
        self.smooth = positive_int(
            self.name, "smooth", self.default_smooth if smooth is None else smooth
        )
        if self.window < 2:
            raise fail(self.name, "window", "at least 2 steps", repr(self.window))
        if aggregate is not None:
            one_of(self.name, "aggregate", aggregate, AGGREGATES)
            if self.detector == "forecast" and aggregate != "step":
                raise fail(
                    self.name,
                    "aggregate",
                    "'step' for the forecast detector (one residual per step)",
                    repr(aggregate),
                )
        self.aggregate_option = aggregate
        # The rule calibrate keeps (the option's, or the best on validation):
        self.aggregate: str | None = "step" if detector == "forecast" else None
        self.mean = self.std = 0.0
        self.score_mean, self.score_std = 0.0, 1.0
        self.threshold: float | None = None
        self.series: Tensor | None = None  # the whole stream, standardised (T,)
        self.labels: np.ndarray | None = None
        self.bounds: dict[str, tuple[int, int]] = {}
        self._calibrated: tuple[nn.Module, np.ndarray] | None = None  # its stream's scores

    @property
    def input_kind(self) -> str:
        return "sequence"

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        return (self.window, 1) if self.detector == "reconstruction" else (None, 1)

    @property
    def output_size(self) -> int:
        return 1

    def model_defaults(self, model: str, model_options: Sequence[str]) -> dict[str, Any]:
        """A forecast needs a causal model with an output per step (``gru``, ``lstm``,
        ``rnn``, one direction); a reconstruction an output per step of the window."""
        if self.detector == "forecast":
            if "return_sequences" not in model_options:
                raise InvalidValueError(
                    f"{self.name}: the forecast detector needs a causal recurrent model with an "
                    f"output per step (gru, lstm, rnn), got {model!r}; for {model!r} set "
                    "--set task_options.detector=reconstruction"
                )
            return {"return_sequences": True, "bidirectional": False}
        if "return_sequences" in model_options:
            return {"return_sequences": True}
        if model != "conv-autoencoder":
            raise InvalidValueError(
                f"{self.name}: the reconstruction detector needs an output per step of the "
                f"window (conv-autoencoder, or a recurrent model), got {model!r}"
            )
        return {}

    def build_data(self, seed: int) -> TaskData:
        splits = load_dataset(self.dataset, root=self.root, seed=seed, **self.dataset_options)
        parts = [getattr(splits, part) for part in PARTS]
        values = torch.cat([part.values[:, 0] for part in parts]).double()
        self.labels = torch.cat([part.labels for part in parts]).numpy()
        self.bounds = {
            name: (part.start, part.start + len(part.values))
            for name, part in zip(PARTS, parts, strict=True)
        }
        train = values[: self.bounds["train"][1]]
        self.mean, self.std = float(train.mean()), float(train.std().clamp_min(1e-12))
        self.series = ((values - self.mean) / self.std).float()
        windows = {part: self._windows(part) for part in PARTS}
        return TaskData(windows["train"], windows["validation"], {"test": windows["test"]})

    def _windows(self, part: str) -> StreamPart:
        """The part's training windows: inputs ``(N, W, 1)`` and their targets (the next steps
        for a forecast, the window itself for a reconstruction), every ``W // 16`` steps."""
        series, (start, stop) = self._known(self.series), self.bounds[part]
        shift = 1 if self.detector == "forecast" else 0
        starts = window_starts(start, stop - shift, self.window, max(1, self.window // 16))
        if not starts:
            raise fail(
                self.name,
                "window",
                f"at most the {stop - start - shift} steps of the {part} part",
                repr(self.window),
            )
        inputs = torch.stack([series[s : s + self.window] for s in starts])
        targets = torch.stack([series[s + shift : s + shift + self.window] for s in starts])
        mean, spread = own_scale(inputs)
        return StreamPart(
            ((inputs - mean) / spread)[..., None], ((targets - mean) / spread)[..., None], part
        )

    def _known(self, value: Any) -> Any:
        if value is None:
            raise RuntimeError(f"{self.name}: build_data or load_state must run first")
        return value

    def collate(self, items: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        """Windows ``(B, W, 1)`` and targets ``(B, W, 1)``, stacked (all one length)."""
        return default_collate(items)

    def loss(self, prediction: Tensor | Padded, target: Tensor | Padded) -> Tensor:
        """Mean squared error over every step of every window."""
        return sequence_mse(prediction, target)

    def raw_scores(self, model: nn.Module, series: Tensor) -> Tensor:
        """Unstandardised scores ``(T,)`` of a standardised series ``(T,)``: forecast
        residuals (0 for the first ``window`` steps, which lack a full window of past) or
        squared reconstruction errors aggregated by the rule chosen (:meth:`calibrate`)."""
        if self.detector == "forecast":
            return self._residuals(model, series)
        aggregate = self._known(self.aggregate)
        return aggregate_windows(
            *self._reconstruction_errors(model, series), len(series), aggregate
        )

    def _residuals(self, model: nn.Module, series: Tensor) -> Tensor:
        residuals = torch.zeros(len(series))
        if len(series) <= self.window:
            return residuals
        steps = torch.arange(self.window, len(series))
        with evaluating(model) as device:
            for chosen in steps.split(EVALUATION_BATCH):
                positions = chosen[:, None] - self.window + torch.arange(self.window)  # (N, W)
                pasts = series[positions]
                mean, spread = own_scale(pasts)
                outputs = model((((pasts - mean) / spread)[..., None]).to(device))
                predicted = outputs[:, -1, 0].cpu()
                residuals[chosen] = (series[chosen] - mean[:, 0]) / spread[:, 0] - predicted
        return residuals

    def _reconstruction_errors(self, model: nn.Module, series: Tensor) -> tuple[Tensor, Tensor]:
        """The steps ``(N, W)`` of the windows of ``series (T,)`` and their squared errors."""
        if len(series) < self.window:
            raise fail(
                self.name,
                "series",
                f"at least the autoencoder's window of {self.window} steps",
                f"{len(series)} steps",
            )
        starts = torch.tensor(window_starts(0, len(series), self.window, max(1, self.window // 8)))
        positions = starts[:, None] + torch.arange(self.window)  # (N, W)
        errors = []
        with evaluating(model) as device:
            for chosen in positions.split(EVALUATION_BATCH):
                windows = series[chosen]
                mean, spread = own_scale(windows)
                windows = ((windows - mean) / spread)[..., None]
                errors.append((model(windows.to(device)).cpu() - windows)[..., 0].square())
        return positions, torch.cat(errors)

    def standardised_scores(self, raw: Tensor) -> np.ndarray:
        """Raw scores ``(T,)`` standardised by the training part's (absolute for residuals),
        then each the mean of the last ``smooth`` (fewer at the start)."""
        standardised = (raw - self.score_mean) / self.score_std
        if self.detector == "forecast":
            standardised = standardised.abs()
            standardised[: self.window] = 0.0  # no full window of past: no score
        scores = standardised.numpy()
        return trailing_mean(scores.astype(np.float64), self.smooth)

    def calibrate(self, model: nn.Module, data: TaskData) -> None:
        """Fit the scores' standardisation on the training part, and the threshold (and the
        reconstruction detector's aggregation, unless given) on the validation part, from those
        two parts alone (the windows of a reconstruction near the validation part's end would
        otherwise read the test part): what :meth:`predict` needs of the trained model."""
        series, labels = self._known(self.series), self._known(self.labels)
        first, last = self.bounds["validation"]
        if self.detector == "forecast":
            stream = self._residuals(
                model, series
            )  # causal: steps before `last` read nothing after
            candidates = {"step": stream[:last]}
        else:
            errors = self._reconstruction_errors(model, series[:last])
            rules = [self.aggregate_option] if self.aggregate_option else list(AGGREGATES)
            if not labels[first:last].any():
                rules = rules[:1]  # nothing to choose by: the first ("step" by default)
            candidates = {rule: aggregate_windows(*errors, last, rule) for rule in rules}
        best = -1.0
        for rule, raw in candidates.items():
            self._fit_scale(raw)
            scores = self.standardised_scores(raw)
            quality = average_precision(scores[first:last], labels[first:last])
            if len(candidates) == 1 or quality > best:
                best, kept = quality, (rule, raw, scores)
        self.aggregate, raw, scores = kept
        self._fit_scale(raw)
        self.threshold = choose_threshold(scores[first:last], labels[first:last])
        whole = stream if self.detector == "forecast" else self.raw_scores(model, series)
        self._calibrated = (model, self.standardised_scores(whole))

    def _fit_scale(self, raw: Tensor) -> None:
        """The mean and deviation of the training part's raw scores (a forecast's from its
        first full window on)."""
        start, stop = self.bounds["train"]
        fitted = raw[start + (self.window if self.detector == "forecast" else 0) : stop]
        self.score_mean = float(fitted.mean())
        self.score_std = float(fitted.std().clamp_min(1e-12))

    def stream_scores(self, model: nn.Module) -> np.ndarray:
        """The whole stream's scores ``(T,)`` by ``model``: kept from :meth:`calibrate` for the
        model calibrated (the plots and the test metrics of a run reuse them), else computed."""
        if self._calibrated is not None and self._calibrated[0] is model:
            return self._calibrated[1]
        return self.standardised_scores(self.raw_scores(model, self._known(self.series)))

    def evaluate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:
        """Step and event precision, recall and F1, ``auc_pr`` and the ``threshold`` on the
        steps of the part ``dataset`` comes from, the threshold chosen on the validation part."""
        if not isinstance(dataset, StreamPart):
            raise fail(self.name, "dataset", "a part of the stream (StreamPart)", repr(dataset))
        threshold = self._known(self.threshold)  # calibrate has run (finish_run calls it)
        scores = self.stream_scores(model)
        start, stop = self.bounds[dataset.part]
        return score_report(scores[start:stop], self._known(self.labels)[start:stop], threshold)

    def plot(self, model: nn.Module, data: TaskData, directory: Path) -> list[Path]:
        """``anomalies.png``: the validation and test parts with the true anomalies shaded, the
        alarms marked, and the score against the threshold."""
        from convrec.diagnose.plots import plot_anomalies

        scores = self.stream_scores(model)
        start, stop = self.bounds["validation"][0], self.bounds["test"][1]
        values = self._known(self.series)[start:stop].numpy() * self.std + self.mean
        return [
            plot_anomalies(
                np.arange(start, stop),
                values,
                self._known(self.labels)[start:stop],
                scores[start:stop],
                self._known(self.threshold),
                self.bounds["test"][0],
                f"{self.name}, {self.detector} detector",
                directory / "anomalies.png",
            )
        ]

    def predict(self, model: nn.Module, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each series ``(T_i, 1)`` (or ``(T_i,)``), in the training series' units, to its
        steps' ``(score, anomaly)`` ``(T_i, 2)``: anomaly 1 where the score exceeds the
        threshold chosen on the validation part. A forecast scores a step once ``window`` steps
        precede it (earlier steps score 0)."""
        threshold = self._known(self.threshold)
        results = []
        for index, array in enumerate(sequences):
            values = np.asarray(array, dtype=np.float64)
            if values.ndim == 2 and values.shape[1] == 1:
                values = values[:, 0]
            shortest = self.window + 1 if self.detector == "forecast" else self.window
            if values.ndim != 1 or len(values) < shortest or not np.all(np.isfinite(values)):
                raise fail(
                    f"{self.name}.predict",
                    f"input {index}",
                    f"a finite series (T, 1) of at least {shortest} steps (the {self.detector} "
                    f"detector's window of {self.window}"
                    + (" and a step to score)" if self.detector == "forecast" else ")"),
                    f"shape {np.shape(array)}"
                    + ("" if np.all(np.isfinite(values)) else " with NaN or Inf"),
                )
            series = torch.from_numpy((values - self.mean) / self.std).float()
            scores = self.standardised_scores(self.raw_scores(model, series))
            results.append(np.stack([scores, (scores > threshold).astype(np.float64)], axis=1))
        return results

    def state(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "window": self.window,
            "mean": self.mean,
            "std": self.std,
            "score_mean": self.score_mean,
            "score_std": self.score_std,
            "threshold": self.threshold,
            "smooth": self.smooth,
            "aggregate": self.aggregate,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.detector, self.window = state["detector"], state["window"]
        self.mean, self.std = state["mean"], state["std"]
        self.score_mean, self.score_std = state["score_mean"], state["score_std"]
        self.threshold, self.smooth = state["threshold"], state["smooth"]
        self.aggregate = state.get("aggregate", "step")  # runs saved before the option: "step"


def _stream_recipe(name: str, dataset: str, window: int, description: str, smooth: int = 1) -> None:
    """Register the anomaly recipe ``name`` on the labelled series ``dataset``."""
    attributes = {
        "default_smooth": smooth,
        "__doc__": f"{description}: anomalies in a stream (:class:`StreamAnomalies`).",
        "name": name,
        "description": f"{description}: anomalies in a stream (forecast residuals)",
        "dataset": dataset,
        "default_window": window,
    }
    register_task(type(name.title().replace("-", ""), (StreamAnomalies,), attributes))


_stream_recipe("ecg-anomalies", "ecg-anomalies", 128, "MIT-BIH ECG excerpt")
_stream_recipe("yahoo-anomalies", "yahoo-anomalies", 32, "Yahoo S5 series")
_stream_recipe("elecdemand-anomalies", "elecdemand-anomalies", 96, "electricity demand, injected")
