"""Masked bidirectional LSTM: convrec's Padded path against torch.nn.LSTM, packed and unmasked.

For each batch (size, padded length, length distribution) the three run forward and backward on
the same weights and inputs, interleaved, several times after a warm-up; the table gives the
median time, the min-max spread and each median's ratio to the unmasked padded run (the baseline:
it reads the padding, so it is the cost floor of a correct masked path). Before timing, convrec's
outputs and final states are checked against the packed run.

Usage:
    python benchmarks/masked_rnn.py [--repeats 5] [--device cpu] [--json results.json]

Length distributions: ``uniform`` draws lengths uniformly in [1, T]; ``long-tailed`` draws them
log-normally with median T/10 and sigma 1, clipped to [1, T]. One sequence always has length T.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date

import torch
from provenance import revision
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from convrec.nn import LSTM, Padded

CASES = [
    (32, 100, "uniform"),
    (32, 500, "uniform"),
    (32, 500, "long-tailed"),
    (16, 2000, "uniform"),
    (16, 2000, "long-tailed"),
]
INPUT_SIZE, HIDDEN_SIZE = 64, 128


def draw_lengths(
    batch: int, steps: int, distribution: str, generator: torch.Generator
) -> torch.Tensor:
    if distribution == "uniform":
        lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
    else:
        normal = torch.randn(batch, generator=generator)
        lengths = (steps / 10 * normal.exp()).round().long().clamp(1, steps)
    lengths[0] = steps
    return lengths


def make_runs(batch: int, steps: int, lengths: torch.Tensor, device: str) -> dict[str, Callable]:
    """The timed runs, each a forward and backward pass; convrec's are first checked against
    the packed run, outputs and final states."""
    torch_lstm = torch.nn.LSTM(INPUT_SIZE, HIDDEN_SIZE, batch_first=True, bidirectional=True).to(
        device
    )
    outputs_only = LSTM.from_torch(torch_lstm)
    with_state = LSTM.from_torch(torch_lstm, return_state=True)
    x = torch.randn(batch, steps, INPUT_SIZE, device=device)
    padded_batch = Padded(x, lengths)

    def torch_padded() -> None:
        output, _ = torch_lstm(x)
        output.sum().backward()

    def torch_packed() -> tuple:
        sequence = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        output, (h, c) = torch_lstm(sequence)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=steps)
        output.sum().backward()
        return output, h, c

    def convrec_outputs() -> None:
        outputs_only(padded_batch).data.sum().backward()

    def convrec_outputs_and_state() -> tuple:
        output, (h, c) = with_state(padded_batch)
        (output.data.sum() + h.sum() + c.sum()).backward()
        return output.data, h, c

    expected, got = torch_packed(), convrec_outputs_and_state()
    for ours, theirs in zip(got, expected, strict=True):
        torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(outputs_only(padded_batch).data, got[0].detach())
    return {
        "torch padded (unmasked)": torch_padded,
        "torch packed": torch_packed,
        "convrec Padded": convrec_outputs,
        "convrec Padded + final (h, c)": convrec_outputs_and_state,
    }


def time_runs(runs: dict[str, Callable], repeats: int, device: str) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():  # warm-up
        run()
    for _ in range(repeats):
        for name, run in runs.items():
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            run()
            if device == "cuda":
                torch.cuda.synchronize()
            timings[name].append(time.perf_counter() - start)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--json", help="also write the raw timings here")
    arguments = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    measured_revision = revision()
    print(f"date {date.today()}, revision {measured_revision}, torch {torch.__version__}")
    print(f"machine {platform.machine()}, {platform.processor() or 'unknown processor'}")
    print(
        f"device {arguments.device}, threads {torch.get_num_threads()}, repeats {arguments.repeats}"
    )
    print(f"command: python {' '.join(sys.argv)}")
    print(f"bidirectional LSTM, input {INPUT_SIZE}, hidden {HIDDEN_SIZE}, forward + backward\n")
    print("| B | T | lengths | mean length | run | median ms | min-max ms | x padded |")
    print("|---|---|---|---|---|---|---|---|")
    results = []
    for batch, steps, distribution in CASES:
        lengths = draw_lengths(batch, steps, distribution, generator)
        runs = make_runs(batch, steps, lengths, arguments.device)
        timings = time_runs(runs, arguments.repeats, arguments.device)
        baseline = statistics.median(timings["torch padded (unmasked)"])
        for name, values in timings.items():
            median = statistics.median(values)
            print(
                f"| {batch} | {steps} | {distribution} | {lengths.float().mean():.0f} | {name} | "
                f"{median * 1e3:.1f} | {min(values) * 1e3:.1f}-{max(values) * 1e3:.1f} | "
                f"{median / baseline:.2f} |"
            )
            results.append(
                {
                    "batch": batch,
                    "steps": steps,
                    "lengths": distribution,
                    "run": name,
                    "seconds": values,
                }
            )
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump(
                {"revision": measured_revision, "torch": torch.__version__, "results": results},
                handle,
            )


if __name__ == "__main__":
    main()
