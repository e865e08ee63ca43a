"""The vanilla RNN scan (tanh or ReLU)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from convrec.checks import fail
from convrec.nn.fast_scan.common import (
    NONLINEARITIES,
    _check_scan,
    _hidden_gradients,
    _idle,
    _input_gradients,
    _needs_graph,
    _outputs,
    _Plan,
    _plan,
    _project,
    _recurrent_inputs,
    _send_back,
    _states,
    _unbind,
    _weight_gradient,
)


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
