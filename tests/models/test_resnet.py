"""ResNet: residual stages over images (2D) and over time for sequences (1D, padded batches)."""

import pytest
import torch

from convrec.models.registry import entry
from convrec.models.resnet import ResNet
from convrec.nn import GlobalPool, Padded, ResidualBlock
from tests.models.zoo_checks import assert_every_parameter_gets_a_gradient, assert_overfits


@pytest.mark.parametrize(
    ("input_shape", "batch_shape"),
    [
        ((1, 28, 28), (3, 1, 28, 28)),
        ((3, 9, 14), (3, 3, 9, 14)),
        ((None, 5), (3, 41, 5)),
        ((16, 40), (3, 16, 40)),
        ((None, 2), (3, 1, 2)),
    ],
)
def test_gives_one_row_of_logits_per_item(input_shape, batch_shape):
    model = ResNet(input_shape, 6, widths=(4, 8), blocks_per_stage=1)
    assert model(torch.randn(batch_shape)).shape == (3, 6)


def test_is_registered_as_resnet_for_images_and_sequences():
    model = entry("resnet")
    assert model.build is ResNet
    assert model.inputs == ("image", "sequence")
    assert model.options() == {"widths": (8, 16, 32), "blocks_per_stage": 2, "kernel_size": 3}


def test_images_get_2d_and_sequences_1d_convolutions():
    assert ResNet((1, 28, 28), 2).dims == 2
    assert ResNet((None, 13), 2).dims == 1


def test_each_stage_after_the_first_halves_the_resolution():
    model = ResNet((1, 28, 28), 3, widths=(4, 8, 16), blocks_per_stage=2)
    blocks = [layer for layer in model.features if isinstance(layer, ResidualBlock)]
    assert isinstance(model.features[-1], GlobalPool)
    x = model.features[0](torch.randn(2, 1, 28, 28))
    shapes = [tuple((x := block(x)).shape) for block in blocks]
    assert shapes == [(2, 4, 28, 28)] * 2 + [(2, 8, 14, 14)] * 2 + [(2, 16, 7, 7)] * 2


def test_padded_lengths_shrink_with_the_strides():
    model = ResNet((None, 3), 3, widths=(4, 8, 16), blocks_per_stage=1)
    x = model.features[0](Padded(torch.randn(2, 30, 3), [30, 9]))
    lengths = [(x := layer(x)).lengths.tolist() for layer in model.features[1:-1]]
    assert lengths == [[30, 9], [15, 5], [8, 3]]


@pytest.mark.parametrize("kernel_size", [3, 4])
def test_a_sequence_gives_the_same_output_whatever_padding_surrounds_it(kernel_size):
    generator = torch.Generator().manual_seed(1)
    model = ResNet((None, 3), 4, widths=(6, 8, 12), blocks_per_stage=1, kernel_size=kernel_size)
    model(Padded(torch.randn(6, 30, 3), [30, 20, 11, 30, 2, 7]))  # running statistics not 0, 1
    model.eval()
    for _ in range(3):
        lengths = torch.randint(1, 40, (6,), generator=generator)
        sequences = [torch.randn(int(length), 3, generator=generator) for length in lengths]
        alone = torch.cat([model(sequence.unsqueeze(0)) for sequence in sequences])
        for extra in (0, 5):
            data = torch.full((6, int(lengths.max()) + extra, 3), 1e3)  # garbage in the padding
            for row, sequence in enumerate(sequences):
                data[row, : len(sequence)] = sequence
            output = model(Padded(data, lengths))
            torch.testing.assert_close(output, alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"input_shape": (5,)}, r"`input_shape`: expected an image shape \(C, H, W\) or a seq"),
        ({"input_shape": (None, None)}, r"`input_shape`: expected a sequence shape \(T, F\)"),
        ({"input_shape": (0, 8, 8)}, r"`input_shape`: expected an image shape \(C, H, W\)"),
        ({"output_size": 0}, "`output_size`: expected a positive integer, got 0"),
        ({"widths": ()}, r"`widths`: expected a non-empty tuple of positive integers, got \(\)"),
        ({"widths": 16}, "`widths`: expected a non-empty tuple of positive integers, got 16"),
        ({"blocks_per_stage": 0}, "`blocks_per_stage`: expected a positive integer, got 0"),
        ({"kernel_size": 0}, "`kernel_size`: expected a positive integer, got 0"),
    ],
)
def test_bad_arguments_are_refused_by_name(arguments, message):
    options = {"input_shape": (None, 3), "output_size": 2, **arguments}
    with pytest.raises(ValueError, match=message):
        ResNet(**options)


def test_every_parameter_gets_a_gradient_for_images_and_padded_sequences():
    image_model = ResNet((2, 10, 10), 3, widths=(4, 8))
    images = torch.randn(6, 2, 10, 10)
    assert_every_parameter_gets_a_gradient(image_model, images, torch.arange(6) % 3)
    sequence_model = ResNet((None, 3), 3, widths=(4, 8))
    sequences = Padded(torch.randn(6, 20, 3), [20, 3, 17, 9, 1, 12])
    assert_every_parameter_gets_a_gradient(sequence_model, sequences, torch.arange(6) % 3)


def test_learns_a_tiny_batch_of_images():
    model = ResNet((1, 12, 12), 8, widths=(8, 16))
    assert_overfits(model, torch.randn(8, 1, 12, 12), torch.arange(8))


def test_learns_a_tiny_padded_batch_of_sequences():
    model = ResNet((None, 3), 8, widths=(8, 16))
    sequences = Padded(torch.randn(8, 30, 3), [30, 21, 9, 14, 30, 5, 26, 17])
    assert_overfits(model, sequences, torch.arange(8))
