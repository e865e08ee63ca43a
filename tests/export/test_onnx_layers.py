"""ONNX parity of convrec's layers on padded batches of random lengths (onnxruntime against
PyTorch, to 1e-5): every recurrent cell with an export form, stacked, bidirectional, with and
without states; convolutions and pooling with 'same' and 'causal' padding and strides. Each test
exports its layers as one graph."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from convrec.errors import InvalidValueError
from convrec.nn import Conv1d, GlobalPool, KMaxPool1d, Pool1d, Recurrent
from tests.export.parity import (
    OnPadded,
    Together,
    assert_parity,
    exported_session,
    random_batch,
)

FEATURES = 3
CELLS = [
    ("rnn", {}),
    ("rnn", {"nonlinearity": "relu"}),
    ("lstm", {}),
    ("peephole_lstm", {}),
    ("gru", {}),
    ("gru", {"reset_after": True}),
]


def example() -> tuple[torch.Tensor, torch.Tensor]:
    return random_batch(3, 6, FEATURES, torch.Generator().manual_seed(1))


def test_every_cell_stacked_and_bidirectional_with_its_states_matches(tmp_path):
    """Outputs (B, T, 2H) and the final states of two bidirectional layers of each cell: the
    reverse direction starts at each sequence's true end."""
    layers = [
        OnPadded(Recurrent(cell, FEATURES, 5, 2, bidirectional=True, return_state=True, **options))
        for cell, options in CELLS
    ]
    module = Together(layers).eval()
    session = exported_session(module, example(), tmp_path / "cells.onnx")
    assert_parity(module, session, FEATURES)


def test_one_layer_many_to_one_without_biases_matches_at_each_true_last_step(tmp_path):
    layers = [
        OnPadded(Recurrent(cell, FEATURES, 4, return_sequences=False, bias=False, **options))
        for cell, options in CELLS
    ]
    module = Together(layers).eval()
    session = exported_session(module, example(), tmp_path / "many_to_one.onnx")
    assert_parity(module, session, FEATURES)


def convolutions(padding: str) -> nn.Module:
    return nn.Sequential(
        Conv1d(FEATURES, 6, 3, stride=2, padding=padding),
        Pool1d("max", 2, stride=1, padding=padding),
        Pool1d("mean", 3, stride=2, padding=padding),
        Conv1d(6, 4, 2, padding=padding, dilation=2),
    )


class Pools(nn.Module):
    """Global pooling of every kind, and 1-max pooling, over each sequence's valid steps."""

    def __init__(self) -> None:
        super().__init__()
        self.pools = nn.ModuleList(GlobalPool(kind) for kind in ("max", "min", "mean", "sum"))
        self.kmax = KMaxPool1d(1)

    def forward(self, x):
        return (*[pool(x) for pool in self.pools], self.kmax(x).data)


def test_convolutions_and_pooling_with_same_and_causal_padding_and_strides_match(tmp_path):
    """Output lengths shrink with the strides; the lengths come out of the graph too."""
    parts = [OnPadded(convolutions("same")), OnPadded(convolutions("causal")), OnPadded(Pools())]
    module = Together(parts).eval()
    session = exported_session(module, example(), tmp_path / "convolutions.onnx")
    assert_parity(module, session, FEATURES)


def test_a_cell_without_an_export_form_is_refused_naming_it(tmp_path):
    """The layer-normalised LSTM is built on the LSTM: it must not export as a plain LSTM."""
    layer = Recurrent("layer_norm_lstm", FEATURES, 4)
    with pytest.raises(InvalidValueError, match=r"ONNX and torch\.export form.*LayerNormLSTMCell"):
        exported_session(OnPadded(layer), example(), tmp_path / "refused.onnx")
