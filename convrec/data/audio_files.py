"""A user's audio from a folder: one subfolder per class, any sample rate, any common encoding.

``folder/<class>/<clip>`` for labelled clips (the class is the subfolder's name); a single file
or any folder of clips for prediction. Every clip becomes one layout: a float32 mono waveform
``(S,)`` in [-1, 1] (channels averaged) at a chosen sample rate (resampled by a polyphase filter,
:func:`convrec.data.speech.resample`).

WAV (PCM of 8, 16, 24 or 32 bits, IEEE float of 32 or 64 bits, mono or any number of channels)
is read by convrec's own reader (:func:`~convrec.data.readers.read_wav`); FLAC and Ogg Vorbis by
``soundfile`` (libsndfile), imported when such a file is read and not a dependency of convrec
(``pip install soundfile``). Other files (a ``README``, a ``.DS_Store``) are left out; a file
with an audio suffix that does not decode, is truncated, is empty or holds NaN is an error
naming it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np

from convrec.data.class_folders import ClassFolder, FileKind, list_class_folder
from convrec.data.readers import FormatError, read_wav
from convrec.data.speech import resample
from convrec.errors import UnavailableError

SUFFIXES = (".wav", ".flac", ".ogg")
SOUNDFILE_HINT = "install soundfile (`pip install soundfile`), or convert the clips to WAV"


class Clip(NamedTuple):
    """One decoded audio file.

    Shape:
        samples: float32 ``(S,)``, mono (the channels' mean), as the file holds it (PCM scaled
        to [-1, 1]).
    """

    samples: np.ndarray
    sample_rate: int


AUDIO = FileKind("audio files", SUFFIXES)


def list_audio(root: str | Path, labelled: bool = True) -> ClassFolder:
    """The audio files under ``root``, by class folder (see :func:`list_class_folder`)."""
    return list_class_folder(root, AUDIO, labelled)


def load_audio(path: str | Path) -> Clip:
    """The clip at ``path`` at its own sample rate, channels averaged to mono.

    Raises:
        FormatError: not a whole, readable audio file, no samples, or NaN or infinite samples.
        UnavailableError: a FLAC or Ogg file and ``soundfile`` is not installed.

    Example:
        >>> import wave
        >>> path = Path(getfixture("tmp_path")) / "a.wav"
        >>> with wave.open(str(path), "wb") as file:
        ...     file.setnchannels(2); file.setsampwidth(2); file.setframerate(8000)
        ...     file.writeframes(np.array([16384, 0, -16384, -16384], "<i2").tobytes())
        >>> load_audio(path)
        Clip(samples=array([ 0.25, -0.5 ], dtype=float32), sample_rate=8000)
    """
    path = Path(path)
    if path.suffix.lower() == ".wav":
        wav = read_wav(path)
        samples, rate = wav.samples.mean(axis=0, dtype=np.float64), wav.sample_rate
    else:
        samples, rate = _read_with_soundfile(path)
    if samples.size == 0:
        raise FormatError(str(path), "the audio data", "at least one sample", "none")
    if not np.all(np.isfinite(samples)):
        raise FormatError(str(path), "the audio data", "finite samples", "NaN or infinite ones")
    return Clip(samples.astype(np.float32), int(rate))


def read_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """The clip at ``path`` as a mono waveform at ``sample_rate``.

    Shape:
        returns float32 ``(S,)``, ``S = ceil(frames * sample_rate / file's rate)``.

    Raises:
        FormatError, UnavailableError: as :func:`load_audio`.
    """
    return at_rate(load_audio(path), sample_rate)


def at_rate(clip: Clip, sample_rate: int) -> np.ndarray:
    """The clip's samples resampled (polyphase, the ratio in lowest terms) to ``sample_rate``."""
    if clip.sample_rate == sample_rate:
        return clip.samples
    return resample(clip.samples, clip.sample_rate, sample_rate)


def most_common_rate(clips: list[Clip]) -> int:
    """The sample rate most clips have (the highest of those tied)."""
    counts = Counter(clip.sample_rate for clip in clips)
    return max(counts, key=lambda rate: (counts[rate], rate))


def fit_length(waveform: np.ndarray, length: int) -> np.ndarray:
    """``waveform`` of exactly ``length`` samples: zeros appended to a shorter one; of a longer
    one, the ``length`` consecutive samples of the most energy (the first such window on a tie),
    so that a word or an event in a long recording is kept wherever it lies.

    Shape:
        waveform: ``(S,)``; returns ``(length,)``, of the same dtype.

    Example:
        >>> fit_length(np.array([1.0, 2.0]), 4).tolist()
        [1.0, 2.0, 0.0, 0.0]
        >>> fit_length(np.array([0.1, 0.0, 3.0, -2.0, 0.5]), 2).tolist()
        [3.0, -2.0]
    """
    if len(waveform) <= length:
        return np.pad(waveform, (0, length - len(waveform)))
    energy = np.concatenate([[0.0], np.cumsum(np.square(waveform, dtype=np.float64))])
    start = int(np.argmax(energy[length:] - energy[:-length]))
    return waveform[start : start + length]


def _read_with_soundfile(path: Path) -> tuple[np.ndarray, int]:
    """FLAC or Ogg samples, channels averaged, and the sample rate."""
    try:
        import soundfile
    except ImportError:
        raise UnavailableError(
            f"{path}: reading {path.suffix.lower()} files needs the soundfile package, which is "
            f"not installed; {SOUNDFILE_HINT}"
        ) from None
    try:
        samples, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    except (RuntimeError, OSError, ValueError, TypeError) as error:  # LibsndfileError et al.
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        raise FormatError(
            str(path), "byte 0", f"a whole, readable {path.suffix.lower()[1:]} file", reason
        ) from None
    return samples.mean(axis=1), rate
