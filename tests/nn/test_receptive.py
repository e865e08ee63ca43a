"""Receptive fields: the notes' distributed convolution, dilation, branches, recurrent layers."""

import pytest
import torch
from torch import nn

from convrec.nn import (
    LSTM,
    Conv1d,
    Conv2d,
    GlobalPool,
    KMaxPool1d,
    Padded,
    Pointwise,
    Pool1d,
    Pool2d,
    ResidualBlock,
    receptive_field,
)


def fields(model: nn.Module, shape) -> list[tuple]:
    return [(row.jump, row.size) for row in receptive_field(model, shape)]


def test_two_3x3_layers_with_stride_3_see_9x9_with_18_weights():
    # the notes, "Distributing the Convolution": 18 weights instead of 81.
    model = nn.Sequential(Conv2d(1, 1, 3, stride=3, bias=False), Conv2d(1, 1, 3, bias=False))
    assert fields(model, (1, 1, 27, 27))[-1] == ((3, 3), (9, 9))
    assert sum(parameter.numel() for parameter in model.parameters()) == 18


def test_stacked_3x3_layers_grow_by_two_and_pooling_multiplies_the_jump():
    model = nn.Sequential(Conv2d(1, 2, 3), Conv2d(2, 2, 3), Pool2d("max", 2), Conv2d(2, 2, 3))
    assert fields(model, (1, 1, 20, 20)) == [
        ((1, 1), (3, 3)),
        ((1, 1), (5, 5)),
        ((2, 2), (6, 6)),
        ((2, 2), (10, 10)),
    ]


def test_dilated_stack_doubles_its_field_per_layer():
    model = nn.Sequential(*(Conv1d(1, 1, 3, dilation=d, padding="causal") for d in (1, 2, 4)))
    assert [size for _, size in fields(model, (1, 32, 1))] == [(3,), (7,), (15,)]


def test_axes_keep_their_own_geometry():
    model = nn.Sequential(Conv2d(1, 1, (3, 5), stride=(1, 2)), Conv2d(1, 1, 3))
    assert fields(model, (1, 1, 20, 20))[-1] == ((1, 2), (5, 9))


def test_a_residual_shortcut_is_traced_from_where_it_branches():
    model = nn.Sequential(Conv1d(2, 4, 3), ResidualBlock(4, 4, dims=1), Conv1d(4, 4, 3))
    rows = receptive_field(model, (1, 30, 2))
    assert [row.name for row in rows] == ["0", "1.residual.0.0", "1.residual.1", "2"]
    # the block's output is the wider of its two paths (3 + 2 + 2), then one more 3-tap layer
    assert rows[-1].size == (9,)


def test_a_projected_shortcut_starts_from_the_block_input():
    rows = receptive_field(ResidualBlock(2, 4, stride=2, dims=1), (1, 20, 2))
    shortcut = next(row for row in rows if row.name == "shortcut.0")
    assert (shortcut.jump, shortcut.size) == ((2,), (1,))


def test_torch_layers_count_too():
    model = nn.Sequential(nn.Conv2d(1, 2, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 2, 5))
    assert fields(model, (1, 1, 32, 32)) == [((1, 1), (5, 5)), ((2, 2), (6, 6)), ((2, 2), (14, 14))]


def test_recurrent_and_global_layers_see_the_whole_input():
    model = nn.Sequential(
        Conv1d(2, 4, 3),
        Pointwise(nn.ReLU()),
        Pool1d("max", 2),
        LSTM(4, 3, bidirectional=True),
        GlobalPool(),
    )
    rows = receptive_field(model, Padded(torch.randn(2, 20, 2), [20, 9]))
    assert [(row.layer, row.jump, row.size) for row in rows] == [
        ("Conv1d", (1,), (3,)),
        ("Pool1d", (2,), (4,)),
        ("LSTM", (2,), None),
        ("GlobalPool", None, None),
    ]
    assert rows[0].output_shape == (2, 18, 4)
    assert fields(KMaxPool1d(2), (1, 5, 1)) == [(None, None)]


def test_a_1d_layer_after_a_spectrogram_continues_on_the_time_axis():
    class CRNNFront(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv2d = Conv2d(1, 2, 3, stride=(2, 2))
            self.conv1d = Conv1d(2 * 7, 4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            features = self.conv2d(x)  # (B, C, F, T)
            return self.conv1d(features.flatten(1, 2).transpose(1, 2))  # (B, T, C * F)

    assert fields(CRNNFront(), (1, 1, 16, 30)) == [((2, 2), (3, 3)), ((2,), (7,))]


def test_a_bad_input_shape_is_refused():
    with pytest.raises(TypeError, match="`input_shape`: expected a sequence of positive ints"):
        receptive_field(Conv1d(1, 1, 3), (1, 0, 1))
