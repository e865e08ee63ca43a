"""The training loop: forward, loss, backward, clip, step, as in the textbook.

Lightning Fabric carries devices, precision and distributed data parallel (``fabric.to_device``,
``fabric.backward``, ``fabric.clip_gradients``, ``fabric.all_reduce``); everything else is in
plain sight below. Callbacks see the loop at named events, in their ``order``.

The loop sets the sampler's epoch itself (``train_loader`` should be a plain ``DataLoader``, not
one wrapped by ``fabric.setup_dataloaders``, whose wrapper would reset the epoch to its own count
of passes, 0 after a resume) and moves each batch to the device. A NaN or infinite input (within
each sequence's length) is refused with :class:`~convrec.data.finite.NonFiniteInputError` before
the forward pass, on the batch the loader gave, before it goes to the device; a non-finite
training loss or gradient norm stops training with :class:`TrainingDivergedError` before the
optimizer step that would apply it, and before any checkpoint of that epoch; so does a
non-finite validation loss. The learning-rate scheduler steps after every optimizer step.

With ``tbptt_steps`` (truncated backpropagation through time, :mod:`convrec.train.tbptt`) a batch
of sequences is cut along time into windows, each one forward from the recurrent state the last
one reached (``model.advance``), loss, backward, clip and step, the state then detached; the
checks above apply to every window, and the epoch's ``train_loss`` is the mean over windows.

Each step waits for the device once: the loss and the gradient norm come back to the host
together, after the backward pass and before the optimizer step, since the decision to step needs
them; nothing else in a step reads a value back from the device. The validation loss is summed
on the device and read once per epoch.

Each epoch adds a row to ``state.history``: ``epoch``, ``train_loss`` (the mean over its steps),
``validation_loss``, ``lr`` (the learning rate of its last step) and ``grad_norm_max``, the
largest total gradient norm of its steps, measured before clipping: above ``clip_grad_norm``,
clipping acted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from convrec.checks import positive_int
from convrec.data.finite import check_finite_batch
from convrec.errors import UserError
from convrec.nn import Padded
from convrec.train.tbptt import (
    advance,
    check_model_advances,
    check_state,
    detached,
    put_rows,
    select_rows,
    time_windows,
)

if TYPE_CHECKING:
    from lightning.fabric import Fabric

LossFunction = Callable[[Any, Any], Tensor]


class TrainingDivergedError(UserError, RuntimeError):
    """The loss, the gradient norm or a weight became NaN or infinite."""


@dataclass
class FitState:
    """What the loop has done; saved in every checkpoint, so a resumed run carries on from it."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    best_loss: float = math.inf  # lowest validation loss so far
    best_epoch: int = 0
    epochs_without_improvement: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    stop: bool = False

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


@dataclass
class Loop:
    """Everything a callback may look at or save."""

    fabric: Fabric
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    state: FitState


class Callback:
    """Hooks at the loop's events; lower ``order`` runs first. ``on_batch_end`` follows every
    optimizer step: every batch, or with ``tbptt_steps`` every window of a batch."""

    order = 0

    def on_fit_start(self, loop: Loop) -> None: ...

    def on_epoch_start(self, loop: Loop) -> None: ...

    def on_batch_end(self, loop: Loop, loss: float) -> None: ...

    def on_epoch_end(self, loop: Loop) -> None: ...

    def on_fit_end(self, loop: Loop) -> None: ...


def fit(
    loop: Loop,
    train_loader: DataLoader,
    validation_loader: DataLoader,
    loss_function: LossFunction,
    epochs: int,
    clip_grad_norm: float | None = None,
    callbacks: Iterable[Callback] = (),
    tbptt_steps: int | None = None,
) -> FitState:
    """Train ``loop.model`` until ``epochs`` epochs are done or a callback sets ``state.stop``.

    With ``tbptt_steps`` (truncated BPTT, :mod:`convrec.train.tbptt`), each batch is cut along
    time into windows of that many steps; each window runs ``model.advance`` from the state the
    previous one reached and takes an optimizer step of its own; the state is detached between
    windows and starts from zeros at every batch.
    """
    fabric, model, state = loop.fabric, loop.model, loop.state
    if tbptt_steps is not None:
        positive_int("fit", "tbptt_steps", tbptt_steps)
        model_name = type(getattr(model, "module", model)).__name__
        check_model_advances(model, model_name)
    callbacks = sorted(callbacks, key=lambda callback: callback.order)
    for callback in callbacks:
        callback.on_fit_start(loop)
    while state.epoch < epochs and not state.stop:
        model.train()
        for callback in callbacks:
            callback.on_epoch_start(loop)
        set_epoch(train_loader, state.epoch)
        steps: list[tuple[float, float, float]] = []  # (loss, gradient norm, learning rate)
        for batch in train_loader:
            check_finite_batch(batch[0], batch=state.step + 1)  # the host's copy: no device wait
            if tbptt_steps is None:
                inputs, targets = fabric.to_device(batch)
                loss = loss_function(model(inputs), targets)
                steps.append(_step(loop, loss, clip_grad_norm, callbacks))
                continue
            carried = None  # each row is one sequence: every batch starts from zeros
            for window in time_windows(*batch, tbptt_steps):  # cut on the host's copy
                inputs, targets, rows = fabric.to_device(
                    (window.inputs, window.targets, window.rows)
                )
                outputs, reached = advance(fabric, model, inputs, select_rows(carried, rows))
                reached = check_state(reached, inputs.shape[0], model_name)
                loss = loss_function(outputs, targets)
                steps.append(_step(loop, loss, clip_grad_norm, callbacks))
                carried = detached(put_rows(carried, reached, rows))
        state.epoch += 1
        losses, gradient_norms, learning_rates = zip(*steps, strict=True)
        train_loss = fabric.all_reduce(torch.tensor(sum(losses) / len(losses)), reduce_op="mean")
        validation = validation_loss(model, validation_loader, loss_function)
        if not math.isfinite(validation):
            raise _diverged("the validation loss", validation, f"after epoch {state.epoch}")
        if validation < state.best_loss:
            state.best_loss, state.best_epoch = validation, state.epoch
            state.epochs_without_improvement = 0
        else:
            state.epochs_without_improvement += 1
        state.history.append(
            {
                "epoch": state.epoch,
                "train_loss": float(train_loss),
                "validation_loss": validation,
                "lr": learning_rates[-1],
                "grad_norm_max": max(gradient_norms),
            }
        )
        for callback in callbacks:
            callback.on_epoch_end(loop)
    for callback in callbacks:
        callback.on_fit_end(loop)
    return state


def _step(
    loop: Loop, loss: Tensor, clip_grad_norm: float | None, callbacks: list[Callback]
) -> tuple[float, float, float]:
    """Backward, clip, check, then the optimizer's and the schedule's step: the step's loss,
    gradient norm (before clipping) and learning rate."""
    fabric, model, optimizer, state = loop.fabric, loop.model, loop.optimizer, loop.state
    optimizer.zero_grad(set_to_none=True)
    fabric.backward(loss)
    norm = fabric.clip_gradients(  # the norm before clipping; an infinite limit clips none
        model,
        optimizer,
        max_norm=math.inf if clip_grad_norm is None else clip_grad_norm,
        error_if_nonfinite=False,
    )
    value, norm_value = _check_step(loss, norm, clip_grad_norm, state)
    learning_rate = optimizer.param_groups[0]["lr"]
    optimizer.step()
    loop.scheduler.step()
    state.step += 1
    for callback in callbacks:
        callback.on_batch_end(loop, value)
    return value, norm_value, learning_rate


def _check_step(
    loss: Tensor, norm: Tensor, clip_grad_norm: float | None, state: FitState
) -> tuple[float, float]:
    """The step's loss and gradient norm, read back in one transfer; raise if the loss or (when
    clipping) the norm is not finite."""
    value, norm_value = torch.stack([loss.detach().float(), norm.detach().float()]).tolist()
    if not math.isfinite(value):
        raise _diverged("the training loss", value, _at_step(state))
    if clip_grad_norm is not None and not math.isfinite(norm_value):
        raise _diverged(
            "the gradient norm", norm_value, f"{_at_step(state)}, with loss {value:.6g}"
        )
    return value, norm_value


def set_epoch(loader: DataLoader, epoch: int) -> None:
    """Give the loader's shuffling sampler (of batches or of samples) the epoch's order."""
    batches = loader.batch_sampler
    (batches if hasattr(batches, "set_epoch") else loader.sampler).set_epoch(epoch)


def _at_step(state: FitState) -> str:
    return f"at step {state.step + 1} (epoch {state.epoch + 1})"


def _diverged(quantity: str, value: float, where: str) -> TrainingDivergedError:
    return TrainingDivergedError(
        f"{quantity} became {value} {where}; training stopped before any update from it, and "
        "the last good checkpoint is kept. Try gradient clipping (--clip-grad-norm) or a lower "
        "learning rate (--lr)."
    )


@torch.no_grad()
def validation_loss(model: nn.Module, loader: DataLoader, loss_function: LossFunction) -> float:
    """The loss over a whole split, each batch weighted by its number of sequences; summed on the
    device and read back once."""
    was_training = model.training
    model.eval()
    total, count = None, 0
    for inputs, targets in loader:
        size = targets.batch_size if isinstance(targets, Padded) else len(targets)
        weighted = loss_function(model(inputs), targets).detach().float() * size
        total = weighted if total is None else total + weighted
        count += size
    model.train(was_training)
    return float(total) / count
