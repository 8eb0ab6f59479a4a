"""Masks: the brush RLE codec, Label Studio regions to pixels, and inpainting targets.

- :mod:`toolkit.masks.rle`: decode / encode the brush RLE stream Label Studio stores.
- :mod:`toolkit.masks.raster`: one Label Studio result to a boolean pixel mask.
- :mod:`toolkit.masks.post`: union, small-region removal, dilation, feathering and
  inversion into the 255 = inpaint mask; label-index and colour segmentation maps.
"""

from __future__ import annotations

from .post import (
    control_map,
    dilate_mask,
    feather_mask,
    inpaint_mask,
    palette,
    parse_color,
    remove_small,
    semantic_mask,
    union,
)
from .raster import (
    DEFAULT_THRESHOLD,
    RegionError,
    brush_alpha,
    image_size,
    is_region,
    labels_of,
    rasterize,
    shape_of,
)
from .rle import DEFAULT_MAX_PIXELS, RLEError, decode, encode, encode_bytes, encode_values

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_THRESHOLD",
    "RLEError",
    "RegionError",
    "brush_alpha",
    "control_map",
    "decode",
    "dilate_mask",
    "encode",
    "encode_bytes",
    "encode_values",
    "feather_mask",
    "image_size",
    "inpaint_mask",
    "is_region",
    "labels_of",
    "palette",
    "parse_color",
    "rasterize",
    "remove_small",
    "semantic_mask",
    "shape_of",
    "union",
]
