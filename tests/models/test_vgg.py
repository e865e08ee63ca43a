"""SmallVGG: VGG blocks, global average pooling and a dropout-linear head, for any image size."""

import pytest
import torch
from torch import nn

from convrec.models.registry import entry
from convrec.models.vgg import SmallVGG
from convrec.nn import BatchNorm, GlobalPool, VGGBlock
from tests.models.zoo_checks import assert_every_parameter_gets_a_gradient, assert_overfits


@pytest.mark.parametrize("input_shape", [(1, 28, 28), (3, 32, 32), (1, 9, 11), (2, 1, 1)])
def test_gives_one_row_of_logits_per_image(input_shape):
    assert SmallVGG(input_shape, 10)(torch.randn(2, *input_shape)).shape == (2, 10)


def test_is_registered_as_vgg_for_images():
    model = entry("vgg")
    assert model.build is SmallVGG
    assert model.inputs == ("image",)
    assert model.options() == {
        "widths": (16, 32, 64),
        "convs_per_stage": 2,
        "batch_norm": True,
        "dropout": 0.5,
    }


def test_one_vgg_block_per_width_each_halving_the_image():
    model = SmallVGG((1, None, None), 3, widths=(4, 8, 16), convs_per_stage=3)
    blocks = [layer for layer in model.features if isinstance(layer, VGGBlock)]
    assert len(blocks) == 3
    assert isinstance(model.features[-1], GlobalPool)
    x = torch.randn(2, 1, 20, 13)
    shapes = [tuple((x := block(x)).shape) for block in blocks]
    assert shapes == [(2, 4, 10, 7), (2, 8, 5, 4), (2, 16, 3, 2)]
    assert sum(isinstance(layer, BatchNorm) for layer in model.modules()) == 9


def test_any_image_size_works_when_input_shape_leaves_it_open():
    model = SmallVGG((1, None, None), 2, widths=(4, 8)).eval()
    assert model(torch.randn(1, 1, 17, 30)).shape == model(torch.randn(1, 1, 8, 8)).shape


def test_the_head_is_dropout_then_a_linear_layer():
    model = SmallVGG((1, 28, 28), 5, widths=(4, 6), dropout=0.3)
    assert isinstance(model.head[0], nn.Dropout)
    assert model.head[0].p == 0.3
    assert (model.head[1].in_features, model.head[1].out_features) == (6, 5)


def test_batch_norm_can_be_left_out():
    model = SmallVGG((1, 28, 28), 5, widths=(4, 6), batch_norm=False)
    assert not any(isinstance(layer, BatchNorm) for layer in model.modules())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"input_shape": (28, 28)}, r"`input_shape`: expected an image shape \(C, H, W\)"),
        ({"input_shape": (None, 28, 28)}, r"`input_shape`: expected an image shape"),
        ({"output_size": 0}, "`output_size`: expected a positive integer, got 0"),
        ({"widths": ()}, r"`widths`: expected a non-empty tuple of positive integers, got \(\)"),
        ({"widths": (8, -1)}, r"`widths`: expected a non-empty tuple"),
        ({"convs_per_stage": 0}, "`convs_per_stage`: expected a positive integer, got 0"),
        ({"dropout": 1.5}, r"`dropout`: expected a number in \[0, 1\), got 1.5"),
    ],
)
def test_bad_arguments_are_refused_by_name(arguments, message):
    options = {"input_shape": (1, 28, 28), "output_size": 10, **arguments}
    with pytest.raises(ValueError, match=message):
        SmallVGG(**options)


def test_batch_norm_must_be_a_bool():
    with pytest.raises(TypeError, match="`batch_norm`: expected True or False, got 1"):
        SmallVGG((1, 28, 28), 10, batch_norm=1)


def test_every_parameter_gets_a_gradient():
    model = SmallVGG((1, 12, 12), 4, widths=(4, 8))
    assert_every_parameter_gets_a_gradient(model, torch.randn(8, 1, 12, 12), torch.arange(8) % 4)


def test_learns_a_tiny_batch():
    model = SmallVGG((1, 16, 16), 8, widths=(16, 32))
    assert_overfits(model, torch.randn(8, 1, 16, 16), torch.arange(8))
