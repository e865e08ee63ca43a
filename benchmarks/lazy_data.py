"""Memory of a large image folder and a large long CSV, read up front or lazily
(``task_options.lazy``).

Writes ``--images`` PNG files (32x32 RGB noise in ten class folders, seeded) and a long CSV of
``--series`` series of 200 steps and 3 channels (``sequence_id,time,c0,c1,c2,label``, rows of a
series together) to a temporary folder, then, each in a fresh process so that peak memory is its
own: builds the ``images`` (``series``) kind's data (reading or indexing every file, the
splits, the per-channel statistics) and reads every training item once, as an epoch would. The
table gives the peak resident memory (``ru_maxrss``), the seconds to build and the seconds for
one pass, eager against lazy. The goal of the "your own data" issue: a 100,000-image folder or a
1 GB CSV does not need all of it in memory.

Usage:
    python benchmarks/lazy_data.py [--images 100000] [--series 20000]
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
data = create_task(sys.argv[3], data=sys.argv[1], lazy=sys.argv[2] == "lazy").build_data(0)
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


def write_csv(path: Path, count: int, steps: int = 200) -> Path:
    """``count`` series of ``steps`` rows and three channels, two classes, as a long CSV."""
    rng = np.random.default_rng(0)
    with path.open("w") as file:
        file.write("sequence_id,time,c0,c1,c2,label\n")
        for index in range(count):
            values = rng.normal(size=(steps, 3))
            label = "up" if index % 2 else "down"
            file.writelines(
                f"s{index},{step},{row[0]:.6f},{row[1]:.6f},{row[2]:.6f},{label}\n"
                for step, row in enumerate(values)
            )
    return path


def measure(path: Path, kind: str, mode: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), mode, kind],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--series", type=int, default=20_000)
    arguments = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as temporary:
        folder = write_folder(Path(temporary) / "images", arguments.images)
        table = write_csv(Path(temporary) / "series.csv", arguments.series)
        sizes = {"images": f"{arguments.images:,} PNGs 32x32 RGB"}
        sizes["series"] = f"{arguments.series:,} series, {table.stat().st_size / 1e6:,.0f} MB CSV"
        for kind, path in (("images", folder), ("series", table)):
            for mode in ("eager", "lazy"):
                results[kind, mode] = measure(path, kind, mode)
    print(
        f"{date.today()}, {platform.machine()} {platform.processor() or ''}, revision {revision()}"
    )
    print("| data | mode | peak memory (MB) | build (s) | one pass over the training split (s) |")
    print("|---|---|---|---|---|")
    for (kind, mode), result in results.items():
        print(
            f"| {sizes[kind]} | {mode} | {result['peak_mb']:,.0f} | {result['build']:.1f} | "
            f"{result['epoch']:.1f} |"
        )
    for kind in sizes:
        ratio = results[kind, "eager"]["peak_mb"] / results[kind, "lazy"]["peak_mb"]
        print(f"{kind}: peak memory, eager over lazy: {ratio:.1f}x")


if __name__ == "__main__":
    main()
