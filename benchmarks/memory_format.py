"""Training steps of the image ResNet in each weight layout: contiguous (NCHW), channels-last
(``channels_last=True``) and contiguous under bfloat16 autocast, on the CPU.

A step is forward, cross-entropy, backward and an AdamW update on a batch of random 28x28 grey
images (Fashion-MNIST's shape); each layout is timed over ``--steps`` steps after 3 warm-up
steps, the layouts interleaved over ``--repeats`` repeats, and the table gives the median
milliseconds a step and its ratio to the contiguous layout's, measured in the same run.

Usage:
    python benchmarks/memory_format.py [--steps 10] [--repeats 3] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import date

import torch
from provenance import revision
from rich.console import Console
from rich.table import Table

from convrec.models import create

WIDTHS = [(8, 16, 32), (16, 32, 64), (32, 64, 128)]
LAYOUTS = ("contiguous", "channels-last", "bfloat16 autocast")


def step_milliseconds(widths: tuple[int, ...], layout: str, batch_size: int, steps: int) -> float:
    """Mean milliseconds of a training step of ``create('resnet', widths=widths)`` in ``layout``."""
    torch.manual_seed(0)
    model = create("resnet", input_shape=(1, 28, 28), output_size=10, widths=widths)
    if layout == "channels-last":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images, labels = torch.randn(batch_size, 1, 28, 28), torch.randint(0, 10, (batch_size,))
    for index in range(3 + steps):
        if index == 3:
            started = time.perf_counter()
        with torch.autocast("cpu", torch.bfloat16, enabled=layout == "bfloat16 autocast"):
            loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - started) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    arguments = parser.parse_args()
    console = Console()
    console.print(
        f"date {date.today()}, revision {revision()}, {platform.machine()} "
        f"{platform.processor() or 'CPU'}, {os.cpu_count()} cores, {torch.get_num_threads()} "
        f"torch threads, torch {torch.__version__}; batch {arguments.batch_size}"
    )
    times: dict[tuple, list[float]] = {}
    for _ in range(arguments.repeats):
        for widths in WIDTHS:
            for layout in LAYOUTS:
                milliseconds = step_milliseconds(
                    widths, layout, arguments.batch_size, arguments.steps
                )
                times.setdefault((widths, layout), []).append(milliseconds)
    table = Table("widths", "layout", "ms a step (median)", "spread", "x contiguous")
    for widths in WIDTHS:
        baseline = statistics.median(times[widths, "contiguous"])
        for layout in LAYOUTS:
            measured = times[widths, layout]
            median = statistics.median(measured)
            table.add_row(
                ", ".join(map(str, widths)),
                layout,
                f"{median:.0f}",
                f"{min(measured):.0f}-{max(measured):.0f}",
                f"{median / baseline:.2f}",
            )
    console.print(table)


if __name__ == "__main__":
    main()
