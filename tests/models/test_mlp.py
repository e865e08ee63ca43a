"""MLP: the fully connected baseline on flattened images and fixed-length sequences."""

import pytest
import torch
from torch import nn

from convrec.models.mlp import MLP
from convrec.models.registry import entry
from convrec.nn import Padded
from tests.models.zoo_checks import assert_every_parameter_gets_a_gradient, assert_overfits


@pytest.mark.parametrize(
    ("input_shape", "output_size"), [((1, 28, 28), 10), ((3, 8, 6), 4), ((20, 3), 1)]
)
def test_gives_one_row_of_outputs_per_item(input_shape, output_size):
    model = MLP(input_shape, output_size)
    assert model(torch.randn(5, *input_shape)).shape == (5, output_size)


def test_is_registered_as_mlp_for_images_and_sequences():
    model = entry("mlp")
    assert model.build is MLP
    assert model.inputs == ("image", "sequence")
    assert model.options() == {"hidden_sizes": (256, 128), "dropout": 0.2, "batch_norm": False}


def test_hidden_layers_follow_hidden_sizes_and_the_head_maps_to_the_outputs():
    model = MLP((2, 5), 3, hidden_sizes=(7, 4), dropout=0.1, batch_norm=True)
    linear = [layer for layer in model.features if isinstance(layer, nn.Linear)]
    assert [(layer.in_features, layer.out_features) for layer in linear] == [(10, 7), (7, 4)]
    assert sum(isinstance(layer, nn.BatchNorm1d) for layer in model.features) == 2
    assert sum(isinstance(layer, nn.Dropout) for layer in model.features) == 2
    assert (model.head.in_features, model.head.out_features) == (4, 3)


def test_a_padded_batch_of_full_length_sequences_reads_as_its_data():
    model = MLP((6, 2), 3).eval()
    x = torch.randn(4, 6, 2)
    torch.testing.assert_close(model(Padded(x, [6, 6, 6, 6])), model(x))


def test_a_padded_batch_of_shorter_sequences_is_refused():
    batch = Padded(torch.randn(2, 6, 2), [6, 4])
    with pytest.raises(ValueError, match="lengths from 4 to 6 in a batch padded to 6"):
        MLP((6, 2), 3)(batch)


def test_variable_length_sequences_are_refused_at_construction():
    with pytest.raises(ValueError, match=r"`input_shape`: .*MLP needs fixed-size input.*None"):
        MLP((None, 3), 2)


def test_input_of_another_shape_or_type_is_refused():
    model = MLP((20, 3), 2)
    with pytest.raises(ValueError, match=r"shape \(B, 20, 3\), as its input_shape, got a tensor"):
        model(torch.randn(4, 21, 3))
    with pytest.raises(ValueError, match="floating-point tensor"):
        model(torch.zeros(4, 20, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="got \\[1, 2\\]"):
        model([1, 2])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"input_shape": (1, 2, 3, 4)}, "`input_shape`: expected an image shape .* or a sequence"),
        ({"input_shape": (0, 28, 28)}, r"`input_shape`: expected an image shape \(C, H, W\)"),
        ({"output_size": 0}, "`output_size`: expected a positive integer, got 0"),
        (
            {"hidden_sizes": (64, 0)},
            r"`hidden_sizes`: expected a non-empty tuple .*, got \(64, 0\)",
        ),
        ({"hidden_sizes": ()}, r"`hidden_sizes`: expected a non-empty tuple"),
        ({"dropout": 1.0}, r"`dropout`: expected a number in \[0, 1\), got 1.0"),
    ],
)
def test_bad_arguments_are_refused_by_name(arguments, message):
    options = {"input_shape": (1, 8, 8), "output_size": 2, **arguments}
    with pytest.raises(ValueError, match=message):
        MLP(**options)


def test_batch_norm_must_be_a_bool():
    with pytest.raises(TypeError, match="`batch_norm`: expected True or False, got 'yes'"):
        MLP((1, 8, 8), 2, batch_norm="yes")


def test_every_parameter_gets_a_gradient():
    model = MLP((1, 12, 12), 3, hidden_sizes=(16, 8), batch_norm=True)
    assert_every_parameter_gets_a_gradient(model, torch.randn(6, 1, 12, 12), torch.arange(6) % 3)


def test_learns_a_tiny_batch():
    model = MLP((30, 2), 4, hidden_sizes=(32,))
    assert_overfits(model, torch.randn(8, 30, 2), torch.arange(8) % 4)
