"""Spoken digit strings synthesised offline with espeak-ng: "four one nine two" as one utterance,
its digits the target, for recognising sequences of words with CTC.

Each recording: one voice of the split at a random speed and pitch says 3 to 7 random digits
in one espeak-ng call (so the words run into each other as connected speech does), with a random
stretch of noise before and after; the speech scaled to a random level over white, pink or
brown noise at a random SNR, as the keyword clips are (:mod:`convrec.data.keywords`). The
splits draw from disjoint voices, so test voices are never heard in training. Builds are seeded
and cached like the keyword sets'.

Recordings vary in length: ``(S_i,)`` float32 in [-1, 1] at 16 kHz, about 1 to 5 seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from convrec.checks import one_of, positive_int
from convrec.data import speech
from convrec.data.datasets import SYNTHESISED, register_dataset
from convrec.data.keywords import (
    INT16_SCALE,
    LEVEL_DB,
    SpokenDataset,
    checked_range,
    common_parameters,
    noise_per_clip,
    to_int16,
    voice_disjoint_splits,
)
from convrec.data.speech import SAMPLE_RATE, SPLITS, Utterance, mix
from convrec.data.splits import Splits

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DEFAULT_SIZES = {"train": 3000, "validation": 300, "test": 300}
MARGIN_SECONDS = (0.1, 0.4)  # noise alone before and after the speech, drawn for each end


class SpokenDigitStrings(SpokenDataset):
    """Recordings of a voice saying a string of digits over noise; the target is the digits.

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"``; their voices are disjoint.
        size: recordings (default: 3000 for train, 300 otherwise).
        digits_per_recording: ``(low, high)``, inclusive, digits per recording, each drawn
            uniformly from 0-9.
        seed: the seed of every random draw; the same seed gives identical arrays.
        voices: the voice pool the splits are cut from (default: 7 accents x 12 variants).
        snr_db: ``(low, high)`` signal-to-noise ratio in dB.
        workers: parallel espeak-ng calls (default: one per CPU core); does not change the data.

    Attributes:
        samples: int16, every recording one after another; recording ``i`` is
            ``samples[offsets[i]:offsets[i + 1]]``.
        offsets: int64 ``(N + 1,)``.
        digits: int64, every recording's digits one after another, cut by ``digit_offsets``
            ``(N + 1,)``.
        speakers: int64 ``(N,)``, indices into ``voices``.

    Shape:
        item: ``(waveform float32 (S_i,), digits int64 (L_i,))`` with values 0-9.

    Example:
        >>> SpokenDigitStrings(digits_per_recording=(0, 3))
        Traceback (most recent call last):
        ...
        convrec.errors.InvalidValueError: SpokenDigitStrings: ... `digits_per_recording`: ...
    """

    classes = DIGIT_WORDS

    def __init__(
        self,
        split: str = "train",
        size: int | None = None,
        digits_per_recording: tuple[int, int] = (3, 7),
        seed: int = 0,
        voices: Sequence[str] | None = None,
        snr_db: tuple[float, float] = (5.0, 25.0),
        workers: int | None = None,
    ) -> None:
        owner = type(self).__name__
        self.split = one_of(owner, "split", split, SPLITS)
        size = positive_int(owner, "size", DEFAULT_SIZES[split] if size is None else size)
        counts = checked_range(owner, "digits_per_recording", digits_per_recording, integer=True)
        pool = speech.check_voices(owner, speech.default_voices() if voices is None else voices)
        self.voices = speech.split_voices(owner, pool, split)
        parameters = {
            "dataset": owner,
            **common_parameters(owner, split, seed, pool, snr_db, workers),
            "size": size,
            "digits_per_recording": counts,
            "margin_seconds": MARGIN_SECONDS,
        }
        self._load_or_build(
            parameters,
            lambda rng: _build_digit_strings(rng, size, counts, self.voices, snr_db, workers),
        )

    def __len__(self) -> int:
        return len(self.speakers)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """Recording ``index`` as ``(waveform float32 (S,), digits int64 (L,))``."""
        index = range(len(self))[index]  # negative indices count from the end; IndexError past it
        start, stop = self.offsets[index], self.offsets[index + 1]
        waveform = self.samples[start:stop].astype(np.float32) / INT16_SCALE
        first, last = self.digit_offsets[index], self.digit_offsets[index + 1]
        return torch.from_numpy(waveform), torch.from_numpy(self.digits[first:last].copy())

    def text(self, index: int) -> str:
        """What recording ``index`` says, e.g. ``'four one nine two'``."""
        index = range(len(self))[index]
        first, last = self.digit_offsets[index], self.digit_offsets[index + 1]
        return " ".join(DIGIT_WORDS[digit] for digit in self.digits[first:last])


@register_dataset(
    "digit-strings",
    SYNTHESISED,
    "espeak-ng recordings of 3-7 spoken digits, the digits as target; voice-disjoint splits",
)
def digit_strings(root: str | Path | None = None, seed: int = 0, **options: Any) -> Splits:
    """The three :class:`SpokenDigitStrings` splits, for the dataset registry.

    Args:
        root: must be ``None``: the recordings are synthesised, not read from a folder.
        seed: the seed of every split.
        options: :class:`SpokenDigitStrings`'s other arguments, the same for every split.
    """
    return voice_disjoint_splits(
        "digit-strings", SpokenDigitStrings, root, seed, options, variable_length=True
    )


def _build_digit_strings(
    rng: np.random.Generator,
    size: int,
    digits_per_recording: list[int],
    voices: tuple[str, ...],
    snr_db: tuple[float, float],
    workers: int | None,
) -> dict[str, np.ndarray]:
    """Draw, synthesise and mix the recordings of :class:`SpokenDigitStrings`.

    Shape:
        returns ``samples`` int16 ``(sum S_i,)``, ``offsets`` int64 ``(size + 1,)``, ``digits``
        int64 ``(sum L_i,)``, ``digit_offsets`` int64 ``(size + 1,)``, ``speakers`` int64
        ``(size,)``.
    """
    speakers = rng.integers(len(voices), size=size)
    speeds = rng.choice(speech.SPEEDS, size=size)
    pitches = rng.choice(speech.PITCHES, size=size)
    counts = rng.integers(digits_per_recording[0], digits_per_recording[1] + 1, size=size)
    digits = rng.integers(10, size=int(counts.sum()))
    digit_offsets = np.concatenate([[0], np.cumsum(counts)])
    margins = np.round(rng.uniform(*MARGIN_SECONDS, size=(size, 2)) * SAMPLE_RATE).astype(int)
    levels = rng.uniform(*LEVEL_DB, size=size)
    snrs = rng.uniform(*snr_db, size=size)
    noise = noise_per_clip(rng, size)
    utterances = [
        Utterance(
            " ".join(DIGIT_WORDS[digit] for digit in digits[first:last]),
            voices[speaker],
            int(speed),
            int(pitch),
        )
        for first, last, speaker, speed, pitch in zip(
            digit_offsets[:-1], digit_offsets[1:], speakers, speeds, pitches, strict=True
        )
    ]
    audio = speech.synthesize_all(utterances, workers)
    recordings = []
    for index, utterance in enumerate(utterances):
        said = audio[utterance]
        before, after = margins[index]
        length = before + len(said) + after
        recording = mix(length, [(before, said)], noise(index, length), levels[index], snrs[index])
        recordings.append(to_int16(recording))
    offsets = np.concatenate([[0], np.cumsum([len(item) for item in recordings])])
    return {
        "samples": np.concatenate(recordings),
        "offsets": offsets.astype(np.int64),
        "digits": digits.astype(np.int64),
        "digit_offsets": digit_offsets.astype(np.int64),
        "speakers": speakers.astype(np.int64),
    }
