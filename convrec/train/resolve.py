"""A run's configuration, resolved in layers: the task's defaults, the task's recipe for the
chosen model, a config file, then the options given (later ones win; ``model_options`` merge key
by key)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convrec.models import entry
from convrec.models.registry import check_takes
from convrec.tasks import Task, create_task
from convrec.tasks.base import task_class
from convrec.train.config import TrainConfig, make_config, read_config_mapping, written_by_a_run


def refuse_by_name(task: str, model: str | None) -> type[Task]:
    """What the names alone refuse, before any data is read or the training stack loads: an
    unknown task, and a model that cannot take the input kind a task knows without its data.
    Returns the task's class."""
    task_type = task_class(task)
    known_kind = getattr(task_type, "input_kind", None)
    if model is not None and isinstance(known_kind, str):
        check_takes(model, known_kind)
    return task_type


def resolve_config(
    task: str, model: str | None = None, config_file: str | Path | None = None, **options: Any
) -> TrainConfig:
    """The validated :class:`TrainConfig` of a run (see :func:`resolve`)."""
    return resolve(task, model, config_file, **options)[0]


def resolve(
    task: str, model: str | None = None, config_file: str | Path | None = None, **options: Any
) -> tuple[TrainConfig, Task]:
    """The run's configuration and its task object, built once.

    A run's own ``config.yaml`` (it records ``versions``) is complete, so the task's defaults
    and recipe are left out beneath it: a recipe changed since must not alter the run it
    resumes or repeats.

    Raises:
        InvalidValueError: an unknown task, model or key, a task option the task refuses, or a
            model option the model does not take; all before anything is built or written.
    """
    task_type = task_class(task)
    from_file = read_config_mapping(config_file) if config_file is not None else {}
    complete = written_by_a_run(from_file)
    from_file.pop("versions", None)
    explicit = {key: value for key, value in options.items() if value is not None}
    chosen = model or explicit.pop("model", None) or from_file.get("model")
    chosen = chosen or task_type.default_model
    recipe = [task_type.training_defaults, task_type.models.get(chosen, {})]
    layers = [*([] if complete else recipe), from_file, explicit]
    values: dict[str, Any] = {}
    model_options: dict[str, Any] = {}
    task_options: dict[str, Any] = {}
    for layer in layers:
        values |= layer
        model_options |= layer.get("model_options") or {}
        task_options |= layer.get("task_options") or {}
    merged = {"model_options": model_options, "task_options": task_options}
    config = make_config(**values | {"task": task, "model": chosen} | merged)
    task_object = create_task(config.task, **config.task_options)  # refuses bad task options
    model_entry = entry(config.model)
    model_entry.check_options(config.model_options)
    refuse_by_name(config.task, config.model)
    if not complete:
        needed = task_object.model_defaults(config.model, list(model_entry.options()))
        config = config.model_copy(update={"model_options": needed | config.model_options})
    return config, task_object
