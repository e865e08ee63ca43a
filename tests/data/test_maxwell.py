"""The Maxwell solid's histories and labels: against Radau, the physics, the paths, the errors."""

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from convrec.data.maxwell import (
    Histories,
    HistorySpec,
    Material,
    generate,
    random_paths,
    solve_stress,
    triangle_paths,
    triangles,
)

TOLERANCE = 2e-4  # relative L2 error per history against Radau
REFERENCE_CASES = {
    "default": (HistorySpec(), Material()),
    "ten times faster": (HistorySpec(rate_range=(1e-2, 1.0)), Material()),
    "long holds": (HistorySpec(hold_probability=0.5, hold_range=(100.0, 1000.0)), Material()),
}
STIFF_SPEC = HistorySpec(rate_range=(1e-2, 1.0), hold_probability=0.5, hold_range=(10.0, 100.0))


def radau_stress(stretch_rate: np.ndarray, dt: np.ndarray, material: Material) -> np.ndarray:
    """The stress ``(N, T)`` by scipy's Radau at ``rtol = atol = 1e-10``, written from the equation.

    Time is rescaled to the step index ``tau`` (``dt/dtau = dt_j`` on step ``j``), so the
    histories' independent equations share their breaks (where any rate or step changes) and go
    through ``solve_ivp`` together, one call per stretch of constant rates and steps, with
    ``t_eval`` at every sample. (One call per history and segment agrees to 4e-11 and is 3x
    slower.)
    """
    modulus, reference = material.youngs_modulus, material.reference_stress
    viscosity, exponent = material.viscosity_time, material.exponent
    count, length = dt.shape
    changes = (np.diff(stretch_rate, axis=1) != 0).any(0) | (np.diff(dt, axis=1) != 0).any(0)
    breaks = np.r_[0, np.flatnonzero(changes) + 1, length]
    stress, labels = np.zeros(count), np.empty((count, length))
    for first, stop in itertools.pairwise(breaks):
        rate, step = stretch_rate[:, first], dt[:, first]

        def right_hand_side(tau, sigma, rate=rate, step=step):
            relaxation = sigma / viscosity * np.abs(sigma / reference) ** (exponent - 1)
            return step * (modulus * rate - relaxation)

        def jacobian(tau, sigma, step=step):
            return np.diag(
                -step * exponent / viscosity * np.abs(sigma / reference) ** (exponent - 1)
            )

        solution = solve_ivp(
            right_hand_side,
            (first, stop),
            stress,
            method="Radau",
            rtol=1e-10,
            atol=1e-10,
            jac=jacobian,
            t_eval=np.arange(first + 1, stop + 1),
        )
        assert solution.success, solution.message
        labels[:, first:stop] = solution.y
        stress = solution.y[:, -1]
    return labels


def relative_errors(stress: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``||s - s_ref|| / ||s_ref||`` per history, ``(N,)``."""
    return np.linalg.norm(stress - reference, axis=1) / np.linalg.norm(reference, axis=1)


def previous(stress: np.ndarray) -> np.ndarray:
    """The stress before each step: zero, then the labels shifted by one step."""
    return np.concatenate([np.zeros((len(stress), 1)), stress[:, :-1]], axis=1)


# Reference equality.


@pytest.mark.parametrize("case", list(REFERENCE_CASES))
def test_labels_match_radau_on_random_histories(case):
    spec, material = REFERENCE_CASES[case]
    _, rate, dt = random_paths(5, spec, np.random.default_rng(11))
    errors = relative_errors(solve_stress(rate, dt, material), radau_stress(rate, dt, material))
    assert (errors < TOLERANCE).all(), errors


def test_labels_match_radau_on_the_triangles():
    loops = triangles()
    reference = radau_stress(loops.stretch_rate, loops.dt, Material())
    errors = relative_errors(loops.stress, reference)
    assert (errors < TOLERANCE).all(), errors


def test_labels_match_radau_on_a_very_stiff_history():
    material = Material(exponent=10.0)
    _, rate, dt = random_paths(1, STIFF_SPEC, np.random.default_rng(4))
    reference = radau_stress(rate, dt, material)
    stiffness = dt * np.abs(material.stress_rate_derivative(previous(reference)))  # h |df/dsigma|
    assert stiffness.max() > 500  # a fast load, then a hold: as stiff as it claims
    errors = relative_errors(solve_stress(rate, dt, material), reference)
    assert (errors < TOLERANCE).all(), errors


def test_holds_relax_as_the_closed_form():
    # Under a hold sigma^(1 - m) grows linearly: (m - 1) t / (nu0 sigma0^(m - 1)) per second.
    material = Material()
    start = np.array([60.0, 25.0, -40.0, 5.0])
    dt = np.tile(np.geomspace(1e-3, 30.0, 40), (4, 1))
    stress = solve_stress(np.zeros_like(dt), dt, material, initial_stress=start)
    m, time_constant = material.exponent, material.viscosity_time
    growth = (m - 1) * np.cumsum(dt, axis=1) * np.abs(start[:, None] / 20.0) ** (m - 1)
    expected = start[:, None] * (1 + growth / time_constant) ** (-1 / (m - 1))
    np.testing.assert_allclose(stress, expected, rtol=2e-5)


def test_the_linear_solid_loads_as_the_closed_form():
    # m = 1: dsigma/dt = E r - sigma / nu0, so sigma = E nu0 r (1 - exp(-t / nu0)) from rest.
    material = Material(viscosity_time=2.0, exponent=1.0)
    dt = np.geomspace(1e-3, 2.0, 30)[None, :]
    stress = solve_stress(np.full_like(dt, 1e-2), dt, material)
    expected = 1000.0 * 2.0 * 1e-2 * -np.expm1(-np.cumsum(dt, axis=1) / 2.0)
    np.testing.assert_allclose(stress, expected, rtol=2e-5)


def test_the_batch_does_not_change_a_history():
    _, rate, dt = random_paths(4, HistorySpec(), np.random.default_rng(2))
    batch = solve_stress(rate, dt)
    alone = np.concatenate([solve_stress(rate[i : i + 1], dt[i : i + 1]) for i in range(4)])
    np.testing.assert_allclose(batch, alone, rtol=1e-10, atol=1e-10)


def test_stress_rate_and_its_derivative_by_hand():
    material = Material()  # E = 1000, sigma0 = 20, nu0 = 1, m = 5
    assert material.stress_rate(np.array(40.0), np.array(0.01)) == pytest.approx(10 - 40 * 16)
    assert material.stress_rate(np.array(-40.0), np.array(0.0)) == pytest.approx(40 * 16)
    assert material.stress_rate_derivative(np.array(-40.0)) == pytest.approx(-5 * 16)
    stress = np.linspace(-90.0, 90.0, 13)
    for exponent in (1.0, 2.0, 5.0, 10.0, 4.5):
        fluidity = Material(exponent=exponent).fluidity(stress)
        np.testing.assert_allclose(fluidity, np.abs(stress / 20.0) ** (exponent - 1), rtol=1e-13)


# Physics.


def test_without_relaxation_the_stress_is_elastic():
    stretch, rate, dt = random_paths(20, HistorySpec(), np.random.default_rng(3))
    stress = solve_stress(rate, dt, Material(viscosity_time=1e20))
    np.testing.assert_allclose(stress, 1000.0 * (stretch - 1.0), rtol=1e-9, atol=1e-9)


def test_holds_relax_the_stress_monotonically():
    spec = HistorySpec(hold_probability=0.5, hold_range=(10.0, 1000.0))
    _, rate, dt = random_paths(50, spec, np.random.default_rng(4))
    stress = solve_stress(rate, dt)
    before, hold = previous(stress), rate == 0
    assert hold.sum() > 1000
    assert (np.abs(stress) <= np.abs(before))[hold].all()
    assert (stress * before >= 0)[hold].all()  # relaxation never crosses zero
    assert (np.abs(stress) < 0.8 * np.abs(before))[hold].any()  # and does relax


def test_the_triangles_dissipate_and_stiffen_with_rate():
    loops = triangles()
    stretch = np.concatenate([np.ones((3, 1)), loops.stretch], axis=1)
    stress = np.concatenate([np.zeros((3, 1)), loops.stress], axis=1)
    work = np.sum((stress[:, 1:] + stress[:, :-1]) / 2 * np.diff(stretch, axis=1), axis=1)
    assert (work > 0).all(), work  # closed loops, so the work is the energy dissipated
    peaks = loops.stress.max(axis=1)  # rates 1e-3, 1e-2, 1e-1
    assert peaks[0] < peaks[1] < peaks[2], peaks
    assert peaks[2] < 1000.0 * 0.10  # below the elastic E * (peak - 1)


# Properties on random piecewise-linear paths (hypothesis, seeded by derandomize).

PROPERTY_SETTINGS = settings(max_examples=8, deadline=None, derandomize=True)
SEGMENTS = st.lists(
    st.tuples(
        st.floats(0.9, 1.1),  # target stretch
        st.floats(-3.0, -1.0),  # log10 |rate| in 1/s
        st.one_of(st.just(0.0), st.floats(1.0, 100.0)),  # hold after the move, seconds
    ),
    min_size=1,
    max_size=4,
)


def piecewise_path(
    segments: list[tuple[float, float, float]], steps: int = 20
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(stretch, stretch_rate, dt)``, each ``(1, T)``, from 1 through each target at its rate,
    each move and hold in ``steps`` equal steps (a move shorter than 1e-4 is skipped)."""
    rates, steps_dt, current = [], [], 1.0
    for target, log_speed, hold in segments:
        if abs(target - current) > 1e-4:
            speed = 10.0**log_speed
            rates += [np.sign(target - current) * speed] * steps
            steps_dt += [abs(target - current) / speed / steps] * steps
            current = target
        if hold > 0 or not rates:
            rates += [0.0] * steps
            steps_dt += [max(hold, 1.0) / steps] * steps
    rate, dt = np.array([rates]), np.array([steps_dt])
    return 1.0 + np.cumsum(rate * dt, axis=1), rate, dt


@PROPERTY_SETTINGS
@given(SEGMENTS)
def test_a_mirrored_strain_path_gives_the_mirrored_stress(segments):
    """|sigma|^(m-1) sigma is odd, so strain epsilon = lambda - 1 -> -epsilon (the rates
    negated, the solver's only path input) negates the stress, bit for bit."""
    _, rate, dt = piecewise_path(segments)
    np.testing.assert_array_equal(solve_stress(-rate, dt), -solve_stress(rate, dt))


@PROPERTY_SETTINGS
@given(SEGMENTS, st.floats(-3.0, -1.0))
def test_a_closed_cycle_from_rest_does_at_least_the_stored_elastic_work(segments, log_speed):
    """From rest, the work ``W = int sigma dlambda`` is the stored energy ``sigma^2 / (2 E)`` plus
    the dissipated, never negative: ``W >= sigma_end^2 / (2 E) >= 0`` on the path back to 1
    (trapezoid rule, within 1e-3 of ``int |sigma| |dlambda|``)."""
    stretch, rate, dt = piecewise_path([*segments, (1.0, log_speed, 0.0)])
    stress = solve_stress(rate, dt)
    assert stretch[0, -1] == pytest.approx(1.0, abs=1e-12)
    stretch, stress = np.c_[[1.0], stretch][0], np.c_[[0.0], stress][0]  # (T + 1,) from rest
    middle, step = (stress[1:] + stress[:-1]) / 2, np.diff(stretch)
    work, stored = np.sum(middle * step), stress[-1] ** 2 / (2 * Material().youngs_modulus)
    assert work >= stored - 1e-3 * np.sum(np.abs(middle * step)), (work, stored)


@PROPERTY_SETTINGS
@given(SEGMENTS)
def test_halving_the_tolerance_moves_the_stress_by_under_1e_4_sigma0(segments):
    _, rate, dt = piecewise_path(segments)
    change = solve_stress(rate, dt, tolerance=5e-6) - solve_stress(rate, dt)  # default 1e-5
    assert np.abs(change).max() <= 1e-4 * Material().reference_stress


# Paths.


@pytest.mark.parametrize(
    "spec",
    [
        HistorySpec(),
        HistorySpec(
            segments=3, steps_per_segment=4, stretch_range=(0.9, 1.3), hold_probability=0.5
        ),
    ],
)
def test_random_paths_follow_the_spec(spec):
    count = 400
    stretch, rate, dt = random_paths(count, spec, np.random.default_rng(6))
    low, high = spec.stretch_range
    assert (
        stretch.shape == rate.shape == dt.shape == (count, spec.segments * spec.steps_per_segment)
    )
    assert stretch.min() >= low and stretch.max() <= high
    speed = np.abs(rate)
    hold = speed == 0
    assert ((speed >= spec.rate_range[0]) & (speed <= spec.rate_range[1]) | hold).all()
    assert (dt > 0).all()
    np.testing.assert_allclose(stretch, low + np.cumsum(rate * dt, axis=1), rtol=0, atol=1e-12)
    segment_rates = rate.reshape(count, spec.segments, -1)
    segment_steps = dt.reshape(count, spec.segments, -1)
    assert (segment_rates == segment_rates[..., :1]).all()  # one rate and step per segment
    assert (segment_steps == segment_steps[..., :1]).all()
    holds = segment_rates[..., 0] == 0
    assert holds.mean() == pytest.approx(spec.hold_probability, abs=0.03)
    hold_times = segment_steps.sum(axis=2)[holds]
    assert hold_times.min() >= spec.hold_range[0] * (1 - 1e-12)
    assert hold_times.max() <= spec.hold_range[1] * (1 + 1e-12)
    middle = np.log(spec.rate_range).mean()  # log-uniform: the log-rates centre there
    assert np.log(speed[~hold]).mean() == pytest.approx(middle, abs=0.1)


def test_random_paths_are_seeded_by_the_generator_alone():
    first = random_paths(8, HistorySpec(), np.random.default_rng(7))
    again = random_paths(8, HistorySpec(), np.random.default_rng(7))
    other = random_paths(8, HistorySpec(), np.random.default_rng(8))
    for a, b, c in zip(first, again, other, strict=True):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_triangle_paths_go_up_and_back_down():
    stretch, rate, dt = triangle_paths(rates=(1e-3, 1e-1), peak=1.2, steps_per_segment=10)
    assert stretch.shape == rate.shape == dt.shape == (2, 20)
    np.testing.assert_allclose(stretch[:, 9], 1.2)
    np.testing.assert_allclose(stretch[:, -1], 1.0)
    np.testing.assert_array_equal(rate[:, :10], [[1e-3] * 10, [1e-1] * 10])
    np.testing.assert_array_equal(rate[:, 10:], [[-1e-3] * 10, [-1e-1] * 10])
    np.testing.assert_allclose(1.0 + np.cumsum(rate * dt, axis=1), stretch, atol=1e-12)


def test_generate_labels_the_drawn_paths_and_histories_subset():
    histories = generate(5, HistorySpec(), Material(), np.random.default_rng(9))
    stretch, rate, dt = random_paths(5, HistorySpec(), np.random.default_rng(9))
    np.testing.assert_array_equal(histories.stretch, stretch)
    np.testing.assert_array_equal(histories.stress, solve_stress(rate, dt))
    assert len(histories) == 5
    picked = histories.subset([0, 3])
    assert len(picked) == 2
    np.testing.assert_array_equal(picked.dt, dt[[0, 3]])


def test_generating_a_training_set_is_quick():
    start = time.perf_counter()
    histories = generate(2000, HistorySpec(), Material(), np.random.default_rng(10))
    elapsed = time.perf_counter() - start
    assert histories.stress.shape == (2000, 150)
    assert elapsed < 5.0, f"generate(2000) took {elapsed:.2f} s"


# Arguments.

RATE, DT = np.full((2, 3), 1e-2), np.ones((2, 3))


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda: random_paths(0, HistorySpec(), np.random.default_rng()), "count"),
        (lambda: generate(-1, HistorySpec(), Material(), np.random.default_rng()), "count"),
        (lambda: HistorySpec(rate_range=(1e-1, 1e-3)), "rate_range"),
        (lambda: HistorySpec(rate_range=(0.0, 1e-1)), "rate_range"),
        (lambda: HistorySpec(stretch_range=(1.1, 1.1)), "stretch_range"),
        (lambda: HistorySpec(hold_range=(1.0,)), "hold_range"),
        (lambda: HistorySpec(hold_probability=1.5), "hold_probability"),
        (lambda: HistorySpec(segments=0), "segments"),
        (lambda: Material(exponent=0.5), "exponent"),
        (lambda: Material(youngs_modulus=-1.0), "youngs_modulus"),
        (lambda: solve_stress(RATE, np.zeros((2, 3))), "dt"),
        (lambda: solve_stress(RATE, np.ones((2, 4))), "dt"),
        (lambda: solve_stress(np.ones(3), np.ones(3)), "stretch_rate"),
        (lambda: solve_stress(RATE, DT, initial_stress=np.zeros(3)), "initial_stress"),
        (lambda: solve_stress(RATE, DT, tolerance=0.0), "tolerance"),
        (lambda: triangle_paths(peak=1.0), "peak"),
        (lambda: triangle_paths(rates=()), "rates"),
        (lambda: triangle_paths(rates=(1e-2, -1e-2)), "rates"),
        (lambda: Histories(RATE, RATE, DT, np.ones((2, 4))), "stress"),
    ],
)
def test_bad_arguments_are_named(make, argument):
    with pytest.raises(ValueError, match=rf"invalid value for argument `{argument}`: expected"):
        make()


def test_a_bad_generator_is_a_type_error_with_a_hint():
    with pytest.raises(TypeError, match=r"argument `rng`.*default_rng\(seed\)"):
        random_paths(3, HistorySpec(), 42)


def test_the_message_says_what_was_expected_and_what_came():
    message = (
        "HistorySpec: invalid value for argument `rate_range`: expected a pair (low, high) of "
        "finite numbers with 0 < low <= high, got (0.1, 0.001)."
    )
    with pytest.raises(ValueError) as caught:
        HistorySpec(rate_range=(0.1, 0.001))
    assert str(caught.value) == message
