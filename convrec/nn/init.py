"""Weight initialisers for convolutions and recurrent cells.

Schemes:

- ``'torch'``: PyTorch's defaults (``kaiming_uniform_(a=sqrt(5))`` for convolutions, uniform
  ``(-1/sqrt(H), 1/sqrt(H))`` for recurrent cells).
- ``'kaiming'`` (He et al. 2015), for convolutions followed by ReLU: normal with variance
  ``2 / fan_in``, zero bias.
- ``'xavier'`` (Glorot and Bengio 2010), for convolutions: uniform with variance
  ``2 / (fan_in + fan_out)``, zero bias.
- ``'keras'``, for recurrent cells, Keras' defaults: Xavier-uniform input weights, orthogonal
  recurrent weights, zero biases, and for LSTMs a forget-gate bias of 1 (Jozefowicz et al. 2015).

The notes list these (Xavier, He) among the mitigations for vanishing and exploding
gradients.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from convrec.errors import InvalidValueError

CONV_SCHEMES = ("torch", "kaiming", "xavier")
RECURRENT_SCHEMES = ("torch", "keras")


@torch.no_grad()
def init_conv_(weight: Tensor, bias: Tensor | None, scheme: str = "torch") -> None:
    """Initialise a convolution's ``weight (out, in / groups, *kernel)`` and ``bias (out,)``."""
    if scheme == "torch":
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        if bias is not None:
            bound = 1 / math.sqrt(weight[0].numel())
            nn.init.uniform_(bias, -bound, bound)
        return
    if scheme == "kaiming":
        nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity="relu")
    elif scheme == "xavier":
        nn.init.xavier_uniform_(weight)
    else:
        raise InvalidValueError(
            f"init_conv_: unknown scheme {scheme!r}; expected one of {CONV_SCHEMES}"
        )
    if bias is not None:
        bias.zero_()


@torch.no_grad()
def init_recurrent_(
    cell: nn.Module, scheme: str = "torch", forget_gate: slice | None = None
) -> None:
    """Initialise a recurrent cell's ``weight_ih``, ``weight_hh``, ``bias_ih`` and ``bias_hh``.

    Args:
        cell: a module with ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)`` and optional biases.
        scheme: ``'torch'`` or ``'keras'``.
        forget_gate: the forget gate's rows (LSTM only), set to 1 in ``bias_ih`` by ``'keras'``.
    """
    biases = [bias for bias in (cell.bias_ih, cell.bias_hh) if bias is not None]
    if scheme == "torch":
        bound = 1 / math.sqrt(cell.weight_hh.shape[1])
        for parameter in (cell.weight_ih, cell.weight_hh, *biases):
            nn.init.uniform_(parameter, -bound, bound)
        return
    if scheme != "keras":
        raise InvalidValueError(
            f"init_recurrent_: unknown scheme {scheme!r}; expected one of {RECURRENT_SCHEMES}"
        )
    nn.init.xavier_uniform_(cell.weight_ih)
    nn.init.orthogonal_(cell.weight_hh)
    for bias in biases:
        bias.zero_()
    if forget_gate is not None and cell.bias_ih is not None:
        cell.bias_ih[forget_gate] = 1.0
