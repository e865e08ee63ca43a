"""The CMU dictionary's loader on a small dictionary in its format: what is kept, the split by
word, every pronunciation of a held-out word, the vocabularies."""

import pytest

from convrec.data import load_dataset
from convrec.data.pronunciation import END, START, Lexicon
from convrec.data.sources import status

KEPT = [
    f"{stem}{ending}"
    for stem in ("bat", "cot", "dun", "fig", "gum")
    for ending in ("", "s", "ter", "ly", "ing", "'s")
]
DROPPED = ["a.m.", "able-bodied", "r2d2", "w_x"]


def write_dictionary(folder, extra: str = "") -> None:
    lines = [
        f"{word} {' '.join(letter.upper() + '1' for letter in word if letter.isalpha())}"
        for word in KEPT
    ]
    lines += ["batter(2) B1 A1 D1 E1 R1", "cots(2) C1 A1 T1 S1 # informal"]
    lines += [f"{word} EY1" for word in DROPPED]
    (folder / "cmudict.dict").write_text("\n".join(lines) + "\n" + extra)


def test_words_of_letters_and_apostrophes_are_kept_split_by_word(tmp_path):
    write_dictionary(tmp_path)
    splits = load_dataset(
        "cmudict", root=tmp_path, seed=3, validation_fraction=0.1, test_fraction=0.2
    )
    held = set(splits.validation.words) | set(splits.test.words)
    assert len(splits.test) == 6 and len(splits.validation) == 3  # 30 words: 20%, then 10%
    assert not set(splits.validation.words) & set(splits.test.words)
    letters = splits.tokenizer
    trained = {"".join(letters.decode(word.tolist())) for word, _ in splits.train}
    assert trained | held == set(KEPT) and not trained & held
    assert len(splits.train) == 21 + sum(word in trained for word in ("batter", "cots"))
    assert splits.info["train_words"] == 21


def test_a_held_out_word_keeps_every_pronunciation_and_stress_is_dropped_by_default(tmp_path):
    write_dictionary(tmp_path)
    for seed in range(40):  # a seed that holds 'batter' out
        splits = load_dataset("cmudict", root=tmp_path, seed=seed, test_fraction=0.2)
        if "batter" in splits.test.words:
            break
    test = splits.test
    assert isinstance(test, Lexicon)
    phonemes = splits.info["phonemes"]
    options = test.alternatives[test.words.index("batter")]
    assert [phonemes.decode(option.tolist()) for option in options] == [
        ["B", "A", "T", "T", "E", "R"],
        ["B", "A", "D", "E", "R"],
    ]
    assert test[test.words.index("batter")][1].tolist() == options[0].tolist()
    assert phonemes.tokens[:4] == ["<pad>", "<unk>", START, END]


def test_stress_marks_are_kept_on_request(tmp_path):
    write_dictionary(tmp_path)
    splits = load_dataset("cmudict", root=tmp_path, stress=True)
    assert "B1" in splits.info["phonemes"].tokens and "B" not in splits.info["phonemes"].tokens


def test_the_split_depends_on_the_seed_only(tmp_path):
    write_dictionary(tmp_path)
    first, again, other = (load_dataset("cmudict", root=tmp_path, seed=seed) for seed in (1, 1, 2))
    assert first.test.words == again.test.words
    assert first.test.words != other.test.words or first.validation.words != other.validation.words


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"stress": "yes"}, "`stress`: expected True or False"),
        ({"test_fraction": 0.0}, "`test_fraction`: expected a fraction above 0"),
        (
            {"validation_fraction": 1.5},
            r"`validation_fraction`: expected a number in \[0, 1\), got 1.5",
        ),
        (
            {"validation_fraction": 0.5, "test_fraction": 0.5},
            "`validation_fraction \\+ test_fraction`: expected a sum below 1 .*, got 1.0",
        ),
        (
            {"test_fraction": 0.01},
            "`root`: expected a dictionary large enough for a word in every split",
        ),
    ],
)
def test_bad_options_are_refused_by_name(tmp_path, options, match):
    write_dictionary(tmp_path)
    with pytest.raises(ValueError, match=match):
        load_dataset("cmudict", root=tmp_path, **options)


def test_a_dictionary_too_small_to_split_is_refused(tmp_path):
    (tmp_path / "cmudict.dict").write_text("cat K AE1 T\n")
    with pytest.raises(
        ValueError, match="`root`: expected a dictionary of at least 20 words, got 1 words"
    ):
        load_dataset("cmudict", root=tmp_path)


def test_the_real_dictionary_matches_data_md():
    if status("cmudict") != "fetched":
        pytest.skip("source cmudict not fetched (convrec data fetch cmudict)")
    splits = load_dataset("cmudict")
    words = splits.info["train_words"] + len(splits.validation) + len(splits.test)
    assert words == 124926 and (len(splits.validation), len(splits.test)) == (6246, 6246)
    assert len(splits.train) == 120284  # 112,434 words, with their other pronunciations
    assert len(splits.info["phonemes"]) == 4 + 39  # the specials and ARPAbet without stress
    assert sum(len(options) > 1 for options in splits.test.alternatives) > 300
