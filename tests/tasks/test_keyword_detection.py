"""Keyword detection from posteriors: smoothing, threshold and refractory time, the same pushed
step by step as whole; hits and false alarms against the words said; the threshold chosen on
validation recordings."""

from __future__ import annotations

import numpy as np
import pytest

from convrec.errors import UserError
from convrec.tasks.keyword_detection import (
    Detection,
    KeywordDetector,
    Recordings,
    choose_threshold,
    score_detections,
    stream_recording,
)

CLASSES = ("yes", "no", "_unknown_", "_silence_")
STEP = 0.01


def posteriors(steps: int, bursts: list[tuple[int, int, int]], level: float = 0.9) -> np.ndarray:
    """Silence everywhere but ``bursts``: (class, first step, step after the last) at
    ``level``."""
    out = np.zeros((steps, len(CLASSES)))
    out[:, 3] = 1.0
    for label, start, stop in bursts:
        out[start:stop] = (1 - level) / 3
        out[start:stop, label] = level
    return out


def test_a_burst_is_detected_once_after_the_smoothing_fills():
    detector = KeywordDetector(CLASSES, STEP, threshold=0.8, smoothing=0.1, refractory=1.0)
    found = detector.push(posteriors(300, [(0, 100, 150), (1, 180, 200)]), start=0.5)
    # "yes" from step 100: the 10-step mean reaches 0.8 at step 108; "no" ends within 1 s
    assert found == [Detection(pytest.approx(1.58), 0, pytest.approx(0.81))]
    assert KeywordDetector(CLASSES, STEP, 0.8, 0.1, refractory=0.5).push(
        posteriors(300, [(0, 100, 150), (1, 180, 200)])
    )[1] == Detection(pytest.approx(1.88), 1, pytest.approx(0.81))


def test_unknown_words_and_silence_are_never_detected():
    detector = KeywordDetector(CLASSES, STEP, threshold=0.5)
    assert detector.push(posteriors(200, [(2, 50, 150)], level=1.0)) == []


def test_pushing_step_by_step_detects_what_pushing_whole_does():
    rng = np.random.default_rng(0)
    stream = posteriors(600, [(0, 100, 160), (1, 300, 330), (0, 450, 520)])
    stream = 0.7 * stream + 0.3 * rng.dirichlet(np.ones(4), size=600)
    whole = KeywordDetector(CLASSES, STEP, 0.6).push(stream)
    detector = KeywordDetector(CLASSES, STEP, 0.6)
    pieces, start = [], 0
    for size in rng.integers(0, 40, size=100):  # some pushes without a step
        pieces += detector.push(stream[start : start + size])
        start += size
        if start >= len(stream):
            break
    assert whole and pieces == whole


def test_detections_are_scored_against_the_words_said():
    rate = 16_000
    events = np.array([[0, 1 * rate, 2 * rate], [1, 5 * rate, 6 * rate], [2, 8 * rate, 9 * rate]])
    detections = [
        Detection(2.5, 0, 0.9),  # "yes", within a second of its end: a hit
        Detection(2.8, 0, 0.9),  # the same word again: a false alarm
        Detection(4.0, 1, 0.9),  # before "no" was said: a false alarm
        Detection(8.5, 1, 0.9),  # during an unknown word: a false alarm
    ]
    score = score_detections(detections, events, [0, 1], rate, seconds=36.0)
    assert (score.keywords_said, score.hits, score.false_alarms) == (2, 1, 3)
    assert score.detection_rate == 0.5 and score.false_alarms_per_hour == pytest.approx(300.0)


def test_the_threshold_is_the_best_f1_on_validation():
    rate = 16_000
    recording = posteriors(1000, [(0, 200, 260)], level=0.7)
    recording[600:620] = [0.55, 0.3, 0.1, 0.05]  # a weaker false alarm at step 600
    events = np.array([[0, 2 * rate, int(2.6 * rate)]])
    recordings = Recordings([recording], [events], CLASSES, STEP, 0.0, rate, 10.0)
    threshold, score = choose_threshold(recordings)
    assert 0.55 <= threshold <= 0.7 and (score.hits, score.false_alarms) == (1, 0)


def test_a_stream_is_pushed_chunk_by_chunk_with_detections_as_they_come():
    class Echo:  # a "model" whose posterior is the chunk's last sample, one step per push
        def push(self, chunk):
            out = np.zeros((1, 4))
            out[0, int(chunk[-1])] = 1.0
            return out

    samples = np.repeat([3.0, 0.0, 3.0], [30, 20, 30])
    detector = KeywordDetector(CLASSES, 0.1, threshold=0.9, smoothing=0.1)
    steps, found, timings = stream_recording(Echo(), samples, 10, detector, first_step=0.1)
    assert steps.shape == (8, 4) and timings.shape == (8,)
    assert found == [Detection(0.1 + 3 * 0.1, 0, 1.0)]


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"threshold": 1.5}, "`threshold`: expected a posterior in \\(0, 1\\]"),
        ({"classes": ("_unknown_",)}, "`classes`: expected at least one keyword class"),
        ({"step_seconds": 0}, "`step_seconds`"),
    ],
)
def test_bad_settings_are_named(arguments, named):
    settings = {"classes": CLASSES, "step_seconds": STEP, "threshold": 0.5} | arguments
    with pytest.raises(UserError, match=named):
        KeywordDetector(**settings)


def test_posteriors_of_another_width_are_refused():
    with pytest.raises(UserError, match=r"`posteriors`: expected an array \(n, 4\)"):
        KeywordDetector(CLASSES, STEP, 0.5).push(np.zeros((3, 5)))
