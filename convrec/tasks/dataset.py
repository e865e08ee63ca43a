"""Tasks on a registered dataset (:func:`convrec.data.load_dataset`): the data side that
classification, forecasting and language modelling share.

Inputs are standardised per channel with statistics of the training split only (images: per
colour channel; sequences: per feature over every valid step); token ids are left as they are.
Collections whose amplitudes span orders of magnitude (PLAID's currents) first standardise every
series on its own, as the UCR archive does for most of its datasets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from convrec.checks import fail, keyword_names
from convrec.data.datasets import dataset_entry, load_dataset
from convrec.data.sequences import collate_padded
from convrec.data.splits import LazyInputs, Pairs, Splits
from convrec.nn import Padded
from convrec.tasks.base import Task, TaskData
from convrec.tasks.exported import ExportSpec

EVALUATION_BATCH = 256


def input_kind_of(example: Tensor) -> str:
    """``'tokens'`` for integer ids ``(T,)``, ``'image'`` for ``(C, H, W)``, else ``'sequence'``."""
    if not example.is_floating_point():
        return "tokens"
    return "image" if example.dim() == 3 else "sequence"


def shape_of(inputs: Tensor | Sequence[Tensor]) -> tuple[int | None, ...]:
    """One input's shape; a time axis whose length varies between inputs is ``None``."""
    first = tuple(inputs[0].shape)
    if isinstance(inputs, LazyInputs):
        return (None, *first[1:]) if inputs.varies else first
    if isinstance(inputs, Tensor):
        return first
    if len({len(item) for item in inputs}) == 1:
        return first
    return (None, *first[1:])


def channel_statistics(inputs: Tensor | Sequence[Tensor], kind: str) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation per channel: ``(C, 1, 1)`` for images ``(N, C, H, W)``,
    ``(F,)`` for sequences ``(T_i, F)`` (every step of every sequence counts once)."""
    if kind == "image" and isinstance(inputs, Tensor):
        stacked = inputs.double()
        mean = stacked.mean(dim=(0, 2, 3))[:, None, None]
        std = stacked.std(dim=(0, 2, 3))[:, None, None]
    elif kind == "image":  # one image at a time: lazy inputs never all in memory
        total = squares = 0
        for image in inputs:
            pixels = torch.as_tensor(image).double().flatten(1)
            total, squares = total + pixels.sum(dim=1), squares + pixels.square().sum(dim=1)
        count = len(inputs) * pixels.shape[1]
        mean = total / count
        std = ((squares - count * mean.square()) / (count - 1)).clamp_min(0).sqrt()
        mean, std = mean[:, None, None], std[:, None, None]
    elif isinstance(inputs, LazyInputs):  # one series at a time
        total = squares = count = 0
        for item in inputs:
            steps = torch.as_tensor(item).double().reshape(-1, item.shape[-1])
            total, squares = total + steps.sum(dim=0), squares + steps.square().sum(dim=0)
            count += len(steps)
        mean = total / count
        std = ((squares - count * mean.square()) / (count - 1)).clamp_min(0).sqrt()
    else:
        steps = torch.cat([item.reshape(-1, item.shape[-1]) for item in inputs]).double()
        mean, std = steps.mean(dim=0), steps.std(dim=0)
    return mean.float(), std.clamp_min(1e-8).float()


def each_series_standardised(series: Tensor) -> Tensor:
    """``(T, F)`` or ``(N, T, F)`` with every feature of every series at mean 0 and standard
    deviation 1 over its steps (a constant feature becomes 0)."""
    mean = series.mean(dim=-2, keepdim=True)
    std = series.std(dim=-2, keepdim=True, correction=0)
    return (series - mean) / std.clamp_min(1e-8)


def standardised(pairs: Pairs, mean: Tensor, std: Tensor) -> Pairs:
    """The pairs with inputs ``(x - mean) / std``."""
    if isinstance(pairs.inputs, Tensor):
        return Pairs((pairs.inputs - mean) / std, pairs.targets)
    if isinstance(pairs.inputs, LazyInputs):
        return Pairs(pairs.inputs.map(partial(_scaled, mean=mean, std=std)), pairs.targets)
    return Pairs([_scaled(item, mean, std) for item in pairs.inputs], pairs.targets)


def _scaled(item: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    return (item - mean) / std


class DatasetTask(Task):
    """A task whose splits come from ``load_dataset(dataset)``; the test set is its test split.

    ``standardise`` scales inputs per channel with the training split's statistics;
    ``standardise_each_series`` first scales every ``(T, F)`` series by its own, in training and
    in :meth:`model_inputs` (saved in :meth:`state`).

    Args:
        root: a folder of the dataset's original files, instead of the data directory.
        **dataset_options: the loader's own options (over ``dataset_defaults``).
    """

    dataset: ClassVar[str]
    dataset_defaults: ClassVar[dict[str, Any]] = {}
    standardise: ClassVar[bool] = True
    standardise_each_series: bool = False

    @classmethod
    def options(cls) -> tuple[str, ...] | None:
        """``root``, the task's own options and its dataset loader's (None if the loader takes
        any)."""
        loader = dataset_entry(cls.dataset).options()
        return None if loader is None else (*keyword_names(cls.__init__), *loader)

    def __init__(self, root: str | None = None, **dataset_options: Any) -> None:
        self.root = root
        self.dataset_options = self.dataset_defaults | dataset_options
        self.kind: str | None = None
        self.shape: tuple[int | None, ...] | None = None
        self.mean: Tensor | None = None
        self.std: Tensor | None = None
        self.variable_length = False
        self.vocab_size: int | None = None
        self.splits: Splits | None = None

    @property
    def input_kind(self) -> str:
        return self._known(self.kind)

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        return self._known(self.shape)

    def _known(self, value: Any) -> Any:
        if value is None:
            raise RuntimeError(f"{self.name}: build_data or load_state must run first")
        return value

    def model_arguments(self) -> dict[str, Any]:
        """As the base class's; token tasks add their ``vocab_size``."""
        extra = {} if self.vocab_size is None else {"vocab_size": self.vocab_size}
        return super().model_arguments() | extra

    def collate(self, items: list[tuple[Any, Any]]) -> tuple[Any, Any]:
        if self.variable_length:
            return collate_padded(items)
        return torch.utils.data.default_collate(items)

    def inputs_of(self, dataset: Dataset) -> Pairs:
        """The split as :class:`Pairs` of model inputs (a hook: audio tasks compute features)."""
        if not isinstance(dataset, Pairs):
            raise TypeError(f"{self.name}: expected Pairs from {self.dataset!r}, got {dataset!r}")
        return dataset

    def load_splits(self, seed: int) -> Splits:
        """The splits to learn from: the registered dataset's (a hook: tasks on a user's own
        files read those)."""
        return load_dataset(self.dataset, root=self.root, seed=seed, **self.dataset_options)

    def build_data(self, seed: int) -> TaskData:
        self.splits = self.load_splits(seed)
        parts = {
            split: self._each_series(self.inputs_of(getattr(self.splits, split)))
            for split in ("train", "validation", "test")
        }
        train_inputs = parts["train"].inputs
        self.kind = input_kind_of(train_inputs[0])
        self.shape = shape_of(train_inputs)
        self.variable_length = self.splits.variable_length
        if self.kind == "tokens":
            self.vocab_size = len(self.splits.tokenizer)
        self.learn_targets(self.splits)
        if self.standardise and self.kind != "tokens":
            self.mean, self.std = channel_statistics(train_inputs, self.kind)
            parts = {
                split: standardised(pairs, self.mean, self.std) for split, pairs in parts.items()
            }
        return TaskData(parts["train"], parts["validation"], {"test": parts["test"]})

    def _each_series(self, pairs: Pairs) -> Pairs:
        if not self.standardise_each_series:
            return pairs
        if isinstance(pairs.inputs, LazyInputs):
            return Pairs(pairs.inputs.map(each_series_standardised), pairs.targets)
        if isinstance(pairs.inputs, Tensor):
            return Pairs(each_series_standardised(pairs.inputs), pairs.targets)
        return Pairs([each_series_standardised(item) for item in pairs.inputs], pairs.targets)

    def learn_targets(self, splits: Splits) -> None:
        """Keep what the targets need at prediction time (class names, a vocabulary)."""

    def model_inputs(self, arrays: Sequence[np.ndarray]) -> Tensor | Padded:
        """Raw inputs, as the dataset gives them, to one standardised model batch."""
        expected = self.input_shape
        items = []
        for index, array in enumerate(arrays):
            item = torch.as_tensor(np.asarray(array))
            shape_ok = item.dim() == len(expected) and all(
                size is None or size == got for size, got in zip(expected, item.shape, strict=True)
            )
            numeric_ok = not item.is_floating_point() or bool(torch.isfinite(item).all())
            if not shape_ok or not numeric_ok:
                raise fail(
                    f"{self.name}.predict",
                    f"input {index}",
                    f"finite values of shape {_shape_text(expected)}",
                    f"shape {tuple(item.shape)}" + ("" if numeric_ok else " with NaN or Inf"),
                )
            if item.numel() == 0:
                raise fail(
                    f"{self.name}.predict",
                    f"input {index}",
                    "a sequence of at least one step",
                    f"shape {tuple(item.shape)}",
                )
            if self.standardise_each_series:
                item = each_series_standardised(item.float())
            if self.mean is not None:
                item = (item.float() - self.mean) / self.std
            items.append(item)
        if self.variable_length:
            return Padded.from_sequences(items)
        return torch.stack(items)

    def export_spec(self) -> ExportSpec:
        """:meth:`model_inputs` and the raw outputs as an :class:`ExportSpec`."""
        kind = self.input_kind
        axes = ", ".join("time" if size is None else str(size) for size in self.input_shape)
        values = "int64 token ids" if kind == "tokens" else "float32 values"
        per_step = "time, " if self.outputs_per_step else ""
        return ExportSpec(
            input_kind=kind,
            input_shape=self.input_shape,
            variable_length=self.variable_length,
            output="values",
            input_layout=f"(batch, {axes}) {values}",
            output_layout=f"(batch, {per_step}{self.output_size}) float32",
            mean=self.mean,
            std=self.std,
            each_series=self.standardise_each_series,
            metadata=self.export_metadata(),
            output_size=self.output_size,
        )

    def outputs(self, model: nn.Module, dataset: Dataset) -> tuple[Tensor, Tensor]:
        """The model's outputs and the targets over a whole split, on the CPU."""
        return batched_outputs(model, dataset, self.collate)

    def state(self) -> dict[str, Any]:
        # "each_series" only when set: the state of every other task, and its hash, stay as before.
        return {
            "kind": self.kind,
            "shape": list(self.input_shape),
            "variable_length": self.variable_length,
            "vocab_size": self.vocab_size,
            "mean": None if self.mean is None else self.mean.tolist(),
            "std": None if self.std is None else self.std.tolist(),
        } | ({"each_series": True} if self.standardise_each_series else {})

    def load_state(self, state: dict[str, Any]) -> None:
        self.kind = state["kind"]
        self.shape = tuple(state["shape"])
        self.variable_length = state["variable_length"]
        self.vocab_size = state["vocab_size"]
        self.standardise_each_series = state.get("each_series", False)
        if state["mean"] is not None:
            self.mean = torch.tensor(state["mean"], dtype=torch.float32)
            self.std = torch.tensor(state["std"], dtype=torch.float32)


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("T" if size is None else str(size) for size in shape) + ")"


def materialised(dataset: Dataset) -> Pairs:
    """A whole split of equal-shaped items as one :class:`Pairs` of stacked tensors."""
    inputs, targets = next(iter(DataLoader(dataset, batch_size=len(dataset))))
    return Pairs(inputs, targets)


@contextmanager
def evaluating(model: nn.Module) -> Iterator[torch.device]:
    """Evaluation mode without gradients for the block, then the model's mode as it was;
    yields the model's device."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield next(model.parameters()).device
    finally:
        model.train(was_training)


def batched_outputs(
    model: nn.Module, dataset: Dataset, collate: Callable, batch_size: int = EVALUATION_BATCH
) -> tuple[Tensor, Tensor]:
    """Run ``model`` (in evaluation mode) over ``dataset`` in order; concatenated outputs and
    targets on the CPU. Sequence outputs keep their padding (``Padded.data``)."""
    outputs, targets = [], []
    with evaluating(model) as device:
        for inputs, target in DataLoader(dataset, batch_size=batch_size, collate_fn=collate):
            output = model(inputs.to(device))
            outputs.append((output.data if isinstance(output, Padded) else output).float().cpu())
            targets.append(target.data if isinstance(target, Padded) else target)
    return torch.cat(outputs), torch.cat(targets)
