import numpy as np
import torch
from torch import nn

from convrec.diagnose.features import first_convolution, plot_first_convolution
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
