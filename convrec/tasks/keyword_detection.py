"""Keywords detected in a stream of class posteriors, and detections scored against where the
words were said.

A keyword model gives class posteriors at regular steps (every 10 ms frame of a stream, or every
slide of a 1 s window). The detector, online:

    s_t = mean of the last ``smoothing`` seconds of posteriors      (per keyword class)
    k_t = argmax_k s_t[k] over the keywords (not unknown or silence)
    detect (t, k_t) if s_t[k_t] >= threshold and no detection in the last ``refractory`` s

A detection of keyword ``k`` at time ``t`` is a hit if ``k`` was said from ``start`` to ``stop``
with ``start <= t <= stop + tolerance`` and that word is not already matched; every other
detection is a false alarm. Detection rate: hits over keywords said; false alarms per hour of
audio.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from convrec.checks import fail, positive_float

NOT_KEYWORDS = ("_unknown_", "_silence_")
THRESHOLDS = (
    *(0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.96, 0.97, 0.98),
    *(0.985, 0.99, 0.993, 0.995, 0.997, 0.998, 0.999),
)
"""Thresholds tried on validation data: finer near 1, where confident models are set."""


@dataclass(frozen=True)
class Detection:
    """A keyword heard: ``time`` in seconds from the start, its class index and smoothed
    posterior."""

    time: float
    label: int
    score: float


class KeywordDetector:
    """Detections from posteriors pushed step by step (see the module docstring).

    Args:
        classes: the model's class names.
        background: the classes that are never detected (unknown words, silence, noise).
        step_seconds: seconds between consecutive posteriors.
        threshold: smoothed posterior at or above which a keyword is detected, in (0, 1].
        smoothing: seconds of posteriors averaged.
        refractory: seconds after a detection during which no other is made.
    """

    def __init__(
        self,
        classes: Sequence[str],
        step_seconds: float,
        threshold: float,
        smoothing: float = 0.2,
        refractory: float = 1.0,
        background: Sequence[str] = NOT_KEYWORDS,
    ) -> None:
        owner = type(self).__name__
        self.step = positive_float(owner, "step_seconds", step_seconds)
        if not isinstance(threshold, int | float) or not 0 < threshold <= 1:
            raise fail(owner, "threshold", "a posterior in (0, 1]", repr(threshold))
        self.threshold = float(threshold)
        self.window = max(1, round(positive_float(owner, "smoothing", smoothing) / self.step))
        self.refractory = positive_float(owner, "refractory", refractory)
        self.keywords = np.array([i for i, name in enumerate(classes) if name not in background])
        if len(self.keywords) == 0:
            raise fail(owner, "classes", "at least one keyword class", repr(list(classes)))
        self.classes = len(classes)
        self.reset()

    def reset(self) -> None:
        """Start a new stream."""
        self.steps = 0
        self.recent = np.zeros((self.window - 1, len(self.keywords)))  # zeros before the start
        self.last = -np.inf

    def push(self, posteriors: np.ndarray, start: float = 0.0) -> list[Detection]:
        """Detections among the next posteriors ``(n, classes)``; step ``i`` of the stream is at
        ``start + i * step_seconds`` seconds."""
        posteriors = np.asarray(posteriors, dtype=np.float64)
        if posteriors.ndim != 2 or posteriors.shape[1] != self.classes:
            raise fail(
                "KeywordDetector.push",
                "posteriors",
                f"an array (n, {self.classes})",
                f"shape {posteriors.shape}",
            )
        if len(posteriors) == 0:  # a chunk that completed no frame
            return []
        history = np.concatenate([self.recent, posteriors[:, self.keywords]])
        windows = np.lib.stride_tricks.sliding_window_view(history, self.window, axis=0)
        counts = np.minimum(
            np.arange(self.steps + 1, self.steps + len(posteriors) + 1), self.window
        )
        smoothed = windows.sum(axis=-1) / counts[:, None]  # (n, K), the same whatever the chunks
        detections = []
        for offset in np.flatnonzero(smoothed.max(axis=1) >= self.threshold):
            time = start + (self.steps + offset) * self.step
            if time - self.last >= self.refractory:
                best = int(np.argmax(smoothed[offset]))
                score = float(smoothed[offset, best])
                detections.append(Detection(float(time), int(self.keywords[best]), score))
                self.last = time
        self.steps += len(posteriors)
        self.recent = history[len(history) - self.window + 1 :]
        return detections


class Pushable(Protocol):
    def push(self, chunk: np.ndarray) -> np.ndarray: ...


def stream_recording(
    stream: Pushable,
    samples: np.ndarray,
    chunk: int,
    detector: KeywordDetector | None = None,
    first_step: float = 0.0,
) -> tuple[np.ndarray, list[Detection], np.ndarray]:
    """Push ``samples`` to a stream (``every_step``) ``chunk`` samples at a time, as a live
    source would, and detect keywords as posteriors come.

    Returns:
        the posteriors of every step ``(T, C)``, the detections (none without ``detector``;
        step 0 at ``first_step`` seconds), and the seconds each push took ``(pushes,)``.
    """
    outputs, detections, timings = [], [], []
    for start in range(0, len(samples), chunk):
        began = time.perf_counter()
        posteriors = stream.push(samples[start : start + chunk])
        if detector is not None:
            detections += detector.push(posteriors, first_step)
        timings.append(time.perf_counter() - began)
        outputs.append(posteriors)
    return np.concatenate(outputs), detections, np.array(timings)


@dataclass(frozen=True)
class DetectionScore:
    """Detections against the words said: counts and rates."""

    keywords_said: int
    hits: int
    false_alarms: int
    hours: float

    @property
    def detection_rate(self) -> float:
        return self.hits / max(self.keywords_said, 1)

    @property
    def false_alarms_per_hour(self) -> float:
        return self.false_alarms / self.hours if self.hours > 0 else float("nan")

    @property
    def f1(self) -> float:
        detections = self.hits + self.false_alarms
        return 2 * self.hits / max(detections + self.keywords_said, 1)

    def __add__(self, other: DetectionScore) -> DetectionScore:
        return DetectionScore(
            self.keywords_said + other.keywords_said,
            self.hits + other.hits,
            self.false_alarms + other.false_alarms,
            self.hours + other.hours,
        )


def score_detections(
    detections: Sequence[Detection],
    events: np.ndarray,
    keywords: Sequence[int],
    sample_rate: int,
    seconds: float,
    tolerance: float = 1.0,
) -> DetectionScore:
    """Hits and false alarms of one recording's ``detections`` (see the module docstring).

    Args:
        events: ``(e, 3)`` the words said: class, first sample, sample after the last.
        keywords: the class indices that are keywords (other events are not to be detected).
        seconds: the recording's length.
        tolerance: seconds after a word's end within which its detection still counts.
    """
    said = [(int(label), start / sample_rate, stop / sample_rate) for label, start, stop in events]
    said = [event for event in said if event[0] in set(keywords)]
    matched = [False] * len(said)
    hits = 0
    for detection in sorted(detections, key=lambda item: item.time):
        for index, (label, start, stop) in enumerate(said):
            window = start <= detection.time <= stop + tolerance
            if not matched[index] and label == detection.label and window:
                matched[index] = True
                hits += 1
                break
    return DetectionScore(len(said), hits, len(detections) - hits, seconds / 3600)


@dataclass(frozen=True)
class Recordings:
    """A model's posteriors over recordings and the words said in them.

    Attributes:
        posteriors: ``(T, C)`` per recording, step 0 at ``first_step`` seconds, then every
            ``step`` seconds.
        events: ``(e, 3)`` per recording: class, first sample, sample after the last.
        classes: the model's class names.
        sample_rate: of the events' sample indices.
        seconds: each recording's length.
    """

    posteriors: list[np.ndarray]
    events: list[np.ndarray]
    classes: Sequence[str]
    step: float
    first_step: float
    sample_rate: int
    seconds: float


def evaluate(recordings: Recordings, threshold: float) -> DetectionScore:
    """Detect in each recording's posteriors at ``threshold`` and score against its events; the
    sum over recordings."""
    detector = KeywordDetector(recordings.classes, recordings.step, threshold)
    total = DetectionScore(0, 0, 0, 0.0)
    for posteriors, events in zip(recordings.posteriors, recordings.events, strict=True):
        detector.reset()
        found = detector.push(posteriors, recordings.first_step)
        total += score_detections(
            found, events, detector.keywords, recordings.sample_rate, recordings.seconds
        )
    return total


def choose_threshold(
    recordings: Recordings,
    candidates: Sequence[float] = THRESHOLDS,
) -> tuple[float, DetectionScore]:
    """The threshold with the best event F1 over (validation) ``recordings``, and its score
    there; the highest among equals (fewer false alarms)."""
    scored = [
        (float(threshold), evaluate(recordings, float(threshold))) for threshold in candidates
    ]
    return max(scored, key=lambda pair: (pair[1].f1, pair[0]))
