"""Deterministic mode: every switch PyTorch needs for the same run to give the same bits.

``deterministic=True`` turns on ``torch.use_deterministic_algorithms`` (an operation without a
deterministic kernel then raises), ``torch.backends.cudnn.deterministic``, turns off
``torch.backends.cudnn.benchmark`` (whose timing-based choice of convolution algorithm differs run
to run) and sets ``CUBLAS_WORKSPACE_CONFIG=:4096:8``, which cuBLAS reads once, when CUDA
initialises. Seeding is the caller's (``fabric.seed_everything``).

convrec's own recurrent layers apply dropout between layers with ``F.dropout`` outside the fused
kernels, so they stay deterministic on a GPU; ``torch.nn.LSTM``, ``GRU`` and ``RNN`` with
``dropout`` between layers do not (cuDNN's RNN dropout), and
:func:`warn_nondeterministic_dropout` says so.
"""

from __future__ import annotations

import os
import warnings

import torch
from torch import nn

from convrec.checks import fail

CUBLAS_VARIABLE = "CUBLAS_WORKSPACE_CONFIG"
CUBLAS_DETERMINISTIC = (":4096:8", ":16:8")  # the two settings cuBLAS documents as deterministic


def make_deterministic(enabled: bool) -> None:
    """Switch deterministic mode on or off for this process; call it before CUDA initialises.

    Args:
        enabled: True for deterministic kernels, cuDNN without benchmarking and a deterministic
            cuBLAS workspace; False turns ``use_deterministic_algorithms`` and
            ``cudnn.deterministic`` off (``cudnn.benchmark`` and the environment stay).

    Raises:
        ValueError: ``enabled`` and CUDA was initialised before ``CUBLAS_WORKSPACE_CONFIG`` was
            set to a deterministic value, so cuBLAS can no longer take it.

    Example:
        >>> make_deterministic(False)
        >>> torch.are_deterministic_algorithms_enabled()
        False
    """
    if enabled and os.environ.get(CUBLAS_VARIABLE) not in CUBLAS_DETERMINISTIC:
        if torch.cuda.is_initialized():
            raise fail(
                "make_deterministic",
                "deterministic",
                f"{CUBLAS_VARIABLE} set to {CUBLAS_DETERMINISTIC[0]} before CUDA initialises",
                f"True with CUDA already initialised and {CUBLAS_VARIABLE}="
                f"{os.environ.get(CUBLAS_VARIABLE)!r}",
                hint=f"Start Python with {CUBLAS_VARIABLE}={CUBLAS_DETERMINISTIC[0]} in the "
                "environment, or train before anything in the process uses CUDA.",
            )
        os.environ[CUBLAS_VARIABLE] = CUBLAS_DETERMINISTIC[0]
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.deterministic = enabled
    if enabled:
        torch.backends.cudnn.benchmark = False


def warn_nondeterministic_dropout(model: nn.Module, device: torch.device) -> None:
    """Warn (``RuntimeWarning``) if ``model`` trains on a GPU with a ``torch.nn`` recurrent
    module whose dropout between layers runs in cuDNN, which is not deterministic."""
    if device.type != "cuda":
        return
    names = [
        name or type(model).__name__
        for name, module in model.named_modules()
        if isinstance(module, nn.RNNBase) and module.dropout > 0 and module.num_layers > 1
    ]
    if names:
        warnings.warn(
            f"deterministic=True, but {', '.join(names)} applies dropout between recurrent layers "
            "inside cuDNN, which is not deterministic on a GPU; use convrec.nn.LSTM, GRU or RNN "
            "(dropout outside the fused kernel) or dropout=0 for runs that repeat bit for bit",
            RuntimeWarning,
            stacklevel=2,
        )
