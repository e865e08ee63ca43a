"""Batch normalisation with statistics from valid positions only."""

import pytest
import torch

from convrec.nn import BatchNorm, Padded


def test_plain_sequences_match_torch_batchnorm1d_on_the_transposed_input():
    ours, theirs = BatchNorm(3), torch.nn.BatchNorm1d(3)
    x = torch.randn(4, 7, 3)
    torch.testing.assert_close(ours(x), theirs(x.transpose(1, 2)).transpose(1, 2))
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)


def test_images_match_torch_batchnorm2d():
    ours, theirs = BatchNorm(3), torch.nn.BatchNorm2d(3)
    x = torch.randn(2, 3, 5, 4)
    torch.testing.assert_close(ours(x), theirs(x))


def test_padded_statistics_equal_batchnorm_over_the_valid_rows_alone():
    ours, theirs = BatchNorm(3).double(), torch.nn.BatchNorm1d(3).double()
    data = torch.randn(3, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    data[1, 2:] = 1e6  # padding that would wreck the statistics
    output = ours(Padded(data, lengths))
    valid_rows = torch.cat([data[item, :length] for item, length in enumerate(lengths.tolist())])
    expected = theirs(valid_rows)
    got = torch.cat([output.data[item, :length] for item, length in enumerate(lengths.tolist())])
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)
    assert not output.data[1, 2:].any()


def test_padded_with_full_lengths_equals_the_plain_path():
    norm = BatchNorm(2).double()
    x = torch.randn(3, 5, 2, dtype=torch.float64)
    plain = norm(x)
    masked = BatchNorm(2).double()(Padded(x, [5, 5, 5]))
    torch.testing.assert_close(masked.data, plain)


def test_evaluation_uses_running_statistics():
    norm = BatchNorm(2)
    norm(Padded(torch.randn(4, 6, 2) * 3 + 1, [6, 3, 2, 5]))
    norm.eval()
    x = torch.randn(1, 4, 2)
    expected = (x - norm.running_mean) / torch.sqrt(norm.running_var + norm.eps)
    torch.testing.assert_close(norm(x), expected)


def test_a_spectrogram_padded_on_time_uses_only_valid_frames():
    norm = BatchNorm(2)
    data = torch.randn(2, 2, 3, 5)
    data[1, :, :, 2:] = 1e6
    output = norm(Padded(data, [5, 2], time_dim=3))
    assert output.data[0].abs().max() < 10


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: BatchNorm(3)(torch.randn(2, 5, 4)),
            r"expected 3 channels on the channel axis of \(B, T, C\)",
        ),
        (lambda: BatchNorm(3)(torch.randn(2, 3)), r"expected a tensor \(B, T, C\), \(B, C, H, W\)"),
        (lambda: BatchNorm(3, momentum=1.5), r"`momentum`: expected a number in \[0, 1\)"),
        (lambda: BatchNorm(3, eps=0), r"`eps`: expected a positive finite number"),
    ],
)
def test_bad_arguments_and_inputs_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
