"""The run directory: made whole with its ``config.yaml`` or not at all, and cleaned of a killed
run's temporary files before it is resumed."""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import platform
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

import convrec
from convrec.errors import InvalidValueError, PathNotFoundError, UnavailableError
from convrec.files import TEMPORARY_SUFFIX, fsync_directory, remove_temporaries, write_yaml
from convrec.run_files import check_tree
from convrec.train.checkpoint import (
    IncompatibleCheckpointError,
    latest_checkpoint,
    setting_differences,
)
from convrec.train.config import TrainConfig, make_config, read_config_file

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

if TYPE_CHECKING:
    from lightning.fabric import Fabric


def new_run_directory(out: Path, task: str, config: TrainConfig) -> Path:
    """``out/<task>-<date>-<time>/`` with ``config.yaml`` and an empty ``checkpoints/``, built
    under a temporary name and renamed, so that it never exists without its configuration. Runs
    started in the same second take the suffixes ``-2``, ``-3``, ...: the rename itself decides
    which name a process gets, so concurrent starts never collide."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    temporary = Path(tempfile.mkdtemp(dir=out, prefix=f".{task}-{stamp}.", suffix=TEMPORARY_SUFFIX))
    try:
        write_yaml(temporary / "config.yaml", {**config.model_dump(), "versions": versions()})
        (temporary / "checkpoints").mkdir()
        for suffix in itertools.count(1):
            directory = out / (f"{task}-{stamp}" if suffix == 1 else f"{task}-{stamp}-{suffix}")
            try:
                os.rename(temporary, directory)  # onto an existing non-empty folder: an error
                break
            except OSError as error:
                if error.errno not in (errno.EEXIST, errno.ENOTEMPTY) and not directory.exists():
                    raise
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    fsync_directory(out)
    return directory


LOCK = ".lock"
"""The file in a run directory that a writer holds an exclusive lock on."""


class RunLockedError(UnavailableError):
    """Another process is writing into the run directory (training, resuming, a report)."""


@contextlib.contextmanager
def run_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on the run ``directory`` while the block runs: one writer at a
    time. The lock is the operating system's (``flock`` on ``RUN/.lock``), so it is released on
    any exit of the process, a kill included; the file holds the holder's process id.

    Raises:
        RunLockedError: another process holds it; the message names that process.
    """
    if fcntl is None:  # no flock (Windows): nothing to hold
        yield
        return
    path = directory / LOCK
    handle = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 200, 0).decode(errors="replace").strip() or "unknown"
            raise RunLockedError(
                f"{directory} is in use by another convrec process ({holder}); wait for it to "
                "end, or stop it, before writing into this run"
            ) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"process {os.getpid()}: {' '.join(sys.argv)[:150]}".encode(), 0)
        yield
    finally:
        os.close(handle)  # releases the lock


def check_run_directory(directory: Path) -> Path:
    """``directory``, if it is a run directory (it has ``config.yaml``) holding nothing but
    regular files and folders.

    Raises:
        PathNotFoundError: it does not exist.
        InvalidValueError: it is not a folder, has no ``config.yaml``, or holds a link or a
            special file (:func:`convrec.run_files.check_tree`).
    """
    if not directory.exists():
        raise PathNotFoundError(f"invalid value for argument `resume`: {directory} does not exist")
    check_tree(directory)
    if not (directory / "config.yaml").is_file():
        raise InvalidValueError(
            f"invalid value for argument `resume`: expected a convrec run directory, got "
            f"{directory}, which has no config.yaml"
        )
    return directory


def resume_point(fabric: Fabric, directory: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest good checkpoint of the run in ``directory``, after removing the temporary
    files a killed run left there; None, with a warning, if it has none (the run starts over)."""
    check_run_directory(directory)
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


def versions() -> dict[str, str]:
    """The versions of convrec, PyTorch, Lightning, NumPy and Python, for ``config.yaml``."""
    import lightning

    return {
        "convrec": convrec.__version__,
        "torch": str(torch.__version__),
        "lightning": lightning.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def settings_fingerprint(config: TrainConfig) -> dict[str, Any]:
    """The settings a resumed run must keep: the task and its options, the model and its
    options, the seed, the batch size and how batches are formed (and cut into windows of
    ``tbptt_steps``), and the optimizer's settings (the options that came later are named only
    when set, so that older runs still resume)."""
    batching = {"bucket_by_length": True} if config.bucket_by_length else {}
    if config.tbptt_steps is not None:
        batching |= {"tbptt_steps": config.tbptt_steps}
    optimizer = (
        {"optimizer": config.optimizer, "momentum": config.momentum}
        if config.optimizer != "adamw"
        else {}
    )
    return (
        batching
        | optimizer
        | {
            "task": config.task,
            "task_options": config.task_options,
            "model": config.model,
            "model_options": config.model_options,
            "seed": config.seed,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "weight_decay": config.weight_decay,
        }
    )


def check_unchanged_settings(directory: Path, config: TrainConfig) -> None:
    """Refuse to resume a run that has no checkpoint yet (killed in its first epoch) with
    settings its ``config.yaml`` does not hold, as a checkpoint's fingerprint would.

    Raises:
        IncompatibleCheckpointError: the settings differ; the message names each difference.
    """
    saved = make_config(**read_config_file(directory / "config.yaml"))
    differences = list(
        setting_differences(
            settings_fingerprint(saved), settings_fingerprint(config), saved_in="config.yaml"
        )
    )
    if differences:
        raise IncompatibleCheckpointError(
            f"cannot resume {directory} with other settings than its config.yaml (it has no "
            f"checkpoint yet): {'; '.join(differences)}. Resume with the run's own settings, "
            "or start a new run."
        )


def check_output_folder(out: Path) -> None:
    """Make sure run directories can be made in ``out`` before anything is built (nothing is
    created: a run that fails to start leaves no trace).

    Raises:
        InvalidValueError: ``out``, or a folder above it, is a file.
        UnavailableError: the nearest existing folder cannot be written into.
    """
    existing = next(path for path in (out.absolute(), *out.absolute().parents) if path.exists())
    if not existing.is_dir():
        raise InvalidValueError(
            f"invalid value for option `out`: expected a folder for run directories, got "
            f"{out}, {'which is' if existing == out.absolute() else 'inside'} the file {existing}"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UnavailableError(
            f"invalid value for option `out`: cannot write into {existing} (permission denied or "
            "a read-only file system)"
        )
