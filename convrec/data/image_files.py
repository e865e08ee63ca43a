"""A user's images from a folder: one subfolder per class, any size, any common format.

``folder/<class>/<image>`` for labelled images (the class is the subfolder's name); a single file
or any folder of images for prediction. PNG, JPEG, BMP, GIF, TIFF in any mode Pillow reads
(grey ``L``, ``RGB``, ``RGBA``, palette ``P``, 16-bit, CMYK...) are turned into one layout:
``uint8 (C, H, W)`` with ``C = 1`` (grey) or ``3`` (``RGB``; transparency composited on white),
resized to one size with Pillow's antialiasing bilinear filter. Other files (a ``README``, a
``.DS_Store``) are left out; a file with an image suffix that does not decode, or is truncated,
is a :class:`~convrec.data.readers.FormatError` naming it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convrec.data.readers import FormatError
from convrec.data.splits import natural_key
from convrec.errors import InvalidValueError, PathNotFoundError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


@dataclass
class ImageFolder:
    """The image files of a folder.

    Attributes:
        files: every image file, classes in natural order, files sorted within each.
        labels: each file's class (its subfolder's name), or None for unlabelled images.
        root: the folder (or file) given, for messages and relative names.
    """

    files: list[Path]
    labels: list[str] | None
    root: Path

    def names(self) -> list[str]:
        """Each file's path relative to the root, the ids of predictions."""
        if self.root.is_file():
            return [self.root.name]
        return [str(path.relative_to(self.root)) for path in self.files]


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SUFFIXES and not path.name.startswith(".")


def list_images(root: str | Path, labelled: bool = True) -> ImageFolder:
    """The images under ``root``: ``root/<class>/*`` when ``labelled``; else ``root`` itself
    (one image) or every image under it, in any subfolder.

    Raises:
        PathNotFoundError: ``root`` does not exist.
        InvalidValueError: no image in it, images outside class folders, or a class folder
            without images (when ``labelled``).
    """
    root = Path(root)
    if not root.exists():
        raise PathNotFoundError(f"{root}: no such file or folder")
    if not labelled:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if is_image(p))
        if not files or not is_image(files[0]):
            raise InvalidValueError(f"{root}: expected images ({', '.join(SUFFIXES)}), found none")
        return ImageFolder(files, None, root)
    if not root.is_dir():
        raise InvalidValueError(
            f"{root}: expected a folder with one subfolder of images per class, got a file"
        )
    loose = sorted(path.name for path in root.iterdir() if is_image(path))
    if loose:
        raise InvalidValueError(
            f"{root}: expected images inside class subfolders, got images directly in the folder "
            f"({', '.join(loose[:3])}); move each into the folder named by its class"
        )
    files, labels = [], []
    for folder in sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: natural_key(p.name),
    ):
        images = sorted(path for path in folder.iterdir() if is_image(path))
        if not images:
            raise InvalidValueError(
                f"{folder}: expected images of class {folder.name!r} ({', '.join(SUFFIXES)}), "
                "found none; remove the folder or add images"
            )
        files += images
        labels += [folder.name] * len(images)
    if not files:
        raise InvalidValueError(
            f"{root}: expected one subfolder of images per class, found no class folder"
        )
    return ImageFolder(files, labels, root)


def survey(files: list[Path]) -> tuple[bool, tuple[int, int]]:
    """Whether any image has colour, and the most common size ``(height, width)``, from the
    files' headers only (nothing decoded).

    Raises:
        FormatError: a file is not an image Pillow can open.
    """
    from PIL import Image, UnidentifiedImageError

    colour, sizes = False, Counter()
    for path in files:
        try:
            with Image.open(path) as image:
                colour = colour or image.mode not in GREY_MODES
                sizes[(image.height, image.width)] += 1
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise FormatError(str(path), "byte 0", "an image", _reason(error)) from None
    return colour, sizes.most_common(1)[0][0]


def decode(path: Path, channels: int, size: tuple[int, int]) -> np.ndarray:
    """The image at ``path`` as ``uint8 (channels, H, W)`` at ``size = (H, W)``.

    Raises:
        FormatError: not an image, truncated, or larger than Pillow's decompression-bomb limit.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            converted = _converted(image, channels)
            if (converted.height, converted.width) != size:
                converted = converted.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(converted, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise FormatError(str(path), "byte 0", "a whole, readable image", _reason(error)) from None
    return pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, -1, 0)


def _converted(image, channels: int):  # PIL.Image.Image, imported lazily
    """Grey ``L`` or ``RGB``; transparency composited on white, 16-bit and float scaled."""
    from PIL import Image

    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        span = values.max() - values.min()
        scaled = (values - values.min()) / span * 255 if span > 0 else values * 0
        image = Image.fromarray(scaled.astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image.convert("L" if channels == 1 else "RGB")


def _reason(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__
