"""Text and DNA to integer ids: word and character vocabularies, DNA letters.

A vocabulary is built from the training split only and saved with the model (``state()`` is plain
JSON), so a word first seen at test time maps to the unknown symbol, as it would in deployment.
Id 0 is always padding and id 1 always unknown: ``convrec.nn.Embedding(padding_idx=0)`` and
``Padded.from_sequences`` (which pads with 0) agree with every vocabulary here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from convrec.checks import describe, fail, one_of, positive_int
from convrec.errors import InvalidTypeError

PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")

DNA_ALPHABET = "ACGTN"


class Tokenizer:
    """Splits text into words or characters and maps them to ids.

    Args:
        level: ``"word"`` (lower-cased words and punctuation marks) or ``"char"`` (characters).
        tokens: the vocabulary in id order, starting with ``<pad>`` and ``<unk>``.

    Example:
        >>> tokenizer = Tokenizer.build(["the cat sat", "the dog"], level="word")
        >>> tokenizer.encode("The bird sat.").tolist()
        [2, 1, 5, 1]
        >>> tokenizer.decode([2, 1, 5])
        ['the', '<unk>', 'sat']
    """

    def __init__(self, level: str, tokens: Sequence[str]) -> None:
        self.level = one_of("Tokenizer", "level", level, ["word", "char"])
        if list(tokens[:2]) != [PAD, UNK] or len(set(tokens)) != len(tokens):
            raise fail(
                "Tokenizer",
                "tokens",
                f"distinct tokens starting with {PAD!r}, {UNK!r}",
                describe(list(tokens[:3])),
            )
        self.tokens = list(tokens)
        self.ids = {token: index for index, token in enumerate(self.tokens)}

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        level: str = "word",
        min_count: int = 1,
        max_size: int | None = None,
    ) -> Tokenizer:
        """Vocabulary of the tokens in ``texts`` seen at least ``min_count`` times, most frequent
        first (ties alphabetical), at most ``max_size`` tokens including the two special ones."""
        positive_int("Tokenizer.build", "min_count", min_count)
        if max_size is not None and positive_int("Tokenizer.build", "max_size", max_size) < 3:
            raise fail("Tokenizer.build", "max_size", "at least 3 (two special tokens)", max_size)
        splitter = cls(level, [PAD, UNK]).split
        counts = Counter(token for text in texts for token in splitter(text))
        frequent = sorted(
            (
                token
                for token, count in counts.items()
                if count >= min_count and token not in (PAD, UNK)
            ),
            key=lambda token: (-counts[token], token),
        )
        if max_size is not None:
            frequent = frequent[: max_size - 2]
        return cls(level, [PAD, UNK, *frequent])

    def __len__(self) -> int:
        return len(self.tokens)

    def split(self, text: str) -> list[str]:
        """Tokens of ``text``: lower-cased words and punctuation marks, or characters."""
        if not isinstance(text, str):
            raise fail("Tokenizer", "text", "a string", describe(text), error=InvalidTypeError)
        return _WORD.findall(text.lower()) if self.level == "word" else list(text)

    def encode(self, text: str) -> Tensor:
        """``(T,)`` int64 ids; tokens outside the vocabulary map to ``<unk>`` (1)."""
        return torch.tensor(
            [self.ids.get(token, 1) for token in self.split(text)], dtype=torch.long
        )

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``."""
        tokens = []
        for index in ids:
            if not 0 <= int(index) < len(self.tokens):
                raise fail("Tokenizer.decode", "ids", f"ids in [0, {len(self.tokens)})", index)
            tokens.append(self.tokens[int(index)])
        return tokens

    def state(self) -> dict[str, object]:
        """JSON-serialisable state, saved beside a model's weights."""
        return {"level": self.level, "tokens": self.tokens}

    @classmethod
    def from_state(cls, state: dict[str, object]) -> Tokenizer:
        """The tokenizer saved by :meth:`state`."""
        return cls(str(state["level"]), list(state["tokens"]))  # type: ignore[arg-type]


def encode_dna(sequence: str) -> Tensor:
    """``(T,)`` int64 ids of a DNA string over ``A C G T N`` (0 to 4), case-insensitive (lower case
    marks repeats in genome files; the letters are the same bases).

    Example:
        >>> encode_dna("ACgtN").tolist()
        [0, 1, 2, 3, 4]
    """
    if not isinstance(sequence, str):
        raise fail("encode_dna", "sequence", "a string", describe(sequence), error=InvalidTypeError)
    upper = sequence.upper()
    codes = torch.frombuffer(bytearray(upper.encode("ascii", "replace")), dtype=torch.uint8)
    lookup = torch.full((256,), -1, dtype=torch.long)
    lookup[torch.tensor(list(DNA_ALPHABET.encode()))] = torch.arange(len(DNA_ALPHABET))
    ids = lookup[codes.long()]
    if (ids < 0).any():
        position = int((ids < 0).nonzero()[0])
        raise fail(
            "encode_dna",
            "sequence",
            f"letters {', '.join(DNA_ALPHABET)}",
            f"{sequence[position]!r} at position {position}",
        )
    return ids


def one_hot_dna(sequence: str) -> Tensor:
    """``(T, 4)`` float32 one-hot over ``A C G T``; an unknown base ``N`` is 0.25 everywhere.

    Example:
        >>> one_hot_dna("AN").tolist()
        [[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]]
    """
    table = torch.cat([torch.eye(4), torch.full((1, 4), 0.25)])
    return table[encode_dna(sequence)]
