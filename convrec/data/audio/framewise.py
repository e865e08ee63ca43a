"""MFCCs frame by frame, each frame from the samples up to its end: the front end of models that
are exported and run chunk by chunk.

The notes' pipeline (frames, window, FFT, Mel filters, log, DCT) with frames that are not centred
(frame ``t`` holds samples ``[t * hop, t * hop + n_fft)``, so it is complete once its last sample
has arrived) and no per-example decibel floor (``top_db`` needs the whole clip). The windowed FFT
is a product of the frames with the real and imaginary DFT basis (a strided convolution),

    Re[t, k] = sum_n w[n] cos(2 pi k n / n_fft) x[t * hop + n]
    Im[t, k] = -sum_n w[n] sin(2 pi k n / n_fft) x[t * hop + n]
    P[t, k]  = Re[t, k] ** 2 + Im[t, k] ** 2

so the whole front end is framing, matrix products and a logarithm: it exports to ONNX
without an STFT operator, and a stream keeps only the samples of the next frame's start.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from convrec.checks import describe, fail
from convrec.data.audio.functional import (
    check_dct,
    check_decibels,
    check_mel,
    check_stft,
    dct_matrix,
    mel_filterbank,
    stft_window,
)


def dft_basis(window: Tensor) -> Tensor:
    """The windowed real DFT as a matrix for frames ``(..., n_fft)``: the ``n_fft // 2 + 1``
    cosine columns, then the negated sine columns.

    Shape:
        window: ``(n_fft,)``; output: ``(n_fft, 2 * (n_fft // 2 + 1))``.
    """
    n_fft = window.shape[0]
    n = torch.arange(n_fft, dtype=torch.float64)
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64).unsqueeze(1)
    angle = 2 * math.pi * ((k * n) % n_fft) / n_fft  # reduced modulo n_fft: exact angles
    return torch.cat([torch.cos(angle), -torch.sin(angle)]).mul(window.double()).T.contiguous()


class FramewiseMFCC(nn.Module):
    """MFCCs of uncentred frames, equal to ``MFCC(..., center=False, top_db=None)`` (see the
    module docstring), as matrix products.

        P = |frames(x) @ windowed DFT| ** 2              (B, T, n_fft // 2 + 1)
        L = 10 log10(max(amin, P @ W.T)) - 10 log10(max(amin, ref))
        C = L @ D                                        (B, T, n_mfcc)

    ``T = 1 + (S - n_fft) // hop_length`` (:meth:`frames`); a waveform needs at least ``n_fft``
    samples.

    Args:
        sample_rate, n_mfcc, n_fft, hop_length, win_length, window, n_mels, fmin, fmax, htk,
        norm, lifter, amin: as :class:`~convrec.data.audio.MFCC`.
        ref: reference power (0 dB), a number: ``'max'`` would need the whole clip.

    Shape:
        input: ``(B, S)``; output: ``(B, T, n_mfcc)``.

    Example:
        >>> mfcc = FramewiseMFCC(16000, 13, n_fft=512, hop_length=160, win_length=400, n_mels=40)
        >>> mfcc(torch.randn(2, 16000)).shape
        torch.Size([2, 97, 13])
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
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = None,
        htk: bool = False,
        norm: str | None = "slaney",
        lifter: float = 0.0,
        ref: float = 1.0,
        amin: float = 1e-10,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        hop_length, win_length = check_stft(owner, n_fft, hop_length, win_length, window, 2.0)
        fmax = check_mel(owner, sample_rate, n_mels, fmin, fmax, norm)
        check_decibels(owner, ref, amin, None)
        if ref == "max":
            raise fail(owner, "ref", "a reference power > 0 ('max' needs the whole clip)", ref)
        check_dct(owner, n_mfcc, n_mels, lifter)
        self.sample_rate, self.n_fft, self.hop_length = sample_rate, n_fft, hop_length
        self.n_mels, self.n_mfcc = n_mels, n_mfcc
        self.amin, self.offset_db = amin, 10.0 * math.log10(max(amin, ref))
        basis = dft_basis(stft_window(window, win_length, n_fft))
        filters = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, htk, norm)
        self.register_buffer("basis", basis, persistent=False)
        self.register_buffer("filters", filters.T.contiguous(), persistent=False)
        self.register_buffer("dct", dct_matrix(n_mfcc, n_mels, lifter), persistent=False)
        self._cast: tuple[object, tuple[Tensor, ...]] = (None, ())

    def forward(self, waveforms: Tensor) -> Tensor:
        if not isinstance(waveforms, Tensor) or waveforms.dim() != 2:
            raise fail(type(self).__name__, "input", "waveforms (B, S)", describe(waveforms))
        if not torch.compiler.is_exporting() and waveforms.shape[1] < self.n_fft:
            expected = f"at least n_fft={self.n_fft} samples per waveform"
            raise fail(type(self).__name__, "input", expected, describe(waveforms))
        basis, filters, dct = self._constants(waveforms)
        frames = waveforms.unfold(1, self.n_fft, self.hop_length)  # (B, T, n_fft)
        real, imaginary = (frames @ basis).chunk(2, dim=-1)  # (B, T, K) each
        power = real.square() + imaginary.square()
        decibels = 10.0 * torch.log10((power @ filters).clamp(min=self.amin)) - self.offset_db
        return decibels @ dct

    def _constants(self, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The basis, filters and DCT in ``like``'s dtype and device, cast once for each (a
        stream calls this every 20 ms); cast in the graph while exporting."""
        key = (like.dtype, like.device)
        if torch.compiler.is_exporting() or self._cast[0] != key:
            constants = tuple(buffer.to(like) for buffer in (self.basis, self.filters, self.dct))
            if torch.compiler.is_exporting():
                return constants
            self._cast = (key, constants)
        return self._cast[1]

    def frames(self, samples: Tensor) -> Tensor:
        """Complete frames in ``samples`` samples (0 below ``n_fft``).

        Shape:
            samples: ``(B,)`` integers; output: the same.
        """
        return torch.clamp(samples - self.n_fft, min=-self.hop_length) // self.hop_length + 1

    def advance(self, chunk: Tensor, pending: Tensor | None) -> tuple[Tensor, Tensor]:
        """The frames that ``chunk`` completes, given the samples ``pending`` from earlier chunks
        (None at the start), and the samples still pending after it: the start of the next
        frame, fewer than ``n_fft`` of them.

        Shape:
            chunk: ``(B, t)``; pending: ``(B, p)``; output: ``(B, T', n_mfcc)`` with ``T'``
            possibly 0, and the new pending samples ``(B, p')``.
        """
        samples = chunk if pending is None else torch.cat([pending, chunk], dim=1)
        count = max(0, (samples.shape[1] - self.n_fft) // self.hop_length + 1)
        if count == 0:
            return samples.new_zeros(samples.shape[0], 0, self.n_mfcc), samples
        used = samples[:, : (count - 1) * self.hop_length + self.n_fft]
        return self(used), samples[:, count * self.hop_length :]

    def frame_times(self) -> tuple[float, float]:
        """Seconds between frames, and the second at which the first frame is complete."""
        return self.hop_length / self.sample_rate, self.n_fft / self.sample_rate

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate:g}, n_fft={self.n_fft}, hop_length="
            f"{self.hop_length}, n_mels={self.n_mels}, n_mfcc={self.n_mfcc}"
        )
