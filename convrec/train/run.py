"""A run from configuration to files: ``train`` makes a run directory, ``load`` reads one back.

A run directory ``runs/<task>-<date>-<time>/`` holds ``config.yaml``, ``history.csv``,
``checkpoints/epoch-NNNN/`` (the newest two and the best, each committed by its manifest),
``metrics.json``, ``model.safetensors`` with ``model.json``, and PNG plots. It appears with its
``config.yaml`` or not at all, so a run killed at any moment can be resumed: from its newest good
checkpoint, to the same weights, bit for bit on CPU, as if it had never stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import lightning
import numpy as np
import torch
from lightning.fabric import Fabric
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

import convrec
from convrec.data.sampler import BucketBatchSampler
from convrec.data.sequences import collate_padded
from convrec.data.splits import Pairs
from convrec.diagnose.gradient_flow import recurrent_modules
from convrec.diagnose.inspection import example_batch, inspect_model
from convrec.diagnose.plots import plot_learning_curves
from convrec.files import (
    TEMPORARY_SUFFIX,
    fsync_directory,
    remove_temporaries,
    write_json,
    write_yaml,
)
from convrec.models import create, entry
from convrec.tasks import Task, create_task
from convrec.train.callbacks import (
    Checkpointing,
    EarlyStopping,
    FreezeBackbone,
    HistoryWriter,
    ProgressBar,
)
from convrec.train.checkpoint import (
    checkpoint_path,
    latest_checkpoint,
    load_model_weights,
    read_model,
    restore,
    save_model,
)
from convrec.train.config import (
    TrainConfig,
    make_config,
    read_config_file,
    read_config_mapping,
    written_by_a_run,
)
from convrec.train.determinism import make_deterministic, warn_nondeterministic_dropout
from convrec.train.loop import Callback, FitState, Loop, fit
from convrec.train.monitor import GradientFlowMonitor, TensorBoardLogging
from convrec.train.transfer import freeze_backbone, load_backbone


@dataclass
class Run:
    """A finished run: its directory, configuration and final metrics."""

    directory: Path
    config: TrainConfig
    metrics: dict[str, Any]


def resolve_config(
    task: str, model: str | None = None, config_file: str | Path | None = None, **options: Any
) -> TrainConfig:
    """Task defaults, the task's recipe for the chosen model, a config file, then explicit options
    (later ones win; ``model_options`` are merged key by key). A run's own ``config.yaml`` (it
    records ``versions``) is complete, so the first two are left out beneath it: a recipe
    changed since must not alter the run it resumes or repeats.

    Raises:
        ValueError: an unknown task, model or key, a task option the task refuses, or a model
            option the model does not take; all before anything is built or written.
    """
    task_class = type(create_task(task, **options.get("task_options", {})))
    from_file = read_config_mapping(config_file) if config_file is not None else {}
    complete = written_by_a_run(from_file)
    from_file.pop("versions", None)
    explicit = {key: value for key, value in options.items() if value is not None}
    chosen = model or explicit.pop("model", None) or from_file.get("model")
    chosen = chosen or task_class.default_model
    recipe = [task_class.training_defaults, task_class.models.get(chosen, {})]
    layers = [*([] if complete else recipe), from_file, explicit]
    values: dict[str, Any] = {}
    model_options: dict[str, Any] = {}
    for layer in layers:
        values |= layer
        model_options |= layer.get("model_options", {})
    config = make_config(**values | {"task": task, "model": chosen, "model_options": model_options})
    create_task(config.task, **config.task_options)  # refuses unknown or invalid task options
    entry(config.model).check_options(config.model_options)
    return config


def train(
    task: str,
    model: str | None = None,
    *,
    config_file: str | Path | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
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
        progress: show a progress bar.
        **options: any :class:`TrainConfig` key (``epochs``, ``lr``, ``seed``, ...).

    Returns:
        The :class:`Run`, whose ``metrics`` are also in ``metrics.json``.

    Example:
        ``convrec.train("maxwell", model="lstm", epochs=20).metrics["test"]["triangles"]``
    """
    if resume is not None and config_file is not None:
        raise ValueError(
            f"invalid value for argument `config_file`: expected None when resuming (a resumed "
            f"run takes its own config.yaml), got {str(config_file)!r}"
        )
    config = resolve_config(
        task, model, Path(resume) / "config.yaml" if resume else config_file, **options
    )
    make_deterministic(config.deterministic)
    fabric = Fabric(
        accelerator=config.device,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy="ddp" if config.devices * config.num_nodes > 1 else "auto",
        precision=config.precision,
    )
    fabric.launch()
    resumed = None if resume is None else _resume_point(fabric, Path(resume))
    task_object, data, network = _build(config, fabric)
    fingerprint = _fingerprint(config, task_object)
    if resume is not None:
        directory = Path(resume)
    else:  # made once nothing can refuse the run: one for all processes, named by the first
        created = (
            _new_run_directory(Path(config.out), config.task, config)
            if fabric.is_global_zero
            else None
        )
        directory = fabric.broadcast(created)
    optimizer = torch.optim.AdamW(
        network.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config))
    network, optimizer = fabric.setup(network, optimizer)
    loop = Loop(fabric, network, optimizer, scheduler, FitState())
    if resumed is not None:
        restore(loop, resumed[1], fingerprint, resumed[0])
    training_batches = train_loader(
        data.train,
        config.batch_size,
        config.seed,
        task_object.collate,
        fabric.world_size,
        fabric.global_rank,
        config.bucket_by_length,
    )
    validation_loader = fabric.setup_dataloaders(
        evaluation_loader(data.validation, config.batch_size, task_object.collate),
        use_distributed_sampler=False,
    )
    checkpoints = directory / "checkpoints"
    callbacks: list[Callback] = [
        HistoryWriter(directory / "history.csv"),
        Checkpointing(checkpoints, fingerprint),
    ]
    if config.patience is not None:
        callbacks.append(EarlyStopping(config.patience))
    if config.freeze == "backbone":
        callbacks.append(FreezeBackbone())
    if config.gradient_flow_every is not None:
        callbacks.append(_gradient_flow_monitor(config, task_object, data, network, directory))
    if config.logger == "tensorboard":
        callbacks.append(TensorBoardLogging(directory))
    if progress:
        callbacks.append(ProgressBar(config.epochs, len(training_batches)))
    started = time.perf_counter()
    fit(
        loop,
        training_batches,
        validation_loader,
        task_object.loss,
        config.epochs,
        config.clip_grad_norm,
        callbacks,
    )
    train_seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {}
    if fabric.is_global_zero:
        model = _unwrapped(network)
        load_model_weights(model, checkpoint_path(checkpoints, loop.state.best_epoch))
        metrics = _finish(directory, config, task_object, model, data, loop.state, train_seconds)
        metrics["device"] = str(fabric.device)
        metrics["processes"] = fabric.world_size
        write_json(directory / "metrics.json", metrics)
    fabric.barrier()
    return Run(directory, config, metrics)


def _build(config: TrainConfig, fabric: Fabric) -> tuple[Task, Any, nn.Module]:
    """The task, its data and the model, seeded: everything that can still refuse the
    configuration (an option value, a model that does not take the task's input), run before
    the run directory is made, so that a run that fails to start leaves nothing behind."""
    fabric.seed_everything(config.seed, verbose=False)
    task = create_task(config.task, **config.task_options)
    data = task.build_data(config.seed)
    torch.manual_seed(config.seed)
    network = create(config.model, **task.model_arguments(), **config.model_options)
    if config.finetune is not None:
        load_backbone(network, Path(config.finetune))
    if config.freeze == "backbone":
        freeze_backbone(network)
    if config.gradient_flow_every is not None and not recurrent_modules(network):
        raise ValueError(
            "invalid value for argument `gradient_flow_every`: gradient flow through time needs "
            f"a recurrent model, and {config.model!r} has no convrec RNN, LSTM or GRU layer"
        )
    if config.deterministic:
        warn_nondeterministic_dropout(network, fabric.device)
    return task, data, network


def _finish(
    directory: Path,
    config: TrainConfig,
    task: Task,
    model: nn.Module,
    data: Any,
    state: FitState,
    train_seconds: float,
) -> dict[str, Any]:
    """Evaluate the best weights, export the model, draw the plots; return the metrics."""
    model.eval()
    save_model(
        directory,
        model,
        {
            "task": config.task,
            "task_options": config.task_options,
            "task_state": task.state(),
            "model": config.model,
            "model_options": config.model_options,
            "model_arguments": task.model_arguments(),
            "input_columns": list(task.input_columns),
            "output_columns": list(task.output_columns),
        },
    )
    plot_learning_curves(state.history, directory / "learning_curves.png")
    task.plot(model, data, directory)
    inspect_model(model, task, next(iter(data.tests.values())), directory)
    return {
        "task": config.task,
        "model": config.model,
        "epochs": state.epoch,
        "best_epoch": state.best_epoch,
        "validation_loss": state.best_loss,
        "train_seconds": round(train_seconds, 2),
        "test": {name: task.evaluate(model, dataset) for name, dataset in data.tests.items()},
    }


@dataclass
class TrainedModel:
    """A model read back from a run directory, with its task (for input features)."""

    model: nn.Module
    task: Task
    description: dict[str, Any]

    def predict(self, sequences: list[np.ndarray]) -> list[np.ndarray]:
        """Predictions for raw input sequences, each ``(T_i, len(input_columns))``."""
        return self.task.predict(self.model, sequences)


def load(run_dir: str | Path) -> TrainedModel:
    """Read ``model.safetensors`` and ``model.json`` of a run; nothing is unpickled."""
    weights, description = read_model(Path(run_dir))
    task = create_task(description["task"], **description["task_options"])
    task.load_state(description["task_state"])
    model = create(
        description["model"], **description["model_arguments"], **description["model_options"]
    )
    model.load_state_dict(weights)
    return TrainedModel(model.eval(), task, description)


def evaluate(run_dir: str | Path) -> dict[str, dict[str, float]]:
    """Metrics of a run's model on its task's test sets, rebuilt from the run's seed."""
    trained = load(run_dir)
    config = read_config_file(Path(run_dir) / "config.yaml")
    data = trained.task.build_data(config["seed"])
    return {
        name: trained.task.evaluate(trained.model, dataset) for name, dataset in data.tests.items()
    }


def _schedule(config: TrainConfig) -> Any:
    """Learning-rate factor per epoch: linear warm-up, then cosine decay to 1/100, or constant."""

    def factor(epoch: int) -> float:
        if epoch < config.warmup_epochs:
            return (epoch + 1) / config.warmup_epochs
        if config.schedule == "constant":
            return 1.0
        progress = (epoch - config.warmup_epochs) / max(1, config.epochs - config.warmup_epochs)
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


def train_loader(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    collate: Callable = collate_padded,
    world_size: int = 1,
    rank: int = 0,
    bucket_by_length: bool = False,
) -> DataLoader:
    """Shuffled by ``seed + epoch`` (call :func:`~convrec.train.loop.set_epoch`); each of
    ``world_size`` processes takes every ``world_size``-th sample of that order and
    ``batch_size / world_size`` per step, so together they see the single-process batches.
    ``bucket_by_length`` batches sequences of similar length (:class:`BucketBatchSampler`),
    which cuts the padding of long-tailed lengths; with several processes a pool's last, short
    batch is then shared unevenly, or skipped when it has fewer samples than processes."""
    if bucket_by_length:
        batches = BucketBatchSampler(
            sequence_lengths(dataset), batch_size, seed=seed, num_replicas=world_size, rank=rank
        )
        return DataLoader(dataset, batch_sampler=batches, collate_fn=collate)
    sampler = DistributedSampler(
        dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed
    )
    return DataLoader(
        dataset, batch_size=batch_size // world_size, sampler=sampler, collate_fn=collate
    )


def sequence_lengths(dataset: Dataset) -> list[int]:
    """The length (first axis) of each input of ``dataset``."""
    if isinstance(dataset, Pairs):
        return [len(item) for item in dataset.inputs]
    return [len(dataset[index][0]) for index in range(len(dataset))]


def evaluation_loader(
    dataset: Dataset, batch_size: int, collate: Callable = collate_padded
) -> DataLoader:
    """In order; with its own generator, so evaluating never moves the global random state
    (dropout masks in training stay those of an uninterrupted loop)."""
    return DataLoader(
        dataset, batch_size=batch_size, collate_fn=collate, generator=torch.Generator()
    )


def _gradient_flow_monitor(
    config: TrainConfig, task: Task, data: Any, network: nn.Module, directory: Path
) -> GradientFlowMonitor:
    device = next(network.parameters()).device
    batch = example_batch(task, data.validation, config.batch_size, device)
    return GradientFlowMonitor(batch, task.loss, config.gradient_flow_every, directory)


def _unwrapped(module: nn.Module) -> nn.Module:
    return getattr(module, "module", module)


def _new_run_directory(out: Path, task: str, config: TrainConfig) -> Path:
    """``out/<task>-<date>-<time>/`` with ``config.yaml`` and an empty ``checkpoints/``, built
    under a temporary name and renamed, so that it never exists without its configuration."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    temporary = Path(tempfile.mkdtemp(dir=out, prefix=f".{task}-{stamp}.", suffix=TEMPORARY_SUFFIX))
    write_yaml(temporary / "config.yaml", {**config.model_dump(), "versions": _versions()})
    (temporary / "checkpoints").mkdir()
    directory = out / f"{task}-{stamp}"
    suffix = 1
    while directory.exists():
        suffix += 1
        directory = out / f"{task}-{stamp}-{suffix}"
    os.rename(temporary, directory)
    fsync_directory(out)
    return directory


def _resume_point(fabric: Fabric, directory: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest good checkpoint of the run in ``directory``, after removing the temporary
    files a killed run left there; None, with a warning, if it has none (the run starts over)."""
    if not (directory / "config.yaml").is_file():
        raise ValueError(
            f"invalid value for argument `resume`: expected a convrec run directory, got "
            f"{directory}, which has no config.yaml"
        )
    if fabric.is_global_zero:
        remove_temporaries(directory)
        remove_temporaries(directory / "checkpoints")
    fabric.barrier()
    found = latest_checkpoint(directory / "checkpoints")
    if found is None:
        warnings.warn(
            f"{directory} has no committed checkpoint to resume from; the run starts over "
            "from epoch 0",
            RuntimeWarning,
            stacklevel=3,
        )
    return found


def _fingerprint(config: TrainConfig, task: Task) -> dict[str, Any]:
    """What a resumed run must share with its checkpoints: the task, its options and the data it
    built (the SHA-256 of its normalisation or vocabulary), the model and its options, the seed,
    the batch size and how batches are formed, and the optimizer's settings. Others (``epochs``,
    ``patience``, the schedule) may change on resume."""
    task_state = json.dumps(task.state(), sort_keys=True).encode()
    # Named only when set, so that runs from before the option still resume.
    batching = {"bucket_by_length": True} if config.bucket_by_length else {}
    return batching | {
        "task": config.task,
        "task_options": config.task_options,
        "task_state_sha256": hashlib.sha256(task_state).hexdigest(),
        "model": config.model,
        "model_options": config.model_options,
        "seed": config.seed,
        "batch_size": config.batch_size,
        "lr": config.lr,
        "weight_decay": config.weight_decay,
    }


def _versions() -> dict[str, str]:
    return {
        "convrec": convrec.__version__,
        "torch": str(torch.__version__),
        "lightning": lightning.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
