"""The argument checks the zoo models share: each accepts what it should, names what it refuses."""

import pytest
import torch

from convrec.models.arguments import (
    boolean,
    fixed_input,
    image_or_sequence_shape,
    image_shape,
    input_kind,
    positive_ints,
    sequence_features,
    sequence_shape,
)


def test_image_shape_takes_three_sizes_and_open_sides_only_when_allowed():
    assert image_shape("M", [3, 32, 32]) == (3, 32, 32)
    assert image_shape("M", (1, None, 20), fixed_size=False) == (1, None, 20)
    with pytest.raises(ValueError, match=r"M: .*`input_shape`: expected an image shape .* got"):
        image_shape("M", (1, None, 20))
    with pytest.raises(ValueError, match="positive integers or None, got \\(None, 8, 8\\)"):
        image_shape("M", (None, 8, 8), fixed_size=False)


def test_sequence_shape_refuses_an_open_length_only_for_fixed_size_models():
    assert sequence_shape("M", (None, 4)) == (None, 4)
    assert sequence_features("M", (10, 4)) == 4
    with pytest.raises(ValueError, match=r"fixed length T \(M needs fixed-size input\)"):
        sequence_shape("M", (None, 4), fixed_length=True)
    with pytest.raises(ValueError, match=r"expected a sequence shape \(T, F\)"):
        sequence_features("M", (10, True))


def test_image_or_sequence_shape_tells_them_apart_by_length():
    assert image_or_sequence_shape("M", (1, 8, 8)) == (1, 8, 8)
    assert image_or_sequence_shape("M", (None, 2)) == (None, 2)
    with pytest.raises(ValueError, match=r"an image shape \(C, H, W\) or a sequence shape"):
        image_or_sequence_shape("M", (5,))


def test_input_kind_needs_a_vocabulary_for_tokens_and_none_for_features():
    assert input_kind("M", (None,), 10) == "tokens"
    assert input_kind("M", (None, 3), None) == "sequence"
    with pytest.raises(ValueError, match="`vocab_size`: expected a positive integer"):
        input_kind("M", (None,), None)
    with pytest.raises(ValueError, match="`vocab_size`: expected None for feature vectors"):
        input_kind("M", (None, 3), 10)


def test_positive_ints_and_boolean():
    assert positive_ints("M", "widths", [4, 8]) == (4, 8)
    with pytest.raises(ValueError, match=r"`widths`: expected a non-empty tuple .* got \(\)"):
        positive_ints("M", "widths", ())
    assert boolean("M", "flag", False) is False
    with pytest.raises(TypeError, match="`flag`: expected True or False, got 0"):
        boolean("M", "flag", 0)


def test_fixed_input_checks_type_dtype_and_shape():
    x = torch.zeros(2, 3, 4)
    assert fixed_input("M", x, (3, 4)) is x
    with pytest.raises(ValueError, match=r"shape \(B, 3, 5\), as its input_shape, got a tensor"):
        fixed_input("M", x, (3, 5))
    with pytest.raises(ValueError, match="floating-point"):
        fixed_input("M", x.long(), (3, 4))
    with pytest.raises(TypeError, match="got 'x'"):
        fixed_input("M", "x", (3, 4))
