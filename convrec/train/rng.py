"""Every random generator a training run draws from, captured and restored, so that a run resumed
from a checkpoint draws the same numbers (dropout masks, augmentations) as an uninterrupted one.

The state holds torch's CPU generator, the CUDA generator of the run's device when it is a GPU,
Python's ``random`` and NumPy's global generator, all as types that ``torch.load`` reads with
``weights_only=True`` (tensors, tuples, ints, floats, strings). Data order does not depend on
them: the sampler draws from its own generator, seeded by ``seed + epoch``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def random_state(device: torch.device) -> dict[str, Any]:
    """The state of every generator; ``device`` is the run's (its CUDA generator is included)."""
    numpy_state = np.random.get_state(legacy=False)
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": numpy_state["state"]["pos"],
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        },
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_random_state(state: dict[str, Any], device: torch.device) -> None:
    """Set every generator to what :func:`random_state` captured. A CUDA state is restored only
    on a CUDA device (a run moved between CPU and GPU cannot be exact anyway)."""
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    numpy_state = state["numpy"]
    key = numpy_state["key"].numpy().astype(np.uint32)
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": key, "pos": numpy_state["pos"]},
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
