"""convrec.data.audio: the notes' audio front end (frames, window, FFT, Mel filters, log, DCT) on
``torch.stft``, batched, differentiable, on any device, equal to librosa's.

Pure functions in :mod:`.functional`, thin modules in :mod:`.transforms` (torchaudio's split).

Conventions:

- waveforms are ``(B, S)`` (batch, samples) or ``(S,)``; a batch of clips of different lengths is
  a :class:`~convrec.nn.Padded` of ``(B, S)`` with lengths in samples;
- features are convrec sequences, ``(B, T, F)`` (batch, frames, features), ``(T, F)`` for an
  unbatched waveform, or a ``Padded`` with lengths in frames, ``frame_count(samples, n_fft,
  hop_length, center)``, and zeros beyond them. A clip's frames do not depend on what its padding
  holds: they are what the clip gives alone;
- defaults are librosa's (``n_fft=2048``, ``hop_length=win_length // 4``, periodic Hann window,
  ``center=True`` with zero padding, 128 Slaney Mel filters, ``top_db=80``, 20 MFCCs); ``top_db``
  and ``ref='max'`` act per example, where librosa given a batch takes one maximum over it.

Equality with librosa 0.11 (``tests/data/test_audio.py``, seeded noise and chirps, 16 kHz and
22.05 kHz), with ``|ours - librosa| <= atol + rtol * |librosa|`` and the scale being the largest
``|librosa|`` value of the compared array:

================  =================================  ================================
quantity          float64                            float32
================  =================================  ================================
spectrogram, Mel  rtol 1e-10, atol 1e-12 * scale     rtol 1e-4, atol 1e-6 * scale
Mel filter bank   rtol 1e-10, atol 1e-13             (computed in float64)
decibels          atol 1e-10 dB                      atol 5e-4 dB
MFCC              atol 1e-10 * scale                 atol 1e-5 * scale
deltas            rtol 1e-10, atol 1e-12 * scale     rtol 1e-5, atol 2e-6 * scale
================  =================================  ================================

float32 differences come from rounding in the two FFTs, largest relative to the bins far below a
frame's peak.
"""

from convrec.data.audio.functional import (
    amplitude_to_db,
    band_mask,
    dct_matrix,
    delta_weights,
    deltas,
    frame_count,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
    power_to_db,
    spectrogram,
    stft_window,
)
from convrec.data.audio.transforms import (
    MFCC,
    AmplitudeToDB,
    Deltas,
    MelSpectrogram,
    SpecAugment,
    Spectrogram,
)

__all__ = [
    "MFCC",
    "AmplitudeToDB",
    "Deltas",
    "MelSpectrogram",
    "SpecAugment",
    "Spectrogram",
    "amplitude_to_db",
    "band_mask",
    "dct_matrix",
    "delta_weights",
    "deltas",
    "frame_count",
    "hz_to_mel",
    "mel_filterbank",
    "mel_to_hz",
    "power_to_db",
    "spectrogram",
    "stft_window",
]
