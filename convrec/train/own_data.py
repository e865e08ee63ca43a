"""A user's own data given to :func:`convrec.train` as paths or as arrays.

A run records its data as paths in ``config.yaml`` (``task_options.data``, ``test``,
``validation``), so that it can be repeated and resumed. Paths are made absolute. Arrays are
written once, by content, to ``<data dir>/arrays/<sha256>.npz`` (a pair ``(X, y)``: stacked
series ``(N, T)`` or ``(N, T, C)`` and their labels or targets) or ``.npy`` (one array: a series
to forecast, ``(N,)`` or ``(N, F)``), and the run records that path.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from convrec.errors import InvalidTypeError, InvalidValueError

ROLES = ("data", "test", "validation")


def own_data_options(**given: Any) -> dict[str, str]:
    """Task options for the given ``data``, ``test`` and ``validation`` (None: not given).

    Raises:
        InvalidTypeError: a value that is neither a path, an array nor a pair of arrays.
    """
    return {role: _as_path(role, value) for role, value in given.items() if value is not None}


def _as_path(role: str, value: Any) -> str:
    if isinstance(value, str | os.PathLike):
        return str(Path(value).absolute())
    if isinstance(value, np.ndarray):
        return str(_stored(role, value, None))
    if isinstance(value, tuple) and len(value) == 2:
        inputs, targets = (_array(role, part) for part in value)
        if inputs.dtype.kind in "iuf" and targets.dtype.kind in "iufU":
            if inputs.ndim not in (2, 3) or len(targets) != len(inputs):
                raise InvalidValueError(
                    f"invalid value for argument `{role}`: expected X stacked (N, T) or "
                    f"(N, T, C) and y with one entry per series, got X {inputs.shape} and y "
                    f"{targets.shape}"
                )
            return str(_stored(role, inputs, targets))
    raise InvalidTypeError(
        f"invalid value for argument `{role}`: expected a path, an array (a series to forecast) "
        f"or a pair (X, y) of numbers and labels or targets, got {type(value).__name__}"
    )


def _array(role: str, part: Any) -> np.ndarray:
    try:
        return np.asarray(part)
    except ValueError:  # ragged
        raise InvalidValueError(
            f"invalid value for argument `{role}`: expected arrays of one shape; series of "
            "different lengths go in a .npz with one array per key, or a long CSV"
        ) from None


def _stored(role: str, inputs: np.ndarray, targets: np.ndarray | None) -> Path:
    """The arrays in a file named by their content, written unless it exists."""
    from convrec.data.store import data_dir
    from convrec.files import atomic_write

    if inputs.dtype.kind not in "iuf":
        raise InvalidTypeError(
            f"invalid value for argument `{role}`: expected numbers, got an array of {inputs.dtype}"
        )
    buffer = io.BytesIO()
    if targets is None:
        np.save(buffer, inputs, allow_pickle=False)
    else:
        np.savez(buffer, X=inputs, y=targets)
    content = buffer.getvalue()
    suffix = ".npy" if targets is None else ".npz"
    path = data_dir() / "arrays" / f"{hashlib.sha256(content).hexdigest()}{suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda file: file.write(content))
    return path
