"""The flite keyword set of benchmarks/keywords_engines.py: one-second clips in class folders,
each word at the keyword set's levels, clean and noisy, the same on every build."""

import shutil

import numpy as np
import pytest

from convrec.data.audio_files import list_audio, load_audio
from convrec.data.keywords import LEVEL_DB
from tests.benchmarks.scripts import load_script

pytestmark = pytest.mark.skipif(
    shutil.which("flite") is None, reason="flite is not installed (apt-get install -y flite)"
)


def test_the_flite_set_is_class_folders_of_placed_words(tmp_path):
    engines = load_script("keywords_engines")
    folders = engines.build_flite_set(tmp_path / "a", ("yes", "stop"), ("kal", "slt"))
    assert sorted(folders) == ["kal", "slt"]
    for voice, folder in folders.items():
        listed = list_audio(folder)
        assert sorted(set(listed.labels)) == ["stop", "yes"] and len(listed.files) == 12
        for file in listed.files:
            clip = load_audio(file)
            assert clip.sample_rate == 16_000 and clip.samples.shape == (16_000,)
            spoken = clip.samples[np.abs(clip.samples) > 0]
            if "clean" in file.name:
                assert 0.15 < len(spoken) / 16_000 < 0.9, (voice, file.name)
                level = 10 * np.log10(np.mean(spoken.astype(np.float64) ** 2))
                assert LEVEL_DB[0] - 3 < level < LEVEL_DB[1] + 1, (voice, file.name, level)
            else:
                assert len(spoken) > 15_000  # noise under and around the word
    again = engines.build_flite_set(tmp_path / "b", ("yes", "stop"), ("kal", "slt"))
    for voice in folders:
        first, second = list_audio(folders[voice]).files, list_audio(again[voice]).files
        assert [file.read_bytes() for file in first] == [file.read_bytes() for file in second]
