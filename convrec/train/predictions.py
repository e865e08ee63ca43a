"""Predictions of a trained model for the sequences in a file, written beside it.

A ``.npz`` holds one ``(T, features)`` array per key and gets the predictions under the same
keys; a ``.csv`` has a ``sequence_id`` column and the task's input columns, one row per step, and
gets one row per sequence (or per step, for sequence-to-sequence tasks).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from convrec.data.readers import read_sequences_csv, read_sequences_npz
from convrec.errors import InvalidValueError
from convrec.files import write_npz, write_text
from convrec.train.trained import TrainedModel


def reads_itself(task: object, source: Path) -> bool:
    """Whether the task reads ``source`` with its own ``prediction_inputs``: a task on the user's
    own files reads every input; a recipe that also takes files of a kind (audio) names those
    with ``reads_for_prediction``."""
    if not hasattr(task, "prediction_inputs"):
        return False
    reads = getattr(task, "reads_for_prediction", None)
    return reads is None or bool(reads(source))


def default_output(trained: TrainedModel, source: Path) -> Path:
    """``<source>.predictions.csv`` for inputs the task reads itself (the user's own files, audio
    files), else ``<source>.predictions<suffix>`` (the input's format)."""
    suffix = ".csv" if reads_itself(trained.task, source) else source.suffix
    return source.with_name(f"{source.stem}.predictions{suffix}")


def read_inputs(trained: TrainedModel, source: Path) -> tuple[list[str], list[np.ndarray]]:
    """The names and raw inputs of every sequence (image, clip, text) in ``source``, read as
    :func:`write_predictions` reads them.

    Raises:
        InvalidValueError: ``source`` is of no format the run reads, or not readable as one.
    """
    if reads_itself(trained.task, source):
        return trained.task.prediction_inputs(source)
    if source.suffix == ".npz":
        return read_sequences_npz(source)
    if source.suffix == ".csv":
        columns = trained.description["input_columns"] or None  # none named: every column
        return read_sequences_csv(source, columns)
    raise InvalidValueError(
        f"invalid value for argument `input`: expected a .npz or .csv file, got {source.name}"
    )


def write_predictions(trained: TrainedModel, source: Path, out: Path) -> int:
    """Predict every sequence of ``source`` and write them to ``out``; returns how many
    sequences were predicted.

    A task on the user's own files reads ``source`` as it read its training data (labels not
    needed), and so does an audio recipe given audio files (:func:`reads_itself`); one with a
    ``prediction_table(names, predictions)`` writes its own CSV (a forecast's times, a word's
    phonemes). The recipes read ``.npz`` (one array per key) or ``.csv`` (``sequence_id`` and
    the task's input columns, or every other column where the task names none). The output's
    format follows ``out``'s suffix: ``.npz`` (one array per key), else CSV: for classifiers
    ``id``, ``predicted`` and one ``p_<class>`` column per class; for the others
    ``sequence_id`` (``step``) and the output columns.

    Raises:
        InvalidValueError: ``source`` is of no format the run reads, or not readable as one.
    """
    names, sequences = read_inputs(trained, source)
    predictions = trained.predict(sequences)
    if out.suffix == ".npz" and not reads_itself(trained.task, source):
        write_npz(out, dict(zip(names, predictions, strict=True)))
    else:
        write_text(out, _table(trained, source, names, predictions))
    return len(predictions)


def predictions_table(trained: TrainedModel, source: Path) -> str:
    """The CSV :func:`write_predictions` writes for ``source``, as text."""
    names, sequences = read_inputs(trained, source)
    return _table(trained, source, names, trained.predict(sequences))


def _table(
    trained: TrainedModel, source: Path, names: list[str], predictions: list[np.ndarray]
) -> str:
    if reads_itself(trained.task, source) and hasattr(trained.task, "prediction_table"):
        return trained.task.prediction_table(names, predictions)
    if classes := tuple(getattr(trained.task, "classes", ())):
        return _class_table(classes, names, predictions)
    return _csv(trained, names, predictions)


def _class_table(classes: tuple[str, ...], ids: list[str], probabilities: list[np.ndarray]) -> str:
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(["id", "predicted", *(f"p_{name}" for name in classes)])
    for identifier, values in zip(ids, probabilities, strict=True):
        best = classes[int(np.argmax(values))]
        writer.writerow([identifier, best, *(f"{value:.6g}" for value in values)])
    return rows.getvalue()


def _csv(trained: TrainedModel, names: list[str], predictions: list[np.ndarray]) -> str:
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    per_step = trained.task.outputs_per_step
    writer.writerow(
        ["sequence_id", *(["step"] if per_step else []), *trained.description["output_columns"]]
    )
    for name, prediction in zip(names, predictions, strict=True):
        if not per_step:
            writer.writerow([name, *(f"{item:.6g}" for item in prediction)])
            continue
        for step, value in enumerate(np.asarray(prediction).reshape(len(prediction), -1)):
            writer.writerow([name, step, *(f"{item:.6g}" for item in value)])
    return rows.getvalue()
