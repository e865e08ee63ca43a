"""Convolution: the notes' worked examples, fast path against the definition, padded batches."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from convrec.nn import Conv1d, Conv2d, Conv3d, Padded, convolve, convolve_reference
from convrec.nn.conv import resolve_padding

SIGNAL = [4.0, 3, 2, -5, 3, 5, 2, 5, 5, 6]  # the notes, "Discrete Convolution: 1D case"
IMAGE = [  # the notes, the 6 x 6 image
    [1.0, 0, 0, 0, 0, 1],
    [0, 1, 0, 0, 1, 0],
    [0, 0, 1, 1, 0, 0],
    [1, 0, 0, 0, 1, 0],
    [0, 1, 0, 0, 1, 0],
    [0, 0, 1, 0, 1, 0],
]
FILTER_1 = [[1.0, -1, -1], [-1, 1, -1], [-1, -1, 1]]
FILTER_2 = [[-1.0, 1, -1], [-1, 1, -1], [-1, 1, -1]]
MAP_1 = [[3.0, -1, -3, -1], [-3, 1, 0, -3], [-3, -3, 0, 1], [3, -2, -2, -1]]
MAP_2 = [[-1.0, -1, -1, -1], [-1, -1, -2, 1], [-1, -1, -2, 1], [-1, 0, -4, 3]]


def averaging_conv(**options) -> Conv1d:
    conv = Conv1d(1, 1, 3, bias=False, **options).double()
    with torch.no_grad():
        conv.weight.fill_(1 / 3)
    return conv


def signal() -> torch.Tensor:
    return torch.tensor(SIGNAL, dtype=torch.float64).view(1, 10, 1)


def test_the_1d_example_with_valid_padding():
    output = averaging_conv()(signal()).flatten()
    expected = torch.tensor([3, 0, 0, 1, 10 / 3, 4, 4, 16 / 3], dtype=torch.float64)
    torch.testing.assert_close(output, expected)


def test_the_1d_example_with_zero_same_padding():
    output = averaging_conv(padding="same")(signal()).flatten()
    expected = torch.tensor([7 / 3, 3, 0, 0, 1, 10 / 3, 4, 4, 16 / 3, 11 / 3], dtype=torch.float64)
    torch.testing.assert_close(output, expected)


def test_the_1d_example_with_stride_two_keeps_every_other_window():
    output = averaging_conv(stride=2)(signal()).flatten()
    torch.testing.assert_close(output, torch.tensor([3, 0, 10 / 3, 4], dtype=torch.float64))


def test_the_6x6_image_with_two_filters_gives_the_notes_feature_maps():
    conv = Conv2d(1, 2, 3, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([FILTER_1, FILTER_2]).unsqueeze(1))
    image = torch.tensor(IMAGE).view(1, 1, 6, 6)
    assert conv(image)[0].tolist() == [MAP_1, MAP_2]
    strided = Conv2d(1, 2, 3, stride=2, bias=False)
    strided.load_state_dict(conv.state_dict())
    assert strided(image)[0].tolist() == [[[3, -3], [-3, 0]], [[-1, -1], [-1, -2]]]


def test_the_conv_and_pool_example_feature_map():
    # the notes, "Convolution and Pooling": the [[1,1,1],[1,1,1],[0,0,0]] filter.
    image = torch.tensor([[1.0] * 6, [1.0] * 6] + [[0.0, 0, 1, 1, 0, 0]] * 4).view(1, 1, 6, 6)
    conv = Conv2d(1, 1, 3, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1.0, 1, 1], [1, 1, 1], [0, 0, 0]]).view(1, 1, 3, 3))
    assert conv(image).view(4, 4).tolist() == [
        [6, 6, 6, 6],
        [4, 5, 5, 4],
        [2, 4, 4, 2],
        [2, 4, 4, 2],
    ]


conv_cases = st.fixed_dictionaries(
    {
        "dims": st.integers(1, 3),
        "kernel": st.integers(1, 3),
        "stride": st.integers(1, 3),
        "dilation": st.integers(1, 2),
        "groups": st.sampled_from([1, 2]),
        "padding": st.sampled_from([0, 1, 2, "valid", "same", "causal"]),
    }
)


@given(case=conv_cases)
def test_fast_path_equals_the_definition_forward_and_backward(case):
    dims, groups = case["dims"], case["groups"]
    spatial = (7, 6, 5)[:dims]
    x = torch.randn(2, 2 * groups, *spatial, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(
        2 * groups, 2, *(case["kernel"],) * dims, dtype=torch.float64, requires_grad=True
    )
    bias = torch.randn(2 * groups, dtype=torch.float64, requires_grad=True)
    kernel, dilation = (case["kernel"],) * dims, (case["dilation"],) * dims
    padding = resolve_padding("test", case["padding"], kernel, dilation)
    arguments = ((case["stride"],) * dims, padding, dilation, groups)
    fast = convolve(x, weight, bias, *arguments)
    reference = convolve_reference(x, weight, bias, *arguments)
    torch.testing.assert_close(fast, reference, rtol=1e-10, atol=1e-10)
    grad_output = torch.randn_like(fast)
    fast_grads = torch.autograd.grad(fast, (x, weight, bias), grad_output)
    reference_grads = torch.autograd.grad(reference, (x, weight, bias), grad_output)
    for fast_grad, reference_grad in zip(fast_grads, reference_grads, strict=True):
        torch.testing.assert_close(fast_grad, reference_grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    ("layer", "torch_layer", "shape"),
    [
        (
            Conv2d(3, 4, 3, stride=2, padding=1, dilation=1),
            torch.nn.Conv2d(3, 4, 3, 2, 1),
            (2, 3, 9, 8),
        ),
        (Conv3d(2, 4, 2, groups=2), torch.nn.Conv3d(2, 4, 2, groups=2), (1, 2, 4, 5, 3)),
    ],
)
def test_matches_torch_nn_conv_with_the_same_weights(layer, torch_layer, shape):
    layer.load_state_dict(torch_layer.state_dict())
    x = torch.randn(shape)
    torch.testing.assert_close(layer(x), torch_layer(x))


def test_conv1d_is_channels_last_and_matches_torch_on_the_transposed_input():
    torch_layer = torch.nn.Conv1d(3, 5, 4, stride=2, dilation=2)
    layer = Conv1d(3, 5, 4, stride=2, dilation=2)
    layer.load_state_dict(torch_layer.state_dict())
    x = torch.randn(2, 20, 3)
    torch.testing.assert_close(layer(x), torch_layer(x.transpose(1, 2)).transpose(1, 2))


def test_same_padding_with_stride_centres_output_i_on_input_i_times_stride():
    conv = Conv1d(1, 1, 3, stride=2, padding="same", bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[0.0, 1.0, 0.0]]]))  # picks the window's centre
    for length in (9, 10):
        x = torch.arange(float(length)).view(1, length, 1)
        assert conv(x).flatten().tolist() == list(range(0, length, 2))


def test_causal_output_never_sees_the_future():
    conv = Conv1d(2, 3, 4, dilation=2, padding="causal")
    x = torch.randn(1, 12, 2)
    changed = x.clone()
    changed[:, 7:] += 5.0
    torch.testing.assert_close(conv(x)[:, :7], conv(changed)[:, :7])
    assert not torch.allclose(conv(x)[:, 7:], conv(changed)[:, 7:])


def test_padded_input_gives_formula_lengths_and_zeros_beyond_them():
    conv = Conv1d(2, 3, 3, stride=2)
    batch = Padded(torch.randn(3, 11, 2), [11, 5, 3])
    output = conv(batch)
    assert isinstance(output, Padded)
    assert output.lengths.tolist() == [5, 2, 1]
    assert not output.data[~output.mask()].any()


def test_padded_output_of_each_sequence_equals_its_output_alone():
    conv = Conv2d(2, 3, (2, 3), stride=(1, 2), padding=(0, "same"))
    batch = Padded(torch.randn(2, 2, 4, 9), [9, 4], time_dim=3)
    batch.data[1, :, :, 4:] = float("nan")  # garbage in the padding must not leak
    output = conv(batch)
    alone = conv(batch.data[1:, :, :, :4])
    assert output.lengths.tolist() == [5, 2]
    torch.testing.assert_close(output.data[1:, :, :, :2], alone)


@pytest.mark.parametrize(
    ("build", "x", "error", "message"),
    [
        (
            lambda: Conv1d(3, 4, 3),
            torch.zeros(2, 5, 2),
            ValueError,
            r"expected 3 channels on the channel axis",
        ),
        (
            lambda: Conv1d(3, 4, 3),
            torch.zeros(2, 3),
            ValueError,
            r"expected a 3-D tensor \(B, T, C\)",
        ),
        (
            lambda: Conv2d(1, 1, 3),
            torch.zeros(1, 1, 2, 5),
            ValueError,
            r"spatial size of at least 3",
        ),
        (
            lambda: Conv1d(1, 1, 3),
            torch.zeros(1, 5, 1, dtype=torch.int64),
            TypeError,
            r"floating-point",
        ),
        (
            lambda: Conv1d(1, 1, 3),
            Padded(torch.zeros(2, 5, 1), [5, 2]),
            ValueError,
            r"batch item 1 of length 2, which gives 0. Use padding='same'",
        ),
    ],
)
def test_bad_inputs_are_refused_clearly(build, x, error, message):
    with pytest.raises(error, match=message):
        build()(x)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kernel_size": 0}, r"`kernel_size`: expected a positive integer or a tuple of 1"),
        (
            {"padding": "full"},
            r"`padding`: expected an integer >= 0, one of \('valid', 'same', 'causal'\)",
        ),
        ({"groups": 2}, r"`groups`: expected a divisor of both in_channels and out_channels"),
        ({"init": "lecun"}, r"`init`: expected one of 'torch', 'kaiming', 'xavier', got 'lecun'"),
        ({"stride": (1, 2)}, r"`stride`: expected a positive integer or a tuple of 1 of them"),
    ],
)
def test_bad_arguments_are_refused_at_construction(options, message):
    arguments = {"in_channels": 3, "out_channels": 4, "kernel_size": 3} | options
    with pytest.raises(ValueError, match=message):
        Conv1d(**arguments)


def test_extra_repr_shows_the_geometry():
    assert "kernel_size=(3,), stride=(2,), padding='same'" in repr(Conv1d(1, 2, 3, 2, "same"))


def test_reference_matches_functional_conv_on_an_asymmetric_pad():
    x, weight = torch.randn(1, 2, 9, dtype=torch.float64), torch.randn(3, 2, 4, dtype=torch.float64)
    expected = F.conv1d(F.pad(x, (1, 2)), weight)
    torch.testing.assert_close(convolve_reference(x, weight, None, (1,), ((1, 2),), (1,)), expected)
