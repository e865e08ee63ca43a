"""The optimizer and its learning-rate schedule, from the configuration.

The schedule is one pure function of the optimizer step, ``lr_t = lr * factor(t)``, applied by
``torch.optim.lr_scheduler.LambdaLR`` after every step. Being a function of the step alone, it
resumes exactly from a checkpoint (which stores ``t``) and follows a changed ``epochs`` on
resume, where ``OneCycleLR`` would refuse to step past its planned total.

- warm-up: ``factor(t) = min(1, (t + 1) / W)`` for the steps ``t < W = warmup_epochs *
  steps_per_epoch``;
- ``cosine``: then ``0.01 + 0.99 * (1 + cos(pi p)) / 2``, with ``p`` the fraction of the
  remaining steps done: down to ``lr / 100`` at the end;
- ``constant``: then 1;
- ``one-cycle`` (Smith & Topin 2019): up from ``1 / 25`` to 1 over the warm-up (30% of the steps
  if ``warmup_epochs`` is 0) along half a cosine, then down to ``1 / 25e4`` along half a cosine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn

from convrec.train.config import TrainConfig

ONE_CYCLE_START = 1 / 25  # OneCycleLR's div_factor
ONE_CYCLE_END = 1 / 25e4  # div_factor * final_div_factor
ONE_CYCLE_RISE = 0.3  # OneCycleLR's pct_start, when no warm-up is given


def make_optimizer(
    config: TrainConfig, parameters: Iterable[nn.Parameter]
) -> torch.optim.Optimizer:
    """``AdamW(lr, weight_decay)`` or ``SGD(lr, momentum, weight_decay)``."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)


def make_scheduler(
    config: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """The configured schedule over ``config.epochs * steps_per_epoch`` optimizer steps."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lr_factor(
            config.schedule, config.epochs * steps_per_epoch, config.warmup_epochs * steps_per_epoch
        ),
    )


def lr_factor(schedule: str, total_steps: int, warmup_steps: float) -> Callable[[int], float]:
    """``factor(step)``: the learning rate of optimizer step ``step`` (from 0) over the peak."""
    warmup = max(0.0, float(warmup_steps))
    if schedule == "one-cycle":
        rise = warmup if warmup > 0 else ONE_CYCLE_RISE * total_steps
        return lambda step: _one_cycle(step, total_steps, rise)

    def factor(step: int) -> float:
        if step < warmup:
            return min(1.0, (step + 1) / warmup)
        if schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1.0, total_steps - warmup)
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


def _one_cycle(step: int, total_steps: int, rise: float) -> float:
    if step < rise:
        return _cosine_between(ONE_CYCLE_START, 1.0, step / rise)
    progress = (step - rise) / max(1.0, total_steps - rise)
    return _cosine_between(1.0, ONE_CYCLE_END, min(1.0, progress))


def _cosine_between(start: float, end: float, progress: float) -> float:
    """From ``start`` at progress 0 to ``end`` at 1 along half a cosine."""
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * progress))
