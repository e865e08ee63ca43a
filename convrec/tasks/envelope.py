"""The training envelope: the range of each raw input feature the model was trained on.

A task stores the envelope of its raw training inputs with its state (``model.json``) and, at
prediction time, warns with :class:`OutOfDistributionWarning` where an input leaves it. The
warning gives the feature and the extrapolation ratio, how far beyond the envelope the value
lies in units of the envelope's width: 0.5 is half the training range past its edge.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class OutOfDistributionWarning(UserWarning):
    """An input lies outside the range of the data the model was trained on."""


@dataclass(frozen=True)
class Envelope:
    """Per-feature minimum and maximum of the training inputs.

    Shape:
        low, high: ``(F,)``, one per name in ``columns``.
    """

    columns: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, columns: Sequence[str], raw: np.ndarray) -> Envelope:
        """The envelope of ``raw`` ``(..., F)``, its last axis holding ``columns``."""
        flat = raw.reshape(-1, raw.shape[-1])  # (N * T, F)
        return cls(tuple(columns), flat.min(axis=0), flat.max(axis=0))

    def state(self) -> dict[str, Any]:
        """JSON-serialisable: ``{column: [low, high]}``."""
        return {
            column: [float(low), float(high)]
            for column, low, high in zip(self.columns, self.low, self.high, strict=True)
        }

    @classmethod
    def from_state(cls, columns: Sequence[str], state: dict[str, Any] | None) -> Envelope | None:
        """The envelope saved by :meth:`state`; None (unknown) for state saved before it was."""
        if state is None:
            return None
        bounds = np.asarray([state[column] for column in columns], dtype=np.float64)  # (F, 2)
        return cls(tuple(columns), bounds[:, 0], bounds[:, 1])

    def warn_outside(self, owner: str, label: str, sequence: np.ndarray) -> None:
        """Warn once per feature of ``sequence`` ``(T, F)`` that leaves the envelope, at the step
        that lies farthest out."""
        width = np.maximum(self.high - self.low, np.finfo(np.float64).tiny)  # (F,)
        excess = np.maximum(self.low - sequence, sequence - self.high) / width  # (T, F)
        for column in np.flatnonzero((excess > 0).any(axis=0)):
            step = int(np.argmax(excess[:, column]))
            warnings.warn(
                f"{owner}: {label}, feature {self.columns[column]!r} at step {step} is "
                f"{sequence[step, column]:.6g}, outside the training range "
                f"[{self.low[column]:.6g}, {self.high[column]:.6g}] by an extrapolation ratio of "
                f"{excess[step, column]:.3g} (distance beyond the range / its width); the "
                "prediction there is an extrapolation",
                OutOfDistributionWarning,
                stacklevel=3,
            )
