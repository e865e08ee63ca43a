"""What every dataset loader returns: train, validation and test splits and their metadata.

Sources with a published test split keep it; the validation split is then drawn from the training
split (stratified by class, seeded), so test data never steers training.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, default_collate

from convrec.checks import fail, probability
from convrec.data.sequences import collate_padded
from convrec.data.sources import require
from convrec.data.tokenizers import Tokenizer
from convrec.errors import PathNotFoundError


class LazyInputs(Sequence):
    """Inputs made when asked for, so that a dataset larger than memory can train: item ``i``
    is ``make(keys[i])`` (e.g. an image file decoded) passed through each of ``maps`` in turn;
    only the keys are held.

    Example:
        >>> squares = LazyInputs([1, 2, 3], float).map(lambda x: x * x)
        >>> list(squares.subset([2, 0]))
        [9.0, 1.0]
    """

    def __init__(
        self,
        keys: Sequence[Any],
        make: Callable[[Any], Any],
        maps: tuple[Callable, ...] = (),
        lengths: Sequence[int] | None = None,
    ) -> None:
        self.keys, self.make, self.maps = list(keys), make, maps
        self.lengths = None if lengths is None else list(lengths)
        """Each input's length (first axis) where known without reading it (a CSV's index)."""

    @property
    def varies(self) -> bool:
        """Whether the inputs' lengths are known to differ."""
        return self.lengths is not None and len(set(self.lengths)) > 1

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> Any:  # type: ignore[override]
        item = self.make(self.keys[index])
        for function in self.maps:
            item = function(item)
        return item

    def subset(self, indices: Sequence[int] | np.ndarray) -> LazyInputs:
        """The inputs at ``indices``, still lazy."""
        lengths = None if self.lengths is None else [self.lengths[i] for i in indices]
        return LazyInputs([self.keys[i] for i in indices], self.make, self.maps, lengths)

    def map(self, function: Callable[[Any], Any]) -> LazyInputs:
        """These inputs, each then passed through ``function``."""
        return LazyInputs(self.keys, self.make, (*self.maps, function), self.lengths)


class Pairs(Dataset):
    """``(input, target)`` pairs: ``inputs[i]`` (a tensor, or one of a list of variable-length
    tensors) with ``targets[i]`` (likewise: per-step targets of variable length are a list)."""

    def __init__(
        self, inputs: Tensor | Sequence[Tensor], targets: Tensor | Sequence[Tensor]
    ) -> None:
        if len(inputs) != len(targets):
            raise fail("Pairs", "targets", f"{len(inputs)} targets, one per input", len(targets))
        self.inputs, self.targets = inputs, targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.inputs[index], self.targets[index]

    def subset(self, indices: Sequence[int] | np.ndarray) -> Pairs:
        """The pairs at ``indices``, in that order."""
        targets = (
            self.targets[torch.as_tensor(indices)]
            if isinstance(self.targets, Tensor)
            else [self.targets[i] for i in indices]
        )
        if isinstance(self.inputs, Tensor):
            return Pairs(self.inputs[torch.as_tensor(indices)], targets)
        if isinstance(self.inputs, LazyInputs):
            return Pairs(self.inputs.subset(indices), targets)
        return Pairs([self.inputs[i] for i in indices], targets)


@dataclass
class Splits:
    """A dataset's three splits and what a model needs to know about them.

    Attributes:
        name: the dataset's registry name.
        train, validation, test: datasets of ``(input, target)`` pairs.
        classes: class names in label order, or ``None`` for regression and forecasting.
        tokenizer: the vocabulary built from the training split, for text and characters.
        info: anything else a model or plot needs (normalisation, sample rate, horizon...).
        variable_length: inputs are sequences ``(T_i, ...)`` of different lengths; batch them
            with ``collate_padded`` (see :attr:`collate`).
    """

    name: str
    train: Dataset
    validation: Dataset
    test: Dataset
    classes: tuple[str, ...] | None = None
    tokenizer: Tokenizer | None = None
    info: dict[str, Any] = field(default_factory=dict)
    variable_length: bool = False

    @property
    def collate(self) -> Callable[[list[tuple[Tensor, Tensor]]], object]:
        """The ``collate_fn`` for a ``DataLoader`` over these splits: ``collate_padded`` (a
        ``Padded`` batch with lengths) for variable-length inputs, else PyTorch's default
        stacking."""
        return collate_padded if self.variable_length else default_collate

    def sizes(self) -> dict[str, int]:
        """Number of items per split."""
        return {
            split: len(getattr(self, split))  # type: ignore[arg-type]
            for split in ("train", "validation", "test")
        }


def natural_key(name: str) -> tuple:
    """Sort key ordering names as a person would: ``class2`` before ``class10``.

    Example:
        >>> sorted(["b10", "b2", "a"], key=natural_key)
        ['a', 'b2', 'b10']
    """
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", name)
        if part
    )


def holdout(
    labels: np.ndarray, fraction: float, seed: int, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(kept, held_out)`` holding out ``fraction`` of the items, per class when
    ``stratify`` (labels are class ids), at random but fixed by ``seed``; both sorted.

    Example:
        >>> kept, held = holdout(np.array([0, 0, 0, 0, 1, 1, 1, 1]), 0.25, seed=0)
        >>> len(kept), len(held), sorted(np.array([0, 0, 0, 0, 1, 1, 1, 1])[held].tolist())
        (6, 2, [0, 1])
    """
    probability("holdout", "fraction", fraction)
    generator = np.random.default_rng(seed)
    groups = (
        [np.flatnonzero(labels == label) for label in np.unique(labels)]
        if stratify
        else [np.arange(len(labels))]
    )
    # Largest remainders: the class counts add up to round(fraction * N) exactly.
    quotas = np.array([fraction * len(group) for group in groups])
    counts = np.floor(quotas).astype(int)
    remainders = quotas - counts + generator.random(len(groups)) * 1e-9
    extra = round(fraction * len(labels)) - counts.sum()
    counts[np.argsort(-remainders)[:extra]] += 1
    held = [
        generator.permutation(group)[:count] for group, count in zip(groups, counts, strict=True)
    ]
    held_out = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(labels)), held_out), held_out


def split_off_validation(
    train: Pairs, fraction: float, seed: int, stratify: bool = True
) -> tuple[Pairs, Pairs]:
    """``(train, validation)`` from one training set; see :func:`holdout`."""
    kept, held = holdout(np.asarray(train.targets), fraction, seed, stratify)
    return train.subset(kept), train.subset(held)


def data_folder(source: str, dataset: str, root: str | Path | None) -> Path:
    """``root`` (a folder holding the original files) if given, else the fetched source's folder
    (checked against its manifest)."""
    if root is None:
        return require(source, dataset)
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise PathNotFoundError(
            f"{dataset}: invalid value for argument `root`: expected a folder holding the "
            f"original files, got {folder} (not a folder)."
        )
    return folder


def find_file(folder: Path, names: Sequence[str], dataset: str) -> Path:
    """The first of ``names`` (relative paths) present in ``folder``."""
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise PathNotFoundError(
        f"{dataset}: expected one of {', '.join(names)} in {folder}, found none of them."
    )
