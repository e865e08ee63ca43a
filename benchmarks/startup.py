"""Start-up time of the command line, against importing PyTorch.

Each command runs as a new process, the commands interleaved in every round (so that a load on
the machine touches all of them alike); the table gives the median wall time over ``--rounds``
rounds, the min-max spread and the ratio of medians to ``python -c "import torch"`` measured in
the same rounds. The goal of the "fresh machine" issue: ``convrec --help`` and ``convrec tasks``
at most 1.3x importing torch.

``--compare DIR`` also times the convrec commands of another checkout (e.g. an older commit
checked out as a worktree), run with ``PYTHONPATH=DIR``, in the same rounds.

Usage:
    python benchmarks/startup.py [--rounds 7] [--compare /tmp/old]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from provenance import revision

BASELINE = "import torch"
COMMANDS = {
    BASELINE: [sys.executable, "-c", "import torch"],
    "convrec --help": [sys.executable, "-m", "convrec.cli", "--help"],
    "convrec tasks": [sys.executable, "-m", "convrec.cli", "tasks"],
    "convrec models": [sys.executable, "-m", "convrec.cli", "models"],
    "import convrec.nn": [sys.executable, "-c", "import convrec.nn"],
}


def seconds(command: list[str], checkout: str | None = None) -> float:
    """Wall time of ``command`` as a new process (with ``PYTHONPATH=checkout`` if given)."""
    environment = {**os.environ, **({"PYTHONPATH": checkout} if checkout else {})}
    started = time.perf_counter()
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--compare", help="another checkout whose commands are timed too")
    arguments = parser.parse_args()
    started = revision()
    runs = {name: (command, None) for name, command in COMMANDS.items()}
    if arguments.compare:
        runs |= {
            f"{name} ({arguments.compare}, {revision(Path(arguments.compare))})": (
                command,
                arguments.compare,
            )
            for name, command in COMMANDS.items()
            if name != BASELINE
        }
    for command, checkout in runs.values():  # warm the file cache
        seconds(command, checkout)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(arguments.rounds):
        for name, (command, checkout) in runs.items():
            times[name].append(seconds(command, checkout))
    base = statistics.median(times[BASELINE])
    print(
        f"{date.today()}, {platform.machine()} {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, revision {started}, {arguments.rounds} interleaved rounds"
    )
    print("| command | median s | min-max s | / import torch |")
    print("|---|---|---|---|")
    for name, values in times.items():
        middle = statistics.median(values)
        print(
            f"| `{name}` | {middle:.3f} | {min(values):.3f}-{max(values):.3f} | "
            f"{middle / base:.2f}x |"
        )


if __name__ == "__main__":
    main()
