"""Training steps per second of the loop on two recipes, for this checkout or another one.

The loop is ``convrec.train.loop.fit`` on one process on the CPU; each recipe's own model, batch
size and data (``maxwell``: a GRU of 64 units on stress histories, batch 32; ``fashion-mnist``:
LeNet-5 on 28x28 images, batch 128). Steps are timed from the end of the first to the end of the
last of ``--steps`` steps of one epoch (validation and checkpoints are outside the timing), over
``--repeats`` interleaved repeats; the table gives the median and the spread.

To compare two revisions, run it once per checkout, e.g. with an older commit checked out as a
worktree: ``PYTHONPATH=/tmp/old python benchmarks/steps_per_second.py`` (the script imports
whichever convrec comes first on the path and says which).

Usage:
    python benchmarks/steps_per_second.py [--steps 60] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import torch
from lightning.fabric import Fabric
from provenance import revision
from torch.utils.data import Subset

import convrec
from convrec.models import create
from convrec.tasks import create_task
from convrec.train.loop import Callback, FitState, Loop, fit

try:  # the loaders moved out of run.py when it was split
    from convrec.train.batches import evaluation_loader, train_loader
except ImportError:
    from convrec.train.run import evaluation_loader, train_loader

RECIPES = {
    "maxwell": ("gru", 32, {"hidden_size": 64, "num_layers": 1}),
    "fashion-mnist": ("lenet5", 128, {}),
}


class StepClock(Callback):
    """The time at the end of every step."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_batch_end(self, loop: Loop, loss: float) -> None:
        self.ends.append(time.perf_counter())


def steps_per_second(task_name: str, steps: int) -> float:
    model_name, batch_size, options = RECIPES[task_name]
    task = create_task(task_name)
    data = task.build_data(0)
    torch.manual_seed(0)
    model = create(model_name, **task.model_arguments(), **options)
    fabric = Fabric(accelerator="cpu", devices=1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    model, optimizer = fabric.setup(model, optimizer)
    loop = Loop(fabric, model, optimizer, scheduler, FitState())
    train = Subset(data.train, range(min(len(data.train), steps * batch_size)))
    validation = Subset(data.validation, range(batch_size))
    clock = StepClock()
    fit(
        loop,
        train_loader(train, batch_size, 0, task.collate),
        evaluation_loader(validation, batch_size, task.collate),
        task.loss,
        1,
        1.0,
        [clock],
    )
    return (len(clock.ends) - 1) / (clock.ends[-1] - clock.ends[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    checkout = Path(convrec.__file__).parent.parent
    started = revision(checkout)
    rates: dict[str, list[float]] = {name: [] for name in RECIPES}
    for _ in range(arguments.repeats):
        for name in RECIPES:
            rates[name].append(steps_per_second(name, arguments.steps))
    print(
        f"{date.today()}, {platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{arguments.threads} threads, convrec at {checkout} (revision {started}), "
        f"{arguments.steps} steps x {arguments.repeats} repeats"
    )
    print("| recipe | steps/s (median) | min-max |")
    print("|---|---|---|")
    for name, values in rates.items():
        print(f"| {name} | {statistics.median(values):.1f} | {min(values):.1f}-{max(values):.1f} |")


if __name__ == "__main__":
    main()
