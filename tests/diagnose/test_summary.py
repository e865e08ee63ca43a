import json

import pytest
import torch
from rich.console import Console
from torch import nn

from convrec.diagnose.summary import summary
from convrec.models import create
from convrec.nn import LSTM, Conv1d, Conv2d, Padded


def test_two_3x3_layers_with_stride_3_see_9x9_with_18_weights() -> None:
    # the notes, "Distributing the Convolution"
    model = nn.Sequential(Conv2d(1, 1, 3, stride=3, bias=False), Conv2d(1, 1, 3, bias=False))
    result = summary(model, (1, 1, 27, 27))
    first, second = result.rows
    assert (first.output_shape, first.jump, first.receptive_field) == ((1, 1, 9, 9), (3, 3), (3, 3))
    assert (second.output_shape, second.jump, second.receptive_field) == (
        (1, 1, 7, 7),
        (3, 3),
        (9, 9),
    )
    assert result.parameters == 18
    assert (first.kernel_size, first.stride, first.dilation) == ((3, 3), (3, 3), (1, 1))
    assert first.mult_adds == 81 * 9 and second.mult_adds == 49 * 9


def test_lenet5_has_its_published_parameter_count_and_conv_mult_adds() -> None:
    model = create("lenet5", input_shape=(1, 28, 28), output_size=10)
    result = summary(model, (2, 1, 28, 28))
    assert result.parameters == result.trainable == 61_706
    assert result.parameter_bytes == 61_706 * 4
    first = result.rows[0]
    assert first.layer == "Conv2d" and first.output_shape == (2, 6, 28, 28)
    assert first.mult_adds == 6 * 28 * 28 * 25  # per sample, whatever the batch
    assert result.activation_bytes == sum(
        torch.Size(row.output_shape).numel() * 4 for row in result.rows
    )
    assert [row.receptive_field for row in result.rows if row.layer == "Conv2d"] == [
        (5, 5),
        (14, 14),
    ]


def test_recurrent_parameters_are_split_per_layer_direction_and_gate() -> None:
    model = LSTM(3, 5, num_layers=2, bidirectional=True)
    (row,) = summary(model, torch.randn(1, 7, 3)).rows
    assert row.parameters == sum(parameter.numel() for parameter in model.parameters())
    assert sum(row.parameter_groups.values()) == row.parameters
    assert row.parameter_groups["layer 0 forward forget"] == 5 * (3 + 5) + 2 * 5
    assert row.parameter_groups["layer 1 reverse output"] == 5 * (10 + 5) + 2 * 5
    assert len(row.parameter_groups) == 2 * 2 * 4
    assert row.sees_whole_input and row.receptive_field is None
    assert row.mult_adds == 7 * 4 * 5 * ((3 + 5) * 2 + (10 + 5) * 2)


def test_padded_input_counts_only_the_valid_steps() -> None:
    model = LSTM(3, 5)
    padded = Padded(torch.randn(2, 6, 3), [6, 2])
    (row,) = summary(model, padded).rows
    assert row.mult_adds == (6 + 2) * 4 * 5 * (3 + 5) // 2


def test_receptive_field_in_seconds_along_time() -> None:
    model = nn.Sequential(Conv1d(4, 4, 3), Conv1d(4, 4, 3, dilation=2))
    rows = summary(model, (1, 50, 4), seconds_per_step=0.01).rows
    assert [row.receptive_field for row in rows] == [(3,), (7,)]
    assert [row.receptive_seconds for row in rows] == pytest.approx([0.03, 0.07])


def test_a_shared_layer_counts_its_parameters_once() -> None:
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    result = summary(model, (3, 4))
    assert [row.parameters for row in result.rows] == [20, 0, 0]
    assert result.parameters == 20
    assert [row.mult_adds for row in result.rows] == [16, 0, 16]


def test_summary_is_json_and_a_table() -> None:
    model = create("fcn", input_shape=(None, 3), output_size=2)
    result = summary(model, (1, 40, 3))
    decoded = json.loads(json.dumps(result.to_dict()))
    assert decoded["parameters"] == result.parameters
    assert len(decoded["rows"]) == len(result.rows)
    console = Console(width=200, record=True)
    console.print(result.table("fcn"))
    text = console.export_text()
    assert "whole input" in text and f"{result.parameters:,} parameters" in text
