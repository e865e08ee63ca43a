"""How far a trained reconstruction detector could go on a stream: its test step F1 with the
threshold the task chooses on the validation part, beside the best F1 any threshold gives on the
test part itself (a ceiling, chosen by looking at the test labels: never a result), for each way
of scoring a step from its windows and a few smoothings.

    python benchmarks/anomaly_ceiling.py RUN [RUN ...]     # ecg-anomalies conv-autoencoder runs

A run's own calibration keeps one rule and one smoothing; this script scores every pair with the
run's network. If even the ceiling stays below a baseline, no threshold or rule chosen on
validation data can pass it: the scores themselves do not separate the anomaly.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import convrec
from convrec.tasks.anomaly_scores import average_precision, choose_threshold, detection_metrics
from convrec.tasks.stream_anomalies import (
    AGGREGATES,
    StreamAnomalies,
    aggregate_windows,
    trailing_mean,
)

SMOOTHINGS = (1, 16, 64)


def ceilings(run: Path, smoothings: tuple[int, ...] = SMOOTHINGS) -> list[dict[str, object]]:
    """For each rule of ``AGGREGATES`` and each smoothing: the test part's step F1 at the
    threshold chosen on the validation part (``f1``), at the best threshold for the test part
    (``ceiling``), and its AUC-PR (``auc_pr``). The validation part is scored from the training
    and validation parts alone, as the task's calibration scores it."""
    trained = convrec.load(run)
    task, model = trained.task, trained.model
    if not isinstance(task, StreamAnomalies) or task.detector != "reconstruction":
        raise SystemExit(f"{run}: not a run of a stream anomaly task's reconstruction detector")
    task.build_data(seed=0)  # the series and its parts, which no seed changes
    series, labels = task.series, task.labels
    first, last = task.bounds["validation"]
    start, stop = task.bounds["test"]
    seen = task._reconstruction_errors(model, series[:last])
    whole = task._reconstruction_errors(model, series)
    rows = []
    for rule in AGGREGATES:
        for steps in smoothings:
            validation = _scores(seen, last, rule, steps)[first:last]
            test = _scores(whole, len(series), rule, steps)[start:stop]
            truth = labels[start:stop]
            chosen = choose_threshold(validation, labels[first:last])
            best = choose_threshold(test, truth)
            rows.append(
                {
                    "rule": rule,
                    "smooth": steps,
                    "f1": detection_metrics(test > chosen, truth)["f1"],
                    "ceiling": detection_metrics(test > best, truth)["f1"],
                    "auc_pr": average_precision(test, truth),
                }
            )
    return rows


def _scores(errors: tuple, length: int, rule: str, steps: int) -> np.ndarray:
    """Step scores ``(length,)`` from windows' ``(positions, errors)`` by ``rule``, then the
    trailing mean of ``steps`` (the task's standardisation is affine: no threshold moves)."""
    raw = aggregate_windows(*errors, length, rule).numpy().astype(np.float64)
    return trailing_mean(raw, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="reconstruction detector runs")
    arguments = parser.parse_args()
    table = Table(title="test step F1: threshold chosen on validation, and the test's best")
    for name in ("run", "rule", "smooth", "F1 (validation threshold)", "ceiling", "AUC-PR"):
        table.add_column(name)
    for run in arguments.runs:
        for row in ceilings(run):
            table.add_row(
                run.name,
                str(row["rule"]),
                str(row["smooth"]),
                f"{row['f1']:.3f}",
                f"{row['ceiling']:.3f}",
                f"{row['auc_pr']:.3f}",
            )
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
