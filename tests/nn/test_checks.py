"""The argument checks every layer shares, and their message shape."""

import pytest
import torch

from convrec.checks import (
    describe,
    fail,
    int_tuple,
    keyword_names,
    known_options,
    non_negative_int,
    one_of,
    positive_float,
    positive_int,
    probability,
    takes_any_keyword,
)
from convrec.nn.checks import channels, first_non_finite, floating_tensor


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
    assert describe((torch.zeros(1), torch.zeros(2), torch.zeros(3))) == (
        "a tuple of 3 items (a tensor of shape (1,) and dtype torch.float32; "
        "a tensor of shape (2,) and dtype torch.float32; ...)"
    )


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


def test_tensor_checks_refuse_ragged_lists_and_empty_tensors():
    with pytest.raises(TypeError, match=r"got a list of 2 items .*nn\.Padded\.from_sequences"):
        floating_tensor("L", "input", [torch.zeros(3, 2), torch.zeros(1, 2)], 3, "(B, T, C)")
    with pytest.raises(ValueError, match=r"non-empty tensor \(B, T, C\).* shape \(2, 0, 3\)"):
        floating_tensor("L", "input", torch.zeros(2, 0, 3), 3, "(B, T, C)")


@pytest.mark.parametrize(
    ("shape", "axis", "hint"),
    [
        ((1, 5, 5, 3), 1, r"Axis -1 holds 3: is the input channels-last\? .*x\.movedim\(-1, 1\)"),
        ((1, 3, 5), -1, r"Axis 1 holds 3: is the input channels-first\? .*x\.movedim\(1, -1\)"),
    ],
)
def test_channel_check_spots_a_swapped_layout(shape, axis, hint):
    with pytest.raises(ValueError, match=hint):
        channels("L", torch.zeros(shape), axis, 3, "(layout)")


def test_channel_check_gives_no_layout_hint_when_no_axis_fits():
    with pytest.raises(ValueError, match=r"got 4 \(shape \(1, 4, 5\)\)\.$"):
        channels("L", torch.zeros(1, 4, 5), 1, 3, "(B, C, T)")


def test_first_non_finite_finds_the_first_nan_or_inf():
    data = torch.zeros(2, 3, 4)
    assert first_non_finite(data) is None
    data[1, 2, 0], data[1, 0, 3] = float("inf"), float("nan")
    assert first_non_finite(data) == (1, 0, 3)
    assert first_non_finite(torch.tensor([1e38, 1e38, 1e38])) is None  # the sum overflows


def test_option_names_come_from_the_signature():
    def build(self, input_shape, size=1, *, mode="a", **extra):
        return None

    assert keyword_names(build, exclude=("input_shape",)) == ("size", "mode")
    assert takes_any_keyword(build) and not takes_any_keyword(lambda size: size)


def test_known_options_names_the_unknown_and_a_close_match():
    known_options("gru", "model_options", {"hidden_size": 3}, ["hidden_size"])
    known_options("keywords", "task_options", {"anything": 1}, None)
    with pytest.raises(
        ValueError,
        match=r"gru: invalid value for argument `model_options`: expected options among "
        r"hidden_size, num_layers, got 'hiden_size'\. Did you mean 'hidden_size'\?",
    ):
        known_options("gru", "model_options", {"hiden_size": 3}, ["hidden_size", "num_layers"])
