"""What the scans share: which steps run, the time-major buffers, the input projections and
gradients, the argument checks."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from convrec.checks import describe, fail

NONLINEARITIES = ("tanh", "relu")


class _Plan(NamedTuple):
    """Which steps run. ``steps``: the longest length (no state changes after it); ``full``: the
    shortest (no step before it needs the length mask); ``running (steps, B, 1)``: ``t < length``,
    or None when every sequence runs all ``steps``."""

    steps: int
    full: int
    running: Tensor | None


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


def _slopes(sigmoids: Tensor, count: int) -> tuple[Tensor, ...]:
    """``s (1 - s)`` of ``count`` sigmoid gates ``(..., count * H)``, one ``(..., H)`` each."""
    slopes = torch.addcmul(sigmoids, sigmoids, sigmoids, value=-1)
    return slopes.unflatten(-1, (count, -1)).unbind(-2)
