"""convrec.nn: the lecture notes' layers, written from their equations, with masks that really mask.

Conventions, for every layer in this package:

- sequences are batch first with time on dim 1: ``(B, T, C)``;
- images and volumes are channels first: ``(B, C, H, W)``, ``(B, C, D, H, W)``;
- a batch of variable-length sequences is a :class:`Padded`: ``data`` as above plus
  ``lengths (B,)``. Every layer here accepts one and, where the output still has a time axis,
  returns one, so the mask travels through ``nn.Sequential``. No layer reads data beyond a length,
  and every ``Padded`` a layer returns holds zeros there. Plain tensors work everywhere too.
"""

from convrec.nn.attention import AdditiveAttention
from convrec.nn.blocks import ConvBNReLU, ResidualBlock, VGGBlock
from convrec.nn.cell_protocol import RecurrentCell, find_cell, register_cell, registered_cells
from convrec.nn.cells import (
    GRUCell,
    LSTMCell,
    MatrixCell,
    RNNCell,
    flip_update_gate,
    gru_cell,
    lstm_cell,
    peephole_lstm_cell,
    rnn_cell,
)
from convrec.nn.conv import Conv1d, Conv2d, Conv3d, convolve, convolve_reference
from convrec.nn.embedding import Embedding, OneHot
from convrec.nn.init import init_conv_, init_recurrent_
from convrec.nn.lstm_variants import LayerNormLSTMCell, PeepholeLSTMCell
from convrec.nn.norm import BatchNorm
from convrec.nn.padded import (
    Padded,
    last_valid,
    reverse_sequences,
    sequence_mask,
    zero_padding,
)
from convrec.nn.pointwise import Pointwise
from convrec.nn.pool import (
    GlobalPool,
    KMaxPool1d,
    Pool1d,
    Pool2d,
    Pool3d,
    pool_fast,
    pool_windows,
    reduce_valid,
)
from convrec.nn.receptive import LayerField, receptive_field
from convrec.nn.recurrent import GRU, LSTM, RNN, Recurrent, scan_reference
from convrec.nn.sizes import conv_output_size, effective_kernel, padding_pair, pool_output_size

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "AdditiveAttention",
    "BatchNorm",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvBNReLU",
    "Embedding",
    "GRUCell",
    "GlobalPool",
    "KMaxPool1d",
    "LSTMCell",
    "LayerField",
    "LayerNormLSTMCell",
    "MatrixCell",
    "OneHot",
    "Padded",
    "PeepholeLSTMCell",
    "Pointwise",
    "Pool1d",
    "Pool2d",
    "Pool3d",
    "RNNCell",
    "Recurrent",
    "RecurrentCell",
    "ResidualBlock",
    "VGGBlock",
    "conv_output_size",
    "convolve",
    "convolve_reference",
    "effective_kernel",
    "find_cell",
    "flip_update_gate",
    "gru_cell",
    "init_conv_",
    "init_recurrent_",
    "last_valid",
    "lstm_cell",
    "padding_pair",
    "peephole_lstm_cell",
    "pool_fast",
    "pool_output_size",
    "pool_windows",
    "receptive_field",
    "reduce_valid",
    "register_cell",
    "registered_cells",
    "reverse_sequences",
    "rnn_cell",
    "scan_reference",
    "sequence_mask",
    "zero_padding",
]
