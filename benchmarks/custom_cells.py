"""Cells without an ATen kernel against the native LSTM: forward + backward, bidirectional, on
Padded batches.

For each size, every run goes forward and backward on the same Padded batch (lengths uniform in
[T/2, T], one sequence of length T), interleaved, several times after a warm-up; the table gives
the median, the min-max spread and each median's ratio to ``torch.nn.LSTM`` of the same size on
the padded tensor (the baseline: PyTorch's fused kernel, reading the padding). Before timing, each
fused run is checked against the same layer on the reference loop (outputs and gradients).

Usage:
    python benchmarks/custom_cells.py [--repeats 5] [--device cpu|cuda] [--sizes 32x100x128 ...]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from collections.abc import Callable
from datetime import date

import torch
from masked_rnn import time_runs
from provenance import revision

from convrec.nn import GRU, LSTM, Padded, Recurrent

SIZES = ["32x100x128", "16x1000x64"]  # batch x steps x hidden (input size = hidden size)


def layers(hidden: int) -> dict[str, Callable[[str], torch.nn.Module]]:
    """The convrec layers timed, each built for a backend: ``'fused'`` or ``'reference'``."""
    return {
        "LSTM (PyTorch's kernel)": lambda backend: LSTM(
            hidden, hidden, bidirectional=True, backend=backend
        ),
        "notes' GRU (reset before)": lambda backend: GRU(
            hidden, hidden, bidirectional=True, backend=backend
        ),
        "peephole LSTM": lambda backend: Recurrent(
            "peephole_lstm", hidden, hidden, bidirectional=True, backend=backend
        ),
        "LSTM, recurrent dropout 0.25": lambda backend: LSTM(
            hidden, hidden, bidirectional=True, recurrent_dropout=0.25, backend=backend
        ),
    }


def make_runs(batch: int, steps: int, hidden: int, device: str) -> dict[str, Callable[[], None]]:
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(steps // 2, steps + 1, (batch,), generator=generator)
    lengths[0] = steps
    x = torch.randn(batch, steps, hidden, generator=generator).to(device)
    padded = Padded(x, lengths.to(device))
    torch_lstm = torch.nn.LSTM(hidden, hidden, batch_first=True, bidirectional=True).to(device)
    torch_gru = torch.nn.GRU(hidden, hidden, batch_first=True, bidirectional=True).to(device)

    def torch_run(module: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            output, _ = module(x)
            output.sum().backward()

        return run

    def convrec_run(layer: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            layer(padded).data.sum().backward()

        return run

    runs = {
        "torch.nn.LSTM (baseline)": torch_run(torch_lstm),
        "torch.nn.GRU": torch_run(torch_gru),
    }
    for name, build in layers(hidden).items():
        fused = build("fused").to(device).train()
        reference = build("reference").to(device).train()
        reference.load_state_dict(fused.state_dict())
        check_equal(fused, reference, padded)
        runs[f"{name}, fused"] = convrec_run(fused)
        if not name.startswith("LSTM (PyTorch"):
            runs[f"{name}, reference loop"] = convrec_run(reference)
    return runs


def check_equal(fused: torch.nn.Module, reference: torch.nn.Module, padded: Padded) -> None:
    """The fused run gives the reference loop's outputs and gradients (same dropout masks)."""
    results = []
    for layer in (fused, reference):
        torch.manual_seed(1)
        output = layer(padded).data
        gradients = torch.autograd.grad(output.square().sum(), list(layer.parameters()))
        results.append((output, gradients))
    (output, gradients), (expected, expected_gradients) = results
    torch.testing.assert_close(output, expected, rtol=1e-4, atol=1e-5)
    for mine, theirs in zip(gradients, expected_gradients, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-3, atol=1e-4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--sizes", nargs="+", default=SIZES, help="BxTxH, e.g. 32x100x128")
    arguments = parser.parse_args()
    torch.manual_seed(0)
    print(f"date {date.today()}, revision {revision()}, torch {torch.__version__}")
    print(f"machine {platform.machine()}, {platform.processor() or 'unknown processor'}")
    print(f"device {arguments.device}, threads {torch.get_num_threads()}")
    print(f"command: python {' '.join(sys.argv)}")
    print("bidirectional, input size = hidden size, forward + backward, Padded batches\n")
    print("| B | T | H | run | median ms | min-max ms | x torch.nn.LSTM |")
    print("|---|---|---|---|---|---|---|")
    for size in arguments.sizes:
        batch, steps, hidden = (int(part) for part in size.split("x"))
        runs = make_runs(batch, steps, hidden, arguments.device)
        timings = time_runs(runs, arguments.repeats, arguments.device)
        baseline = statistics.median(timings["torch.nn.LSTM (baseline)"])
        for name, values in timings.items():
            median = statistics.median(values)
            print(
                f"| {batch} | {steps} | {hidden} | {name} | {median * 1e3:.1f} | "
                f"{min(values) * 1e3:.1f}-{max(values) * 1e3:.1f} | {median / baseline:.2f} |"
            )


if __name__ == "__main__":
    main()
