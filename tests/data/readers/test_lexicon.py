import gzip

import pytest

from convrec.data.readers import FormatError
from convrec.data.readers.lexicon import read_lexicon

DICTIONARY = b""";;; # CMUdict  --  Major Version: 0.07
tomato T AH0 M EY1 T OW2
tomato(2) T AH0 M AA1 T OW2 # british

aalborg AO1 L B AO0 R G # place, danish
'bout B AW1 T
"""


def test_variants_comments_and_header_lines(tmp_path):
    expected = [
        ("tomato", ("T", "AH0", "M", "EY1", "T", "OW2")),
        ("tomato", ("T", "AH0", "M", "AA1", "T", "OW2")),
        ("aalborg", ("AO1", "L", "B", "AO0", "R", "G")),
        ("'bout", ("B", "AW1", "T")),
    ]
    assert read_lexicon(DICTIONARY) == expected
    (tmp_path / "cmudict.dict.gz").write_bytes(gzip.compress(DICTIONARY))
    assert read_lexicon(tmp_path / "cmudict.dict.gz") == expected


def test_a_word_without_phonemes_is_refused_naming_the_line():
    with pytest.raises(
        FormatError, match=r"<bytes>, line 2: expected a word followed by its phonemes"
    ):
        read_lexicon(b"cat K AE1 T\ndog\n")


@pytest.mark.parametrize("phoneme", ["ah0", "AH10", "K-", "1"])
def test_a_phoneme_that_is_not_arpabet_is_refused_naming_it(phoneme):
    with pytest.raises(
        FormatError, match=rf"line 1: expected phonemes of upper-case .* got '{phoneme}'"
    ):
        read_lexicon(f"cat K {phoneme} T\n".encode())
