"""The audio front end: librosa equality, padding invariance, gradients, SpecAugment, errors."""

import math

import numpy as np
import pytest
import scipy.fft
import torch
from torch import nn
from torch.autograd import gradcheck

from convrec.data.audio import (
    MFCC,
    AmplitudeToDB,
    Deltas,
    MelSpectrogram,
    SpecAugment,
    Spectrogram,
    amplitude_to_db,
    band_mask,
    dct_matrix,
    deltas,
    frame_count,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
    power_to_db,
)
from convrec.nn import Padded

DTYPES = {"float64": torch.float64, "float32": torch.float32}
# (rtol, atol), atol a fraction of the largest |librosa| value; decibels: atol in dB.
# The same numbers are in convrec/data/audio/__init__.py's docstring.
TOLERANCES = {
    "spectrogram": {torch.float64: (1e-10, 1e-12), torch.float32: (1e-4, 1e-6)},
    "decibels": {torch.float64: (0.0, 1e-10), torch.float32: (0.0, 5e-4)},
    "mfcc": {torch.float64: (0.0, 1e-10), torch.float32: (0.0, 1e-5)},
    "deltas": {torch.float64: (1e-10, 1e-12), torch.float32: (1e-5, 2e-6)},
}
SPEECH = {"n_fft": 512, "hop_length": 160, "win_length": 400}  # 32 ms FFT, 25 ms window, 10 ms hop


@pytest.fixture(scope="module")
def librosa():
    return pytest.importorskip("librosa")


def chirp(samples: int, sample_rate: float) -> np.ndarray:
    """A linear sweep from 100 Hz to 0.4 sample_rate."""
    t = np.arange(samples) / sample_rate
    low, high, duration = 100.0, 0.4 * sample_rate, samples / sample_rate
    return np.sin(2 * np.pi * (low * t + (high - low) * t**2 / (2 * duration)))


def noise(samples: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(samples)


SIGNALS = {"chirp": lambda: chirp(8000, 16000), "noise": lambda: noise(7919)}


def assert_matches(ours: torch.Tensor, reference: np.ndarray, quantity: str) -> None:
    """``ours`` (T, F) against librosa's (F, T), within the quantity's tolerance."""
    rtol, atol = TOLERANCES[quantity][ours.dtype]
    expected = torch.from_numpy(np.ascontiguousarray(reference.T)).to(ours.dtype)
    scale = 1.0 if quantity == "decibels" else float(expected.abs().max())
    torch.testing.assert_close(ours, expected, rtol=rtol, atol=atol * scale)


# Reference equality with librosa.


@pytest.mark.parametrize("signal", SIGNALS)
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("window", ["hann", "hamming"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_spectrogram_matches_librosa(librosa, signal, center, window, dtype):
    y = SIGNALS[signal]().astype(dtype)
    options = {"n_fft": 512, "hop_length": 128, "win_length": 400, "window": window}
    stft = librosa.stft(y, center=center, **options)
    for power in (1.0, 2.0):
        spectrogram = Spectrogram(**options, power=power, center=center)
        assert_matches(spectrogram(torch.from_numpy(y)), np.abs(stft) ** power, "spectrogram")


@pytest.mark.parametrize(
    ("sample_rate", "n_fft", "n_mels", "fmin", "fmax"),
    [(16000, 512, 40, 0.0, None), (22050, 2048, 128, 0.0, None), (16000, 400, 64, 60.0, 7600.0)],
)
@pytest.mark.parametrize("norm", ["slaney", None])
@pytest.mark.parametrize("htk", [False, True])
def test_mel_filterbank_matches_librosa(librosa, sample_rate, n_fft, n_mels, fmin, fmax, norm, htk):
    ours = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, htk, norm)
    options = {"n_mels": n_mels, "fmin": fmin, "fmax": fmax, "htk": htk, "norm": norm}
    theirs = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, **options, dtype=np.float64)
    torch.testing.assert_close(ours, torch.from_numpy(theirs), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("norm", ["slaney", None])
@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_mel_spectrogram_matches_librosa(librosa, norm, htk, dtype):
    mel = MelSpectrogram(16000, **SPEECH, n_mels=40, fmin=20.0, htk=htk, norm=norm)
    for signal in SIGNALS.values():
        y = signal().astype(dtype)
        theirs = librosa.feature.melspectrogram(
            y=y, sr=16000, **SPEECH, n_mels=40, fmin=20.0, htk=htk, norm=norm, dtype=y.dtype
        )
        assert_matches(mel(torch.from_numpy(y)), theirs, "spectrogram")


@pytest.mark.parametrize("top_db", [80.0, 30.0, None])
@pytest.mark.parametrize("ref", [1.0, 0.01, "max"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_decibels_match_librosa(librosa, ref, top_db, dtype):
    power = np.abs(librosa.stft(chirp(4000, 16000).astype(dtype), n_fft=256)) ** 2
    their_ref = np.max if ref == "max" else ref
    theirs = librosa.power_to_db(power, ref=their_ref, amin=1e-8, top_db=top_db)
    ours = AmplitudeToDB("power", ref, amin=1e-8, top_db=top_db)(torch.from_numpy(power.T))
    assert_matches(ours, theirs, "decibels")
    magnitude = np.sqrt(power)
    theirs = librosa.amplitude_to_db(magnitude, ref=their_ref, top_db=top_db)
    ours = AmplitudeToDB("magnitude", ref, top_db=top_db)(torch.from_numpy(magnitude.T))
    assert_matches(ours, theirs, "decibels")


@pytest.mark.parametrize("signal", SIGNALS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_mfcc_with_librosa_defaults_matches_librosa(librosa, signal, dtype):
    y = SIGNALS[signal]().astype(dtype)
    theirs = librosa.feature.mfcc(y=y, sr=22050, dtype=y.dtype)
    assert_matches(MFCC()(torch.from_numpy(y)), theirs, "mfcc")


MFCC_CASES = {  # options shared with librosa's melspectrogram, power_to_db's, and the lifter
    "htk-band-lifter": ({"htk": True, "fmin": 20.0, "fmax": 7600.0}, {}, 22.0),
    "hamming-unnormalised-uncentred": (
        {"window": "hamming", "norm": None, "center": False},
        {"top_db": None},
        0.0,
    ),
    "ref-max": ({}, {"ref": "max", "top_db": 40.0}, 0.0),
}


@pytest.mark.parametrize("case", MFCC_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_mfcc_options_match_librosa(librosa, case, dtype):
    mel_options, db_options, lifter = MFCC_CASES[case]
    y = chirp(8000, 16000).astype(dtype)
    mel = librosa.feature.melspectrogram(
        y=y, sr=16000, **SPEECH, n_mels=40, **mel_options, dtype=y.dtype
    )
    ref = np.max if db_options.get("ref") == "max" else 1.0
    mel_db = librosa.power_to_db(mel, ref=ref, top_db=db_options.get("top_db", 80.0))
    theirs = librosa.feature.mfcc(S=mel_db, n_mfcc=13, lifter=lifter)
    mfcc = MFCC(16000, 13, **SPEECH, n_mels=40, **mel_options, **db_options, lifter=lifter)
    assert_matches(mfcc(torch.from_numpy(y)), theirs, "mfcc")


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("width", [3, 5, 9])
@pytest.mark.parametrize("dtype", DTYPES)
def test_deltas_match_librosa(librosa, width, order, dtype):
    features = noise(40 * 6, seed=width).reshape(40, 6).astype(dtype)  # (T, F)
    theirs = librosa.feature.delta(features.T, width=width, order=order)
    assert_matches(Deltas(width, order)(torch.from_numpy(features)), theirs, "deltas")


def test_padded_batch_matches_librosa_clip_by_clip(librosa):
    clips = [chirp(8000, 16000), noise(5000, seed=1), 0.01 * noise(3001, seed=2)]
    batch = Padded.from_sequences([torch.from_numpy(clip) for clip in clips])
    front_end = nn.Sequential(MFCC(16000, 13, **SPEECH, n_mels=40), Deltas(width=5, order=2))
    output = front_end(batch)
    expected_lengths = [frame_count(len(clip), 512, 160) for clip in clips]
    assert output.lengths.tolist() == expected_lengths == [51, 32, 19]
    for clip, ours in zip(clips, output.unpad(), strict=True):
        mfcc = librosa.feature.mfcc(
            y=clip, sr=16000, **SPEECH, n_mels=40, n_mfcc=13, dtype=np.float64
        )
        theirs = librosa.feature.delta(mfcc, width=5, order=2)
        assert_matches(ours, theirs, "mfcc")


# Frame counts, padding invariance, batch consistency.


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize(("n_fft", "hop_length"), [(512, 160), (511, 128), (64, 64)])
def test_frame_count_is_the_number_of_frames_given(center, n_fft, hop_length):
    samples = torch.arange(n_fft, 3 * n_fft, 41)
    counts = frame_count(samples, n_fft, hop_length, center)
    spectrogram = Spectrogram(n_fft, hop_length, center=center)
    for length, count in zip(samples.tolist(), counts.tolist(), strict=True):
        assert frame_count(length, n_fft, hop_length, center) == count
        assert spectrogram(torch.zeros(length)).shape[0] == count


WAVEFORM_MODULES = {
    "spectrogram": lambda: Spectrogram(64, 16, 48, window="hamming", power=1.0),
    "uncentred spectrogram": lambda: Spectrogram(64, 16, center=False),
    "mel": lambda: MelSpectrogram(8000, 64, 16, n_mels=12),
    "mfcc": lambda: MFCC(8000, 8, n_fft=64, hop_length=16, n_mels=12, ref="max", top_db=30.0),
    "mfcc + deltas": lambda: nn.Sequential(
        MFCC(8000, 8, n_fft=64, hop_length=16, n_mels=12), Deltas(width=5)
    ),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", WAVEFORM_MODULES)
def test_frames_never_depend_on_the_padding(name, dtype):
    module = WAVEFORM_MODULES[name]()
    lengths = torch.tensor([300, 101, 257])
    valid = torch.arange(300) < lengths.unsqueeze(1)  # (B, S)
    clean = torch.randn(3, 300, dtype=DTYPES[dtype]) * valid
    reference = module(Padded(clean, lengths))
    centred = name != "uncentred spectrogram"
    assert torch.equal(reference.lengths, frame_count(lengths, 64, 16, centred))
    for filling in [torch.full((3, 300), math.nan), 1e3 * torch.randn(3, 300)]:
        dirty = torch.where(valid, clean, filling.to(clean.dtype))
        assert torch.equal(module(Padded(dirty, lengths)).data, reference.data)
    for item, length in enumerate(lengths.tolist()):
        alone = module(clean[item, :length])
        torch.testing.assert_close(reference.data[item, : alone.shape[0]], alone)
        assert bool((reference.data[item, alone.shape[0] :] == 0).all())


def test_padding_gets_no_gradient():
    lengths = torch.tensor([200, 90])
    waveforms = torch.randn(2, 200, dtype=torch.float64, requires_grad=True)
    mfcc = MFCC(8000, 8, n_fft=64, hop_length=16, n_mels=12)
    mfcc(Padded(waveforms, lengths)).data.sum().backward()
    assert bool((waveforms.grad[1, 90:] == 0).all())
    assert bool((waveforms.grad[1, :90] != 0).any())


@pytest.mark.parametrize(
    "module",
    [AmplitudeToDB(ref="max", top_db=20.0), Deltas(width=5, order=2)],
    ids=["decibels", "deltas"],
)
def test_feature_modules_never_read_the_padding(module):
    lengths = torch.tensor([12, 7])
    features = torch.rand(2, 12, 5, dtype=torch.float64)
    reference = module(Padded(features, lengths))
    dirty = features.clone()
    dirty[1, 7:] = math.nan
    torch.testing.assert_close(module(Padded(dirty, lengths)).data, reference.data)
    torch.testing.assert_close(reference.data[1, :7], module(features[1, :7]))
    assert bool((reference.data[1, 7:] == 0).all())


def test_unbatched_waveforms_give_unbatched_features():
    mfcc = MFCC(16000, 13, **SPEECH, n_mels=40)
    clip = torch.randn(16000)
    assert mfcc(clip).shape == (101, 13)
    torch.testing.assert_close(mfcc(clip), mfcc(clip.unsqueeze(0))[0])


# Gradients, float64.


@pytest.mark.parametrize(
    "module",
    [
        Spectrogram(16, 4, power=1.0),
        Spectrogram(16, 4, 12, window="hamming"),
        MelSpectrogram(8000, 16, 4, n_mels=4, norm=None),
        MFCC(8000, 4, n_fft=16, hop_length=4, n_mels=6, top_db=20.0),
        MFCC(8000, 4, n_fft=16, hop_length=4, n_mels=6, ref="max", htk=True),
    ],
    ids=["magnitude", "power", "mel", "mfcc", "mfcc-ref-max"],
)
def test_waveform_gradients_match_finite_differences(module):
    waveforms = torch.randn(2, 40, dtype=torch.float64, requires_grad=True)
    assert gradcheck(module, (waveforms,), fast_mode=True)


def test_feature_gradients_match_finite_differences():
    features = torch.rand(2, 12, 3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(Deltas(5, 2), (features,))
    assert gradcheck(AmplitudeToDB(ref="max", top_db=10.0), (features,))
    assert gradcheck(lambda x: deltas(x, 3, 1, torch.tensor([12, 5])), (features,))


# The pieces, against their definitions.


@pytest.mark.parametrize("htk", [False, True])
def test_mel_scale_round_trips_and_breaks_at_1_khz(htk):
    hertz = torch.tensor([0.0, 200.0, 999.0, 1000.0, 1001.0, 4000.0, 11025.0], dtype=torch.float64)
    torch.testing.assert_close(mel_to_hz(hz_to_mel(hertz, htk), htk), hertz)
    mels = hz_to_mel(torch.tensor([1000.0], dtype=torch.float64), htk)
    assert math.isclose(float(mels), 999.9855 if htk else 15.0, rel_tol=1e-6)


def test_dct_matrix_is_scipys_orthonormal_dct_ii():
    basis = dct_matrix(13, 40)
    identity = torch.eye(40, dtype=torch.float64)
    scipy_basis = torch.from_numpy(scipy.fft.dct(identity.numpy(), type=2, norm="ortho", axis=0))
    torch.testing.assert_close(basis, scipy_basis[:13].T)
    torch.testing.assert_close(basis.T @ basis, torch.eye(13, dtype=torch.float64))


def test_deltas_of_polynomials_are_their_derivatives_up_to_the_edges():
    time = torch.arange(20, dtype=torch.float64).view(1, 20, 1)
    line, parabola = 3 * time - 1, 0.5 * time**2 + time
    torch.testing.assert_close(deltas(line, width=9), torch.full_like(time, 3.0))
    torch.testing.assert_close(deltas(parabola, width=5, order=2), torch.full_like(time, 1.0))
    torch.testing.assert_close(deltas(parabola, width=3)[0, 1:-1], (time + 1)[0, 1:-1])


def test_power_to_db_takes_each_examples_own_peak():
    power = torch.tensor([[[1.0, 1e-12]], [[1e-4, 1e-12]]])
    decibels = power_to_db(power, top_db=30.0)
    torch.testing.assert_close(decibels, torch.tensor([[[0.0, -30.0]], [[-40.0, -70.0]]]))
    torch.testing.assert_close(
        amplitude_to_db(power.sqrt(), top_db=None), power_to_db(power, amin=1e-10, top_db=None)
    )


def test_huge_finite_inputs_are_not_taken_for_nan():
    features = torch.full((2, 4, 3), 3e38)  # each item's sum overflows to inf
    expected = torch.full((2, 4, 3), 10 * math.log10(3e38))
    torch.testing.assert_close(AmplitudeToDB(top_db=None)(features), expected)


# SpecAugment.


def test_spec_augment_is_the_identity_in_eval_mode():
    augment = SpecAugment(2, 3, 2, 5).eval()
    features = torch.randn(2, 20, 8)
    batch = Padded(features, torch.tensor([20, 9]))
    assert augment(features) is features
    assert augment(batch) is batch


def masked_bands(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Which rows (frames) and columns (features) of a masked all-ones (T, F) are all zeros."""
    zero = output == 0
    return zero.all(dim=1), zero.all(dim=0)


def test_spec_augment_masks_whole_bands_within_the_widths_per_example():
    augment = SpecAugment(2, 3, 2, 4, generator=torch.Generator().manual_seed(1))
    output = augment(torch.ones(16, 30, 10))
    patterns = set()
    for example in output:
        frames, features = masked_bands(example)
        masked_anywhere = frames.unsqueeze(1) | features.unsqueeze(0)
        assert bool(((example == 0) == masked_anywhere).all())
        assert int(frames.sum()) <= 2 * 4 and int(features.sum()) <= 2 * 3
        patterns.add((tuple(frames.tolist()), tuple(features.tolist())))
    assert len(patterns) > 8


def test_spec_augment_is_seeded_by_its_generator_or_the_global_rng():
    features = torch.ones(4, 30, 10)

    def seeded(seed: int) -> torch.Tensor:
        return SpecAugment(2, 3, 2, 4, generator=torch.Generator().manual_seed(seed))(features)

    torch.testing.assert_close(seeded(3), seeded(3))
    assert not torch.equal(seeded(3), seeded(4))
    torch.manual_seed(5)
    first = SpecAugment(2, 3, 2, 4)(features)
    torch.manual_seed(5)
    torch.testing.assert_close(SpecAugment(2, 3, 2, 4)(features), first)


def test_band_widths_and_starts_cover_their_whole_range():
    extents = torch.full((4000,), 10)
    masks = band_mask(extents, 12, 1, 4, torch.Generator().manual_seed(0))
    widths = masks.sum(dim=1)
    starts = masks.float().argmax(dim=1)[widths > 0]
    assert set(widths.tolist()) == {0, 1, 2, 3, 4}
    assert set(starts.tolist()) == set(range(10))
    assert not bool(masks[:, 10:].any())
    assert int((starts + widths[widths > 0]).max()) == 10


def test_spec_augment_masks_time_within_each_length_and_passes_gradients():
    lengths = torch.tensor([30, 6])
    features = torch.ones(2, 30, 5, requires_grad=True)
    augment = SpecAugment(0, 0, 3, 30, generator=torch.Generator().manual_seed(2))
    output = augment(Padded(features, lengths))
    frames, _ = masked_bands(output.data[1, :6])
    assert 0 < int(frames.sum()) <= 6
    assert bool((output.data[1, 6:] == 0).all())
    output.data.sum().backward()
    torch.testing.assert_close(features.grad, (output.data != 0).float())


# Errors: what was wrong, what was expected, how to fix it.

CONSTRUCTION_ERRORS = [  # (build, error, message)
    (lambda: Spectrogram(0), ValueError,
     r"Spectrogram: .* `n_fft`: expected a positive integer, got 0"),
    (lambda: Spectrogram(512, win_length=600), ValueError,
     r"`win_length`: expected at most n_fft=512"),
    (lambda: Spectrogram(512, 500, 400), ValueError,
     r"`hop_length`: expected at most win_length=400, got 500\. Frames further apart"),
    (lambda: Spectrogram(window="box"), ValueError, r"`window`: expected one of 'hann', 'hamming'"),
    (lambda: Spectrogram(power=0), ValueError,
     r"`power`: expected a positive finite number, got 0"),
    (lambda: Spectrogram(center=1), TypeError, r"`center`: expected True or False, got 1"),
    (lambda: MelSpectrogram(16000, fmax=9e3), ValueError,
     r"MelSpectrogram: .* `fmax`: expected a frequency in"),
    (lambda: MelSpectrogram(16000, fmax=9e3), ValueError,
     r"\(0, sample_rate / 2 = 8000\] Hz, got 9000\.0\."),
    (lambda: MelSpectrogram(16000, fmin=8e3), ValueError,
     r"`fmin`: expected a frequency in \[0, fmax = 8000\) Hz, got 8000\.0\."),
    (lambda: MelSpectrogram(norm="l2"), ValueError,
     r"`norm`: expected one of 'slaney', None, got 'l2'"),
    (lambda: MelSpectrogram(-1), ValueError, r"`sample_rate`: expected a positive finite number"),
    (lambda: mel_filterbank(16000, 512, fmax=9e3), ValueError, r"^mel_filterbank: .* `fmax`"),
    (lambda: MFCC(n_mfcc=200), ValueError, r"`n_mfcc`: expected an integer in \[1, n_mels=128\]"),
    (lambda: MFCC(lifter=-1), ValueError, r"`lifter`: expected a non-negative number, got -1"),
    (lambda: AmplitudeToDB(top_db=-1), ValueError, r"`top_db`: expected None or a non-negative"),
    (lambda: AmplitudeToDB(amin=0), ValueError,
     r"`amin`: expected a positive finite number, got 0"),
    (lambda: AmplitudeToDB(ref="median"), ValueError,
     r"`ref`: expected a positive number or 'max', got 'median'\."),
    (lambda: AmplitudeToDB("db"), ValueError, r"`stype`: expected one of 'power', 'magnitude'"),
    (lambda: Deltas(width=4), ValueError,
     r"Deltas: .* `width`: expected an odd integer >= 3, got 4"),
    (lambda: Deltas(width=3, order=3), ValueError, r"`order`: expected less than width=3, got 3"),
    (lambda: SpecAugment(-1, 2, 2, 2), ValueError,
     r"`freq_masks`: expected a non-negative integer"),
    (lambda: SpecAugment(1, 2, 2, 2, generator=0), TypeError,
     r"`generator`: expected None or a CPU torch.Generator, got 0\."),
]  # fmt: skip


@pytest.mark.parametrize(("build", "error", "match"), CONSTRUCTION_ERRORS)
def test_bad_arguments_are_refused_at_construction(build, error, match):
    with pytest.raises(error, match=match):
        build()


NAN_IN_ITEM_1 = torch.tensor([[0.0] * 50, [0.0] * 49 + [math.nan]])
SHORT_ITEM_1 = Padded(torch.zeros(2, 600), [600, 500])
CALL_ERRORS = [  # (module, input, error, message)
    (Spectrogram(), torch.zeros(2, 99, dtype=torch.long), TypeError,
     r"Spectrogram: .* `input`: expected a floating-point tensor \(B, S\) or \(S,\)"),
    (Spectrogram(), torch.zeros(2, 99, dtype=torch.long), TypeError,
     r"dtype torch.int64\. Convert it with \.float\(\)\."),
    (Spectrogram(), torch.zeros(2, 1, 99), ValueError,
     r"expected a tensor \(B, S\) or \(S,\), got a tensor of shape \(2, 1, 99\)"),
    (Spectrogram(), [0.0] * 10, TypeError, r"or a convrec.nn.Padded, got \[0.0"),
    (Spectrogram(), torch.zeros(2, 0), ValueError, r"expected at least one step on the time axis"),
    (MFCC(), NAN_IN_ITEM_1, ValueError,
     r"MFCC: .* expected finite values within each sequence's length"),
    (MFCC(), NAN_IN_ITEM_1, ValueError, r"got NaN or Inf in batch item 1\."),
    (MFCC(), Padded(torch.zeros(2, 50, 1), [50, 4]), ValueError, r"expected a 2-D tensor \(B, S\)"),
    (Spectrogram(512, center=False), SHORT_ITEM_1, ValueError,
     r"batch item 1 of length 500, which gives 0"),
    (Spectrogram(512, center=False), SHORT_ITEM_1, ValueError,
     r"Use center=True or a smaller n_fft\."),
    (Deltas(), torch.zeros(2, 5, 13), ValueError,
     r"Deltas: .* expected sequences of at least width=9 frames"),
    (Deltas(), torch.zeros(2, 5, 13), ValueError,
     r"got a sequence of 5 frames\. Use a smaller width"),
    (AmplitudeToDB(), torch.zeros(4, 2, 5, 13), ValueError,
     r"expected a tensor \(B, T, F\) or \(T, F\)"),
]  # fmt: skip


@pytest.mark.parametrize(("module", "value", "error", "match"), CALL_ERRORS)
def test_bad_inputs_are_refused_at_the_call(module, value, error, match):
    with pytest.raises(error, match=match):
        module(value)


def test_empty_mel_filters_warn():
    with pytest.warns(UserWarning, match=r"40 of 128 Mel filters are empty .* Use fewer n_mels"):
        MelSpectrogram(16000, n_fft=128)


# Devices.


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    mfcc = MFCC(16000, 13, **SPEECH, n_mels=40)
    batch = Padded(torch.randn(3, 8000, dtype=torch.float64), torch.tensor([8000, 5000, 3001]))
    expected = mfcc(batch)
    output = mfcc.cuda()(batch.to("cuda"))
    torch.testing.assert_close(output.data.cpu(), expected.data)
    augment = SpecAugment(2, 3, 2, 4, generator=torch.Generator().manual_seed(0))
    on_gpu = augment(torch.ones(4, 30, 10, device="cuda")).cpu()
    augment.generator.manual_seed(0)
    torch.testing.assert_close(on_gpu, augment(torch.ones(4, 30, 10)))
