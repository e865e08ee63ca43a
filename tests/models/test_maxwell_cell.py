"""The physics-structured Maxwell cell: each scheme against its closed form for a linear dashpot,
convergence to the notes' law, stability for very long steps, the fused scan against the
reference loop, padding invariance, the model through the registry and the task, and its errors.
"""

import numpy as np
import pytest
import torch

from convrec.data.maxwell import Material, solve_stress, triangle_paths
from convrec.models import MaxwellCell, create
from convrec.models.maxwell_cell import GAMMA, relax
from convrec.models.maxwell_scan import linear_recurrence
from convrec.nn import Padded, Recurrent
from convrec.tasks import create_task

NOTES = Material()  # E = 1000 MPa, sigma0 = 20 MPa, nu0 = 1 s, m = 5


def cell_of(law: tuple[float, float, float] | None = None, **options) -> MaxwellCell:
    """A float64 cell on inputs ``(dlambda, dt)``: random (seeded) or set to ``(E, phi0, b)``."""
    torch.manual_seed(0)
    cell = MaxwellCell(2, options.pop("hidden_size", 1), **options).double()
    if law is not None:
        cell.load_power_law(*law)
    return cell


def notes_law() -> tuple[float, float, float]:
    """The notes' solid in stress units sigma / sigma0: ``E / sigma0``, ``1 / nu0``, ``m - 1``."""
    return (
        NOTES.youngs_modulus / NOTES.reference_stress,
        1 / NOTES.viscosity_time,
        NOTES.exponent - 1,
    )


def loading(steps: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(B=3, T, 2)``: random stretch increments and durations over six decades."""
    generator = torch.Generator().manual_seed(seed)
    increment = 0.01 * torch.randn(3, steps, generator=generator, dtype=torch.float64)
    duration = 10 ** (6 * torch.rand(3, steps, generator=generator, dtype=torch.float64) - 4)
    return torch.stack([increment, duration], dim=-1), torch.zeros(3, 1, dtype=torch.float64)


@pytest.mark.parametrize("scheme", ["backward_euler", "sdirk2"])
def test_a_step_of_a_linear_dashpot_is_the_closed_form_of_its_scheme(scheme):
    # phi = k |s|^1e-12: a linear dashpot g = k s, for which each stage solves in closed form
    modulus, k = 30.0, 2.5
    cell = cell_of((modulus, k, 1e-12), scheme=scheme)
    x, _ = loading()
    sigma = torch.tensor([[0.7], [-1.3], [0.0]], dtype=torch.float64)
    for t in range(x.shape[1]):
        elastic, dt = modulus * x[:, t, :1], x[:, t, 1:]
        if scheme == "backward_euler":
            expected = (sigma + elastic) / (1 + k * dt)
        else:
            stage1 = (sigma + GAMMA * elastic) / (1 + GAMMA * k * dt)
            base = sigma + (1 / GAMMA - 1) * (stage1 - sigma) + GAMMA * elastic
            expected = base / (1 + GAMMA * k * dt)
        (sigma,) = cell.step(x[:, t], (sigma,))
        torch.testing.assert_close(sigma, expected, rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def triangles() -> tuple[torch.Tensor, np.ndarray]:
    """The notes' load-unload triangles at three rates, 4 steps up and 4 down, as cell inputs
    ``(3, 8, 2)``, and their stress ``(3, 8)`` by the task's adaptive solver at a tolerance
    far below the errors measured."""
    _, rate, dt = triangle_paths(rates=(1e-3, 1e-2, 1e-1), steps_per_segment=4)
    true = solve_stress(rate, dt, NOTES, tolerance=1e-7) / NOTES.reference_stress
    return torch.as_tensor(np.stack([rate * dt, dt], axis=-1)), true


@pytest.mark.parametrize(
    ("scheme", "order", "error_at_16"), [("backward_euler", 1, 0.03), ("sdirk2", 2, 1e-3)]
)
def test_the_cell_converges_to_the_notes_law_at_the_order_of_its_scheme(
    triangles, scheme, order, error_at_16
):
    """The cell set to the notes' solid, with 8 and 16 substeps per step, against the task's
    adaptive solver: doubling the substeps divides the error by about ``2^order``."""
    x, true = triangles
    errors = []
    for substeps in (8, 16):
        cell = cell_of(notes_law(), scheme=scheme, substeps=substeps, newton_iterations=4)
        sigma, predicted = torch.zeros(3, 1, dtype=torch.float64), []
        with torch.no_grad():
            for t in range(x.shape[1]):
                (sigma,) = cell.step(x[:, t], (sigma,))
                predicted.append(sigma[:, 0])
        error = np.abs(torch.stack(predicted, 1).numpy() - true).max() / np.abs(true).max()
        errors.append(error)
    assert errors[1] <= error_at_16
    assert 0.75 * 2**order <= errors[0] / errors[1] <= 1.25 * 2**order


def test_relax_solves_its_implicit_equation_for_any_duration():
    cell = cell_of(notes_law())
    predictor = torch.tensor([[3.0], [-0.4], [1e-9], [0.0], [250.0]], dtype=torch.float64)
    for tau in (1e-9, 1e-3, 1.0, 1e3, 1e9):
        duration = torch.full_like(predictor, tau)
        root, slope = relax(predictor, duration, cell.dashpot(), iterations=4)
        residual = root + tau * cell.flow(root) - predictor
        assert residual.abs().max() <= 1e-9 * (1 + predictor.abs()).max()
        assert (torch.sign(root) == torch.sign(predictor)).all()
        assert (root.abs() <= predictor.abs() * (1 + 1e-12)).all()
        assert ((slope > 0) & (slope <= 1)).all()


@pytest.mark.parametrize("scheme", ["backward_euler", "sdirk2"])
@pytest.mark.parametrize("law", [None, (50.0, 1.0, 4.0), (50.0, 1e-3, 12.0)])
def test_very_long_steps_stay_finite_and_within_the_elastic_bound(scheme, law):
    cell = cell_of(law, scheme=scheme)
    if law is None:  # a bent dashpot: the network's own tanh units matter
        with torch.no_grad():
            cell.weight_out.normal_(0.0, 1.0)
    modulus = torch.exp(cell.log_modulus)
    x, sigma = loading(steps=30, seed=1)
    x[..., 0] *= 50  # increments up to several times the stretch itself
    x[..., 1] = 10 ** torch.linspace(3, 12, 30, dtype=torch.float64)  # 1e3 s to 1e12 s
    sigma = sigma + 2.0
    for t in range(x.shape[1]):
        elastic = modulus * x[:, t, :1]
        (after,) = cell.step(x[:, t], (sigma,))
        assert torch.isfinite(after).all()
        if scheme == "backward_euler":  # the flow takes the stress from its predictor to 0
            assert (after.abs() <= (sigma + elastic).abs() * (1 + 1e-12)).all()
        assert (after.abs() <= sigma.abs() + elastic.abs() + 1e-12).all()
        sigma = after


def test_a_hold_relaxes_towards_zero_and_a_constant_rate_to_its_steady_stress():
    modulus, exponent = 50.0, 4.0
    cell = cell_of((modulus, 1.0, exponent), scheme="backward_euler")
    held = torch.tensor([[0.0, 1e6]], dtype=torch.float64)
    (sigma,) = cell.step(held, (torch.full((1, 1), 2.0, dtype=torch.float64),))
    assert 0 < sigma.item() < 0.08  # backward Euler's root (2e-6)^(1/5) = 0.072: not past 0
    rate = 1e-2  # steady: g(sigma) = sigma^5 = E rate
    pulled = torch.tensor([[rate * 1e4, 1e4]], dtype=torch.float64)
    (sigma,) = cell.step(pulled, (torch.zeros(1, 1, dtype=torch.float64),))
    assert sigma.item() == pytest.approx((modulus * rate) ** (1 / (exponent + 1)), rel=1e-3)


def test_the_linear_recurrence_matches_its_loop():
    generator = torch.Generator().manual_seed(0)
    slope = torch.rand(2, 77, 3, generator=generator, dtype=torch.float64) * 2.2 - 1.1
    value = torch.randn(2, 77, 3, generator=generator, dtype=torch.float64)
    expected, current = [], torch.zeros(2, 3, dtype=torch.float64)
    for t in range(77):
        current = slope[:, t] * current + value[:, t]
        expected.append(current)
    torch.testing.assert_close(linear_recurrence(slope, value), torch.stack(expected, 1))


def reference_and_fused(**options) -> tuple[Recurrent, Recurrent]:
    """Two layers of the same cells: the reference loop and the fused scan."""
    torch.manual_seed(0)
    reference = Recurrent(MaxwellCell, 3, 2, backend="reference", **options).double()
    with torch.no_grad():
        for cell in reference.cells:
            cell.weight_out.normal_(-2.0, 1.0)
    fused = Recurrent(MaxwellCell, 3, 2, backend="fused", **options).double()
    fused.load_state_dict(reference.state_dict())
    return reference, fused


def maxwell_batch(lengths: list[int], garbage: float = 0.0) -> Padded:
    """Padded ``(B, T, 3)`` inputs: a feature the cell ignores, ``dlambda``, ``dt``; the padding
    holds ``garbage``."""
    generator = torch.Generator().manual_seed(1)
    steps = max(lengths)
    data = torch.stack(
        [
            torch.randn(len(lengths), steps, generator=generator, dtype=torch.float64),
            0.01 * torch.randn(len(lengths), steps, generator=generator, dtype=torch.float64),
            10 ** (4 * torch.rand(len(lengths), steps, generator=generator) - 3).double(),
        ],
        dim=-1,
    )
    padding = torch.arange(steps)[None, :] >= torch.tensor(lengths)[:, None]
    return Padded(data.masked_fill(padding[..., None], garbage), lengths)


@pytest.mark.parametrize("scheme", ["backward_euler", "sdirk2"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_fused_scan_equals_the_reference_loop_with_gradients(scheme, bidirectional):
    reference, fused = reference_and_fused(
        scheme=scheme, substeps=2, bidirectional=bidirectional, return_state=True
    )
    batch = maxwell_batch([70, 9, 41, 70], garbage=1e3)
    directions = 2 if bidirectional else 1
    start = torch.rand(directions, 4, 2, dtype=torch.float64, requires_grad=True)
    results = []
    for layer in (reference, fused):
        output, final = layer(batch, start)
        loss = (output.data * torch.linspace(-1, 1, 4)[:, None, None]).square().sum()
        loss = loss + final.sum()
        gradients = torch.autograd.grad(loss, [start, *layer.parameters()])
        results.append((output.data, final, gradients))
    (output, final, gradients), (fused_output, fused_final, fused_gradients) = results
    torch.testing.assert_close(fused_output, output, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(fused_final, final, rtol=1e-9, atol=1e-10)
    for got, expected in zip(fused_gradients, gradients, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-9)


def test_the_fused_scan_follows_recurrent_dropout_like_the_reference():
    reference, fused = reference_and_fused(recurrent_dropout=0.5)
    batch = maxwell_batch([30, 12])
    outputs = []
    for layer in (reference, fused):
        torch.manual_seed(5)  # the same mask
        outputs.append(layer.train()(batch).data)
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("backend", ["reference", "fused"])
def test_each_sequence_gives_the_same_stress_alone_as_in_a_padded_batch(backend):
    torch.manual_seed(0)
    layer = Recurrent(MaxwellCell, 3, 2, backend=backend).double()
    lengths = [25, 4, 17]
    batch = maxwell_batch(lengths, garbage=-1e3)
    with torch.no_grad():
        together = layer(batch).data
        for index, length in enumerate(lengths):
            alone = layer(batch.data[index : index + 1, :length])
            torch.testing.assert_close(together[index, :length], alone[0], rtol=1e-9, atol=1e-10)


def test_the_model_builds_through_the_registry_with_the_task_and_trains_a_step():
    task = create_task(
        "maxwell", train_size=8, validation_size=2, test_size=2, segments=2, raw_increments=True
    )
    data = task.build_data(seed=0)
    assert task.model_defaults("maxwell-cell", ["increment_columns", "modulus"]) == {}
    torch.manual_seed(0)
    model = create("maxwell-cell", **task.model_arguments())
    batch, target = task.collate([data.train[index] for index in range(8)])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = {name: value.clone() for name, value in model.named_parameters()}
    loss = task.loss(model(batch), target)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert all(not torch.equal(value, before[name]) for name, value in model.named_parameters())
    assert task.loss(model(batch), target) < loss


def test_the_raw_increments_leave_the_other_features_as_they_were():
    sizes = {"train_size": 4, "validation_size": 2, "test_size": 2, "segments": 2}
    plain = create_task("maxwell", **sizes).build_data(seed=3)
    task = create_task("maxwell", raw_increments=True, **sizes)
    extended = task.build_data(seed=3)
    assert task.input_shape == (None, 8)
    raw = extended.train.raw  # (N, T, 3): stretch, rate, dt
    for index in range(4):
        features = extended.train.inputs[index]
        torch.testing.assert_close(features[:, :6], plain.train.inputs[index])
        increment = torch.as_tensor(raw[index, :, 1] * raw[index, :, 2], dtype=torch.float32)
        torch.testing.assert_close(features[:, 6], increment)
        torch.testing.assert_close(features[:, 7], torch.as_tensor(raw[index, :, 2]).float())


def test_bad_arguments_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match=r"`increment_columns`: expected two distinct column .* 4"):
        MaxwellCell(4, 1, increment_columns=(1, 5))
    with pytest.raises(ValueError, match=r"`increment_columns`: expected two distinct"):
        MaxwellCell(4, 1, increment_columns=(3, -1))
    with pytest.raises(TypeError, match=r"`increment_columns`: .* got 2"):
        MaxwellCell(4, 1, increment_columns=2)
    with pytest.raises(ValueError, match=r"`scheme`: expected one of 'sdirk2', 'backward_euler'"):
        create("maxwell-cell", input_shape=(None, 8), output_size=1, scheme="rk4")
    with pytest.raises(ValueError, match=r"`modulus`: expected a positive finite number, got -1"):
        MaxwellCell(4, 1, modulus=-1.0)
    with pytest.raises(ValueError, match=r"`exponent`: expected a positive finite number, got 0"):
        MaxwellCell(2, 1).load_power_law(50.0, 1.0, 0.0)
    task = create_task("maxwell")
    with pytest.raises(ValueError, match=r"maxwell-cell.*set task_options.raw_increments=true"):
        task.model_defaults("maxwell-cell", ["increment_columns", "modulus"])


def test_the_recipe_trains_saves_and_loads_the_model_with_the_raw_increments(tmp_path):
    import convrec

    run = convrec.train(
        "maxwell",
        "maxwell-cell",
        epochs=2,
        progress=False,
        out=str(tmp_path),
        task_options={"train_size": 16, "validation_size": 4, "test_size": 4, "segments": 2},
    )
    assert run.config.task_options["raw_increments"] is True
    assert run.metrics["test"]["in-distribution"]["rel_l2_median"] < 1
    trained = convrec.load(run.directory)
    stretch, rate, dt = triangle_paths(rates=(0.01,), peak=1.05, steps_per_segment=5)
    history = np.stack([stretch[0], rate[0], dt[0]], axis=-1)  # (10, 3), within training range
    (stress,) = trained.predict([history])
    assert stress.shape == (10,)
    assert np.isfinite(stress).all()
    assert stress[4] > stress[0] > 0  # loading raises the stress
