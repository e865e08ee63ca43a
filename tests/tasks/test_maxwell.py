"""The maxwell task: metrics, features, prediction checks, and a fast training that learns."""

import csv
import json

import numpy as np
import pytest
import torch

from convrec.tasks import create_task
from convrec.tasks.envelope import OutOfDistributionWarning
from convrec.tasks.maxwell import check_history, sequence_metrics


def triangle_raw(steps: int = 10, rate: float = 0.01) -> np.ndarray:
    """A load-unload triangle: stretch, rate, dt columns ``(2 * steps, 3)``."""
    dt = 0.05 / rate / steps
    rates = np.r_[np.full(steps, rate), np.full(steps, -rate)]
    stretch = 1 + np.cumsum(rates * dt)
    return np.stack([stretch, rates, np.full(2 * steps, dt)], axis=-1)


def test_metrics_of_a_perfect_and_a_scaled_prediction():
    raw = triangle_raw()[None].repeat(2, axis=0)
    true = np.stack([np.linspace(1, 2, 20), np.linspace(2, 4, 20)])
    perfect = sequence_metrics(true, true, raw)
    assert all(value == 0 for value in perfect.values())
    scaled = sequence_metrics(1.1 * true, true, raw)
    for name in ("rel_l2", "peak"):
        assert scaled[f"{name}_median"] == pytest.approx(0.1)
        assert scaled[f"{name}_p95"] == pytest.approx(0.1)
    step = raw[0, :, 1] * raw[0, :, 2]
    work = 0.1 * abs((true[0] * step).sum()) / abs(true[0] * step).sum()
    assert scaled["work_median"] == pytest.approx(work)


def test_work_error_is_the_loop_area_error_on_a_closed_cycle():
    raw = triangle_raw()
    true = np.r_[np.linspace(0, 10, 10), np.linspace(8, 0, 10)][None]  # loading above unloading
    shifted = true + 1.0  # a constant offset leaves the loop area unchanged
    assert sequence_metrics(shifted, true, raw[None])["work_median"] == pytest.approx(0, abs=1e-12)


def small_task():
    task = create_task("maxwell", train_size=16, validation_size=4, test_size=4, segments=3)
    return task, task.build_data(seed=0)


@pytest.fixture(scope="module")
def built():
    """``small_task()`` built once for the tests that only read it."""
    return small_task()


def test_data_splits_are_seeded_and_standardised(built):
    task, data = built
    features = torch.stack(data.train.inputs).reshape(-1, task.input_shape[-1])
    assert torch.allclose(features.mean(0), torch.zeros(task.input_shape[-1]), atol=1e-5)
    assert torch.allclose(
        features.std(0, unbiased=False), torch.ones(task.input_shape[-1]), atol=1e-4
    )
    again = small_task()[1]
    other = small_task()[0].build_data(seed=1)
    assert torch.equal(data.train.inputs[0], again.train.inputs[0])
    assert not torch.equal(data.train.inputs[0][:5], other.train.inputs[0][:5])
    assert set(data.tests) == {
        "in-distribution",
        "longer-4x",
        "dt-halved",
        "dt-doubled",
        "rates-10x-faster",
        "rates-10x-slower",
        "stretch-1.5x",
        "triangles",
    }
    assert len(data.tests["longer-4x"].inputs[0]) == 4 * len(
        data.tests["in-distribution"].inputs[0]
    )


@pytest.mark.parametrize(
    ("sequence", "message"),
    [
        (np.zeros((5, 2)), r"sequence 0`: expected finite values of shape \(T, 3\)"),
        (np.full((5, 3), np.nan), r"expected finite values.*got nan at step 0, column 'stretch'"),
        (np.c_[np.ones(5), np.zeros(5), np.zeros(5)], r"expected dt > 0 at every step"),
        (
            triangle_raw() - [[1.0025, 0, 0]],  # unloads to a stretch of -0.0025
            r"expected stretch > 0 at every step, got stretch = -0\.0024\d* at step 19",
        ),
        (
            triangle_raw()
            * [[1, -1, 1]],  # the rate's sign flipped: the stretch goes the other way
            r"stretch_rate that matches the stretch.*got stretch_rate = -0\.01 at step 1, while "
            r"the stretch changes at \(stretch_j - stretch_\(j-1\)\) / dt_j = 0\.01",
        ),
        (
            triangle_raw() * [[1, 1.01, 1]],  # a rate 1 % off at every step
            r"stretch_rate = 0\.0101 at step 1",
        ),
    ],
)
def test_predict_refuses_bad_sequences(built, sequence, message):
    task, _ = built
    with pytest.raises(ValueError, match=message):
        task.predict(tiny_model(task), [sequence])


def tiny_model(task):
    from convrec.models import create

    return create("gru", **task.model_arguments(), hidden_size=4)


def test_every_history_the_task_generates_passes_the_checks_also_in_float32(built):
    _, data = built
    splits = {"train": data.train, "validation": data.validation, **data.tests}
    for name, dataset in splits.items():
        for index, raw in enumerate(dataset.raw):
            check_history(f"{name} {index}", raw)
            check_history(f"{name} {index} in float32", raw.astype(np.float32))
    assert len(splits) == 10


def test_inputs_beyond_the_training_range_warn_with_the_feature_and_ratio(built):
    task, data = built
    model = tiny_model(task)
    task.predict(model, [data.train.raw[0]])  # inside the envelope: no warning (errors on one)
    low, high = task.envelope.state()["stretch_rate"]
    fast = triangle_raw(rate=2 * high)[:10]  # loading only, at twice the fastest training rate
    ratio = (2 * high - high) / (high - low)
    with pytest.warns(OutOfDistributionWarning) as caught:
        task.predict(model, [fast])
    messages = [str(warning.message) for warning in caught]
    assert len(messages) == 1, messages  # stretch and dt stay inside, only the rate leaves
    assert "sequence 0, feature 'stretch_rate' at step 0" in messages[0]
    assert f"extrapolation ratio of {ratio:.3g} " in messages[0]


def test_the_envelope_is_saved_with_the_state_and_older_state_reads_as_unknown(built):
    task, data = built
    state = json.loads(json.dumps(task.state()))  # as model.json holds it
    low, high = data.train.raw.reshape(-1, 3).min(0), data.train.raw.reshape(-1, 3).max(0)
    assert state["envelope"]["dt"] == [low[2], high[2]]
    loaded = create_task("maxwell")
    loaded.load_state(state)
    np.testing.assert_array_equal(loaded.envelope.high, high)
    fast = triangle_raw(steps=1, rate=10 * high[1])  # steps as long as in training
    with pytest.warns(OutOfDistributionWarning, match="feature 'stretch_rate'"):
        loaded.predict(tiny_model(loaded), [fast])
    older = create_task("maxwell")
    older.load_state({"mean": state["mean"], "std": state["std"]})
    assert older.envelope is None
    older.predict(tiny_model(older), [fast])  # unknown envelope: no warning


def test_bad_task_options_are_refused():
    with pytest.raises(ValueError, match=r"maxwell: invalid value for argument `train_size`"):
        create_task("maxwell", train_size=0)
    with pytest.raises(
        ValueError,
        match=r"`task_options`: expected options among train_size, .* got 'trian_size'\. "
        r"Did you mean 'train_size'\?",
    ):
        create_task("maxwell", trian_size=10)


def test_a_fast_training_cuts_the_loss_tenfold_and_learns_the_stress(tmp_path):
    """The CI variant of the default command: small data, few epochs."""
    import convrec

    run = convrec.train(
        "maxwell",
        epochs=12,
        batch_size=16,
        progress=False,
        out=str(tmp_path),
        model_options={"hidden_size": 32},
        task_options={"train_size": 160, "validation_size": 16, "test_size": 16, "segments": 4},
    )
    with (run.directory / "history.csv").open() as file:
        losses = [float(row["train_loss"]) for row in csv.DictReader(file)]
    assert losses[0] / losses[-1] >= 10
    assert run.metrics["test"]["in-distribution"]["rel_l2_median"] < 0.15


def test_a_constant_feature_is_centred_not_blown_up():
    # one history of one segment: its rate features are exactly constant
    task = create_task(
        "maxwell", train_size=1, validation_size=1, test_size=1, segments=1, steps_per_segment=5
    )
    data = task.build_data(seed=0)
    features = torch.cat(list(data.train.inputs))
    assert features.abs().max() < 10
