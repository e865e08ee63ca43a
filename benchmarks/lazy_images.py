"""Memory of a large image folder, decoded up front or lazily (``task_options.lazy``).

Writes ``--images`` PNG files (32x32 RGB noise in ten class folders, seeded) to a temporary
folder, then, each in a fresh process so that peak memory is its own: builds the ``images``
kind's data (the survey of every file's header, the splits, the per-channel statistics) and
reads every training item once, as an epoch would. The table gives the peak resident memory
(``ru_maxrss``), the seconds to build and the seconds for one pass, eager against lazy. The
goal of the "your own data" issue: a 100,000-image folder does not need all of it in memory.

Usage:
    python benchmarks/lazy_images.py [--images 100000]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image
from provenance import revision

MEASURE = """
import json, resource, sys, time
from convrec.tasks import create_task
start = time.perf_counter()
data = create_task("images", data=sys.argv[1], lazy=sys.argv[2] == "lazy").build_data(0)
built = time.perf_counter()
for index in range(len(data.train)):
    data.train[index]
read = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"build": built - start, "epoch": read - built, "peak_mb": peak}))
"""


def write_folder(root: Path, count: int) -> Path:
    """``count`` 32x32 RGB PNGs of noise, ten classes."""
    rng = np.random.default_rng(0)
    for label in range(10):
        (root / f"class{label}").mkdir(parents=True)
    for index in range(count):
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"class{index % 10}" / f"{index}.png")
    return root


def measure(folder: Path, mode: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(folder), mode],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = write_folder(Path(temporary) / "images", arguments.images)
        results = {mode: measure(folder, mode) for mode in ("eager", "lazy")}
    print(
        f"{date.today()}, {platform.machine()} {platform.processor() or ''}, revision "
        f"{revision()}, {arguments.images:,} images 32x32 RGB"
    )
    print("| mode | peak memory (MB) | build (s) | one pass over the training split (s) |")
    print("|---|---|---|---|")
    for mode, result in results.items():
        print(
            f"| {mode} | {result['peak_mb']:,.0f} | {result['build']:.1f} | {result['epoch']:.1f} |"
        )
    ratio = results["eager"]["peak_mb"] / results["lazy"]["peak_mb"]
    print(f"peak memory, eager over lazy: {ratio:.1f}x")


if __name__ == "__main__":
    main()
