"""Image and mask files: sizes as the annotator sees them, and masks aligned to them.

Browsers show a JPEG with its EXIF orientation applied, so the Label Studio editor, and
every region drawn in it, uses the *displayed* (EXIF-transposed) size. Masks therefore
live in displayed orientation, like `PIL.ImageOps.exif_transpose` and diffusers'
`load_image` give. A mask of the raw (stored) size of a rotated photo is transposed the
same way, when its size says so unambiguously.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

EXIF_ORIENTATION = 0x0112
SWAPS_AXES = frozenset({5, 6, 7, 8})  # orientations that turn width into height
MASK_LEVEL = 128  # a mask pixel at or above this grey level is in the region


class MaskMismatch(ValueError):
    """A mask does not fit its image."""


@dataclass(frozen=True)
class ImageSize:
    width: int  # as displayed (EXIF applied)
    height: int
    orientation: int = 1

    @property
    def raw(self) -> tuple[int, int]:
        """(width, height) as stored in the file."""
        if self.orientation in SWAPS_AXES:
            return self.height, self.width
        return self.width, self.height


def probe_image(path: Path) -> ImageSize:
    """Size and orientation of an image file; raises ValueError when it cannot be decoded."""
    try:
        with Image.open(path) as img:
            orientation = int(img.getexif().get(EXIF_ORIENTATION, 1) or 1)
            width, height = img.size
            # Decode at reduced scale (JPEG draft) to catch truncated or corrupt data cheaply.
            img.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            img.load()
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image ({exc})") from None
    if width == 0 or height == 0:
        raise ValueError("empty image")
    if orientation in SWAPS_AXES:
        width, height = height, width
    return ImageSize(width, height, orientation)


def load_image(path: Path) -> Image.Image:
    """The image as displayed: EXIF orientation applied, RGB."""
    with Image.open(path) as img:
        return ImageOps.exif_transpose(img).convert("RGB")


def load_mask(path: Path, size: ImageSize | None) -> np.ndarray:
    """A mask file as HxW uint8 (255 in the region, 0 elsewhere) in displayed orientation."""
    with Image.open(path) as img:
        mask = img.convert("L")
    if size is not None and mask.size != (size.width, size.height):
        if size.orientation != 1 and mask.size == size.raw:
            mask = _orient(mask, size.orientation)
        else:
            raise MaskMismatch(
                f"mask {path.name} is {mask.size[0]}x{mask.size[1]} but its image is "
                f"{size.width}x{size.height} as displayed; masks must match the image size"
            )
    values = np.asarray(mask, dtype=np.uint8)
    return np.where(values >= MASK_LEVEL, np.uint8(255), np.uint8(0))


# The transpose each EXIF orientation asks for, as PIL.ImageOps.exif_transpose applies it.
ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orient(img: Image.Image, orientation: int) -> Image.Image:
    """Apply an EXIF orientation to a picture that has none of its own (a mask)."""
    method = ORIENTATION_TRANSPOSE.get(orientation)
    return img.transpose(method) if method is not None else img
