"""Alarms against labels: the threshold chosen gives the best step F1 of all thresholds (checked
by trying each), the event counts follow their definitions, the area under the precision-recall
curve is scikit-learn's average precision."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from convrec.errors import InvalidValueError
from convrec.tasks.anomaly_scores import (
    average_precision,
    choose_threshold,
    detection_metrics,
    score_report,
)


@pytest.mark.parametrize("seed", range(5))
def test_the_chosen_threshold_has_the_best_f1_of_every_threshold(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random(200) < 0.1).astype(int)
    scores = np.round(rng.random(200) + labels * rng.random(200), 2)  # ties included
    chosen = choose_threshold(scores, labels)
    candidates = [-np.inf, *np.unique(scores)]
    best = max(f1_score(labels, scores > threshold, zero_division=0) for threshold in candidates)
    assert f1_score(labels, scores > chosen, zero_division=0) == pytest.approx(best)
    assert detection_metrics(scores > chosen, labels)["f1"] == pytest.approx(best)


def test_with_no_anomaly_the_threshold_raises_no_alarm():
    scores = np.array([0.3, 2.0, -1.0])
    assert choose_threshold(scores, np.zeros(3)) == 2.0
    assert not (scores > choose_threshold(scores, np.zeros(3))).any()


def test_events_are_found_by_any_step_and_alarms_right_by_any_overlap():
    labels = np.array([0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1])
    flags = np.array([0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1])
    metrics = detection_metrics(flags, labels)
    assert metrics["event_recall"] == pytest.approx(2 / 3)  # the middle event is missed
    assert metrics["event_precision"] == pytest.approx(2 / 3)  # the alarm at 5-6 is false
    assert metrics["precision"] == pytest.approx(2 / 4) and metrics["recall"] == pytest.approx(
        2 / 6
    )
    nothing = detection_metrics(np.zeros(12), labels)
    assert nothing["f1"] == 0 and nothing["event_f1"] == 0


def test_the_area_under_the_curve_is_the_average_precision():
    rng = np.random.default_rng(0)
    labels = (rng.random(300) < 0.2).astype(int)
    scores = rng.random(300) + labels * 0.5
    assert average_precision(scores, labels) == pytest.approx(
        average_precision_score(labels, scores)
    )
    assert np.isnan(average_precision(scores, np.zeros(300)))
    report = score_report(scores, labels, 0.9)
    assert report["threshold"] == 0.9 and report["f1"] == pytest.approx(
        f1_score(labels, scores > 0.9)
    )


def test_mismatched_shapes_are_refused():
    with pytest.raises(InvalidValueError, match="one score per label"):
        choose_threshold(np.zeros(3), np.zeros(4))
    with pytest.raises(InvalidValueError, match="one flag per label"):
        detection_metrics(np.zeros(3), np.zeros(4))
