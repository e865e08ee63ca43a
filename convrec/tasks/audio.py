"""Spoken-word classification: MFCC features (the notes' audio front end) of each clip, then a
classifier over the ``(frames, coefficients)`` sequence."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from convrec.checks import fail, flag
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
        perturb_voices: stretch, tilt and band-limit the training clips' Mel bands
            (:class:`VoicePerturbed`), so that other voices and channels are heard in training.
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
        perturb_voices: bool = False,
        standardise_each_clip: bool = False,
        **dataset_options: Any,
    ) -> None:
        super().__init__(root, labels_per_class, **dataset_options)
        spec_augment = flag(self.name, "spec_augment", spec_augment)
        perturb_voices = flag(self.name, "perturb_voices", perturb_voices)
        standardise_each_clip = flag(self.name, "standardise_each_clip", standardise_each_clip)
        if perturb_voices and standardise_each_clip:
            raise fail(
                self.name,
                "perturb_voices",
                "false with standardise_each_clip (the clip's own scaling is not undone)",
                "true",
            )
        self.spec_augment, self.perturb_voices = spec_augment, perturb_voices
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
        if self.perturb_voices:
            mean, std = self._known(self.mean), self._known(self.std)
            data.train = VoicePerturbed(data.train, self.front_end.dct, mean, std)
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
        labels = folder.labels or []  # class folders: every file has one
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


def perturb_voice(log_mel: Tensor, factor: float, tilt_db: float, cutoff: int | None) -> Tensor:
    """Frames of a log-Mel spectrogram ``(T, M)`` as another voice through another channel
    might give them: the frequency axis stretched by ``factor`` (band ``i`` takes the value at
    ``i / factor``, linearly interpolated, the top band held beyond: above 1 the formants move
    up, as a shorter vocal tract moves them; Jaitly and Hinton's vocal tract length
    perturbation, on Mel bands), a spectral tilt of ``tilt_db`` decibels from the lowest band
    to the highest, and, for a ``cutoff`` band, every band from it on at each frame's floor (a
    band-limited channel).

    Example:
        >>> frames = torch.tensor([[0.0, 10.0, 20.0, 30.0]])
        >>> perturb_voice(frames, 2.0, 0.0, None).tolist()
        [[0.0, 5.0, 10.0, 15.0]]
        >>> perturb_voice(frames, 1.0, 6.0, 3).tolist()
        [[-3.0, 9.0, 21.0, -3.0]]
    """
    bands = log_mel.shape[-1]
    source = (torch.arange(bands, dtype=log_mel.dtype) / factor).clamp(max=bands - 1)
    low = source.floor().long()
    high = (low + 1).clamp(max=bands - 1)
    weight = source - low
    warped = log_mel[..., low] * (1 - weight) + log_mel[..., high] * weight
    warped = warped + tilt_db * (torch.arange(bands, dtype=log_mel.dtype) / (bands - 1) - 0.5)
    if cutoff is not None:
        floor = warped.min(dim=-1, keepdim=True).values
        warped[..., cutoff:] = floor
    return warped


class VoicePerturbed(Dataset):
    """Training clips as other voices through other channels, drawn anew each time a clip is
    drawn (from the seeded global generator): each clip's standardised MFCCs ``(T, C)`` go back
    to log-Mel bands (the DCT basis is orthonormal and square), through :func:`perturb_voice`
    with a stretch drawn log-uniformly from ``FACTORS``, a tilt uniformly from ``TILT_DB`` and,
    one time in ``1 / BAND_LIMITED``, a cutoff in the top ``BAND_LIMITED_TOP`` of the bands,
    and back.

    Args:
        pairs: the training items ``(features (T, C), label)``, standardised.
        basis: the front end's DCT basis ``(M, C)`` with ``M == C``.
        mean, std: the training set's scaling of the coefficients ``(C,)``.
    """

    FACTORS = (0.85, 1.15)
    TILT_DB = (-12.0, 12.0)
    BAND_LIMITED = 0.3
    BAND_LIMITED_TOP = 0.3

    def __init__(self, pairs: Pairs, basis: Tensor, mean: Tensor, std: Tensor) -> None:
        if basis.shape[0] != basis.shape[1]:
            raise fail(
                "VoicePerturbed",
                "basis",
                "a square DCT basis (as many coefficients as Mel bands)",
                f"shape {tuple(basis.shape)}",
            )
        self.pairs, self.targets = pairs, pairs.targets
        self.inputs = pairs.inputs  # unperturbed, for their shape (SpecAugmented reads it)
        self.basis, self.mean, self.std = basis.float(), mean.float(), std.float()

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        features, target = self.pairs[index]  # (T, C)
        draws = torch.rand(4)
        low, high = (math.log(bound) for bound in self.FACTORS)
        factor = math.exp(low + (high - low) * float(draws[0]))
        tilt = self.TILT_DB[0] + (self.TILT_DB[1] - self.TILT_DB[0]) * float(draws[1])
        bands = self.basis.shape[0]
        cutoff = None
        if float(draws[2]) < self.BAND_LIMITED:
            top = max(1, round(self.BAND_LIMITED_TOP * bands))
            cutoff = bands - 1 - int(float(draws[3]) * top)
        log_mel = (features * self.std + self.mean) @ self.basis.T
        perturbed = perturb_voice(log_mel, factor, tilt, cutoff) @ self.basis
        return (perturbed - self.mean) / self.std, target


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
