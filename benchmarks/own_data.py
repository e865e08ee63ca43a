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
  validation split.

The recipe holds out 20% of the training split for validation by class; so does the generic
kind (``validation_split`` 0.2), with its own seeded draw. The table gives the test accuracy's
mean and range over the seeds for both paths, and the training seconds.

Usage:
    python benchmarks/own_data.py [--seeds 3] [--rows gunpoint japanese-vowels]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image
from provenance import revision

import convrec
from convrec.data import load_dataset
from convrec.data.readers import read_ts
from convrec.data.sources import require
from convrec.train.resolve import resolve_config
from convrec.train.run import Run

ROWS = {
    "gunpoint": "GunPoint",
    "japanese-vowels": "JapaneseVowels",
    "fashion-mnist": "Fashion-MNIST",
}
KINDS = {"gunpoint": "series", "japanese-vowels": "series", "fashion-mnist": "images"}
RECIPE_OPTIONS = {"fashion-mnist": {"task_options": {"labels_per_class": 800}}}


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


def files(row: str, folder: Path) -> dict[str, str]:
    """The user's files for ``row``: long CSVs for GunPoint, ``.ts`` files for JapaneseVowels,
    PNG folders for Fashion-MNIST."""
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


def accuracy(run: Run) -> float:
    return next(iter(run.metrics["test"].values()))["accuracy"]


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
            paths = files(row, folder)
            recipe, own, seconds = [], [], {"recipe": 0.0, "files": 0.0}
            recipe_config = resolve_config(row)
            same = {  # the recipe's model and training options, for the files too
                key: getattr(recipe_config, key)
                for key in ("model", "model_options", "epochs", "batch_size", "lr", "weight_decay")
            }
            for seed in range(arguments.seeds):
                common = {"seed": seed, "progress": False, "out": str(folder / "runs")}
                first = convrec.train(row, **RECIPE_OPTIONS.get(row, {}), **common)
                second = convrec.train(KINDS[row], task_options=paths, **same, **common)
                recipe.append(accuracy(first))
                own.append(accuracy(second))
                seconds["recipe"] += first.metrics["train_seconds"] / arguments.seeds
                seconds["files"] += second.metrics["train_seconds"] / arguments.seeds
            results.append((row, recipe, own, seconds))
    print(
        f"{date.today()}, {platform.machine()} {os.cpu_count()} cores, revision {started}, "
        f"{arguments.seeds} seeds"
    )
    print("| dataset | recipe accuracy | your own files | train s (recipe / files) |")
    print("|---|---|---|---|")
    for row, recipe, own, seconds in results:
        print(
            f"| {row} | {statistics.mean(recipe):.3f} ({min(recipe):.3f}-{max(recipe):.3f}) | "
            f"{statistics.mean(own):.3f} ({min(own):.3f}-{max(own):.3f}) | "
            f"{seconds['recipe']:.0f} / {seconds['files']:.0f} |"
        )


if __name__ == "__main__":
    main()
