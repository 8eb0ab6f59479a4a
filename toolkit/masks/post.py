"""Post-processing of region masks into training targets.

- :func:`inpaint_mask`: the 8-bit single-channel mask inpainting models read (255 = paint
  here, 0 = keep; the diffusers and LaMa convention), from the union of region masks,
  with optional small-region removal, inversion, dilation and a soft edge.
- :func:`semantic_mask`: one label index per pixel (0 = background).
- :func:`control_map`: an RGB colour segmentation map (a ControlNet-seg condition).

Distances are Euclidean (exact, from OpenCV's precise distance transform); connected
components are 8-connected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "control_map",
    "dilate_mask",
    "feather_mask",
    "inpaint_mask",
    "palette",
    "parse_color",
    "remove_small",
    "semantic_mask",
    "union",
]

RGB = tuple[int, int, int]
_EPS = 1e-3  # distances are float32 square roots of whole numbers


def _cv2() -> Any:
    import cv2

    return cv2


def _as_bool(mask: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"a mask must be 2-D (height x width), got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"masks differ in size: {arr.shape} vs {shape}")
    return arr if arr.dtype == np.bool_ else arr != 0


def _non_negative(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def union(masks: Iterable[np.ndarray], shape: tuple[int, int] | None = None) -> np.ndarray:
    """Pixels that are non-zero in any mask (boolean). ``shape`` is needed when there may be
    no masks at all; then the result is empty."""
    out: np.ndarray | None = None
    for mask in masks:
        m = _as_bool(mask, shape if out is None else out.shape)
        if out is None:
            out = m.copy()
        else:
            out |= m
    if out is None:
        if shape is None:
            raise ValueError("no masks given and no shape to make an empty one")
        return np.zeros(shape, dtype=bool)
    return out


def _distance_to(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance from every pixel to the nearest pixel of ``mask`` (0 inside)."""
    cv2 = _cv2()
    outside = np.ascontiguousarray(~mask, dtype=np.uint8)
    return cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def dilate_mask(mask: np.ndarray, radius: float) -> np.ndarray:
    """Grow a mask by ``radius`` px: every pixel whose centre is within ``radius`` of a mask
    pixel's centre (a Euclidean disc, exact for any radius)."""
    _non_negative("dilate", radius)
    m = _as_bool(mask)
    if radius == 0 or not m.any() or m.all():
        return m.copy()
    return _distance_to(m) <= radius + _EPS


def remove_small(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Drop 8-connected components smaller than ``min_area`` pixels."""
    _non_negative("min_area", min_area)
    m = _as_bool(mask)
    if min_area <= 1 or not m.any():
        return m.copy()
    cv2 = _cv2()
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        m.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False  # background
    return keep[labels]


def feather_mask(mask: np.ndarray, radius: float) -> np.ndarray:
    """A uint8 mask: 255 on the mask, then a linear ramp outwards that reaches 0 at
    ``radius + 1`` px, so exactly the ``radius`` px around the mask are soft. The mask
    itself stays fully 255: the soft edge only ever adds coverage. ``radius`` 0 gives a
    hard 0/255 mask."""
    _non_negative("feather", radius)
    m = _as_bool(mask)
    if radius == 0 or not m.any() or m.all():
        return m.astype(np.uint8) * np.uint8(255)
    ramp = 1.0 - _distance_to(m) / np.float32(radius + 1)
    return np.rint(np.clip(ramp, 0.0, 1.0) * 255.0).astype(np.uint8)


def inpaint_mask(
    masks: Iterable[np.ndarray],
    *,
    dilate: float = 0,
    feather: float = 0,
    min_area: int = 0,
    invert: bool = False,
    shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """The inpainting mask: 8-bit single channel, 255 = inpaint, 0 = keep.

    Steps, in order: union of ``masks`` (non-zero = in); drop 8-connected components
    smaller than ``min_area`` px (annotation specks); ``invert`` (inpaint everything that
    is *not* labelled); grow the inpaint area by ``dilate`` px (Euclidean); ``feather`` px
    of soft edge outside it (0 = hard 0/255). ``shape`` is needed only when ``masks`` may
    be empty (then the result is all 0, or all 255 when inverted).
    """
    _non_negative("dilate", dilate)
    _non_negative("feather", feather)
    _non_negative("min_area", min_area)
    area = union(masks, shape)
    area = remove_small(area, int(min_area))
    if invert:
        area = ~area
    area = dilate_mask(area, dilate)
    return feather_mask(area, feather)


def semantic_mask(
    label_masks: Mapping[str, np.ndarray],
    labels: Sequence[str],
    *,
    shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Label index per pixel: 0 = background, ``i + 1`` where ``labels[i]``'s mask is
    non-zero. Where masks overlap, the label later in ``labels`` wins (list the label that
    must never be hidden last). Masks of labels not in ``labels`` are ignored. uint8, or
    uint16 with more than 255 labels."""
    names = list(labels)
    if len(set(names)) != len(names):
        raise ValueError("labels must be unique")
    out_shape = shape
    for name in names:
        if name in label_masks:
            out_shape = _as_bool(label_masks[name], out_shape).shape
    if out_shape is None:
        raise ValueError("no mask for any of the labels and no shape to make an empty map")
    dtype = np.uint8 if len(names) <= 255 else np.uint16
    out = np.zeros(out_shape, dtype=dtype)
    for index, name in enumerate(names, start=1):
        if name in label_masks:
            out[_as_bool(label_masks[name], out_shape)] = index
    return out


_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def parse_color(text: str) -> RGB:
    """``"#rrggbb"`` (or ``"#rgb"``, with or without ``#``) to an ``(r, g, b)`` tuple."""
    match = _HEX.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"colour must look like '#rrggbb', got {text!r}")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _rgb(color: str | Sequence[int]) -> RGB:
    if isinstance(color, str):
        return parse_color(color)
    values = tuple(int(c) for c in color)
    if len(values) != 3 or not all(0 <= c <= 255 for c in values):
        raise ValueError(f"colour must be three values 0..255, got {color!r}")
    return values  # type: ignore[return-value]


def palette(n: int) -> list[RGB]:
    """``n`` distinct colours, the same every time (the PASCAL VOC colour map, skipping its
    black): for labels that have no colour of their own."""
    colours: list[RGB] = []
    index = 1
    while len(colours) < n:
        r = g = b = 0
        c = index
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        colours.append((r, g, b))
        index += 1
    return colours


def control_map(
    semantic: np.ndarray,
    colors: Sequence[str | Sequence[int]],
    *,
    background: str | Sequence[int] = (0, 0, 0),
) -> np.ndarray:
    """Colour segmentation map (``height x width x 3`` uint8 RGB): pixels of label index
    ``i + 1`` get ``colors[i]`` (``"#rrggbb"`` or an ``(r, g, b)`` triple), background
    (index 0) gets ``background``. Suitable as a ControlNet segmentation condition."""
    sem = np.asarray(semantic)
    if sem.ndim != 2 or sem.dtype.kind not in "iu":
        raise ValueError("semantic must be a 2-D integer label-index map")
    lut = np.array([_rgb(background), *(_rgb(c) for c in colors)], dtype=np.uint8)
    if sem.size:
        top = int(sem.max())
        if int(sem.min()) < 0 or top >= len(lut):
            raise ValueError(
                f"semantic holds label index {top} but only {len(lut) - 1} colours were given"
            )
    return lut[sem]
