"""Recurrent cells PyTorch has no GPU kernel for, as Triton kernels: one runs the whole time loop
forward, one the whole loop backward. The notes' GRU (reset gate before the recurrent matmul), and
the LSTM with peepholes or recurrent dropout.

PyTorch's kernels (cuDNN) compute only the reset-after GRU and the plain LSTM; as an eager loop
the notes' GRU costs
tens to hundreds of times cuDNN on a GPU, mostly kernel launches. Here each program owns a block of
``BLOCK_B`` sequences of one direction and keeps their state on chip for all ``T`` steps
(cuDNN's persistent-kernel idea, FlashRNN's too; the sequences of a batch are independent, so no
program waits for another): per step it reads the recurrent weights (from L2 after the first
step), does the two small matmuls with ``tl.dot`` and the gates in registers. The backward kernel
walks back through time the same way and writes each step's gate gradients; the weight and input
gradients are then single batched GEMMs in PyTorch, as in :mod:`convrec.nn.fast_scan`.

Semantics, shapes and the equations are those of :func:`convrec.nn.fast_scan.gru_scan`
(``reset_after=False``) and :func:`convrec.nn.fast_scan.lstm_scan`, which these replace on CUDA
tensors when Triton is installed. The
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
    steps = x.shape[2]
    lengths, keep = _lengths_and_keep(x, lengths, keep, h0)
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
        x_tm, projected = _project(x, weight_ih, bias)  # (D, T, B, I), (D, T, B, 3H)
        hs = h0.new_empty(directions, steps + 1, batch, hidden)
        gates = h0.new_empty(directions, steps, batch, 3 * hidden)
        _kernels()["gru_forward"][_grid(directions, batch)](
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
        _kernels()["gru_backward"][_grid(directions, batch)](
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
        d_x, d_weight_ih, d_bias = _input_gradients(flat, x_tm, weight_ih, ctx.has_bias)
        return d_x, None, d_h0, d_weight_ih, d_weight_hh, d_bias, None


def lstm_scan_triton(
    x: Tensor,
    lengths: Tensor | None,
    h0: Tensor,
    c0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    weight_peephole: Tensor | None = None,
    keep: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """The LSTM, or with ``weight_peephole`` the peephole LSTM, over all steps and directions in
    two Triton kernels (for what PyTorch's kernel cannot do: peepholes, recurrent dropout).

    Args:
        x: ``(D, B, T, I)``; lengths: ``(B,)`` or None; h0, c0: ``(D, B, H)``.
        weight_ih: ``(D, 4H, I)``; weight_hh: ``(D, 4H, H)``; biases ``(D, 4H)`` or None;
            gates ``(i, f, g, o)``.
        weight_peephole: ``(D, 3H)``, ``[p_i; p_f; p_o]``, or None.
        keep: ``(D, B, H)`` scaled recurrent-dropout mask, or None.

    Returns:
        ``outputs (D, B, T, H)``, ``h_n`` and ``c_n`` ``(D, B, H)``, the states at each length.
    """
    steps = x.shape[2]
    lengths, keep = _lengths_and_keep(x, lengths, keep, h0)
    bias = None if bias_ih is None else bias_ih + bias_hh
    hs, cs = _LSTMScan.apply(x, lengths, h0, c0, weight_ih, weight_hh, bias, weight_peephole, keep)
    return hs[:, 1:].transpose(1, 2), hs[:, steps], cs[:, steps]


class _LSTMScan(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: FunctionCtx,
        x: Tensor,
        lengths: Tensor,
        h0: Tensor,
        c0: Tensor,
        weight_ih: Tensor,
        weight_hh: Tensor,
        bias: Tensor | None,
        peephole: Tensor | None,
        keep: Tensor,
    ) -> tuple[Tensor, Tensor]:
        directions, batch, steps, _ = x.shape
        hidden = h0.shape[-1]
        x_tm, projected = _project(x, weight_ih, bias)  # (D, T, B, I), (D, T, B, 4H)
        hs = h0.new_empty(directions, steps + 1, batch, hidden)
        cs = torch.empty_like(hs)
        gates = h0.new_empty(directions, steps, batch, 4 * hidden)
        diagonal = h0 if peephole is None else peephole.contiguous()
        _kernels()["lstm_forward"][_grid(directions, batch)](
            projected,
            weight_hh.contiguous(),
            diagonal,
            h0.contiguous(),
            c0.contiguous(),
            keep,
            lengths,
            hs,
            cs,
            gates,
            steps,
            batch,
            hidden,
            PEEPHOLE=peephole is not None,
            BLOCK_B=BLOCK_B,
            BLOCK_H=_block(hidden),
        )
        ctx.save_for_backward(x_tm, lengths, weight_ih, weight_hh, peephole, keep, hs, cs, gates)
        ctx.has_bias = bias is not None
        return hs, cs

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_hs: Tensor, d_cs: Tensor) -> tuple[Any, ...]:
        x_tm, lengths, weight_ih, weight_hh, peephole, keep, hs, cs, gates = ctx.saved_tensors
        directions, steps, batch, _ = x_tm.shape
        hidden = hs.shape[-1]
        d_gates = torch.zeros_like(gates)  # (D, T, B, 4H): da_i, da_f, da_g, da_o
        d_h0, d_c0 = torch.empty_like(hs[:, 0]), torch.empty_like(hs[:, 0])
        _kernels()["lstm_backward"][_grid(directions, batch)](
            d_hs.contiguous(),
            d_cs.contiguous(),
            weight_hh.contiguous(),
            hs if peephole is None else peephole.contiguous(),
            keep,
            lengths,
            cs,
            gates,
            d_gates,
            d_h0,
            d_c0,
            steps,
            batch,
            hidden,
            PEEPHOLE=peephole is not None,
            BLOCK_B=BLOCK_B,
            BLOCK_H=_block(hidden),
        )
        recurrent = hs[:, :steps] * keep[:, None]  # h' = h_{t-1} * keep, (D, T, B, H)
        rows = steps * batch
        flat = d_gates.view(directions, rows, 4 * hidden)
        d_weight_hh = torch.bmm(flat.transpose(1, 2), recurrent.reshape(directions, rows, hidden))
        d_peephole = None
        if peephole is not None:
            d_i, d_f, _, d_o = d_gates.chunk(4, dim=-1)
            d_peephole = torch.cat(
                [
                    (d_i * cs[:, :steps]).sum((1, 2)),
                    (d_f * cs[:, :steps]).sum((1, 2)),
                    (d_o * cs[:, 1:]).sum((1, 2)),
                ],
                dim=1,
            )
        d_x, d_weight_ih, d_bias = _input_gradients(flat, x_tm, weight_ih, ctx.has_bias)
        return d_x, None, d_h0, d_c0, d_weight_ih, d_weight_hh, d_bias, d_peephole, None


def _lengths_and_keep(
    x: Tensor, lengths: Tensor | None, keep: Tensor | None, h0: Tensor
) -> tuple[Tensor, Tensor]:
    """Lengths as int64 on the input's device (all ``T`` if None), and the dropout mask (ones if
    None)."""
    _, batch, steps, _ = x.shape
    if lengths is None:
        lengths = torch.full((batch,), steps, dtype=torch.int64, device=x.device)
    lengths = lengths.to(device=x.device, dtype=torch.int64)
    keep = torch.ones_like(h0) if keep is None else keep.contiguous()
    return lengths, keep


def _project(x: Tensor, weight_ih: Tensor, bias: Tensor | None) -> tuple[Tensor, Tensor]:
    """The time-major input ``(D, T, B, I)`` and its projections ``W_ih x_t + b`` for all steps,
    ``(D, T, B, G * H)``, in one batched GEMM."""
    directions, batch, steps, _ = x.shape
    x_tm = x.transpose(1, 2)
    projected = torch.bmm(x_tm.reshape(directions, steps * batch, -1), weight_ih.transpose(1, 2))
    if bias is not None:
        projected += bias[:, None]
    return x_tm, projected.view(directions, steps, batch, -1).contiguous()


def _input_gradients(
    d_gates: Tensor, x_tm: Tensor, weight_ih: Tensor, has_bias: bool
) -> tuple[Tensor, Tensor, Tensor | None]:
    """``dL/dx (D, B, T, I)``, ``dL/dW_ih`` and ``dL/db`` from the gate gradients of all steps,
    ``(D, T * B, G * H)``."""
    directions, steps, batch, _ = x_tm.shape
    d_weight_ih = torch.bmm(d_gates.transpose(1, 2), x_tm.reshape(directions, steps * batch, -1))
    d_x = torch.bmm(d_gates, weight_ih).view(directions, steps, batch, -1).transpose(1, 2)
    return d_x, d_weight_ih, d_gates.sum(1) if has_bias else None


def _grid(directions: int, batch: int) -> tuple[int, int]:
    """One program per direction and block of ``BLOCK_B`` sequences."""
    return directions, -(-batch // BLOCK_B)


def _block(hidden: int) -> int:
    """The padded hidden size of a tile: a power of two, at least 16 (``tl.dot``'s minimum)."""
    return max(16, 1 << (hidden - 1).bit_length())


def _kernels() -> dict[str, Any]:
    """The kernels, imported on first use (only a GPU scan needs Triton; Triton decides when a
    kernel is decorated, at that import, whether it runs compiled or interpreted)."""
    from convrec.nn import triton_kernels

    return {
        name: getattr(triton_kernels, name)
        for name in ("gru_forward", "gru_backward", "lstm_forward", "lstm_backward")
    }
