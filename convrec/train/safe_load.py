"""Unpickling a checkpoint without running its code.

A checkpoint must be a ``torch.save`` zip archive; anything else (a raw pickle, the legacy
format) is refused unread. The archive's pickle is first scanned for globals outside the
weights-only allowlist (``torch.serialization.get_unsafe_globals_in_checkpoint``), and refused
naming them; then ``torch.load(..., weights_only=True)`` runs exactly once. There is no retry
without ``weights_only``, the fallback that made other loaders exploitable.

Weights-only unpickling is only as safe as the torch that does it: torch before 2.10 has a known
way around it (CVE-2026-24747), so loading a checkpoint there warns with
:class:`VulnerableTorchWarning`; upgrade torch before loading files from others.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import pickletools
import warnings
from pathlib import Path
from typing import Any

import torch
from torch.torch_version import TorchVersion

from convrec.errors import InvalidValueError
from convrec.train.storage import CorruptCheckpointError

ZIP_MAGIC = b"PK\x03\x04"
FIXED_TORCH = (2, 10)  # the first release without the weights-only bypass CVE-2026-24747


class UnsafeCheckpointError(InvalidValueError):
    """A file offered as a checkpoint could run code if unpickled."""


class VulnerableTorchWarning(UserWarning):
    """The installed torch has a known bypass of weights-only unpickling."""


def warn_if_torch_is_vulnerable() -> None:
    """Warn with :class:`VulnerableTorchWarning` if ``torch.__version__`` is below
    :data:`FIXED_TORCH`, whose weights-only unpickling a crafted file can get around."""
    if TorchVersion(str(torch.__version__)) < FIXED_TORCH:
        warnings.warn(
            f"torch {torch.__version__} has a known bypass of weights-only unpickling "
            f"(CVE-2026-24747, fixed in torch {'.'.join(map(str, FIXED_TORCH))}): a crafted "
            "checkpoint could run code when loaded. Load only checkpoints you wrote, or upgrade "
            "torch with pip install 'torch>=2.10'.",
            VulnerableTorchWarning,
            stacklevel=3,
        )


def load_weights_only(data: bytes, source: Path) -> Any:
    """The object pickled in ``data`` (the bytes of ``source``), loaded to the CPU.

    Raises:
        UnsafeCheckpointError: ``data`` is no ``torch.save`` zip archive, or it names a global
            that weights-only loading refuses (the message names it).
        CorruptCheckpointError: the archive cannot be read.

    Warns:
        VulnerableTorchWarning: torch is older than 2.10 (see :func:`warn_if_torch_is_vulnerable`).
    """
    warn_if_torch_is_vulnerable()
    if not data.startswith(ZIP_MAGIC):
        named = _pickle_globals(data)
        raise UnsafeCheckpointError(
            f"{source} is not a torch.save zip archive"
            + (f" but a pickle naming {', '.join(named)}" if named else "")
            + "; convrec unpickles nothing else, since raw pickles and the legacy format can run "
            "code. Use a checkpoint convrec wrote."
        )
    try:
        unsafe = sorted(torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data)))
    except Exception as error:  # a damaged archive or pickle fails in any of many ways
        raise CorruptCheckpointError(
            f"{source} is not a readable torch.save archive: {type(error).__name__}: {error}"
        ) from error
    if unsafe:
        raise UnsafeCheckpointError(
            f"{source} refers to {', '.join(unsafe)}, which weights-only loading does not allow: "
            "unpickling it could run code, so it was not loaded. Use a checkpoint convrec wrote."
        )
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        lines = str(error).strip().splitlines() or ["no reason given"]
        reason = next((line for line in lines if "GLOBAL" in line), lines[-1])
        raise UnsafeCheckpointError(
            f"{source} was refused by weights-only loading ({reason}); it was not loaded"
        ) from None
    except Exception as error:  # a damaged archive or pickle fails in any of many ways
        raise CorruptCheckpointError(
            f"{source} could not be read back: {type(error).__name__}: {error}"
        ) from error


def _pickle_globals(data: bytes) -> list[str]:
    """The globals a raw pickle names (``GLOBAL`` and ``INST`` arguments, and the two strings
    before a ``STACK_GLOBAL``), as far as it parses."""
    named, strings = [], []
    with contextlib.suppress(ValueError):  # the end of what parses
        for opcode, argument, _ in pickletools.genops(data):
            if opcode.name in ("GLOBAL", "INST"):
                named.append(argument.replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                named.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(argument, str):
                strings.append(argument)
    return list(dict.fromkeys(named))
