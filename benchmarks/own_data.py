"""Your own data reproduces the recipes: a recipe's dataset written out as a user's files and
trained through the generic kind, against the recipe itself, on the same seeds.

Rows (each with the recipe's model and training options):

- ``gunpoint``: GunPoint written as a long CSV (``sequence_id,time,value,label``), its official
  test split as a second CSV, trained with ``convrec train series --data train.csv --test
  test.csv``;
- ``japanese-vowels``: JapaneseVowels' own ``.ts`` files (variable lengths, 12 channels), trained
  with ``convrec train series --data ..._TRAIN.ts --test ..._TEST.ts``;
- ``fashion-mnist``: 10,000 Fashion-MNIST training images (1,000 per class, drawn with seed 0)
  written as a PNG folder tree, and the official 10,000 test images as a second one, trained
  with ``convrec train images --data train/ --test test/``; the recipe against it learns from
  800 images per class (``labels_per_class=800``), what the folder leaves after its 20%
  validation split;
- ``sunspots``: the statsmodels yearly sunspot numbers (1700-2008) written as a dated CSV
  (``date,sunspots``, each year as ``YYYY-07-01``), trained with ``convrec train forecast --data
  sunspots.csv`` (``target=sunspots, lookback=20, horizon=1``) and the recipe's chronological
  70/15/15 split (``validation_split`` and ``test_split`` 0.15): the same windows as the recipe.
  The metric is the test MAE (and RMSE) in sunspot units, lower is better;
- ``reviews``: the recipe's 4,000 training reviews (its text, ``<br />`` already turned into
  spaces) written as a CSV ``text,label`` (``great`` or ``other``), its 1,000 test reviews as a
  second one, trained with ``convrec train text --data train.csv --test test.csv``. The recipe
  holds out 10% of its training reviews for validation by class (400); the kind is given
  ``validation_split=0.1``, so it holds out as many, by class, but draws them with its own seed
  (the run's seed plus one) and orders the classes by name (``great`` first, the recipe
  ``other``), so the 400 are not the recipe's. Its vocabulary (words seen twice in what is left
  for training, at most 20,000; texts cut at 400 words) is built as the recipe's;
- ``keywords``: the keyword-spotting clips the recipe synthesises for each seed (espeak-ng,
  16 kHz, voice-disjoint splits) resampled to 44.1 kHz (``scipy.signal.resample_poly`` 441/160)
  and written as 16-bit PCM WAV folders ``train/<class>/*.wav``, ``validation/...`` and
  ``test/...``, the recipe's own three splits, trained with ``convrec train audio --data train/
  --validation validation/ --test test/`` (``sample_rate=16000``, which resamples them back, and
  ``duration=1``, the recipe's clip length). The clips depend on the seed, so the folders are
  written for each seed; both paths choose the epoch on the same validation voices and test on
  the same held-out ones.

The GunPoint, JapaneseVowels and Fashion-MNIST recipes hold out 20% of the training split for
validation by class; so does the generic kind (``validation_split`` 0.2), with its own seeded
draw. The table gives the test metric's mean and range over the seeds for both paths, and the
training seconds.

Usage:
    python benchmarks/own_data.py [--seeds 3] [--rows gunpoint japanese-vowels]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import statistics
import tempfile
import wave
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image
from provenance import revision

import convrec
from convrec.data import load_dataset
from convrec.data.readers import read_ts
from convrec.data.sources import require
from convrec.data.text import _read_reviews
from convrec.train.resolve import resolve_config
from convrec.train.run import Run

ROWS = {
    "gunpoint": "GunPoint",
    "japanese-vowels": "JapaneseVowels",
    "fashion-mnist": "Fashion-MNIST",
    "sunspots": "sunspots",
    "reviews": "reviews",
    "keywords": "keywords",
}
KINDS = {
    "gunpoint": "series",
    "japanese-vowels": "series",
    "fashion-mnist": "images",
    "sunspots": "forecast",
    "reviews": "text",
    "keywords": "audio",
}
RECIPE_OPTIONS = {"fashion-mnist": {"task_options": {"labels_per_class": 800}}}
KIND_OPTIONS = {  # what makes the kind read the files as the recipe reads its data
    "sunspots": {
        "target": "sunspots",
        "lookback": 20,
        "horizon": 1,
        "validation_split": 0.15,
        "test_split": 0.15,
    },
    "reviews": {"validation_split": 0.1},
    "keywords": {"sample_rate": 16_000, "duration": 1.0},
}
METRICS = {"sunspots": ("mae", "rmse")}
"""The test metrics reported per row (default: accuracy)."""
SEEDED_DATA = {"keywords"}
"""Rows whose recipe builds its data from the seed: their files are written for each seed."""
WAV_RATE = 44_100


def long_csv(source: Path, target: Path) -> Path:
    """The ``.ts`` file ``source`` as a long CSV: one row per step of every series."""
    archive = read_ts(source)
    channels = [f"c{index}" for index in range(archive.series[0].shape[1])]
    with target.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["sequence_id", "time", *channels, "label"])
        for index, (series, label) in enumerate(zip(archive.series, archive.labels, strict=True)):
            for step, values in enumerate(series):
                writer.writerow([f"s{index}", step, *(repr(float(v)) for v in values), label])
    return target


def png_tree(images: np.ndarray, labels: np.ndarray, classes: tuple, target: Path) -> Path:
    """``target/<class>/<index>.png`` for every image ``(1, H, W)`` in [0, 1]."""
    for name in classes:
        (target / name.replace("/", "-")).mkdir(parents=True)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        pixels = np.round(image[0] * 255).astype(np.uint8)
        folder = classes[int(label)].replace("/", "-")
        Image.fromarray(pixels, "L").save(target / folder / f"{index:05d}.png")
    return target


def dated_csv(source: Path, target: Path) -> Path:
    """statsmodels' ``sunspots.csv`` (``YEAR,SUNACTIVITY``) as ``date,sunspots``, each year
    dated at its middle (``1700-07-01``)."""
    with source.open(newline="") as file:
        rows = list(csv.DictReader(file))
    with target.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["date", "sunspots"])
        for row in rows:
            writer.writerow([f"{int(float(row['YEAR'])):04d}-07-01", row["SUNACTIVITY"]])
    return target


def review_csv(texts: list[str], labels: np.ndarray, target: Path) -> Path:
    """Reviews as a CSV ``text,label``, the label ``great`` or ``other``."""
    with target.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        for text, label in zip(texts, labels, strict=True):
            writer.writerow([text, "great" if label else "other"])
    return target


def wav_tree(waveforms: np.ndarray, labels: np.ndarray, classes: tuple, target: Path) -> Path:
    """``target/<class>/<index>.wav``: every int16 clip at 16 kHz resampled to 44.1 kHz, as
    mono 16-bit PCM."""
    from scipy.signal import resample_poly

    for name in classes:
        (target / name).mkdir(parents=True)
    for index, (clip, label) in enumerate(zip(waveforms, labels, strict=True)):
        samples = resample_poly(clip.astype(np.float64) / 32767, WAV_RATE // 100, 160)
        pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
        with wave.open(str(target / classes[int(label)] / f"{index:05d}.wav"), "wb") as file:
            file.setnchannels(1)
            file.setsampwidth(2)
            file.setframerate(WAV_RATE)
            file.writeframes(pcm.tobytes())
    return target


def files(row: str, folder: Path, seed: int = 0) -> dict[str, str]:
    """The user's files for ``row``, written in ``folder``: long CSVs for GunPoint, ``.ts``
    files for JapaneseVowels, PNG folders for Fashion-MNIST, a dated CSV for sunspots, CSVs for
    reviews, WAV folders for keywords (the recipe's clips for ``seed``)."""
    folder.mkdir(parents=True, exist_ok=True)
    if row == "sunspots":
        source = require("statsmodels", row) / "sunspots.csv"
        return {"data": str(dated_csv(source, folder / "sunspots.csv"))}
    if row == "reviews":
        source = require("reviews", row)
        return {
            role: str(review_csv(*_read_reviews(source / name), folder / f"{part}.csv"))
            for role, name, part in (
                ("data", "training_data.csv", "train"),
                ("test", "testing_data.csv", "test"),
            )
        }
    if row == "keywords":
        splits = load_dataset("keywords", seed=seed)  # synthesised on first use (minutes)
        parts = {"data": splits.train, "validation": splits.validation, "test": splits.test}
        return {
            role: str(wav_tree(part.waveforms, part.labels, splits.classes, folder / part.split))
            for role, part in parts.items()
        }
    if row == "fashion-mnist":
        splits = load_dataset("fashion-mnist")
        train = splits.train
        rng = np.random.default_rng(0)
        labels = train.targets.numpy()
        chosen = np.sort(
            np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:1000] for c in range(10)])
        )
        images, targets = train.inputs[chosen].numpy(), labels[chosen]
        test = splits.test
        return {
            "data": str(png_tree(images, targets, splits.classes, folder / "train")),
            "test": str(
                png_tree(test.inputs.numpy(), test.targets.numpy(), splits.classes, folder / "test")
            ),
        }
    ucr = require("ucr", row)
    stem = ROWS[row]
    if row == "gunpoint":
        return {
            split: str(long_csv(ucr / f"{stem}_{part}.ts", folder / f"{stem}_{part}.csv"))
            for split, part in (("data", "TRAIN"), ("test", "TEST"))
        }
    return {"data": str(ucr / f"{stem}_TRAIN.ts"), "test": str(ucr / f"{stem}_TEST.ts")}


def test_metrics(run: Run) -> dict[str, float]:
    return next(iter(run.metrics["test"].values()))


def spread(values: list[float], digits: int) -> str:
    """``mean (min-max)`` of ``values``."""
    low, high = min(values), max(values)
    return f"{statistics.mean(values):.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    arguments = parser.parse_args()
    started = revision()
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for row in arguments.rows:
            metrics = METRICS.get(row, ("accuracy",))
            recipe = {metric: [] for metric in metrics}
            own = {metric: [] for metric in metrics}
            seconds = {"recipe": 0.0, "files": 0.0}
            recipe_config = resolve_config(row)
            same = {  # the recipe's model and training options, for the files too
                key: getattr(recipe_config, key)
                for key in (
                    *("model", "model_options", "epochs", "batch_size", "lr", "weight_decay"),
                    "bucket_by_length",
                )
            }
            paths = None
            for seed in range(arguments.seeds):
                if paths is None or row in SEEDED_DATA:
                    shutil.rmtree(folder / row, ignore_errors=True)  # one seed's clips: 0.7 GB
                    paths = files(row, folder / row, seed)
                common = {"seed": seed, "progress": False, "out": str(folder / "runs")}
                first = convrec.train(row, **RECIPE_OPTIONS.get(row, {}), **common)
                options = paths | KIND_OPTIONS.get(row, {})
                second = convrec.train(KINDS[row], task_options=options, **same, **common)
                for metric in metrics:
                    recipe[metric].append(test_metrics(first)[metric])
                    own[metric].append(test_metrics(second)[metric])
                times = [run.metrics["train_seconds"] for run in (first, second)]
                seconds["recipe"] += times[0] / arguments.seeds
                seconds["files"] += times[1] / arguments.seeds
                scores = ", ".join(f"{m} {recipe[m][-1]:.4g} / {own[m][-1]:.4g}" for m in metrics)
                print(
                    f"{row} seed {seed} (recipe / files): {scores}, "
                    f"train s {times[0]:.0f} / {times[1]:.0f}",
                    flush=True,
                )
            shutil.rmtree(folder / row, ignore_errors=True)
            results.append((row, recipe, own, seconds))
    print(
        f"{date.today()}, {platform.machine()} {os.cpu_count()} cores, revision {started}, "
        f"{arguments.seeds} seeds"
    )
    print("| dataset | recipe, test metric | your own files | train s (recipe / files) |")
    print("|---|---|---|---|")
    for row, recipe, own, seconds in results:
        for metric in recipe:
            digits = 3 if metric == "accuracy" else 2
            print(
                f"| {row}, {metric} | {spread(recipe[metric], digits)} | "
                f"{spread(own[metric], digits)} | "
                f"{seconds['recipe']:.0f} / {seconds['files']:.0f} |"
            )


if __name__ == "__main__":
    main()
