"""Random flips and shifted crops of training images, drawn from the seeded global generator
(so a resumed run draws what an uninterrupted one would)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import Dataset

from convrec.data.splits import Pairs

AUGMENTATIONS = ("none", "flip", "crop", "flip+crop")
CROP_PADDING = 4


class Augmented(Dataset):
    """Training images with random horizontal flips and/or crops of the image padded by
    :data:`CROP_PADDING` pixels (zeros, the mean after standardisation).

    Items are ``(image (C, H, W), target)``, the shape of ``pairs``' images.
    """

    def __init__(self, pairs: Pairs, flip: bool, crop: bool) -> None:
        self.pairs, self.flip, self.crop = pairs, flip, crop
        self.targets = pairs.targets

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        image, target = self.pairs[index]
        if self.flip and bool(torch.rand(()) < 0.5):
            image = image.flip(-1)
        if self.crop:
            padded = torch.nn.functional.pad(image, (CROP_PADDING,) * 4)
            top, left = torch.randint(0, 2 * CROP_PADDING + 1, (2,)).tolist()
            image = padded[:, top : top + image.shape[1], left : left + image.shape[2]]
        return image, target


def augmented(pairs: Pairs, augment: str) -> Pairs | Augmented:
    """``pairs`` with the ``augment`` of :data:`AUGMENTATIONS` (unchanged for ``'none'``)."""
    if augment == "none":
        return pairs
    return Augmented(pairs, "flip" in augment, "crop" in augment)
