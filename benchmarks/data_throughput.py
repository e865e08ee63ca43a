"""Data throughput: clips per second through convrec's data pipeline, one section per stage.

Sections:

- ``audio``: the MFCC front end on batches of 64 one-second 16 kHz clips (speech settings: 512-point
  FFT, 25 ms Hann window, 10 ms hop, 40 Slaney Mel filters, 13 coefficients, float32). convrec on
  the CPU with 2 threads, as a plain batch and as a ``Padded`` batch of clips of 0.5 to 1 s, and
  with 1 thread; librosa on the same clips in one call (its FFT runs on one thread, its BLAS is
  limited to 2 threads); convrec on CUDA when a GPU is there (clips already on the device).
  convrec runs under ``torch.inference_mode``.
  Before timing, convrec's coefficients are checked against librosa's, clip by clip.

- ``loaders``: samples per second of one training epoch of every fetched dataset (batches of 64,
  shuffled, its own collate, one process): the time a training step must not be shorter than for
  the data to be the bottleneck.

Each audio run is timed ``--repeats`` times after a warm-up, the runs interleaved; the table gives
the median time per batch, the min-max spread, clips per second at the median and the speed relative
to librosa (higher is faster).

Usage:
    python benchmarks/data_throughput.py [--section audio|loaders|all] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from types import ModuleType

import numpy as np
import torch
from provenance import revision
from torch.utils.data import DataLoader

from convrec.data.audio import MFCC
from convrec.data.datasets import DATASETS, SYNTHESISED, available_datasets, load_dataset
from convrec.data.sources import status
from convrec.nn import Padded

CPU_THREADS = 2
CLIPS, SAMPLE_RATE = 64, 16000
MFCC_OPTIONS = {"n_fft": 512, "hop_length": 160, "win_length": 400, "n_mels": 40}
N_MFCC = 13


def time_runs(
    runs: dict[str, Callable[[], object]], repeats: int, synchronize: Callable[[], None]
) -> dict[str, list[float]]:
    """Seconds per call of each run, ``repeats`` times after one warm-up call, interleaved."""
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        run()
    for _ in range(repeats):
        for name, run in runs.items():
            synchronize()
            start = time.perf_counter()
            run()
            synchronize()
            timings[name].append(time.perf_counter() - start)
    return timings


def print_table(timings: dict[str, list[float]], clips: int, baseline: str | None) -> None:
    """Median, spread and clips per second of each run, and its speed relative to ``baseline``."""
    ratio = f" x {baseline} |" if baseline else ""
    print(f"| run | median ms / batch | min-max ms | clips / s |{ratio}")
    print("|---|---|---|---|" + ("---|" if baseline else ""))
    for name, values in timings.items():
        median = statistics.median(values)
        row = (
            f"| {name} | {median * 1e3:.1f} | {min(values) * 1e3:.1f}-{max(values) * 1e3:.1f} | "
            f"{clips / median:,.0f} |"
        )
        if baseline:
            row += f" {statistics.median(timings[baseline]) / median:.2f} |"
        print(row)


def load_librosa() -> tuple[ModuleType, Callable] | None:
    """librosa and threadpoolctl's ``threadpool_limits`` (a librosa dependency), or None."""
    try:
        import librosa
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return librosa, threadpool_limits


def check_against_librosa(mfcc: MFCC, clips: torch.Tensor, librosa: ModuleType) -> None:
    """convrec's coefficients equal librosa's, clip by clip (librosa's top_db is per call)."""
    for clip in clips[:4]:
        theirs = librosa.feature.mfcc(
            y=clip.numpy(), sr=SAMPLE_RATE, n_mfcc=N_MFCC, **MFCC_OPTIONS
        )  # (n_mfcc, T)
        expected = torch.from_numpy(theirs.T)
        scale = float(expected.abs().max())
        torch.testing.assert_close(mfcc(clip), expected, rtol=0, atol=1e-5 * scale)


def one_thread(run: Callable[[], object]) -> object:
    """``run()`` with torch limited to one thread, then back to ``CPU_THREADS``."""
    torch.set_num_threads(1)
    try:
        return run()
    finally:
        torch.set_num_threads(CPU_THREADS)


def audio(repeats: int) -> None:
    """The MFCC front end: convrec (CPU, Padded, CUDA) against librosa."""
    generator = torch.Generator().manual_seed(0)
    clips = torch.randn(CLIPS, SAMPLE_RATE, generator=generator)  # (B, S), 1 s each
    clips *= torch.rand(CLIPS, 1, generator=generator) + 0.1
    lengths = torch.randint(SAMPLE_RATE // 2, SAMPLE_RATE + 1, (CLIPS,), generator=generator)
    lengths[0] = SAMPLE_RATE
    mfcc = MFCC(SAMPLE_RATE, N_MFCC, **MFCC_OPTIONS)
    print(
        f"\n## audio: MFCC of {CLIPS} clips of 1 s at {SAMPLE_RATE} Hz, float32, "
        f"{MFCC_OPTIONS}, n_mfcc={N_MFCC}\n"
    )
    print(f"Padded clips: lengths {int(lengths.min())}-{int(lengths.max())} samples\n")
    runs: dict[str, Callable[[], object]] = {
        f"convrec cpu ({CPU_THREADS} threads)": lambda: mfcc(clips),
        f"convrec cpu Padded ({CPU_THREADS} threads)": lambda: mfcc(Padded(clips, lengths)),
        "convrec cpu (1 thread)": lambda: one_thread(lambda: mfcc(clips)),
    }
    found = load_librosa()
    baseline = None
    if found is None:
        print("librosa is not installed: no librosa run, no ratio.\n")
    else:
        librosa, threadpool_limits = found
        with torch.inference_mode():
            check_against_librosa(mfcc, clips, librosa)
        batch = clips.numpy()

        def librosa_mfcc() -> np.ndarray:
            with threadpool_limits(CPU_THREADS):
                return librosa.feature.mfcc(y=batch, sr=SAMPLE_RATE, n_mfcc=N_MFCC, **MFCC_OPTIONS)

        baseline = f"librosa {librosa.__version__} ({CPU_THREADS} threads)"
        runs[baseline] = librosa_mfcc
    synchronize: Callable[[], None] = lambda: None  # noqa: E731
    if torch.cuda.is_available():
        on_gpu, gpu_clips = MFCC(SAMPLE_RATE, N_MFCC, **MFCC_OPTIONS).cuda(), clips.cuda()
        with torch.inference_mode():
            torch.testing.assert_close(on_gpu(gpu_clips).cpu(), mfcc(clips), rtol=1e-4, atol=1e-3)
        runs[f"convrec cuda ({torch.cuda.get_device_name()})"] = lambda: on_gpu(gpu_clips)
        synchronize = torch.cuda.synchronize
    with torch.inference_mode():
        timings = time_runs(runs, repeats, synchronize)
    print_table(timings, CLIPS, baseline)


def loaders(repeats: int) -> None:
    """Samples per second of a training epoch of every fetched dataset with its default options:
    batches of 64, shuffled, ``num_workers=0``, each split's own collate (``Padded`` for
    variable-length inputs), the median of ``repeats`` epochs after loading the splits."""
    print("\n## loaders: one training epoch, batches of 64, shuffled, num_workers=0\n")
    print("| dataset | train items | load (s) | ms/batch | samples/s |")
    print("|---|---|---|---|---|")
    for name in available_datasets():
        source = DATASETS[name].source
        if source == SYNTHESISED:
            print(f"| {name} | synthesised on first use: not measured | | | |")
            continue
        if status(source) != "fetched":
            print(f"| {name} | not fetched (`convrec data fetch {source}`) | | | |")
            continue
        start = time.perf_counter()
        splits = load_dataset(name)
        load_seconds = time.perf_counter() - start
        loader = DataLoader(splits.train, batch_size=64, shuffle=True, collate_fn=splits.collate)
        epochs = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _batch in loader:
                pass
            epochs.append(time.perf_counter() - start)
        epoch = statistics.median(epochs)
        print(
            f"| {name} | {len(splits.train)} | {load_seconds:.2f} | "
            f"{1000 * epoch / len(loader):.2f} | {len(splits.train) / epoch:,.0f} |"
        )


SECTIONS: dict[str, Callable[[int], None]] = {"audio": audio, "loaders": loaders}


def versions() -> str:
    found = [f"torch {torch.__version__}", f"numpy {np.__version__}"]
    for name in ("librosa", "numba"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        found.append(f"{name} {module.__version__}")
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", default="all", choices=[*SECTIONS, "all"])
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    torch.set_num_threads(CPU_THREADS)
    print(f"date {date.today()}, revision {revision()}, {versions()}")
    print(
        f"machine {platform.machine()}, {platform.processor() or 'unknown processor'}, "
        f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
        f"cuda {'yes' if torch.cuda.is_available() else 'no'}"
    )
    print(f"command: python {' '.join(sys.argv)}, repeats {arguments.repeats}")
    chosen = SECTIONS if arguments.section == "all" else [arguments.section]
    for section in chosen:
        SECTIONS[section](arguments.repeats)


if __name__ == "__main__":
    main()
