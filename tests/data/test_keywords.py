"""Spoken keywords from espeak-ng: voices, resampling, noise and mixing against their definitions;
the datasets' items, voice-disjoint splits, determinism, cache and argument errors."""

import hashlib
import re
import shutil
import time

import numpy as np
import pytest
import torch

from convrec.data import speech
from convrec.data.keywords import (
    SILENCE,
    UNKNOWN,
    KeywordSpotting,
    WelcomeDetection,
    keyword_spotting,
    welcome_detection,
)
from convrec.data.readers.wav import read_wav
from convrec.data.speech import (
    SAMPLE_RATE,
    SPLITS,
    EspeakNotFoundError,
    Utterance,
    colored_noise,
    default_voices,
    mix,
    resample,
    split_voices,
    synthesize,
    synthesize_all,
    trim_silence,
    voice_split,
)

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (apt-get install -y espeak-ng)",
)


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVREC_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def tiny_keywords(split="train", seed=0):
    return KeywordSpotting(
        split, keywords=("yes", "no"), unknown_words=("cat", "bird"), clips_per_class=2, seed=seed
    )


def tiny_welcome(split="train", seed=0):
    return WelcomeDetection(
        split,
        size=4,
        duration=1.5,
        distractors=("yes", "well"),
        words_per_recording=(1, 2),
        seed=seed,
    )


TINY = {"keywords": tiny_keywords, "welcome": tiny_welcome}


def digest(dataset) -> str:
    hashed = hashlib.sha256(dataset.waveforms.tobytes())
    hashed.update(dataset.labels.tobytes())
    return hashed.hexdigest()


# Voices, resampling, trimming, noise and mixing: no espeak-ng needed.


def test_default_voices_cross_seven_accents_with_twelve_variants():
    voices = default_voices()
    assert len(voices) == len(set(voices)) == 7 * 12
    assert "en-us+f3" in voices
    assert "en-gb-scotland+m7" in voices
    assert "en-us+m8" not in voices


def test_voice_splits_are_disjoint_cover_the_pool_and_ignore_the_rest_of_it():
    pool = default_voices()
    splits = {split: split_voices("test", pool, split) for split in SPLITS}
    assert sorted(sum(splits.values(), ())) == sorted(pool)
    assert len(splits["train"]) > len(splits["validation"]) > 0
    assert len(splits["train"]) > len(splits["test"]) > 0
    subset = pool[::3]
    for split in SPLITS:
        assert split_voices("test", subset, split) == tuple(v for v in subset if v in splits[split])
    assert {voice_split(voice, seed=1) for voice in pool} == set(SPLITS)
    assert [voice_split(voice, seed=1) for voice in pool] != [voice_split(v) for v in pool]


def test_resample_matches_the_sine_sampled_at_the_target_rate():
    frequency, seconds = 440.0, 0.5
    source = np.sin(2 * np.pi * frequency * np.arange(int(22_050 * seconds)) / 22_050)
    target = np.sin(2 * np.pi * frequency * np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE)
    resampled = resample(source.astype(np.float32), 22_050)
    assert resampled.dtype == np.float32
    assert resampled.shape == target.shape
    interior = slice(200, -200)  # away from the filter's edge effects
    np.testing.assert_allclose(resampled[interior], target[interior], atol=2e-3)


def test_trim_silence_keeps_the_loud_middle_and_empties_a_silent_clip():
    samples = np.array([0.0, 0.002, 0.3, 0.0, -0.5, 0.004, 0.0])
    assert trim_silence(samples).tolist() == [0.3, 0.0, -0.5]
    assert trim_silence(samples, fraction=0.001).tolist() == samples[1:6].tolist()
    assert trim_silence(np.zeros(5)).shape == (0,)


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0])
def test_colored_noise_has_unit_rms_and_the_power_law_spectrum(exponent):
    noise = colored_noise(np.random.default_rng(0), 2**16, exponent)
    assert np.sqrt(np.mean(noise**2)) == pytest.approx(1.0)
    power = np.abs(np.fft.rfft(noise)) ** 2
    frequencies = np.fft.rfftfreq(len(noise))
    band = (frequencies > 1e-3) & (frequencies < 0.4)
    slope = np.polyfit(np.log(frequencies[band]), np.log(power[band]), 1)[0]
    assert slope == pytest.approx(-exponent, abs=0.1)


def test_mix_sets_the_speech_level_over_the_words_and_the_snr():
    rng = np.random.default_rng(1)
    word = rng.standard_normal(400) * np.hanning(400)
    noise = colored_noise(rng, 1000, 1.0)
    words = [(100, word), (550, word[:300])]
    speech_only = mix(1000, words, np.zeros(1000), -20.0, 12.0).astype(np.float64)
    noise_only = mix(1000, [], noise, -20.0, 12.0).astype(np.float64)
    both = mix(1000, words, noise, -20.0, 12.0)
    np.testing.assert_allclose(both, speech_only + noise_only, atol=1e-6)
    speech_power = np.sum(speech_only**2) / 700  # over the words' 700 samples
    assert 10 * np.log10(speech_power) == pytest.approx(-20.0, abs=1e-4)
    assert 10 * np.log10(speech_power / np.mean(noise_only**2)) == pytest.approx(12.0, abs=1e-4)
    assert np.all(speech_only[:100] == 0) and np.all(speech_only[850:] == 0)


def test_utterance_command_is_the_documented_espeak_call():
    command = Utterance("left", "en-gb-x-rp+m3", 200, 70).command("/usr/bin/espeak-ng")
    assert command == [
        "/usr/bin/espeak-ng",
        *("--stdout", "-v", "en-gb-x-rp+m3", "-s", "200", "-p", "70", "left"),
    ]


# Argument errors: raised before espeak-ng is called.

ERRORS = [
    (KeywordSpotting, {"split": "dev"}, "`split`: expected one of 'train', 'validation', 'test'"),
    (KeywordSpotting, {"keywords": ()}, "`keywords`: expected at least one word, got an empty"),
    (KeywordSpotting, {"keywords": ("yes", "Go!")}, "`keywords`: expected lowercase words"),
    (KeywordSpotting, {"keywords": ("yes", "yes")}, "expected distinct words, got 'yes' repeated"),
    (
        KeywordSpotting,
        {"unknown_words": ("cat", "yes")},
        "`unknown_words`: expected words that are not in `keywords`, got 'yes', also in",
    ),
    (KeywordSpotting, {"clips_per_class": 0}, "`clips_per_class`: expected a positive integer"),
    (KeywordSpotting, {"seed": -1}, "`seed`: expected a non-negative integer, got -1"),
    (KeywordSpotting, {"snr_db": (20, 5)}, "`snr_db`: expected a pair (low, high) of finite"),
    (KeywordSpotting, {"snr_db": (0, float("inf"))}, "got (0, inf)"),
    (KeywordSpotting, {"voices": []}, "`voices`: expected a non-empty sequence of voice names"),
    (KeywordSpotting, {"voices": ["en us"]}, "expected names like 'en-us' or 'en-us+f3'"),
    (KeywordSpotting, {"voices": ["en-us", "en-us"]}, "expected distinct voices"),
    (
        KeywordSpotting,
        {"split": "test", "voices": ["en-us+m3"]},
        "expected a pool with at least one voice in split 'test', got 1 voices, none of them",
    ),
    (KeywordSpotting, {"workers": 0}, "`workers`: expected a positive integer, got 0"),
    (WelcomeDetection, {"split": "val"}, "`split`: expected one of 'train', 'validation'"),
    (WelcomeDetection, {"size": 0}, "`size`: expected a positive integer, got 0"),
    (WelcomeDetection, {"duration": 0.5}, "`duration`: expected at least 1 second, got 0.5"),
    (WelcomeDetection, {"duration": -1.0}, "`duration`: expected a positive finite number"),
    (WelcomeDetection, {"keyword": "Welcome"}, "`keyword`: expected lowercase words"),
    (
        WelcomeDetection,
        {"distractors": ("well", "welcome")},
        "`distractors`: expected words that are not in `keyword`, got 'welcome'",
    ),
    (
        WelcomeDetection,
        {"words_per_recording": (0, 2)},
        "`words_per_recording`: expected a pair (low, high) of positive integers",
    ),
    (WelcomeDetection, {"words_per_recording": (3, 1)}, "with low <= high, got (3, 1)"),
]


@pytest.mark.parametrize(("dataset", "arguments", "message"), ERRORS)
def test_bad_arguments_raise_with_the_argument_named(dataset, arguments, message, data_dir):
    with pytest.raises(ValueError, match=re.escape(message)):
        dataset(**arguments)
    assert not data_dir.exists()


def test_a_string_instead_of_a_word_list_is_a_type_error():
    with pytest.raises(TypeError, match=re.escape("`keywords`: expected a sequence of words")):
        KeywordSpotting(keywords="yes")


def test_missing_espeak_says_how_to_install_it(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EspeakNotFoundError, match=re.escape("apt-get install -y espeak-ng")):
        tiny_keywords()
    assert not data_dir.exists()


# Synthesis and the datasets: espeak-ng needed.


@needs_espeak
def test_synthesize_trims_and_resamples_espeak_output_to_16k():
    utterance = Utterance("seven", "en-us+f3", 175, 50)
    samples = synthesize(utterance)
    raw = read_wav(speech._run(utterance.command()))
    assert raw.sample_rate == 22_050
    trimmed = trim_silence(raw.samples[0])
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert len(samples) == int(np.ceil(len(trimmed) * 320 / 441))
    assert 0.2 * SAMPLE_RATE < len(samples) < 0.8 * SAMPLE_RATE
    assert 0.1 < np.abs(samples).max() <= 1.0
    np.testing.assert_array_equal(samples, synthesize(utterance))


@needs_espeak
def test_synthesize_all_runs_each_distinct_utterance_once_in_parallel():
    utterances = [
        Utterance("yes", "en-us+m1", 150, 40),
        Utterance("no", "en-gb+f2", 200, 60),
        Utterance("yes", "en-us+m1", 150, 40),
        Utterance("yes", "en-us+m1", 150, 60),
    ]
    audio = synthesize_all(utterances, workers=2)
    assert sorted(audio) == sorted(set(utterances))
    for utterance, samples in audio.items():
        np.testing.assert_array_equal(samples, synthesize(utterance))
    assert len(audio[utterances[0]]) != len(audio[utterances[1]])


@needs_espeak
def test_voices_espeak_lacks_are_refused():
    speech.check_installed("test", ["en-us+f3", "en-gb-scotland+m7"])
    with pytest.raises(ValueError, match=re.escape("voices this espeak-ng has")):
        speech.check_installed("test", ["en-us+nosuchvariant"])


@needs_espeak
def test_keyword_clips_are_one_second_float32_with_balanced_classes():
    dataset = KeywordSpotting(
        keywords=("yes", "no"), unknown_words=("cat", "bird"), clips_per_class=2, snr_db=(30, 30)
    )
    assert dataset.classes == ("yes", "no", UNKNOWN, SILENCE)
    assert dataset.sample_rate == SAMPLE_RATE
    assert len(dataset) == 8
    assert np.bincount(dataset.labels).tolist() == [2, 2, 2, 2]
    silence = dataset.labels == dataset.classes.index(SILENCE)
    assert np.all(dataset.speakers[silence] == -1)
    assert np.all(dataset.speakers[~silence] >= 0)
    assert np.all(dataset.speakers < len(dataset.voices))
    for index in range(len(dataset)):
        waveform, label = dataset[index]
        assert waveform.dtype == torch.float32 and waveform.shape == (SAMPLE_RATE,)
        assert isinstance(label, int) and label == dataset.labels[index]
        assert waveform.abs().max() <= 1.0 and waveform.std() > 0
    magnitude = np.abs(dataset.waveforms.astype(np.float64))
    crest = magnitude.max(axis=1) / np.median(magnitude, axis=1)
    assert np.all(crest[~silence] > 20)  # a word 30 dB over the noise
    assert np.all(crest[silence] < 20)  # Gaussian noise alone


@needs_espeak
def test_registry_loader_gives_three_splits_with_disjoint_voices():
    splits = keyword_spotting(keywords=("yes",), unknown_words=("cat",), clips_per_class=1)
    assert splits.name == "keywords"
    assert splits.sizes() == {"train": 3, "validation": 3, "test": 3}
    assert splits.classes == ("yes", UNKNOWN, SILENCE)
    assert splits.info["sample_rate"] == SAMPLE_RATE
    voices = {split: set(getattr(splits, split).voices) for split in SPLITS}
    assert voices == {split: set(splits.info["voices"][split]) for split in SPLITS}
    assert not voices["train"] & voices["validation"]
    assert not voices["train"] & voices["test"]
    assert not voices["validation"] & voices["test"]
    for split in SPLITS:
        dataset = getattr(splits, split)
        assert dataset.split == split
        heard = {dataset.voices[speaker] for speaker in dataset.speakers if speaker >= 0}
        assert heard and heard <= voices[split]


@needs_espeak
def test_welcome_registry_loader_passes_its_options_to_every_split():
    splits = welcome_detection(seed=3, size=2, duration=1.0, distractors=("yes",))
    assert splits.sizes() == {"train": 2, "validation": 2, "test": 2}
    assert splits.classes == ("absent", "present")
    assert all(getattr(splits, split).parameters["seed"] == 3 for split in SPLITS)
    assert splits.test[0][0].shape == (SAMPLE_RATE,)


@pytest.mark.parametrize("loader", [keyword_spotting, welcome_detection])
def test_registry_loaders_refuse_a_root_folder(loader, tmp_path, data_dir):
    with pytest.raises(ValueError, match=re.escape("`root`: expected None (this data is synth")):
        loader(root=tmp_path)
    assert not data_dir.exists()


@needs_espeak
@pytest.mark.parametrize("name", TINY)
def test_same_seed_gives_identical_arrays_another_seed_does_not(name, tmp_path, monkeypatch):
    build = TINY[name]
    first = digest(build())
    monkeypatch.setenv("CONVREC_DATA", str(tmp_path / "elsewhere"))
    again = build()
    assert (tmp_path / "elsewhere").exists()  # built again, not read from the first cache
    assert digest(again) == first
    assert digest(build(seed=1)) != first


@needs_espeak
@pytest.mark.parametrize("name", TINY)
def test_second_construction_loads_the_cache_without_espeak(name, tmp_path, monkeypatch, data_dir):
    build = TINY[name]
    start = time.perf_counter()
    built = build()
    build_seconds = time.perf_counter() - start
    assert built.cache_path.parent == data_dir / "keywords"
    assert [path.name for path in built.cache_path.parent.iterdir()] == [built.cache_path.name]
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng from here on
    start = time.perf_counter()
    loaded = build()
    load_seconds = time.perf_counter() - start
    assert load_seconds < build_seconds / 3
    assert loaded.cache_path == built.cache_path
    assert digest(loaded) == digest(built)
    np.testing.assert_array_equal(loaded.speakers, built.speakers)
    assert loaded.parameters == built.parameters and loaded.parameters["seed"] == 0
    assert loaded.espeak_version.startswith("eSpeak NG")


@needs_espeak
def test_a_cache_made_by_another_espeak_is_synthesised_again_with_a_warning(monkeypatch):
    built = tiny_keywords()
    installed = speech.espeak_version()
    made = built.cache_path.stat().st_mtime_ns
    monkeypatch.setattr(speech, "installed_espeak_version", lambda: "eSpeak NG 0.0-other")
    with pytest.warns(UserWarning, match=r"synthesised by 'eSpeak NG .*'; this machine has"):
        again = tiny_keywords()
    assert again.espeak_version == "eSpeak NG 0.0-other"
    assert again.cache_path == built.cache_path and again.cache_path.stat().st_mtime_ns != made
    assert digest(again) == digest(built)  # the same espeak-ng really ran: the same clips
    monkeypatch.setattr(speech, "installed_espeak_version", lambda: None)  # no espeak-ng
    assert tiny_keywords().espeak_version == "eSpeak NG 0.0-other"  # the cache, as it is
    monkeypatch.setattr(speech, "installed_espeak_version", lambda: installed)
    with pytest.warns(UserWarning, match="synthesised by 'eSpeak NG 0.0-other'"):
        assert tiny_keywords().espeak_version == installed


@needs_espeak
def test_welcome_is_in_half_the_recordings_at_the_recorded_position():
    dataset = WelcomeDetection(
        "validation", size=6, duration=1.5, words_per_recording=(1, 1), snr_db=(10, 10)
    )
    assert dataset.classes == ("absent", "present")
    assert dataset.labels.sum() == 3
    assert dataset.waveforms.shape == (6, 24_000)
    for index in range(len(dataset)):
        waveform, label = dataset[index]
        start, stop = dataset.positions[index].tolist()
        assert waveform.shape == (24_000,)
        if not label:
            assert start == stop == -1
            continue
        assert 0 <= start < stop <= 24_000
        assert stop - start > 0.3 * SAMPLE_RATE
        inside = waveform[start:stop].pow(2).mean()
        outside = torch.cat([waveform[:start], waveform[stop:]]).pow(2).mean()
        assert inside > 4 * outside  # the word alone, at 10 dB over the noise


@needs_espeak
def test_words_that_do_not_fit_are_dropped_and_the_keyword_kept():
    dataset = WelcomeDetection("test", size=4, duration=1.0, words_per_recording=(3, 3))
    present = dataset.labels == 1
    assert present.sum() == 2
    starts, stops = dataset.positions[present].T
    assert np.all((starts >= 0) & (stops <= SAMPLE_RATE))
