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
from pathlib import Path

import numpy as np

from convrec.data.class_folders import ClassFolder, FileKind, list_class_folder
from convrec.data.readers import FormatError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


IMAGES = FileKind("images", SUFFIXES)


def list_images(root: str | Path, labelled: bool = True) -> ClassFolder:
    """The images under ``root``, by class folder (see :func:`list_class_folder`)."""
    return list_class_folder(root, IMAGES, labelled)


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
