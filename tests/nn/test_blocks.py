"""Blocks: conv-BN-ReLU, VGG and residual, on plain and padded input."""

import pytest
import torch

from convrec.nn import ConvBNReLU, Padded, ResidualBlock, VGGBlock


def test_conv_bn_relu_output_is_non_negative_and_keeps_size():
    output = ConvBNReLU(3, 8, dims=2)(torch.randn(2, 3, 9, 9))
    assert output.shape == (2, 8, 9, 9)
    assert output.min() >= 0


def test_vgg_block_halves_the_grid():
    assert VGGBlock(3, 16, num_convs=3, dims=2)(torch.randn(1, 3, 15, 15)).shape == (1, 16, 8, 8)
    assert VGGBlock(4, 6, dims=1, batch_norm=False)(torch.randn(2, 10, 4)).shape == (2, 5, 6)


def test_residual_block_identity_shortcut_adds_the_input():
    block = ResidualBlock(4, 4, dims=1)
    with torch.no_grad():
        for parameter in block.residual[-1].parameters():
            parameter.zero_()  # the last BN outputs zero: the block becomes relu(x)
    x = torch.randn(2, 7, 4)
    torch.testing.assert_close(block(x), x.relu())


def test_residual_block_with_stride_projects_the_shortcut():
    block = ResidualBlock(4, 8, stride=2, dims=2)
    assert block(torch.randn(2, 4, 9, 10)).shape == (2, 8, 5, 5)
    assert not isinstance(block.shortcut, torch.nn.Identity)


def test_padded_residual_block_gives_ceil_lengths_and_ignores_padding():
    block = ResidualBlock(3, 6, stride=2, dims=1).eval()
    batch = Padded(torch.randn(2, 9, 3), [9, 4])
    batch.data[1, 4:] = 1e3
    output = block(batch)
    assert output.lengths.tolist() == [5, 2]
    alone = block(batch.data[1:, :4])
    torch.testing.assert_close(output.data[1:, :2], alone)


def test_dims_must_be_one_two_or_three():
    with pytest.raises(ValueError, match="`dims`: expected 1, 2 or 3, got 4"):
        ResidualBlock(3, 3, dims=4)
    with pytest.raises(ValueError, match="`num_convs`: expected a positive integer"):
        VGGBlock(3, 3, num_convs=0)
