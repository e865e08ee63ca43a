"""PNG pictures of a run, drawn with matplotlib's file-only backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from convrec.data.anomalies import events
from convrec.diagnose.gradient_flow import RecurrentFlow
from convrec.files import atomic_write

# (label, raw (T, 3) = stretch, rate, dt; true stress (T,); predicted stress (T,))
StressCurve = tuple[str, np.ndarray, np.ndarray, np.ndarray]
_LINE_STYLES = ("-", "--", ":", "-.")


def save_figure(figure: Figure, path: Path) -> Path:
    atomic_write(path, lambda file: figure.savefig(file, format="png", dpi=110))
    plt.close(figure)
    return path


def plot_learning_curves(
    history: Sequence[Mapping[str, float]], path: Path, metric: str | None = None
) -> Path:
    """Training and validation loss per epoch (log scale), from ``history.csv``'s rows, and
    beside them the task's ``metric`` on the validation split where the rows hold
    ``validation_<metric>``; epochs on whole-number ticks."""
    column = f"validation_{metric}"
    with_metric = metric is not None and any(column in row for row in history)
    figure, grid = plt.subplots(
        1, 2 if with_metric else 1, figsize=(11 if with_metric else 6, 4), layout="constrained"
    )
    loss_axes = grid[0] if with_metric else grid
    epochs = [row["epoch"] for row in history]
    for key, label in (("train_loss", "train"), ("validation_loss", "validation")):
        loss_axes.plot(epochs, [row[key] for row in history], marker=".", label=label)
    loss_axes.set(xlabel="epoch", ylabel="loss", yscale="log", title="Learning curves")
    loss_axes.legend()
    panels = [loss_axes]
    if with_metric:
        metric_axes = grid[1]
        rows = [row for row in history if column in row]
        metric_axes.plot([row["epoch"] for row in rows], [row[column] for row in rows], marker=".")
        metric_axes.set(xlabel="epoch", ylabel=metric, title=f"Validation {metric}")
        panels.append(metric_axes)
    for axes in panels:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
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


def plot_confusion_matrix(matrix: np.ndarray, classes: Sequence[str], path: Path) -> Path:
    """Counts of true (rows) against predicted (columns) classes, with the row share as colour."""
    size = max(4.0, 0.45 * len(classes) + 2)
    figure, axes = plt.subplots(figsize=(size, size), layout="constrained")
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(classes))
    axes.set_xticks(ticks, classes, rotation=90)
    axes.set_yticks(ticks, classes)
    if len(classes) <= 20:
        for row, column in np.ndindex(matrix.shape):
            colour = "white" if shares[row, column] > 0.5 else "black"
            axes.text(column, row, int(matrix[row, column]), ha="center", va="center", color=colour)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    axes.set(xlabel="predicted", ylabel="true", title=f"Confusion matrix (accuracy {accuracy:.3f})")
    return save_figure(figure, path)


def plot_alignments(
    panels: Sequence[tuple[Sequence[str], Sequence[str], np.ndarray]], path: Path
) -> Path:
    """Attention weights of an encoder-decoder, one panel per sequence: ``(source symbols,
    output symbols, weights (U, T))``, each output's row over the source it attended to."""
    figure, grid = _panels(len(panels))
    for axes, (source, output, weights) in zip(grid, panels, strict=False):
        axes.imshow(weights, cmap="Greys", vmin=0, vmax=1, aspect="auto")
        axes.set_xticks(np.arange(len(source)), source)
        axes.set_yticks(np.arange(len(output)), output)
        axes.set(xlabel="source", ylabel="output")
    figure.suptitle("Attention: where each output looked")
    return save_figure(figure, path)


def plot_ctc_posteriors(
    panels: Sequence[tuple[str, np.ndarray]],
    labels: Sequence[str],
    seconds_per_frame: float,
    path: Path,
) -> Path:
    """Per-frame posteriors of a CTC model, one panel per recording: ``(title, posteriors
    (T, C))`` with the blank in column 0 (drawn grey and dashed) and ``labels`` naming columns
    ``1..C-1``; each label's probability over time shows where it fires."""
    figure, grid = plt.subplots(
        len(panels), 1, figsize=(9, 2.2 * len(panels)), layout="constrained", squeeze=False
    )
    colours = plt.get_cmap("tab10")
    for axes, (title, posteriors) in zip(grid[:, 0], panels, strict=True):
        seconds = np.arange(len(posteriors)) * seconds_per_frame
        axes.plot(seconds, posteriors[:, 0], color="grey", linestyle="--", linewidth=1)
        for column, label in enumerate(labels, start=1):
            line = posteriors[:, column]
            axes.plot(seconds, line, color=colours((column - 1) % 10), linewidth=1.2)
            peak = int(line.argmax())
            if line[peak] > 0.5:
                axes.annotate(label, (seconds[peak], line[peak]), ha="center", va="bottom")
        axes.set(ylim=(0, 1.15), ylabel="posterior", title=title)
    grid[-1, 0].set_xlabel("time (s); dashed: blank")
    return save_figure(figure, path)


def plot_anomalies(
    steps: np.ndarray,
    values: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    test_start: int,
    title: str,
    path: Path,
) -> Path:
    """A labelled stream above its anomaly scores: true anomalies shaded red, alarms (scores
    over ``threshold``) marked, the test part right of a dashed line.

    Shape:
        steps, values, labels, scores: ``(T,)``.
    """
    figure, (series, scored) = plt.subplots(
        2, 1, figsize=(11, 5), sharex=True, layout="constrained", height_ratios=(2, 1)
    )
    series.plot(steps, values, color="black", linewidth=0.7)
    for start, stop in events(labels):
        for axes in (series, scored):
            axes.axvspan(steps[start] - 0.5, steps[stop - 1] + 0.5, color="tab:red", alpha=0.25)
    alarms = scores > threshold
    series.scatter(steps[alarms], values[alarms], s=12, color="tab:orange", zorder=3, label="alarm")
    series.set(ylabel="value", title=f"{title}: true anomalies shaded, alarms marked")
    series.legend(loc="upper left")
    scored.plot(steps, scores, color="tab:blue", linewidth=0.7)
    scored.axhline(threshold, color="tab:orange", linestyle="--", linewidth=1)
    scored.set(xlabel="step", ylabel="score")
    for axes in (series, scored):
        axes.axvline(test_start, color="grey", linestyle=":", linewidth=1)
        axes.grid(alpha=0.3)
    return save_figure(figure, path)


def plot_forecasts(true: np.ndarray, predicted: np.ndarray, name: str, path: Path) -> Path:
    """Test forecasts against the truth: every window's first forecast step along the test
    period, and the whole horizon from a few forecast origins.

    Shape:
        true, predicted: ``(windows, horizon)`` in the series' units.
    """
    figure, (steps, horizons) = plt.subplots(2, 1, figsize=(9, 6), layout="constrained")
    steps.plot(true[:, 0], color="black", linewidth=1, label="true")
    steps.plot(predicted[:, 0], color="tab:orange", linewidth=1, label="forecast, 1 step ahead")
    steps.set(xlabel="test window", ylabel=name, title="One-step-ahead forecasts")
    steps.legend()
    horizon = true.shape[1]
    origins = np.linspace(0, len(true) - 1, 4).astype(int)
    for number, origin in enumerate(origins):
        offset = number * (horizon + 2)
        axis = np.arange(offset, offset + horizon)
        horizons.plot(axis, true[origin], color="black", linewidth=1)
        horizons.plot(axis, predicted[origin], color="tab:orange", linewidth=1)
    horizons.set(xlabel="forecast step (4 origins)", ylabel=name, title="Whole-horizon forecasts")
    for axes in (steps, horizons):
        axes.grid(alpha=0.3)
    return save_figure(figure, path)


def plot_predicted_against_true(
    true: np.ndarray, predicted: np.ndarray, names: Sequence[str], path: Path
) -> Path:
    """One panel per target: predicted against true values, with the line where they agree.

    Shape:
        true, predicted: ``(rows, targets)`` in the targets' units.
    """
    figure, panels = _panels(len(names))
    for column, (axes, name) in enumerate(zip(panels, names, strict=False)):
        low = min(true[:, column].min(), predicted[:, column].min())
        high = max(true[:, column].max(), predicted[:, column].max())
        axes.plot([low, high], [low, high], color="black", linewidth=1)
        axes.scatter(true[:, column], predicted[:, column], s=6, alpha=0.5, color="tab:orange")
        axes.set(xlabel=f"true {name}", ylabel=f"predicted {name}", title=name)
        axes.grid(alpha=0.3)
    return save_figure(figure, path)


def plot_class_scores(matrix: np.ndarray, classes: Sequence[str], path: Path) -> Path:
    """Per-class precision, recall and F1 from a confusion matrix (true rows, predicted columns)."""
    scores = class_scores(matrix)
    figure, axes = plt.subplots(figsize=(max(6.0, 0.5 * len(classes) + 2), 4), layout="constrained")
    positions = np.arange(len(classes))
    for offset, name in zip((-0.27, 0.0, 0.27), ("precision", "recall", "f1"), strict=True):
        axes.bar(positions + offset, scores[name], width=0.27, label=name)
    axes.set_xticks(positions, classes, rotation=90 if len(classes) > 8 else 0)
    axes.set(ylim=(0, 1.05), ylabel="score", title="Per-class precision, recall and F1 (test)")
    axes.legend(loc="lower right")
    axes.grid(alpha=0.3, axis="y")
    return save_figure(figure, path)


def class_scores(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """``precision``, ``recall`` and ``f1`` per class (0 where undefined) from confusion counts."""
    hits = np.diag(matrix).astype(float)
    precision = hits / np.maximum(matrix.sum(axis=0), 1)
    recall = hits / np.maximum(matrix.sum(axis=1), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return {"precision": precision, "recall": recall, "f1": f1}


def plot_gradient_flow(flows: Sequence[RecurrentFlow], path: Path) -> Path:
    """Per recurrent layer and direction, against steps before the end of the sequence:
    ``||dL/dh_t||``, ``||dh_T/dh_t||`` (log scales) and the share of saturated gates. Each value
    is a mean over the sequences long enough for its lag; where lengths vary, a grey step line
    (right axis) shows how many those are, so that a jump where short sequences drop out reads
    as what it is."""
    figure, (loss, jacobian, saturation) = plt.subplots(
        1, 3, figsize=(15, 4.2), layout="constrained"
    )
    counts = next((flow.sequences for flow in flows if flow.sequences), [])
    if counts and min(counts) != max(counts):
        for axes in (loss, jacobian):
            present = axes.twinx()
            present.step(range(len(counts)), counts, where="mid", color="grey", alpha=0.5)
            present.set_ylabel("sequences present", color="grey")
            present.set_ylim(0, max(counts) * 1.05)
    for flow in flows:
        line = loss.plot(flow.loss_gradient, label=flow.label)[0]
        norms = ", ".join(f"{gate} {value:.2f}" for gate, value in flow.recurrent_norm.items())
        jacobian.plot(flow.jacobian, color=line.get_color(), label=f"sigma_max: {norms}")
        for style, (gate, shares) in zip(_LINE_STYLES, flow.saturation.items(), strict=False):
            saturation.plot(shares, color=line.get_color(), linestyle=style, label=gate)
    loss.set(yscale="log", title="||dL/dh_t||", ylabel="mean over sequences")
    jacobian.set(yscale="log", title="||dh_T/dh_t|| (Frobenius)")
    saturation.set(ylim=(0, 1), title="saturated gate units (share)")
    for axes in (loss, jacobian, saturation):
        axes.set_xlabel("steps before the end of the sequence")
        axes.grid(alpha=0.3)
        if axes.has_data():
            axes.legend(fontsize="x-small")
    figure.suptitle("Gradient flow through time")
    return save_figure(figure, path)


def plot_gradient_flow_history(history: Sequence[Mapping], path: Path) -> Path:
    """``||dh_T/dh_t||`` of each recurrent layer and direction, one line per recorded epoch.

    Args:
        history: ``{"epoch": int, "flows": [RecurrentFlow.to_dict(), ...]}`` per recording.
    """
    labels = [RecurrentFlow(**flow).label for flow in history[0]["flows"]]
    figure, grid = _panels(len(labels))
    colours = plt.get_cmap("viridis")(np.linspace(0, 1, len(history)))
    for colour, record in zip(colours, history, strict=True):
        for axes, flow in zip(grid, record["flows"], strict=False):
            axes.plot(flow["jacobian"], color=colour, label=f"epoch {record['epoch']}")
    for axes, label in zip(grid, labels, strict=False):
        axes.set(title=label, yscale="log", xlabel="steps before the end", ylabel="||dh_T/dh_t||")
        axes.grid(alpha=0.3)
    grid[0].legend(fontsize="x-small")
    figure.suptitle("Gradient flow through time during training")
    return save_figure(figure, path)
