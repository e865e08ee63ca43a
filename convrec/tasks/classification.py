"""Classification on a registered dataset: cross-entropy loss, accuracy and macro F1, the
confusion matrix; ``labels_per_class`` for training with few labels (transfer learning); and
``augment`` for the image recipes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from convrec.checks import one_of, positive_int
from convrec.data.image_augment import AUGMENTATIONS, augmented
from convrec.data.splits import Pairs, Splits
from convrec.nn import Padded
from convrec.tasks.base import TaskData
from convrec.tasks.dataset import DatasetTask, evaluating
from convrec.tasks.exported import ExportSpec


def few_labels(pairs: Pairs, per_class: int, seed: int) -> Pairs:
    """``per_class`` items of each class (all of a class that has fewer), drawn by ``seed``."""
    labels = np.asarray(pairs.targets)
    generator = np.random.default_rng(seed)
    kept = [
        generator.permutation(np.flatnonzero(labels == label))[:per_class]
        for label in np.unique(labels)
    ]
    return pairs.subset(np.sort(np.concatenate(kept)))


def classification_metrics(logits: Tensor, labels: Tensor, classes: int) -> dict[str, float]:
    """Accuracy, macro-averaged F1 and mean cross-entropy of ``logits (N, classes)``."""
    # torchmetrics takes 0.5 s to import (matplotlib with it): only where metrics are computed.
    from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score

    predicted = logits.argmax(dim=1)
    return {
        "accuracy": float(multiclass_accuracy(predicted, labels, classes, average="micro")),
        "macro_f1": float(multiclass_f1_score(predicted, labels, classes, average="macro")),
        "cross_entropy": float(F.cross_entropy(logits, labels)),
    }


class Classification(DatasetTask):
    """One label per input (image, sequence or text).

    Args:
        root: a folder of the dataset's original files.
        labels_per_class: keep only this many training items per class (seeded), to measure
            learning from few labels.
        **dataset_options: the dataset loader's own options.
    """

    curve_metric = "accuracy"

    def __init__(
        self, root: str | None = None, labels_per_class: int | None = None, **dataset_options: Any
    ) -> None:
        super().__init__(root, **dataset_options)
        if labels_per_class is not None:
            positive_int(self.name, "labels_per_class", labels_per_class)
        self.labels_per_class = labels_per_class
        self.classes: tuple[str, ...] = ()

    @property
    def output_size(self) -> int:
        return len(self._known(self.classes or None))

    @property
    def output_columns(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.classes

    def learn_targets(self, splits: Splits) -> None:
        self.classes = tuple(splits.classes)

    def build_data(self, seed: int) -> TaskData:
        data = super().build_data(seed)
        if self.labels_per_class is not None:
            data.train = few_labels(data.train, self.labels_per_class, seed)
        return data

    def loss(self, prediction: Tensor | Padded, target: Tensor | Padded) -> Tensor:
        return F.cross_entropy(prediction, target)

    def evaluate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:
        logits, labels = self.outputs(model, dataset)
        return classification_metrics(logits, labels, len(self.classes))

    def plot(self, model: nn.Module, data: TaskData, directory: Path) -> list[Path]:
        from torchmetrics.functional.classification import multiclass_confusion_matrix

        from convrec.diagnose.plots import plot_class_scores, plot_confusion_matrix

        logits, labels = self.outputs(model, data.tests["test"])
        matrix = multiclass_confusion_matrix(logits.argmax(dim=1), labels, len(self.classes))
        matrix = matrix.numpy()
        return [
            plot_confusion_matrix(matrix, self.classes, directory / "confusion_matrix.png"),
            plot_class_scores(matrix, self.classes, directory / "class_scores.png"),
        ]

    def predict(self, model: nn.Module, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Class probabilities ``(classes,)`` for each raw input."""
        batch = self.model_inputs(sequences)
        with evaluating(model) as device:
            return list(model(batch.to(device)).softmax(dim=1).cpu().numpy())

    def export_spec(self) -> ExportSpec:
        """As the dataset's, with class probabilities out (the softmax of :meth:`predict`)."""
        spec = super().export_spec()
        spec.output = "probabilities"
        spec.output_layout = f"(batch, {len(self.classes)}) float32 class probabilities"
        spec.metadata["classes"] = list(self.classes)
        return spec

    def state(self) -> dict[str, Any]:
        return super().state() | {"classes": list(self.classes)}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.classes = tuple(state["classes"])


class ImageClassification(Classification):
    """Classification of a dataset's images ``(C, H, W)``, whose training images may be
    augmented.

    Args:
        root, labels_per_class, **dataset_options: as :class:`Classification`'s.
        augment: one of ``'none'``, ``'flip'`` (random horizontal flips), ``'crop'`` (random
            crops of the image padded by 4 pixels) or ``'flip+crop'``; training images only.
    """

    def __init__(
        self,
        root: str | None = None,
        labels_per_class: int | None = None,
        augment: str = "none",
        **dataset_options: Any,
    ) -> None:
        super().__init__(root, labels_per_class, **dataset_options)
        self.augment = one_of(self.name, "augment", augment, AUGMENTATIONS)

    def build_data(self, seed: int) -> TaskData:
        data = super().build_data(seed)
        data.train = augmented(data.train, self.augment)
        return data
