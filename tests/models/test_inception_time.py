"""InceptionTime (Ismail Fawaz et al. 2020): the paper's layout, padding invariance, gradients,
argument checks, fitting a tiny batch."""

import pytest
import torch

from convrec.models.inception_time import InceptionModule, InceptionTime
from convrec.nn import Padded
from tests.models.padding_checks import assert_same_output_however_padded
from tests.models.zoo_checks import assert_every_parameter_gets_a_gradient, assert_overfits


def small_inception(classes: int = 4) -> InceptionTime:
    return InceptionTime((None, 3), classes, filters=4, kernel_sizes=(8, 4), bottleneck=4)


def test_default_network_follows_the_paper():
    net = InceptionTime((24, 1), 2)
    assert len(net.blocks) == 6 and len(net.shortcuts) == 2
    first, second = net.blocks[0], net.blocks[1]
    assert isinstance(first.bottleneck, torch.nn.Identity)  # one input channel: no bottleneck
    assert second.bottleneck.out_channels == 32
    assert [branch.kernel_size[0] for branch in second.branches] == [40, 20, 10]
    assert [branch.out_channels for branch in second.branches] == [32, 32, 32]
    assert net.head.in_features == 128
    assert net(torch.randn(5, 24, 1)).shape == (5, 2)


def test_a_shortcut_adds_the_input_of_every_three_modules_to_their_output():
    net = InceptionTime((None, 2), 3, filters=2, kernel_sizes=(3,), bottleneck=2).eval()
    x = torch.randn(2, 7, 2)
    first = (net.blocks[2](net.blocks[1](net.blocks[0](x))) + net.shortcuts[0](x)).relu()
    inner = net.blocks[5](net.blocks[4](net.blocks[3](first)))
    second = (inner + net.shortcuts[1](first)).relu()
    torch.testing.assert_close(net(x), net.head(second.mean(dim=1)))


def test_a_module_stacks_its_branches_and_the_pool_branch():
    module = InceptionModule(3, filters=5, kernel_sizes=(7, 3, 1))
    assert module.out_channels == 20
    assert module(Padded(torch.randn(2, 9, 3), [9, 4])).data.shape == (2, 9, 20)


def test_output_of_a_sequence_does_not_depend_on_its_padding():
    lengths = torch.randint(1, 20, (6,)).tolist()
    sequences = [torch.randn(length, 3) for length in lengths]
    assert_same_output_however_padded(small_inception(), sequences, fill=1e3)


def test_every_parameter_gets_a_gradient():
    batch = Padded(torch.randn(3, 12, 3), [12, 5, 1])
    assert_every_parameter_gets_a_gradient(small_inception(), batch, torch.tensor([0, 1, 3]))


def test_fits_a_tiny_batch():
    assert_overfits(small_inception(), torch.randn(8, 24, 3), torch.arange(8) % 4)


def test_bad_arguments_are_refused_with_what_was_expected():
    with pytest.raises(ValueError, match=r"InceptionTime: .*`input_shape`: expected a sequence"):
        InceptionTime((3,), 2)
    with pytest.raises(ValueError, match=r"`depth`: expected a multiple of residual_every \(3\)"):
        InceptionTime((None, 3), 2, depth=4)
    with pytest.raises(ValueError, match="`kernel_sizes`: expected a non-empty tuple"):
        InceptionTime((None, 3), 2, kernel_sizes=())
    with pytest.raises(ValueError, match="`filters`: expected a positive integer, got 0"):
        InceptionTime((None, 3), 2, filters=0)
    with pytest.raises(
        ValueError, match=r"InceptionModule: .*`kernel_sizes`: expected a non-empty"
    ):
        InceptionModule(3, kernel_sizes=())
    with pytest.raises(ValueError, match=r"InceptionModule: .*`bottleneck`: expected a positive"):
        InceptionModule(3, bottleneck=0)
