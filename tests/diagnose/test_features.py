import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from convrec.data.splits import Pairs
from convrec.diagnose.features import (
    MAPS_SHOWN,
    _draw_example,
    _draw_filters,
    first_convolution,
    plot_first_convolution,
)
from convrec.diagnose.inspection import varied_indices
from convrec.models import create
from convrec.nn import Conv1d, Padded


def test_the_first_convolution_called_is_caught_channels_first() -> None:
    torch.manual_seed(0)
    first, second = Conv1d(3, 5, 3, padding="same"), Conv1d(5, 2, 3)
    model = nn.Sequential(first, nn.ReLU(), second)
    inputs = torch.randn(2, 10, 3)
    seen = first_convolution(model, inputs)
    assert seen.name == "0"
    assert seen.weight.shape == (5, 3, 3)
    np.testing.assert_array_equal(seen.inputs, inputs.movedim(-1, 1).numpy())
    np.testing.assert_allclose(seen.outputs, first(inputs).movedim(-1, 1).detach().numpy())
    assert seen.lengths is None


def test_padded_inputs_keep_their_lengths_and_torch_convolutions_are_seen() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    seen = first_convolution(model, torch.randn(3, 1, 8, 8))
    assert seen.outputs.shape == (3, 4, 6, 6)
    fcn = create("fcn", input_shape=(None, 2), output_size=3)
    padded = first_convolution(fcn, Padded(torch.randn(2, 12, 2), [12, 7]))
    assert list(padded.lengths) == [12, 7]
    assert padded.inputs.shape == (2, 2, 12)


def test_a_model_without_convolutions_draws_nothing(tmp_path) -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    assert first_convolution(model, torch.randn(2, 3, 4)) is None
    assert plot_first_convolution(model, torch.randn(2, 3, 4), tmp_path / "f.png") is None
    assert not (tmp_path / "f.png").exists()


def test_images_signals_and_spectrograms_are_drawn(tmp_path) -> None:
    cases = {
        "image": (create("lenet5", input_shape=(1, 28, 28), output_size=10), (3, 1, 28, 28)),
        "signal": (create("fcn", input_shape=(None, 3), output_size=2), (3, 50, 3)),
        "spectrogram": (create("crnn", input_shape=(60, 40), output_size=5), (3, 60, 40)),
    }
    for name, (model, shape) in cases.items():
        path = plot_first_convolution(model.train(), torch.randn(shape), tmp_path / f"{name}.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert model.training  # the mode is restored


def test_the_examples_shown_are_of_different_classes_or_spread_over_the_data():
    sorted_by_class = Pairs(torch.zeros(40, 3), torch.arange(40) // 10)  # 10 of class 0 first
    chosen = varied_indices(sorted_by_class, 4)
    assert chosen == [0, 10, 20, 30]
    two_classes = Pairs(torch.zeros(40, 3), torch.arange(40) // 20)
    assert sorted(two_classes.targets[varied_indices(two_classes, 4)].tolist()) == [0, 0, 1, 1]
    regression = Pairs(torch.zeros(40, 3), torch.linspace(0, 1, 40))
    assert varied_indices(regression, 4) == [0, 10, 20, 30]
    assert varied_indices(Pairs(torch.zeros(2, 3), torch.arange(2)), 4) == [0, 1]


def test_rgb_inputs_and_their_filters_are_drawn_in_colour():
    figure, grid = plt.subplots(2, 1 + MAPS_SHOWN, squeeze=False)
    rgb = np.random.default_rng(0).random((3, 8, 8))
    _draw_example(grid[1], rgb, np.zeros((6, 6, 6)), None)
    shown = grid[1][0].images[0].get_array()
    assert shown.shape == (8, 8, 3)  # an RGB picture, not channel 0 in grey
    scaled = (rgb - rgb.min()) / (rgb.max() - rgb.min())  # one scale for the three channels
    np.testing.assert_allclose(shown, np.moveaxis(scaled, 0, -1))
    _draw_example(grid[1], rgb[:1], np.zeros((6, 6, 6)), None)
    assert grid[1][0].images[-1].get_array().shape == (8, 8)  # one channel: grey
    _draw_filters(figure, grid[0], np.random.default_rng(1).normal(size=(4, 3, 3, 3)))
    assert grid[0][0].images[0].get_array().shape == (8, 8, 3)  # 2 x 2 filters of 3 x 3 + gaps
    plt.close(figure)
