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
from convrec.data.audio import MFCC
from convrec.data.audio_files import SUFFIXES, fit_length, list_audio, read_audio
from convrec.data.splits import Pairs
from convrec.errors import InvalidValueError
from convrec.tasks.classification import Classification
from convrec.tasks.dataset import materialised
from convrec.tasks.exported import ExportSpec

FEATURE_BATCH = 256


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


class SpokenClassification(Classification):
    """A clip classifier on 40 MFCCs per 10 ms frame (25 ms windows, 40 Mel bands).

    The features are computed once per split; :meth:`model_inputs` computes them for raw
    waveforms at prediction time, so a trained model takes mono audio sampled at 16 kHz, of any
    length: a clip is padded with zeros or trimmed to its loudest stretch of the training clips'
    length. ``convrec predict RUN PATH`` reads audio files (one, or a folder of them) at any
    sample rate and resamples them (:meth:`prediction_inputs`).
    """

    sample_rate: ClassVar[int] = 16_000
    coefficients: ClassVar[int] = 40
    hop_length: ClassVar[int] = 160
    seconds_per_step: ClassVar[float] = hop_length / sample_rate

    def __init__(self, root: str | None = None, **options: Any) -> None:
        super().__init__(root, **options)
        self.mfcc = MFCC(
            self.sample_rate,
            self.coefficients,
            n_fft=512,
            hop_length=self.hop_length,
            win_length=400,
            n_mels=40,
        )
        self.clip_shape: tuple[int, ...] | None = None

    def features(self, waveforms: Tensor) -> Tensor:
        """``(N, S)`` waveforms to ``(N, frames, coefficients)`` MFCCs, in batches."""
        return batched_features(self.mfcc, waveforms)

    def inputs_of(self, dataset: Dataset) -> Pairs:
        clips = materialised(dataset)
        self.clip_shape = tuple(clips.inputs.shape[1:])
        return Pairs(self.features(clips.inputs), clips.targets)

    def export_spec(self) -> ExportSpec:
        """Refused: the MFCC front end runs in Python (:meth:`model_inputs`)."""
        raise InvalidValueError(
            f"{self.name}: the audio front end (MFCC) is not in the exported graph yet, so the "
            "model cannot be exported with it; use convrec.load(RUN).predict"
        )

    def model_inputs(self, arrays: Sequence[np.ndarray]) -> Tensor:
        """Raw mono waveforms ``(S_i,)`` at 16 kHz, of any length, to a standardised batch."""
        (length,) = self._known(self.clip_shape)
        owner = f"{self.name}.predict"
        features = self.features(clip_batch(owner, arrays, length, self.sample_rate))
        return (features - self.mean) / self.std

    def reads_for_prediction(self, path: str | Path) -> bool:
        """Whether :meth:`prediction_inputs` reads ``path`` (an audio file or a folder); the
        recipes' ``.npz`` and ``.csv`` of waveforms are read as every recipe reads them."""
        path = Path(path)
        return path.is_dir() or path.suffix.lower() in SUFFIXES

    def prediction_inputs(self, path: str | Path) -> tuple[list[str], list[np.ndarray]]:
        """Names and 16 kHz mono waveforms of the audio file at ``path``, or of every audio file
        in the folder ``path`` (WAV, FLAC, Ogg; any sample rate, any number of channels)."""
        folder = list_audio(path, labelled=False)
        return folder.names(), [read_audio(file, self.sample_rate) for file in folder.files]

    def state(self) -> dict[str, Any]:
        return super().state() | {"clip_shape": list(self._known(self.clip_shape))}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.clip_shape = tuple(state["clip_shape"])
