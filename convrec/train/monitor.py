"""Callbacks that watch training without changing it: gradient flow through time, TensorBoard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.fabric.loggers import TensorBoardLogger

from convrec.diagnose.gradient_flow import gradient_flow
from convrec.diagnose.plots import plot_gradient_flow_history
from convrec.errors import InvalidValueError
from convrec.files import write_json
from convrec.train.loop import Callback, Loop, LossFunction


class GradientFlowMonitor(Callback):
    """Every ``every`` epochs, measure the gradient flow through time of the model's recurrent
    layers on one fixed batch; keep the records in ``gradient_flow_history.json`` and draw them
    in ``gradient_flow_history.png`` at the end.

    Args:
        batch: ``(inputs, targets)`` on the model's device, e.g. the first validation batch.
        loss_function: the task's loss.
        every: epochs between records (the first record is after epoch ``every``).
        directory: the run directory.
    """

    order = 20

    def __init__(
        self, batch: tuple[Any, Any], loss_function: LossFunction, every: int, directory: Path
    ) -> None:
        self.batch, self.loss_function, self.every = batch, loss_function, every
        self.path = directory / "gradient_flow_history.json"
        self.history: list[dict[str, Any]] = []

    def on_epoch_end(self, loop: Loop) -> None:
        if loop.state.epoch % self.every or not loop.fabric.is_global_zero:
            return
        model = getattr(loop.model, "module", loop.model)
        flows = gradient_flow(model, *self.batch, self.loss_function)
        self.history.append(
            {"epoch": loop.state.epoch, "flows": [flow.to_dict() for flow in flows]}
        )
        write_json(self.path, self.history)

    def on_fit_end(self, loop: Loop) -> None:
        if self.history:
            plot_gradient_flow_history(self.history, self.path.with_suffix(".png"))


class TensorBoardLogging(Callback):
    """Each epoch's history row (losses, learning rate) as TensorBoard scalars under
    ``directory / 'tensorboard'``, through Lightning Fabric's TensorBoard logger."""

    def __init__(self, directory: Path) -> None:
        try:
            self.logger = TensorBoardLogger(root_dir=directory, name="tensorboard", version="")
        except ModuleNotFoundError as error:
            raise InvalidValueError(
                "invalid value for argument `logger`: 'tensorboard' needs the tensorboard "
                "package; install it with pip install 'convrec[tensorboard]'"
            ) from error

    def on_epoch_end(self, loop: Loop) -> None:
        row = loop.state.history[-1]
        values = {key: value for key, value in row.items() if key != "epoch"}
        self.logger.log_metrics(values, step=row["epoch"])

    def on_fit_end(self, loop: Loop) -> None:
        self.logger.finalize("success")
