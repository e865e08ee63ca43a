"""Channels-last weights for a run (``channels_last=True``), refused where PyTorch's CPU
convolution would corrupt memory."""

from __future__ import annotations

import torch
from torch import nn

from convrec import nn as convrec_nn
from convrec.errors import InvalidValueError

NARROW_INPUT = 16
"""oneDNN's CPU 1x1 strided convolution, weight gradient, channels-last, writes past its buffer
when the input has fewer channels than its block (8 with AVX2, 16 with AVX-512): oneDNN issue
6035, seen with torch 2.13 as a heap-corruption abort with 2 to 7 input channels."""


def to_channels_last(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` with its 4-D weights (2-D convolutions) stored channels-last.

    Raises:
        InvalidValueError: on the CPU, a 1x1 convolution with a stride over 1 has fewer than
            :data:`NARROW_INPUT` input channels (its name and width are in the message).
    """
    if device.type == "cpu":
        for name, module in model.named_modules():
            if (
                isinstance(module, (nn.Conv2d, convrec_nn.Conv2d))
                and tuple(module.kernel_size) == (1, 1)
                and max(module.stride) > 1
                and module.in_channels < NARROW_INPUT
            ):
                raise InvalidValueError(
                    f"invalid value for argument `channels_last`: on the CPU, PyTorch's "
                    f"channels-last 1x1 strided convolution corrupts memory with fewer than "
                    f"{NARROW_INPUT} input channels (oneDNN issue 6035), and {name} has "
                    f"{module.in_channels}; widen the network or leave channels_last off"
                )
    return model.to(memory_format=torch.channels_last)
