"""Checkpoints: everything to resume a run exactly.

A run's ``checkpoints/`` holds one folder per epoch, ``epoch-0007/``, with ``state.pt`` and a
``manifest.json`` committed last (:mod:`convrec.train.storage`). ``state.pt`` holds the model,
optimizer and scheduler state, the loop's :class:`~convrec.train.loop.FitState`, every random
generator (:mod:`convrec.train.rng`) and the run's fingerprint: the configuration a resume must
match. A checkpoint is read only after its manifest checks out, and unpickled only with
``weights_only=True`` (:mod:`convrec.train.safe_load`); a checkpoint holding a non-finite tensor
is never written.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from convrec.errors import InvalidValueError
from convrec.train.loop import Loop, TrainingDivergedError
from convrec.train.rng import random_state, restore_random_state
from convrec.train.safe_load import load_weights_only
from convrec.train.storage import (
    MANIFEST,
    CorruptCheckpointError,
    commit,
    discard,
    read_committed,
)

STATE = "state.pt"
KEYS = ("model", "optimizer", "scheduler", "fit", "rng", "fingerprint")
_EPOCH_FOLDER = re.compile(r"epoch-(\d+)")


class IncompatibleCheckpointError(InvalidValueError):
    """A checkpoint belongs to another run: another task, data, model or seed."""


def checkpoint_path(directory: Path, epoch: int) -> Path:
    """The checkpoint folder of ``epoch`` in a run's ``checkpoints/`` folder."""
    return directory / f"epoch-{epoch:04d}"


def save_checkpoint(loop: Loop, path: Path, fingerprint: Mapping[str, Any] | None = None) -> Path:
    """Commit everything a resume needs as the checkpoint folder ``path``.

    Args:
        loop: the training loop.
        path: the folder to create, e.g. ``checkpoint_path(directory, loop.state.epoch)``.
        fingerprint: what a run resuming from it must share (see :func:`load_checkpoint`).

    Raises:
        TrainingDivergedError: a tensor to save is NaN or infinite; nothing is written.
    """
    model = getattr(loop.model, "module", loop.model)
    state = {
        "model": model.state_dict(),
        "optimizer": loop.optimizer.state_dict(),
        "scheduler": loop.scheduler.state_dict(),
        "fit": loop.state.state_dict(),
        "rng": random_state(loop.fabric.device),
        "fingerprint": plain(fingerprint or {}),
    }
    for name, tensor in _tensors(state, ""):
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise TrainingDivergedError(
                f"`{name}` holds NaN or infinite values after epoch {loop.state.epoch} (step "
                f"{loop.state.step}), so {path} was not written; the last good checkpoint is kept."
            )
    if loop.fabric.is_global_zero:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        commit(path, {STATE: buffer.getvalue()})
    loop.fabric.barrier()
    return path


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The state a checkpoint folder holds, its manifest checked and nothing but tensors and
    plain values unpickled.

    Raises:
        CorruptCheckpointError: uncommitted, truncated or damaged (or not a convrec checkpoint).
        UnsafeCheckpointError: it could run code if unpickled.
    """
    files = read_committed(path)
    if STATE not in files:
        raise CorruptCheckpointError(
            f"{path / MANIFEST} lists no {STATE}: it is no convrec checkpoint"
        )
    state = load_weights_only(files[STATE], path / STATE)
    if not isinstance(state, dict) or set(KEYS) - state.keys():
        found = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise CorruptCheckpointError(
            f"{path / STATE} is no convrec checkpoint: expected the keys {list(KEYS)}, got {found}"
        )
    return state


def load_checkpoint(loop: Loop, path: Path, fingerprint: Mapping[str, Any] | None = None) -> None:
    """Restore everything :func:`save_checkpoint` wrote into ``loop``.

    Raises:
        IncompatibleCheckpointError: ``fingerprint`` differs from the checkpoint's (the message
            names each difference), or the model or optimizer does not fit.
        CorruptCheckpointError, UnsafeCheckpointError: as :func:`read_checkpoint`.
    """
    restore(loop, read_checkpoint(path), fingerprint, path)


def restore(
    loop: Loop, state: dict[str, Any], fingerprint: Mapping[str, Any] | None, source: Path
) -> None:
    """Put a checkpoint's ``state`` (from :func:`read_checkpoint` of ``source``) into ``loop``."""
    if fingerprint is not None:
        differences = list(setting_differences(state["fingerprint"], plain(fingerprint), ""))
        if differences:
            raise IncompatibleCheckpointError(
                f"cannot resume from {source}: it was written by another run; "
                + "; ".join(differences)
                + ". Resume with the run's own configuration, or start a new run."
            )
    model = getattr(loop.model, "module", loop.model)
    _require_fit(model, state["model"], source)
    try:
        loop.optimizer.load_state_dict(state["optimizer"])  # checks the groups before loading
    except (ValueError, KeyError) as error:
        raise IncompatibleCheckpointError(
            f"cannot resume from {source}: its optimizer state does not fit this optimizer "
            f"({error})"
        ) from None
    model.load_state_dict(state["model"])
    loop.scheduler.load_state_dict(state["scheduler"])
    loop.state.load_state_dict(state["fit"])
    # Runs saved before the schedule moved to every step counted epochs; carry on per step.
    loop.scheduler.last_epoch = loop.state.step
    restore_random_state(state["rng"], loop.fabric.device)


def latest_checkpoint(directory: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint folder in ``directory`` that reads back whole, with its state; None
    if there is none. Each newer one that does not (a write interrupted, a file damaged) is
    skipped with a ``RuntimeWarning`` naming what is wrong."""
    for path in checkpoint_folders(directory):
        try:
            return path, read_checkpoint(path)
        except CorruptCheckpointError as error:
            warnings.warn(f"skipping checkpoint {path.name}: {error}", RuntimeWarning, stacklevel=2)
    return None


def checkpoint_folders(directory: Path) -> list[Path]:
    """The ``epoch-NNNN`` folders in ``directory``, committed or not, newest first."""
    if not directory.is_dir():
        return []
    folders = [
        path for path in directory.iterdir() if _EPOCH_FOLDER.fullmatch(path.name) and path.is_dir()
    ]
    return sorted(folders, key=lambda path: int(path.name.split("-")[1]), reverse=True)


def prune(directory: Path, keep_last: int, best_epoch: int) -> None:
    """Delete every checkpoint folder but the newest ``keep_last`` and that of ``best_epoch``.

    Call it after committing a checkpoint: the newest good one is never deleted before its
    successor is in place, and with ``keep_last >= 2`` the one before survives too, to fall
    back on should the newest be damaged later.
    """
    keep = {*checkpoint_folders(directory)[:keep_last], checkpoint_path(directory, best_epoch)}
    for path in checkpoint_folders(directory):
        if path not in keep:
            discard(path)


def load_model_weights(model: nn.Module, path: Path) -> None:
    """Load only the model's weights from a checkpoint folder (e.g. the best epoch's)."""
    weights = read_checkpoint(path)["model"]
    _require_fit(model, weights, path)
    model.load_state_dict(weights)


def _require_fit(model: nn.Module, weights: Mapping[str, torch.Tensor], source: Path) -> None:
    """Raise :class:`IncompatibleCheckpointError`, before anything is loaded, unless ``weights``
    has exactly the tensor names and shapes of ``model``'s state."""
    expected = {name: tuple(value.shape) for name, value in model.state_dict().items()}
    found = {name: tuple(value.shape) for name, value in weights.items()}
    differences = [
        f"`{name}` is {found.get(name, 'absent')} in the checkpoint, "
        f"{expected.get(name, 'absent')} in this model"
        for name in sorted(expected.keys() | found.keys())
        if expected.get(name) != found.get(name)
    ]
    if differences:
        raise IncompatibleCheckpointError(
            f"the weights in {source} do not fit this model: {'; '.join(differences[:3])}"
            + (f" (and {len(differences) - 3} more)" if len(differences) > 3 else "")
        )


def _tensors(value: Any, name: str) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor in nested dicts, lists and tuples, with its dotted name."""
    if isinstance(value, torch.Tensor):
        yield name, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _tensors(item, f"{name}.{key}" if name else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _tensors(item, f"{name}.{index}")


def plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples become lists), as a checkpoint stores it."""
    return json.loads(json.dumps(value, sort_keys=True))


def setting_differences(
    saved: Any, current: Any, name: str = "", saved_in: str = "the checkpoint"
) -> Iterator[str]:
    """Each key where two nested fingerprints differ, e.g. "`model_options.hidden_size` is 8 in
    the checkpoint, 16 in this run" (both compared as JSON gives them back)."""
    saved, current = plain(saved), plain(current)
    if isinstance(saved, dict) and isinstance(current, dict):
        for key in sorted(saved.keys() | current.keys()):
            path = f"{name}.{key}" if name else key
            if key not in saved or key not in current:
                where = "this run" if key in current else saved_in
                yield f"`{path}` is set only in {where}"
            else:
                yield from setting_differences(saved[key], current[key], path, saved_in)
    elif saved != current:
        yield f"`{name}` is {saved!r} in {saved_in}, {current!r} in this run"
