"""The notes' GRU (reset gate before the recurrent matmul) on a GPU: one Triton kernel runs the
whole time loop forward, one the whole loop backward.

PyTorch's kernels (cuDNN) compute only the reset-after GRU; as an eager loop the notes' GRU costs
tens to hundreds of times cuDNN on a GPU, mostly kernel launches. Here each program owns a block of
``BLOCK_B`` sequences of one direction and keeps their state on chip for all ``T`` steps
(cuDNN's persistent-kernel idea, FlashRNN's too; the sequences of a batch are independent, so no
program waits for another): per step it reads the recurrent weights (from L2 after the first
step), does the two small matmuls with ``tl.dot`` and the gates in registers. The backward kernel
walks back through time the same way and writes each step's gate gradients; the weight and input
gradients are then single batched GEMMs in PyTorch, as in :mod:`convrec.nn.fast_scan`.

Semantics, shapes and the equations are those of :func:`convrec.nn.fast_scan.gru_scan`
(``reset_after=False``), which this replaces on CUDA tensors when Triton is installed. The
recurrent weights are read whole per step, so ``hidden_size`` is limited to
:data:`MAX_HIDDEN` (larger layers use :func:`~convrec.nn.fast_scan.gru_scan`'s PyTorch ops).
Tested on the CPU under ``TRITON_INTERPRET=1`` against the reference loop, forward and
gradients; the speed on a GPU is measured by ``benchmarks/custom_cells.py --device cuda``.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

MAX_HIDDEN = 128
BLOCK_B = 16


def triton_runs(x: Tensor, hidden_size: int) -> bool:
    """Whether the Triton scan runs this input: Triton installed, a CUDA tensor (or the
    interpreter, ``TRITON_INTERPRET=1``), and ``hidden_size <= MAX_HIDDEN``."""
    interpreted = os.environ.get("TRITON_INTERPRET") == "1"
    return (
        hidden_size <= MAX_HIDDEN
        and (x.is_cuda or interpreted)
        and importlib.util.find_spec("triton") is not None
    )


def gru_scan_triton(
    x: Tensor,
    lengths: Tensor | None,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    keep: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """The notes' GRU over all steps and directions, in two Triton kernels.

    Args:
        x: ``(D, B, T, I)``; lengths: ``(B,)`` or None; h0: ``(D, B, H)``.
        weight_ih: ``(D, 3H, I)``; weight_hh: ``(D, 3H, H)``; biases ``(D, 3H)`` or None.
        keep: ``(D, B, H)`` scaled recurrent-dropout mask, or None.

    Returns:
        ``outputs (D, B, T, H)`` (past a length, the last valid ``h``) and ``h_n (D, B, H)``.
    """
    _, batch, steps, _ = x.shape
    if lengths is None:
        lengths = torch.full((batch,), steps, dtype=torch.int64, device=x.device)
    lengths = lengths.to(device=x.device, dtype=torch.int64)
    if keep is None:
        keep = torch.ones_like(h0)
    bias = None if bias_ih is None else bias_ih + bias_hh
    hs = _GRUScan.apply(x, lengths, h0, weight_ih, weight_hh, bias, keep)  # (D, T + 1, B, H)
    return hs[:, 1:].transpose(1, 2), hs[:, steps]


class _GRUScan(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: FunctionCtx,
        x: Tensor,
        lengths: Tensor,
        h0: Tensor,
        weight_ih: Tensor,
        weight_hh: Tensor,
        bias: Tensor | None,
        keep: Tensor,
    ) -> Tensor:
        directions, batch, steps, _ = x.shape
        hidden = h0.shape[-1]
        x_tm = x.transpose(1, 2)  # (D, T, B, I)
        projected = torch.bmm(
            x_tm.reshape(directions, steps * batch, -1), weight_ih.transpose(1, 2)
        )
        if bias is not None:
            projected += bias[:, None]
        projected = projected.view(directions, steps, batch, 3 * hidden).contiguous()
        hs = h0.new_empty(directions, steps + 1, batch, hidden)
        gates = h0.new_empty(directions, steps, batch, 3 * hidden)
        grid = (directions, -(-batch // BLOCK_B))
        _kernels()["forward"][grid](
            projected,
            weight_hh.contiguous(),
            h0.contiguous(),
            keep.contiguous(),
            lengths,
            hs,
            gates,
            steps,
            batch,
            hidden,
            BLOCK_B=BLOCK_B,
            BLOCK_H=_block(hidden),
        )
        ctx.save_for_backward(x_tm, lengths, weight_ih, weight_hh, keep, hs, gates)
        ctx.has_bias = bias is not None
        return hs

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_hs: Tensor) -> tuple[Any, ...]:
        x_tm, lengths, weight_ih, weight_hh, keep, hs, gates = ctx.saved_tensors
        directions, steps, batch, _ = x_tm.shape
        hidden = hs.shape[-1]
        d_hs = d_hs.contiguous()
        d_gates = torch.zeros_like(gates)  # (D, T, B, 3H): da_r, da_z, da_n
        d_h0 = torch.empty_like(hs[:, 0])
        grid = (directions, -(-batch // BLOCK_B))
        _kernels()["backward"][grid](
            d_hs,
            weight_hh.contiguous(),
            keep,
            lengths,
            hs,
            gates,
            d_gates,
            d_h0,
            steps,
            batch,
            hidden,
            BLOCK_B=BLOCK_B,
            BLOCK_H=_block(hidden),
        )
        recurrent = hs[:, :steps] * keep[:, None]  # h' = h_{t-1} * keep, (D, T, B, H)
        reset = gates[..., :hidden]
        rows = steps * batch
        d_rz = d_gates[..., : 2 * hidden].reshape(directions, rows, 2 * hidden)
        d_n = d_gates[..., 2 * hidden :].reshape(directions, rows, hidden)
        d_weight_hh = torch.cat(
            [
                torch.bmm(d_rz.transpose(1, 2), recurrent.reshape(directions, rows, hidden)),
                torch.bmm(
                    d_n.transpose(1, 2), (reset * recurrent).reshape(directions, rows, hidden)
                ),
            ],
            dim=1,
        )
        flat = d_gates.view(directions, rows, 3 * hidden)
        d_weight_ih = torch.bmm(flat.transpose(1, 2), x_tm.reshape(directions, rows, -1))
        d_x = torch.bmm(flat, weight_ih).view(directions, steps, batch, -1).transpose(1, 2)
        d_bias = flat.sum(1) if ctx.has_bias else None
        return d_x, None, d_h0, d_weight_ih, d_weight_hh, d_bias, None


def _block(hidden: int) -> int:
    """The padded hidden size of a tile: a power of two, at least 16 (``tl.dot``'s minimum)."""
    return max(16, 1 << (hidden - 1).bit_length())


def _kernels() -> dict[str, Any]:
    """The kernels, imported on first use (only a GPU scan needs Triton)."""
    from convrec.nn import triton_kernels

    return {"forward": triton_kernels.gru_forward, "backward": triton_kernels.gru_backward}
