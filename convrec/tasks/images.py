"""Your own images: ``convrec train images --data FOLDER [--test FOLDER]``.

``FOLDER`` holds one subfolder of images per class (:mod:`convrec.data.image_files`). The
classes are the subfolders' names; the images become one layout: grey (1 channel) if every
training image is grey, else RGB (or grey when ``grayscale``), at ``image_size`` (default: the
most common size of the training images), as float32 in [0, 1], then standardised per channel
with the training split's statistics. ``augment`` adds random horizontal flips and 4-pixel
shifted crops to the training images, drawn from the seeded global generator (so a resumed run
draws what an uninterrupted one would).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from convrec.checks import fail, flag, int_tuple, keyword_names, one_of
from convrec.data.image_augment import AUGMENTATIONS, augmented
from convrec.data.image_files import decode, list_images, survey
from convrec.data.splits import LazyInputs, Pairs
from convrec.tasks.base import TaskData, register_task
from convrec.tasks.files import FileClassification

IMAGE_MODELS: dict[str, dict[str, Any]] = {
    "resnet": {"epochs": 30, "batch_size": 32, "lr": 3e-3, "weight_decay": 5e-4},
    "vgg": {"epochs": 30, "batch_size": 32, "lr": 3e-3, "weight_decay": 5e-4},
    "lenet5": {"epochs": 30, "batch_size": 32, "lr": 2e-3},
    "mlp": {"epochs": 30, "batch_size": 32, "lr": 1e-3},
}


def decoded_image(path: Path, channels: int, size: tuple[int, int]) -> Tensor:
    """The image at ``path`` as float32 ``(channels, *size)`` in [0, 1]."""
    return torch.tensor(decode(path, channels, size), dtype=torch.float32) / 255


@register_task
class ImageFiles(FileClassification):
    """Classification of a user's own images, read from class folders.

    Args:
        data, test, validation: folders of class subfolders (see :class:`FileClassification`).
        image_size: the ``(H, W)`` (or one side) every image is resized to; default the most
            common size of the training images.
        grayscale: force one grey channel; default grey only when every training image is.
        augment: ``'none'``, ``'flip'``, ``'crop'`` or ``'flip+crop'``.
        validation_split, test_split: the fractions held out when no folder is given.
        lazy: decode each image when a batch needs it, not all at the start, so that a folder
            larger than memory trains (each epoch decodes every image again, and a damaged
            file is found when first read rather than before training).
    """

    name = "images"
    description = "your own images (--data FOLDER of class subfolders): classification"
    default_model = "resnet"
    models: ClassVar[dict[str, dict[str, Any]]] = IMAGE_MODELS
    items = "images"

    def __init__(
        self,
        data: str | None = None,
        test: str | None = None,
        validation: str | None = None,
        image_size: int | list[int] | None = None,
        grayscale: bool | None = None,
        augment: str = "none",
        validation_split: float = 0.2,
        test_split: float = 0.2,
        lazy: bool = False,
    ) -> None:
        super().__init__(data, test, validation, validation_split, test_split)
        self.image_size = (
            None
            if image_size is None
            else int_tuple(
                self.name,
                "image_size",
                tuple(image_size) if isinstance(image_size, list) else image_size,
                2,
                1,
            )
        )
        if grayscale is not None and not isinstance(grayscale, bool):
            raise fail(self.name, "grayscale", "true, false or none", repr(grayscale))
        self.grayscale = grayscale
        self.augment = one_of(self.name, "augment", augment, AUGMENTATIONS)
        self.lazy = flag(self.name, "lazy", lazy)
        self.channels_kept: int | None = None

    @classmethod
    def options(cls) -> tuple[str, ...] | None:
        return keyword_names(cls.__init__)

    def read_labelled(self, path: str | Path, role: str) -> tuple[list[np.ndarray], list[str]]:
        folder = list_images(path)
        if self.channels_kept is None:  # the training folder sets the layout
            colour, common = survey(folder.files)
            self.channels_kept = 1 if self.grayscale or not colour else 3
            self.image_size = self.image_size or common
        if self.lazy:
            return folder.files, folder.labels
        return self._decoded(folder.files), folder.labels

    def _decoded(self, files: list[Path]) -> list[np.ndarray]:
        return [decode(path, self.channels_kept, self.image_size) for path in files]

    def as_pairs(self, inputs: list[np.ndarray] | list[Path], targets: Tensor) -> Pairs:
        if self.lazy:
            read = partial(decoded_image, channels=self.channels_kept, size=self.image_size)
            return Pairs(LazyInputs(inputs, read), targets)
        stacked = torch.from_numpy(np.stack(inputs)).float() / 255
        return Pairs(stacked, targets)

    def build_data(self, seed: int) -> TaskData:
        data = super().build_data(seed)
        data.train = augmented(data.train, self.augment)
        return data

    def splits_info(self) -> dict[str, Any]:
        return {"image_size": list(self.image_size), "channels": self.channels_kept}

    def prediction_inputs(self, path: str | Path) -> tuple[list[str], list[np.ndarray]]:
        folder = list_images(path, labelled=False)
        images = [image.astype(np.float32) / 255 for image in self._decoded(folder.files)]
        return folder.names(), images

    def model_inputs(self, arrays: Sequence[np.ndarray]) -> Tensor:
        """As :meth:`DatasetTask.model_inputs`, refusing integer pixels (8-bit images must be
        divided by 255 first: the model was trained on values in [0, 1])."""
        for index, array in enumerate(arrays):
            kind = np.asarray(array).dtype
            if kind.kind in "iub":
                raise fail(
                    f"{self.name}.predict",
                    f"input {index}",
                    f"float pixels in [0, 1] of shape {tuple(self.input_shape)} (divide 8-bit "
                    "images by 255)",
                    f"{kind} values",
                )
        return super().model_inputs(arrays)

    def state(self) -> dict[str, Any]:
        return super().state() | {
            "image_size": list(self.image_size),
            "channels_kept": self.channels_kept,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.image_size = tuple(state["image_size"])
        self.channels_kept = state["channels_kept"]
