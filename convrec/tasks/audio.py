"""Spoken-word classification: MFCC features (the notes' audio front end) of each clip, then a
classifier over the ``(frames, coefficients)`` sequence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from convrec.checks import fail
from convrec.data.audio import MFCC, SpecAugment
from convrec.data.audio.framewise import FramewiseMFCC
from convrec.data.audio_files import SUFFIXES, fit_length, list_audio, read_audio
from convrec.data.splits import Pairs
from convrec.errors import InvalidValueError
from convrec.tasks.base import TaskData
from convrec.tasks.classification import Classification
from convrec.tasks.dataset import each_series_standardised, materialised
from convrec.tasks.exported import ExportSpec

FEATURE_BATCH = 256
FRAMES = {"n_fft": 512, "win_length": 400}  # 25 ms windows


@torch.no_grad()
def batched_features(front_end: nn.Module, waveforms: Tensor) -> Tensor:
    """``(N, S)`` waveforms through ``front_end`` to ``(N, frames, features)``, in batches."""
    return torch.cat([front_end(chunk) for chunk in waveforms.split(FEATURE_BATCH)])


def clip_batch(
    owner: str, arrays: Sequence[np.ndarray], length: int, sample_rate: int, first: int = 0
) -> Tensor:
    """Mono waveforms ``(S_i,)`` (or ``(S_i, 1)``, time first, as the recipes' ``.npz`` and
    ``.csv`` files give them) of any length as one batch ``(N, length)``, each padded with zeros
    or trimmed to its loudest ``length`` samples (:func:`fit_length`).

    Raises:
        InvalidValueError: an input is not a finite 1-D waveform of at least one sample; the
            message names ``owner`` and the input's index (``first`` for ``arrays[0]``).
    """
    clips = []
    for index, array in enumerate(arrays, start=first):
        waveform = np.asarray(array, dtype=np.float32)
        if waveform.ndim == 2 and waveform.shape[1] == 1:
            waveform = waveform[:, 0]
        finite = bool(np.all(np.isfinite(waveform)))
        if waveform.ndim != 1 or waveform.size == 0 or not finite:
            raise fail(
                owner,
                f"input {index}",
                f"a finite mono waveform (S,) of at least one sample at {sample_rate} Hz",
                f"shape {waveform.shape}" + ("" if finite else " with NaN or Inf"),
            )
        clips.append(fit_length(waveform, length))
    return torch.from_numpy(np.stack(clips))


def is_audio_input(path: str | Path) -> bool:
    """Whether ``path`` is a folder or a file with an audio suffix (WAV, FLAC, Ogg)."""
    path = Path(path)
    return path.is_dir() or path.suffix.lower() in SUFFIXES


def read_audio_inputs(path: str | Path, sample_rate: int) -> tuple[list[str], list[np.ndarray]]:
    """Names and mono waveforms at ``sample_rate`` of the audio file at ``path``, or of every
    audio file in the folder ``path`` (any sample rate, any number of channels)."""
    folder = list_audio(path, labelled=False)
    return folder.names(), [read_audio(file, sample_rate) for file in folder.files]


def waveform_export_spec(owner: str, spec: ExportSpec, front_end: nn.Module) -> ExportSpec:
    """``spec`` of a clip classifier made to take raw waveforms ``(batch, samples)`` and their
    lengths, with ``front_end`` in the graph.

    Raises:
        InvalidValueError: ``front_end`` is not a :class:`FramewiseMFCC`: centred frames and a
            decibel floor below each clip's peak need the whole clip.
    """
    if not isinstance(front_end, FramewiseMFCC):
        raise InvalidValueError(
            f"{owner}: its front end centres frames and floors each clip 80 dB below its peak, "
            "which is not in the exported graph; use convrec.load(RUN).predict, or train with a "
            "framewise front end (the keywords-stream recipe; front_end=framewise-mfcc for your "
            "own audio), which exports and streams"
        )
    rate = front_end.sample_rate
    spec.input_kind, spec.input_shape, spec.variable_length = "waveform", (None,), True
    spec.features, spec.example_steps = front_end, max(rate, front_end.n_fft)
    spec.input_layout = f"(batch, samples) float32 mono waveforms at {rate:g} Hz"
    spec.metadata |= {
        "input_kind": "waveform",
        "input_shape": [None],
        "sample_rate": rate,
        "front_end": repr(front_end),
    }
    return spec


class SpokenClassification(Classification):
    """A clip classifier on 40 MFCCs per 10 ms frame (25 ms windows, 40 Mel bands).

    The features are computed once per split; :meth:`model_inputs` computes them for raw
    waveforms at prediction time, so a trained model takes mono audio sampled at 16 kHz, of any
    length: a clip is padded with zeros or trimmed to its loudest stretch of the training clips'
    length. ``convrec predict RUN PATH`` reads audio files (one, or a folder of them) at any
    sample rate and resamples them (:meth:`prediction_inputs`).

    Args:
        root: must be ``None`` for the synthesised recipes.
        labels_per_class: keep only this many training clips per class.
        spec_augment: mask random bands of the training features (:class:`SpecAugmented`).
        standardise_each_clip: scale every coefficient of every clip by its own mean and
            deviation over the clip's frames (cepstral mean and variance normalisation), before
            the training set's scaling: what stays the same through a whole clip (a voice's
            timbre, a microphone's response) is taken out.
        **dataset_options: the dataset's own options.
    """

    sample_rate: ClassVar[int] = 16_000
    coefficients: ClassVar[int] = 40
    hop_length: ClassVar[int] = 160
    seconds_per_step: ClassVar[float] = hop_length / sample_rate

    def __init__(
        self,
        root: str | None = None,
        labels_per_class: int | None = None,
        spec_augment: bool = False,
        standardise_each_clip: bool = False,
        **dataset_options: Any,
    ) -> None:
        super().__init__(root, labels_per_class, **dataset_options)
        for name, value in (
            ("spec_augment", spec_augment),
            ("standardise_each_clip", standardise_each_clip),
        ):
            if not isinstance(value, bool):
                raise fail(self.name, name, "true or false", repr(value))
        self.spec_augment = spec_augment
        self.standardise_each_series = standardise_each_clip
        self.front_end = self.make_front_end()
        if standardise_each_clip and isinstance(self.front_end, FramewiseMFCC):
            raise fail(
                self.name,
                "standardise_each_clip",
                "false for a streaming recipe (a stream has no whole clip to average over)",
                "true",
            )
        self.clip_shape: tuple[int, ...] | None = None

    def build_data(self, seed: int) -> TaskData:
        data = super().build_data(seed)
        if self.spec_augment:
            data.train = SpecAugmented(data.train)
        return data

    def make_front_end(self) -> nn.Module:
        """Centred 25 ms frames every 10 ms, 40 Mel bands, 80 dB below each clip's peak."""
        return MFCC(
            self.sample_rate, self.coefficients, hop_length=self.hop_length, n_mels=40, **FRAMES
        )

    def features(self, waveforms: Tensor) -> Tensor:
        """``(N, S)`` waveforms to ``(N, frames, coefficients)`` MFCCs, in batches."""
        return batched_features(self.front_end, waveforms)

    def inputs_of(self, dataset: Dataset) -> Pairs:
        clips = materialised(dataset)
        self.clip_shape = tuple(clips.inputs.shape[1:])
        return Pairs(self.features(clips.inputs), clips.targets)

    def export_spec(self) -> ExportSpec:
        """Raw waveforms ``(batch, samples)`` with their lengths in, the front end in the graph:
        for a framewise front end (:class:`StreamingSpokenClassification`). The graph reads
        each waveform whole; :meth:`model_inputs` first fits it to the training clips' length.

        Raises:
            InvalidValueError: the centred front end, whose decibel floor follows each clip's
                peak and so needs the whole clip.
        """
        return waveform_export_spec(self.name, super().export_spec(), self.front_end)

    def model_inputs(self, arrays: Sequence[np.ndarray]) -> Tensor:
        """Raw mono waveforms ``(S_i,)`` at 16 kHz, of any length, to a standardised batch."""
        (length,) = self._known(self.clip_shape)
        owner = f"{self.name}.predict"
        features = self.features(clip_batch(owner, arrays, length, self.sample_rate))
        if self.standardise_each_series:
            features = each_series_standardised(features)
        return (features - self.mean) / self.std

    def reads_for_prediction(self, path: str | Path) -> bool:
        """Whether :meth:`prediction_inputs` reads ``path`` (an audio file or a folder); the
        recipes' ``.npz`` and ``.csv`` of waveforms are read as every recipe reads them."""
        return is_audio_input(path)

    def prediction_inputs(self, path: str | Path) -> tuple[list[str], list[np.ndarray]]:
        """Names and 16 kHz mono waveforms of the audio file at ``path``, or of every audio file
        in the folder ``path`` (WAV, FLAC, Ogg; any sample rate, any number of channels)."""
        return read_audio_inputs(path, self.sample_rate)

    def labelled_data(self, path: str | Path) -> Pairs:
        """Recordings in class folders, ``path/<class>/*.wav`` (WAV, FLAC, Ogg; any sample
        rate, any number of channels), model-ready, for ``convrec evaluate RUN --data PATH``:
        your own microphone's keywords, or another synthesiser's. Folder names are the run's
        classes (``_unknown_`` and ``_silence_`` included); a class may have no folder.

        Raises:
            InvalidValueError: a folder named after no class of the run.
        """
        folder = list_audio(path)
        labels = self._known(folder.labels)
        strangers = sorted(set(labels) - set(self.classes))
        if strangers:
            raise fail(
                f"{self.name}.evaluate",
                "data",
                f"class folders named after the run's classes ({', '.join(self.classes)})",
                f"{', '.join(map(repr, strangers))} in {path}",
            )
        waveforms = [read_audio(file, self.sample_rate) for file in folder.files]
        targets = torch.tensor([self.classes.index(label) for label in labels])
        return Pairs(self.model_inputs(waveforms), targets)

    def state(self) -> dict[str, Any]:
        return super().state() | {"clip_shape": list(self._known(self.clip_shape))}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.clip_shape = tuple(state["clip_shape"])


class SpecAugmented(Dataset):
    """Training features with SpecAugment's masks, new ones each time an example is drawn: two
    bands of up to a fifth of the features, two of up to a tenth of the frames, set to 0 (the
    mean after standardisation)."""

    def __init__(self, pairs: Pairs) -> None:
        self.pairs, self.targets = pairs, pairs.targets
        frames, features = pairs.inputs.shape[1:]
        self.augment = SpecAugment(2, max(1, features // 5), 2, max(1, frames // 10))

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        features, target = self.pairs[index]  # (T, F)
        return self.augment(features), target


class AfterAnotherClip(Dataset):
    """Training clips each preceded by another training clip, drawn anew each time an example
    is drawn (from the seeded global generator); the label stays the second clip's.

    A recurrent model run on a stream starts every word from the state that what came before
    left, never from zeros: trained on single clips it has never had to forget, and its state
    drifts over a long recording. Here it learns to answer for the last word it heard.

    Args:
        pairs: the training items ``(features (T, F), label)``, with ``targets``.

    Shape:
        item: ``(features (2T, F), label)``.
    """

    def __init__(self, pairs: Dataset) -> None:
        self.pairs, self.targets = pairs, pairs.targets

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        features, target = self.pairs[index]
        before, _ = self.pairs[int(torch.randint(len(self.pairs), ()))]
        return torch.cat([before, features]), target


class StreamingSpokenClassification(SpokenClassification):
    """:class:`SpokenClassification` on uncentred frames (:class:`FramewiseMFCC`): each frame
    from the samples up to its end, no per-clip decibel floor, so that a causal model runs on a
    stream chunk by chunk (``convrec stream``) and the front end exports with the model. Each
    training clip comes after another (:class:`AfterAnotherClip`), as words do in a stream."""

    def build_data(self, seed: int) -> TaskData:
        data = super().build_data(seed)
        data.train = AfterAnotherClip(data.train)
        return data

    def make_front_end(self) -> nn.Module:
        """Uncentred 25 ms frames every 10 ms, 40 Mel bands, decibels against a fixed reference."""
        return FramewiseMFCC(
            self.sample_rate, self.coefficients, hop_length=self.hop_length, n_mels=40, **FRAMES
        )
