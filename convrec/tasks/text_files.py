"""Your own texts: ``convrec train text --data FILE.csv|FOLDER [--test ...]``.

The data (a CSV or TSV with a text and a label column, or a folder of class folders of ``.txt``
documents; see :mod:`convrec.data.text_files`) gives the documents and their labels; the classes
are the training labels, in natural order. Given ``--test`` (and ``--validation``) data is used
as it is; otherwise seeded, stratified holdouts of ``test_split`` and then ``validation_split``
are drawn from the data.

The vocabulary is built from what is left for training only, after the holdouts, as the
``reviews`` recipe builds its own: words (lower-cased, punctuation marks as tokens) or
characters seen at least ``min_count`` times, the ``max_vocabulary`` most frequent. Every other
token maps to ``<unk>`` (id 1); a document becomes ids ``(T,)``, cut at ``max_length`` tokens,
and documents of different lengths go to the model as :class:`~convrec.nn.Padded` batches
(padding id 0). The vocabulary and the text column are saved in the run, so
``convrec predict RUN FILE`` (a ``.txt`` file of one document per line, a CSV, a folder) and
``convrec evaluate RUN --data FILE`` read new texts in a fresh process.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch import Tensor

from convrec.checks import fail, keyword_names, one_of, positive_int
from convrec.data.splits import Pairs, Splits
from convrec.data.text import encode_texts
from convrec.data.text_files import TextTable, read_texts
from convrec.data.tokenizers import Tokenizer
from convrec.errors import InvalidValueError
from convrec.nn import Padded
from convrec.tasks.base import register_task
from convrec.tasks.classification import Classification
from convrec.tasks.files import FileClassification

TEXT_MODELS: dict[str, dict[str, Any]] = {
    "textcnn": {
        "epochs": 10,
        "batch_size": 64,
        "lr": 1e-3,
        "bucket_by_length": True,
        "model_options": {"widths": (1, 2, 3), "num_filters": 200},
    },
} | {
    cell: {
        "epochs": 10,
        "batch_size": 64,
        "lr": 2e-3,
        "bucket_by_length": True,
        "model_options": {"return_sequences": False, "pooling": "max", "num_layers": 1},
    }
    for cell in ("gru", "lstm")
}
"""Training options per model for text classification: the ``reviews`` recipe's (Kim's TextCNN
with widths 1 to 3; one recurrent layer, max-pooled over time)."""

TOKEN_LEVELS = ("word", "char")


def checked_tokenizer(state: dict[str, Any], vocab_size: int | None) -> Tokenizer:
    """The tokenizer a run saved, refused unless it holds tokens, one per id of the model's
    ``vocab_size``."""
    tokens = state["tokens"]
    if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
        raise TypeError(f"the vocabulary holds other things than tokens: {tokens!r:.80}")
    if len(tokens) != vocab_size:
        raise ValueError(f"the vocabulary has {len(tokens)} tokens, the model {vocab_size} ids")
    return Tokenizer.from_state(state)


class TokenTexts:
    """What a text classifier keeps to read new texts: documents of any length, and its
    vocabulary, saved in the run (mixed in before a :class:`Classification`)."""

    tokenizer: Tokenizer | None = None

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        self._known(self.shape)
        return (None,)  # a document of any length, even where the training ones share one

    def encode(self, texts: list[str]) -> list[Tensor]:
        """Each text as int64 token ids ``(T,)``.

        Raises:
            InvalidValueError: a run from before runs kept their vocabulary.
        """
        if self.tokenizer is None and self.shape is not None:
            raise InvalidValueError(
                f"{self.name}: this run was trained before runs kept their vocabulary, so it "
                "reads token ids only (a .npz); train it again to predict text"
            )
        tokenizer = self._known(self.tokenizer)
        return [tokenizer.encode(text) for text in texts]

    def model_inputs(self, arrays: Sequence[np.ndarray | str]) -> Tensor | Padded:
        """As :meth:`DatasetTask.model_inputs`; a text (``str``) is encoded first, so
        ``convrec.load(RUN).predict(["a new review"])`` works."""
        return super().model_inputs(
            [self.encode([item])[0].numpy() if isinstance(item, str) else item for item in arrays]
        )

    def state(self) -> dict[str, Any]:
        return super().state() | {"tokenizer": self._known(self.tokenizer).state()}

    def export_metadata(self) -> dict[str, Any]:
        return super().export_metadata() | {"tokenizer": self._known(self.tokenizer).state()}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        saved = state.get("tokenizer")  # None in runs from before it was kept
        self.tokenizer = None if saved is None else checked_tokenizer(saved, self.vocab_size)


@register_task
class TextFiles(TokenTexts, FileClassification):
    """Classification of a user's own texts, read from a table or class folders.

    Args:
        data, test, validation: labelled texts (see :class:`FileClassification`).
        text_column: the table column holding the texts (default: the one column of text).
        label_column: the table column holding the labels.
        tokens: ``'word'`` (lower-cased words and punctuation marks) or ``'char'``.
        max_length: documents are cut to this many tokens (None: never cut).
        max_vocabulary: the most tokens kept, ``<pad>`` and ``<unk>`` included.
        min_count: a token enters the vocabulary if seen this often in the training split.
        validation_split, test_split: the fractions held out when no path is given.

    Shape:
        one input: int64 token ids ``(T,)``, ``1 <= T <= max_length``; a batch is a
        :class:`~convrec.nn.Padded` ``(B, T_max)`` with ``lengths (B,)``.
    """

    name = "text"
    description = "your own texts (--data FILE.csv or FOLDER of class folders of .txt)"
    default_model = "textcnn"
    models: ClassVar[dict[str, dict[str, Any]]] = TEXT_MODELS
    items = "texts"

    def __init__(
        self,
        data: str | None = None,
        test: str | None = None,
        validation: str | None = None,
        text_column: str | None = None,
        label_column: str = "label",
        tokens: str = "word",
        max_length: int | None = 400,
        max_vocabulary: int = 20000,
        min_count: int = 2,
        validation_split: float = 0.2,
        test_split: float = 0.2,
    ) -> None:
        super().__init__(data, test, validation, validation_split, test_split)
        for argument, value in (("text_column", text_column), ("label_column", label_column)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise fail(self.name, argument, "a column name", repr(value))
        self.text_column = text_column
        self.label_column = label_column
        self.tokens = one_of(self.name, "tokens", tokens, TOKEN_LEVELS)
        if max_length is not None:
            positive_int(self.name, "max_length", max_length)
        self.max_length = max_length
        if positive_int(self.name, "max_vocabulary", max_vocabulary) < 3:
            raise fail(
                self.name, "max_vocabulary", "at least 3 (<pad>, <unk> and a token)", max_vocabulary
            )
        self.max_vocabulary = max_vocabulary
        self.min_count = positive_int(self.name, "min_count", min_count)
        self.tokenizer: Tokenizer | None = None

    @classmethod
    def options(cls) -> tuple[str, ...] | None:
        return keyword_names(cls.__init__)

    def read(self, path: str | Path, labelled: bool = True) -> TextTable:
        """The documents at ``path``, read with this task's column names."""
        return read_texts(
            path,
            text_column=self.text_column,
            label_column=self.label_column,
            labelled=labelled,
        )

    def read_labelled(self, path: str | Path, role: str) -> tuple[list[str], list[str]]:
        table = self.read(path)
        if role == "data" and table.text_column is not None:
            self.text_column = table.text_column  # inferred once: later tables must have it
        return table.texts, table.labels

    def as_pairs(self, inputs: list[str], targets: Tensor) -> Pairs:
        """The texts as they are: the vocabulary is built once the training split is known."""
        return Pairs(list(inputs), targets)

    def encode(self, texts: list[str]) -> list[Tensor]:
        """Each text as int64 token ids ``(T,)``, cut at ``max_length`` (at least one id)."""
        if self.tokenizer is None:
            raise RuntimeError(f"{self.name}: build_data or load_state must run first")
        return encode_texts(self.tokenizer, texts, self.max_length)

    def encoded(self, pairs: Pairs) -> Pairs:
        """Pairs of texts as pairs of token ids."""
        return Pairs(self.encode(pairs.inputs), pairs.targets)

    def load_splits(self, seed: int) -> Splits:
        """The base's splits of texts, then the vocabulary of the training split and every split
        as token ids."""
        self.tokenizer = None
        texts = super().load_splits(seed)
        self.tokenizer = Tokenizer.build(
            texts.train.inputs, self.tokens, self.min_count, self.max_vocabulary
        )
        info = self.splits_info()
        self.summary = (self.summary or {}) | info
        return Splits(
            self.name,
            self.encoded(texts.train),
            self.encoded(texts.validation),
            self.encoded(texts.test),
            texts.classes,
            tokenizer=self.tokenizer,
            info=info,
            variable_length=True,
        )

    def splits_info(self) -> dict[str, Any]:
        if self.tokenizer is None:  # asked again once the vocabulary is built
            return {}
        return {"tokens": self.tokens, "vocabulary": len(self.tokenizer)}

    def labelled_data(self, path: str | Path) -> Pairs:
        return self.encoded(super().labelled_data(path))

    def prediction_inputs(self, path: str | Path) -> tuple[list[str], list[np.ndarray]]:
        table = self.read(path, labelled=False)
        return table.ids, [ids.numpy() for ids in self.encode(table.texts)]

    def state(self) -> dict[str, Any]:
        return super().state() | {"text_column": self.text_column}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.text_column = state["text_column"]


class TextRecipe(TokenTexts, Classification):
    """A recipe classifying texts of a registered dataset (words as ids) that reads new texts to
    predict as the ``text`` kind does: a ``.txt`` file (one document per line), a ``.csv`` or
    ``.tsv`` with a text column, or a folder of ``.txt`` files."""

    def learn_targets(self, splits: Splits) -> None:
        super().learn_targets(splits)
        self.tokenizer = splits.tokenizer

    def reads_for_prediction(self, source: str | Path) -> bool:
        """Texts are read here; ``.npz`` files of ids go the recipes' way."""
        return Path(source).suffix.lower() != ".npz" and self.tokenizer is not None

    def prediction_inputs(self, path: str | Path) -> tuple[list[str], list[np.ndarray]]:
        table = read_texts(path, labelled=False)
        return table.ids, [ids.numpy() for ids in self.encode(table.texts)]
