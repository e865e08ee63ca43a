"""The optimizer and the per-step learning-rate schedules."""

import itertools
import math

import pytest
import torch

from convrec.train.config import make_config
from convrec.train.optim import (
    ONE_CYCLE_END,
    ONE_CYCLE_START,
    lr_factor,
    make_optimizer,
    make_scheduler,
)


def rates(schedule, total, warmup):
    factor = lr_factor(schedule, total, warmup)
    return [factor(step) for step in range(total)]


def test_warm_up_rises_linearly_over_its_steps_then_cosine_ends_at_one_hundredth():
    values = rates("cosine", 100, 10)
    assert values[:10] == pytest.approx([(step + 1) / 10 for step in range(10)])
    assert values[10] == pytest.approx(1.0)
    assert all(later <= earlier for earlier, later in itertools.pairwise(values[10:]))
    assert lr_factor("cosine", 100, 10)(100) == pytest.approx(0.01)


def test_a_fractional_warm_up_epoch_and_a_constant_schedule():
    values = rates("constant", 20, 2.5)  # e.g. half an epoch of 5 steps
    assert values[:3] == pytest.approx([0.4, 0.8, 1.0])
    assert values[3:] == [1.0] * 17


def test_one_cycle_rises_from_a_25th_to_the_peak_and_falls_far_below_it():
    values = rates("one-cycle", 100, 0)  # no warm-up given: 30 steps up
    assert values[0] == pytest.approx(ONE_CYCLE_START)
    assert max(values) == pytest.approx(1.0, abs=1e-3)
    assert values.index(max(values)) == 30
    assert lr_factor("one-cycle", 100, 0)(100) == pytest.approx(ONE_CYCLE_END)
    assert rates("one-cycle", 100, 10).index(1.0) == 10  # a given warm-up sets the rise


def test_the_scheduler_follows_the_factor_after_every_step():
    config = make_config(task="t", model="m", lr=0.1, epochs=2, warmup_epochs=1)
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = make_optimizer(config, [parameter])
    scheduler = make_scheduler(config, optimizer, steps_per_epoch=4)
    seen = []
    for _ in range(8):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    expected = [0.1 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * k / 4))) for k in range(4)]
    assert seen[4:] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("options", "kind", "settings"),
    [
        ({}, torch.optim.AdamW, {"weight_decay": 0.0}),
        (
            {"optimizer": "sgd", "momentum": 0.8, "weight_decay": 1e-4},
            torch.optim.SGD,
            {"momentum": 0.8, "weight_decay": 1e-4},
        ),
    ],
)
def test_the_configured_optimizer_with_its_settings(options, kind, settings):
    config = make_config(task="t", model="m", lr=0.05, **options)
    optimizer = make_optimizer(config, [torch.nn.Parameter(torch.zeros(1))])
    assert type(optimizer) is kind
    group = optimizer.param_groups[0]
    assert group["lr"] == 0.05
    assert {key: group[key] for key in settings} == settings
