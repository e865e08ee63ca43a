"""PNG pictures of a run, drawn with matplotlib's file-only backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from convrec.files import atomic_write

# (label, raw (T, 3) = stretch, rate, dt; true stress (T,); predicted stress (T,))
StressCurve = tuple[str, np.ndarray, np.ndarray, np.ndarray]


def save_figure(figure: Figure, path: Path) -> Path:
    atomic_write(path, lambda file: figure.savefig(file, format="png", dpi=110))
    plt.close(figure)
    return path


def plot_learning_curves(history: Sequence[Mapping[str, float]], path: Path) -> Path:
    """Training and validation loss per epoch (log scale), from ``history.csv``'s rows."""
    figure, axes = plt.subplots(figsize=(6, 4), layout="constrained")
    epochs = [row["epoch"] for row in history]
    for key, label in (("train_loss", "train"), ("validation_loss", "validation")):
        axes.plot(epochs, [row[key] for row in history], marker=".", label=label)
    axes.set(xlabel="epoch", ylabel="loss", yscale="log", title="Learning curves")
    axes.legend()
    axes.grid(alpha=0.3)
    return save_figure(figure, path)


def plot_hysteresis(curves: Sequence[StressCurve], path: Path) -> Path:
    """Stress against stretch, true (solid) and predicted (dashed), one panel per history."""
    figure, grid = _panels(len(curves))
    for axes, (label, raw, true, predicted) in zip(grid, curves, strict=False):
        axes.plot(raw[:, 0], true, color="black", label="true")
        axes.plot(raw[:, 0], predicted, color="tab:red", linestyle="--", label="predicted")
        axes.set(title=label, xlabel="stretch", ylabel="stress (MPa)")
    grid[0].legend()
    figure.suptitle("Stress-stretch hysteresis")
    return save_figure(figure, path)


def plot_stress_time(curves: Sequence[StressCurve], path: Path) -> Path:
    """Stress over time, true (solid) and predicted (dashed), one panel per history."""
    figure, grid = _panels(len(curves))
    for axes, (label, raw, true, predicted) in zip(grid, curves, strict=False):
        time = np.cumsum(raw[:, 2])
        axes.plot(time, true, color="black", label="true")
        axes.plot(time, predicted, color="tab:red", linestyle="--", label="predicted")
        axes.set(title=label, xlabel="time (s)", ylabel="stress (MPa)")
    grid[0].legend()
    figure.suptitle("Stress history")
    return save_figure(figure, path)


def _panels(count: int) -> tuple[Figure, list]:
    columns = min(3, count)
    rows = -(-count // columns)
    figure, grid = plt.subplots(
        rows, columns, figsize=(4 * columns, 3.2 * rows), layout="constrained", squeeze=False
    )
    flat = list(grid.flat)
    for axes in flat[count:]:
        axes.set_visible(False)
    return figure, flat
