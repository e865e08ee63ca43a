"""The dataset-backed tasks: standardisation, few labels, metrics, prediction after a reload
from ``state()``, forecasts in the series' units, and text generation."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from convrec.data.image_augment import Augmented
from convrec.data.sources import status
from convrec.data.splits import Pairs
from convrec.models import create
from convrec.tasks import create_task
from convrec.tasks.classification import classification_metrics, few_labels
from convrec.tasks.dataset import channel_statistics, each_series_standardised, shape_of


def _fetched(source):
    if status(source) != "fetched":
        pytest.skip(f"source {source} not fetched (convrec data fetch {source})")


def test_channel_statistics_count_every_step_of_every_sequence_once():
    sequences = [torch.tensor([[1.0, 10.0], [3.0, 10.0]]), torch.tensor([[5.0, 40.0]])]
    mean, std = channel_statistics(sequences, "sequence")
    torch.testing.assert_close(mean, torch.tensor([3.0, 20.0]))
    torch.testing.assert_close(std, torch.tensor([2.0, 17.3205]), rtol=1e-4, atol=1e-4)
    images = torch.arange(16.0).reshape(2, 2, 2, 2)
    mean, _ = channel_statistics(images, "image")
    assert mean.shape == (2, 1, 1)
    torch.testing.assert_close(mean.flatten(), torch.tensor([5.5, 9.5]))


def test_shape_marks_a_varying_time_axis_as_none():
    assert shape_of([torch.zeros(3, 2), torch.zeros(5, 2)]) == (None, 2)
    assert shape_of([torch.zeros(3, 2), torch.zeros(3, 2)]) == (3, 2)
    assert shape_of(torch.zeros(4, 1, 8, 8)) == (1, 8, 8)


def test_few_labels_keeps_that_many_of_each_class_seeded():
    pairs = Pairs(torch.arange(30.0)[:, None], torch.tensor([0] * 20 + [1] * 7 + [2] * 3))
    kept = few_labels(pairs, 5, seed=0)
    assert torch.bincount(kept.targets).tolist() == [5, 5, 3]
    assert torch.equal(few_labels(pairs, 5, seed=0).inputs, kept.inputs)
    assert not torch.equal(few_labels(pairs, 5, seed=1).inputs, kept.inputs)


def test_classification_metrics_on_known_predictions():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [2.0, 0.0]])
    metrics = classification_metrics(logits, torch.tensor([0, 1, 1, 0]), 2)
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)


def _reloaded_series_classifier(name, count):
    """A UCR task with its data, a small FCN, the task rebuilt from its state, the first
    ``count`` raw test series, and their class probabilities as evaluation computes them."""
    _fetched("ucr")
    task = create_task(name)
    data = task.build_data(seed=0)
    torch.manual_seed(0)
    model = create("fcn", **task.model_arguments(), widths=(4, 4, 4)).eval()
    reloaded = create_task(name)
    reloaded.load_state(task.state())
    raw = [task.splits.test.inputs[index].numpy() for index in range(count)]
    logits, _ = task.outputs(model, data.tests["test"])
    evaluated = logits[:count].softmax(dim=1).numpy()
    return SimpleNamespace(
        task=task, data=data, model=model, reloaded=reloaded, raw=raw, evaluated=evaluated
    )


def test_image_recipes_augment_their_training_images_only():
    _fetched("fashion-mnist")
    plain = create_task("fashion-mnist").build_data(seed=0)
    data = create_task("fashion-mnist", augment="flip+crop").build_data(seed=0)
    assert isinstance(data.train, Augmented) and len(data.train) == len(plain.train)
    torch.manual_seed(0)
    moved = [not torch.equal(data.train[index][0], plain.train[index][0]) for index in range(20)]
    assert sum(moved) >= 15  # unchanged only if neither flipped nor shifted: 1 in 162
    assert all(data.train[index][1] == plain.train[index][1] for index in range(20))
    assert torch.equal(data.validation.inputs, plain.validation.inputs)
    assert torch.equal(data.tests["test"].inputs, plain.tests["test"].inputs)
    with pytest.raises(ValueError, match=r"augment.*'rotate'"):
        create_task("mnist-5k", augment="rotate")


def test_a_reloaded_classifier_predicts_raw_series_as_in_evaluation():
    case = _reloaded_series_classifier("italy-power", 5)
    probabilities = np.stack(case.reloaded.predict(case.model, case.raw))
    np.testing.assert_allclose(probabilities, case.evaluated, atol=1e-5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match=r"italy-power.predict: .*`input 0`: expected finite"):
        case.reloaded.predict(case.model, [np.full((24, 1), np.nan)])
    with pytest.raises(ValueError, match=r"shape \(24, 1\), got shape \(23, 1\)"):
        case.reloaded.predict(case.model, [np.zeros((23, 1))])


def test_each_series_standardised_forgets_its_scale_and_offset():
    series = torch.randn(4, 9, 3, generator=torch.Generator().manual_seed(0))
    scaled = each_series_standardised(series * 1000 + 7)
    torch.testing.assert_close(scaled, each_series_standardised(series), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(scaled.mean(dim=1), torch.zeros(4, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(scaled.std(dim=1, correction=0), torch.ones(4, 3))
    torch.testing.assert_close(each_series_standardised(series[0]), scaled[0], atol=1e-5, rtol=1e-4)
    assert each_series_standardised(torch.full((5, 1), 3.0)).eq(0).all()


def test_plaid_standardises_each_series_in_training_and_prediction():
    case = _reloaded_series_classifier("plaid", 4)
    amplitudes = [float(series.abs().max()) for series in case.task.splits.test.inputs]
    assert max(amplitudes) / min(amplitudes) > 1e3  # why the recipe scales series one by one
    for item in case.data.train.inputs[:20]:
        assert abs(float(item.mean())) < 1e-3 and abs(float(item.std(correction=0)) - 1) < 1e-2
    probabilities = np.stack(case.reloaded.predict(case.model, case.raw))
    louder = np.stack(case.reloaded.predict(case.model, [series * 100 for series in case.raw]))
    np.testing.assert_allclose(probabilities, case.evaluated, atol=1e-5)
    np.testing.assert_allclose(louder, probabilities, atol=1e-5)
    state_before_the_option = {
        key: value for key, value in case.task.state().items() if key != "each_series"
    }
    older = create_task("plaid")
    older.load_state(state_before_the_option)
    assert not older.standardise_each_series
    italy = create_task("italy-power")
    italy.build_data(seed=0)
    assert "each_series" not in italy.state()


def test_forecasts_come_back_in_the_series_units():
    _fetched("statsmodels")
    task = create_task("sunspots")
    data = task.build_data(seed=0)
    torch.manual_seed(0)
    model = create("forecaster", **task.model_arguments(), hidden_size=4).eval()
    past, _ = data.tests["test"][0]
    raw_window = past.double().numpy() * task.series_std + task.series_mean
    (forecast,) = task.predict(model, [raw_window])
    expected = task.in_units(model(past[None]).detach()[0])
    np.testing.assert_allclose(forecast, expected, rtol=1e-5)
    metrics = task.evaluate(model, data.tests["test"])
    assert metrics["rmse"] >= metrics["mae"] > 0


def test_generation_continues_the_prompt_and_refuses_an_empty_one():
    _fetched("fortunes")
    task = create_task("char-lm")
    task.build_data(seed=0)
    torch.manual_seed(0)
    model = create("charlm", **task.model_arguments(), hidden_size=8, num_layers=1).eval()
    text = task.generate(model, "The ", 30, temperature=1.0, seed=3)
    assert text.startswith("The ") and len(text) == 34
    assert text == task.generate(model, "The ", 30, temperature=1.0, seed=3)
    with pytest.raises(ValueError, match="`prompt`: expected a non-empty string"):
        task.generate(model, "", 10)
