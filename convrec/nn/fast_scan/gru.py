"""The GRU scan, reset before or after the recurrent matmul."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from convrec.checks import fail
from convrec.errors import InvalidTypeError
from convrec.nn.fast_scan.common import (
    _check_scan,
    _hidden_gradients,
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


def _hold(plan: _Plan, z: Tensor, keep: Tensor | None) -> Tensor:
    """``dh_{t-1} += dh * hold``: ``(1 - z) keep`` where the step runs, 1 where it is masked."""
    hold = 1 - z if keep is None else (1 - z) * keep.unsqueeze(1)
    return hold if plan.running is None else torch.where(plan.running, hold, 1)
