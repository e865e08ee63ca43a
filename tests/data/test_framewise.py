"""The framewise MFCC front end: the notes' pipeline on uncentred frames, equal to the MFCC module
with ``center=False`` and no decibel floor, and the same pushed chunk by chunk."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrec.data.audio import MFCC, frame_count
from convrec.data.audio.framewise import FramewiseMFCC, dft_basis
from convrec.errors import UserError

SETTINGS = {"n_fft": 512, "hop_length": 160, "win_length": 400, "n_mels": 40}


def signals(dtype: torch.dtype, samples: int = 4_000) -> torch.Tensor:
    """Seeded noise and a chirp, as loud as speech in the keyword clips."""
    generator = torch.Generator().manual_seed(0)
    noise = 0.05 * torch.randn(samples, generator=generator, dtype=dtype)
    time = torch.arange(samples, dtype=dtype) / 16_000
    chirp = 0.2 * torch.sin(2 * torch.pi * (200 + 3_000 * time) * time)
    return torch.stack([noise, chirp])


# float32: a convolution and an FFT round differently, most in the bins far below a frame's peak
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 5e-5)])
def test_it_equals_the_mfcc_of_uncentred_frames_without_a_floor(dtype, tolerance):
    reference = MFCC(16_000, 13, center=False, top_db=None, **SETTINGS).to(dtype)
    framewise = FramewiseMFCC(16_000, 13, **SETTINGS)
    waveforms = signals(dtype)
    expected = reference(waveforms)
    got = framewise(waveforms)
    assert got.dtype == dtype and got.shape == expected.shape == (2, 1 + (4_000 - 512) // 160, 13)
    scale = expected.abs().max().item()  # hundreds: MFCCs of decibels
    torch.testing.assert_close(got, expected, atol=tolerance * scale, rtol=0)


def test_the_dft_basis_is_the_windowed_fft():
    window = torch.hann_window(16, periodic=True, dtype=torch.float64)
    frame = torch.randn(16, dtype=torch.float64)
    basis = dft_basis(window)  # (16, 2 * 9)
    spectrum = torch.fft.rfft(frame * window)
    torch.testing.assert_close(frame @ basis[:, :9], spectrum.real)
    torch.testing.assert_close(frame @ basis[:, 9:], spectrum.imag)


@settings(deadline=None, max_examples=25)
@given(sizes=st.lists(st.integers(1, 700), min_size=1, max_size=5))
def test_chunks_of_any_size_give_the_frames_of_the_whole_waveform(sizes):
    framewise = FramewiseMFCC(16_000, 13, **SETTINGS)
    waveforms = signals(torch.float64)
    frames, pending, start, index = [], None, 0, 0
    while start < waveforms.shape[1]:
        size = sizes[index % len(sizes)]
        done, pending = framewise.advance(waveforms[:, start : start + size], pending)
        frames.append(done)
        assert pending.shape[1] < 512  # only the start of the next frame waits
        start, index = start + size, index + 1
    torch.testing.assert_close(torch.cat(frames, dim=1), framewise(waveforms), atol=1e-10, rtol=0)


def test_frame_counts_follow_the_uncentred_stft():
    framewise = FramewiseMFCC(16_000, 13, **SETTINGS)
    samples = torch.tensor([0, 511, 512, 671, 672, 16_000])
    expected = torch.clamp(frame_count(samples, 512, 160, center=False), min=0)
    assert framewise.frames(samples).tolist() == expected.tolist() == [0, 0, 1, 1, 2, 97]
    assert framewise.frame_times() == (0.01, 0.032)


def test_what_needs_the_whole_clip_or_a_frame_is_refused():
    with pytest.raises(UserError, match=r"`ref`: expected a reference power"):
        FramewiseMFCC(16_000, 13, ref="max", **SETTINGS)
    with pytest.raises(UserError, match=r"`input`: expected at least n_fft=512 samples"):
        FramewiseMFCC(16_000, 13, **SETTINGS)(torch.zeros(1, 511))
    with pytest.raises(UserError, match=r"`input`: expected waveforms \(B, S\)"):
        FramewiseMFCC(16_000, 13, **SETTINGS)(torch.zeros(511))
