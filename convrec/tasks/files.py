"""Classification on a user's own files: what the kinds (``series``, ``images``) share.

A kind reads labelled inputs from a file or folder (:meth:`FileClassification.read_labelled`);
this base learns the classes from the training labels (in natural order), refuses a test or
validation set with labels never seen in training, holds out seeded stratified
``test_split`` and ``validation_split`` where no file is given, summarises the splits
(:meth:`data_summary`, printed and written to ``data.json``), and reads new labelled files for
``convrec evaluate RUN --data PATH`` the way training read them.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from convrec.checks import fail
from convrec.data.splits import LazyInputs, Pairs, Splits, holdout, natural_key
from convrec.errors import InvalidValueError, PathNotFoundError
from convrec.tasks.classification import Classification
from convrec.tasks.dataset import standardised

ROLES = ("data", "validation", "test")
SPLIT_NAMES = {"data": "train", "validation": "validation", "test": "test"}


def float_tensor(array: np.ndarray) -> Tensor:
    """``array`` as a float32 tensor."""
    return torch.from_numpy(np.asarray(array, np.float32))


def split_fraction(task: str, argument: str, value: object) -> float:
    """``value`` if it is a fraction in (0, 1), else a clear error naming ``argument``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise fail(task, argument, "a fraction in (0, 1)", repr(value))
    return float(value)


def require_paths(task: str, paths: dict[str, str | None], what: str) -> None:
    """Refuse a given path (``paths``: role to path) that does not exist. Called when the data
    is read, not when the task is built: a trained run loads without its training files."""
    for role, path in paths.items():
        if path is not None and not Path(path).exists():
            raise PathNotFoundError(
                f"{task}: invalid value for argument `{role}`: expected {what}, got {path} "
                "(no such file or folder)"
            )


def natural_order(labels: set[str]) -> tuple[str, ...]:
    """Class names sorted as a person would: ``2`` before ``10``, then text."""
    return tuple(sorted(labels, key=natural_key))


class FileClassification(Classification):
    """A classifier on the user's own files.

    Args:
        data: the labelled inputs to learn from (a file or folder, as the kind reads them).
        test: labelled inputs to test on (default: ``test_split`` of ``data``).
        validation: labelled inputs to choose the epoch on (default: ``validation_split`` of
            what ``data`` leaves).
        validation_split, test_split: the fractions held out, by class, when no path is given.
    """

    items: ClassVar[str] = "items"
    """What one input is called in messages (``series``, ``images``)."""

    def __init__(
        self,
        data: str | None = None,
        test: str | None = None,
        validation: str | None = None,
        validation_split: float = 0.2,
        test_split: float = 0.2,
    ) -> None:
        super().__init__()
        self.paths = {"data": data, "test": test, "validation": validation}
        self.fractions = {
            "validation": split_fraction(self.name, "validation_split", validation_split),
            "test": split_fraction(self.name, "test_split", test_split),
        }
        self.summary: dict[str, Any] | None = None

    @abstractmethod
    def read_labelled(self, path: str | Path, role: str) -> tuple[list[np.ndarray], list[str]]:
        """The raw inputs at ``path`` and their labels; ``role`` is ``'data'``, ``'test'``,
        ``'validation'`` or ``'evaluation'`` (the training data, read first, sets the layout
        the others must share)."""

    @abstractmethod
    def prediction_inputs(self, path: str | Path) -> tuple[list[str], list[np.ndarray]]:
        """Names and raw inputs (as :meth:`Task.predict` takes them) of unlabelled ``path``."""

    def as_pairs(self, inputs: list[np.ndarray] | LazyInputs, targets: Tensor) -> Pairs:
        """Model-ready pairs of raw inputs (float32 tensors, lazy if the inputs are; kinds may
        stack them)."""
        if isinstance(inputs, LazyInputs):
            return Pairs(inputs.map(float_tensor), targets)
        return Pairs([float_tensor(item) for item in inputs], targets)

    def splits_info(self) -> dict[str, Any]:
        """What :attr:`Splits.info` holds for this kind."""
        return {}

    def load_splits(self, seed: int) -> Splits:
        if self.paths["data"] is None:
            raise fail(self.name, "data", f"labelled {self.items} (--data PATH)", "none")
        require_paths(self.name, self.paths, f"labelled {self.items}")
        raw = {role: self.read_labelled(path, role) for role, path in self.paths.items() if path}
        _, labels = raw["data"]
        self.classes = natural_order(set(labels))
        if len(self.classes) < 2:
            raise InvalidValueError(
                f"{self.name}: expected at least two classes in {self.paths['data']}, got only "
                f"{self.classes[0]!r}; a classifier needs something to tell apart"
            )
        pairs = {role: self._pairs(*raw[role], role) for role in raw}
        for role in ("test", "validation"):
            if role not in pairs:
                pairs["data"], pairs[role] = self._hold_out(pairs["data"], role, seed)
        self.summary = self._summarise(pairs)
        lengths = set()
        for split in pairs.values():
            if isinstance(split.inputs, list):
                lengths |= {len(item) for item in split.inputs}
            elif isinstance(split.inputs, LazyInputs) and split.inputs.lengths is not None:
                lengths |= set(split.inputs.lengths)
        return Splits(
            self.name,
            pairs["data"],
            pairs["validation"],
            pairs["test"],
            self.classes,
            info=self.splits_info(),
            variable_length=len(lengths) > 1,
        )

    def _pairs(self, inputs: list[np.ndarray], labels: list[str], role: str) -> Pairs:
        index = {label: position for position, label in enumerate(self.classes)}
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise InvalidValueError(
                f"{self.name}: the {role} {self.items} have labels never seen in training: "
                f"{', '.join(map(repr, unknown[:5]))}; the classes are "
                f"{', '.join(map(repr, self.classes))}"
            )
        return self.as_pairs(inputs, torch.tensor([index[label] for label in labels]))

    def _hold_out(self, pairs: Pairs, role: str, seed: int) -> tuple[Pairs, Pairs]:
        labels = pairs.targets.numpy()
        counts = Counter(labels.tolist())
        scarce = [self.classes[label] for label, count in sorted(counts.items()) if count < 2]
        if scarce:
            raise InvalidValueError(
                f"{self.name}: the class {scarce[0]!r} has only one of the {self.items}, too few "
                f"to hold out a {role} split by class; add more, or give a --{role} path"
            )
        kept, held = holdout(labels, self.fractions[role], seed + (role == "validation"))
        return pairs.subset(kept), pairs.subset(held)

    def _summarise(self, pairs: dict[str, Pairs]) -> dict[str, Any]:
        counts = {SPLIT_NAMES[role]: Counter(pairs[role].targets.tolist()) for role in ROLES}
        train = [counts["train"].get(label, 0) for label in range(len(self.classes))]
        return {
            "sizes": {split: sum(count.values()) for split, count in counts.items()},
            "classes": {
                name: {split: count.get(label, 0) for split, count in counts.items()}
                for label, name in enumerate(self.classes)
            },
            "imbalance": max(train) / max(1, min(train)),
            **self.splits_info(),
        }

    def data_summary(self) -> dict[str, Any] | None:
        return self.summary

    def labelled_data(self, path: str | Path) -> Pairs:
        """Labelled inputs at ``path``, model-ready (normalised as in training), for
        ``convrec evaluate RUN --data PATH``."""
        pairs = self._pairs(*self.read_labelled(path, "evaluation"), "evaluation")
        pairs = self._each_series(pairs)
        if self.mean is not None:
            pairs = standardised(pairs, self.mean, self.std)
        return pairs
