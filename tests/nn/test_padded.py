"""The Padded batch type and the sequence helpers."""

import pytest
import torch

from convrec.nn import Padded, last_valid, reverse_sequences, sequence_mask, zero_padding
from convrec.nn.padded import require_output_lengths, unwrap, unwrap_by_rank, wrap


def test_mask_marks_positions_before_each_length():
    batch = Padded(torch.zeros(3, 4, 2), torch.tensor([4, 1, 2]))
    expected = [[1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 0, 0]]
    assert batch.mask().int().tolist() == expected
    assert sequence_mask(torch.tensor([2]), 3).tolist() == [[True, True, False]]
    assert batch.broadcast_mask().shape == (3, 4, 1)


def test_from_sequences_pads_and_unpad_gives_them_back():
    sequences = [torch.randn(5, 2), torch.randn(2, 2), torch.randn(3, 2)]
    batch = Padded.from_sequences(sequences)
    assert batch.data.shape == (3, 5, 2)
    assert batch.lengths.tolist() == [5, 2, 3]
    for original, recovered in zip(sequences, batch.unpad(), strict=True):
        assert torch.equal(original, recovered)


def test_time_dim_pads_another_axis():
    spectrograms = Padded(torch.randn(2, 1, 8, 6), [6, 3], time_dim=3)
    assert spectrograms.max_length == 6
    assert spectrograms.broadcast_mask().shape == (2, 1, 1, 6)
    assert spectrograms.unpad()[1].shape == (1, 8, 3)


def test_zeroed_clears_nan_and_inf_in_the_padding():
    data = torch.tensor([[[1.0], [float("nan")], [float("inf")]]])
    assert Padded(data, [1]).zeroed().data.flatten().tolist() == [1.0, 0.0, 0.0]
    assert zero_padding(data, None) is data


def test_map_keeps_lengths_and_refuses_functions_that_change_time():
    batch = Padded(torch.randn(2, 5, 3), [5, 2])
    doubled = batch.map(lambda data: data * 2)
    assert torch.equal(doubled.data, batch.data * 2)
    assert doubled.lengths is batch.lengths
    with pytest.raises(ValueError, match="position-wise function keeping axes 0 and 1"):
        batch.map(lambda data: data[:, :3])


def test_to_moves_data_and_lengths_and_keeps_integer_lengths():
    batch = Padded(torch.randn(2, 3, 1), [3, 1]).to(torch.float64)
    assert batch.dtype == torch.float64
    assert batch.lengths.dtype == torch.long


def test_reverse_sequences_reverses_within_each_length():
    data = torch.arange(8.0).view(2, 4, 1)
    reversed_ = reverse_sequences(data, torch.tensor([4, 2]))
    assert reversed_.flatten().tolist() == [3, 2, 1, 0, 5, 4, 6, 7]
    assert torch.equal(reverse_sequences(reversed_, torch.tensor([4, 2])), data)
    assert torch.equal(reverse_sequences(data, None), data.flip(1))


def test_last_valid_picks_each_last_step():
    data = torch.arange(8.0).view(2, 4, 1)
    assert last_valid(data, torch.tensor([4, 2])).flatten().tolist() == [3, 5]
    assert last_valid(data, None).flatten().tolist() == [3, 7]


@pytest.mark.parametrize(
    ("lengths", "error", "message"),
    [
        ([3, 0], ValueError, r"lengths between 1 and the padded length 3, got lengths from 0 to 3"),
        ([4, 1], ValueError, r"lengths between 1 and the padded length 3, got lengths from 1 to 4"),
        ([3], ValueError, r"shape \(2,\), one length per batch item"),
        (torch.tensor([3.0, float("nan")]), TypeError, r"integer tensor.*It contains NaN"),
        (torch.tensor([3.0, 1.0]), TypeError, r"expected an integer tensor, got a tensor"),
        ("ab", TypeError, r"expected a \(B,\) integer tensor or a sequence of ints"),
    ],
)
def test_bad_lengths_are_refused_with_what_was_expected_and_what_came(lengths, error, message):
    with pytest.raises(error, match=message):
        Padded(torch.zeros(2, 3, 1), lengths)


def test_bad_data_and_time_dim_are_refused():
    with pytest.raises(TypeError, match="`data`: expected a tensor, got"):
        Padded([[1.0]], [1])
    with pytest.raises(ValueError, match="`time_dim`: expected an axis of data other than"):
        Padded(torch.zeros(2, 3), [1, 1], time_dim=2)
    with pytest.raises(ValueError, match="from_sequences: invalid value for argument `sequences`"):
        Padded.from_sequences([])


def test_unwrap_checks_rank_dtype_and_padded_axis():
    with pytest.raises(ValueError, match=r"Layer: .*`input`: expected a 3-D tensor \(B, T, C\)"):
        unwrap("Layer", torch.zeros(2, 3), 3, "(B, T, C)", (1,))
    with pytest.raises(TypeError, match=r"floating-point tensor .* Convert it with .float\(\)"):
        unwrap("Layer", torch.zeros(2, 3, 1, dtype=torch.long), 3, "(B, T, C)", (1,))
    with pytest.raises(ValueError, match=r"padded axis \(time_dim\) is one of \(2, 3\)"):
        unwrap("Layer", Padded(torch.zeros(2, 3, 4, 5), [3, 3]), 4, "(B, C, H, W)", (2, 3))
    with pytest.raises(TypeError, match=r"expected a tensor \(B, T, C\), \(B, C, H, W\)"):
        unwrap_by_rank("Layer", "not a tensor")


def test_wrap_zeroes_beyond_lengths_and_short_outputs_are_refused():
    wrapped = wrap(torch.ones(1, 3, 1), torch.tensor([2]))
    assert wrapped.data.flatten().tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match=r"batch item 1 of length 2, which gives 0\. Use a hint"):
        require_output_lengths("Layer", torch.tensor([5, 2]), torch.tensor([3, 0]), "Use a hint.")


def test_repr_shows_shape_and_lengths():
    assert repr(Padded(torch.zeros(2, 3, 1), [3, 1])) == (
        "Padded(data=(2, 3, 1) torch.float32, lengths=[3, 1], time_dim=1)"
    )
