"""1-D signal datasets: MNIST-1D and the UCR/UEA time-series archives.

Items are ``(series, target)``: ``series`` float32 ``(T, C)`` (time first, as every sequence in
convrec); ``target`` an int64 class id, or a float32 scalar for the regression archives. Lengths
vary in JapaneseVowels and PLAID: batch them with ``collate_padded`` (and a
``BucketBatchSampler``). Missing values (``?`` in a ``.ts`` file) stay NaN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from convrec.data.readers.ts import TsFile, read_ts
from convrec.data.splits import Pairs, Splits, data_folder, find_file, split_off_validation

UCR_ARCHIVES = {
    "basic-motions": "BasicMotions",
    "japanese-vowels": "JapaneseVowels",
    "plaid": "PLAID",
    "italy-power": "ItalyPowerDemand",
    "gunpoint": "GunPoint",
    "arrowhead": "ArrowHead",
    "osuleaf": "OSULeaf",
    "acsf1": "ACSF1",
    "covid3month": "Covid3Month",
    "tecator": "Tecator",
}


def mnist1d(
    root: str | Path | None = None, seed: int = 0, validation_fraction: float = 0.1
) -> Splits:
    """MNIST-1D (Greydanus 2020): the ten digit templates as 40-sample 1-D signals, shifted,
    scaled, sheared and noised; 4,000 training (400 held out for validation) and 1,000 test
    signals, each ``(40, 1)``.

    ``root``: a folder with ``x.npy``, ``y.npy``, ``x_test.npy``, ``y_test.npy`` (the arrays of
    the official pickle).
    """
    folder = data_folder("mnist1d", "mnist1d", root)

    def array(name: str) -> np.ndarray:
        return np.load(find_file(folder, [f"{name}.npy"], "mnist1d"), allow_pickle=False)

    def pairs(x: np.ndarray, y: np.ndarray) -> Pairs:
        series = torch.from_numpy(x.astype(np.float32)).unsqueeze(-1)
        return Pairs(series, torch.from_numpy(y.astype(np.int64)))

    train, validation = split_off_validation(
        pairs(array("x"), array("y")), validation_fraction, seed
    )
    test = pairs(array("x_test"), array("y_test"))
    return Splits("mnist1d", train, validation, test, tuple(str(digit) for digit in range(10)))


def _pairs(archive: TsFile, classes: tuple[str, ...] | None) -> Pairs:
    series = [torch.from_numpy(case.astype(np.float32)) for case in archive.series]
    if classes is None:
        return Pairs(series, torch.from_numpy(archive.labels.astype(np.float32)))
    index = {name: position for position, name in enumerate(classes)}
    return Pairs(series, torch.tensor([index[label] for label in archive.labels]))


def ucr(
    name: str,
    root: str | Path | None = None,
    seed: int = 0,
    validation_fraction: float = 0.2,
) -> Splits:
    """One archive of the UCR/UEA collection with its official train/test split; the validation
    split is held out of the training split (stratified for classification).

    Args:
        name: a key of :data:`UCR_ARCHIVES` (``basic-motions``, ``japanese-vowels``, ...).
        root: a folder with ``<Name>_TRAIN.ts`` and ``<Name>_TEST.ts`` (directly or in a
            ``<Name>/`` sub-folder), as in the archive's download.
    """
    stem = UCR_ARCHIVES[name]
    folder = data_folder("ucr", name, root)

    def read(split: str) -> TsFile:
        file_name = f"{stem}_{split}.ts"
        return read_ts(find_file(folder, [file_name, f"{stem}/{file_name}"], name))

    train_file, test_file = read("TRAIN"), read("TEST")
    classes = train_file.class_names
    train, validation = split_off_validation(
        _pairs(train_file, classes), validation_fraction, seed, stratify=classes is not None
    )
    info = {"channels": train_file.dimensions, "equal_length": train_file.equal_length}
    return Splits(
        name,
        train,
        validation,
        _pairs(test_file, classes),
        classes,
        info=info,
        variable_length=True,
    )
