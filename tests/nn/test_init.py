"""Initialisers: Keras-style recurrent weights, He and Xavier for convolutions."""

import math

import pytest
import torch

from convrec.nn import LSTM, Conv2d, GRUCell, LSTMCell, init_conv_, init_recurrent_


def test_keras_scheme_gives_orthogonal_recurrent_weights_and_forget_bias_one():
    cell = LSTMCell(6, 8, init="keras")
    gram = cell.weight_hh.T @ cell.weight_hh  # (H, H): orthonormal columns
    torch.testing.assert_close(gram, torch.eye(8), atol=1e-5, rtol=0)
    assert cell.bias_ih[8:16].tolist() == [1.0] * 8  # forget gate, rows H..2H
    assert not cell.bias_ih[:8].any() and not cell.bias_ih[16:].any()
    assert not cell.bias_hh.any()
    limit = math.sqrt(6 / (6 + 32))  # Xavier-uniform on (4H, I)
    assert cell.weight_ih.abs().max() <= limit


def test_keras_scheme_reaches_every_cell_of_a_layer():
    layer = LSTM(3, 4, num_layers=2, bidirectional=True, init="keras")
    assert all(cell.bias_ih[4:8].eq(1).all() for cell in layer.cells)


def test_keras_scheme_sets_no_forget_bias_on_a_gru():
    cell = GRUCell(3, 4, init="keras")
    assert not cell.bias_ih.any()


def test_torch_scheme_is_uniform_within_one_over_sqrt_h():
    cell = LSTMCell(3, 16)
    for parameter in cell.parameters():
        assert parameter.abs().max() <= 0.25


def test_kaiming_matches_he_variance_and_zeroes_the_bias():
    conv = Conv2d(64, 128, 3, init="kaiming")
    fan_in = 64 * 9
    expected = math.sqrt(2 / fan_in)
    assert abs(conv.weight.std().item() - expected) < 0.05 * expected
    assert not conv.bias.any()


def test_xavier_keeps_within_the_glorot_limit():
    conv = Conv2d(16, 32, 3, init="xavier")
    limit = math.sqrt(6 / (16 * 9 + 32 * 9))
    assert conv.weight.abs().max() <= limit
    assert conv.weight.abs().max() > 0.9 * limit


def test_unknown_schemes_are_refused():
    with pytest.raises(ValueError, match="unknown scheme 'he'"):
        init_conv_(torch.empty(2, 2, 3), None, "he")
    with pytest.raises(ValueError, match="unknown scheme 'xavier'"):
        init_recurrent_(LSTMCell(2, 3), "xavier")
