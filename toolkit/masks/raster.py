"""Label Studio results -> pixel masks.

One Label Studio result (an item of an annotation's ``result`` list) becomes a boolean
``original_height x original_width`` mask. Geometry is done in pixel space: percentages
are scaled by the image's own width and height first, so non-square images come out right.

Sampling rule for vector shapes: a pixel belongs to the region when its centre
``(col + 0.5, row + 0.5)`` lies inside the shape (polygons: non-zero winding, as the
canvas fills them; a centre exactly on a left or top edge is inside, on a right or bottom
edge outside, so shapes that share an edge never share a pixel).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import rle as _rle

__all__ = [
    "BOUNDS_TOLERANCE",
    "DEFAULT_THRESHOLD",
    "RegionError",
    "brush_alpha",
    "ellipse_mask",
    "fill_polygon",
    "image_size",
    "is_region",
    "labels_of",
    "rasterize",
    "rectangle_corners",
    "shape_of",
]

#: Default brush threshold: a pixel is in the mask when its alpha is >= 1, i.e. every
#: pixel the brush touched, including the anti-aliased halo. See docs/masks.md.
DEFAULT_THRESHOLD = 1
#: How far (in percentage points) stored coordinates may lie outside 0..100 before the
#: region counts as broken. Label Studio lets points overshoot the edge slightly; parts of
#: a shape outside the image are clipped.
BOUNDS_TOLERANCE = 1.0

_TYPE_SHAPES = {
    "brushlabels": "brush",
    "brush": "brush",
    "polygonlabels": "polygon",
    "polygon": "polygon",
    "rectanglelabels": "rectangle",
    "rectangle": "rectangle",
    "ellipselabels": "ellipse",
    "ellipse": "ellipse",
}
_LABEL_KEYS = ("brushlabels", "polygonlabels", "rectanglelabels", "ellipselabels", "labels")


class RegionError(ValueError):
    """A Label Studio result cannot be turned into a mask (broken or unsupported region)."""

    def __init__(self, message: str, result: Mapping[str, Any] | None = None) -> None:
        region_id = result.get("id") if isinstance(result, Mapping) else None
        if region_id is not None:
            message = f"region {region_id}: {message}"
        super().__init__(message)
        self.region_id = region_id


# --------------------------------------------------------------------------------------
# Reading a result
# --------------------------------------------------------------------------------------


def _value(result: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(result, Mapping):
        raise RegionError(f"a result must be a mapping, got {type(result).__name__}")
    value = result.get("value")
    if not isinstance(value, Mapping):
        raise RegionError("result has no 'value' mapping", result)
    return value


def shape_of(result: Mapping[str, Any]) -> str | None:
    """``"brush"``, ``"polygon"``, ``"rectangle"``, ``"ellipse"``, or ``None`` for results
    that are not areas (choices, text, key points...). A result of type ``labels`` (a
    ``<Labels>`` control attached to a shape tool) is recognised by its value's keys."""
    if not isinstance(result, Mapping):
        return None
    kind = str(result.get("type", "")).lower()
    if kind in _TYPE_SHAPES:
        return _TYPE_SHAPES[kind]
    value = result.get("value")
    if not isinstance(value, Mapping):
        return None
    if "rle" in value or "rle" in result:
        return "brush"
    if "points" in value:
        return "polygon"
    if "radiusX" in value or "radiusY" in value:
        return "ellipse"
    if "width" in value and "height" in value and "x" in value and "y" in value:
        return "rectangle"
    return None


def is_region(result: Mapping[str, Any]) -> bool:
    """True when :func:`rasterize` knows the result's shape."""
    return shape_of(result) is not None


def labels_of(result: Mapping[str, Any]) -> list[str]:
    """The label names a region carries (``value.brushlabels``, ``value.polygonlabels``...,
    or ``value.labels``); empty when it has none (choices, text and the like)."""
    if not isinstance(result, Mapping):
        return []
    value = result.get("value")
    if not isinstance(value, Mapping):
        return []
    kind = str(result.get("type", "")).lower()
    keys = (kind, *_LABEL_KEYS) if kind.endswith("labels") else _LABEL_KEYS
    for key in keys:
        labels = value.get(key)
        if isinstance(labels, list):
            return [str(label) for label in labels]
    return []


def image_size(result: Mapping[str, Any]) -> tuple[int, int]:
    """``(width, height)`` of the image a result was drawn on."""
    if not isinstance(result, Mapping):
        raise RegionError(f"a result must be a mapping, got {type(result).__name__}")
    dims = []
    for key in ("original_width", "original_height"):
        raw = result.get(key)
        if raw is None:
            raise RegionError(
                f"result has no {key}; re-export the annotation from Label Studio so the "
                "image size is recorded",
                result,
            )
        if isinstance(raw, bool) or not isinstance(raw, (int, float, np.integer, np.floating)):
            raise RegionError(f"{key} must be a number, got {raw!r}", result)
        if not math.isfinite(raw) or raw != int(raw) or raw <= 0:
            raise RegionError(f"{key} must be a positive whole number, got {raw!r}", result)
        dims.append(int(raw))
    return dims[0], dims[1]


def _number(value: Mapping[str, Any], key: str, result: Mapping[str, Any]) -> float:
    raw = value.get(key)
    if raw is None:
        raise RegionError(f"value has no {key!r}", result)
    if isinstance(raw, bool) or not isinstance(raw, (int, float, np.integer, np.floating)):
        raise RegionError(f"{key} must be a number, got {raw!r}", result)
    number = float(raw)
    if not math.isfinite(number):
        raise RegionError(f"{key} is not a finite number ({raw!r})", result)
    return number


def _coordinate(value: Mapping[str, Any], key: str, result: Mapping[str, Any]) -> float:
    number = _number(value, key, result)
    _check_percent(number, key, result)
    return number


def _check_percent(number: float, what: str, result: Mapping[str, Any]) -> None:
    if not -BOUNDS_TOLERANCE <= number <= 100 + BOUNDS_TOLERANCE:
        raise RegionError(
            f"{what} = {number:g} is outside the image (coordinates are percentages 0..100)",
            result,
        )


def _extent(value: Mapping[str, Any], key: str, result: Mapping[str, Any]) -> float:
    number = _number(value, key, result)
    if number < 0:
        raise RegionError(f"{key} must not be negative, got {number:g}", result)
    return number


def _rotation(value: Mapping[str, Any], result: Mapping[str, Any]) -> float:
    if value.get("rotation") is None:
        return 0.0
    return _number(value, "rotation", result)


# --------------------------------------------------------------------------------------
# Pixel-space primitives
# --------------------------------------------------------------------------------------


def fill_polygon(
    points: np.ndarray | Sequence[Sequence[float]], width: int, height: int
) -> np.ndarray:
    """Fill a polygon given in pixel coordinates (``(x, y)`` pairs, x to the right, y down)
    into a ``height x width`` boolean mask: pixel centres inside by the non-zero winding
    rule. The polygon is closed implicitly; parts outside the image are clipped."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    mask = np.zeros((height, width), dtype=bool)
    if pts.shape[0] < 3:
        return mask
    x0, y0 = pts[:, 0], pts[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    keep = y0 != y1
    x0, y0, x1, y1 = x0[keep], y0[keep], x1[keep], y1[keep]
    if x0.size == 0:
        return mask
    direction = np.where(y1 > y0, 1, -1).astype(np.int64)
    # an edge crosses the centre line y = r + 0.5 of rows r with ylo <= r + 0.5 < yhi
    ylo, yhi = np.minimum(y0, y1), np.maximum(y0, y1)
    row_lo = np.clip(np.ceil(ylo - 0.5), 0, height).astype(np.int64)
    row_hi = np.clip(np.ceil(yhi - 0.5), 0, height).astype(np.int64)
    counts = np.maximum(row_hi - row_lo, 0)
    total = int(counts.sum())
    if total == 0:
        return mask
    edge = np.repeat(np.arange(x0.size), counts)
    first = np.cumsum(counts) - counts
    rows = row_lo[edge] + (np.arange(total) - first[edge])
    yc = rows + 0.5
    t = (yc - y0[edge]) / (y1[edge] - y0[edge])
    xc = x0[edge] + t * (x1[edge] - x0[edge])
    order = np.lexsort((xc, rows))
    rows, xc, wind = rows[order], xc[order], np.cumsum(direction[edge][order])
    # every closed polygon crosses each row as often upwards as downwards, so the running
    # winding number returns to 0 at the end of each row
    inside = np.flatnonzero(wind[:-1] != 0)
    span_rows = rows[inside]
    col_start = np.clip(np.ceil(xc[inside] - 0.5), 0, width).astype(np.int64)
    col_end = np.clip(np.ceil(xc[inside + 1] - 0.5), 0, width).astype(np.int64)
    ok = col_end > col_start
    span_rows, col_start, col_end = span_rows[ok], col_start[ok], col_end[ok]
    if span_rows.size == 0:
        return mask
    # spans never overlap, so a +1/-1 difference image over the bounding box suffices
    r0, r1 = int(span_rows.min()), int(span_rows.max()) + 1
    c0, c1 = int(col_start.min()), int(col_end.max())
    diff = np.zeros((r1 - r0, c1 - c0 + 1), dtype=np.int8)
    np.add.at(diff, (span_rows - r0, col_start - c0), 1)
    np.add.at(diff, (span_rows - r0, col_end - c0), -1)
    np.cumsum(diff, axis=1, out=diff)
    mask[r0:r1, c0:c1] = diff[:, :-1] > 0
    return mask


def rectangle_corners(x: float, y: float, w: float, h: float, rotation: float = 0.0) -> np.ndarray:
    """Corners of a rectangle in pixel space: top-left ``(x, y)``, size ``w x h``, rotated
    by ``rotation`` degrees about the top-left corner, clockwise on screen (y down), the
    way Label Studio draws it. Order: top-left, top-right, bottom-right, bottom-left."""
    theta = math.radians(rotation)
    cos, sin = math.cos(theta), math.sin(theta)
    return np.array(
        [
            (x, y),
            (x + w * cos, y + w * sin),
            (x + w * cos - h * sin, y + w * sin + h * cos),
            (x - h * sin, y + h * cos),
        ],
        dtype=np.float64,
    )


def ellipse_mask(
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    rotation: float,
    width: int,
    height: int,
) -> np.ndarray:
    """Pixel centres inside an ellipse (pixel space: centre, radii along its own axes,
    rotated ``rotation`` degrees clockwise on screen about the centre)."""
    mask = np.zeros((height, width), dtype=bool)
    if rx <= 0 or ry <= 0:
        return mask
    theta = math.radians(rotation)
    cos, sin = math.cos(theta), math.sin(theta)
    half_w = math.hypot(rx * cos, ry * sin)
    half_h = math.hypot(rx * sin, ry * cos)
    c0 = max(0, math.floor(cx - half_w - 0.5))
    c1 = min(width, math.ceil(cx + half_w + 0.5))
    r0 = max(0, math.floor(cy - half_h - 0.5))
    r1 = min(height, math.ceil(cy + half_h + 0.5))
    if c0 >= c1 or r0 >= r1:
        return mask
    dx = np.arange(c0, c1, dtype=np.float64)[None, :] + 0.5 - cx
    dy = np.arange(r0, r1, dtype=np.float64)[:, None] + 0.5 - cy
    with np.errstate(over="ignore"):  # a hair-thin ellipse: far points overflow to inf
        u = (dx * cos + dy * sin) / rx
        v = (dy * cos - dx * sin) / ry
        mask[r0:r1, c0:c1] = u * u + v * v <= 1.0
    return mask


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


def _check_threshold(threshold: int) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)):
        raise ValueError(f"threshold must be an integer 1..255, got {threshold!r}")
    if not 1 <= threshold <= 255:
        raise ValueError(f"threshold must be 1..255, got {threshold}")
    return int(threshold)


def brush_alpha(
    result: Mapping[str, Any], *, max_pixels: int = _rle.DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """The raw alpha channel (``height x width``, uint8 for Label Studio masks) of a brush
    result, anti-aliased edges included."""
    value = _value(result)
    width, height = image_size(result)
    fmt = value.get("format", "rle")
    if fmt != "rle":
        raise RegionError(f"brush format {fmt!r} is not supported (only 'rle')", result)
    stream = value.get("rle", result.get("rle"))
    if stream is None:
        raise RegionError("brush result has no 'rle'", result)
    try:
        return _rle.decode(stream, width, height, max_pixels=max_pixels)
    except _rle.RLEError as exc:
        raise RegionError(f"bad brush RLE: {exc}", result) from exc


def _polygon_points(result: Mapping[str, Any], width: int, height: int) -> np.ndarray:
    value = _value(result)
    points = value.get("points")
    if not isinstance(points, (list, tuple)):
        raise RegionError("polygon has no 'points' list", result)
    if len(points) < 3:
        raise RegionError(f"polygon has {len(points)} points, at least 3 are needed", result)
    out = np.empty((len(points), 2), dtype=np.float64)
    for n, point in enumerate(points):
        if not isinstance(point, (list, tuple)) or len(point) != 2:
            raise RegionError(f"polygon point {n} is not an [x, y] pair: {point!r}", result)
        for axis, coordinate in enumerate(point):
            if isinstance(coordinate, bool) or not isinstance(
                coordinate, (int, float, np.integer, np.floating)
            ):
                raise RegionError(f"polygon point {n} is not numeric: {point!r}", result)
            number = float(coordinate)
            if not math.isfinite(number):
                raise RegionError(f"polygon point {n} is not finite: {point!r}", result)
            _check_percent(number, f"polygon point {n} {'xy'[axis]}", result)
            out[n, axis] = number
    out[:, 0] *= width / 100.0
    out[:, 1] *= height / 100.0
    return out


def rasterize(
    result: Mapping[str, Any],
    *,
    threshold: int = DEFAULT_THRESHOLD,
    max_pixels: int = _rle.DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Turn one Label Studio result into a boolean ``original_height x original_width``
    mask.

    - brush (``BrushLabels``): alpha ``>= threshold`` (1..255; default 1 keeps the whole
      anti-aliased stroke).
    - polygon (``PolygonLabels``): ``points`` in percent of width/height.
    - rectangle (``RectangleLabels``): ``x, y, width, height`` in percent, ``rotation`` in
      degrees about the top-left corner.
    - ellipse (``EllipseLabels``): centre ``x, y``, ``radiusX`` (percent of width),
      ``radiusY`` (percent of height), ``rotation`` in degrees about the centre.

    Raises :class:`RegionError` for a broken or unsupported region (bad RLE, fewer than 3
    polygon points, coordinates that are not finite or lie outside the image, missing image
    size), which a caller can report and skip.
    """
    threshold = _check_threshold(threshold)
    shape = shape_of(result)
    if shape is None:
        kind = result.get("type") if isinstance(result, Mapping) else None
        raise RegionError(f"result type {kind!r} is not an area shape", result)
    width, height = image_size(result)
    if width * height > max_pixels:
        raise RegionError(
            f"image {width}x{height} is over the limit of {max_pixels} pixels", result
        )
    if shape == "brush":
        return brush_alpha(result, max_pixels=max_pixels) >= threshold
    value = _value(result)
    if shape == "polygon":
        return fill_polygon(_polygon_points(result, width, height), width, height)
    rotation = _rotation(value, result)
    if shape == "rectangle":
        x = _coordinate(value, "x", result) * width / 100.0
        y = _coordinate(value, "y", result) * height / 100.0
        w = _extent(value, "width", result) * width / 100.0
        h = _extent(value, "height", result) * height / 100.0
        return fill_polygon(rectangle_corners(x, y, w, h, rotation), width, height)
    # ellipse
    cx = _coordinate(value, "x", result) * width / 100.0
    cy = _coordinate(value, "y", result) * height / 100.0
    rx = _extent(value, "radiusX", result) * width / 100.0
    ry = _extent(value, "radiusY", result) * height / 100.0
    return ellipse_mask(cx, cy, rx, ry, rotation, width, height)
