"""Several runs of one classification recipe as one classifier: their class probabilities
averaged, as InceptionTime's five networks and the UCR ensembles are.

    p(c | x) = (1 / M) sum_m softmax(f_m(x))_c

Each member is scored on the test sets its own run rebuilds (its seed, its standardisation); the
members must agree on the test items and their labels, which a recipe's fixed test set gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from convrec.errors import InvalidValueError
from convrec.tasks.classification import Classification, classification_metrics
from convrec.train.config import read_config_file
from convrec.train.trained import TrainedModel, load


def evaluate_ensemble(run_dirs: Sequence[str | Path]) -> dict[str, dict[str, float]]:
    """Accuracy, macro F1 and cross-entropy of the averaged probabilities of ``run_dirs`` on
    each of their task's test sets.

    Raises:
        InvalidValueError: fewer than two runs, runs of different tasks, task options or
            classes, a task that does not classify, or test sets whose labels differ.
    """
    if len(run_dirs) < 2:
        raise InvalidValueError(
            f"invalid value for argument `runs`: expected two or more runs to average, got "
            f"{len(run_dirs)}"
        )
    members = [load(run_dir) for run_dir in run_dirs]
    _check_alike(members, run_dirs)
    probabilities: dict[str, list[torch.Tensor]] = {}
    labels: dict[str, torch.Tensor] = {}
    for member, run_dir in zip(members, run_dirs, strict=True):
        seed = read_config_file(Path(run_dir) / "config.yaml")["seed"]
        for name, dataset in member.task.build_data(seed).tests.items():
            logits, truth = member.task.outputs(member.model, dataset)
            if name in labels and not torch.equal(labels[name], truth):
                raise InvalidValueError(
                    f"invalid value for argument `runs`: {run_dir}'s test set {name!r} has other "
                    f"items or labels than {run_dirs[0]}'s; an ensemble needs the same test set"
                )
            labels[name] = truth
            probabilities.setdefault(name, []).append(logits.float().softmax(dim=1))
    classes = len(members[0].task.classes)
    return {
        name: classification_metrics(torch.stack(parts).mean(dim=0).log(), labels[name], classes)
        for name, parts in probabilities.items()
    }


def _check_alike(members: list[TrainedModel], run_dirs: Sequence[str | Path]) -> None:
    """Refuse runs that are not of one classification task with the same options and classes."""
    first = members[0]
    if not isinstance(first.task, Classification):
        raise InvalidValueError(
            f"invalid value for argument `runs`: an ensemble averages class probabilities, and "
            f"{run_dirs[0]} is a run of {first.description['task']!r}, which does not classify"
        )
    for member, run_dir in zip(members[1:], run_dirs[1:], strict=True):
        for field in ("task", "task_options"):
            if member.description[field] != first.description[field]:
                raise InvalidValueError(
                    f"invalid value for argument `runs`: expected runs of one task with the same "
                    f"options, got {field} {member.description[field]!r} in {run_dir} against "
                    f"{first.description[field]!r} in {run_dirs[0]}"
                )
        if tuple(member.task.classes) != tuple(first.task.classes):
            raise InvalidValueError(
                f"invalid value for argument `runs`: {run_dir} has classes "
                f"{list(member.task.classes)}, {run_dirs[0]} {list(first.task.classes)}"
            )
