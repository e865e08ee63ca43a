"""Stretch histories and their stress labels for a Maxwell solid with power-law viscosity.

The lecture notes' viscoelastic solid, a spring of modulus ``E`` in series with a power-law
dashpot, relates the stress ``sigma`` (MPa) to the stretch ``lambda`` (dimensionless) by

    dsigma/dt = E * dlambda/dt - (sigma / nu0) * |sigma / sigma0|^(m - 1)

starting stress-free at the start of every history. A history is piecewise linear in stretch and
sampled at the end of ``T`` steps; within a step the stretch rate is constant. Every array here is
NumPy ``float64`` of shape ``(N, T)``: ``N`` histories, step ``j`` ending at time ``t_j``.

The equation is stiff where ``|dsigma/dt|`` changes fast with ``sigma`` (large ``m``, high stress,
long steps), so the labels come from an implicit, L-stable integrator with error control, never
from forward Euler: the two-stage SDIRK of order 2 (``gamma = 1 - 1/sqrt(2)``, stiffly accurate),
each stage solved by Newton's method, on substeps chosen per history by a local error estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convrec.checks import fail, positive_float, positive_int
from convrec.errors import InvalidTypeError

GAMMA = 1.0 - 1.0 / math.sqrt(2.0)  # the L-stable SDIRK2's diagonal coefficient
NEWTON_ITERATIONS = 8  # a stage whose Newton iteration has not converged by then is retried
MAX_ATTEMPTS = 100_000  # substep attempts per sample step before the integrator gives up


@dataclass(frozen=True)
class Material:
    """The notes' Maxwell solid: a spring ``E`` in series with a power-law dashpot.

    Args:
        youngs_modulus: ``E`` in MPa.
        reference_stress: ``sigma0`` in MPa, the stress at which the dashpot flows at rate
            ``sigma0 / (E * nu0)``.
        viscosity_time: ``nu0`` in seconds.
        exponent: ``m >= 1``; ``m = 1`` is the linear Maxwell solid.
    """

    youngs_modulus: float = 1000.0
    reference_stress: float = 20.0
    viscosity_time: float = 1.0
    exponent: float = 5.0

    def __post_init__(self) -> None:
        for name in ("youngs_modulus", "reference_stress", "viscosity_time", "exponent"):
            positive_float("Material", name, getattr(self, name))
        if self.exponent < 1:
            raise fail("Material", "exponent", "a number >= 1", repr(self.exponent))

    def stress_rate(self, stress: np.ndarray, stretch_rate: np.ndarray) -> np.ndarray:
        """The right-hand side ``E * dlambda/dt - (sigma / nu0) * |sigma / sigma0|^(m - 1)``.

        Shape:
            stress, stretch_rate: any shapes that broadcast; returns their broadcast shape.

        Example:
            >>> float(Material().stress_rate(np.array(20.0), np.array(0.0)))  # sigma = sigma0
            -20.0
        """
        elastic = self.youngs_modulus * stretch_rate
        return elastic - stress * self.fluidity(stress) / self.viscosity_time

    def stress_rate_derivative(self, stress: np.ndarray) -> np.ndarray:
        """``d(stress_rate)/d(sigma) = -(m / nu0) * |sigma / sigma0|^(m - 1)``, never positive."""
        return -self.exponent * self.fluidity(stress) / self.viscosity_time

    def fluidity(self, stress: np.ndarray) -> np.ndarray:
        """``|sigma / sigma0|^(m - 1)``, how much faster than at ``sigma0`` the dashpot flows.

        A whole ``m`` up to 65 goes by repeated squaring: NumPy's ``pow`` is about ten times
        slower, and this is the integrator's inner loop.
        """
        magnitude = np.abs(stress / self.reference_stress)
        exponent = self.exponent - 1.0
        if exponent != int(exponent) or exponent > 64:
            return magnitude**exponent
        result, whole = np.ones_like(magnitude), int(exponent)
        while whole:
            if whole & 1:
                result = result * magnitude
            magnitude, whole = magnitude * magnitude, whole >> 1
        return result


NOTES_MATERIAL = Material()


@dataclass(frozen=True)
class HistorySpec:
    """How :func:`random_paths` draws stretch histories.

    Args:
        segments: piecewise-linear segments per history.
        steps_per_segment: equal sample steps per segment, so ``T = segments * steps_per_segment``.
        stretch_range: ``(low, high)``; histories start stress-free at ``low`` and stay inside.
        rate_range: ``(low, high)`` of ``|dlambda/dt|`` in 1/s, drawn log-uniform.
        hold_probability: chance that a segment holds the stretch (rate 0).
        hold_range: ``(low, high)`` of hold durations in seconds, drawn log-uniform.
    """

    segments: int = 6
    steps_per_segment: int = 25
    stretch_range: tuple[float, float] = (1.0, 1.10)
    rate_range: tuple[float, float] = (1e-3, 1e-1)
    hold_probability: float = 0.2
    hold_range: tuple[float, float] = (1.0, 100.0)

    def __post_init__(self) -> None:
        positive_int("HistorySpec", "segments", self.segments)
        positive_int("HistorySpec", "steps_per_segment", self.steps_per_segment)
        _check_range("HistorySpec", "stretch_range", self.stretch_range, strict=True)
        _check_range("HistorySpec", "rate_range", self.rate_range, strict=False)
        _check_range("HistorySpec", "hold_range", self.hold_range, strict=False)
        probability = self.hold_probability
        if isinstance(probability, bool) or not isinstance(probability, int | float):
            raise fail("HistorySpec", "hold_probability", "a number in [0, 1]", repr(probability))
        if not 0 <= probability <= 1:
            raise fail("HistorySpec", "hold_probability", "a number in [0, 1]", repr(probability))

    @property
    def steps(self) -> int:
        """``T``, the samples per history."""
        return self.segments * self.steps_per_segment


@dataclass(frozen=True, eq=False)
class Histories:
    """A batch of stretch histories and their stress labels.

    Shape:
        stretch: ``(N, T)``, ``lambda`` at the end of each step, ``t_1 .. t_T``.
        stretch_rate: ``(N, T)``, ``dlambda/dt`` over the step ending at ``t_j``.
        dt: ``(N, T)``, step durations in seconds, all positive.
        stress: ``(N, T)``, ``sigma(t_j)`` in MPa.
    """

    stretch: np.ndarray
    stretch_rate: np.ndarray
    dt: np.ndarray
    stress: np.ndarray

    def __post_init__(self) -> None:
        expected = np.shape(self.stretch)
        for name in ("stretch", "stretch_rate", "dt", "stress"):
            shape = np.shape(getattr(self, name))
            if len(shape) != 2 or shape != expected:
                raise fail(
                    "Histories",
                    name,
                    f"a 2-D array (N, T) of the stretch's shape {expected}",
                    shape,
                )

    def __len__(self) -> int:
        return self.stretch.shape[0]

    def subset(self, index: np.ndarray | slice | list[int]) -> Histories:
        """The histories picked by ``index`` along ``N`` (a slice, integers or a boolean mask)."""
        if isinstance(index, int | np.integer):
            index = [index]
        return Histories(
            self.stretch[index], self.stretch_rate[index], self.dt[index], self.stress[index]
        )


def random_paths(
    count: int, spec: HistorySpec, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``count`` piecewise-linear stretch histories.

    Each segment holds with probability ``spec.hold_probability`` for a log-uniform duration, or
    moves from the current stretch to a uniform target in ``spec.stretch_range`` at a log-uniform
    ``|rate|`` (its sign set by the target). Every segment is sampled with
    ``spec.steps_per_segment`` equal steps; the first sample is the end of the first step.

    Args:
        count: ``N``, the number of histories.
        spec: the drawing rules.
        rng: the only source of randomness.

    Returns:
        ``(stretch, stretch_rate, dt)``, each ``(N, T)`` with ``T = spec.steps``.

    Example:
        >>> stretch, rate, dt = random_paths(3, HistorySpec(), np.random.default_rng(0))
        >>> stretch.shape, bool((dt > 0).all())
        ((3, 150), True)
    """
    positive_int("random_paths", "count", count)
    if not isinstance(spec, HistorySpec):
        raise fail("random_paths", "spec", "a HistorySpec", repr(spec), error=InvalidTypeError)
    if not isinstance(rng, np.random.Generator):
        raise fail(
            "random_paths",
            "rng",
            "a numpy.random.Generator",
            repr(rng),
            hint="Make one with numpy.random.default_rng(seed).",
            error=InvalidTypeError,
        )
    shape = (count, spec.segments)
    low, high = spec.stretch_range
    holds = rng.random(shape) < spec.hold_probability
    targets = rng.uniform(low, high, shape)
    speeds = _log_uniform(rng, spec.rate_range, shape)
    hold_times = _log_uniform(rng, spec.hold_range, shape)

    starts = np.empty(shape)  # (N, S) stretch at the start of each segment
    current = np.full(count, float(low))
    for segment in range(spec.segments):
        starts[:, segment] = current
        current = np.where(holds[:, segment], current, targets[:, segment])
    ends = np.where(holds, starts, targets)
    moves = ~holds & (ends != starts)  # a target drawn exactly at the start becomes a hold

    rates = np.where(moves, np.sign(ends - starts) * speeds, 0.0)  # (N, S)
    durations = np.where(moves, np.abs(ends - starts) / speeds, hold_times)  # (N, S)
    steps = spec.steps_per_segment
    fraction = np.arange(1, steps + 1) / steps  # (K,) of each segment done after each step
    stretch = starts[..., None] + (ends - starts)[..., None] * fraction  # (N, S, K)
    stretch_rate = np.repeat(rates, steps, axis=1)  # (N, S * K)
    dt = np.repeat(durations / steps, steps, axis=1)
    return stretch.reshape(count, -1), stretch_rate, dt


def triangle_paths(
    rates: tuple[float, ...] = (1e-3, 1e-2, 1e-1),
    peak: float = 1.10,
    steps_per_segment: int = 25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The notes' load-unload triangles: from 1 up to ``peak`` and back to 1 at a constant rate.

    Args:
        rates: one history per ``|dlambda/dt|`` in 1/s.
        peak: the largest stretch, above 1.
        steps_per_segment: equal steps up, and as many down.

    Returns:
        ``(stretch, stretch_rate, dt)``, each ``(len(rates), 2 * steps_per_segment)``.

    Example:
        >>> stretch, rate, dt = triangle_paths(rates=(0.05,), peak=1.1, steps_per_segment=2)
        >>> stretch.round(3).tolist(), rate.tolist(), dt.round(3).tolist()
        ([[1.05, 1.1, 1.05, 1.0]], [[0.05, 0.05, -0.05, -0.05]], [[1.0, 1.0, 1.0, 1.0]])
    """
    speeds = np.asarray(rates, dtype=float)
    if speeds.ndim != 1 or speeds.size == 0 or not (np.isfinite(speeds) & (speeds > 0)).all():
        raise fail("triangle_paths", "rates", "a non-empty sequence of positive rates", repr(rates))
    peak = positive_float("triangle_paths", "peak", peak)
    if peak <= 1:
        raise fail("triangle_paths", "peak", "a stretch above 1", repr(peak))
    steps = positive_int("triangle_paths", "steps_per_segment", steps_per_segment)

    fraction = np.arange(1, steps + 1) / steps  # (K,)
    up = 1.0 + (peak - 1.0) * fraction
    down = peak - (peak - 1.0) * fraction
    stretch = np.tile(np.concatenate([up, down]), (speeds.size, 1))  # (N, 2K)
    stretch_rate = np.concatenate(
        [np.tile(speeds[:, None], steps), np.tile(-speeds[:, None], steps)], 1
    )
    dt = np.tile(((peak - 1.0) / steps / speeds)[:, None], 2 * steps)
    return stretch, stretch_rate, dt


def solve_stress(
    stretch_rate: np.ndarray,
    dt: np.ndarray,
    material: Material = NOTES_MATERIAL,
    initial_stress: float | np.ndarray = 0.0,
    *,
    tolerance: float = 1e-5,
) -> np.ndarray:
    """Integrate the stress along every history at once, implicitly.

    Each sample step is covered by substeps of the two-stage, L-stable, stiffly accurate SDIRK of
    order 2 (Butcher tableau ``[[g, 0], [1 - g, g]]``, ``g = 1 - 1/sqrt(2)``):

        Y1 = sigma + h * g * f(Y1)
        Y2 = sigma + h * (1 - g) * f(Y1) + h * g * f(Y2)
        sigma_next = Y2

    each stage a scalar equation per history solved by Newton's method with the analytic
    ``df/dsigma``. Every history picks its own substeps ``h``: the gap to the first-order
    ``sigma + h * f(Y1)``, filtered so that stiff, already decayed transients do not shrink ``h``,

        e = h * g * (f(Y2) - f(Y1)) / (1 - h * g * df/dsigma)

    must stay below ``tolerance * (sigma0 + |sigma|)``; the next ``h`` is scaled by
    ``0.9 * (tolerance-bound / |e|)^(1/2)``, between 0.2 and 5, and carried to the next step.
    Against Radau at ``rtol = 1e-10`` the default tolerance leaves relative errors near 1e-5.

    Args:
        stretch_rate: ``dlambda/dt`` over each step.
        dt: step durations in seconds, all positive.
        material: the solid.
        initial_stress: ``sigma`` before the first step, a number or one per history.
        tolerance: relative local error allowed per substep.

    Shape:
        stretch_rate, dt: ``(N, T)``; initial_stress: scalar or ``(N,)``; returns ``(N, T)``.

    Example:
        >>> rate, dt = np.full((1, 4), 1e-2), np.full((1, 4), 1.0)
        >>> elastic = Material(viscosity_time=1e12)  # no relaxation: sigma = E * (lambda - 1)
        >>> solve_stress(rate, dt, elastic).round(6).tolist()
        [[10.0, 20.0, 30.0, 40.0]]
    """
    stretch_rate = _history_array("solve_stress", "stretch_rate", stretch_rate)
    dt = _history_array("solve_stress", "dt", dt)
    if dt.shape != stretch_rate.shape:
        raise fail("solve_stress", "dt", f"the stretch_rate's shape {stretch_rate.shape}", dt.shape)
    if not (dt > 0).all():
        raise fail("solve_stress", "dt", "positive step durations", f"minimum {dt.min()}")
    if not isinstance(material, Material):
        raise fail("solve_stress", "material", "a Material", repr(material), error=InvalidTypeError)
    tolerance = positive_float("solve_stress", "tolerance", tolerance)
    count, length = dt.shape
    initial = np.asarray(initial_stress, dtype=float)
    if initial.shape not in ((), (count,)) or not np.isfinite(initial).all():
        expected = f"a finite number or an array ({count},), one per history"
        raise fail("solve_stress", "initial_stress", expected, f"shape {initial.shape}")
    stress = np.broadcast_to(initial, (count,))

    labels = np.empty((count, length))  # (N, T)
    substep = dt[:, 0].copy()  # (N,) each history's next substep, carried across sample steps
    for step in range(length):
        stress, substep = _cover_step(
            material, stress, stretch_rate[:, step], dt[:, step], substep, tolerance
        )
        labels[:, step] = stress
    return labels


def generate(
    count: int, spec: HistorySpec, material: Material, rng: np.random.Generator
) -> Histories:
    """``count`` random histories (:func:`random_paths`) labelled by :func:`solve_stress`."""
    stretch, stretch_rate, dt = random_paths(count, spec, rng)
    return Histories(stretch, stretch_rate, dt, solve_stress(stretch_rate, dt, material))


def triangles(
    material: Material = NOTES_MATERIAL,
    rates: tuple[float, ...] = (1e-3, 1e-2, 1e-1),
    peak: float = 1.10,
    steps_per_segment: int = 25,
) -> Histories:
    """The notes' triangles (:func:`triangle_paths`) labelled by :func:`solve_stress`."""
    stretch, stretch_rate, dt = triangle_paths(rates, peak, steps_per_segment)
    return Histories(stretch, stretch_rate, dt, solve_stress(stretch_rate, dt, material))


def _cover_step(
    material: Material,
    stress: np.ndarray,
    stretch_rate: np.ndarray,
    duration: np.ndarray,
    substep: np.ndarray,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Advance every history over one sample step by accepted SDIRK2 substeps.

    Each attempt works on the histories still short of the step's end only, so a few slow
    histories do not make the whole batch pay for their substeps.

    Shape:
        every argument and both results (stress, next substep): ``(N,)``.
    """
    stress, substep = stress.copy(), substep.copy()
    elapsed = np.zeros_like(duration)
    for _ in range(MAX_ATTEMPTS):
        index = np.flatnonzero(elapsed < duration)  # (n,) the histories still moving
        if index.size == 0:
            return stress, substep
        start, remaining, h = stress[index], duration[index] - elapsed[index], substep[index]
        finishing = h >= remaining
        h = np.minimum(h, remaining)
        candidate, error, converged = _sdirk2(material, start, stretch_rate[index], h, tolerance)
        scale = tolerance * (
            material.reference_stress + np.maximum(np.abs(start), np.abs(candidate))
        )
        ratio = np.maximum(np.abs(error) / scale, 1e-12)
        accept = converged & (ratio <= 1.0)
        stress[index] = np.where(accept, candidate, start)
        moved = elapsed[index] + np.where(accept, h, 0.0)
        elapsed[index] = np.where(accept & finishing, duration[index], moved)
        factor = np.where(converged, np.clip(0.9 / np.sqrt(ratio), 0.2, 5.0), 0.25)
        grown = np.where(accept & finishing, np.maximum(substep[index], h * factor), h * factor)
        substep[index] = grown
    raise RuntimeError(
        f"solve_stress: {MAX_ATTEMPTS} substeps did not cover a sample step; "
        "the histories or the material are out of the integrator's reach."
    )


def _sdirk2(
    material: Material,
    stress: np.ndarray,
    stretch_rate: np.ndarray,
    h: np.ndarray,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One SDIRK2 substep of length ``h``: the new stress, its filtered error, Newton's success.

    Shape:
        every argument and result: ``(n,)``.
    """
    coefficient = GAMMA * h
    stage1, converged1, _ = _solve_stage(
        material, stress, stretch_rate, coefficient, stress, tolerance
    )
    increment1 = stage1 - stress  # h * g * f(Y1)
    base = stress + (1.0 - GAMMA) / GAMMA * increment1  # sigma + h * (1 - g) * f(Y1)
    stage2, converged2, slope = _solve_stage(
        material, base, stretch_rate, coefficient, stage1, tolerance
    )
    error = ((stage2 - base) - increment1) / slope  # h * g * (f(Y2) - f(Y1)), filtered
    return stage2, error, converged1 & converged2


def _solve_stage(
    material: Material,
    base: np.ndarray,
    stretch_rate: np.ndarray,
    coefficient: np.ndarray,
    guess: np.ndarray,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve ``Y = base + coefficient * f(Y)`` by Newton's method, one scalar per history.

    The residual's slope ``1 - coefficient * df/dsigma`` is at least 1 and grows with ``|Y|``, so
    the iteration converges from any guess; it stops once every update is far below the error
    ``tolerance`` (quadratic convergence then leaves an error of about its square).

    Returns:
        ``Y``, whether it converged, and the slope at ``Y``, each ``(n,)``.
    """
    loading = material.youngs_modulus * stretch_rate
    fluidity = coefficient / material.viscosity_time
    stage = guess
    for _ in range(NEWTON_ITERATIONS):
        power = material.fluidity(stage)  # |Y / sigma0|^(m - 1)
        residual = stage - base - coefficient * loading + fluidity * stage * power
        slope = 1.0 + fluidity * material.exponent * power
        update = residual / slope
        stage = stage - update
        converged = np.abs(update) <= 1e-3 * tolerance * (material.reference_stress + np.abs(stage))
        if converged.all():
            break
    return stage, converged, slope


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float], shape: tuple) -> np.ndarray:
    """Draws whose logarithm is uniform between the logarithms of ``bounds``."""
    return np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]), shape))


def _check_range(owner: str, argument: str, value: object, strict: bool) -> None:
    """Refuse anything but ``(low, high)`` with ``0 < low <= high`` (``low < high`` if strict)."""
    order = "<" if strict else "<="
    expected = f"a pair (low, high) of finite numbers with 0 < low {order} high"
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise fail(owner, argument, expected, repr(value))
    low, high = value
    numbers = all(
        not isinstance(item, bool) and isinstance(item, int | float) and math.isfinite(item)
        for item in value
    )
    if not numbers or low <= 0 or high < low or (strict and high == low):
        raise fail(owner, argument, expected, repr(value))


def _history_array(owner: str, argument: str, value: object) -> np.ndarray:
    """``value`` as a finite ``float64`` array ``(N, T)``."""
    array = np.asarray(value, dtype=float)
    if array.ndim != 2 or array.size == 0 or not np.isfinite(array).all():
        raise fail(owner, argument, "a non-empty, finite 2-D array (N, T)", f"shape {array.shape}")
    return array
