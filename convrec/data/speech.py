"""Spoken words synthesised offline by espeak-ng, trimmed and resampled to 16 kHz, and mixed
over coloured noise.

A voice is an English accent and a voice variant, written as espeak-ng takes it,
``accent+variant`` (``en-us+f3``). The default pool crosses 7 English accents with 12
numbered variants (``m1``..``m7``, ``f1``..``f5``): 84 voices; pass others (``en-us-nyc+m8``)
explicitly. :func:`voice_split` assigns each voice to ``train``, ``validation`` or ``test`` by a
seeded hash of its name alone, so a voice lands in the same split whatever pool it sits in, and
a model tested on the test voices has never heard them.

espeak-ng is deterministic: the same word, voice, speed and pitch give the same samples. One
call (a subprocess, ~15 ms) synthesises one word; :func:`synthesize_all` runs the distinct
requests in parallel, one subprocess per worker thread.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from convrec.checks import fail
from convrec.data.readers.wav import read_wav
from convrec.errors import InvalidTypeError, UnavailableError

SAMPLE_RATE = 16_000  # Hz, the rate of every waveform returned here
ESPEAK = "espeak-ng"
INSTALL_HINT = (
    "Install it with `apt-get install -y espeak-ng` (Debian, Ubuntu) or "
    "`brew install espeak-ng` (macOS)."
)
ACCENTS = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)
VARIANTS = (*(f"m{index}" for index in range(1, 8)), *(f"f{index}" for index in range(1, 6)))
SPEEDS = (130, 150, 175, 200, 225)  # words per minute; espeak-ng's default is 175
PITCHES = (30, 40, 50, 60, 70)  # 0..99; espeak-ng's default is 50
SPLITS = ("train", "validation", "test")
SPLIT_PERCENT = {"train": 70, "validation": 15, "test": 15}  # expected share of the voices
TIMEOUT = 30.0  # seconds for one espeak-ng call
NOISE_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # power spectrum ~ 1 / f^exponent
SILENCE_FRACTION = 0.01  # samples below this fraction of the peak count as silence when trimming
WORD_PATTERN = re.compile(r"[a-z]+(?:['-][a-z]+)*")


class EspeakNotFoundError(UnavailableError, FileNotFoundError):
    """espeak-ng is not on ``PATH``; the message gives the command that installs it."""


class SynthesisError(UnavailableError):
    """An espeak-ng call failed or timed out; the message gives the command and its stderr."""


@dataclass(frozen=True, order=True)
class Utterance:
    """One word as one voice says it: what a single espeak-ng call synthesises.

    Args:
        word: a lowercase word, e.g. ``"yes"``.
        voice: ``accent+variant``, e.g. ``"en-us+f3"``.
        speed: words per minute (espeak-ng's ``-s``, 80..450).
        pitch: 0..99 (espeak-ng's ``-p``).
    """

    word: str
    voice: str
    speed: int
    pitch: int

    def command(self, executable: str = ESPEAK) -> list[str]:
        """The espeak-ng command line that writes this utterance as WAV to stdout.

        Example:
            >>> " ".join(Utterance("yes", "en-us+f3", 160, 50).command())
            'espeak-ng --stdout -v en-us+f3 -s 160 -p 50 yes'
        """
        speed, pitch = str(self.speed), str(self.pitch)
        return [executable, "--stdout", "-v", self.voice, "-s", speed, "-p", pitch, self.word]


def espeak_path() -> str:
    """The espeak-ng executable, or :class:`EspeakNotFoundError` saying how to install it."""
    path = shutil.which(ESPEAK)
    if path is None:
        raise EspeakNotFoundError(
            f"speech synthesis needs {ESPEAK}, which is not on PATH. {INSTALL_HINT}"
        )
    return path


def espeak_version() -> str:
    """espeak-ng's version line, e.g. ``'eSpeak NG text-to-speech: 1.51 ...'``."""
    return _run([espeak_path(), "--version"]).decode().strip()


def installed_espeak_version() -> str | None:
    """:func:`espeak_version`, or None when espeak-ng is not installed."""
    return espeak_version() if shutil.which(ESPEAK) is not None else None


def installed_voices() -> tuple[frozenset[str], frozenset[str]]:
    """The English accents (``--voices=en``) and the variant names (``--voices=variant``)
    this espeak-ng has."""
    executable = espeak_path()
    accents = _run([executable, "--voices=en"]).decode().splitlines()[1:]
    variants = _run([executable, "--voices=variant"]).decode()
    return (
        frozenset(line.split()[1] for line in accents if line.strip()),
        frozenset(re.findall(r"!v/(\S+)", variants)),
    )


def default_voices(
    accents: Sequence[str] = ACCENTS, variants: Sequence[str] = VARIANTS
) -> tuple[str, ...]:
    """Every ``accent+variant`` pair, accents outermost.

    Example:
        >>> default_voices(("en-us", "en-gb"), ("m1", "f3"))
        ('en-us+m1', 'en-us+f3', 'en-gb+m1', 'en-gb+f3')
        >>> len(default_voices())
        84
    """
    return tuple(f"{accent}+{variant}" for accent in accents for variant in variants)


def voice_split(voice: str, seed: int = 0) -> str:
    """The split a voice belongs to: ``sha256(f"{seed}:{voice}")`` modulo 100 against the
    shares in ``SPLIT_PERCENT`` (70 / 15 / 15).

    Example:
        >>> [voice_split(voice) for voice in ("en-us+m3", "en-us+m1", "en-us+m5")]
        ['train', 'validation', 'test']
    """
    digest = hashlib.sha256(f"{seed}:{voice}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    bounds = itertools.accumulate(SPLIT_PERCENT[split] for split in SPLITS)
    return next(split for split, bound in zip(SPLITS, bounds, strict=True) if bucket < bound)


def split_voices(owner: str, voices: Sequence[str], split: str, seed: int = 0) -> tuple[str, ...]:
    """The voices of ``voices`` that :func:`voice_split` puts in ``split``, in order; an error
    naming ``owner`` when there are none."""
    chosen = tuple(voice for voice in voices if voice_split(voice, seed) == split)
    if not chosen:
        raise fail(
            owner,
            "voices",
            f"a pool with at least one voice in split {split!r}",
            f"{len(voices)} voices, none of them in it",
            hint="Pass more voices (the default pool has 84).",
        )
    return chosen


def check_words(owner: str, argument: str, words: object) -> tuple[str, ...]:
    """Distinct lowercase words (letters, with inner ``'`` or ``-``) as a tuple."""
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise fail(owner, argument, "a sequence of words", repr(words), error=InvalidTypeError)
    words = tuple(words)
    if not words:
        raise fail(owner, argument, "at least one word", "an empty sequence")
    for word in words:
        if not isinstance(word, str) or not WORD_PATTERN.fullmatch(word):
            raise fail(
                owner, argument, "lowercase words of letters a-z (inner ' or - allowed)", repr(word)
            )
    repeated = sorted({word for word in words if words.count(word) > 1})
    if repeated:
        raise fail(owner, argument, "distinct words", f"{', '.join(map(repr, repeated))} repeated")
    return words


def check_voices(owner: str, voices: object) -> tuple[str, ...]:
    """Distinct ``accent`` or ``accent+variant`` names as a tuple (not yet checked against
    espeak-ng; :func:`check_installed` does that)."""
    if isinstance(voices, str) or not isinstance(voices, Sequence) or not voices:
        raise fail(owner, "voices", "a non-empty sequence of voice names", repr(voices))
    for voice in voices:
        if not isinstance(voice, str) or not re.fullmatch(r"[\w-]+(\+\w+)?", voice):
            raise fail(owner, "voices", "names like 'en-us' or 'en-us+f3'", repr(voice))
    if len(set(voices)) != len(voices):
        raise fail(owner, "voices", "distinct voices", "a repeated voice")
    return tuple(voices)


def check_installed(owner: str, voices: Iterable[str]) -> None:
    """Refuse voices whose accent or variant this espeak-ng lacks (it would silently fall back
    to another voice)."""
    accents, variants = installed_voices()
    for voice in voices:
        accent, _, variant = voice.partition("+")
        if accent not in accents or (variant and variant not in variants):
            raise fail(
                owner,
                "voices",
                "voices this espeak-ng has (see `espeak-ng --voices=en` and "
                "`espeak-ng --voices=variant`)",
                repr(voice),
            )


def resample(samples: np.ndarray, source_rate: int, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling by ``target_rate / source_rate`` in lowest terms (22,050 Hz to
    16,000 Hz is 320/441).

    Shape:
        samples: ``(T,)``; returns float32 ``(ceil(T * target_rate / source_rate),)``.

    Example:
        >>> resample(np.ones(441, np.float32), 22_050).shape
        (320,)
    """
    from scipy.signal import resample_poly  # 0.7 s to import: only where audio is resampled

    divisor = math.gcd(target_rate, source_rate)
    up, down = target_rate // divisor, source_rate // divisor
    return resample_poly(samples, up, down).astype(np.float32)


def trim_silence(samples: np.ndarray, fraction: float = SILENCE_FRACTION) -> np.ndarray:
    """Drop the leading and trailing samples quieter than ``fraction`` of the peak.

    Shape:
        samples: ``(T,)``; returns ``(T',)`` with ``T' <= T`` (``(0,)`` when all silent).

    Example:
        >>> trim_silence(np.array([0.0, 0.001, 0.5, -1.0, 0.0])).tolist()
        [0.5, -1.0]
    """
    loud = np.flatnonzero(np.abs(samples) > fraction * np.abs(samples).max(initial=0.0))
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples[:0]


def synthesize(utterance: Utterance) -> np.ndarray:
    """One word from espeak-ng: mono, silence trimmed, resampled to 16 kHz.

    Shape:
        returns float32 ``(T,)`` in [-1, 1] at ``SAMPLE_RATE``, ``T`` about 0.2-0.8 s of samples.
    """
    wav = read_wav(_run(utterance.command(espeak_path())))
    mono = wav.samples.mean(axis=0)
    return resample(trim_silence(mono), wav.sample_rate).clip(-1.0, 1.0)


def synthesize_all(
    utterances: Iterable[Utterance], workers: int | None = None
) -> dict[Utterance, np.ndarray]:
    """Each distinct utterance synthesised once, ``workers`` espeak-ng calls at a time
    (default: one per CPU core).

    Shape:
        returns ``{utterance: float32 (T_u,)}`` as :func:`synthesize` gives them.
    """
    distinct = sorted(set(utterances))
    if distinct:
        espeak_path()
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(distinct, pool.map(synthesize, distinct), strict=True))


def colored_noise(rng: np.random.Generator, length: int, exponent: float) -> np.ndarray:
    """Gaussian noise whose power spectrum falls as ``1 / f^exponent`` (0 white, 1 pink,
    2 brown), zero mean, unit RMS.

    Shape:
        returns float64 ``(length,)``.

    Example:
        >>> noise = colored_noise(np.random.default_rng(0), 1000, 1.0)
        >>> round(float(np.sqrt(np.mean(noise**2))), 6), round(float(noise.mean()), 6)
        (1.0, 0.0)
    """
    spectrum = np.fft.rfft(rng.standard_normal(length))
    frequencies = np.fft.rfftfreq(length)
    gain = np.zeros_like(frequencies)
    gain[1:] = frequencies[1:] ** (-exponent / 2)
    noise = np.fft.irfft(spectrum * gain, n=length)
    return noise / np.sqrt(np.mean(noise**2))


def mix(
    length: int,
    words: Sequence[tuple[int, np.ndarray]],
    noise: np.ndarray,
    level_db: float,
    snr_db: float,
) -> np.ndarray:
    """Words placed at their offsets over noise, clipped to [-1, 1].

    The speech is scaled so its RMS over the words' own samples is ``level_db`` dB full scale;
    the unit-RMS noise to ``level_db - snr_db``. With no words the clip is noise alone, as loud
    as the noise under speech at that level and SNR.

    Shape:
        words: ``(offset, samples (T_w,))`` pairs with ``offset + T_w <= length``;
        noise: ``(length,)``; returns float32 ``(length,)``.

    Example:
        >>> clip = mix(4, [(1, np.array([1.0, -1.0]))], np.zeros(4), -20.0, 10.0)
        >>> clip.astype(float).round(3).tolist()
        [0.0, 0.1, -0.1, 0.0]
    """
    track = np.zeros(length)
    for offset, samples in words:
        track[offset : offset + len(samples)] += samples
    active = sum(len(samples) for _, samples in words)
    speech_rms = 10 ** (level_db / 20)
    if active:
        track *= speech_rms / max(math.sqrt(np.sum(track**2) / active), 1e-12)
    clip = track + noise * speech_rms / 10 ** (snr_db / 20)
    return clip.clip(-1.0, 1.0).astype(np.float32)


def _run(command: list[str]) -> bytes:
    """stdout of ``command``; :class:`SynthesisError` when it fails or times out."""
    try:
        result = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as error:
        raise SynthesisError(f"`{' '.join(command)}` took more than {TIMEOUT} s.") from error
    if result.returncode != 0:
        raise SynthesisError(
            f"`{' '.join(command)}` exited with status {result.returncode}: "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout
