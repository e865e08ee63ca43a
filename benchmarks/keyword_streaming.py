"""Keywords on long recordings: a causal model run 20 ms at a time against 1 s classifiers slid
over the same audio.

Recordings: :class:`convrec.data.keyword_recordings.KeywordRecordings`, a minute each, words at
random times over noise, voices of the validation split (threshold choice) and of the test split
(the figures). Every model gives class posteriors at regular steps; the same detector
(:mod:`convrec.tasks.keyword_detection`) turns them into detections, with its threshold chosen
on the validation recordings for each model.

- ``--stream RUN ...``: ``keywords-stream`` runs, pushed 20 ms chunks through
  ``convrec.load(RUN).stream(every_step=True)``, a posterior per 10 ms frame; its latency per
  chunk and real-time factor (the first run's) are measured on the test recordings;
- ``--window RUN ...``: any keyword run, given 1 s windows every ``--stride`` seconds
  (``predict``), a posterior per window at its end. A ``keywords-stream`` run given windows is the
  same model reset every window.

    python benchmarks/keyword_streaming.py --stream runs/keywords-stream-... \\
        --window runs/keywords-... runs/keywords-stream-...
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import convrec
from convrec.data.keyword_recordings import KeywordRecordings
from convrec.data.speech import SAMPLE_RATE
from convrec.export.step import start_arrays
from convrec.tasks.keyword_detection import (
    Recordings,
    choose_threshold,
    evaluate,
    stream_recording,
)

CHUNK = SAMPLE_RATE // 50  # 20 ms


def stream_posteriors(run: str, recordings: KeywordRecordings) -> tuple[Recordings, np.ndarray]:
    """Posteriors per frame of each recording, pushed 20 ms at a time; the seconds each push
    took."""
    trained = convrec.load(run)
    stream = trained.stream(every_step=True)
    results, timings = [], []
    for waveform, _ in recordings:
        stream.reset()
        posteriors, _, took = stream_recording(stream, waveform.numpy(), CHUNK)
        results.append(posteriors)
        timings.append(took)
    step, first = trained.task.front_end.frame_times()
    return scored(recordings, results, trained.task.classes, step, first), np.concatenate(timings)


def scored(
    recordings: KeywordRecordings, posteriors: list, classes: list, step: float, first: float
) -> Recordings:
    """Posteriors of the recordings with their words, to score detections against."""
    events = [events.numpy() for _, events in recordings]
    return Recordings(posteriors, events, classes, step, first, SAMPLE_RATE, recordings.seconds)


class StepGraph:
    """An ``onnx-step`` export run by onnxruntime, one stream, the state carried between calls
    (the ``push`` of :class:`convrec.tasks.streaming.Stream`)."""

    def __init__(self, path: Path) -> None:
        import onnxruntime

        self.session = onnxruntime.InferenceSession(str(path))
        self.start = start_arrays(self.session.get_modelmeta().custom_metadata_map)
        self.state = dict(self.start)

    def push(self, chunk: np.ndarray) -> np.ndarray:
        output, *after = self.session.run(None, {"chunk": chunk[None], **self.state})
        self.state = dict(zip(self.state, after, strict=True))
        return output[0]


def latencies(run: str, recordings: KeywordRecordings) -> list[tuple[str, np.ndarray]]:
    """Seconds per 20 ms push of the recordings (PyTorch stream, onnxruntime step graph), and
    per 1 s clip for the whole-clip model (PyTorch predict, onnxruntime graph)."""
    import onnxruntime

    from convrec.export import export_run

    folder = Path(tempfile.mkdtemp())
    step = StepGraph(export_run(run, "onnx-step", folder / "step.onnx"))
    pushes = []
    for waveform, _ in recordings:
        step.state = dict(step.start)
        pushes.append(stream_recording(step, waveform.numpy(), CHUNK)[2])
    trained = convrec.load(run)
    whole = onnxruntime.InferenceSession(str(export_run(run, "onnx", folder / "whole.onnx")))
    clips = [waveform.numpy()[:SAMPLE_RATE] for waveform, _ in recordings]
    torch_clip, ort_clip = [], []
    for clip in clips * 5:
        began = time.perf_counter()
        trained.predict([clip])
        torch_clip.append(time.perf_counter() - began)
        began = time.perf_counter()
        whole.run(None, {"inputs": clip[None], "lengths": np.array([SAMPLE_RATE])})
        ort_clip.append(time.perf_counter() - began)
    return [
        ("onnxruntime step graph, per 20 ms chunk", np.concatenate(pushes)),
        ("PyTorch predict, per 1 s clip", np.array(torch_clip)),
        ("onnxruntime whole graph, per 1 s clip", np.array(ort_clip)),
    ]


def window_posteriors(run: str, recordings: KeywordRecordings, stride: float) -> Recordings:
    """Posteriors of 1 s windows every ``stride`` seconds of each recording, each at its
    window's end."""
    trained = convrec.load(run)
    hop = round(stride * SAMPLE_RATE)
    results = []
    for waveform, _ in recordings:
        samples = waveform.numpy()
        starts = range(0, len(samples) - SAMPLE_RATE + 1, hop)
        windows = [samples[start : start + SAMPLE_RATE] for start in starts]
        results.append(np.stack(trained.predict(windows)))
    return scored(recordings, results, trained.task.classes, stride, 1.0)


def print_latencies(run: str, test: KeywordRecordings, timings: np.ndarray) -> None:
    """A table of the seconds per 20 ms push and per 1 s clip, and the real-time factors."""
    audio = test.seconds * len(test)
    print("| path | mean us | p50 us | p99 us | real-time factor |")
    print("|---|---|---|---|---|")
    pushes = [("PyTorch Stream.push, per 20 ms chunk", timings)]
    for name, took in pushes + latencies(run, test):
        factor = f"{took.sum() / audio:.4f}" if "chunk" in name else ""
        print(
            f"| {name} | {took.mean() * 1e6:.0f} | {np.percentile(took, 50) * 1e6:.0f} | "
            f"{np.percentile(took, 99) * 1e6:.0f} | {factor} |"
        )
    print(f"({audio:.0f} s of test audio)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--stream", nargs="*", default=[], help="keywords-stream runs, pushed 20 ms at a time"
    )
    parser.add_argument("--window", nargs="*", default=[], help="keyword runs, slid 1 s windows")
    parser.add_argument("--stride", type=float, default=0.1, help="seconds between windows")
    parser.add_argument("--validation", type=int, default=10, help="validation recordings")
    parser.add_argument("--test", type=int, default=20, help="test recordings")
    args = parser.parse_args()
    validation = KeywordRecordings("validation", recordings=args.validation)
    test = KeywordRecordings("test", recordings=args.test)
    rows = []
    for index, run in enumerate(args.stream):
        chosen, _ = stream_posteriors(run, validation)
        measured, timings = stream_posteriors(run, test)
        rows.append(("stream, 20 ms chunks", run, chosen, measured))
        if index == 0:  # latencies of the first
            print_latencies(run, test, timings)
    for run in args.window:
        chosen = window_posteriors(run, validation, args.stride)
        began = time.perf_counter()
        measured = window_posteriors(run, test, args.stride)
        took = time.perf_counter() - began
        print(
            f"{run}: 1 s windows every {args.stride} s, real-time factor "
            f"{took / (test.seconds * len(test)):.4f}"
        )
        rows.append((f"1 s windows every {args.stride} s", run, chosen, measured))
    print()
    print("| model | run | threshold (validation) | detection rate | false alarms / hour | F1 |")
    print("|---|---|---|---|---|---|")
    for name, run, chosen, measured in rows:
        threshold, _ = choose_threshold(chosen)
        score = evaluate(measured, threshold)
        print(
            f"| {name} | {run.rstrip('/').split('/')[-1]} | {threshold:.3f} | "
            f"{score.detection_rate:.3f} ({score.hits}/{score.keywords_said}) | "
            f"{score.false_alarms_per_hour:.1f} ({score.false_alarms}) | {score.f1:.3f} |"
        )


if __name__ == "__main__":
    main()
