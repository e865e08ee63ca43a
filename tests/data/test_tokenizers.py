import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convrec.data.tokenizers import PAD, UNK, Tokenizer, encode_dna, one_hot_dna


def test_vocabulary_comes_from_the_given_texts_only_most_frequent_first():
    tokenizer = Tokenizer.build(["b a b", "c b a"], level="word")
    assert tokenizer.tokens == [PAD, UNK, "b", "a", "c"]
    assert tokenizer.encode("a z b").tolist() == [3, 1, 2]


def test_min_count_and_max_size_limit_the_vocabulary():
    texts = ["x x x y y z"]
    assert Tokenizer.build(texts, min_count=2).tokens == [PAD, UNK, "x", "y"]
    assert Tokenizer.build(texts, max_size=3).tokens == [PAD, UNK, "x"]


def test_words_are_lowercased_and_punctuation_split_off():
    tokenizer = Tokenizer.build([""], level="word")
    assert tokenizer.split("Don't STOP, now!") == ["don't", "stop", ",", "now", "!"]


def test_characters_keep_case_and_spaces():
    tokenizer = Tokenizer.build(["ab A"], level="char")
    assert tokenizer.decode(tokenizer.encode("A b").tolist()) == ["A", " ", "b"]
    assert tokenizer.encode("?").tolist() == [1]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=5))
def test_state_round_trips_through_json_and_known_text_round_trips(texts):
    tokenizer = Tokenizer.build(texts, level="char")
    restored = Tokenizer.from_state(json.loads(json.dumps(tokenizer.state())))
    for text in texts:
        ids = restored.encode(text)
        assert torch.equal(ids, tokenizer.encode(text))
        assert "".join(restored.decode(ids.tolist())) == text


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: Tokenizer("sentence", [PAD, UNK]), "`level`: expected one of"),
        (lambda: Tokenizer("word", ["a", UNK]), "`tokens`: expected distinct tokens starting"),
        (lambda: Tokenizer("word", [PAD, UNK, "a", "a"]), "`tokens`"),
        (lambda: Tokenizer.build(["a"], max_size=2), "`max_size`: expected at least 3"),
        (lambda: Tokenizer.build(["a"], min_count=0), "`min_count`"),
        (lambda: Tokenizer.build(["a"]).encode(b"a"), "`text`: expected a string"),
        (lambda: Tokenizer.build(["a"]).decode([5]), r"`ids`: expected ids in \[0, 3\), got 5"),
        (lambda: encode_dna("ACGU"), "`sequence`: expected letters A, C, G, T, N, got 'U' at"),
        (lambda: encode_dna("ACGé"), "got 'é' at position 3"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_dna_one_hot_matches_the_ids():
    sequence = "ACGTNacgtn"
    ids = encode_dna(sequence)
    assert ids.tolist() == [0, 1, 2, 3, 4] * 2
    one_hot = one_hot_dna(sequence)
    assert one_hot.shape == (10, 4)
    assert torch.equal(one_hot[:4], torch.eye(4))
    assert torch.allclose(one_hot.sum(dim=1), torch.ones(10))
