"""Recurrent scans with a hand-written backward through time, for the cells PyTorch has no fused
kernel for: the notes' GRU (reset gate before the recurrent matmul), the peephole LSTM, and any
LSTM, GRU or RNN with recurrent dropout.

The scheme is Haste's and cuDNN's, written in PyTorch ops:

- the input projections ``W_ih x_t + b`` of all steps are one GEMM before the loop;
- each step is one GEMM ``h_{t-1} W_hh^T`` (two for the notes' GRU) and a few in-place
  elementwise ops on preallocated buffers;
- the backward walks through time by hand. The factors that do not depend on the incoming
  gradient (such as ``o (1 - o) tanh(C_t)``) are computed for all steps at once before the loop,
  into the ``(D, T, B, G * H)`` buffer of gate gradients; each step scales its row in place by
  the incoming gradient and sends ``dL/dh_{t-1}`` back with one GEMM; the weight gradients are
  single batched GEMMs after the loop.

Both directions of a bidirectional layer run in the same loop as a leading axis ``D`` (1 or 2)
with ``torch.baddbmm``, so a bidirectional layer costs the Python ops of a unidirectional one. The
caller reverses the second direction's sequences: here every direction runs forward in time.

Semantics are those of :func:`convrec.nn.recurrent.scan_reference` run on each direction: the
recurrent-dropout mask ``keep`` scales ``h_{t-1}`` where it enters the step (an LSTM's cell state
and peepholes see the undropped ``C_{t-1}``); a sequence's state stops changing once ``t``
reaches its length, so outputs past a length repeat the last valid ``h``.

Shapes, for every function here: ``x (D, B, T, I)``, ``lengths (B,)`` (integers in ``1..T``) or
None, states ``(D, B, H)``, ``weight_ih (D, G * H, I)``, ``weight_hh (D, G * H, H)``, biases
``(D, G * H)`` (both or neither), ``keep (D, B, H)``, outputs ``(D, B, T, H)``. Inside, buffers
are time-major, ``(D, T, B, ...)``, so that each step's slice is contiguous.

The backward functions are not twice differentiable (``once_differentiable``). With gradients
off (``torch.no_grad()``, or no input requiring one), nothing is kept for a backward.
"""

from convrec.nn.fast_scan.gru import gru_scan
from convrec.nn.fast_scan.lstm import lstm_scan
from convrec.nn.fast_scan.rnn import rnn_scan

__all__ = ["gru_scan", "lstm_scan", "rnn_scan"]
