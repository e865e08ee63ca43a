"""Spoken-word classification: MFCC features (the notes' audio front end) of each clip, then a
classifier over the ``(frames, coefficients)`` sequence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from convrec.checks import fail
from convrec.data.audio import MFCC
from convrec.data.splits import Pairs
from convrec.tasks.classification import Classification
from convrec.tasks.dataset import materialised

FEATURE_BATCH = 256


class SpokenClassification(Classification):
    """A clip classifier on 40 MFCCs per 10 ms frame (25 ms windows, 40 Mel bands).

    The features are computed once per split; :meth:`model_inputs` computes them for raw
    waveforms at prediction time, so a trained model takes audio sampled at 16 kHz.
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

    @torch.no_grad()
    def features(self, waveforms: Tensor) -> Tensor:
        """``(N, S)`` waveforms to ``(N, frames, coefficients)`` MFCCs, in batches."""
        return torch.cat([self.mfcc(chunk) for chunk in waveforms.split(FEATURE_BATCH)])

    def inputs_of(self, dataset: Dataset) -> Pairs:
        clips = materialised(dataset)
        self.clip_shape = tuple(clips.inputs.shape[1:])
        return Pairs(self.features(clips.inputs), clips.targets)

    def model_inputs(self, arrays: Sequence[np.ndarray]) -> Tensor:
        """Raw waveforms ``(S,)`` at 16 kHz, of the training clips' length, to a batch."""
        self._known(self.clip_shape)
        features = self.features(
            torch.stack([self._waveform(index, array) for index, array in enumerate(arrays)])
        )
        return (features - self.mean) / self.std

    def _waveform(self, index: int, array: np.ndarray) -> Tensor:
        waveform = torch.as_tensor(np.asarray(array, dtype=np.float32))
        if tuple(waveform.shape) != self.clip_shape or not torch.isfinite(waveform).all():
            raise fail(
                f"{self.name}.predict",
                f"input {index}",
                f"a finite waveform of shape {self.clip_shape} at {self.sample_rate} Hz",
                f"shape {tuple(waveform.shape)}",
            )
        return waveform

    def state(self) -> dict[str, Any]:
        return super().state() | {"clip_shape": list(self._known(self.clip_shape))}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.clip_shape = tuple(state["clip_shape"])
