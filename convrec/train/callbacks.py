"""Small ordered callbacks: history, checkpoints, early stopping, frozen backbone, progress."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

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
            raise ValueError(
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


class ProgressBar(Callback):
    """A rich progress bar over all steps, with the epoch and the latest losses."""

    order = 40

    def __init__(self, epochs: int, steps_per_epoch: int) -> None:
        self.total = epochs * steps_per_epoch
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TextColumn("loss {task.fields[loss]:.3g}  val {task.fields[validation]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self.task = None

    def on_fit_start(self, loop: Loop) -> None:
        if not loop.fabric.is_global_zero:
            return
        self.progress.start()
        done = loop.state.step
        self.task = self.progress.add_task(
            "train",
            total=self.total,
            completed=done,
            epoch=loop.state.epoch + 1,
            loss=0.0,
            validation="-",
        )

    def on_batch_end(self, loop: Loop, loss: float) -> None:
        if self.task is not None:
            self.progress.update(self.task, advance=1, loss=loss)

    def on_epoch_end(self, loop: Loop) -> None:
        if self.task is not None:
            row = loop.state.history[-1]
            self.progress.update(
                self.task, epoch=loop.state.epoch + 1, validation=f"{row['validation_loss']:.3g}"
            )

    def on_fit_end(self, loop: Loop) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.total)
            self.progress.stop()
