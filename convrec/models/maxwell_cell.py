"""A physics-structured recurrent cell whose state is the stress of the notes' Maxwell solid, and
the ``maxwell-cell`` model built on it.

The lecture notes' viscoelastic solid (a spring ``E`` in series with a power-law dashpot, the
maxwell task's law, :mod:`convrec.data.maxwell`) has ``dsigma/dt = E dlambda/dt - g(sigma)``
with the viscous flow ``g(sigma) = (sigma / nu0) |sigma / sigma0|^(m - 1)``. The cell keeps
that law and learns only what a material would leave unknown: the modulus ``E`` and the
fluidity ``phi`` of ``g(sigma) = sigma phi(|sigma|)``, a small monotone network on
``log |sigma|``. A power law is a straight line there, so the network holds the notes' dashpot
exactly and extrapolates as one beyond the stresses it saw.

Each sample step (duration ``dt``, stretch increment ``dlambda``) is integrated by the two-stage,
L-stable, stiffly accurate SDIRK of order 2 the task's labels come from, or by backward Euler;
each stage is a scalar implicit equation per branch, solved by Newton's method on
``log |sigma|`` (:func:`relax`), so that a step of any length stays stable. The fused scan
solves all steps of a sequence at once (:func:`convrec.models.maxwell_scan.solve_trajectory`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convrec.checks import describe, fail, one_of, positive_float, positive_int
from convrec.errors import InvalidTypeError
from convrec.models.arguments import sequence_shape
from convrec.models.maxwell_scan import solve_trajectory
from convrec.models.registry import register
from convrec.nn import Padded, Pointwise, Recurrent, RecurrentCell, register_cell
from convrec.nn.cell_protocol import ScanResult

GAMMA = 1.0 - 1.0 / math.sqrt(2.0)  # the L-stable SDIRK2's diagonal coefficient
SCHEMES = ("sdirk2", "backward_euler")
SMALLEST_STRESS = 1e-30  # |sigma| below this is 0 (log |sigma| is taken above it)
SHORTEST_STEP = 1e-12  # seconds: a shorter (or negative) duration counts as this long


class Dashpot(NamedTuple):
    """The log-fluidity network of ``H`` branches with ``K`` hidden units each,

        h(u) = a + b u + sum_j v_j tanh(w_j u + c_j),    b, v_j, w_j >= 0,

    non-decreasing in ``u = log |sigma|``. Shapes: ``offset`` ``a`` and ``slope`` ``b``
    ``(H,)``; ``weight_in`` ``w``, ``bias_in`` ``c`` and ``weight_out`` ``v`` ``(H, K)``."""

    offset: Tensor
    slope: Tensor
    weight_in: Tensor
    bias_in: Tensor
    weight_out: Tensor

    def log_fluidity(self, u: Tensor) -> Tensor:
        """``h(u)`` at the log-stresses ``u`` ``(B, H)``; ``(B, H)``."""
        hidden = torch.tanh(self.weight_in * u.unsqueeze(-1) + self.bias_in)  # (B, H, K)
        return self.offset + self.slope * u + (self.weight_out * hidden).sum(-1)

    def log_fluidity_and_slope(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """``h(u)`` and ``h'(u)``, each ``(B, H)``."""
        hidden = torch.tanh(self.weight_in * u.unsqueeze(-1) + self.bias_in)  # (B, H, K)
        h = self.offset + self.slope * u + (self.weight_out * hidden).sum(-1)
        dh = self.slope + (self.weight_out * self.weight_in * (1 - hidden.square())).sum(-1)
        return h, dh


def relax(
    predictor: Tensor, duration: Tensor, dashpot: Dashpot, iterations: int
) -> tuple[Tensor, Tensor]:
    """Solve the implicit step ``Y = P - tau Y phi(|Y|)`` elementwise, ``phi = exp(h(log |Y|))``
    (``h`` non-decreasing): the stress ``Y`` that the elastic predictor ``P`` relaxes to by viscous
    flow over ``tau`` seconds.

    ``Y`` has the sign of ``P`` and ``|Y| <= |P|``. On ``u = log |Y|`` the equation is

        F(u) = u + softplus(h(u) + log tau) - log |P| = 0
        F'(u) = 1 + sigmoid(h(u) + log tau) h'(u) >= 1

    so its root is unique and at most ``log |P|``, and ``F`` is nearly linear both where the
    dashpot is stiff and where it is slack: Newton's method from ``u = log |P|``, kept at most
    there, converges in a few iterations for any ``tau`` (for a power law in the stiff limit,
    in one). The iterations run without a graph; one more Newton step from their result,
    differentiated, gives the gradient of the root by the implicit function theorem
    (``du = -dF / F'`` where ``F = 0``).

    Args:
        predictor: ``P``, the stress before the flow.
        duration: ``tau`` in seconds, taken as at least ``SHORTEST_STEP`` (so a duration of 0
            or less, as in padding, is an instant: ``Y = P`` within ``1e-12 phi``).
        dashpot: the log-fluidity ``h``.
        iterations: Newton iterations before the differentiated one.

    Returns:
        ``Y`` and, without a graph, its slope ``dY/dP = (Y / P) / F'(u)`` in ``(0, 1]``.

    Shape:
        predictor: ``(B, H)``; duration: ``(B, H)`` or ``(B, 1)``; both results ``(B, H)``.
    """
    upper = torch.log(predictor.abs().clamp_min(SMALLEST_STRESS))  # log |P|, (B, H)
    log_tau = torch.log(duration.clamp_min(SHORTEST_STEP))
    with torch.no_grad():
        fixed = upper.detach(), log_tau.detach()
        u = fixed[0]
        for _ in range(iterations):
            u, _ = _newton(u, *fixed, dashpot)
    u, derivative = _newton(u, upper, log_tau, dashpot)
    with torch.no_grad():
        slope = torch.exp(u - upper) / derivative
    return torch.sign(predictor) * torch.exp(u), slope


def _newton(u: Tensor, upper: Tensor, log_tau: Tensor, dashpot: Dashpot) -> tuple[Tensor, Tensor]:
    """One Newton step on ``F(u) = u + softplus(h(u) + log tau) - upper``, kept at most ``upper``,
    and ``F'`` (no graph: at the root only ``F``'s own dependences carry the gradient)."""
    h, dh = dashpot.log_fluidity_and_slope(u)
    residual = u + F.softplus(h + log_tau) - upper
    derivative = (1 + torch.sigmoid(h + log_tau) * dh).detach()
    return torch.minimum(u - residual / derivative, upper), derivative


@register_cell("maxwell")
class MaxwellCell(RecurrentCell):
    """``H`` parallel Maxwell branches, each a spring and a learned dissipative dashpot in series,
    driven by the step's stretch increment and duration (the notes' Maxwell solid, the maxwell
    task's law ``dsigma/dt = E dlambda/dt - g(sigma)``; ``H = 1`` is that solid, ``H > 1`` a
    generalised Maxwell solid whose output the read-out sums):

        u = log |sigma|                                             log-stress of a branch
        h(u) = a + b u + sum_j v_j tanh(w_j u + c_j)                 log-fluidity, b, v_j, w_j >= 0
        g(sigma) = sigma exp(h(log |sigma|))                         viscous flow, sigma g >= 0
        Y1 = sigma_{t-1} + gamma E dlambda_t - gamma dt_t g(Y1)       SDIRK2 stage 1
        Y2 = sigma_{t-1} + (1/gamma - 1)(Y1 - sigma_{t-1}) + gamma E dlambda_t - gamma dt_t g(Y2)
        sigma_t = Y2                                                 stage 2, stiffly accurate

    with ``gamma = 1 - 1/sqrt(2)`` (Alexander 1977, "Diagonally implicit Runge-Kutta methods for
    stiff O.D.E.'s"; stage 2 uses ``dt f(Y1) = (Y1 - sigma_{t-1}) / gamma``);
    ``scheme='backward_euler'`` takes instead ``sigma_t = sigma_{t-1} + E dlambda_t - dt_t
    g(sigma_t)``, and ``substeps = n`` covers each step by ``n`` equal substeps. Each stage is
    solved by :func:`relax`. ``g`` is dissipative by construction (``sigma g(sigma) >= 0``: the
    flow only ever gives up elastic energy), and with ``h`` non-decreasing it is increasing in
    ``sigma``, so each stage has one root, between 0 and its predictor: no step length makes the
    stress explode (for backward Euler ``|sigma_t| <= |sigma_{t-1} + E dlambda_t|`` exactly).
    ``E = exp(log_modulus)`` is learned unless ``learn_modulus=False``. The notes' dashpot is
    ``a = -log nu0 - (m - 1) log sigma0``, ``b = m - 1``, ``v = 0`` (stress in the units of
    ``sigma``).

    Args:
        input_size: features ``I`` of ``x_t``; two of them are the raw ``dlambda_t`` and
            ``dt_t`` (seconds); the others are not read.
        hidden_size: branches ``H``.
        increment_columns: the columns of ``x_t`` holding ``dlambda_t`` and ``dt_t``.
        viscous_units: hidden units ``K`` of each branch's fluidity network.
        modulus: ``E`` at the start (stress units per unit stretch), shared out equally over the
            branches.
        learn_modulus: learn ``E``; False keeps ``modulus``.
        scheme: ``'sdirk2'`` or ``'backward_euler'``.
        substeps: equal substeps per step.
        newton_iterations: Newton iterations per stage before the differentiated one.

    Shape:
        x: ``(B, I)``; state ``(sigma,)``, ``(B, H)``; output ``(sigma_t,)``.

    Example:
        >>> cell = MaxwellCell(2, 1, modulus=50.0)
        >>> sigma, = cell.step(torch.tensor([[0.01, 1e-3]]), (torch.zeros(1, 1),))
        >>> round(sigma.detach().item(), 3)  # nearly elastic: E dlambda = 0.5
        0.5
    """

    state_names = ("sigma",)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        increment_columns: Sequence[int] = (-2, -1),
        viscous_units: int = 8,
        modulus: float = 1.0,
        learn_modulus: bool = True,
        scheme: str = "sdirk2",
        substeps: int = 1,
        newton_iterations: int = 2,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = positive_int(owner, "input_size", input_size)
        self.hidden_size = positive_int(owner, "hidden_size", hidden_size)
        self.increment_columns = _columns(owner, increment_columns, input_size)
        self.viscous_units = positive_int(owner, "viscous_units", viscous_units)
        positive_float(owner, "modulus", modulus)
        if not isinstance(learn_modulus, bool):
            raise fail(owner, "learn_modulus", "True or False", repr(learn_modulus))
        self.scheme = one_of(owner, "scheme", scheme, SCHEMES)
        self.substeps = positive_int(owner, "substeps", substeps)
        self.newton_iterations = positive_int(owner, "newton_iterations", newton_iterations)
        shape = (hidden_size, viscous_units)
        log_modulus = torch.full((hidden_size,), math.log(modulus / hidden_size))
        self.log_modulus = nn.Parameter(log_modulus, requires_grad=learn_modulus)
        self.fluidity_offset = nn.Parameter(torch.empty(hidden_size))  # a
        self.fluidity_slope = nn.Parameter(torch.empty(hidden_size))  # b = softplus(.)
        self.weight_in = nn.Parameter(torch.empty(shape))  # w = softplus(.)
        self.bias_in = nn.Parameter(torch.empty(shape))  # c
        self.weight_out = nn.Parameter(torch.empty(shape))  # v = softplus(.)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """A linear dashpot (``b = 1``) of fluidity ``e^a = 1`` at unit stress (several branches
        spread ``a`` over four decades), with a small bend (``v_j = 0.05``, ``w_j`` in
        ``[0.5, 2]``) centred at stresses from ``e^-3`` to ``e``."""
        with torch.no_grad():
            spread = torch.linspace(-2.0, 2.0, self.hidden_size) if self.hidden_size > 1 else 0.0
            self.fluidity_offset.copy_(torch.zeros(self.hidden_size) + spread * math.log(10))
            self.fluidity_slope.fill_(inverse_softplus(1.0))
            self.weight_in.uniform_(inverse_softplus(0.5), inverse_softplus(2.0))
            centres = torch.empty_like(self.bias_in).uniform_(-3.0, 1.0)
            self.bias_in.copy_(-F.softplus(self.weight_in) * centres)
            self.weight_out.fill_(inverse_softplus(0.05))

    def load_power_law(self, modulus: float, fluidity: float, exponent: float) -> None:
        """Set every branch to a known solid: ``E = modulus`` (shared out over the branches) and
        the dashpot ``phi(s) = fluidity s^exponent`` (``a = log fluidity``, ``b = exponent > 0``,
        ``v = 0``). The notes' solid, in the maxwell task's stress units ``sigma / sigma0``, is
        ``load_power_law(E / sigma0, 1 / nu0, m - 1)``."""
        owner = f"{type(self).__name__}.load_power_law"
        for name, value in (("modulus", modulus), ("fluidity", fluidity), ("exponent", exponent)):
            positive_float(owner, name, value)
        with torch.no_grad():
            self.log_modulus.fill_(math.log(modulus / self.hidden_size))
            self.fluidity_offset.fill_(math.log(fluidity))
            self.fluidity_slope.fill_(inverse_softplus(exponent))
            self.weight_out.fill_(-math.inf)  # softplus(-inf) = 0: no bend

    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size,)

    def dashpot(self) -> Dashpot:
        """The log-fluidity network with its positive weights made positive."""
        return Dashpot(
            self.fluidity_offset,
            F.softplus(self.fluidity_slope),
            F.softplus(self.weight_in),
            self.bias_in,
            F.softplus(self.weight_out),
        )

    def flow(self, sigma: Tensor) -> Tensor:
        """The viscous flow ``g(sigma) = sigma exp(h(log |sigma|))`` ``(B, H)``."""
        u = torch.log(sigma.abs().clamp_min(SMALLEST_STRESS))
        return sigma * torch.exp(self.dashpot().log_fluidity(u))

    def step(self, x: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return (self.step_and_slope(x, state[0])[0],)

    def step_and_slope(self, x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
        """The step's equations: ``sigma_t`` from ``x_t`` ``(B, I)`` and ``sigma_{t-1}``
        ``(B, H)``, and (without a graph) its slope ``dsigma_t / dsigma_{t-1}`` ``(B, H)``."""
        increment_column, duration_column = self.increment_columns
        n, iterations, dashpot = self.substeps, self.newton_iterations, self.dashpot()
        modulus = torch.exp(self.log_modulus)  # E, (H,)
        elastic = modulus * x[:, increment_column, None] / n  # E dlambda per substep, (B, H)
        dt = x[:, duration_column, None] / n  # (B, 1)
        slope = torch.ones_like(sigma)
        for _ in range(n):
            if self.scheme == "backward_euler":
                sigma, relaxed = relax(sigma + elastic, dt, dashpot, iterations)
                slope = slope * relaxed
                continue
            stage1, relaxed1 = relax(sigma + GAMMA * elastic, GAMMA * dt, dashpot, iterations)
            base = sigma + (1 / GAMMA - 1) * (stage1 - sigma) + GAMMA * elastic
            sigma, relaxed2 = relax(base, GAMMA * dt, dashpot, iterations)
            slope = slope * relaxed2 * (1 + (1 / GAMMA - 1) * (relaxed1 - 1))
        return sigma, slope

    def first_guess(self, x: Tensor, start: Tensor) -> Tensor:
        """A cheap trajectory to start the fused scan from: linearly implicit Euler with the
        power-law part of the dashpot, ``phi~(s) = e^a s^b``, frozen at each step's start,

            sigma_t = (sigma_{t-1} + E dlambda_t) / (1 + dt_t phi~(|sigma_{t-1}|))

        stable for any ``dt`` and close wherever the stress is steady.

        Shape:
            x: ``(B, T, I)``; start: ``(B, H)``; returns ``(B, T, H)``.
        """
        increment_column, duration_column = self.increment_columns
        dashpot = self.dashpot()
        elastic = torch.exp(self.log_modulus) * x[..., increment_column, None]  # (B, T, H)
        flow = x[..., duration_column, None].clamp_min(0) * torch.exp(dashpot.offset)  # dt e^a
        sigma, guesses = start, []
        for t in range(x.shape[1]):
            sigma = (sigma + elastic[:, t]) / (1 + flow[:, t] * sigma.abs() ** dashpot.slope)
            guesses.append(sigma)
        return torch.stack(guesses, dim=1)

    def fused_scan(
        self,
        cells: list[MaxwellCell],
        x: Tensor,
        lengths: Tensor | None,
        start: tuple[Tensor, ...],
        keep: Tensor | None,
        need_state: bool,
    ) -> ScanResult:
        """Every step of each direction's sequences at once, by Newton's method on the whole
        trajectory (:func:`convrec.models.maxwell_scan.solve_trajectory`), equal to the loop
        over :meth:`step` within its tolerance."""
        outputs = [
            solve_trajectory(
                cell.step_and_slope,
                cell.first_guess,
                x[direction],
                lengths,
                start[0][direction],
                None if keep is None else keep[direction],
            )
            for direction, cell in enumerate(cells)
        ]
        trajectories = torch.stack(outputs)  # (D, B, T, H)
        return trajectories, (trajectories[:, :, -1],)


@register(
    "maxwell-cell",
    "Maxwell branches integrating the notes' viscoelastic law, with a learned dissipative "
    "dashpot, read out linearly (needs the raw stretch increment and dt per step)",
    inputs=("sequence",),
)
class MaxwellCellNet(nn.Module):
    """:class:`MaxwellCell` branches over the sequence, and a linear read-out of their stresses
    at every step (starting as their sum). The read-out's weight scales the stress, so the
    branches learn ``E`` and the dashpot up to that scale.

    Args:
        input_shape: ``(T, F)``; two of the ``F`` columns are the raw stretch increment and step
            duration (``increment_columns``: the maxwell task appends them with
            ``task_options.raw_increments``).
        output_size: outputs per step ``O``.
        hidden_size: Maxwell branches ``H`` (1: the notes' solid).
        increment_columns, viscous_units, modulus, learn_modulus, scheme, substeps,
            newton_iterations: as :class:`MaxwellCell`.
        backend: ``'auto'`` or ``'fused'`` (Newton's method on whole trajectories), or
            ``'reference'`` (the loop over steps).

    Shape:
        input: ``(B, T, F)`` or a :class:`Padded`; output ``(B, T, O)`` (a ``Padded`` for a
        ``Padded`` input).

    Example:
        >>> net = MaxwellCellNet((None, 8), 1, modulus=50.0)
        >>> net(Padded(torch.rand(2, 5, 8), [5, 3])).data.shape
        torch.Size([2, 5, 1])
    """

    def __init__(
        self,
        input_shape: tuple[int | None, ...],
        output_size: int,
        hidden_size: int = 1,
        increment_columns: Sequence[int] = (-2, -1),
        viscous_units: int = 8,
        modulus: float = 1.0,
        learn_modulus: bool = True,
        scheme: str = "sdirk2",
        substeps: int = 1,
        newton_iterations: int = 2,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        owner = "MaxwellCellNet"
        _, features = sequence_shape(owner, input_shape)
        positive_int(owner, "output_size", output_size)
        self.recurrent = Recurrent(
            MaxwellCell,
            features,
            hidden_size,
            backend=backend,
            increment_columns=increment_columns,
            viscous_units=viscous_units,
            modulus=modulus,
            learn_modulus=learn_modulus,
            scheme=scheme,
            substeps=substeps,
            newton_iterations=newton_iterations,
        )
        read_out = nn.Linear(hidden_size, output_size)
        with torch.no_grad():  # the stress is the branches' sum
            read_out.weight.fill_(1.0)
            read_out.bias.zero_()
        self.head = Pointwise(read_out)

    def streaming_parts(self) -> list[nn.Module]:
        """The model's layers in order, for :mod:`convrec.nn.streaming`."""
        return [self.recurrent, self.head]

    def forward(self, x: Tensor | Padded) -> Tensor | Padded:
        return self.head(self.recurrent(x))  # (B, T, H) -> (B, T, O)


def inverse_softplus(value: float) -> float:
    """The ``x`` with ``softplus(x) = value > 0``."""
    return math.log(math.expm1(value))


def _columns(owner: str, columns: object, input_size: int) -> tuple[int, int]:
    """``(increment, duration)`` column indices of ``x_t``, each in ``[-I, I)``, distinct."""
    expected = (
        f"two distinct column indices (dlambda, dt) within the {input_size} input features "
        f"(from {-input_size} to {input_size - 1})"
    )
    pair = isinstance(columns, tuple | list) and len(columns) == 2
    if not pair or not all(isinstance(c, int) and not isinstance(c, bool) for c in columns):
        raise fail(owner, "increment_columns", expected, describe(columns), error=InvalidTypeError)
    if not all(-input_size <= c < input_size for c in columns) or (
        columns[0] % input_size == columns[1] % input_size
    ):
        raise fail(owner, "increment_columns", expected, repr(tuple(columns)))
    return columns[0], columns[1]
