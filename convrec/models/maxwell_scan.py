"""All steps of a recurrence at once: Newton's method on the whole trajectory, for cells whose state
parts are updated elementwise (a diagonal Jacobian), such as :class:`MaxwellCell`.

A step ``s_t = Phi_t(s_{t-1})`` that costs a few dozen small operations makes a Python loop over
time slow; the trajectory ``s_1 .. s_T`` is instead the root of ``s_t - Phi_t(s_{t-1}) = 0`` for
all ``t``, which Newton's method solves with every step's ``Phi_t`` evaluated at once (as a batch
of ``B * T``) and a linear recurrence per iteration (Lim et al. 2024, "Parallelizing non-linear
sequential models over the sequence length", DEER):

    r_t = Phi_t(s_{t-1}) - s_t                          residual of every step, all t at once
    J_t = dPhi_t / ds_{t-1}                             its slope (diagonal)
    d_t = J_t d_{t-1} + r_t,  d_0 = 0                   Newton's correction (linear_recurrence)
    s_t <- s_t + d_t

It stops once every residual is below the tolerance; started from a cheap first guess of the
trajectory, a handful of iterations reach it. The result carries the gradient of the exact
trajectory by the implicit function theorem: one more Newton step from the (detached) solution,
differentiated, ``s + L^-1 (Phi(s) - s)`` with ``L^-1`` the linear recurrence, has the solution's
value and its derivatives with respect to the parameters, the start and the inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

ROUNDING = 100  # residual allowed, in units of the dtype's epsilon times 1 + the largest |s|

# (x_t (N, I), s_{t-1} (N, H)) -> (s_t (N, H), ds_t/ds_{t-1} (N, H), without a graph)
StepAndSlope = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
# (x (B, T, I), s_0 (B, H)) -> a first trajectory (B, T, H)
FirstGuess = Callable[[Tensor, Tensor], Tensor]


def linear_recurrence(slope: Tensor, value: Tensor) -> Tensor:
    """``d_t = slope_t d_{t-1} + value_t`` along axis 1 from ``d_0 = 0``, in ``log2 T`` rounds
    instead of ``T`` steps: each step is the affine map ``d -> slope_t d + value_t``, and round
    ``k`` composes every map with the one ``2^k`` steps before it (Hillis & Steele's scan,
    1986), ``(a, b) o (a', b') = (a a', a b' + b)``, so that after the last round each step holds
    the composition of all maps up to it, applied to ``d_0 = 0``. Products of many small slopes
    fall to 0, which is their limit.

    Differentiable in ``value`` (its gradient is the same recurrence run backwards); ``slope``
    enters as a constant.

    Shape:
        slope, value: ``(B, T, H)``; returns ``(B, T, H)``.

    Example:
        >>> slope = torch.tensor([[[0.5], [0.5], [2.0]]])
        >>> linear_recurrence(slope, torch.ones(1, 3, 1)).flatten().tolist()
        [1.0, 1.5, 4.0]
    """
    slope, total, shift = slope.detach(), value, 1
    while shift < value.shape[1]:
        total = torch.cat(
            [total[:, :shift], total[:, shift:] + slope[:, shift:] * total[:, :-shift]], 1
        )
        slope = torch.cat([slope[:, :shift], slope[:, shift:] * slope[:, :-shift]], 1)
        shift *= 2
    return total


def solve_trajectory(
    step_and_slope: StepAndSlope,
    first_guess: FirstGuess,
    x: Tensor,
    lengths: Tensor | None,
    start: Tensor,
    keep: Tensor | None = None,
) -> Tensor:
    """The states of a recurrence over every step, by Newton's method on the whole trajectory
    (see the module docstring), equal to looping ``step_and_slope`` over time within rounding:
    it stops once every residual is below ``ROUNDING`` epsilons of the dtype times
    ``1 + max |s|``, or once the largest residual, already within a hundred times that, stops
    falling.

    As in :func:`convrec.nn.recurrent.scan_reference`, ``keep`` scales ``s_{t-1}`` where it
    enters the step, and a sequence's state stops changing at its length.

    Args:
        step_and_slope: one step for a batch of (input, state) pairs, and its slope.
        first_guess: a trajectory to start from.
        x: the inputs.
        lengths: each sequence's length, or None (all ``T``).
        start: ``s_0``.
        keep: a recurrent-dropout mask for ``s_{t-1}``, or None.

    Shape:
        x: ``(B, T, I)``; lengths: ``(B,)``; start, keep: ``(B, H)``; returns ``(B, T, H)``.
    """
    batch, steps, features = x.shape
    flat = x.reshape(batch * steps, features)  # every step is one item of a batch
    running = None
    if lengths is not None:
        running = torch.arange(steps, device=x.device) < lengths.to(x.device)[:, None]
        running = running.unsqueeze(-1)  # (B, T, 1)

    def steps_from(trajectory: Tensor) -> tuple[Tensor, Tensor]:
        """``Phi_t(s_{t-1})`` and its slope at every ``t``, from ``s_1 .. s_T``."""
        before = torch.cat([start.unsqueeze(1), trajectory[:, :-1]], dim=1)  # (B, T, H)
        entering = before if keep is None else before * keep.unsqueeze(1)
        after, slope = step_and_slope(flat, entering.reshape(batch * steps, -1))
        after, slope = after.view_as(trajectory), slope.view_as(trajectory)
        if keep is not None:
            slope = slope * keep.unsqueeze(1)
        if running is not None:
            after = torch.where(running, after, before)
            slope = torch.where(running, slope, torch.ones_like(slope))
        return after, slope

    with torch.no_grad():
        trajectory, previous = first_guess(x, start), torch.inf
        for _ in range(steps):  # Newton's method settles one more step each iteration at worst
            after, slope = steps_from(trajectory)
            residual = after - trajectory
            error = residual.abs().max().item()
            limit = ROUNDING * torch.finfo(x.dtype).eps * (1 + trajectory.abs().max().item())
            if error <= limit or previous <= error <= 100 * limit:  # converged, or stalled
                break
            trajectory, previous = trajectory + linear_recurrence(slope, residual), error
    if not torch.is_grad_enabled():
        return trajectory
    after, slope = steps_from(trajectory)
    return trajectory + linear_recurrence(slope, after - trajectory)
