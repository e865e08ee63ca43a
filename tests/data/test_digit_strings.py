"""Spoken digit strings from espeak-ng: each recording says its digits (one espeak-ng call, the
speech between stretches of noise), the splits' voices are disjoint, builds are seeded and
cached, bad arguments are refused by name."""

import re

import numpy as np
import pytest
import torch

from convrec.data import load_dataset
from convrec.data.digit_strings import DIGIT_WORDS, MARGIN_SECONDS, SpokenDigitStrings
from convrec.data.speech import SAMPLE_RATE, SPLITS
from tests.data.test_keywords import needs_espeak


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVREC_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


@needs_espeak
def test_each_recording_says_its_digits_between_stretches_of_noise():
    dataset = SpokenDigitStrings("test", size=6, digits_per_recording=(2, 4), snr_db=(30, 30))
    assert len(dataset) == 6 and dataset.classes == DIGIT_WORDS
    lengths = []
    for index in range(len(dataset)):
        waveform, digits = dataset[index]
        assert waveform.dtype == torch.float32 and waveform.dim() == 1
        assert digits.dtype == torch.int64 and 2 <= len(digits) <= 4
        assert digits.min() >= 0 and digits.max() <= 9
        assert dataset.text(index) == " ".join(DIGIT_WORDS[digit] for digit in digits)
        shortest_noise = round(MARGIN_SECONDS[0] * SAMPLE_RATE)
        edges = torch.cat([waveform[:shortest_noise], waveform[-shortest_noise:]])
        assert waveform.abs().max() > 10 * edges.abs().max()  # speech 30 dB over the noise
        lengths.append(len(waveform))
    assert min(lengths) > 0.5 * SAMPLE_RATE and len(set(lengths)) > 1
    assert torch.equal(dataset[-1][1], dataset[5][1]) and dataset.text(-6) == dataset.text(0)
    with pytest.raises(IndexError):
        dataset[6]
    assert set(dataset.speakers.tolist()) <= set(range(len(dataset.voices)))


@needs_espeak
def test_the_registry_gives_variable_length_splits_with_disjoint_voices():
    splits = load_dataset("digit-strings", size=2, seed=1)
    assert splits.variable_length and splits.sizes() == {"train": 2, "validation": 2, "test": 2}
    voices = [set(splits.info["voices"][split]) for split in SPLITS]
    assert not (voices[0] & voices[1] or voices[0] & voices[2] or voices[1] & voices[2])
    assert all(getattr(splits, split).parameters["seed"] == 1 for split in SPLITS)


@needs_espeak
def test_the_same_seed_gives_the_same_recordings_read_back_from_the_cache(tmp_path, monkeypatch):
    built = SpokenDigitStrings("validation", size=3)
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng from here on
    loaded = SpokenDigitStrings("validation", size=3)
    assert loaded.cache_path == built.cache_path
    for index in range(3):
        assert torch.equal(loaded[index][0], built[index][0])
        assert torch.equal(loaded[index][1], built[index][1])
    monkeypatch.undo()
    other = SpokenDigitStrings("validation", size=3, seed=1)
    assert not np.array_equal(other.digits, built.digits)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"digits_per_recording": (0, 3)}, "`digits_per_recording`"),
        ({"digits_per_recording": (5, 3)}, "`digits_per_recording`"),
        ({"size": 0}, "`size`"),
        ({"split": "dev"}, "`split`"),
        ({"snr_db": (5.0,)}, "`snr_db`"),
    ],
)
def test_bad_arguments_are_refused_by_name(arguments, message, data_dir):
    with pytest.raises(ValueError, match=re.escape(message)):
        SpokenDigitStrings(**arguments)
    assert not data_dir.exists()


def test_the_registry_refuses_a_root_folder(tmp_path):
    with pytest.raises(ValueError, match=re.escape("`root`: expected None")):
        load_dataset("digit-strings", root=tmp_path)
