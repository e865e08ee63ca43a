"""Forecaster: shapes, the autoregressive highway, padding invariance, a forecast that learns."""

import math

import pytest
import torch

from convrec.models import create
from convrec.models.forecaster import Forecaster, last_values
from convrec.nn import Padded


def persistence_model(input_shape, horizon: int, **options) -> Forecaster:
    """A forecaster set by hand to repeat the target's last value: highway only."""
    model = Forecaster(input_shape, horizon, hidden_size=4, **options)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.highway.weight.zero_()
        model.highway.weight[:, -1] = 1.0
        model.highway.bias.zero_()
    return model


def test_a_window_gives_one_forecast_per_horizon_step():
    model = create("forecaster", input_shape=(30, 4), output_size=5, input_kind="sequence")
    assert model(torch.randn(3, 30, 4)).shape == (3, 5)
    assert model.head.out_features == 5


def test_the_highway_window_is_capped_at_a_known_window_length_and_can_be_off():
    assert Forecaster((10, 2), 3, ar_window=24).highway.in_features == 10
    assert Forecaster((None, 2), 3, ar_window=24).highway.in_features == 24
    no_highway = Forecaster((10, 2), 3, ar_window=0)
    assert no_highway.highway is None
    assert no_highway(torch.randn(2, 10, 2)).shape == (2, 3)


@pytest.mark.parametrize("target_column", [0, 2])
def test_the_highway_alone_represents_a_persistence_forecast(target_column):
    model = persistence_model((16, 3), 4, target_column=target_column)
    windows = torch.randn(5, 16, 3)
    expected = windows[:, -1, target_column].unsqueeze(-1).expand(5, 4)
    torch.testing.assert_close(model(windows), expected)
    lengths = torch.tensor([16, 3, 9, 1, 12])
    last = windows[torch.arange(5), lengths - 1, target_column]
    torch.testing.assert_close(model(Padded(windows, lengths)), last.unsqueeze(-1).expand(5, 4))


def test_last_values_are_read_at_each_length_with_zeros_before_the_start():
    series = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 9.0, 9.0]])
    expected = torch.tensor([[0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 5.0, 6.0]])
    torch.testing.assert_close(last_values(series, torch.tensor([4, 2]), 5), expected)
    torch.testing.assert_close(last_values(series, None, 2), series[:, 2:])


def test_a_padded_batch_gives_the_forecast_of_each_window_alone():
    model = Forecaster((None, 3), 4, hidden_size=6, num_layers=2, ar_window=5)
    lengths = torch.tensor([8, 2, 5, 7])
    data = torch.randn(4, 8, 3)
    data = data.masked_fill(~Padded(data, lengths).broadcast_mask(), float("nan"))
    batch = Padded(data, lengths)
    forecast = model(batch)
    for item, window in enumerate(batch.unpad()):
        torch.testing.assert_close(forecast[item], model(window.unsqueeze(0))[0])


def noisy_sine_windows(count: int, window: int, horizon: int, generator: torch.Generator):
    """Windows of a noisy sine (period 16 steps) with a second, noise-only feature."""
    start = torch.rand(count, 1, generator=generator) * 100
    time = start + torch.arange(window + horizon)
    signal = torch.sin(2 * math.pi * time / 16)
    noisy = signal + 0.1 * torch.randn(signal.shape, generator=generator)
    features = torch.stack([noisy, torch.randn(signal.shape, generator=generator)], dim=-1)
    return features[:, :window], signal[:, window:]  # (B, T, 2), (B, H)


def test_the_model_forecasts_a_noisy_sine_better_than_persistence_after_brief_training():
    generator = torch.Generator().manual_seed(0)
    inputs, targets = noisy_sine_windows(256, 32, 4, generator)
    test_inputs, test_targets = noisy_sine_windows(128, 32, 4, generator)
    model = Forecaster((32, 2), 4, hidden_size=16, ar_window=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(40):
        batch = slice(64 * (step % 4), 64 * (step % 4 + 1))
        loss = (model(inputs[batch]) - targets[batch]).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        error = (model(test_inputs) - test_targets).pow(2).mean()
    persistence = (test_inputs[:, -1:, 0] - test_targets).pow(2).mean()
    assert error < 0.1 * persistence


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"target_column": 3}, r"`target_column`: expected a feature index in \[0, 3\).*got 3"),
        ({"target_column": -1}, r"`target_column`: expected a non-negative integer, got -1"),
        ({"ar_window": -2}, r"`ar_window`: expected a non-negative integer, got -2"),
        ({"input_shape": (None,)}, r"`input_shape`: expected a sequence shape.*got \(None,\)"),
        ({"input_shape": (0, 3)}, r"`input_shape`: expected a sequence shape.*got \(0, 3\)"),
        ({"output_size": 0}, r"`output_size`: expected a positive integer, got 0"),
    ],
)
def test_bad_options_are_refused_with_the_argument_named(options, message):
    arguments = {"input_shape": (None, 3), "output_size": 2, **options}
    with pytest.raises(ValueError, match=message):
        Forecaster(**arguments)


def test_a_window_with_the_wrong_number_of_features_is_refused():
    model = Forecaster((None, 3), 2)
    with pytest.raises(ValueError, match=r"expected 3 channels on the channel axis of \(B, T, F\)"):
        model(torch.randn(2, 10, 4))
    with pytest.raises(TypeError, match=r"expected a floating-point tensor \(B, T, F\)"):
        model(torch.ones(2, 10, 3, dtype=torch.long))
