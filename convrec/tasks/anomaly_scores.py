"""From anomaly scores to alarms, and alarms against labels: the threshold chosen on validation
steps, precision, recall and F1 per step and per event, and the area under the precision-recall
curve. A step is flagged when its score exceeds the threshold.

An event is a run of consecutive anomalous steps. A true event is found when any of its steps is
flagged; an alarm (a run of consecutive flagged steps) is right when it overlaps a true event.
Event precision is the share of alarms that are right, event recall the share of events found.
"""

from __future__ import annotations

import numpy as np

from convrec.checks import fail
from convrec.data.anomalies import events


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def detection_metrics(flags: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of the flagged steps, per step and per event (0 where nothing
    is flagged or nothing is anomalous).

    Example:
        >>> flags = np.array([0, 1, 0, 0, 0, 0, 1, 1])
        >>> labels = np.array([0, 1, 1, 1, 0, 0, 0, 0])
        >>> {name: round(value, 3) for name, value in detection_metrics(flags, labels).items()}
        {'precision': 0.333, 'recall': 0.333, 'f1': 0.333, 'event_precision': 0.5, \
'event_recall': 1.0, 'event_f1': 0.667}
    """
    flags, labels = np.asarray(flags) != 0, np.asarray(labels) != 0
    if flags.shape != labels.shape or flags.ndim != 1:
        raise fail(
            "detection_metrics", "flags", f"one flag per label {labels.shape}", str(flags.shape)
        )
    hits = int(np.sum(flags & labels))
    precision = hits / max(int(flags.sum()), 1)
    recall = hits / max(int(labels.sum()), 1)
    truth, alarms = events(labels), events(flags)
    found = sum(bool(flags[start:stop].any()) for start, stop in truth)
    right = sum(bool(labels[start:stop].any()) for start, stop in alarms)
    event_precision = right / max(len(alarms), 1)
    event_recall = found / max(len(truth), 1)
    return {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "event_precision": event_precision,
        "event_recall": event_recall,
        "event_f1": _f1(event_precision, event_recall),
    }


def choose_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold that flags ``scores > threshold`` with the best step F1 on these labelled
    steps (the highest such threshold on ties); with no anomaly among them, the highest score:
    no false alarm on normal data.

    Example:
        >>> choose_threshold(np.array([0.1, 0.9, 0.3, 0.8]), np.array([0, 1, 0, 1]))
        0.3
        >>> choose_threshold(np.array([0.1, 0.4, 0.3]), np.array([0, 0, 0]))
        0.4
    """
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels) != 0
    if scores.shape != labels.shape or scores.ndim != 1 or not len(scores):
        raise fail(
            "choose_threshold", "scores", f"one score per label {labels.shape}", str(scores.shape)
        )
    if not labels.any():
        return float(scores.max())
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], np.cumsum(labels[order])
    last_of_value = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    flagged = last_of_value + 1  # flagging every score >= ranked[i]
    true_flags = hits[last_of_value]
    f1 = 2 * true_flags / (flagged + labels.sum())
    best = int(np.argmax(f1))  # the first maximum: the fewest flags, the highest threshold
    below = last_of_value[best] + 1
    return float(ranked[below]) if below < len(ranked) else float(np.nextafter(ranked[-1], -np.inf))


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the step precision-recall curve (average precision; NaN with no anomaly).

    Example:
        >>> average_precision(np.array([0.1, 0.9, 0.3, 0.8]), np.array([0, 1, 0, 1]))
        1.0
    """
    import torch
    from torchmetrics.functional.classification import binary_average_precision

    labels = np.asarray(labels) != 0
    if not labels.any():
        return float("nan")
    value = binary_average_precision(
        torch.as_tensor(np.asarray(scores, dtype=np.float64)), torch.as_tensor(labels).long()
    )
    return float(value)


def score_report(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """:func:`detection_metrics` of ``scores > threshold``, ``auc_pr`` and the ``threshold``."""
    return detection_metrics(np.asarray(scores) > threshold, labels) | {
        "auc_pr": average_precision(scores, labels),
        "threshold": float(threshold),
    }
