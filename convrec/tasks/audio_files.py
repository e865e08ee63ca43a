"""Your own audio: ``convrec train audio --data FOLDER [--test FOLDER]``.

``FOLDER`` holds one subfolder of clips per class (:mod:`convrec.data.audio_files`: WAV of any
encoding, FLAC and Ogg through ``soundfile``). Every clip is read as one mono waveform (channels
averaged) at ``sample_rate`` (default: the most common rate of the training clips; the others
are resampled), made ``duration`` seconds long (default: as long as the longest training clip)
by appending silence or keeping its loudest stretch, then turned into a ``(frames, features)``
sequence by the keyword recipe's front end, scaled to the sample rate: 25 ms Hann windows every
10 ms, 40 Mel bands, then 40 MFCCs (``front_end='mfcc'``), the bands' decibels
(``'log-mel'``), or 40 MFCCs of uncentred frames (``'framewise-mfcc'``: the front end of a model
that exports with its front end and streams, :mod:`convrec.data.audio.framewise`). The features
are computed once per split and standardised per feature with the training split's statistics;
``spec_augment`` masks random bands of features and frames of a training example each time it
is drawn (SpecAugment, from the seeded global generator).

Clips of one length suit every model (an MLP too) and give every clip the same frames; silence
appended to a short clip is what the STFT pads its ends with anyway. Give ``duration`` where a
few recordings are much longer than the rest: they would make every clip that long.

Everything prediction needs (sample rate, clip length, front-end settings, normalisation) is
saved in the run: ``convrec predict RUN PATH`` takes a clip, or a folder of clips, at any sample
rate and of any length, and ``convrec evaluate RUN --data FOLDER`` a labelled folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from convrec.checks import fail, flag, keyword_names, one_of, positive_float
from convrec.data.audio import MFCC, AmplitudeToDB, MelSpectrogram, frame_count
from convrec.data.audio.framewise import FramewiseMFCC
from convrec.data.audio_files import at_rate, list_audio, load_audio, most_common_rate, read_audio
from convrec.data.splits import Pairs
from convrec.errors import InvalidTypeError, InvalidValueError
from convrec.tasks.audio import (
    FEATURE_BATCH,
    AfterAnotherClip,
    SpecAugmented,
    batched_features,
    clip_batch,
    waveform_export_spec,
)
from convrec.tasks.base import TaskData, register_task
from convrec.tasks.exported import ExportSpec
from convrec.tasks.files import FileClassification
from convrec.tasks.recipes import SPOKEN_MODELS, Keywords

FRONT_ENDS = ("mfcc", "log-mel", "framewise-mfcc")
WINDOW_SECONDS = 0.025
HOP_SECONDS = 0.010
MEL_BANDS = 40
RATES = (4_000, 384_000)
"""The sample rates accepted, in Hz (telephone speech to studio audio)."""
MAX_DURATION = 3_600.0
"""The longest clip length, in seconds."""
SETTING_LIMITS = {"n_fft": 1 << 16, "hop_length": 1 << 16, "win_length": 1 << 16, "n_mels": 512}
"""Upper bounds on the front-end settings a run's ``model.json`` may hold (untrusted input)."""
FRAMEWISE_FFT = 4096
"""The longest frame of the framewise front end, whose DFT matrix grows as its square."""


def front_end_settings(front_end: str, sample_rate: int) -> dict[str, Any]:
    """The keyword recipe's front end at ``sample_rate``: 25 ms windows every 10 ms, the FFT
    the next power of two, 40 Mel bands and (``'mfcc'``) 40 coefficients.

    Example:
        >>> front_end_settings("mfcc", 16_000)
        {'name': 'mfcc', 'n_fft': 512, 'hop_length': 160, 'win_length': 400, 'n_mels': 40}
    """
    window = round(WINDOW_SECONDS * sample_rate)
    return {
        "name": front_end,
        "n_fft": 1 << (window - 1).bit_length(),
        "hop_length": round(HOP_SECONDS * sample_rate),
        "win_length": window,
        "n_mels": MEL_BANDS,
    }


def build_front_end(settings: dict[str, Any], sample_rate: int) -> nn.Module:
    """The module of :func:`front_end_settings`: waveforms ``(B, S)`` to ``(B, T, 40)``."""
    stft = {key: settings[key] for key in ("n_fft", "hop_length", "win_length", "n_mels")}
    if settings["name"] == "mfcc":
        return MFCC(sample_rate, settings["n_mels"], **stft)
    if settings["name"] == "framewise-mfcc":
        if settings["n_fft"] > FRAMEWISE_FFT:  # its DFT basis holds n_fft * (n_fft + 2) values
            raise fail(
                "audio",
                "front_end",
                f"'framewise-mfcc' with frames of at most {FRAMEWISE_FFT} samples (rates up to "
                "96 kHz), or 'mfcc'",
                f"{settings['n_fft']} samples per frame at {sample_rate} Hz",
            )
        return FramewiseMFCC(sample_rate, settings["n_mels"], **stft)
    return nn.Sequential(MelSpectrogram(sample_rate, **stft), AmplitudeToDB())


@register_task
class AudioFiles(FileClassification):
    """Classification of a user's own audio clips, read from class folders.

    Args:
        data, test, validation: folders of class subfolders (see :class:`FileClassification`).
        sample_rate: the rate, in Hz, every clip is resampled to; default the most common rate
            of the training clips.
        duration: seconds every clip is padded with silence or trimmed to (its loudest
            stretch); default the longest training clip's length.
        front_end: ``'mfcc'`` (40 MFCCs per 10 ms frame), ``'log-mel'`` (40 Mel bands in dB)
            or ``'framewise-mfcc'`` (40 MFCCs of uncentred frames, no per-clip floor: the
            model exports with it and, if causal, streams; ``convrec stream``).
        spec_augment: mask random bands of the training features (SpecAugment).
        after_another_clip: put each training clip after another random training clip, the
            label the second's (:class:`~convrec.tasks.audio.AfterAnotherClip`): for a
            recurrent model that will listen to long recordings (``convrec stream``), whose
            state must learn to forget what came before a sound.
        validation_split, test_split: the fractions held out when no folder is given.

    Shape:
        input of the model: ``(B, frames, 40)``, ``frames = 1 + clip samples // hop``.

    Example:
        >>> AudioFiles(front_end="mel")
        Traceback (most recent call last):
        ...
        convrec.errors.InvalidValueError: audio: invalid value for argument `front_end`: ...
    """

    name = "audio"
    description = "your own audio clips (--data FOLDER of class folders of .wav, .flac, .ogg)"
    default_model = Keywords.default_model
    models: ClassVar[dict[str, dict[str, Any]]] = dict(SPOKEN_MODELS)
    items = "clips"

    def __init__(
        self,
        data: str | None = None,
        test: str | None = None,
        validation: str | None = None,
        sample_rate: int | None = None,
        duration: float | None = None,
        front_end: str = "mfcc",
        spec_augment: bool = False,
        after_another_clip: bool = False,
        validation_split: float = 0.2,
        test_split: float = 0.2,
    ) -> None:
        super().__init__(data, test, validation, validation_split, test_split)
        if sample_rate is not None:
            sample_rate = _checked_rate(self.name, "sample_rate", sample_rate)
        if duration is not None:
            duration = positive_float(self.name, "duration", duration)
            if duration > MAX_DURATION:
                raise fail(self.name, "duration", f"at most {MAX_DURATION:g} seconds", duration)
        spec_augment = flag(self.name, "spec_augment", spec_augment)
        after_another_clip = flag(self.name, "after_another_clip", after_another_clip)
        self.sample_rate, self.duration = sample_rate, duration
        self.front_end = one_of(self.name, "front_end", front_end, FRONT_ENDS)
        self.spec_augment, self.after_another_clip = spec_augment, after_another_clip
        self.clip_length: int | None = None
        self.settings: dict[str, Any] | None = None
        self.transform: nn.Module | None = None

    @classmethod
    def options(cls) -> tuple[str, ...] | None:
        return keyword_names(cls.__init__)

    @property
    def seconds_per_step(self) -> float | None:  # type: ignore[override]
        """Seconds between frames (the hop), once the sample rate is known."""
        if self.settings is None:
            return None
        return self.settings["hop_length"] / self.sample_rate

    def read_labelled(self, path: str | Path, role: str) -> tuple[list[np.ndarray], list[str]]:
        folder = list_audio(path)
        clips = [load_audio(file) for file in folder.files]
        if self.transform is None:  # the training folder sets the layout
            owner = f"{self.name}: the most common rate of {path}"
            self.sample_rate = self.sample_rate or _checked_rate(
                owner, "sample_rate", most_common_rate(clips)
            )
        waveforms = [at_rate(clip, self.sample_rate) for clip in clips]
        if self.transform is None:
            self._set_layout(max(map(len, waveforms)), path)
        return waveforms, folder.labels

    def _set_layout(self, longest: int, path: str | Path) -> None:
        """The clip length and the front end, from the options and the longest training clip."""
        settings = front_end_settings(self.front_end, self.sample_rate)
        framewise = settings["name"] == "framewise-mfcc"  # a frame needs n_fft samples
        window = settings["n_fft" if framewise else "win_length"]
        if self.duration is not None:
            length = round(self.duration * self.sample_rate)
            if length < window:
                expected = f"at least one {window / self.sample_rate * 1000:.3g} ms analysis frame"
                raise fail(self.name, "duration", expected, self.duration)
        elif longest < window:
            raise InvalidValueError(
                f"{self.name}: expected clips of at least one "
                f"{window / self.sample_rate * 1000:.3g} ms analysis frame, got {path} whose "
                f"longest clip lasts {longest / self.sample_rate * 1000:.3g} ms; record longer "
                "clips"
            )
        else:
            length = longest
        if length > round(MAX_DURATION * self.sample_rate):
            raise fail(
                self.name,
                "duration",
                f"clips of at most {MAX_DURATION:g} s (set a shorter duration)",
                f"{length / self.sample_rate:.6g} s",
            )
        self.clip_length, self.settings = length, settings
        self.transform = build_front_end(settings, self.sample_rate)

    def features(self, waveforms: Sequence[np.ndarray], owner: str) -> Tensor:
        """Mono waveforms ``(S_i,)`` at the task's rate to ``(N, frames, features)``, each first
        fitted to the clip length, in batches of :data:`FEATURE_BATCH` clips."""
        parts = [
            batched_features(
                self.transform,
                clip_batch(
                    owner,
                    waveforms[start : start + FEATURE_BATCH],
                    self.clip_length,
                    self.sample_rate,
                    first=start,
                ),
            )
            for start in range(0, len(waveforms), FEATURE_BATCH)
        ]
        return torch.cat(parts)

    def as_pairs(self, inputs: list[np.ndarray], targets: Tensor) -> Pairs:
        return Pairs(self.features(inputs, self.name), targets)

    def build_data(self, seed: int) -> TaskData:
        data = super().build_data(seed)
        if self.spec_augment:
            data.train = SpecAugmented(data.train)
        if self.after_another_clip:
            data.train = AfterAnotherClip(data.train)
        return data

    def splits_info(self) -> dict[str, Any]:
        return {
            "sample_rate": self.sample_rate,
            "duration": self.clip_length / self.sample_rate,
            "front_end": self.front_end,
        }

    def export_spec(self) -> ExportSpec:
        """Raw waveforms in, for the framewise front end (see
        :func:`~convrec.tasks.audio.waveform_export_spec`, which refuses the others)."""
        return waveform_export_spec(self.name, super().export_spec(), self._known(self.transform))

    def model_inputs(self, arrays: Sequence[np.ndarray]) -> Tensor:
        """Raw mono waveforms ``(S_i,)`` at the run's sample rate, of any length, to a
        standardised batch ``(N, frames, features)``."""
        self._known(self.transform)
        features = self.features(list(arrays), f"{self.name}.predict")
        return (features - self.mean) / self.std

    def prediction_inputs(self, path: str | Path) -> tuple[list[str], list[np.ndarray]]:
        """Names and mono waveforms at the run's rate of the clip at ``path``, or of every clip
        in the folder ``path`` (any sample rate, any number of channels)."""
        folder = list_audio(path, labelled=False)
        return folder.names(), [read_audio(file, self.sample_rate) for file in folder.files]

    def state(self) -> dict[str, Any]:
        return super().state() | {
            "sample_rate": self.sample_rate,
            "clip_length": self._known(self.clip_length),
            "front_end": self._known(self.settings),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        owner = f"{self.name} run's task_state"
        sample_rate = _checked_rate(owner, "sample_rate", state["sample_rate"])
        settings = dict(state["front_end"])
        one_of(owner, "front_end.name", settings["name"], FRONT_ENDS)
        for key, limit in SETTING_LIMITS.items():
            value = settings[key]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit:
                raise fail(owner, f"front_end.{key}", f"an integer in [1, {limit}]", value)
        length = state["clip_length"]
        longest = round(MAX_DURATION * sample_rate)
        if isinstance(length, bool) or not isinstance(length, int) or not 0 < length <= longest:
            raise fail(owner, "clip_length", f"an integer in [1, {longest}]", length)
        centred = settings["name"] != "framewise-mfcc"
        frames = frame_count(length, settings["n_fft"], settings["hop_length"], centred)
        if tuple(self.input_shape) != (frames, settings["n_mels"]):
            raise fail(
                owner,
                "shape",
                f"({frames}, {settings['n_mels']}), the frames and features of its front end",
                list(self.input_shape),
            )
        self.sample_rate, self.clip_length, self.settings = sample_rate, length, settings
        self.transform = build_front_end(settings, sample_rate)


def _checked_rate(owner: str, argument: str, value: object) -> int:
    low, high = RATES
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(owner, argument, "a whole number of Hz", repr(value), error=InvalidTypeError)
    if not low <= value <= high:
        raise fail(owner, argument, f"a rate in [{low}, {high}] Hz", value)
    return value
