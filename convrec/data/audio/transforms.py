"""The audio front end as modules: thin ``nn.Module`` wrappers over :mod:`.functional`.

Waveforms come in as ``(B, S)`` or ``(S,)`` (samples) or as a :class:`~convrec.nn.Padded` of
``(B, S)`` with lengths in samples; features go out in convrec's sequence layout ``(B, T, F)``
(``(T, F)`` for one unbatched waveform), or as a ``Padded`` with lengths in frames
(:func:`~.functional.frame_count`) and zeros beyond them. Nothing beyond a waveform's length reaches
its frames: the padding is zeroed first, which is what a lone waveform is padded with
(``center=True``). Feature modules (:class:`AmplitudeToDB`, :class:`Deltas`, :class:`SpecAugment`)
take ``(B, T, F)``, ``(T, F)`` or a ``Padded`` of ``(B, T, F)``.

Constant tensors (window, filter bank, DCT basis) are float64 buffers, cast to the input's dtype
at each call, so a float64 waveform gets float64 features.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from convrec.checks import describe, fail, non_negative_int, one_of
from convrec.data.audio.functional import (
    band_mask,
    check_dct,
    check_decibels,
    check_deltas,
    check_mel,
    check_stft,
    dct_matrix,
    deltas,
    frame_count,
    mel_filterbank,
    power_to_db,
    spectrogram,
    stft_window,
)
from convrec.errors import InvalidTypeError
from convrec.nn.checks import first_non_finite
from convrec.nn.padded import Padded, require_output_lengths, unwrap, wrap, zero_padding

Layouts = tuple[int, str, str]  # the batched layout's rank, the batched and unbatched layouts
WAVEFORMS: Layouts = (2, "(B, S)", "(S,)")
FEATURES: Layouts = (3, "(B, T, F)", "(T, F)")


def _checked_tensor(owner: str, value: object, layouts: Layouts) -> Tensor:
    """A floating tensor in the batched or the unbatched layout."""
    rank, batched, unbatched = layouts
    layout = f"{batched} or {unbatched}"
    if not isinstance(value, Tensor):
        expected = f"a tensor {layout} or a convrec.nn.Padded"
        raise fail(owner, "input", expected, describe(value), error=InvalidTypeError)
    if value.dim() not in (rank, rank - 1):
        raise fail(owner, "input", f"a tensor {layout}", describe(value))
    if not torch.is_floating_point(value):
        raise fail(
            owner,
            "input",
            f"a floating-point tensor {layout}",
            describe(value),
            hint="Convert it with .float().",
            error=InvalidTypeError,
        )
    return value


def _batch(owner: str, x: Tensor | Padded, layouts: Layouts) -> tuple[Tensor, Tensor | None, bool]:
    """Split an input in the batched or unbatched layout, or a ``Padded`` of the batched one, into
    ``(batched data with zeros beyond each length, lengths or None, whether it came unbatched)``,
    refusing NaN or Inf within the lengths."""
    rank, batched, unbatched_layout = layouts
    if isinstance(x, Padded):
        data, lengths, _ = unwrap(owner, x, rank, batched, (1,))
        data, unbatched = zero_padding(data, lengths), False
    else:
        data, lengths = _checked_tensor(owner, x, layouts), None
        unbatched = data.dim() == rank - 1
        data = data.unsqueeze(0) if unbatched else data
        if data.shape[1] == 0:
            expected = f"at least one step on the time axis of {batched} or {unbatched_layout}"
            raise fail(owner, "input", expected, describe(x))
    _require_finite(owner, data)
    return data, lengths, unbatched


def _require_finite(owner: str, data: Tensor) -> None:
    """Refuse NaN or Inf, naming the first batch item that holds one."""
    index = first_non_finite(data)
    if index is not None:
        raise fail(
            owner,
            "input",
            "finite values within each sequence's length",
            f"NaN or Inf in batch item {index[0]}",
        )


def _restore(features: Tensor, lengths: Tensor | None, unbatched: bool) -> Tensor | Padded:
    """The output in the input's form: ``Padded`` for ``Padded``, unbatched for unbatched."""
    if lengths is not None:
        return wrap(features, lengths)
    return features.squeeze(0) if unbatched else features


def _check_bool(owner: str, argument: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise fail(owner, argument, "True or False", repr(value), error=InvalidTypeError)
    return value


class Spectrogram(nn.Module):
    """Magnitude or power spectrogram by ``torch.stft``, as ``abs(librosa.stft(...)) ** power``.

    Frames of ``n_fft`` samples, ``hop_length`` apart, are multiplied by a periodic window of
    ``win_length`` samples centred in the frame, and their FFT's ``n_fft // 2 + 1`` bins are
    raised to ``power``. With ``center`` the signal is padded with ``n_fft // 2`` zeros on each
    side (librosa's ``pad_mode='constant'``) and frame ``t`` is centred on sample
    ``t * hop_length``.

    Args:
        n_fft: frame and FFT length in samples.
        hop_length: samples between frames, at most ``win_length``; ``win_length // 4`` for None.
        win_length: window length, at most ``n_fft``; ``n_fft`` for None.
        window: ``'hann'`` or ``'hamming'`` (periodic, as librosa's).
        power: 1 for the magnitude, 2 for the power.
        center: pad so frames are centred on multiples of ``hop_length``.

    Shape:
        input: ``(B, S)``, ``(S,)`` or ``Padded`` ``(B, S)`` with lengths in samples.
        output: ``(B, T, n_fft // 2 + 1)``, ``(T, n_fft // 2 + 1)`` or ``Padded``, with
        ``T = frame_count(S, n_fft, hop_length, center)``.

    Example:
        >>> spectrogram = Spectrogram(n_fft=512, hop_length=160, win_length=400)
        >>> spectrogram(torch.randn(2, 16000)).shape
        torch.Size([2, 101, 257])
    """

    def __init__(
        self,
        n_fft: int = 2048,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        power: float = 2.0,
        center: bool = True,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.hop_length, self.win_length = check_stft(
            owner, n_fft, hop_length, win_length, window, power
        )
        self.n_fft, self.window_name, self.power = n_fft, window, float(power)
        self.center = _check_bool(owner, "center", center)
        self.register_buffer(
            "window", stft_window(window, self.win_length, n_fft), persistent=False
        )

    def forward(self, waveform: Tensor | Padded) -> Tensor | Padded:
        data, lengths, unbatched = _waveforms(type(self).__name__, waveform, self)
        return _restore(*self._frames(data, lengths), unbatched)

    def _frames(self, data: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """``(B, S)`` waveforms, zero beyond ``lengths``, to ``(B, T, F)`` frames and lengths."""
        power = spectrogram(data, self.window, self.hop_length, self.power, self.center)
        if lengths is None:
            return power, None
        return power, frame_count(lengths, self.n_fft, self.hop_length, self.center)

    def extra_repr(self) -> str:
        return (
            f"n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}, "
            f"window={self.window_name!r}, power={self.power}, center={self.center}"
        )


def _waveforms(
    owner: str, waveform: Tensor | Padded, stft: Spectrogram
) -> tuple[Tensor, Tensor | None, bool]:
    """:func:`_batch` for waveforms, also refusing any too short to give ``stft`` a frame."""
    data, lengths, unbatched = _batch(owner, waveform, WAVEFORMS)
    if not stft.center:
        samples = torch.full(data.shape[:1], data.shape[1]) if lengths is None else lengths
        frames = frame_count(samples, stft.n_fft, stft.hop_length, center=False)
        require_output_lengths(owner, samples, frames, hint="Use center=True or a smaller n_fft.")
    return data, lengths, unbatched


class MelSpectrogram(nn.Module):
    """Power spectrogram through triangular Mel filters, as ``librosa.feature.melspectrogram``.

    ``M[t, m] = sum_k |X[t, k]| ** power W[m, k]``, with ``W`` from
    :func:`~.functional.mel_filterbank` (the ``filterbank`` buffer, ``(n_mels, n_fft // 2 + 1)``).
    The defaults are librosa's.

    Args:
        sample_rate: samples per second.
        n_fft, hop_length, win_length, window, power, center: as :class:`Spectrogram`.
        n_mels: number of Mel filters.
        fmin: lowest filter edge in Hz.
        fmax: highest filter edge in Hz, at most (and by default) ``sample_rate / 2``.
        htk: HTK's Mel formula instead of Slaney's.
        norm: ``'slaney'`` (area-normalised filters) or None (peaks at 1).

    Shape:
        input: ``(B, S)``, ``(S,)`` or ``Padded`` ``(B, S)`` with lengths in samples.
        output: ``(B, T, n_mels)``, ``(T, n_mels)`` or ``Padded`` with lengths in frames.

    Example:
        >>> mel = MelSpectrogram(16000, n_fft=512, hop_length=160, win_length=400, n_mels=40)
        >>> mel(Padded(torch.randn(2, 16000), torch.tensor([16000, 8000]))).lengths
        tensor([101,  51])
    """

    def __init__(
        self,
        sample_rate: float = 22050,
        n_fft: int = 2048,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        power: float = 2.0,
        center: bool = True,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = None,
        htk: bool = False,
        norm: str | None = "slaney",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_stft(owner, n_fft, hop_length, win_length, window, power)
        fmax = check_mel(owner, sample_rate, n_mels, fmin, fmax, norm)
        _check_bool(owner, "htk", htk)
        self.sample_rate, self.n_mels, self.fmin, self.fmax = sample_rate, n_mels, fmin, fmax
        self.htk, self.norm = htk, norm
        self.spectrogram = Spectrogram(n_fft, hop_length, win_length, window, power, center)
        bank = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, htk, norm)
        self.register_buffer("filterbank", bank, persistent=False)

    def forward(self, waveform: Tensor | Padded) -> Tensor | Padded:
        data, lengths, unbatched = _waveforms(type(self).__name__, waveform, self.spectrogram)
        return _restore(*self._frames(data, lengths), unbatched)

    def _frames(self, data: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor | None]:
        power, lengths = self.spectrogram._frames(data, lengths)  # (B, T, n_fft // 2 + 1)
        return power @ self.filterbank.to(power).T, lengths  # (B, T, n_mels)

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, n_mels={self.n_mels}, fmin={self.fmin}, "
            f"fmax={self.fmax}, htk={self.htk}, norm={self.norm!r}"
        )


class AmplitudeToDB(nn.Module):
    """Powers or magnitudes to decibels, with librosa's ``power_to_db`` (``amplitude_to_db``)
    conventions: ``10 log10(max(amin, P) / max(amin, ref))``, floored at ``top_db`` below each
    example's peak over its valid frames (see :func:`~.functional.power_to_db`).

    Args:
        stype: ``'power'`` or ``'magnitude'`` (decibels as ``20 log10``).
        ref: reference value (0 dB), or ``'max'`` for each example's largest value.
        amin: floor on the input; None for librosa's ``1e-10`` (power) or ``1e-5`` (magnitude).
        top_db: dynamic range kept below each example's peak, or None.

    Shape:
        input: ``(B, T, F)``, ``(T, F)`` or ``Padded`` ``(B, T, F)``; output: the same.

    Example:
        >>> log_mel = nn.Sequential(MelSpectrogram(16000, n_fft=512, n_mels=40), AmplitudeToDB())
        >>> log_mel(torch.randn(16000)).shape
        torch.Size([126, 40])
    """

    def __init__(
        self,
        stype: str = "power",
        ref: float | str = 1.0,
        amin: float | None = None,
        top_db: float | None = 80.0,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.stype = one_of(owner, "stype", stype, ("power", "magnitude"))
        if amin is None:
            amin = 1e-10 if stype == "power" else 1e-5
        check_decibels(owner, ref, amin, top_db)
        self.ref, self.amin, self.top_db = ref, amin, top_db

    def forward(self, features: Tensor | Padded) -> Tensor | Padded:
        data, lengths, unbatched = _batch(type(self).__name__, features, FEATURES)
        if self.stype == "power":
            power, ref, amin = data, self.ref, self.amin
        else:
            power = data.abs().square()
            ref = self.ref if self.ref == "max" else self.ref**2
            amin = self.amin**2
        return _restore(power_to_db(power, ref, amin, self.top_db, lengths), lengths, unbatched)

    def extra_repr(self) -> str:
        return f"stype={self.stype!r}, ref={self.ref!r}, amin={self.amin}, top_db={self.top_db}"


class MFCC(nn.Module):
    """Mel-frequency cepstral coefficients, as ``librosa.feature.mfcc`` with its defaults: the
    notes' pipeline frames, window, FFT, Mel filters, log, DCT.

        P = |STFT(x)| ** 2                       (B, T, n_fft // 2 + 1)
        M = P @ W.T                              (B, T, n_mels)
        L = power_to_db(M, ref, amin, top_db)    (B, T, n_mels)
        C = L @ D                                (B, T, n_mfcc)

    with ``W`` the Mel filter bank and ``D`` the orthonormal DCT-II basis (``dct`` buffer), liftered
    when ``lifter > 0``. Unlike librosa given a batch, ``top_db`` and ``ref='max'`` act per
    example, so each example's coefficients are what it gives alone.

    Args:
        sample_rate: samples per second.
        n_mfcc: number of coefficients, at most ``n_mels``.
        n_fft, hop_length, win_length, window, center: as :class:`Spectrogram`.
        n_mels, fmin, fmax, htk, norm: as :class:`MelSpectrogram`.
        lifter: cepstral liftering coefficient, 0 for none.
        ref, amin, top_db: as :func:`~.functional.power_to_db`.

    Shape:
        input: ``(B, S)``, ``(S,)`` or ``Padded`` ``(B, S)`` with lengths in samples.
        output: ``(B, T, n_mfcc)``, ``(T, n_mfcc)`` or ``Padded`` with lengths in frames.

    Example:
        >>> mfcc = MFCC(16000, 13, n_fft=512, hop_length=160, win_length=400, n_mels=40)
        >>> mfcc(torch.randn(4, 16000)).shape
        torch.Size([4, 101, 13])
    """

    def __init__(
        self,
        sample_rate: float = 22050,
        n_mfcc: int = 20,
        *,
        n_fft: int = 2048,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = None,
        htk: bool = False,
        norm: str | None = "slaney",
        lifter: float = 0.0,
        ref: float | str = 1.0,
        amin: float = 1e-10,
        top_db: float | None = 80.0,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_stft(owner, n_fft, hop_length, win_length, window, 2.0)
        check_mel(owner, sample_rate, n_mels, fmin, fmax, norm)
        check_decibels(owner, ref, amin, top_db)
        check_dct(owner, n_mfcc, n_mels, lifter)
        self.n_mfcc, self.lifter = n_mfcc, lifter
        self.ref, self.amin, self.top_db = ref, amin, top_db
        self.mel_spectrogram = MelSpectrogram(
            sample_rate,
            n_fft,
            hop_length,
            win_length,
            window,
            power=2.0,
            center=center,
            n_mels=n_mels,
            fmin=fmin,
            fmax=fmax,
            htk=htk,
            norm=norm,
        )
        self.register_buffer("dct", dct_matrix(n_mfcc, n_mels, lifter), persistent=False)

    def forward(self, waveform: Tensor | Padded) -> Tensor | Padded:
        stft = self.mel_spectrogram.spectrogram
        data, lengths, unbatched = _waveforms(type(self).__name__, waveform, stft)
        mel, lengths = self.mel_spectrogram._frames(data, lengths)  # (B, T, n_mels)
        decibels = power_to_db(mel, self.ref, self.amin, self.top_db, lengths)
        return _restore(decibels @ self.dct.to(decibels), lengths, unbatched)  # (B, T, n_mfcc)

    def extra_repr(self) -> str:
        return (
            f"n_mfcc={self.n_mfcc}, lifter={self.lifter}, ref={self.ref!r}, amin={self.amin}, "
            f"top_db={self.top_db}"
        )


class Deltas(nn.Module):
    """Local time derivative of each feature, as ``librosa.feature.delta(width, order,
    mode='interp')``: a Savitzky-Golay filter over ``width`` frames (see
    :func:`~.functional.deltas`; the first and last ``width // 2`` frames of each sequence repeat
    the nearest interior value, which is what ``'interp'`` gives). ``order=2`` is librosa's second
    derivative of a quadratic fit, not the delta of the delta.

    Args:
        width: odd number of frames, at least 3; every sequence needs at least ``width`` frames.
        order: derivative order, less than ``width``.

    Shape:
        input: ``(B, T, F)``, ``(T, F)`` or ``Padded`` ``(B, T, F)``; output: the same.

    Example:
        >>> Deltas(width=3)(torch.tensor([[0.0], [1.0], [4.0], [9.0]])).flatten()
        tensor([2., 2., 4., 4.])
    """

    def __init__(self, width: int = 9, order: int = 1) -> None:
        super().__init__()
        check_deltas(type(self).__name__, width, order)
        self.width, self.order = width, order

    def forward(self, features: Tensor | Padded) -> Tensor | Padded:
        owner = type(self).__name__
        data, lengths, unbatched = _batch(owner, features, FEATURES)
        frames = torch.full(data.shape[:1], data.shape[1]) if lengths is None else lengths
        if int(frames.min()) < self.width:
            raise fail(
                owner,
                "input",
                f"sequences of at least width={self.width} frames",
                f"a sequence of {int(frames.min())} frames",
                hint="Use a smaller width or longer clips.",
            )
        return _restore(deltas(data, self.width, self.order, lengths), lengths, unbatched)

    def extra_repr(self) -> str:
        return f"width={self.width}, order={self.order}"


class SpecAugment(nn.Module):
    """SpecAugment's frequency and time masks (Park et al., 2019), in training mode only.

    Each example gets its own ``freq_masks`` bands of features and ``time_masks`` bands of frames,
    each of width drawn uniformly from ``0..freq_width`` (``0..time_width``) and placed uniformly
    within the example's features (valid frames); masked entries are set to ``mask_value``. In eval
    mode the input is returned as it is.

    Args:
        freq_masks: frequency bands per example.
        freq_width: largest frequency band, in features.
        time_masks: time bands per example.
        time_width: largest time band, in frames.
        mask_value: value written into the bands.
        generator: CPU ``torch.Generator`` the masks are drawn from; None for the global one.
            Masks are drawn on the CPU, so a seed gives the same masks on every device.

    Shape:
        input: ``(B, T, F)``, ``(T, F)`` or ``Padded`` ``(B, T, F)``; output: the same.

    Example:
        >>> augment = SpecAugment(1, 2, 1, 3, generator=torch.Generator().manual_seed(0))
        >>> masked = augment(torch.ones(2, 10, 4))
        >>> augment.eval()(masked) is masked
        True
    """

    def __init__(
        self,
        freq_masks: int,
        freq_width: int,
        time_masks: int,
        time_width: int,
        mask_value: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.freq_masks = non_negative_int(owner, "freq_masks", freq_masks)
        self.freq_width = non_negative_int(owner, "freq_width", freq_width)
        self.time_masks = non_negative_int(owner, "time_masks", time_masks)
        self.time_width = non_negative_int(owner, "time_width", time_width)
        if isinstance(mask_value, bool) or not isinstance(mask_value, int | float):
            raise fail(owner, "mask_value", "a number", repr(mask_value), error=InvalidTypeError)
        if generator is not None and (
            not isinstance(generator, torch.Generator) or generator.device.type != "cpu"
        ):
            raise fail(
                owner,
                "generator",
                "None or a CPU torch.Generator",
                repr(generator),
                error=InvalidTypeError,
            )
        self.mask_value, self.generator = float(mask_value), generator

    def forward(self, features: Tensor | Padded) -> Tensor | Padded:
        if not self.training:
            return features
        owner = type(self).__name__
        data, lengths, unbatched = _batch(owner, features, FEATURES)
        batch, steps, size = data.shape
        frames = torch.full((batch,), steps) if lengths is None else lengths
        features_per_example = torch.full((batch,), size)
        frequency = band_mask(
            features_per_example, size, self.freq_masks, self.freq_width, self.generator
        )  # (B, F)
        time = band_mask(frames, steps, self.time_masks, self.time_width, self.generator)  # (B, T)
        masked = (time.unsqueeze(2) | frequency.unsqueeze(1)).to(data.device)  # (B, T, F)
        return _restore(data.masked_fill(masked, self.mask_value), lengths, unbatched)

    def extra_repr(self) -> str:
        return (
            f"freq_masks={self.freq_masks}, freq_width={self.freq_width}, "
            f"time_masks={self.time_masks}, time_width={self.time_width}, "
            f"mask_value={self.mask_value}"
        )
