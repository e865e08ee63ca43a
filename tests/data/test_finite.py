"""NAN-1: a batch holding NaN or Inf is refused before the forward pass, naming where it is."""

import pytest
import torch

from convrec.data import NonFiniteInputError, check_finite_batch
from convrec.nn import Padded


def test_a_finite_batch_passes():
    check_finite_batch(torch.randn(4, 6, 3), batch=0)
    check_finite_batch(torch.randint(0, 9, (4, 6)), batch=0)  # token ids are not checked


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_sequence_value_names_batch_sample_step_and_feature(value):
    inputs = torch.randn(4, 6, 3)
    inputs[2, 5, 1] = value
    with pytest.raises(NonFiniteInputError) as caught:
        check_finite_batch(inputs, batch=12)
    assert isinstance(caught.value, ValueError)
    assert (caught.value.batch, caught.value.sample, caught.value.position) == (12, 2, (5, 1))
    assert str(caught.value).startswith(
        f"inputs: batch 12, sample 2: expected finite values, got {value} at step 5, feature 1 "
        "(sample shape (6, 3))."
    )


def test_an_image_batch_names_the_position_within_the_sample():
    images = torch.zeros(2, 3, 4, 4)
    images[1, 2, 0, 3] = float("nan")
    with pytest.raises(NonFiniteInputError, match=r"batch 0, sample 1: .* at index \(2, 0, 3\)"):
        check_finite_batch(images, batch=0)


def test_padding_may_hold_anything_but_valid_steps_may_not():
    data = torch.randn(2, 5, 3)
    data[1, 3:] = float("nan")  # beyond the second sequence's length
    check_finite_batch(Padded(data, [5, 3]), batch=1)
    data[1, 2, 0] = float("inf")
    with pytest.raises(NonFiniteInputError, match=r"sample 1: .*got inf at step 2, feature 0"):
        check_finite_batch(Padded(data, [5, 3]), batch=1)


def test_something_other_than_a_batch_is_a_type_error():
    with pytest.raises(TypeError, match=r"`inputs`: expected a tensor or a convrec.nn.Padded"):
        check_finite_batch([[1.0]], batch=0)
