"""Small ordered callbacks: validation metric, history, checkpoints, early stopping, frozen
backbone, progress."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch.utils.data import Dataset

from convrec.errors import InvalidValueError
from convrec.files import write_csv
from convrec.train.checkpoint import checkpoint_path, prune, save_checkpoint
from convrec.train.loop import Callback, Loop
from convrec.train.transfer import backbone_branches


class HistoryWriter(Callback):
    """Rewrite ``history.csv`` (one row per epoch) after every epoch."""

    order = 10

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_epoch_end(self, loop: Loop) -> None:
        if loop.fabric.is_global_zero:
            write_csv(self.path, loop.state.history)


class FreezeBackbone(Callback):
    """Keep a frozen backbone (see :func:`~convrec.train.transfer.freeze_backbone`) in evaluation
    mode while the head trains, so batch normalisation keeps the statistics it learned and
    dropout stays off."""

    def on_epoch_start(self, loop: Loop) -> None:
        for module in backbone_branches(loop.model):
            module.eval()


class Checkpointing(Callback):
    """Commit ``epoch-NNNN/`` after every epoch, then delete all but the newest ``keep_last``
    and the best epoch's.

    Args:
        directory: the run's ``checkpoints/`` folder.
        fingerprint: what a run resuming from these checkpoints must share (task, data, model,
            seed); see :func:`convrec.train.checkpoint.load_checkpoint`.
        keep_last: how many of the newest checkpoints to keep, at least 1; with 2 (the default)
            a damaged newest one still leaves one to resume from.
    """

    order = 20

    def __init__(
        self, directory: Path, fingerprint: Mapping[str, Any] | None = None, keep_last: int = 2
    ) -> None:
        if not isinstance(keep_last, int) or keep_last < 1:
            raise InvalidValueError(
                f"invalid value for argument `keep_last`: expected an integer >= 1, got "
                f"{keep_last!r}"
            )
        self.directory = directory
        self.fingerprint = fingerprint
        self.keep_last = keep_last

    def on_epoch_end(self, loop: Loop) -> None:
        save_checkpoint(loop, checkpoint_path(self.directory, loop.state.epoch), self.fingerprint)
        if loop.fabric.is_global_zero:
            prune(self.directory, self.keep_last, loop.state.best_epoch)


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without a lower validation loss."""

    order = 30

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def on_epoch_end(self, loop: Loop) -> None:
        if loop.state.epochs_without_improvement >= self.patience:
            loop.state.stop = True


class ValidationMetric(Callback):
    """Add the task's ``name`` metric on the validation split to the epoch's history row, as
    ``validation_<name>`` (before ``history.csv`` is written)."""

    order = 5

    def __init__(self, task: Any, dataset: Dataset, name: str) -> None:
        self.task, self.dataset, self.name = task, dataset, name

    def on_epoch_end(self, loop: Loop) -> None:
        model = getattr(loop.model, "module", loop.model)
        was_training = model.training
        value = self.task.evaluate(model, self.dataset)[self.name]
        model.train(was_training)
        loop.state.history[-1][f"validation_{self.name}"] = value


class ProgressBar(Callback):
    """Progress of each epoch, then one line per epoch with its losses, learning rate and time.

    On a terminal a bar shows the epoch's steps (``epoch 3/60  41/64 steps``) with the running
    loss, refreshed at most ten times a second; elsewhere (a pipe, a log file, CI) only the
    per-epoch lines are printed, each as soon as its epoch ends.
    """

    order = 40

    def __init__(
        self,
        epochs: int,
        steps_per_epoch: int,
        console: Console | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self.epochs, self.steps = epochs, steps_per_epoch
        self.console = console or Console()
        self.data = data
        self.progress: Progress | None = None
        self.task: Any = None
        self.started = 0.0

    def on_fit_start(self, loop: Loop) -> None:
        if not loop.fabric.is_global_zero:
            return
        if self.data is not None:
            self.console.print(data_line(self.data), highlight=False, markup=False, soft_wrap=True)
        if not self.console.is_terminal:
            return
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("", total=self.steps, loss="-")

    def on_epoch_start(self, loop: Loop) -> None:
        self.started = time.perf_counter()
        if self.progress is not None:
            description = f"epoch {loop.state.epoch + 1}/{self.epochs}"
            self.progress.reset(self.task, total=self.steps, description=description, loss="-")

    def on_batch_end(self, loop: Loop, loss: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=1, loss=f"{loss:.3g}")

    def on_epoch_end(self, loop: Loop) -> None:
        if not loop.fabric.is_global_zero:
            return
        row = loop.state.history[-1]
        extras = "".join(
            f"  {key.removeprefix('validation_')} {value:.4g}"
            for key, value in row.items()
            if key.startswith("validation_") and key != "validation_loss"
        )
        best = "  *" if loop.state.best_epoch == loop.state.epoch else ""
        line = (
            f"epoch {loop.state.epoch}/{self.epochs}  train {row['train_loss']:.4g}  "
            f"validation {row['validation_loss']:.4g}{extras}  lr {row['lr']:.3g}  "
            f"{time.perf_counter() - self.started:.1f} s{best}"
        )
        (self.progress.console if self.progress is not None else self.console).print(
            line, highlight=False, markup=False, soft_wrap=True
        )

    def on_fit_end(self, loop: Loop) -> None:
        if self.progress is not None:
            self.progress.stop()


def data_line(summary: Mapping[str, Any], shown: int = 8) -> str:
    """A task's :meth:`~convrec.tasks.Task.data_summary` in one line: split sizes, then each
    class's train/validation/test counts, then the imbalance (largest over smallest training
    class); for a series without classes, each split's time range and the step."""
    sizes = ", ".join(f"{count} {split}" for split, count in summary["sizes"].items())
    if "classes" not in summary:  # a series: each split's time range
        rows = summary.get("rows", {})
        ranges = (
            "; ".join(
                f"{split} {start} to {rows['to'][split]}" for split, start in rows["from"].items()
            )
            if "from" in rows
            else ""
        )
        step = f"; step {summary['step']}" if summary.get("step") else ""
        return f"data: {sizes}" + (f"; {ranges}" if ranges else "") + step
    classes = summary["classes"]
    counts = "; ".join(
        f"{name} {'/'.join(str(count) for count in splits.values())}"
        for name, splits in list(classes.items())[:shown]
    )
    more = f"; ... {len(classes) - shown} more" if len(classes) > shown else ""
    order = "/".join(summary["sizes"])
    return (
        f"data: {sizes}; classes ({order}): {counts}{more}; "
        f"imbalance {summary.get('imbalance', 1):.3g}"
    )
