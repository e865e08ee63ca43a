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

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from convrec.checks import describe, fail
from convrec.errors import InvalidTypeError

NONLINEARITIES = ("tanh", "relu")


class _Plan(NamedTuple):
    """Which steps run. ``steps``: the longest length (no state changes after it); ``full``: the
    shortest (no step before it needs the length mask); ``running (steps, B, 1)``: ``t < length``,
    or None when every sequence runs all ``steps``."""

    steps: int
    full: int
    running: Tensor | None


# LSTM ------------------------------------------------------------------------------------------


def lstm_scan(
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
    """The LSTM (:func:`convrec.nn.cells.lstm_cell`), or with ``weight_peephole`` the peephole
    LSTM (:func:`convrec.nn.cells.peephole_lstm_cell`), over all steps and directions.

    The backward runs from ``t = T - 1`` down; ``dh``, ``dC`` are the gradients reaching ``h_t``
    and ``C_t``, ``da_*`` those of the gate pre-activations, ``h' = h_{t-1} * keep``:

        da_o = dh * o (1 - o) tanh(C_t)
        dC~ = dC + dh * o (1 - tanh(C_t)^2) + da_o p_o             (all of C_t's gradient)
        da_i, da_f, da_g = dC~ * (i (1 - i) C~_t, f (1 - f) C_{t-1}, (1 - C~_t^2) i)
        dC_{t-1} = dC~ * f + da_i p_i + da_f p_f
        dh_{t-1} = dy_{t-1} + keep * (da W_hh)
        dW_hh = sum_t da^T h',   dW_ih = sum_t da^T x_t,   dp_i = sum_t da_i C_{t-1}, ...

    Args:
        x, lengths, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh: see the module docstring;
            gates ``(i, f, g, o)``, ``G = 4``.
        weight_peephole: ``(D, 3 * H)``, ``[p_i; p_f; p_o]``, or None for the plain LSTM.
        keep: ``(D, B, H)`` recurrent-dropout mask, already scaled, or None; gets no gradient.

    Returns:
        ``outputs (D, B, T, H)``, and ``h_n``, ``c_n`` ``(D, B, H)``, the states at each length.

    Example:
        >>> D, B, T, I, H = 2, 3, 5, 4, 6
        >>> h0 = c0 = torch.zeros(D, B, H)
        >>> weight_ih, weight_hh = torch.randn(D, 4 * H, I), torch.randn(D, 4 * H, H)
        >>> outputs, h, c = lstm_scan(torch.randn(D, B, T, I), None, h0, c0, weight_ih, weight_hh,
        ...     None, None)
        >>> outputs.shape, c.shape
        (torch.Size([2, 3, 5, 6]), torch.Size([2, 3, 6]))
    """
    owner = "lstm_scan"
    _check_scan(owner, x, (h0, c0), weight_ih, weight_hh, bias_ih, bias_hh, 4, keep)
    if weight_peephole is not None:
        _check_tensor(owner, "weight_peephole", weight_peephole, (len(x), 3 * h0.shape[-1]), x)
    plan = _plan(owner, x, lengths)
    # Gates inside in the order (o, i, f, g): i, f, g are one slice scaled by dC~ in the backward.
    # The candidate's pre-activation is doubled, so that one sigmoid serves all four gates:
    # tanh(a) = 2 sigmoid(2 a) - 1 (and a sigmoid costs half a tanh on the CPU).
    bias = None if bias_ih is None else _to_ofig(bias_ih + bias_hh)
    inputs = (x, h0, c0, _to_ofig(weight_ih), _to_ofig(weight_hh), bias, weight_peephole, keep)
    if _needs_graph(inputs):
        return _LSTMScan.apply(plan, *inputs)
    return _lstm_forward(plan, *inputs, save=False)


def _to_ofig(parameter: Tensor) -> Tensor:
    """Reorder the gate blocks (dim 1) from PyTorch's ``(i, f, g, o)`` to ``(o, i, f, 2 g)``."""
    i, f, g, o = parameter.chunk(4, dim=1)
    return torch.cat([o, i, f, 2 * g], dim=1)


def _lstm_forward(
    plan: _Plan,
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias: Tensor | None,
    peephole: Tensor | None,
    keep: Tensor | None,
    save: bool,
) -> tuple[Tensor, ...]:
    """The forward loop, gates ``(o, i, f, g)`` (``g``'s pre-activation doubled):
    ``(outputs, h_n, c_n)``, and when ``save`` also what the backward needs: ``x_tm``, the gates,
    the states ``h``, ``C`` and ``tanh(C_t)``."""
    hidden_size, steps = h0.shape[-1], plan.steps
    x_tm, gates = _project(x, steps, weight_ih, bias)  # (D, steps, B, 4H)
    hidden, hs = _states(h0, steps, True)  # (D, steps + 1, B, H)
    cell, cs = _states(c0, steps, save)
    squashed, tanh_cs = _per_step(c0, steps, save)  # tanh(C_t) of step t
    recurrent, w_hh, runs = torch.empty_like(h0), weight_hh.transpose(1, 2), _unbind(plan.running)
    whole, o, i, f, g = _slices(gates, hidden_size, (0, 4), (0, 1), (1, 2), (2, 3), (3, 4))
    minus_one = h0.new_full((), -1)
    if peephole is not None:
        ifg = _slices(gates, hidden_size, (1, 4))[0]
        i_f = gates[..., hidden_size : 3 * hidden_size].unflatten(-1, (2, hidden_size)).unbind(1)
        p_if = peephole[:, None, : 2 * hidden_size].unflatten(-1, (2, hidden_size))
        p_o = peephole[:, None, 2 * hidden_size :]
    for t in range(steps):
        h_rec = hs[t] if keep is None else torch.mul(hs[t], keep, out=recurrent)
        whole[t].baddbmm_(h_rec, w_hh)
        if peephole is None:
            whole[t].sigmoid_()
        else:
            i_f[t].addcmul_(p_if, cs[t].unsqueeze(2))
            ifg[t].sigmoid_()
        torch.add(minus_one, g[t], alpha=2, out=g[t])  # tanh(a) = 2 sigmoid(2 a) - 1
        torch.mul(f[t], cs[t], out=cs[t + 1]).addcmul_(i[t], g[t])
        if peephole is not None:
            o[t].addcmul_(p_o, cs[t + 1]).sigmoid_()
        torch.mul(o[t], torch.tanh(cs[t + 1], out=tanh_cs[t]), out=hs[t + 1])
        if t >= plan.full:
            torch.where(runs[t], hs[t + 1], hs[t], out=hs[t + 1])
            torch.where(runs[t], cs[t + 1], cs[t], out=cs[t + 1])
    results = (_outputs(hidden, x.shape[2]), hs[steps].clone(), cs[steps].clone())
    return (*results, x_tm, gates, hidden, cell, squashed) if save else results


class _LSTMScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx: FunctionCtx, plan: _Plan, *inputs: Tensor | None) -> tuple[Tensor, ...]:
        outputs, h_n, c_n, *saved = _lstm_forward(plan, *inputs, save=True)
        ctx.plan = plan
        ctx.save_for_backward(*inputs[3:], *saved)
        return outputs, h_n, c_n

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_outputs: Tensor, d_h: Tensor, d_c: Tensor) -> tuple:
        weight_ih, weight_hh, bias, peephole, keep, x_tm, gates, hidden, cell, squashed = (
            ctx.saved_tensors
        )
        plan, hidden_size = ctx.plan, hidden.shape[-1]
        d_hidden = _hidden_gradients(d_outputs, d_h, plan.steps)  # (D, steps + 1, B, H)
        # (D, steps + 1, B, 5, H): row t first holds step t's factors (d_o, d_i, d_f, d_g, forget),
        # which the loop scales in place into (da_o, da_i, da_f, da_g, dC_{t-1}); the last row
        # holds only dC at the end.
        d_all = d_hidden.new_empty(*d_hidden.shape[:3], 5, hidden_size)
        carry = _lstm_factors(plan, gates, cell, squashed, peephole, d_all[:, : plan.steps])
        d_all[:, plan.steps, :, 4] = d_c
        d_gates = d_all[:, : plan.steps, :, :4].flatten(3)  # (D, steps, B, 4H)
        d_os, d_ifgc = d_all[:, :, :, 0].unbind(1), d_all[:, :, :, 1:].unbind(1)
        d_cs, d_cs_wide = d_all[:, :, :, 4].unbind(1), d_all[:, :, :, 4:].unbind(1)
        dhs, d_gate_steps, carry = d_hidden.unbind(1), d_gates.unbind(1), carry.unbind(1)
        idle, scratch = _idle(plan, d_h), torch.empty_like(d_h)
        for t in reversed(range(plan.steps)):
            dh = dhs[t + 1]
            d_cs[t + 1].addcmul_(dh, carry[t])
            d_os[t].mul_(dh)
            d_ifgc[t].mul_(d_cs_wide[t + 1])
            _send_back(dhs[t], d_gate_steps[t], weight_hh, keep, scratch)
            if t >= plan.full:
                dhs[t].addcmul_(dh, idle[t])
        d_peephole = None
        if peephole is not None:
            d_if = (d_all[:, : plan.steps, :, 1:3] * cell[:, :-1, :, None]).sum((1, 2)).flatten(1)
            d_peephole = torch.cat(
                [d_if, (d_all[:, : plan.steps, :, 0] * cell[:, 1:]).sum((1, 2))], 1
            )
        d_x, d_weight_ih, d_bias = _input_gradients(
            d_gates, x_tm, weight_ih, d_outputs.shape[2], ctx.needs_input_grad[1]
        )
        d_weight_hh = _weight_gradient(d_gates, _recurrent_inputs(hidden, keep))
        return (
            None,
            d_x,
            d_hidden[:, 0].clone(),
            d_cs[0].clone(),
            d_weight_ih,
            d_weight_hh,
            None if bias is None else d_bias,
            d_peephole,
            None,
        )


def _lstm_factors(
    plan: _Plan,
    gates: Tensor,
    cell: Tensor,
    squashed: Tensor,
    peephole: Tensor | None,
    factors: Tensor,
) -> Tensor:
    """The LSTM backward's factors that do not depend on the incoming gradient, for all steps.
    Writes ``factors (D, steps, B, 5, H)``: ``d_o`` (``da_o = dh * d_o``) and ``d_cell``, with
    ``(da_i, da_f, da_g, dC_{t-1}) = dC~ * d_cell`` (``da_g`` for the doubled pre-activation,
    hence its half); returns ``carry`` (``dC~ = dC + dh * carry``). On a masked step
    (``t >= length``) all gate factors are 0 and ``dC_{t-1} = dC_t``."""
    hidden_size = cell.shape[-1]
    o, i, f, g = gates.unflatten(-1, (4, hidden_size)).unbind(3)
    d_o, d_i, d_f, d_g, forget = factors.unbind(3)
    slope_o, slope_i, slope_f = _slopes(gates[..., : 3 * hidden_size], 3)
    torch.mul(slope_o, squashed, out=d_o)
    torch.mul(slope_i, g, out=d_i)
    torch.mul(slope_f, cell[:, :-1], out=d_f)
    torch.addcmul(i, torch.mul(i, g, out=d_g), g, value=-1, out=d_g).mul_(0.5)  # (1 - g^2) i / 2
    carry = torch.addcmul(o, o, squashed * squashed, value=-1)  # o (1 - tanh(C_t)^2)
    if peephole is None:
        forget.copy_(f)
    else:
        p_i, p_f, p_o = peephole[:, None, None].unflatten(-1, (3, hidden_size)).unbind(-2)
        carry.addcmul_(d_o, p_o)
        torch.addcmul(f, d_i, p_i, out=forget).addcmul_(d_f, p_f)
    if plan.running is not None:
        carry.mul_(plan.running)
        factors[..., :4, :].mul_(plan.running.unsqueeze(-1))
        forget.masked_fill_(~plan.running, 1)
    return carry


# GRU -------------------------------------------------------------------------------------------


def gru_scan(
    x: Tensor,
    lengths: Tensor | None,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    reset_after: bool,
    keep: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """The GRU (:func:`convrec.nn.cells.gru_cell`: gates ``(r, z, n)``, ``z`` weighs the
    candidate) over all steps and directions. As in the reference, the recurrent input
    ``h' = h_{t-1} * keep`` is also the ``h`` of ``h_t = (1 - z) h' + z h~``.

    The backward, in the notation of :func:`lstm_scan`:

        da_z = dh * (h~ - h') z (1 - z)
        da_n = dh * (1 - h~^2) z
        reset before:  d(r h') = da_n W_hn,           da_r = d(r h') * h' r (1 - r)
        reset after:   d(W_hn h' + b_hn) = da_n r,    da_r = da_n (W_hn h' + b_hn) r (1 - r)
        dh_{t-1} = dy_{t-1} + keep * (dh (1 - z) + [d(r h') r] + da_(r, z, n) W_hh)

    Args:
        x, lengths, h0, weight_ih, weight_hh, bias_ih, bias_hh, keep: as for :func:`lstm_scan`,
            with ``G = 3``.
        reset_after: False for the notes' GRU, ``h~ = tanh(x_n + W_hn (r * h') + b_hn)`` (two
            GEMMs a step); True for cuDNN's, ``h~ = tanh(x_n + r * (W_hn h' + b_hn))``.

    Returns:
        ``outputs (D, B, T, H)`` and ``h_n (D, B, H)``.
    """
    owner = "gru_scan"
    if not isinstance(reset_after, bool):
        raise fail(owner, "reset_after", "True or False", repr(reset_after), error=InvalidTypeError)
    _check_scan(owner, x, (h0,), weight_ih, weight_hh, bias_ih, bias_hh, 3, keep)
    plan, hidden_size = _plan(owner, x, lengths), h0.shape[-1]
    bias, bias_hn = None, None
    if bias_ih is not None and reset_after:
        bias_hn = bias_hh[:, 2 * hidden_size :]
        bias = bias_ih + torch.cat(
            [bias_hh[:, : 2 * hidden_size], torch.zeros_like(bias_hn)], dim=1
        )
    elif bias_ih is not None:
        bias = bias_ih + bias_hh
    inputs = (x, h0, weight_ih, weight_hh, bias, bias_hn, keep)
    if _needs_graph(inputs):
        return _GRUScan.apply(plan, reset_after, *inputs)
    return _gru_forward(plan, reset_after, *inputs, save=False)


def _gru_forward(
    plan: _Plan,
    reset_after: bool,
    x: Tensor,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias: Tensor | None,
    bias_hn: Tensor | None,
    keep: Tensor | None,
    save: bool,
) -> tuple[Tensor, ...]:
    """The forward loop: ``(outputs, h_n)``, and when ``save`` also ``x_tm``, the gates
    ``(r, z, a)``, the states ``h``, and ``r h'`` (reset before, then ``a = h~``) or ``h~``
    (reset after, then ``a = W_hn h' + b_hn``)."""
    hidden_size, steps = h0.shape[-1], plan.steps
    x_tm, gates = _project(x, steps, weight_ih, bias)  # (D, steps, B, 3H)
    if reset_after:
        extra = gates[..., 2 * hidden_size :].clone()  # x_n + b_in, then h~
        gates[..., 2 * hidden_size :] = 0 if bias_hn is None else bias_hn[:, None, None]
        candidates = extra.unbind(1)
    else:
        extra, reset_hidden = _per_step(h0, steps, save)  # r * h'
    hidden, hs = _states(h0, steps, True)
    recurrent, runs = torch.empty_like(h0), _unbind(plan.running)
    whole, rz, r, z, a = _slices(gates, hidden_size, (0, 3), (0, 2), (0, 1), (1, 2), (2, 3))
    w_hh, w_rz, w_n = (
        w.transpose(1, 2) for w in (weight_hh, *weight_hh.split([2 * hidden_size, hidden_size], 1))
    )
    for t in range(steps):
        h_rec = hs[t] if keep is None else torch.mul(hs[t], keep, out=recurrent)
        if reset_after:
            whole[t].baddbmm_(h_rec, w_hh)
            rz[t].sigmoid_()
            candidate = candidates[t].addcmul_(r[t], a[t]).tanh_()
        else:
            rz[t].baddbmm_(h_rec, w_rz).sigmoid_()
            candidate = a[t].baddbmm_(torch.mul(r[t], h_rec, out=reset_hidden[t]), w_n).tanh_()
        torch.lerp(h_rec, candidate, z[t], out=hs[t + 1])
        if t >= plan.full:
            torch.where(runs[t], hs[t + 1], hs[t], out=hs[t + 1])
    results = (_outputs(hidden, x.shape[2]), hs[steps].clone())
    return (*results, x_tm, gates, hidden, extra) if save else results


class _GRUScan(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: FunctionCtx, plan: _Plan, reset_after: bool, *inputs: Tensor | None
    ) -> tuple[Tensor, ...]:
        outputs, h_n, *saved = _gru_forward(plan, reset_after, *inputs, save=True)
        ctx.plan, ctx.reset_after = plan, reset_after
        ctx.save_for_backward(*inputs[2:], *saved)
        return outputs, h_n

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_outputs: Tensor, d_h: Tensor) -> tuple:
        weight_ih, weight_hh, bias, bias_hn, keep, x_tm, gates, hidden, extra = ctx.saved_tensors
        plan, reset_after, hidden_size = ctx.plan, ctx.reset_after, hidden.shape[-1]
        d_hidden = _hidden_gradients(d_outputs, d_h, plan.steps)
        h_rec = _recurrent_inputs(hidden, keep)
        if reset_after:
            d_gates, d_n = _gru_after_loop(plan, d_hidden, gates, extra, h_rec, weight_hh, keep)
            d_weight_hh = _weight_gradient(d_gates, h_rec)
            d_bias_hn = d_gates[..., 2 * hidden_size :].sum((1, 2))
            d_gates = torch.cat([d_gates[..., : 2 * hidden_size], d_n], dim=-1)
        else:
            d_gates = _gru_before_loop(plan, d_hidden, gates, h_rec, weight_hh, keep)
            d_weight_hh = torch.cat(
                [
                    _weight_gradient(d_gates[..., : 2 * hidden_size], h_rec),
                    _weight_gradient(d_gates[..., 2 * hidden_size :], extra),
                ],
                dim=1,
            )
        d_x, d_weight_ih, d_bias = _input_gradients(
            d_gates, x_tm, weight_ih, d_outputs.shape[2], ctx.needs_input_grad[2]
        )
        return (
            None,
            None,
            d_x,
            d_hidden[:, 0].clone(),
            d_weight_ih,
            d_weight_hh,
            None if bias is None else d_bias,
            None if bias_hn is None else d_bias_hn,
            None,
        )


def _gru_before_loop(
    plan: _Plan, d_hidden: Tensor, gates: Tensor, h_rec: Tensor, weight_hh: Tensor, keep: Tensor
) -> Tensor:
    """The backward loop of the notes' GRU: fills ``d_hidden`` and returns the gate gradients
    ``(D, steps, B, 3H)``."""
    hidden_size = h_rec.shape[-1]
    r, z, n = gates.unflatten(-1, (3, hidden_size)).unbind(3)
    slope_r, slope_z = _slopes(gates[..., : 2 * hidden_size], 2)
    # The gradients, first holding the factors (h' r (1 - r), (h~ - h') z (1 - z), (1 - h~^2) z)
    # that the loop scales in place by d(r h') and dh.
    d_gates = torch.empty_like(gates).unflatten(-1, (3, hidden_size))  # (D, steps, B, 3, H)
    d_r, d_z, d_n = d_gates.unbind(3)
    torch.mul(slope_r, h_rec, out=d_r)
    torch.sub(n, h_rec, out=d_z).mul_(slope_z)
    torch.addcmul(z, z, torch.mul(n, n, out=d_n), value=-1, out=d_n)
    if plan.running is not None:
        d_gates[..., 1:, :].mul_(plan.running.unsqueeze(-1))
    hold, r = _hold(plan, z, keep).unbind(1), r.unbind(1)
    d_zns, d_rzs = d_gates[:, :, :, 1:].unbind(1), d_gates[:, :, :, :2].flatten(3).unbind(1)
    d_rs, d_ns = d_r.unbind(1), d_n.unbind(1)
    dhs, dhs_wide = d_hidden.unbind(1), d_hidden.unsqueeze(3).unbind(1)
    w_rz, w_n = weight_hh.split([2 * hidden_size, hidden_size], 1)
    d_reset_hidden, scratch = torch.empty_like(dhs[0]), torch.empty_like(dhs[0])
    for t in reversed(range(plan.steps)):
        d_zns[t].mul_(dhs_wide[t + 1])
        d_rs[t].mul_(torch.bmm(d_ns[t], w_n, out=d_reset_hidden))
        if keep is None:
            dhs[t].baddbmm_(d_rzs[t], w_rz).addcmul_(d_reset_hidden, r[t])
        else:
            torch.bmm(d_rzs[t], w_rz, out=scratch).addcmul_(d_reset_hidden, r[t])
            dhs[t].addcmul_(scratch, keep)
        dhs[t].addcmul_(dhs[t + 1], hold[t])
    return d_gates.flatten(3)


def _gru_after_loop(
    plan: _Plan,
    d_hidden: Tensor,
    gates: Tensor,
    candidates: Tensor,
    h_rec: Tensor,
    weight_hh: Tensor,
    keep: Tensor,
) -> tuple[Tensor, Tensor]:
    """The backward loop of cuDNN's GRU: fills ``d_hidden`` and returns the gradients of the
    recurrent pre-activations ``(D, steps, B, 3H)`` (``W_hh h' + b_hh``) and ``da_n``."""
    hidden_size = h_rec.shape[-1]
    r, z, a = gates.unflatten(-1, (3, hidden_size)).unbind(3)
    slope_r, slope_z = _slopes(gates[..., : 2 * hidden_size], 2)
    d_n = torch.addcmul(z, z, candidates * candidates, value=-1)  # (1 - h~^2) z
    # The gradients, first holding the factors ((1 - h~^2) z a r (1 - r), (h~ - h') z (1 - z),
    # (1 - h~^2) z r) that the loop scales in place by dh.
    d_gates = torch.empty_like(gates).unflatten(-1, (3, hidden_size))  # (D, steps, B, 3, H)
    d_recurrent_r, d_recurrent_z, d_recurrent_n = d_gates.unbind(3)
    torch.sub(candidates, h_rec, out=d_recurrent_z).mul_(slope_z)
    if plan.running is not None:
        d_n.mul_(plan.running)
        d_recurrent_z.mul_(plan.running)
    torch.mul(d_n, a, out=d_recurrent_r).mul_(slope_r)
    torch.mul(d_n, r, out=d_recurrent_n)
    hold = _hold(plan, z, keep).unbind(1)
    d_steps, d_flat = d_gates.unbind(1), d_gates.flatten(3).unbind(1)
    dhs, dhs_wide = d_hidden.unbind(1), d_hidden.unsqueeze(3).unbind(1)
    scratch = torch.empty_like(dhs[0])
    for t in reversed(range(plan.steps)):
        d_steps[t].mul_(dhs_wide[t + 1])
        _send_back(dhs[t], d_flat[t], weight_hh, keep, scratch)
        dhs[t].addcmul_(dhs[t + 1], hold[t])
    return d_gates.flatten(3), d_n.mul_(d_hidden[:, 1:])


def _slopes(sigmoids: Tensor, count: int) -> tuple[Tensor, ...]:
    """``s (1 - s)`` of ``count`` sigmoid gates ``(..., count * H)``, one ``(..., H)`` each."""
    slopes = torch.addcmul(sigmoids, sigmoids, sigmoids, value=-1)
    return slopes.unflatten(-1, (count, -1)).unbind(-2)


def _hold(plan: _Plan, z: Tensor, keep: Tensor | None) -> Tensor:
    """``dh_{t-1} += dh * hold``: ``(1 - z) keep`` where the step runs, 1 where it is masked."""
    hold = 1 - z if keep is None else (1 - z) * keep.unsqueeze(1)
    return hold if plan.running is None else torch.where(plan.running, hold, 1)


# RNN -------------------------------------------------------------------------------------------


def rnn_scan(
    x: Tensor,
    lengths: Tensor | None,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    nonlinearity: str,
    keep: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """The vanilla RNN (:func:`convrec.nn.cells.rnn_cell`), ``h_t = phi(W_x x_t + W_h h' + b)``,
    over all steps and directions. The backward: ``da = dh * phi'(a)`` (``1 - h_t^2`` for tanh,
    ``[h_t > 0]`` for ReLU), ``dh_{t-1} = dy_{t-1} + keep * (da W_hh)``.

    Args:
        x, lengths, h0, weight_ih, weight_hh, bias_ih, bias_hh, keep: as for :func:`lstm_scan`,
            with ``G = 1``.
        nonlinearity: ``'tanh'`` or ``'relu'``.

    Returns:
        ``outputs (D, B, T, H)`` and ``h_n (D, B, H)``.
    """
    owner = "rnn_scan"
    if nonlinearity not in NONLINEARITIES:
        raise fail(owner, "nonlinearity", "'tanh' or 'relu'", repr(nonlinearity))
    _check_scan(owner, x, (h0,), weight_ih, weight_hh, bias_ih, bias_hh, 1, keep)
    plan = _plan(owner, x, lengths)
    bias = None if bias_ih is None else bias_ih + bias_hh
    inputs = (x, h0, weight_ih, weight_hh, bias, keep)
    if _needs_graph(inputs):
        return _RNNScan.apply(plan, nonlinearity, *inputs)
    return _rnn_forward(plan, nonlinearity, *inputs)[:2]


def _rnn_forward(
    plan: _Plan,
    nonlinearity: str,
    x: Tensor,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias: Tensor | None,
    keep: Tensor | None,
) -> tuple[Tensor, ...]:
    """The forward loop: ``(outputs, h_n, x_tm, states h)``."""
    x_tm, pre = _project(x, plan.steps, weight_ih, bias)  # (D, steps, B, H)
    hidden, hs = _states(h0, plan.steps, True)
    recurrent, runs, w_hh = torch.empty_like(h0), _unbind(plan.running), weight_hh.transpose(1, 2)
    activate = torch.Tensor.tanh_ if nonlinearity == "tanh" else torch.Tensor.relu_
    for t, pre_t in enumerate(pre.unbind(1)):
        h_rec = hs[t] if keep is None else torch.mul(hs[t], keep, out=recurrent)
        activate(torch.baddbmm(pre_t, h_rec, w_hh, out=hs[t + 1]))
        if t >= plan.full:
            torch.where(runs[t], hs[t + 1], hs[t], out=hs[t + 1])
    return _outputs(hidden, x.shape[2]), hs[plan.steps].clone(), x_tm, hidden


class _RNNScan(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: FunctionCtx, plan: _Plan, nonlinearity: str, *inputs: Tensor | None
    ) -> tuple[Tensor, ...]:
        outputs, h_n, *saved = _rnn_forward(plan, nonlinearity, *inputs)
        ctx.plan, ctx.nonlinearity = plan, nonlinearity
        ctx.save_for_backward(*inputs[2:], *saved)
        return outputs, h_n

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, d_outputs: Tensor, d_h: Tensor) -> tuple:
        weight_ih, weight_hh, bias, keep, x_tm, hidden = ctx.saved_tensors
        plan = ctx.plan
        d_hidden = _hidden_gradients(d_outputs, d_h, plan.steps)
        h = hidden[:, 1:]
        # (D, steps, B, H): first phi'(a), scaled in place by dh in the loop
        d_pre = (
            torch.addcmul(torch.ones_like(h), h, h, value=-1)
            if ctx.nonlinearity == "tanh"
            else (h > 0).to(h.dtype)
        )
        if plan.running is not None:
            d_pre.mul_(plan.running)
        dhs, d_pres = d_hidden.unbind(1), d_pre.unbind(1)
        idle, scratch = _idle(plan, d_h), torch.empty_like(d_h)
        for t in reversed(range(plan.steps)):
            d_pres[t].mul_(dhs[t + 1])
            _send_back(dhs[t], d_pres[t], weight_hh, keep, scratch)
            if t >= plan.full:
                dhs[t].addcmul_(dhs[t + 1], idle[t])
        d_x, d_weight_ih, d_bias = _input_gradients(
            d_pre, x_tm, weight_ih, d_outputs.shape[2], ctx.needs_input_grad[2]
        )
        d_weight_hh = _weight_gradient(d_pre, _recurrent_inputs(hidden, keep))
        d_bias = None if bias is None else d_bias
        return None, None, d_x, d_hidden[:, 0].clone(), d_weight_ih, d_weight_hh, d_bias, None


# Shared steps ----------------------------------------------------------------------------------


def _needs_graph(inputs: tuple[Tensor | None, ...]) -> bool:
    """Whether autograd will want a backward: gradients on, and some input requiring one."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs)


def _project(x: Tensor, steps: int, weight_ih: Tensor, bias: Tensor | None) -> tuple[Tensor, ...]:
    """``x_tm (D, steps * B, I)``, the first ``steps`` of ``x`` time-major, and the input
    projections of all those steps in one GEMM, ``x_t W_ih^T + b``: ``(D, steps, B, G * H)``."""
    directions, batch, _, features = x.shape
    x_tm = x[:, :, :steps].transpose(1, 2).reshape(directions, steps * batch, features)
    w_ih = weight_ih.transpose(1, 2)
    pre = torch.bmm(x_tm, w_ih) if bias is None else torch.baddbmm(bias.unsqueeze(1), x_tm, w_ih)
    return x_tm, pre.view(directions, steps, batch, -1)


def _states(start: Tensor, steps: int, save: bool) -> tuple[Tensor, list[Tensor]]:
    """A state over time, ``(D, steps + 1, B, H)`` with ``start`` first, and its per-step views.
    Unless ``save``, two scratch tensors take turns after ``start`` (the buffer is None)."""
    if not save:
        turns = (torch.empty_like(start), torch.empty_like(start))
        return None, [start, *(turns[t % 2] for t in range(steps))]
    states = start.new_empty(start.shape[0], steps + 1, *start.shape[1:])
    states[:, 0] = start
    return states, states.unbind(1)


def _per_step(like: Tensor, steps: int, save: bool) -> tuple[Tensor | None, list[Tensor]]:
    """A buffer ``(D, steps, B, H)`` for a value of each step, and its per-step views; unless
    ``save``, one scratch tensor for every step (the buffer is None)."""
    if not save:
        return None, [torch.empty_like(like)] * steps
    buffer = like.new_empty(like.shape[0], steps, *like.shape[1:])
    return buffer, buffer.unbind(1)


def _slices(gates: Tensor, hidden_size: int, *blocks: tuple[int, int]) -> list[tuple[Tensor, ...]]:
    """Per-step views of gate blocks: for each ``(first, end)``, ``gates[:, t, :, first H : end H]``
    for every ``t``."""
    return [gates[..., first * hidden_size : end * hidden_size].unbind(1) for first, end in blocks]


def _unbind(tensor: Tensor | None, dim: int = 0) -> tuple[Tensor, ...]:
    """``tensor.unbind(dim)``; ``()`` for None."""
    return () if tensor is None else tensor.unbind(dim)


def _outputs(hidden: Tensor, total: int) -> Tensor:
    """The outputs ``(D, B, total, H)`` from the states ``(D, steps + 1, B, H)``: ``h`` after each
    step, and the last state repeated after the longest length."""
    steps = hidden.shape[1] - 1
    outputs = hidden.new_empty(hidden.shape[0], hidden.shape[2], total, hidden.shape[3])
    outputs[:, :, :steps] = hidden[:, 1:].transpose(1, 2)
    outputs[:, :, steps:] = hidden[:, steps].unsqueeze(2)
    return outputs


def _hidden_gradients(d_outputs: Tensor, d_h: Tensor, steps: int) -> Tensor:
    """The buffer of ``dL/dh_t``, ``(D, steps + 1, B, H)`` (row ``t + 1`` for the state after step
    ``t``, row 0 for ``h0``), filled with what reaches each state directly: its output's gradient,
    and at the last step also ``d_h`` and the gradients of the outputs after it."""
    directions, batch, _, hidden_size = d_outputs.shape
    d_hidden = d_outputs.new_empty(directions, steps + 1, batch, hidden_size)
    d_hidden[:, 0] = 0
    d_hidden[:, 1:] = d_outputs[:, :, :steps].transpose(1, 2)
    d_hidden[:, steps] += d_h + d_outputs[:, :, steps:].sum(2)
    return d_hidden


def _send_back(
    dh_prev: Tensor, d_gates: Tensor, weight_hh: Tensor, keep: Tensor | None, scratch: Tensor
) -> None:
    """``dh_{t-1} += keep * (da W_hh)``, in place: ``(D, B, H)`` from ``da (D, B, G * H)``."""
    if keep is None:
        dh_prev.baddbmm_(d_gates, weight_hh)
    else:
        dh_prev.addcmul_(torch.bmm(d_gates, weight_hh, out=scratch), keep)


def _idle(plan: _Plan, like: Tensor) -> tuple[Tensor, ...]:
    """Per step, ``1 - running``, ``(B, 1)`` in ``like``'s dtype: where a masked step passes the
    gradient of ``h_t`` straight to ``h_{t-1}``."""
    return () if plan.running is None else (~plan.running).to(like.dtype).unbind(0)


def _recurrent_inputs(hidden: Tensor, keep: Tensor | None) -> Tensor:
    """``h' = h_{t-1} * keep`` of every step, ``(D, steps, B, H)``."""
    h_prev = hidden[:, :-1]
    return h_prev if keep is None else h_prev * keep.unsqueeze(1)


def _weight_gradient(d_gates: Tensor, inputs: Tensor) -> Tensor:
    """``sum_t da_t^T u_t`` over all steps and sequences, one GEMM: ``(D, G * H, K)`` from
    ``da (D, steps, B, G * H)`` and ``u (D, steps, B, K)``."""
    directions, steps, batch, _ = d_gates.shape
    flat = d_gates.reshape(directions, steps * batch, -1)
    return torch.bmm(flat.transpose(1, 2), inputs.reshape(directions, steps * batch, -1))


def _input_gradients(
    d_gates: Tensor, x_tm: Tensor, weight_ih: Tensor, total: int, need_x: bool
) -> tuple[Tensor | None, Tensor, Tensor]:
    """From the gradients of the gate pre-activations ``(D, steps, B, G * H)``: ``dx (D, B, T, I)``
    (zero after the longest length; None unless ``need_x``), ``dW_ih`` and the bias gradient
    ``(D, G * H)``."""
    directions, steps, batch, _ = d_gates.shape
    flat = d_gates.reshape(directions, steps * batch, -1)
    d_weight_ih, d_bias = torch.bmm(flat.transpose(1, 2), x_tm), flat.sum(1)
    if not need_x:
        return None, d_weight_ih, d_bias
    d_x = x_tm.new_empty(directions, batch, total, x_tm.shape[-1])
    d_x[:, :, steps:] = 0
    d_x[:, :, :steps] = (
        torch.bmm(flat, weight_ih).view(directions, steps, batch, -1).transpose(1, 2)
    )
    return d_x, d_weight_ih, d_bias


# Checks ----------------------------------------------------------------------------------------


def _plan(owner: str, x: Tensor, lengths: Tensor | None) -> _Plan:
    """Check ``lengths`` (integers in ``1..T``) and plan the steps (one device sync)."""
    batch, total = x.shape[1:3]
    if lengths is None:
        return _Plan(total, total, None)
    if not isinstance(lengths, Tensor) or lengths.shape != (batch,) or lengths.is_floating_point():
        raise fail(
            owner, "lengths", f"an integer tensor of shape ({batch},) or None", describe(lengths)
        )
    lengths = lengths.to(x.device)
    shortest, longest = torch.aminmax(lengths)
    shortest, longest = int(shortest), int(longest)
    if shortest < 1 or longest > total:
        raise fail(owner, "lengths", f"lengths from 1 to T = {total}", f"{shortest} to {longest}")
    if shortest == longest:
        return _Plan(longest, longest, None)
    running = torch.arange(longest, device=x.device).unsqueeze(1) < lengths
    return _Plan(longest, shortest, running.unsqueeze(-1))


def _check_scan(
    owner: str,
    x: Tensor,
    states: tuple[Tensor, ...],
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    gates: int,
    keep: Tensor | None,
) -> None:
    """Check the shapes, dtypes and devices of a scan's tensors against ``x (D, B, T, I)`` (the
    lengths are checked by :func:`_plan`)."""
    if not isinstance(x, Tensor) or x.dim() != 4 or x.numel() == 0 or not x.is_floating_point():
        raise fail(owner, "x", "a non-empty floating-point tensor (D, B, T, I)", describe(x))
    directions, batch, _, features = x.shape
    hidden_size = states[0].shape[-1] if isinstance(states[0], Tensor) else 0
    if directions not in (1, 2):
        raise fail(owner, "x", "1 or 2 directions on axis 0 of (D, B, T, I)", describe(x))
    for name, state in zip(("h0", "c0"), states, strict=False):
        _check_tensor(owner, name, state, (directions, batch, hidden_size), x)
    _check_tensor(owner, "weight_ih", weight_ih, (directions, gates * hidden_size, features), x)
    _check_tensor(owner, "weight_hh", weight_hh, (directions, gates * hidden_size, hidden_size), x)
    if (bias_ih is None) != (bias_hh is None):
        raise fail(
            owner,
            "bias_hh",
            "a tensor when bias_ih is one, None when it is None",
            describe(bias_hh),
        )
    if bias_ih is not None:
        _check_tensor(owner, "bias_ih", bias_ih, (directions, gates * hidden_size), x)
        _check_tensor(owner, "bias_hh", bias_hh, (directions, gates * hidden_size), x)
    if keep is not None:
        _check_tensor(owner, "keep", keep, (directions, batch, hidden_size), x)


def _check_tensor(owner: str, name: str, value: object, shape: tuple[int, ...], x: Tensor) -> None:
    """Refuse anything but a tensor of ``shape`` with ``x``'s dtype and device."""
    if (
        not isinstance(value, Tensor)
        or value.shape != shape
        or value.dtype != x.dtype
        or value.device != x.device
    ):
        expected = f"a tensor of shape {shape}, dtype {x.dtype}, on {x.device}"
        raise fail(owner, name, expected, describe(value))
