"""Recognising spoken digit strings with connectionist temporal classification (CTC): a
recording's MFCC frames to the digits said, with no alignment of words to frames given.

The model gives log-probabilities over a blank (class 0) and the ten digits (classes 1-10) at
every output frame; the loss is CTC's ``-log p(digits | recording)``, summed over every
alignment (:func:`torch.nn.functional.ctc_loss`), each recording's frames and digits counted to
their own lengths. Predictions come from prefix beam search (:mod:`convrec.nn.ctc`).

Metrics, for beam search and for greedy (best-path) decoding:

- digit error rate (``der``): edit distance (substitutions, insertions, deletions) to the true
  digits, summed over the recordings, over the number of true digits;
- string accuracy: the share of recordings whose digits are all right.
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

from convrec.checks import fail, positive_int
from convrec.data.audio import MFCC
from convrec.data.digit_strings import DIGIT_WORDS
from convrec.data.splits import Pairs
from convrec.errors import InvalidValueError
from convrec.files import write_text
from convrec.nn import Padded
from convrec.nn.ctc import ctc_greedy_decode, ctc_prefix_beam_search
from convrec.tasks.audio import FRAMES, is_audio_input, read_audio_inputs
from convrec.tasks.base import TaskData, register_task, text_table
from convrec.tasks.dataset import EVALUATION_BATCH, DatasetTask, evaluating
from convrec.tasks.exported import ExportSpec
from convrec.tasks.sequence_errors import error_rates

BLANK = 0
SAMPLE_RECORDINGS = 40  # test recordings listed in samples.txt
POSTERIOR_PANELS = 4


def repeats(labels: Tensor, lengths: Tensor) -> Tensor:
    """How many neighbours within each row's ``lengths`` are equal: the blanks CTC must put
    between them.

    Example:
        >>> repeats(torch.tensor([[3, 3, 3, 5], [2, 2, 0, 0]]), torch.tensor([4, 1])).tolist()
        [2, 0]
    """
    within = torch.arange(1, labels.shape[1], device=labels.device) < lengths[:, None]
    return ((labels[:, 1:] == labels[:, :-1]) & within).sum(dim=1)


def frame_log_probs(model: nn.Module, inputs: Tensor | Padded) -> list[Tensor]:
    """Each recording's per-frame log-probabilities ``(T'_i, C)``, its padding cut off.

    Raises:
        InvalidValueError: the model gives one output per recording, not one per frame.
    """
    outputs = model(inputs)
    data = outputs.data if isinstance(outputs, Padded) else outputs
    if data.dim() != 3:
        raise fail(
            "digit-strings",
            "model",
            "an output per frame (B, T', classes) for CTC",
            f"outputs of shape {tuple(data.shape)}",
        )
    log_probs = data.float().log_softmax(dim=-1)
    if not isinstance(outputs, Padded):
        return list(log_probs)
    return [item[:length] for item, length in zip(log_probs, outputs.lengths.tolist(), strict=True)]


@register_task
class DigitStrings(DatasetTask):
    """Strings of 3 to 7 digits spoken by espeak-ng voices, to their digits, by CTC; the test
    voices are never heard in training.

    A trained model takes mono audio of any length at 16 kHz (``convrec predict RUN PATH`` reads
    WAV, FLAC and Ogg files at any rate) and answers the digits, 0-9, it heard.

    Args:
        root: must be None (the recordings are synthesised).
        beam_size: the prefix beam search's width (1 gives greedy decoding).
        **dataset_options: :class:`~convrec.data.digit_strings.SpokenDigitStrings`'s options.
    """

    name = "digit-strings"
    description = "spoken digit strings to digits (espeak-ng speech, MFCC, CTC, held-out voices)"
    dataset = "digit-strings"
    default_model = "crnn"
    curve_metric = "der"
    sample_rate: ClassVar[int] = 16_000
    coefficients: ClassVar[int] = 40
    hop_length: ClassVar[int] = 160
    training_defaults: ClassVar[dict[str, Any]] = {"bucket_by_length": True}
    models: ClassVar[dict[str, dict[str, Any]]] = {
        "crnn": {
            "epochs": 8,
            "batch_size": 32,
            "lr": 3e-3,
            "model_options": {"channels": (64, 64), "hidden_size": 128},
        },
    }

    def __init__(self, root: str | None = None, beam_size: int = 8, **dataset_options: Any):
        super().__init__(root, **dataset_options)
        self.beam_size = positive_int(self.name, "beam_size", beam_size)
        self.front_end = MFCC(
            self.sample_rate, self.coefficients, hop_length=self.hop_length, n_mels=40, **FRAMES
        )

    @property
    def output_size(self) -> int:
        return 1 + len(DIGIT_WORDS)

    def model_defaults(self, model: str, model_options: Sequence[str]) -> dict[str, Any]:
        """An output per frame: the CRNN's ``readout='frames'``, a recurrent net's sequences.

        Raises:
            InvalidValueError: a model with one output per recording.
        """
        if "readout" in model_options:
            return {"readout": "frames"}
        if "return_sequences" in model_options:
            return {"return_sequences": True}
        raise InvalidValueError(
            f"{self.name}: CTC needs an output per frame, which {model!r} does not give; "
            "use crnn or gru"
        )

    def features(self, waveform: Tensor) -> Tensor:
        """One recording ``(S,)`` to its MFCC frames ``(S // 160 + 1, 40)``."""
        with torch.no_grad():
            return self.front_end(waveform[None])[0]

    def inputs_of(self, dataset: Dataset) -> Pairs:
        """MFCC frames of each recording; its digits as class ids 1-10 (0 is the blank)."""
        items = [dataset[index] for index in range(len(dataset))]
        return Pairs(
            [self.features(waveform) for waveform, _ in items],
            [digits + 1 for _, digits in items],
        )

    def collate(self, items: list[tuple[Tensor, Tensor]]) -> tuple[Padded, Padded]:
        """Frames ``(B, T, 40)`` and digit ids ``(B, L)``, both :class:`Padded`."""
        frames, digits = zip(*items, strict=True)
        return Padded.from_sequences(list(frames)), Padded.from_sequences(list(digits))

    def loss(self, prediction: Tensor | Padded, target: Tensor | Padded) -> Tensor:
        """CTC's ``-log p(digits | frames)`` per recording over its number of digits, averaged.

        Raises:
            InvalidValueError: the model gives one output per recording, or a recording has
                fewer output frames than its digits need (one each, and a blank between two
                equal ones).
        """
        logits = prediction.data if isinstance(prediction, Padded) else prediction
        if logits.dim() != 3:
            raise fail(
                self.name,
                "model",
                "an output per frame (B, T', classes) for CTC",
                f"outputs of shape {tuple(logits.shape)}",
                hint="Keep the crnn's readout='frames' or a recurrent model's "
                "return_sequences=true.",
            )
        frames = (
            prediction.lengths
            if isinstance(prediction, Padded)
            else torch.full((len(logits),), logits.shape[1], device=logits.device)
        )
        labels = target.data if isinstance(target, Padded) else target
        label_lengths = (
            target.lengths
            if isinstance(target, Padded)
            else torch.full((len(labels),), labels.shape[1], device=labels.device)
        )
        needed = label_lengths + repeats(labels, label_lengths)
        if bool((frames < needed).any()):
            raise fail(
                self.name,
                "model",
                "as many output frames as each recording's digits need (one each, and a blank "
                "between two equal ones)",
                f"{frames.tolist()} frames for {needed.tolist()} needed",
                hint="Pool less over time (the crnn's pool_size).",
            )
        log_probs = logits.float().log_softmax(dim=-1).transpose(0, 1)  # (T', B, C)
        if log_probs.is_cuda and torch.are_deterministic_algorithms_enabled():
            # CUDA's CTC backward has no deterministic kernel; the CPU's is deterministic.
            log_probs, labels = log_probs.cpu(), labels.cpu()
            frames, label_lengths = frames.cpu(), label_lengths.cpu()
        return F.ctc_loss(log_probs, labels, frames, label_lengths, blank=BLANK).to(logits.device)

    def log_probs(self, model: nn.Module, dataset: Dataset) -> list[Tensor]:
        """Per-frame log-probabilities ``(T'_i, C)`` of every recording of ``dataset`` (CPU)."""
        result = []
        with evaluating(model) as device:
            for inputs, _ in DataLoader(
                dataset, batch_size=EVALUATION_BATCH, collate_fn=self.collate
            ):
                result += [item.cpu() for item in frame_log_probs(model, inputs.to(device))]
        return result

    def decode(self, log_probs: Sequence[Tensor], beam_size: int | None = None) -> list[list[int]]:
        """Class ids (1-10) of each recording by prefix beam search (``beam_size``, by default
        the task's; 1 is greedy decoding)."""
        width = self.beam_size if beam_size is None else beam_size
        if width == 1:
            return [ctc_greedy_decode(item, BLANK) for item in log_probs]
        return [ctc_prefix_beam_search(item, width, BLANK)[0] for item in log_probs]

    def evaluate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:
        """Digit error rate and string accuracy, by beam search and (``*_greedy``) greedily."""
        log_probs = self.log_probs(model, dataset)
        truth = [[dataset[index][1].tolist()] for index in range(len(dataset))]
        metrics = {}
        for suffix, width in (("", None), ("_greedy", 1)):
            rates = error_rates(self.decode(log_probs, width), truth)
            metrics |= {f"der{suffix}": rates["per"], f"string_accuracy{suffix}": 1 - rates["wer"]}
        return metrics

    @staticmethod
    def spell(ids: Sequence[int]) -> str:
        """Class ids 1-10 as the digits they stand for, e.g. ``'4192'``."""
        return "".join(str(int(label) - 1) for label in ids)

    def plot(self, model: nn.Module, data: TaskData, directory: Path) -> list[Path]:
        """``samples.txt``: test recordings' true and recognised digits; ``posteriors.png``:
        every digit's posterior over time in a few test recordings (which digit fires where)."""
        from convrec.diagnose.plots import plot_ctc_posteriors

        test = data.tests["test"]
        count = min(SAMPLE_RECORDINGS, len(test))
        indices = np.linspace(0, len(test) - 1, count).astype(int).tolist()
        chosen = Pairs([test[index][0] for index in indices], [test[i][1] for i in indices])
        log_probs = self.log_probs(model, chosen)
        heard = self.decode(log_probs)
        lines = []
        for (_, truth), ids in zip(chosen, heard, strict=True):
            said, recognised = self.spell(truth.tolist()), self.spell(ids)
            lines.append(f"{'ok ' if said == recognised else 'ERR'} {said:<8} {recognised}")
        write_text(directory / "samples.txt", "\n".join(lines) + "\n")
        panels = [
            (
                f"said {self.spell(chosen[row][1].tolist())}, heard {self.spell(heard[row])}",
                log_probs[row].exp().numpy(),
            )
            for row in range(min(POSTERIOR_PANELS, count))
        ]
        frames = len(chosen[0][0]) / max(len(log_probs[0]), 1)  # input frames per output frame
        seconds = frames * self.hop_length / self.sample_rate
        digits = [str(digit) for digit in range(len(DIGIT_WORDS))]
        return [plot_ctc_posteriors(panels, digits, seconds, directory / "posteriors.png")]

    def model_inputs(self, arrays: Sequence[np.ndarray]) -> Padded:
        """Raw mono waveforms ``(S_i,)`` at 16 kHz, of any length, to standardised MFCC frames.

        Raises:
            InvalidValueError: an input is not a finite 1-D waveform of at least 400 samples
                (one 25 ms window), named by its index.
        """
        return Padded.from_sequences(self._frames_of(arrays))

    def _frames_of(self, arrays: Sequence[np.ndarray]) -> list[Tensor]:
        items = []
        for index, array in enumerate(arrays):
            waveform = np.asarray(array, dtype=np.float32)
            if waveform.ndim == 2 and waveform.shape[1] == 1:
                waveform = waveform[:, 0]
            finite = bool(np.all(np.isfinite(waveform)))
            if waveform.ndim != 1 or len(waveform) < FRAMES["win_length"] or not finite:
                raise fail(
                    f"{self.name}.predict",
                    f"input {index}",
                    f"a finite mono waveform (S,) of at least {FRAMES['win_length']} samples "
                    f"at {self.sample_rate} Hz",
                    f"shape {waveform.shape}" + ("" if finite else " with NaN or Inf"),
                )
            features = self.features(torch.from_numpy(waveform))
            items.append((features - self._known(self.mean)) / self.std)
        return items

    def predict(self, model: nn.Module, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The digits (0-9) heard in each waveform ``(S_i,)`` at 16 kHz, by beam search."""
        frames = self._frames_of(sequences)  # every input checked first, named by its index
        log_probs = []
        with evaluating(model) as device:
            for start in range(0, len(frames), EVALUATION_BATCH):
                batch = Padded.from_sequences(frames[start : start + EVALUATION_BATCH])
                log_probs += [item.cpu() for item in frame_log_probs(model, batch.to(device))]
        return [np.asarray(ids, dtype=np.int64) - 1 for ids in self.decode(log_probs)]

    def prediction_texts(self, predictions: Sequence[np.ndarray]) -> list[str]:
        """Each prediction's digits as a string, e.g. ``'4192'``."""
        return ["".join(map(str, digits.tolist())) for digits in predictions]

    def reads_for_prediction(self, path: str | Path) -> bool:
        """Whether :meth:`prediction_inputs` reads ``path``: an audio file or a folder."""
        return is_audio_input(path)

    def prediction_inputs(self, path: str | Path) -> tuple[list[str], list[np.ndarray]]:
        """Names and 16 kHz mono waveforms of the audio file at ``path``, or of every audio file
        in the folder ``path`` (WAV, FLAC, Ogg; any sample rate, any number of channels)."""
        return read_audio_inputs(path, self.sample_rate)

    def prediction_table(self, names: list[str], predictions: list[np.ndarray]) -> str:
        """CSV: each recording's ``id`` and the ``digits`` heard in it."""
        return text_table(("id", "digits"), names, self.prediction_texts(predictions))

    def export_spec(self) -> ExportSpec:
        raise InvalidValueError(
            f"{self.name}: the digits come from a beam search over the per-frame posteriors, "
            "in Python, which the exported graph does not hold; use convrec.load(RUN).predict "
            "or convrec predict RUN AUDIO"
        )

    def state(self) -> dict[str, Any]:
        return super().state() | {"beam_size": self.beam_size}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.beam_size = state["beam_size"]
