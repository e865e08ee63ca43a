"""FCN (Wang, Yan and Oates 2017): shapes, padding invariance, gradients, argument checks,
fitting a tiny batch."""

import pytest
import torch

from convrec.models.fcn import FCN
from convrec.nn import Padded
from tests.models.padding_checks import assert_same_output_however_padded
from tests.models.zoo_checks import assert_every_parameter_gets_a_gradient, assert_overfits


def small_fcn(classes: int = 4) -> FCN:
    return FCN((None, 3), classes, widths=(16, 32, 16))


def test_default_network_follows_the_paper():
    net = FCN((60, 3), 5)
    widths = [block[0].out_channels for block in net.features]
    kernels = [block[0].kernel_size[0] for block in net.features]
    assert (widths, kernels) == ([128, 256, 128], [8, 5, 3])
    assert net(torch.randn(2, 60, 3)).shape == (2, 5)
    assert net.head.in_features == 128


def test_output_of_a_sequence_does_not_depend_on_its_padding():
    lengths = torch.randint(1, 20, (6,)).tolist()
    sequences = [torch.randn(length, 3) for length in lengths]
    assert_same_output_however_padded(small_fcn(), sequences, fill=1e3)


def test_every_parameter_gets_a_gradient():
    batch = Padded(torch.randn(3, 12, 3), [12, 5, 1])
    assert_every_parameter_gets_a_gradient(small_fcn(), batch, torch.tensor([0, 1, 3]))


def test_fits_a_tiny_batch():
    assert_overfits(small_fcn(), torch.randn(8, 24, 3), torch.arange(8) % 4)


def test_bad_arguments_are_refused_with_what_was_expected():
    with pytest.raises(
        ValueError, match=r"FCN: .*`input_shape`: expected a sequence shape \(T, F\)"
    ):
        FCN((3,), 2)
    with pytest.raises(
        ValueError, match="`widths`: expected a non-empty tuple of positive integers"
    ):
        FCN((None, 3), 2, widths=())
    with pytest.raises(
        ValueError, match=r"`kernel_sizes`: expected one kernel size per width \(3\)"
    ):
        FCN((None, 3), 2, kernel_sizes=(8, 5))
    with pytest.raises(ValueError, match="`output_size`: expected a positive integer, got 0"):
        FCN((None, 3), 0)
