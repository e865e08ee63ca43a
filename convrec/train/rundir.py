"""The run directory: made whole with its ``config.yaml`` or not at all, and cleaned of a killed
run's temporary files before it is resumed."""

from __future__ import annotations

import errno
import itertools
import os
import platform
import shutil
import tempfile
import warnings
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning
import numpy as np
import torch

import convrec
from convrec.errors import InvalidValueError, PathNotFoundError
from convrec.files import TEMPORARY_SUFFIX, fsync_directory, remove_temporaries, write_yaml
from convrec.train.checkpoint import latest_checkpoint
from convrec.train.config import TrainConfig

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


def check_run_directory(directory: Path) -> Path:
    """``directory``, if it is a run directory (it has ``config.yaml``).

    Raises:
        PathNotFoundError: it does not exist.
        InvalidValueError: it is not a folder, or has no ``config.yaml``.
    """
    if not directory.exists():
        raise PathNotFoundError(f"invalid value for argument `resume`: {directory} does not exist")
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
    return {
        "convrec": convrec.__version__,
        "torch": str(torch.__version__),
        "lightning": lightning.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
