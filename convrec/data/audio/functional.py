"""The audio front end as pure functions: frame counts, windows, spectrograms, Mel filters,
decibels, the DCT, deltas and SpecAugment's masks.

The notes' MFCC pipeline (the input spectrogram of speech models), one function per step:

    frames + window:  frame t holds samples [t * hop - n_fft // 2, t * hop + n_fft // 2)
    FFT:              X[t, k] = sum_n w[n] x[t * hop - n_fft // 2 + n] exp(-2 pi i k n / n_fft)
    power:            P[t, k] = |X[t, k]| ** power
    Mel filters:      M[t, m] = sum_k P[t, k] W[m, k]
    log:              L[t, m] = 10 log10(max(amin, M[t, m])) - 10 log10(max(amin, ref))
    DCT:              C[t, j] = sum_m L[t, m] D[m, j]

Feature tensors are ``(B, T, F)``: batch, frames, features. Functions that reduce over a sequence
take ``lengths (B,)`` in frames and read nothing beyond them.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

from convrec.checks import fail, one_of, positive_float, positive_int
from convrec.nn.padded import sequence_mask
from convrec.nn.sizes import Size, conv_output_size

WINDOWS = ("hann", "hamming")
MEL_NORMS = ("slaney", None)

SLANEY_HZ_PER_MEL = 200.0 / 3  # below 1 kHz the Slaney scale is linear
SLANEY_BREAK_HZ = 1000.0
SLANEY_BREAK_MEL = SLANEY_BREAK_HZ / SLANEY_HZ_PER_MEL  # 15 Mel at 1 kHz
SLANEY_LOG_STEP = math.log(6.4) / 27.0  # above 1 kHz, 27 Mel per factor 6.4 in frequency


def check_stft(
    owner: str,
    n_fft: object,
    hop_length: object,
    win_length: object,
    window: object,
    power: object,
) -> tuple[int, int]:
    """Check the STFT's arguments; return ``(hop_length, win_length)`` with librosa's defaults
    (``win_length = n_fft``, ``hop_length = win_length // 4``) filled in."""
    n_fft = positive_int(owner, "n_fft", n_fft)
    if win_length is None:
        win_length = n_fft
    win_length = positive_int(owner, "win_length", win_length)
    if win_length > n_fft:
        raise fail(owner, "win_length", f"at most n_fft={n_fft}", win_length)
    if hop_length is None:
        hop_length = max(1, win_length // 4)
    hop_length = positive_int(owner, "hop_length", hop_length)
    if hop_length > win_length:
        raise fail(
            owner,
            "hop_length",
            f"at most win_length={win_length}",
            hop_length,
            hint="Frames further apart than their length would skip samples.",
        )
    one_of(owner, "window", window, WINDOWS)
    positive_float(owner, "power", power)
    return hop_length, win_length


def frame_count(samples: Size, n_fft: int, hop_length: int, center: bool = True) -> Size:
    """Frames of the STFT of ``samples`` samples: a convolution of width ``n_fft`` and stride
    ``hop_length``, over the signal padded with ``n_fft // 2`` zeros on each side when ``center``.

    ``1 + (samples + 2 * (n_fft // 2) - n_fft) // hop_length``, or ``1 + (samples - n_fft) //
    hop_length`` without centring (below 1 when the signal is shorter than ``n_fft``).

    Args:
        samples: signal length, an int or an integer tensor of lengths ``(B,)``.
        n_fft: frame length in samples.
        hop_length: samples between the starts of consecutive frames.
        center: whether frame ``t`` is centred on sample ``t * hop_length`` (librosa's default).

    Example:
        >>> frame_count(16000, n_fft=512, hop_length=160)
        101
        >>> frame_count(torch.tensor([16000, 400]), 512, 160, center=False)
        tensor([97,  0])
    """
    return conv_output_size(samples, n_fft, hop_length, padding=n_fft // 2 if center else 0)


def stft_window(
    name: str, win_length: int, n_fft: int, dtype: torch.dtype = torch.float64
) -> Tensor:
    """A periodic window (as ``scipy.signal.get_window(name, win_length, fftbins=True)``), centred
    in ``n_fft`` samples with zeros on both sides, as librosa's ``stft`` does.

    ``hann``: ``w[n] = 0.5 - 0.5 cos(2 pi n / win_length)``; ``hamming``: ``w[n] = 0.54 - 0.46
    cos(2 pi n / win_length)``, for ``0 <= n < win_length``.

    Shape:
        output: ``(n_fft,)``.

    Example:
        >>> stft_window("hann", 4, 6)
        tensor([0.0000, 0.0000, 0.5000, 1.0000, 0.5000, 0.0000], dtype=torch.float64)
    """
    one_of("stft_window", "name", name, WINDOWS)
    make = torch.hann_window if name == "hann" else torch.hamming_window
    window = make(win_length, periodic=True, dtype=dtype)
    left = (n_fft - win_length) // 2
    return torch.nn.functional.pad(window, (left, n_fft - win_length - left))


def spectrogram(
    waveform: Tensor,
    window: Tensor,
    hop_length: int,
    power: float = 2.0,
    center: bool = True,
) -> Tensor:
    """``|STFT(waveform)| ** power`` by ``torch.stft``, frames first.

    With ``center`` the signal is padded with ``n_fft // 2`` zeros on each side (librosa's
    ``pad_mode='constant'``), so frame ``t`` is centred on sample ``t * hop_length``.

    Args:
        waveform: real signals.
        window: ``(n_fft,)`` window, e.g. from :func:`stft_window`; its length is ``n_fft``.
        hop_length: samples between consecutive frames.
        power: 1 for the magnitude, 2 for the power.
        center: pad so that frames are centred on multiples of ``hop_length``.

    Shape:
        waveform: ``(..., S)``; output: ``(..., T, n_fft // 2 + 1)``, ``T = frame_count(S, ...)``.
    """
    n_fft = window.shape[0]
    signals = waveform.reshape(-1, waveform.shape[-1])  # (B, S)
    spectrum = torch.stft(
        signals,
        n_fft,
        hop_length,
        window=window.to(signals),
        center=center,
        pad_mode="constant",
        return_complex=True,
    )  # (B, F, T)
    if power == 2.0:  # re ** 2 + im ** 2, one temporary fewer than abs().square()
        magnitude = spectrum.real.square().addcmul_(spectrum.imag, spectrum.imag)
    else:
        magnitude = spectrum.abs().pow(power)
    frames = magnitude.transpose(1, 2)  # (B, T, F)
    return frames.reshape(*waveform.shape[:-1], *frames.shape[1:])


def hz_to_mel(frequencies: Tensor, htk: bool = False) -> Tensor:
    """Frequencies in Hz to the Mel scale: HTK's ``2595 log10(1 + f / 700)``, or Slaney's (linear
    below 1 kHz, logarithmic above), as ``librosa.hz_to_mel``.

    Shape:
        frequencies: any; output: the same.

    Example:
        >>> hz_to_mel(torch.tensor([0.0, 1000.0, 6400.0]))
        tensor([ 0., 15., 42.])
    """
    if htk:
        return 2595.0 * torch.log10(1.0 + frequencies / 700.0)
    linear = frequencies / SLANEY_HZ_PER_MEL
    above = frequencies.clamp(min=SLANEY_BREAK_HZ) / SLANEY_BREAK_HZ
    logarithmic = SLANEY_BREAK_MEL + torch.log(above) / SLANEY_LOG_STEP
    return torch.where(frequencies >= SLANEY_BREAK_HZ, logarithmic, linear)


def mel_to_hz(mels: Tensor, htk: bool = False) -> Tensor:
    """The inverse of :func:`hz_to_mel`.

    Shape:
        mels: any; output: the same.
    """
    if htk:
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    linear = mels * SLANEY_HZ_PER_MEL
    logarithmic = SLANEY_BREAK_HZ * torch.exp(SLANEY_LOG_STEP * (mels - SLANEY_BREAK_MEL))
    return torch.where(mels >= SLANEY_BREAK_MEL, logarithmic, linear)


def check_mel(
    owner: str,
    sample_rate: object,
    n_mels: object,
    fmin: object,
    fmax: object,
    norm: object,
) -> float:
    """Check the Mel filter bank's arguments; return ``fmax`` (``sample_rate / 2`` for None)."""
    sample_rate = positive_float(owner, "sample_rate", sample_rate)
    positive_int(owner, "n_mels", n_mels)
    nyquist = sample_rate / 2
    fmax = nyquist if fmax is None else fmax
    if isinstance(fmax, bool) or not isinstance(fmax, int | float) or not 0 < fmax <= nyquist:
        raise fail(owner, "fmax", f"a frequency in (0, sample_rate / 2 = {nyquist:g}] Hz", fmax)
    if isinstance(fmin, bool) or not isinstance(fmin, int | float) or not 0 <= fmin < fmax:
        raise fail(owner, "fmin", f"a frequency in [0, fmax = {fmax:g}) Hz", fmin)
    one_of(owner, "norm", norm, MEL_NORMS)
    return float(fmax)


def mel_filterbank(
    sample_rate: float,
    n_fft: int,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | None = "slaney",
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Triangular Mel filters over the FFT bins, as ``librosa.filters.mel``.

    ``n_mels + 2`` edges ``e_0 < ... < e_{M+1}`` are spaced evenly on the Mel scale from ``fmin``
    to ``fmax``; filter ``m`` rises from ``e_m`` to ``e_{m+1}`` and falls to ``e_{m+2}``:

        W[m, k] = max(0, min((f_k - e_m) / (e_{m+1} - e_m), (e_{m+2} - f_k) / (e_{m+2} - e_{m+1})))

    with ``f_k = k * sample_rate / n_fft``. ``norm='slaney'`` scales filter ``m`` by
    ``2 / (e_{m+2} - e_m)`` (constant energy per filter); ``None`` leaves peaks at 1. A filter that
    no FFT bin falls in raises a ``UserWarning``, as librosa does.

    Args:
        sample_rate: samples per second.
        n_fft: FFT length; the bank covers its ``n_fft // 2 + 1`` bins.
        n_mels: number of filters.
        fmin: lowest edge in Hz.
        fmax: highest edge in Hz, at most ``sample_rate / 2`` (the default).
        htk: HTK's Mel formula instead of Slaney's.
        norm: ``'slaney'`` or None.
        dtype: of the result; computed in float64.

    Shape:
        output: ``(n_mels, n_fft // 2 + 1)``.

    Example:
        >>> bank = mel_filterbank(16000, n_fft=512, n_mels=40)
        >>> bank.shape, bool((bank >= 0).all())
        (torch.Size([40, 257]), True)
    """
    owner = "mel_filterbank"
    n_fft = positive_int(owner, "n_fft", n_fft)
    fmax = check_mel(owner, sample_rate, n_mels, fmin, fmax, norm)
    float64 = torch.float64
    bins = torch.fft.rfftfreq(n_fft, 1.0 / sample_rate, dtype=float64)  # (F,)
    low, high = hz_to_mel(torch.tensor([float(fmin), fmax], dtype=float64), htk)
    edges = mel_to_hz(torch.linspace(low, high, n_mels + 2, dtype=float64), htk)  # (M + 2,)
    widths = edges.diff()  # (M + 1,)
    offsets = edges.unsqueeze(1) - bins  # (M + 2, F)
    rising = -offsets[:-2] / widths[:-1].unsqueeze(1)  # (M, F)
    falling = offsets[2:] / widths[1:].unsqueeze(1)  # (M, F)
    weights = torch.minimum(rising, falling).clamp(min=0.0)
    if norm == "slaney":
        weights = weights * (2.0 / (edges[2:] - edges[:-2])).unsqueeze(1)
    empty = ((edges[:-2] != 0) & (weights.amax(dim=1) <= 0)).nonzero().flatten().tolist()
    if empty:
        listed = ", ".join(map(str, empty[:5])) + (", ..." if len(empty) > 5 else "")
        warnings.warn(
            f"mel_filterbank: {len(empty)} of {n_mels} Mel filters are empty (filters {listed}): "
            f"no FFT bin of n_fft={n_fft} falls inside them. Use fewer n_mels or a larger n_fft.",
            UserWarning,
            stacklevel=2,
        )
    return weights.to(dtype)


def check_decibels(owner: str, ref: object, amin: object, top_db: object) -> None:
    """Check ``power_to_db``'s arguments: ``ref`` a positive number or ``'max'``, ``amin`` a
    positive number, ``top_db`` None or a non-negative number."""
    if ref != "max" and (
        isinstance(ref, bool)
        or not isinstance(ref, int | float)
        or not math.isfinite(ref)
        or ref <= 0
    ):
        raise fail(owner, "ref", "a positive number or 'max'", repr(ref))
    positive_float(owner, "amin", amin)
    if top_db is not None and (
        isinstance(top_db, bool) or not isinstance(top_db, int | float) or top_db < 0
    ):
        raise fail(owner, "top_db", "None or a non-negative number of decibels", repr(top_db))


def valid_max(features: Tensor, lengths: Tensor | None) -> Tensor:
    """Each example's largest value over its valid frames: ``(B, T, F) -> (B, 1, 1)``."""
    if lengths is not None:
        mask = sequence_mask(lengths, features.shape[-2]).unsqueeze(-1)  # (B, T, 1)
        features = features.masked_fill(~mask, -math.inf)
    return features.amax(dim=(-2, -1), keepdim=True)


def power_to_db(
    power: Tensor,
    ref: float | str = 1.0,
    amin: float = 1e-10,
    top_db: float | None = 80.0,
    lengths: Tensor | None = None,
) -> Tensor:
    """Power to decibels with librosa's ``power_to_db`` conventions, one example at a time:

        L = 10 log10(max(amin, P)) - 10 log10(max(amin, ref))
        L = max(L, max_valid(L) - top_db)      (when top_db is not None)

    ``ref='max'`` takes each example's largest power (librosa's ``ref=np.max``). The maxima run over
    each example's valid frames, so a batch gives what each example gives alone (librosa, given a
    batch, takes one maximum over the whole batch).

    Args:
        power: non-negative powers.
        ref: reference power (0 dB), or ``'max'``.
        amin: floor on powers, keeps the logarithm finite.
        top_db: dynamic range kept below each example's peak, or None for no floor.
        lengths: ``(B,)`` valid frames per example, or None for all.

    Shape:
        power: ``(B, T, F)`` (or ``(T, F)`` without lengths); output: the same.

    Example:
        >>> power_to_db(torch.tensor([[[1.0, 0.1, 0.0]]]), top_db=None)
        tensor([[[   0.,  -10., -100.]]])
    """
    check_decibels("power_to_db", ref, amin, top_db)
    if ref == "max":
        reference = 10.0 * torch.log10(valid_max(power, lengths).clamp(min=amin))
    else:
        reference = 10.0 * math.log10(max(amin, ref))
    decibels = 10.0 * torch.log10(power.clamp(min=amin)) - reference
    if top_db is not None:
        decibels = torch.maximum(decibels, valid_max(decibels, lengths) - top_db)
    return decibels


def amplitude_to_db(
    magnitude: Tensor,
    ref: float | str = 1.0,
    amin: float = 1e-5,
    top_db: float | None = 80.0,
    lengths: Tensor | None = None,
) -> Tensor:
    """Magnitudes to decibels, ``20 log10(max(amin, |S|)) - 20 log10(max(amin, ref))``, as
    ``librosa.amplitude_to_db``: :func:`power_to_db` of ``|S| ** 2`` with ``ref ** 2`` and
    ``amin ** 2``.

    Shape:
        magnitude: ``(B, T, F)`` (or ``(T, F)`` without lengths); output: the same.
    """
    check_decibels("amplitude_to_db", ref, amin, top_db)
    squared_ref = ref if ref == "max" else ref**2
    return power_to_db(magnitude.abs().square(), squared_ref, amin**2, top_db, lengths)


def check_dct(owner: str, n_mfcc: object, n_mels: object, lifter: object) -> None:
    """Check the DCT's arguments: ``1 <= n_mfcc <= n_mels`` and a non-negative ``lifter``."""
    n_mels = positive_int(owner, "n_mels", n_mels)
    if isinstance(n_mfcc, bool) or not isinstance(n_mfcc, int) or not 1 <= n_mfcc <= n_mels:
        raise fail(owner, "n_mfcc", f"an integer in [1, n_mels={n_mels}]", repr(n_mfcc))
    if isinstance(lifter, bool) or not isinstance(lifter, int | float) or lifter < 0:
        raise fail(owner, "lifter", "a non-negative number", repr(lifter))


def dct_matrix(
    n_mfcc: int, n_mels: int, lifter: float = 0.0, dtype: torch.dtype = torch.float64
) -> Tensor:
    """The first ``n_mfcc`` orthonormal DCT-II basis vectors (``scipy.fft.dct(type=2,
    norm='ortho')``), as columns, so that ``mfcc = log_mel @ D``:

        D[m, j] = s_j cos(pi j (2 m + 1) / (2 n_mels)),   s_0 = sqrt(1 / n_mels),
                                                          s_j = sqrt(2 / n_mels) for j > 0

    With ``lifter > 0`` column ``j`` is scaled by ``1 + (lifter / 2) sin(pi (j + 1) / lifter)``, as
    librosa's ``mfcc(lifter=...)``.

    Shape:
        output: ``(n_mels, n_mfcc)``.

    Example:
        >>> basis = dct_matrix(4, 4)
        >>> torch.allclose(basis.T @ basis, torch.eye(4, dtype=torch.float64))
        True
    """
    check_dct("dct_matrix", n_mfcc, n_mels, lifter)
    mel = torch.arange(n_mels, dtype=torch.float64).unsqueeze(1)  # (M, 1)
    order = torch.arange(n_mfcc, dtype=torch.float64)  # (J,)
    basis = torch.cos(math.pi * order * (2 * mel + 1) / (2 * n_mels)) * math.sqrt(2 / n_mels)
    basis[:, 0] /= math.sqrt(2)
    if lifter > 0:
        basis = basis * (1 + lifter / 2 * torch.sin(math.pi * (order + 1) / lifter))
    return basis.to(dtype)


def check_deltas(owner: str, width: object, order: object) -> None:
    """Check the delta filter: an odd ``width >= 3`` and ``1 <= order < width``."""
    if isinstance(width, bool) or not isinstance(width, int) or width < 3 or width % 2 == 0:
        raise fail(owner, "width", "an odd integer >= 3", repr(width))
    positive_int(owner, "order", order)
    if order >= width:
        raise fail(owner, "order", f"less than width={width}", order)


def delta_weights(width: int = 9, order: int = 1, dtype: torch.dtype = torch.float64) -> Tensor:
    """The Savitzky-Golay filter that librosa's ``delta`` applies: the ``order``-th derivative of
    the polynomial of degree ``order`` fitted by least squares to ``width`` frames, at the centre.

    With offsets ``k = -h..h`` (``h = width // 2``) and ``V[k, j] = k ** j``, the fit's coefficients
    are ``pinv(V) @ x``, and the derivative of order ``d`` is ``d! * pinv(V)[d] @ x`` (for
    ``d = 1``, ``sum_k k x_k / sum_k k ** 2``).

    Shape:
        output: ``(width,)``, the weight of offsets ``-h..h``.

    Example:
        >>> (delta_weights(5) * 10).round()
        tensor([-2., -1.,  0.,  1.,  2.], dtype=torch.float64)
        >>> (delta_weights(5, order=2) * 7).round()
        tensor([ 2., -1., -2., -1.,  2.], dtype=torch.float64)
    """
    check_deltas("delta_weights", width, order)
    offsets = torch.arange(-(width // 2), width // 2 + 1, dtype=torch.float64)
    vandermonde = offsets.unsqueeze(1) ** torch.arange(order + 1, dtype=torch.float64)  # (W, d+1)
    return (math.factorial(order) * torch.linalg.pinv(vandermonde)[order]).to(dtype)


def deltas(
    features: Tensor, width: int = 9, order: int = 1, lengths: Tensor | None = None
) -> Tensor:
    """Local derivative of each feature over time, as ``librosa.feature.delta(mode='interp')``.

    Interior frames take the :func:`delta_weights` filter centred on them. Within ``width // 2``
    frames of either end of a sequence, librosa's ``'interp'`` mode differentiates the polynomial
    fitted to the first (last) ``width`` frames; that polynomial has degree ``order``, so its
    ``order``-th derivative is constant and equals the filter centred on frame ``width // 2``
    (``length - 1 - width // 2``): the edges repeat the nearest interior value. Every sequence
    needs at least ``width`` frames.

    Args:
        features: a batch of feature sequences.
        width: odd number of frames the filter spans, at least 3.
        order: derivative order, ``1 <= order < width``.
        lengths: ``(B,)`` valid frames per sequence, or None for all ``T``.

    Shape:
        features: ``(B, T, F)``; output: ``(B, T, F)``.

    Example:
        >>> ramp = torch.arange(10.0).view(1, 10, 1)
        >>> deltas(ramp, width=5).flatten()
        tensor([1., 1., 1., 1., 1., 1., 1., 1., 1., 1.])
    """
    check_deltas("deltas", width, order)
    batch, steps, _ = features.shape
    shortest = steps if lengths is None else int(lengths.min())
    if shortest < width:
        raise fail(
            "deltas",
            "features",
            f"sequences of at least width={width} frames",
            f"a sequence of {shortest} frames",
            hint="Use a smaller width or longer clips.",
        )
    weights = delta_weights(width, order).to(features)  # (W,)
    interior = features.unfold(1, width, 1) @ weights  # (B, T - W + 1, F)
    ends = torch.full((batch, 1), steps, device=features.device) if lengths is None else lengths
    start = torch.arange(steps, device=features.device) - width // 2  # (T,)
    index = torch.minimum(start.clamp(min=0), ends.view(-1, 1) - width)  # (B, T)
    return interior.gather(1, index.unsqueeze(-1).expand(-1, -1, features.shape[2]))


def band_mask(
    extents: Tensor, size: int, count: int, max_width: int, generator: torch.Generator | None
) -> Tensor:
    """SpecAugment's masks along one axis: per example, ``count`` bands of width drawn uniformly
    from ``0..min(max_width, extent)`` and start drawn uniformly so the band fits in ``extent``.

    Drawn on the CPU (from ``generator``, or the global generator for None), so a seed gives the
    same masks on every device.

    Args:
        extents: ``(B,)`` valid size of the axis per example (lengths on the time axis).
        size: padded size of the axis.
        count: bands per example.
        max_width: largest band width.
        generator: a CPU ``torch.Generator`` or None.

    Shape:
        output: ``(B, size)`` bool, True inside a band.
    """
    extents = extents.cpu().view(-1, 1)  # (B, 1)
    draws = torch.rand(extents.shape[0], count, 2, generator=generator, dtype=torch.float64)
    widest = extents.clamp(max=max_width)
    widths = torch.minimum((draws[..., 0] * (widest + 1)).floor().long(), widest)  # (B, count)
    room = extents - widths
    starts = torch.minimum((draws[..., 1] * (room + 1)).floor().long(), room)  # (B, count)
    positions = torch.arange(size).view(1, 1, -1)  # (1, 1, size)
    inside = (positions >= starts.unsqueeze(-1)) & (positions < (starts + widths).unsqueeze(-1))
    return inside.any(dim=1)
