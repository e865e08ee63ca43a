"""The argument checks every layer shares, and their message shape."""

import pytest
import torch

from convrec.nn.checks import (
    channels,
    describe,
    fail,
    floating_tensor,
    int_tuple,
    non_negative_int,
    one_of,
    positive_float,
    positive_int,
    probability,
)


def test_fail_builds_the_four_part_message():
    error = fail("Conv1d", "kernel_size", "a positive integer", "0", hint="Try 3.")
    assert isinstance(error, ValueError)
    assert str(error) == (
        "Conv1d: invalid value for argument `kernel_size`: "
        "expected a positive integer, got 0. Try 3."
    )


def test_describe_names_tensors_by_shape_and_dtype():
    assert describe(torch.zeros(2, 3)) == "a tensor of shape (2, 3) and dtype torch.float32"
    assert describe([1]) == "[1]"


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "3", None])
def test_positive_int_refuses_what_is_not_a_positive_int(value):
    with pytest.raises(ValueError, match=f"expected a positive integer, got {value!r}"):
        positive_int("Layer", "units", value)


def test_numeric_checks_accept_good_values_and_refuse_bad_ones():
    assert positive_int("L", "a", 3) == 3
    assert non_negative_int("L", "a", 0) == 0
    assert probability("L", "p", 0.5) == 0.5
    assert positive_float("L", "eps", 1e-5) == 1e-5
    with pytest.raises(ValueError, match=r"expected a number in \[0, 1\), got 1"):
        probability("L", "p", 1)
    with pytest.raises(ValueError, match="expected a positive finite number, got inf"):
        positive_float("L", "eps", float("inf"))
    with pytest.raises(ValueError, match="expected a non-negative integer, got -1"):
        non_negative_int("L", "a", -1)


def test_one_of_lists_the_choices():
    with pytest.raises(ValueError, match="expected one of 'max', 'mean', got 'median'"):
        one_of("Pool1d", "kind", "median", ("max", "mean"))


def test_int_tuple_expands_ints_and_checks_tuples():
    assert int_tuple("L", "k", 3, 2, 1) == (3, 3)
    assert int_tuple("L", "k", (1, 2), 2, 1) == (1, 2)
    with pytest.raises(
        ValueError, match="expected a positive integer or a tuple of 2 of them, got"
    ):
        int_tuple("L", "k", (1, 2, 3), 2, 1)


def test_tensor_and_channel_checks():
    with pytest.raises(TypeError, match=r"expected a tensor \(B, T, C\) or a convrec.nn.Padded"):
        floating_tensor("L", "input", [1.0], 3, "(B, T, C)")
    with pytest.raises(ValueError, match=r"expected 4 channels on the channel axis of \(B, T, C\)"):
        channels("L", torch.zeros(1, 2, 3), -1, 4, "(B, T, C)")
