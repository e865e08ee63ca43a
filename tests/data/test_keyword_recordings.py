"""Long keyword recordings: words at the times their events say, apart, half of them keywords,
in the split's voices; deterministic and cached; bad arguments named."""

from __future__ import annotations

import numpy as np
import pytest

from convrec.data.keyword_recordings import MIN_GAP, KeywordRecordings
from convrec.data.speech import SAMPLE_RATE, default_voices, split_voices
from convrec.errors import UserError
from tests.data.test_keywords import needs_espeak


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVREC_DATA", str(tmp_path / "data"))


def tiny(split: str = "test", seed: int = 0) -> KeywordRecordings:
    return KeywordRecordings(
        split,
        recordings=2,
        seconds=10.0,
        words_per_minute=24.0,
        keywords=("yes", "no"),
        unknown_words=("cat", "bird"),
        seed=seed,
        snr_db=(30.0, 30.0),
    )


@needs_espeak
def test_words_are_where_the_events_say_apart_and_half_of_them_keywords():
    recordings = tiny()
    assert len(recordings) == 2 and recordings.classes == ("yes", "no", "_unknown_", "_silence_")
    for index in range(2):
        waveform, events = recordings[index]
        assert waveform.shape == (10 * SAMPLE_RATE,) and len(events) == 4
        labels, starts, stops = events.numpy().T
        assert sorted(labels < 2) == [False, False, True, True]  # two keywords, two unknowns
        assert set(labels) <= {0, 1, 2}
        gaps = np.diff(np.concatenate([[0], np.ravel(np.stack([starts, stops], 1)), [160_000]]))
        assert np.all(gaps[::2] >= MIN_GAP * SAMPLE_RATE)  # noise between words and at the ends
        power = waveform.numpy() ** 2
        inside = np.mean(
            [power[start:stop].mean() for start, stop in zip(starts, stops, strict=True)]
        )
        assert inside > 100 * power[: starts[0]].mean()  # speech at 30 dB over the noise
    assert recordings.voices == split_voices("test", default_voices(), "test")  # held out


@needs_espeak
def test_a_build_is_a_pure_function_of_its_parameters_and_is_cached():
    first = tiny()
    again = tiny()
    assert np.array_equal(first.waveforms, again.waveforms)
    assert np.array_equal(first.events, again.events)
    assert again.cache_path == first.cache_path and first.cache_path.exists()
    assert not np.array_equal(tiny(seed=1).events, first.events)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"split": "dev"}, "`split`"),
        ({"seconds": 5.0}, "`seconds`: expected at least 10"),
        ({"words_per_minute": 60.0, "seconds": 10.0}, "`words_per_minute`: expected fewer"),
        ({"recordings": 0}, "`recordings`"),
        ({"keywords": ("yes",), "unknown_words": ("yes",)}, "`unknown_words`"),
    ],
)
def test_bad_arguments_are_named(arguments, named):
    with pytest.raises(UserError, match=named):
        KeywordRecordings(**arguments)
