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

from convrec.data.finite import check_finite_batch
from convrec.errors import UserError
from convrec.nn import Padded

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
    """Hooks at the loop's events; lower ``order`` runs first."""

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
) -> FitState:
    """Train ``loop.model`` until ``epochs`` epochs are done or a callback sets ``state.stop``."""
    fabric, model, optimizer, state = loop.fabric, loop.model, loop.optimizer, loop.state
    callbacks = sorted(callbacks, key=lambda callback: callback.order)
    for callback in callbacks:
        callback.on_fit_start(loop)
    while state.epoch < epochs and not state.stop:
        model.train()
        for callback in callbacks:
            callback.on_epoch_start(loop)
        set_epoch(train_loader, state.epoch)
        losses, gradient_norms = [], []
        for batch in train_loader:
            check_finite_batch(batch[0], batch=state.step + 1)  # the host's copy: no device wait
            inputs, targets = fabric.to_device(batch)
            loss = loss_function(model(inputs), targets)
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
            losses.append(value)
            gradient_norms.append(norm_value)
            for callback in callbacks:
                callback.on_batch_end(loop, value)
        state.epoch += 1
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
                "lr": learning_rate,
                "grad_norm_max": max(gradient_norms),
            }
        )
        for callback in callbacks:
            callback.on_epoch_end(loop)
    for callback in callbacks:
        callback.on_fit_end(loop)
    return state


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
