"""The LSTM and the peephole LSTM scans."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from convrec.nn.fast_scan.common import (
    _check_scan,
    _check_tensor,
    _hidden_gradients,
    _idle,
    _input_gradients,
    _needs_graph,
    _outputs,
    _per_step,
    _Plan,
    _plan,
    _project,
    _recurrent_inputs,
    _send_back,
    _slices,
    _slopes,
    _states,
    _unbind,
    _weight_gradient,
)


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
