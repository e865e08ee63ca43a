"""LeNet-5: the notes' CIFAR-10 network, padded for 28x28 images, for any image of 12x12 or more."""

import pytest
import torch
from torch import nn

from convrec.models.lenet import LeNet5, feature_side
from convrec.models.registry import entry
from convrec.nn import Pool2d
from tests.models.zoo_checks import assert_every_parameter_gets_a_gradient, assert_overfits


@pytest.mark.parametrize("input_shape", [(1, 28, 28), (3, 32, 32), (1, 12, 12), (2, 13, 40)])
def test_gives_one_row_of_logits_per_image(input_shape):
    assert LeNet5(input_shape, 10)(torch.randn(3, *input_shape)).shape == (3, 10)


def test_is_registered_as_lenet5_for_images():
    model = entry("lenet5")
    assert model.build is LeNet5
    assert model.inputs == ("image",)
    assert model.options() == {"activation": "relu", "pool": "max"}


def test_28x28_images_get_the_geometry_of_the_original_32x32():
    padded, original = LeNet5((1, 28, 28), 10), LeNet5((1, 32, 32), 10)
    assert padded.features[0].padding == (2, 2)
    assert original.features[0].padding == (0, 0)
    assert padded.head[1].in_features == original.head[1].in_features == 16 * 5 * 5


def test_feature_side_follows_the_size_formulas():
    assert [feature_side(side, 0) for side in (16, 32, 33, 40)] == [1, 5, 6, 7]
    assert [feature_side(side, 2) for side in (12, 13, 28)] == [1, 2, 5]


def test_parameters_match_the_notes_cifar10_model():
    # conv 3->6 (456), conv 6->16 (2416), 400->120 (48120), 120->84 (10164), 84->10 (850)
    model = LeNet5((3, 32, 32), 10)
    assert sum(parameter.numel() for parameter in model.parameters()) == 62006


def test_the_head_is_the_fully_connected_classifier_and_the_features_are_convolutional():
    model = LeNet5((1, 28, 28), 7)
    linear = [
        (layer.in_features, layer.out_features)
        for layer in model.head
        if isinstance(layer, nn.Linear)
    ]
    assert linear == [(400, 120), (120, 84), (84, 7)]
    assert not any(isinstance(layer, nn.Linear) for layer in model.features)
    assert model.features(torch.randn(2, 1, 28, 28)).shape == (2, 16, 5, 5)


def test_tanh_and_mean_pooling_give_the_original_kind_of_layers():
    model = LeNet5((1, 28, 28), 10, activation="tanh", pool="mean")
    assert sum(isinstance(layer, nn.Tanh) for layer in model.modules()) == 4
    assert [layer.kind for layer in model.features if isinstance(layer, Pool2d)] == ["mean"] * 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"input_shape": (1, 11, 28)}, r"at least 12x12 pixels, got \(1, 11, 28\)"),
        ({"input_shape": (28, 28)}, r"`input_shape`: expected an image shape \(C, H, W\)"),
        ({"input_shape": (1, None, 28)}, r"`input_shape`: expected an image shape"),
        ({"output_size": 0}, "`output_size`: expected a positive integer, got 0"),
        ({"activation": "gelu"}, "`activation`: expected one of 'relu', 'tanh', got 'gelu'"),
        ({"pool": "lp"}, "`pool`: expected one of 'max', 'mean', got 'lp'"),
    ],
)
def test_bad_arguments_are_refused_by_name(arguments, message):
    options = {"input_shape": (1, 28, 28), "output_size": 10, **arguments}
    with pytest.raises(ValueError, match=message):
        LeNet5(**options)


def test_images_of_another_size_are_refused():
    with pytest.raises(ValueError, match=r"shape \(B, 1, 28, 28\), as its input_shape"):
        LeNet5((1, 28, 28), 10)(torch.randn(2, 1, 32, 32))


def test_every_parameter_gets_a_gradient():
    model = LeNet5((1, 16, 16), 4)
    assert_every_parameter_gets_a_gradient(model, torch.randn(8, 1, 16, 16), torch.arange(8) % 4)


def test_learns_a_tiny_batch():
    assert_overfits(LeNet5((1, 28, 28), 10), torch.randn(8, 1, 28, 28), torch.arange(8))


def _old_name(name: str) -> str:
    """The name a weight had when ``head`` was LeNet-5's last linear layer alone."""
    for new, old in {
        "head.1.": "features.7.",
        "head.3.": "features.9.",
        "head.5.": "head.",
    }.items():
        if name.startswith(new):
            return old + name[len(new) :]
    return name


def test_runs_saved_when_the_head_was_the_last_layer_alone_still_load():
    saved = LeNet5((1, 28, 28), 10)
    old_state = {_old_name(name): value for name, value in saved.state_dict().items()}
    assert {"features.7.weight", "features.9.bias", "head.weight"} <= set(old_state)
    images = torch.randn(3, 1, 28, 28)

    loaded = LeNet5((1, 28, 28), 10)
    loaded.load_state_dict(old_state)
    torch.testing.assert_close(loaded(images), saved(images))
    wrapped = nn.Sequential(LeNet5((1, 28, 28), 10))
    wrapped.load_state_dict({f"0.{name}": value for name, value in old_state.items()})
    torch.testing.assert_close(wrapped(images), saved(images))
