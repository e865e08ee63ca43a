"""Ensembles: several runs of one classification task scored by their averaged probabilities,
from `convrec evaluate RUN RUN ...`; runs that cannot be averaged are refused by what differs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import convrec
from convrec.cli import app
from convrec.errors import UserError
from convrec.train.ensemble import evaluate_ensemble
from tests.tasks.test_series import make_series, write_long_csv


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two seeds of a small GRU on the same training and test files, and a third run with
    other task options."""
    folder = tmp_path_factory.mktemp("ensemble")
    write_long_csv(folder / "train.csv", *make_series(24, seed=0))
    write_long_csv(folder / "test.csv", *make_series(10, seed=1))
    options = {"data": str(folder / "train.csv"), "test": str(folder / "test.csv")}

    def train(seed: int, **extra):
        return convrec.train(
            "series",
            model="gru",
            seed=seed,
            epochs=2,
            progress=False,
            out=str(folder / "runs"),
            model_options={"hidden_size": 8},
            task_options=options | extra,
        ).directory

    return train(0), train(1), train(0, validation_split=0.3)


def test_the_ensemble_scores_the_mean_of_its_members_probabilities(runs):
    first, second, _ = runs
    metrics = evaluate_ensemble([first, second])["test"]
    series, labels = make_series(10, seed=1)
    members = [np.stack(convrec.load(run).predict(list(series))) for run in (first, second)]
    mean = (members[0] + members[1]) / 2  # (10, 2) probabilities of 'down', 'up'
    classes = list(convrec.load(first).task.classes)
    truth = torch.tensor([classes.index(label) for label in labels])
    loss = torch.nn.functional.nll_loss(torch.from_numpy(mean).log(), truth).item()
    assert metrics["cross_entropy"] == pytest.approx(loss, rel=1e-5)
    assert metrics["accuracy"] == pytest.approx(float(np.mean(mean.argmax(1) == truth.numpy())))
    result = CliRunner().invoke(app, ["evaluate", str(first), str(second)])
    assert result.exit_code == 0 and "ensemble of 2 runs" in result.output, result.output


def test_runs_that_cannot_be_averaged_are_refused_by_what_differs(runs):
    first, _, other_options = runs
    with pytest.raises(UserError, match=r"`runs`: expected runs of one task with the same opt"):
        evaluate_ensemble([first, other_options])
    with pytest.raises(UserError, match=r"`runs`: expected two or more runs to average, got 1"):
        evaluate_ensemble([first])
    result = CliRunner().invoke(app, ["evaluate", str(first), str(first), "--data", "x.csv"])
    assert isinstance(result.exception, UserError) and "`--data`" in str(result.exception)
