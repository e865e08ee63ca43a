"""Grapheme-to-phoneme conversion: a word's letters to its phonemes, a sequence to a sequence of
another length (the notes' many-to-many mapping, as in machine translation).

A batch is a :class:`~convrec.models.seq2seq.Transduction` (the letters, and ``<s>`` followed by
the phonemes as the decoder's inputs); the target is the phonemes followed by ``</s>``. The loss
is the cross-entropy of every target symbol, padding never counted. A word is right when its
predicted phonemes equal one of its pronunciations in the dictionary:

- word error rate (WER): the fraction of words predicted wrong;
- phoneme error rate (PER): the edit distance to the nearest pronunciation, summed over the
  words, over the summed lengths of those pronunciations.

Both are reported for beam search (the model's ``beam_size``) and for greedy decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from convrec.checks import fail
from convrec.data.pronunciation import Lexicon
from convrec.data.splits import Splits
from convrec.data.tokenizers import Tokenizer
from convrec.errors import InvalidValueError, PathNotFoundError
from convrec.files import write_text
from convrec.models.seq2seq import END_ID, START_ID, Transduction
from convrec.nn import Padded
from convrec.tasks.base import TaskData, register_task, text_table
from convrec.tasks.dataset import EVALUATION_BATCH, DatasetTask, evaluating
from convrec.tasks.exported import ExportSpec
from convrec.tasks.sequence_errors import error_rates

SAMPLE_WORDS = 40
"""Test words whose predictions ``samples.txt`` lists, with their pronunciations."""


def _pronunciations(dataset: Dataset) -> list[list[list[int]]]:
    if isinstance(dataset, Lexicon):
        return [[option.tolist() for option in options] for options in dataset.alternatives]
    return [[dataset[index][1].tolist()] for index in range(len(dataset))]


@register_task
class Pronunciation(DatasetTask):
    """The CMU Pronouncing Dictionary: each word's letters to its ARPAbet phonemes (no stress
    marks unless ``stress=True``), split by word 90/5/5."""

    name = "g2p"
    description = "grapheme to phoneme, CMU Pronouncing Dictionary (encoder-decoder, WER)"
    dataset = "cmudict"
    standardise = False
    curve_metric = "wer"
    outputs_per_step = True
    default_model = "seq2seq-attention"
    training_defaults: ClassVar[dict[str, Any]] = {"bucket_by_length": True}
    models: ClassVar[dict[str, dict[str, Any]]] = {
        "seq2seq": {
            "epochs": 3,
            "batch_size": 256,
            "lr": 3e-3,
            "model_options": {"hidden_size": 128},
        },
        "seq2seq-attention": {
            "epochs": 2,
            "batch_size": 256,
            "lr": 3e-3,
            "model_options": {"hidden_size": 128},
        },
    }

    def __init__(self, root: str | None = None, **dataset_options: Any) -> None:
        super().__init__(root, **dataset_options)
        self.letters: Tokenizer | None = None
        self.phonemes: Tokenizer | None = None

    @property
    def output_size(self) -> int:
        return len(self._known(self.phonemes))

    def learn_targets(self, splits: Splits) -> None:
        self.letters = splits.tokenizer
        self.phonemes = splits.info["phonemes"]

    def collate(self, items: list[tuple[Tensor, Tensor]]) -> tuple[Transduction, Padded]:
        """Letters ``(B, T)``, decoder inputs ``<s> p_1 .. p_U`` and targets ``p_1 .. p_U </s>``
        ``(B, U + 1)``, all :class:`Padded` with 0."""
        words, phonemes = zip(*items, strict=True)
        start, end = torch.tensor([START_ID]), torch.tensor([END_ID])
        previous = Padded.from_sequences([torch.cat([start, p]) for p in phonemes])
        targets = Padded.from_sequences([torch.cat([p, end]) for p in phonemes])
        return Transduction(Padded.from_sequences(list(words)), previous), targets

    def loss(self, prediction: Tensor | Padded, target: Tensor | Padded) -> Tensor:
        """Mean cross-entropy of the target symbols, padding (id 0) not counted."""
        logits = prediction.data if isinstance(prediction, Padded) else prediction
        ids = target.data if isinstance(target, Padded) else target
        return F.cross_entropy(logits.flatten(0, 1), ids.flatten(), ignore_index=0)

    def decode(
        self, model: nn.Module, dataset: Dataset, beam_size: int | None = None
    ) -> list[list[int]]:
        """Predicted phoneme ids of every word of ``dataset``, in order."""
        if not hasattr(model, "predict_ids"):
            raise fail(
                self.name,
                "model",
                "an encoder-decoder ('seq2seq', 'seq2seq-attention')",
                type(model).__name__,
            )
        predictions = []
        with evaluating(model) as device:
            for batch, _ in DataLoader(
                dataset, batch_size=EVALUATION_BATCH, collate_fn=self.collate
            ):
                predictions += model.predict_ids(batch.source.to(device), beam_size)
        return predictions

    def evaluate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:
        """WER and PER with beam search (``wer``, ``per``) and greedy decoding (``*_greedy``)."""
        references = _pronunciations(dataset)
        beam = error_rates(self.decode(model, dataset), references)
        greedy = error_rates(self.decode(model, dataset, beam_size=1), references)
        return beam | {f"{name}_greedy": value for name, value in greedy.items()}

    def spell(self, ids: Sequence[int]) -> str:
        """Phoneme ids as ARPAbet separated by spaces."""
        return " ".join(self._known(self.phonemes).decode(ids))

    def plot(self, model: nn.Module, data: TaskData, directory: Path) -> list[Path]:
        """``samples.txt``: test words with their predicted and dictionary pronunciations; for an
        attention model, ``alignment.png``: which letters each predicted phoneme attended to."""
        test = data.tests["test"]
        indices = np.linspace(0, len(test) - 1, min(SAMPLE_WORDS, len(test))).astype(int).tolist()
        chosen = test.subset(indices)
        predictions = self.decode(model, chosen)
        references = _pronunciations(chosen)
        letters = self._known(self.letters)
        lines = []
        for index, predicted, options in zip(indices, predictions, references, strict=True):
            spelled = "".join(letters.decode(test[index][0].tolist()))
            mark = "ok " if predicted in options else "ERR"
            dictionary = " / ".join(map(self.spell, options))
            lines.append(f"{mark} {spelled:<20} {self.spell(predicted):<32} | {dictionary}")
        write_text(directory / "samples.txt", "\n".join(lines) + "\n")
        if not hasattr(model, "alignment"):
            return []
        from convrec.diagnose.plots import plot_alignments

        sources = [test[index][0] for index in indices[:4]]
        heard = [predictions[position] for position in range(len(sources))]
        previous = Padded.from_sequences([torch.tensor([START_ID, *ids]) for ids in heard])
        with evaluating(model) as device:
            weights = model.alignment(
                Padded.from_sequences(sources).to(device), previous.to(device)
            ).cpu()
        panels = [
            (
                letters.decode(source.tolist()),
                [*self._known(self.phonemes).decode(ids), "</s>"],
                weights[row, : len(ids) + 1, : len(source)].numpy(),
            )
            for row, (source, ids) in enumerate(zip(sources, heard, strict=True))
        ]
        return [plot_alignments(panels, directory / "alignment.png")]

    def predict(self, model: nn.Module, sequences: Sequence[np.ndarray | str]) -> list[np.ndarray]:
        """Phoneme ids ``(U,)`` of each word, given as letter ids ``(T,)`` or spelt (a string),
        by beam search."""
        letters = self._known(self.letters)
        words = []
        for index, item in enumerate(sequences):
            if isinstance(item, str):
                if len(item.split()) != 1:
                    raise fail(f"{self.name}.predict", f"input {index}", "one word", repr(item))
                item = letters.encode(item.strip().lower()).numpy()
            words.append(item)
        self.model_inputs(words)  # every word checked, each named by its place in the list
        predictions = []
        with evaluating(model) as device:
            for start in range(0, len(words), EVALUATION_BATCH):
                batch = self.model_inputs(words[start : start + EVALUATION_BATCH])
                predictions += model.predict_ids(batch.to(device))
        return [np.asarray(ids, dtype=np.int64) for ids in predictions]

    def prediction_texts(self, predictions: Sequence[np.ndarray]) -> list[str]:
        """Each prediction's phonemes, ARPAbet separated by spaces."""
        return [self.spell(ids.tolist()) for ids in predictions]

    def reads_for_prediction(self, source: str | Path) -> bool:
        """Whether :meth:`prediction_inputs` reads ``source``: a ``.txt`` of words."""
        return Path(source).suffix == ".txt"

    def prediction_inputs(self, path: str | Path) -> tuple[list[str], list[np.ndarray]]:
        """The words of a text file, one per line (blank lines skipped), as letter ids.

        Raises:
            InvalidValueError: a line holds more than one word, or the file holds none.
        """
        path = Path(path)
        if not path.is_file():
            raise PathNotFoundError(f"{self.name}: expected a .txt file of words, got {path}")
        words = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            fields = line.split()
            if len(fields) > 1:
                raise InvalidValueError(
                    f"{path}, line {number}: expected one word per line, got {line.strip()!r}"
                )
            words += [field.lower() for field in fields]
        if not words:
            raise InvalidValueError(f"{path}: expected words, one per line, got none")
        letters = self._known(self.letters)
        return words, [letters.encode(word).numpy() for word in words]

    def prediction_table(self, names: list[str], predictions: list[np.ndarray]) -> str:
        """CSV: ``word`` and its ``pronunciation`` (ARPAbet, space-separated)."""
        return text_table(("word", "pronunciation"), names, self.prediction_texts(predictions))

    def export_spec(self) -> ExportSpec:
        raise InvalidValueError(
            f"{self.name}: an encoder-decoder predicts by feeding back its own outputs (beam "
            "search), which the exported graph does not hold; use convrec.load(RUN).predict or "
            "convrec predict RUN words.txt"
        )

    def state(self) -> dict[str, Any]:
        return super().state() | {
            "letters": self._known(self.letters).state(),
            "phonemes": self._known(self.phonemes).state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.letters = Tokenizer.from_state(state["letters"])
        self.phonemes = Tokenizer.from_state(state["phonemes"])
