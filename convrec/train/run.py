"""A run from configuration to files: ``train`` makes a run directory.

A run directory ``runs/<task>-<date>-<time>/`` holds ``config.yaml``, ``history.csv``,
``checkpoints/epoch-NNNN/`` (the newest two and the best, each committed by its manifest),
``metrics.json``, ``model.safetensors`` with ``model.json``, and PNG plots. It appears with its
``config.yaml`` or not at all, so a run killed at any moment can be resumed: from its newest good
checkpoint, to the same weights, bit for bit on CPU, as if it had never stopped.

The parts, each in its own module: :mod:`~convrec.train.resolve` (the configuration),
:mod:`~convrec.train.devices` (Fabric), :mod:`~convrec.train.rundir` (the directory),
:mod:`~convrec.train.optim` (optimizer and schedule), :mod:`~convrec.train.batches` (loaders),
:mod:`~convrec.train.loop` (the loop and its callbacks), :mod:`~convrec.train.finish` (metrics,
shared model, pictures); :mod:`~convrec.train.trained` reads a run back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.fabric import Fabric
from torch import nn

from convrec.diagnose.gradient_flow import recurrent_modules
from convrec.diagnose.inspection import example_batch
from convrec.errors import InvalidValueError
from convrec.files import write_json
from convrec.models import create
from convrec.tasks import Task, TaskData
from convrec.train.batches import evaluation_loader, train_loader
from convrec.train.callbacks import (
    Checkpointing,
    EarlyStopping,
    FreezeBackbone,
    HistoryWriter,
    ProgressBar,
    ValidationMetric,
)
from convrec.train.checkpoint import checkpoint_path, load_model_weights, restore
from convrec.train.config import TrainConfig
from convrec.train.determinism import make_deterministic, warn_nondeterministic_dropout
from convrec.train.devices import launch, make_fabric
from convrec.train.finish import finish_run
from convrec.train.loop import Callback, FitState, Loop, fit
from convrec.train.memory_format import to_channels_last
from convrec.train.monitor import GradientFlowMonitor, TensorBoardLogging
from convrec.train.optim import make_optimizer, make_scheduler
from convrec.train.own_data import own_data_options
from convrec.train.resolve import resolve
from convrec.train.rundir import (
    check_output_folder,
    check_run_directory,
    check_unchanged_settings,
    new_run_directory,
    resume_point,
    run_lock,
    settings_fingerprint,
)
from convrec.train.tbptt import check_model_advances, check_task_per_step, steps_per_epoch
from convrec.train.transfer import freeze_backbone, load_backbone


@dataclass
class Run:
    """A finished run: its directory, configuration and final metrics."""

    directory: Path
    config: TrainConfig
    metrics: dict[str, Any]


def train(
    task: str,
    model: str | None = None,
    *,
    config_file: str | Path | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
    data: Any = None,
    test: Any = None,
    validation: Any = None,
    **options: Any,
) -> Run:
    """Train a model on a task and write its run directory.

    Args:
        task: a task name (``convrec tasks`` lists them), e.g. ``'maxwell'``.
        model: a model name (``convrec models``); None for the task's default.
        config_file: a YAML file of :class:`TrainConfig` keys, e.g. a run's ``config.yaml``
            (complete: the task's recipe is not applied beneath it).
        resume: a run directory to continue from its newest good checkpoint, with its
            configuration (options given here, e.g. more ``epochs``, override it; changing the
            task, data, model, seed, batch size or optimizer settings is refused with
            :class:`~convrec.train.checkpoint.IncompatibleCheckpointError`).
        progress: show progress: a bar on a terminal, a line per epoch otherwise.
        data, test, validation: your own data for a kind (``series``, ``images``, ...): a path,
            or arrays (a pair ``(X, y)``; one array for ``forecast``), see
            :mod:`convrec.train.own_data`; they become ``task_options``.
        **options: any :class:`TrainConfig` key (``epochs``, ``lr``, ``seed``, ...).

    Returns:
        The :class:`Run`, whose ``metrics`` are also in ``metrics.json``.

    Example:
        ``convrec.train("maxwell", model="lstm", epochs=20).metrics["test"]["triangles"]``;
        ``convrec.train("series", data=(X, y), model="fcn")`` for stacked series ``X`` and
        labels ``y``.
    """
    if resume is not None and config_file is not None:
        raise InvalidValueError(
            f"invalid value for argument `config_file`: expected None when resuming (a resumed "
            f"run takes its own config.yaml), got {str(config_file)!r}"
        )
    if resume is not None:
        config_file = check_run_directory(Path(resume)) / "config.yaml"
    if files := own_data_options(data=data, test=test, validation=validation):
        task_options = options.get("task_options") or {}
        twice = [role for role in files if task_options.get(role) is not None]
        if twice:
            raise InvalidValueError(
                f"invalid value for argument `{twice[0]}`: given twice, as {twice[0]} and as "
                f"task_options.{twice[0]} ({task_options[twice[0]]}); give it once"
            )
        options["task_options"] = {**task_options, **files}
    config, task_object = resolve(task, model, config_file, **options)
    make_deterministic(config.deterministic)
    fabric = make_fabric(config)
    launch(fabric, config)
    with contextlib.ExitStack() as held:  # the run's lock, held by the first process
        if resume is not None and fabric.is_global_zero:
            held.enter_context(run_lock(Path(resume)))
        if resume is None:
            check_output_folder(Path(config.out))
        return _run(fabric, config, task_object, resume, progress, held)


def _run(
    fabric: Fabric,
    config: TrainConfig,
    task_object: Task,
    resume: str | Path | None,
    progress: bool,
    held: contextlib.ExitStack,
) -> Run:
    """Build, fit and finish the run (its lock is taken by ``train``, or here once the first
    process has made a new run's directory)."""
    resumed = None if resume is None else resume_point(fabric, Path(resume))
    if resume is not None and resumed is None:
        check_unchanged_settings(Path(resume), config)
    data, network = _build(config, task_object, fabric)
    fingerprint = _fingerprint(config, task_object)
    if resume is not None:
        directory = Path(resume)
    else:  # made once nothing can refuse the run: one for all processes, named by the first
        created = None
        if fabric.is_global_zero:
            created = new_run_directory(Path(config.out), config.task, config)
            held.enter_context(run_lock(created))
        directory = fabric.broadcast(created)
    training_batches = train_loader(
        data.train,
        config.batch_size,
        config.seed,
        task_object.collate,
        fabric.world_size,
        fabric.global_rank,
        config.bucket_by_length,
    )
    steps = steps_per_epoch(training_batches, config.tbptt_steps)  # optimizer steps
    optimizer = make_optimizer(config, network.parameters())
    scheduler = make_scheduler(config, optimizer, steps)
    network, optimizer = fabric.setup(network, optimizer)
    loop = Loop(fabric, network, optimizer, scheduler, FitState())
    if resumed is not None:
        restore(loop, resumed[1], fingerprint, resumed[0])
    validation_loader = fabric.setup_dataloaders(
        evaluation_loader(data.validation, config.batch_size, task_object.collate),
        use_distributed_sampler=False,
    )
    callbacks = _callbacks(config, task_object, data, network, directory, fingerprint)
    if progress:
        summary = task_object.data_summary()
        callbacks.append(ProgressBar(config.epochs, steps, data=summary))
    started = time.perf_counter()
    fit(
        loop,
        training_batches,
        validation_loader,
        task_object.loss,
        config.epochs,
        config.clip_grad_norm,
        callbacks,
        config.tbptt_steps,
    )
    train_seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {}
    if fabric.is_global_zero:
        model = getattr(network, "module", network)
        load_model_weights(model, checkpoint_path(directory / "checkpoints", loop.state.best_epoch))
        metrics = finish_run(directory, config, task_object, model, data, loop.state, train_seconds)
        metrics["device"] = str(fabric.device)
        metrics["processes"] = fabric.world_size
        write_json(directory / "metrics.json", metrics)
    fabric.barrier()
    return Run(directory, config, metrics)


def _build(config: TrainConfig, task: Task, fabric: Fabric) -> tuple[TaskData, nn.Module]:
    """The task's data and the model, seeded: everything that can still refuse the
    configuration (an option value, a model that does not take the task's input, truncated
    BPTT for a task or model that cannot have it), run before the run directory is made, so
    that a run that fails to start leaves nothing behind."""
    if config.tbptt_steps is not None:
        check_task_per_step(task)
    fabric.seed_everything(config.seed, verbose=False)
    data = task.build_data(config.seed)
    torch.manual_seed(config.seed)
    network = create(config.model, **task.model_arguments(), **config.model_options)
    if config.finetune is not None:
        load_backbone(network, Path(config.finetune))
    if config.freeze == "backbone":
        freeze_backbone(network)
    if config.gradient_flow_every is not None and not recurrent_modules(network):
        raise InvalidValueError(
            "invalid value for argument `gradient_flow_every`: gradient flow through time needs "
            f"a recurrent model, and {config.model!r} has no convrec RNN, LSTM or GRU layer"
        )
    if config.tbptt_steps is not None:
        check_model_advances(network, config.model)
    if config.deterministic:
        warn_nondeterministic_dropout(network, fabric.device)
    if config.channels_last:
        network = to_channels_last(network, fabric.device)
    return data, network


def _callbacks(
    config: TrainConfig,
    task: Task,
    data: TaskData,
    network: nn.Module,
    directory: Path,
    fingerprint: dict[str, Any],
) -> list[Callback]:
    """What runs after each epoch: the task's metric on the validation split, ``history.csv``,
    the checkpoint, and the options' extras (early stopping, frozen backbone, gradient flow,
    TensorBoard)."""
    callbacks: list[Callback] = []
    if task.curve_metric is not None:
        callbacks.append(ValidationMetric(task, data.validation, task.curve_metric))
    callbacks += [
        HistoryWriter(directory / "history.csv"),
        Checkpointing(directory / "checkpoints", fingerprint),
    ]
    if config.patience is not None:
        callbacks.append(EarlyStopping(config.patience))
    if config.freeze == "backbone":
        callbacks.append(FreezeBackbone())
    if config.gradient_flow_every is not None:
        device = next(network.parameters()).device
        batch = example_batch(task, data.validation, config.batch_size, device)
        callbacks.append(
            GradientFlowMonitor(batch, task.loss, config.gradient_flow_every, directory)
        )
    if config.logger == "tensorboard":
        callbacks.append(TensorBoardLogging(directory))
    return callbacks


def _fingerprint(config: TrainConfig, task: Task) -> dict[str, Any]:
    """What a resumed run must share with its checkpoints: the task, its options and the data it
    built (the SHA-256 of its normalisation or vocabulary), the model and its options, the seed,
    the batch size and how batches are formed, and the optimizer's settings
    (:func:`~convrec.train.rundir.settings_fingerprint`). Others (``epochs``, ``patience``, the
    schedule) may change on resume."""
    task_state = json.dumps(task.state(), sort_keys=True).encode()
    return settings_fingerprint(config) | {
        "task_state_sha256": hashlib.sha256(task_state).hexdigest()
    }
