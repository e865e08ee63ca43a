"""The short variant of every recipe, on its real data (skipped where the data is not fetched;
`.ci/run` fetches it): the recipe's default model, with its tuned options and learning rate,
fits a small batch of the training split: the loss falls by more than 30% in 25 steps."""

import shutil

import pytest
import torch

from convrec.data.datasets import DATASETS, SYNTHESISED
from convrec.data.sources import status
from convrec.models import create
from convrec.tasks import DatasetTask, available_tasks, create_task
from convrec.train import resolve_config

STEPS = 25
BATCH = 8
TINY = {"keywords": {"clips_per_class": 2}, "welcome": {"size": 8}, "digit-strings": {"size": 8}}

RECIPES = [  # the recipes: tasks on a registered dataset (not the kinds that read your files)
    task.name
    for task in available_tasks()
    if issubclass(task, DatasetTask) and hasattr(task, "dataset")
]


def _available(name: str) -> None:
    dataset = create_task(name).dataset
    source = DATASETS[dataset].source
    if source == SYNTHESISED and shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    if source != SYNTHESISED and status(source) != "fetched":
        pytest.skip(f"source {source} not fetched (convrec data fetch {source})")


# keywords-stream: ~15 s; its data and front end are those of `keywords`, and its model, the
# gru, is also the maxwell recipe's, both tested here by default.
SLOW_RECIPES = {"keywords-stream"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow) if name in SLOW_RECIPES else name
        for name in RECIPES
    ],
)
def test_the_default_recipe_fits_a_small_batch_of_its_data(name):
    _available(name)
    task = create_task(name, **TINY.get(name, {}))
    config = resolve_config(name)
    data = task.build_data(seed=0)
    inputs, targets = task.collate(
        [data.train[index] for index in range(min(BATCH, len(data.train)))]
    )
    torch.manual_seed(0)
    model = create(config.model, **task.model_arguments(), **config.model_options)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    losses = []
    for _ in range(STEPS):
        loss = task.loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], f"{name}: loss {losses[0]:.3g} -> {losses[-1]:.3g}"


def test_every_recipe_names_a_default_model_it_is_tuned_for_and_valid_options():
    for task in available_tasks():
        assert task.default_model in task.models, task.name
        for model in task.models:
            config = resolve_config(task.name, model)
            assert config.model == model
