"""Spoken-keyword datasets synthesised offline with espeak-ng: keyword spotting and the notes'
"does this recording contain 'welcome'?" detection.

Every clip is built the same way: words from one voice (:mod:`convrec.data.speech`), each at a
random position, scaled to a random speech level (RMS over the words' samples, ``LEVEL_DB``),
over white, pink or brown noise at a random signal-to-noise ratio. The splits ``train``,
``validation`` and ``test`` draw from disjoint voices (:func:`~convrec.data.speech.voice_split`),
so test voices are never heard in training.

A build is a pure function of its parameters and the seed: every random draw comes from one
``numpy.random.Generator`` seeded with ``(seed, split)``, and espeak-ng is deterministic. The
built split is cached as int16 in ``<data dir>/keywords/<hash of the parameters>.npz`` (written
atomically); a second construction with the same parameters loads it without espeak-ng.

Waveforms are float32 in [-1, 1] at 16 kHz: ``(16000,)`` per keyword clip, ``(T,)`` with
``T = duration * 16000`` per detection recording.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from convrec.checks import fail, non_negative_int, one_of, positive_float, positive_int
from convrec.data import speech
from convrec.data.datasets import SYNTHESISED, register_dataset
from convrec.data.speech import NOISE_EXPONENTS, SAMPLE_RATE, SPLITS, Utterance, mix
from convrec.data.splits import Splits
from convrec.data.store import source_dir
from convrec.files import atomic_write

FORMAT = 1  # bump when a build changes for the same parameters, so old caches are not reused
SPEECH_COMMANDS_KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SPEECH_COMMANDS_AUXILIARY = (
    *("bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow"),
    *("backward", "forward", "follow", "learn", "visual"),
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
)
# Speech Commands words plus near misses that share a syllable with "welcome".
WELCOME_DISTRACTORS = (
    *SPEECH_COMMANDS_KEYWORDS,
    *SPEECH_COMMANDS_AUXILIARY,
    *("well", "come", "become", "welfare", "outcome"),
)
UNKNOWN = "_unknown_"
SILENCE = "_silence_"
LEVEL_DB = (-30.0, -15.0)  # speech RMS in dB full scale
INT16_SCALE = 32767.0
DEFAULT_CLIPS_PER_CLASS = {"train": 600, "validation": 50, "test": 50}
DEFAULT_RECORDINGS = {"train": 1000, "validation": 200, "test": 200}


def to_int16(waveform: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to int16 (the cache's format); ``waveform / 32767`` undoes it."""
    return np.round(waveform * INT16_SCALE).astype(np.int16)


class SpokenDataset(Dataset):
    """Base of the synthesised datasets: int16 waveforms, integer labels, the split's voices.

    Attributes:
        waveforms: int16 ``(N, T)``; items come out as float32 ``waveform / 32767``.
        labels: int64 ``(N,)``, indices into ``classes``.
        speakers: int64 ``(N,)``, indices into ``voices`` (-1 for a clip without speech).
        voices: this split's voices.
        sample_rate: 16,000 Hz.
        cache_path: the ``.npz`` holding the built split.
        parameters: the build parameters the cache file name hashes.
        espeak_version: the espeak-ng that synthesised the split.
    """

    classes: tuple[str, ...]
    sample_rate: int = SAMPLE_RATE

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        """The clip ``index`` as ``(waveform float32 (T,), label)``."""
        waveform = self.waveforms[index].astype(np.float32) / INT16_SCALE
        return torch.from_numpy(waveform), int(self.labels[index])

    def _words_and_voices(
        self,
        keywords: Sequence[str],
        unknown_words: Sequence[str],
        voices: Sequence[str] | None,
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """Check the keywords, the other words and the voice pool; set ``voices`` (this split's)
        and ``classes``; return the words and the pool."""
        owner = type(self).__name__
        keywords = speech.check_words(owner, "keywords", keywords)
        unknown_words = speech.check_words(owner, "unknown_words", unknown_words)
        _disjoint(owner, "unknown_words", unknown_words, "keywords", keywords)
        pool = speech.check_voices(owner, speech.default_voices() if voices is None else voices)
        self.voices = speech.split_voices(owner, pool, self.split)
        self.classes = (*keywords, UNKNOWN, SILENCE)
        return keywords, unknown_words, pool

    def _load_or_build(
        self, parameters: dict, build: Callable[[np.random.Generator], dict[str, np.ndarray]]
    ) -> None:
        """Load the split from its cache, or ``build(rng)`` it, cache it and keep it."""
        text = json.dumps(parameters, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:20]
        self.cache_path = source_dir("keywords") / f"{digest}.npz"
        arrays = self._cached(installed := speech.installed_espeak_version())
        if arrays is None:
            speech.check_installed(type(self).__name__, parameters["voices"])
            rng = np.random.default_rng([parameters["seed"], SPLITS.index(parameters["split"])])
            arrays = build(rng)
            arrays.update(parameters=np.array(text), espeak_version=np.array(installed))
            atomic_write(self.cache_path, lambda file: np.savez(file, **arrays))
        self.parameters = json.loads(str(arrays.pop("parameters")))
        self.espeak_version = str(arrays.pop("espeak_version"))
        for name, array in arrays.items():
            setattr(self, name, array)

    def _cached(self, installed: str | None) -> dict[str, np.ndarray] | None:
        """The cached split's arrays; None if there is none, or if it was synthesised by another
        espeak-ng than the one installed (its voices may differ: the split is built again, with
        a warning). Without espeak-ng the cache is used as it is."""
        if not self.cache_path.exists():
            return None
        with np.load(self.cache_path) as archive:
            arrays = {name: archive[name] for name in archive.files}
        recorded = str(arrays["espeak_version"])
        if installed is not None and recorded != installed:
            warnings.warn(
                f"{self.cache_path} was synthesised by {recorded!r}; this machine has "
                f"{installed!r}, so the split is synthesised again and the cache replaced",
                UserWarning,
                stacklevel=4,
            )
            return None
        return arrays


class KeywordSpotting(SpokenDataset):
    """One-second clips of keywords, other words (``_unknown_``) and noise alone
    (``_silence_``), in equal numbers per class.

    Each clip: a random voice of the split, speed (``speech.SPEEDS``) and pitch
    (``speech.PITCHES``); the word at a random offset in the clip; speech level in ``LEVEL_DB``,
    white, pink or brown noise at an SNR drawn uniformly from ``snr_db``.

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"``; their voices are disjoint.
        keywords: the words to spot, classes ``0..K-1`` in this order (default: the ten Speech
            Commands words).
        unknown_words: words drawn uniformly for class ``K`` (``_unknown_``); none may be a
            keyword (default: the Speech Commands auxiliary words and digits).
        clips_per_class: clips of each class (default: 600 for train, 50 otherwise).
        seed: the seed of every random draw; the same seed gives identical arrays.
        voices: the voice pool the splits are cut from (default: 7 accents x 12 variants).
        snr_db: ``(low, high)`` signal-to-noise ratio in dB.
        workers: parallel espeak-ng calls (default: one per CPU core); does not change the data.

    Shape:
        item: ``(waveform float32 (16000,), label int)``; ``classes`` is
        ``(*keywords, "_unknown_", "_silence_")``.

    Example:
        >>> KeywordSpotting(split="dev")
        Traceback (most recent call last):
        ...
        convrec.errors.InvalidValueError: KeywordSpotting: invalid value for argument `split`: ...
    """

    def __init__(
        self,
        split: str = "train",
        keywords: Sequence[str] = SPEECH_COMMANDS_KEYWORDS,
        unknown_words: Sequence[str] = SPEECH_COMMANDS_AUXILIARY,
        clips_per_class: int | None = None,
        seed: int = 0,
        voices: Sequence[str] | None = None,
        snr_db: tuple[float, float] = (5.0, 25.0),
        workers: int | None = None,
    ) -> None:
        owner = type(self).__name__
        self.split = one_of(owner, "split", split, SPLITS)
        clips = DEFAULT_CLIPS_PER_CLASS[split] if clips_per_class is None else clips_per_class
        clips = positive_int(owner, "clips_per_class", clips)
        keywords, unknown_words, pool = self._words_and_voices(keywords, unknown_words, voices)
        parameters = {
            "dataset": owner,
            **common_parameters(owner, split, seed, pool, snr_db, workers),
            "keywords": keywords,
            "unknown_words": unknown_words,
            "clips_per_class": clips,
            "length": SAMPLE_RATE,
        }
        self._load_or_build(
            parameters,
            lambda rng: _build_keywords(
                rng, keywords, unknown_words, clips, self.voices, snr_db, workers
            ),
        )


class WelcomeDetection(SpokenDataset):
    """The notes' detection task: recordings of a few words over noise, half of them holding
    ``keyword`` ("welcome") at a random position; label 1 if it is there.

    A recording is one voice (speed and pitch fixed for it) saying ``words_per_recording`` words
    in random order at random, non-overlapping positions: distractors only, or the keyword and
    one distractor fewer. Words that do not fit in ``duration`` are dropped, distractors first.

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"``; their voices are disjoint.
        size: recordings (default: 1000 for train, 200 otherwise); ``size // 2`` hold the keyword.
        duration: seconds per recording, at least 1.
        keyword: the word to detect.
        distractors: the other words (default: Speech Commands words and near misses such as
            "well" and "become"); the keyword may not be one of them.
        words_per_recording: ``(low, high)``, inclusive, words per recording.
        seed: the seed of every random draw; the same seed gives identical arrays.
        voices: the voice pool the splits are cut from (default: 7 accents x 12 variants).
        snr_db: ``(low, high)`` signal-to-noise ratio in dB.
        workers: parallel espeak-ng calls (default: one per CPU core); does not change the data.

    Attributes:
        positions: int64 ``(N, 2)``, the keyword's ``[start, stop)`` sample, ``-1`` when absent.

    Shape:
        item: ``(waveform float32 (duration * 16000,), label int)``; ``classes`` is
        ``("absent", "present")``.

    Example:
        >>> WelcomeDetection(distractors=["well", "welcome"])
        Traceback (most recent call last):
        ...
        convrec.errors.InvalidValueError: WelcomeDetection: ... argument `distractors`: ...
    """

    classes = ("absent", "present")

    def __init__(
        self,
        split: str = "train",
        size: int | None = None,
        duration: float = 3.0,
        keyword: str = "welcome",
        distractors: Sequence[str] = WELCOME_DISTRACTORS,
        words_per_recording: tuple[int, int] = (1, 3),
        seed: int = 0,
        voices: Sequence[str] | None = None,
        snr_db: tuple[float, float] = (5.0, 25.0),
        workers: int | None = None,
    ) -> None:
        owner = type(self).__name__
        self.split = one_of(owner, "split", split, SPLITS)
        size = positive_int(owner, "size", DEFAULT_RECORDINGS[split] if size is None else size)
        duration = positive_float(owner, "duration", duration)
        if duration < 1:
            raise fail(owner, "duration", "at least 1 second", repr(duration))
        (keyword,) = speech.check_words(owner, "keyword", [keyword])
        distractors = speech.check_words(owner, "distractors", distractors)
        _disjoint(owner, "distractors", distractors, "keyword", (keyword,))
        counts = checked_range(owner, "words_per_recording", words_per_recording, integer=True)
        pool = speech.check_voices(owner, speech.default_voices() if voices is None else voices)
        self.voices = speech.split_voices(owner, pool, split)
        parameters = {
            "dataset": owner,
            **common_parameters(owner, split, seed, pool, snr_db, workers),
            "size": size,
            "length": round(duration * SAMPLE_RATE),
            "keyword": keyword,
            "distractors": distractors,
            "words_per_recording": counts,
        }
        self._load_or_build(
            parameters,
            lambda rng: _build_detection(
                rng,
                parameters["length"],
                size,
                keyword,
                distractors,
                counts,
                self.voices,
                snr_db,
                workers,
            ),
        )


@register_dataset(
    "keywords",
    SYNTHESISED,
    "spoken keywords by espeak-ng: 10 words, unknown, silence; voice-disjoint splits",
)
def keyword_spotting(root: str | Path | None = None, seed: int = 0, **options: Any) -> Splits:
    """The three :class:`KeywordSpotting` splits, for the dataset registry.

    Args:
        root: must be ``None``: the clips are synthesised, not read from a folder.
        seed: the seed of every split.
        options: :class:`KeywordSpotting`'s other arguments, the same for every split.
    """
    return voice_disjoint_splits("keywords", KeywordSpotting, root, seed, options)


@register_dataset(
    "welcome", SYNTHESISED, "does a 3 s espeak-ng recording contain 'welcome' (anywhere in it)?"
)
def welcome_detection(root: str | Path | None = None, seed: int = 0, **options: Any) -> Splits:
    """The three :class:`WelcomeDetection` splits, for the dataset registry.

    Args:
        root: must be ``None``: the recordings are synthesised, not read from a folder.
        seed: the seed of every split.
        options: :class:`WelcomeDetection`'s other arguments, the same for every split.
    """
    return voice_disjoint_splits("welcome", WelcomeDetection, root, seed, options)


def voice_disjoint_splits(
    name: str,
    dataset: type[SpokenDataset],
    root: object,
    seed: int,
    options: dict[str, Any],
    variable_length: bool = False,
) -> Splits:
    """The three splits of ``dataset`` built with ``seed`` and ``options``, for the registry."""
    if root is not None:
        raise fail(
            name,
            "root",
            "None (this data is synthesised with espeak-ng and cached in the data directory)",
            repr(root),
        )
    parts = {split: dataset(split, seed=seed, **options) for split in SPLITS}
    info = {"sample_rate": SAMPLE_RATE, "voices": {split: parts[split].voices for split in SPLITS}}
    classes = parts["train"].classes
    return Splits(name, **parts, classes=classes, info=info, variable_length=variable_length)


def _disjoint(
    owner: str, argument: str, words: Sequence[str], other: str, others: Sequence[str]
) -> None:
    shared = [word for word in words if word in others]
    if shared:
        raise fail(
            owner,
            argument,
            f"words that are not in `{other}`",
            f"{', '.join(map(repr, shared))}, also in `{other}`",
            hint="Remove it from one of the two lists.",
        )


def checked_range(owner: str, argument: str, value: object, integer: bool = False) -> list:
    """A ``(low, high)`` pair with ``low <= high``: finite numbers, or positive integers."""
    expected = "a pair (low, high) of " + ("positive integers" if integer else "finite numbers")
    valid = isinstance(value, tuple | list) and len(value) == 2
    if valid and integer:
        valid = all(isinstance(item, int) and not isinstance(item, bool) for item in value)
        valid = valid and value[0] >= 1
    elif valid:
        valid = all(isinstance(item, int | float) and not isinstance(item, bool) for item in value)
        valid = valid and all(math.isfinite(item) for item in value)
    if not valid or value[0] > value[1]:
        raise fail(owner, argument, expected + " with low <= high", repr(value))
    return list(value)


def common_parameters(
    owner: str,
    split: str,
    seed: object,
    voices: tuple[str, ...],
    snr_db: object,
    workers: object,
) -> dict:
    """Check the arguments both datasets share; return the build parameters they fix."""
    if workers is not None:
        positive_int(owner, "workers", workers)
    return {
        "format": FORMAT,
        "split": split,
        "seed": non_negative_int(owner, "seed", seed),
        "voices": voices,
        "snr_db": checked_range(owner, "snr_db", snr_db),
        "level_db": LEVEL_DB,
        "speeds": speech.SPEEDS,
        "pitches": speech.PITCHES,
        "sample_rate": SAMPLE_RATE,
    }


def noise_per_clip(rng: np.random.Generator, count: int) -> Callable[[int, int], np.ndarray]:
    """Draw ``count`` noise colours now; the returned function makes clip ``i``'s noise."""
    exponents = rng.choice(list(NOISE_EXPONENTS.values()), size=count)
    return lambda index, length: speech.colored_noise(rng, length, exponents[index])


def _build_keywords(
    rng: np.random.Generator,
    keywords: tuple[str, ...],
    unknown_words: tuple[str, ...],
    clips_per_class: int,
    voices: tuple[str, ...],
    snr_db: tuple[float, float],
    workers: int | None,
) -> dict[str, np.ndarray]:
    """Draw, synthesise and mix the clips of :class:`KeywordSpotting`, class by class.

    Shape:
        returns ``waveforms`` int16 ``(N, 16000)``, ``labels`` and ``speakers`` int64 ``(N,)``
        with ``N = (len(keywords) + 2) * clips_per_class``.
    """
    unknown, silence = len(keywords), len(keywords) + 1
    labels = np.repeat(np.arange(silence + 1), clips_per_class)
    count = len(labels)
    speakers = rng.integers(len(voices), size=count)
    speeds = rng.choice(speech.SPEEDS, size=count)
    pitches = rng.choice(speech.PITCHES, size=count)
    unknown_picks = rng.integers(len(unknown_words), size=count)
    offsets = rng.random(count)
    levels = rng.uniform(*LEVEL_DB, size=count)
    snrs = rng.uniform(*snr_db, size=count)
    noise = noise_per_clip(rng, count)
    words = [
        keywords[label] if label < unknown else unknown_words[pick]
        for label, pick in zip(labels, unknown_picks, strict=True)
    ]
    utterances = [
        Utterance(word, voices[speaker], int(speed), int(pitch))
        for word, speaker, speed, pitch in zip(words, speakers, speeds, pitches, strict=True)
    ]
    audio = speech.synthesize_all(
        (utterance for label, utterance in zip(labels, utterances, strict=True) if label < silence),
        workers,
    )
    waveforms = np.empty((count, SAMPLE_RATE), np.int16)
    for index, (label, utterance) in enumerate(zip(labels, utterances, strict=True)):
        placed = []
        if label != silence:
            samples = audio[utterance][:SAMPLE_RATE]
            placed = [(int(offsets[index] * (SAMPLE_RATE - len(samples) + 1)), samples)]
        clip = mix(SAMPLE_RATE, placed, noise(index, SAMPLE_RATE), levels[index], snrs[index])
        waveforms[index] = to_int16(clip)
    speakers[labels == silence] = -1
    return {"waveforms": waveforms, "labels": labels, "speakers": speakers}


def _build_detection(
    rng: np.random.Generator,
    length: int,
    size: int,
    keyword: str,
    distractors: tuple[str, ...],
    words_per_recording: list[int],
    voices: tuple[str, ...],
    snr_db: tuple[float, float],
    workers: int | None,
) -> dict[str, np.ndarray]:
    """Draw, synthesise and mix the recordings of :class:`WelcomeDetection`.

    Shape:
        returns ``waveforms`` int16 ``(size, length)``, ``labels`` and ``speakers`` int64
        ``(size,)``, ``positions`` int64 ``(size, 2)``.
    """
    labels = rng.permutation(np.arange(size) < size // 2).astype(np.int64)
    speakers = rng.integers(len(voices), size=size)
    speeds = rng.choice(speech.SPEEDS, size=size)
    pitches = rng.choice(speech.PITCHES, size=size)
    counts = rng.integers(words_per_recording[0], words_per_recording[1] + 1, size=size)
    levels = rng.uniform(*LEVEL_DB, size=size)
    snrs = rng.uniform(*snr_db, size=size)
    noise = noise_per_clip(rng, size)
    recordings = []
    for label, speaker, speed, pitch, words in zip(
        labels, speakers, speeds, pitches, counts, strict=True
    ):
        said = [*rng.choice(distractors, size=words - label), *[keyword] * label]
        order = rng.permutation(len(said))
        voice = voices[speaker]
        recordings.append([Utterance(str(said[i]), voice, int(speed), int(pitch)) for i in order])
    audio = speech.synthesize_all((item for said in recordings for item in said), workers)
    waveforms = np.empty((size, length), np.int16)
    positions = np.full((size, 2), -1, np.int64)
    for index, said in enumerate(recordings):
        while len(said) > 1 and sum(len(audio[item]) for item in said) > length:
            said = _drop_last_distractor(said, keyword)
        samples = [audio[item][:length] for item in said]
        free = length - sum(len(item) for item in samples)
        gaps = np.floor(rng.dirichlet(np.ones(len(samples) + 1)) * free).astype(np.int64)
        starts = np.cumsum(gaps[:-1]) + np.cumsum([0, *map(len, samples[:-1])])
        for item, start, stop in zip(said, starts, starts + list(map(len, samples)), strict=True):
            if item.word == keyword:
                positions[index] = start, stop
        placed = list(zip(starts.tolist(), samples, strict=True))
        waveforms[index] = to_int16(
            mix(length, placed, noise(index, length), levels[index], snrs[index])
        )
    return {"waveforms": waveforms, "labels": labels, "speakers": speakers, "positions": positions}


def _drop_last_distractor(said: list[Utterance], keyword: str) -> list[Utterance]:
    last = max(index for index, item in enumerate(said) if item.word != keyword)
    return said[:last] + said[last + 1 :]
