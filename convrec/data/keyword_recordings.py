"""Long recordings for keyword spotting on a stream: a minute of noise with keywords and other
words said at random times, and where each word is.

Each recording: one voice of the split (test voices are never heard in training), words drawn
half from the keywords and half from the other words, each at a random speed and pitch, placed
in random order at random times at least ``MIN_GAP`` seconds apart, over white, pink or brown
noise at one random speech level and signal-to-noise ratio (:func:`~convrec.data.speech.mix`).
Built and cached as :class:`~convrec.data.keywords.KeywordSpotting` is: a pure function of its
parameters and the seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from convrec.checks import fail, one_of, positive_float, positive_int
from convrec.data import speech
from convrec.data.keywords import (
    INT16_SCALE,
    LEVEL_DB,
    SPEECH_COMMANDS_AUXILIARY,
    SPEECH_COMMANDS_KEYWORDS,
    SpokenDataset,
    common_parameters,
    noise_per_clip,
    to_int16,
)
from convrec.data.speech import SAMPLE_RATE, SPLITS, Utterance, mix

MIN_GAP = 0.5  # seconds of noise at least between two words
DEFAULT_RECORDINGS = {"train": 20, "validation": 10, "test": 20}


class KeywordRecordings(SpokenDataset):
    """Recordings of ``seconds`` seconds with ``words_per_minute`` words said at random times,
    half of them keywords (see the module docstring).

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"``; the voices of
            :class:`~convrec.data.keywords.KeywordSpotting`'s split of that name.
        recordings: how many (default: 20 for train and test, 10 for validation).
        seconds: length of each recording, at least 10.
        words_per_minute: words said per minute of recording.
        keywords, unknown_words, seed, voices, snr_db, workers: as
            :class:`~convrec.data.keywords.KeywordSpotting`.

    Attributes:
        events: int64 ``(E, 4)``: recording, class (an index into ``classes``), first sample and
            the sample after the last, one row per word said, sorted by recording and time.

    Shape:
        item: ``(waveform float32 (seconds * 16000,), events of that recording int64 (e, 3))``,
        each event ``(class, start, stop)``.
    """

    def __init__(
        self,
        split: str = "test",
        recordings: int | None = None,
        seconds: float = 60.0,
        words_per_minute: float = 20.0,
        keywords: Sequence[str] = SPEECH_COMMANDS_KEYWORDS,
        unknown_words: Sequence[str] = SPEECH_COMMANDS_AUXILIARY,
        seed: int = 0,
        voices: Sequence[str] | None = None,
        snr_db: tuple[float, float] = (5.0, 25.0),
        workers: int | None = None,
    ) -> None:
        owner = type(self).__name__
        self.split = one_of(owner, "split", split, SPLITS)
        count = DEFAULT_RECORDINGS[split] if recordings is None else recordings
        count = positive_int(owner, "recordings", count)
        seconds = positive_float(owner, "seconds", seconds)
        if seconds < 10:
            raise fail(owner, "seconds", "at least 10", repr(seconds))
        rate = positive_float(owner, "words_per_minute", words_per_minute)
        words = max(1, round(rate * seconds / 60))
        length = round(seconds * SAMPLE_RATE)
        if words * (1.0 + MIN_GAP) + MIN_GAP > seconds:  # a word lasts up to 1 s
            raise fail(
                owner, "words_per_minute", f"fewer words than fit in {seconds:g} s", repr(rate)
            )
        keywords, unknown_words, pool = self._words_and_voices(keywords, unknown_words, voices)
        self.seconds = seconds
        parameters = {
            "dataset": owner,
            **common_parameters(owner, split, seed, pool, snr_db, workers),
            "keywords": keywords,
            "unknown_words": unknown_words,
            "recordings": count,
            "length": length,
            "words": words,
            "min_gap": MIN_GAP,
        }
        self._load_or_build(
            parameters,
            lambda rng: _build_recordings(
                rng, count, length, words, keywords, unknown_words, self.voices, snr_db, workers
            ),
        )

    def __len__(self) -> int:
        return len(self.waveforms)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """Recording ``index`` and its events ``(class, start, stop)``."""
        waveform = torch.from_numpy(self.waveforms[index].astype(np.float32) / INT16_SCALE)
        return waveform, torch.from_numpy(self.events[self.events[:, 0] == index, 1:])


def _build_recordings(
    rng: np.random.Generator,
    count: int,
    length: int,
    words: int,
    keywords: tuple[str, ...],
    unknown_words: tuple[str, ...],
    voices: tuple[str, ...],
    snr_db: tuple[float, float],
    workers: int | None,
) -> dict[str, np.ndarray]:
    """Draw, synthesise and mix the recordings of :class:`KeywordRecordings`.

    Shape:
        returns ``waveforms`` int16 ``(count, length)``, ``events`` int64 ``(count * words, 4)``.
    """
    unknown = len(keywords)
    speakers = rng.integers(len(voices), size=count)
    levels = rng.uniform(*LEVEL_DB, size=count)
    snrs = rng.uniform(*snr_db, size=count)
    noise = noise_per_clip(rng, count)
    plans = []
    for speaker in speakers:
        labels = rng.permutation(np.arange(words) % 2 * unknown)  # keywords and unknowns by half
        labels[labels == 0] = rng.integers(unknown, size=int(np.sum(labels == 0)))
        said = [
            Utterance(
                keywords[label]
                if label < unknown
                else unknown_words[rng.integers(len(unknown_words))],
                voices[speaker],
                int(rng.choice(speech.SPEEDS)),
                int(rng.choice(speech.PITCHES)),
            )
            for label in labels
        ]
        plans.append((labels, said))
    audio = speech.synthesize_all((item for _, said in plans for item in said), workers)
    waveforms = np.empty((count, length), np.int16)
    events = []
    gap = round(MIN_GAP * SAMPLE_RATE)
    for index, (labels, said) in enumerate(plans):
        samples = [audio[item][:SAMPLE_RATE] for item in said]
        free = length - sum(map(len, samples)) - gap * (len(samples) + 1)
        gaps = gap + np.floor(rng.dirichlet(np.ones(len(samples) + 1)) * free).astype(np.int64)
        starts = np.cumsum(gaps[:-1]) + np.cumsum([0, *map(len, samples[:-1])])
        stops = starts + np.array([len(item) for item in samples])
        events += [
            (index, int(label), int(start), int(stop))
            for label, start, stop in zip(labels, starts, stops, strict=True)
        ]
        placed = list(zip(starts.tolist(), samples, strict=True))
        waveforms[index] = to_int16(
            mix(length, placed, noise(index, length), levels[index], snrs[index])
        )
    return {"waveforms": waveforms, "events": np.array(events, np.int64).reshape(-1, 4)}
