"""Output-size formulas of the notes, as pure functions of ints and of length tensors."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from convrec.nn import conv_output_size, effective_kernel, padding_pair, pool_output_size


@pytest.mark.parametrize(
    ("n", "kernel", "stride", "padding", "expected"),
    [
        (10, 3, 1, 0, 8),  # the notes: the 1D example, f * g has 8 values
        (10, 3, 1, 1, 10),  # zero padding keeps the size
        (10, 3, 2, 0, 4),  # stride 2
        (6, 3, 1, 0, 4),  # the notes: the 6x6 image and a 3x3 filter give a 4x4 map
        (6, 3, 2, 0, 2),  # ... and a 2x2 one with stride 2
        (32, 5, 1, 0, 28),  # the notes: LeNet's first layer on CIFAR-10
        (6, 2, 1, 0, 5),  # the notes: L=6, kernel 2, stride 1 -> L - ks + 1
        (6, 2, 2, 0, 3),  # ... stride 2
    ],
)
def test_conv_output_size_reproduces_the_notes(n, kernel, stride, padding, expected):
    assert conv_output_size(n, kernel, stride, padding) == expected


@pytest.mark.parametrize(("kernel", "padding"), [(3, 1), (5, 2), (7, 3)])
def test_the_notes_keep_dimensions_with_p_equal_to_half_f(kernel, padding):
    # the notes: "Keep dimensions: F = 3 -> P = 1, F = 5 -> P = 2, F = 7 -> P = 3".
    assert conv_output_size(28, kernel, 1, padding) == 28
    assert padding_pair("same", kernel) == (padding, padding)


@given(
    n=st.integers(1, 300),
    kernel=st.integers(1, 9),
    stride=st.integers(1, 5),
    dilation=st.integers(1, 4),
    mode=st.sampled_from(["same", "causal"]),
)
def test_same_and_causal_give_ceil_n_over_s_for_any_stride(n, kernel, stride, dilation, mode):
    assert conv_output_size(n, kernel, stride, mode, dilation) == math.ceil(n / stride)


def test_padding_modes_split_the_kernel_extent():
    assert effective_kernel(3, dilation=2) == 5
    assert padding_pair("valid", 4) == (0, 0)
    assert padding_pair("same", 4) == (1, 2)  # the odd one goes right, as in PyTorch and Keras
    assert padding_pair("causal", 3, dilation=2) == (4, 0)
    with pytest.raises(ValueError, match="expected an integer or one of"):
        padding_pair("full", 3)


@given(
    n=st.integers(1, 200),
    kernel=st.integers(1, 6),
    stride=st.integers(1, 6),
    padding=st.integers(0, 3),
    ceil_mode=st.booleans(),
)
def test_pool_output_size_equals_pytorch(n, kernel, stride, padding, ceil_mode):
    if 2 * padding > kernel or n + 2 * padding < kernel:
        return
    out = torch.nn.functional.max_pool1d(
        torch.zeros(1, 1, n), kernel, stride, padding, ceil_mode=ceil_mode
    )
    assert pool_output_size(n, kernel, stride, padding, ceil_mode=ceil_mode) == out.shape[-1]


def test_pool_output_size_is_the_notes_ceiling_formula():
    # the notes: an N x N map, F x F windows, stride S -> ceil((N - F) / S) + 1.
    assert pool_output_size(4, 2) == 2
    assert pool_output_size(5, 2) == 3
    assert pool_output_size(5, 2, ceil_mode=False) == 2
    assert pool_output_size(7, 3, 2) == 3
    assert pool_output_size(10, 3, 2, "same") == 5


def test_sizes_work_elementwise_on_length_tensors():
    lengths = torch.tensor([1, 5, 10, 11])
    assert conv_output_size(lengths, 3, 2, "same").tolist() == [1, 3, 5, 6]
    assert conv_output_size(lengths, 3).tolist() == [-1, 3, 8, 9]
    assert pool_output_size(lengths, 2).tolist() == [1, 3, 5, 6]
    assert pool_output_size(torch.tensor([5]), 1, 3).tolist() == [2]  # window at 6 dropped
