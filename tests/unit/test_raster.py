"""Label Studio results to pixel masks, checked against pixel sets worked out by hand or by
a brute-force point-in-shape test at every pixel centre."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from label_studio_sdk.converter.brush import mask2rle

from toolkit.masks import raster, rle
from toolkit.masks.raster import RegionError, labels_of, rasterize

pytestmark = pytest.mark.unit


def result(kind: str, image_width: int, image_height: int, /, **value: object) -> dict:
    return {
        "id": "r1",
        "type": kind,
        "from_name": "label",
        "to_name": "image",
        "original_width": image_width,
        "original_height": image_height,
        "image_rotation": 0,
        "value": value,
    }


def box(height: int, width: int, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    out = np.zeros((height, width), dtype=bool)
    out[rows[0] : rows[1], cols[0] : cols[1]] = True
    return out


def winding_inside(points: np.ndarray, px: float, py: float) -> bool:
    """Non-zero winding number of (px, py), the textbook way (for the brute-force check)."""
    wn = 0
    n = len(points)
    for i in range(n):
        x0, y0 = points[i]
        x1, y1 = points[(i + 1) % n]
        cross = (x1 - x0) * (py - y0) - (px - x0) * (y1 - y0)
        if y0 <= py < y1 and cross > 0:
            wn += 1
        elif y1 <= py < y0 and cross < 0:
            wn -= 1
    return wn != 0


def near_an_edge(points: np.ndarray, px: float, py: float, eps: float = 1e-6) -> bool:
    n = len(points)
    for i in range(n):
        a, b = points[i], points[(i + 1) % n]
        ab = b - a
        t = np.clip(np.dot((px, py) - a, ab) / max(np.dot(ab, ab), 1e-300), 0, 1)
        if np.hypot(*((px, py) - (a + t * ab))) < eps:
            return True
    return False


def brute_force(points_px: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected mask and the pixels to compare (centres not on an edge)."""
    expected = np.zeros((height, width), dtype=bool)
    compare = np.ones((height, width), dtype=bool)
    for r in range(height):
        for c in range(width):
            px, py = c + 0.5, r + 0.5
            expected[r, c] = winding_inside(points_px, px, py)
            compare[r, c] = not near_an_edge(points_px, px, py)
    return expected, compare


# --------------------------------------------------------------------------------------
# Rectangles
# --------------------------------------------------------------------------------------


def test_rectangle_on_a_non_square_image() -> None:
    # 200 x 50 image: x 10% = 20 px, width 25% = 50 px, y 20% = 10 px, height 50% = 25 px
    r = result("rectanglelabels", 200, 50, x=10, y=20, width=25, height=50, rotation=0)
    np.testing.assert_array_equal(rasterize(r), box(50, 200, (10, 35), (20, 70)))


def test_rectangle_edges_between_pixel_centres() -> None:
    # x from 10.3 px to 19.7 px covers the centres 10.5 .. 19.5 -> columns 10..19
    r = result("rectanglelabels", 100, 40, x=10.3, y=25.5, width=9.4, height=30, rotation=0)
    # y from 10.2 px to 22.2 px covers centres 10.5 .. 21.5 -> rows 10..21
    np.testing.assert_array_equal(rasterize(r), box(40, 100, (10, 22), (10, 20)))


@pytest.mark.parametrize(
    ("rotation", "rows", "cols"),
    [
        # top-left corner at (40, 20) px; 30 px wide (15% of 200), 10 px high (25% of 40)
        (0, (20, 30), (40, 70)),
        (90, (20, 50), (30, 40)),  # width now runs down, height runs left
        (180, (10, 20), (10, 40)),
        (270, (0, 20), (40, 50)),
        (-90, (0, 20), (40, 50)),
        (360, (20, 30), (40, 70)),
    ],
)
def test_rectangle_rotation_is_about_the_top_left_corner(
    rotation: float, rows: tuple[int, int], cols: tuple[int, int]
) -> None:
    r = result("rectanglelabels", 200, 40, x=20, y=50, width=15, height=25, rotation=rotation)
    np.testing.assert_array_equal(rasterize(r), box(40, 200, rows, cols))


@settings(max_examples=25, deadline=None)
@given(
    x=st.floats(5, 80),
    y=st.floats(5, 80),
    w=st.floats(0, 40),
    h=st.floats(0, 40),
    rotation=st.floats(-360, 360),
)
def test_rotated_rectangle_matches_brute_force(
    x: float, y: float, w: float, h: float, rotation: float
) -> None:
    width, height = 37, 23
    r = result("rectanglelabels", width, height, x=x, y=y, width=w, height=h, rotation=rotation)
    theta = math.radians(rotation)
    x0, y0, wp, hp = x * width / 100, y * height / 100, w * width / 100, h * height / 100
    u = np.array([math.cos(theta), math.sin(theta)]) * wp
    v = np.array([-math.sin(theta), math.cos(theta)]) * hp
    corners = np.array([[x0, y0], [x0, y0] + u, [x0, y0] + u + v, [x0, y0] + v])
    expected, compare = brute_force(corners, width, height)
    got = rasterize(r)
    np.testing.assert_array_equal(got[compare], expected[compare])


# --------------------------------------------------------------------------------------
# Polygons
# --------------------------------------------------------------------------------------


def test_axis_aligned_polygon_on_a_non_square_image() -> None:
    r = result("polygonlabels", 300, 60, points=[[10, 50], [50, 50], [50, 100], [10, 100]])
    np.testing.assert_array_equal(rasterize(r), box(60, 300, (30, 60), (30, 150)))


def test_right_triangle_by_hand() -> None:
    # vertices (0,0), (8,0), (0,8) px on a 10 x 10 image: centre (c+.5, r+.5) is inside
    # when c + r + 1 < 8, i.e. c + r <= 6 (the diagonal itself is the closing right edge)
    r = result("polygonlabels", 10, 10, points=[[0, 0], [80, 0], [0, 80]])
    rr, cc = np.mgrid[:10, :10]
    np.testing.assert_array_equal(rasterize(r), (rr + cc) <= 6)


def test_point_order_does_not_matter() -> None:
    points = [[12.5, 7.1], [80.2, 20.4], [60.7, 90.3], [20.1, 70.6]]
    a = rasterize(result("polygonlabels", 50, 30, points=points))
    b = rasterize(result("polygonlabels", 50, 30, points=points[::-1]))
    np.testing.assert_array_equal(a, b)
    assert a.sum() > 100


def test_self_intersecting_star_uses_non_zero_winding() -> None:
    # a pentagram: the centre pentagon has winding number 2 and is filled, as the
    # browser canvas (non-zero rule) shows it
    angles = [math.radians(-90 + 144 * k) for k in range(5)]
    points = [[50 + 40 * math.cos(a), 50 + 40 * math.sin(a)] for a in angles]
    mask = rasterize(result("polygonlabels", 101, 101, points=points))
    assert mask[50, 50]
    expected, compare = brute_force(np.array(points) * 1.01, 101, 101)
    np.testing.assert_array_equal(mask[compare], expected[compare])


@settings(max_examples=30, deadline=None)
@given(points=st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)), min_size=3, max_size=9))
def test_random_polygons_match_brute_force(points: list[tuple[float, float]]) -> None:
    width, height = 31, 19
    r = result("polygonlabels", width, height, points=[list(p) for p in points])
    px = np.array(points) * [width / 100, height / 100]
    expected, compare = brute_force(px, width, height)
    np.testing.assert_array_equal(rasterize(r)[compare], expected[compare])


def test_shapes_sharing_an_edge_share_no_pixel() -> None:
    left = rasterize(
        result("polygonlabels", 40, 20, points=[[0, 0], [52.5, 0], [47.5, 100], [0, 100]])
    )
    right = rasterize(
        result("polygonlabels", 40, 20, points=[[52.5, 0], [100, 0], [100, 100], [47.5, 100]])
    )
    assert not (left & right).any()
    assert (left | right).all()


def test_polygon_parts_outside_the_image_are_clipped() -> None:
    r = result("polygonlabels", 20, 10, points=[[-0.5, -0.5], [100.5, -0.5], [100.5, 100.5]])
    mask = rasterize(r)
    assert mask.shape == (10, 20)
    # the triangle above the diagonal: pixel centres with x > y (in percent)
    rows, cols = np.mgrid[:10, :20]
    np.testing.assert_array_equal(mask, (cols + 0.5) / 20 > (rows + 0.5) / 10)


# --------------------------------------------------------------------------------------
# Ellipses
# --------------------------------------------------------------------------------------


def test_circle_of_radius_two_by_hand() -> None:
    # centre on the pixel centre (5.5, 5.5); integer offsets with dx^2 + dy^2 <= 4: 13 px
    r = result("ellipselabels", 11, 11, x=50, y=50, radiusX=200 / 11, radiusY=200 / 11)
    mask = rasterize(r)
    expected = np.zeros((11, 11), dtype=bool)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            if dx * dx + dy * dy <= 4:
                expected[5 + dy, 5 + dx] = True
    np.testing.assert_array_equal(mask, expected)
    assert mask.sum() == 13


def test_ellipse_radii_scale_with_each_image_side() -> None:
    # 200 x 100 image: radiusX 10% of 200 = 20 px, radiusY 20% of 100 = 20 px: a circle
    mask = rasterize(result("ellipselabels", 200, 100, x=50, y=50, radiusX=10, radiusY=20))
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (30, 69, 80, 119)
    np.testing.assert_array_equal(mask, mask.T[:, ::-1].T)  # symmetric
    np.testing.assert_array_equal(mask[30:70, 80:120], mask[30:70, 80:120].T)


@pytest.mark.parametrize("rotation", [90, -90, 270])
def test_ellipse_rotated_a_quarter_turn_swaps_its_axes(rotation: float) -> None:
    # on a square image, radii 30 x 10 px rotated 90 degrees = radii 10 x 30 px
    turned = rasterize(
        result("ellipselabels", 100, 100, x=50, y=50, radiusX=30, radiusY=10, rotation=rotation)
    )
    upright = rasterize(result("ellipselabels", 100, 100, x=50, y=50, radiusX=10, radiusY=30))
    np.testing.assert_array_equal(turned, upright)


@settings(max_examples=25, deadline=None)
@given(
    cx=st.floats(10, 90),
    cy=st.floats(10, 90),
    rx=st.one_of(st.just(0.0), st.floats(0.01, 50)),
    ry=st.one_of(st.just(0.0), st.floats(0.01, 50)),
    rotation=st.floats(-180, 180),
)
def test_rotated_ellipse_matches_its_equation(
    cx: float, cy: float, rx: float, ry: float, rotation: float
) -> None:
    width, height = 41, 27
    mask = rasterize(
        result(
            "ellipselabels", width, height, x=cx, y=cy, radiusX=rx, radiusY=ry, rotation=rotation
        )
    )
    a, b = rx * width / 100, ry * height / 100
    x0, y0 = cx * width / 100, cy * height / 100
    t = math.radians(rotation)
    for r in range(height):
        for c in range(width):
            # the point relative to the centre, rotated back by -rotation
            dx, dy = c + 0.5 - x0, r + 0.5 - y0
            u = dx * math.cos(-t) - dy * math.sin(-t)
            v = dx * math.sin(-t) + dy * math.cos(-t)
            if a == 0 or b == 0:
                assert not mask[r, c]
                continue
            level = (u / a) ** 2 + (v / b) ** 2
            if abs(level - 1) > 1e-9:
                assert mask[r, c] == (level < 1), (r, c, level)


# --------------------------------------------------------------------------------------
# Brushes
# --------------------------------------------------------------------------------------


def stroke() -> np.ndarray:
    """A thin anti-aliased stroke: core 255, halo with soft alpha."""
    alpha = np.zeros((20, 30), dtype=np.uint8)
    alpha[9:11, 5:25] = 255
    alpha[8, 5:25] = 90
    alpha[11, 5:25] = 30
    alpha[7, 5:25] = 1
    return alpha


def test_brush_threshold_default_keeps_the_whole_halo() -> None:
    alpha = stroke()
    r = result("brushlabels", 30, 20, format="rle", rle=mask2rle(alpha), brushlabels=["remove"])
    assert raster.DEFAULT_THRESHOLD == 1
    np.testing.assert_array_equal(rasterize(r), alpha > 0)
    np.testing.assert_array_equal(rasterize(r, threshold=128), alpha >= 128)
    np.testing.assert_array_equal(rasterize(r, threshold=90), alpha >= 90)
    np.testing.assert_array_equal(raster.brush_alpha(r), alpha)


def test_brush_from_the_editor_with_colour_channels() -> None:
    # the alpha channel decides, whatever R, G, B hold
    alpha = stroke()
    rgba = np.stack([255 - alpha, np.full_like(alpha, 7), alpha, alpha], axis=-1)
    stream = rle.encode_values(rgba.reshape(-1), compact=True)
    r = result("brushlabels", 30, 20, format="rle", rle=list(stream), brushlabels=["x"])
    np.testing.assert_array_equal(rasterize(r), alpha > 0)


@pytest.mark.parametrize("threshold", [0, 256, 1.5, True, "1"])
def test_bad_threshold(threshold: object) -> None:
    r = result("brushlabels", 30, 20, format="rle", rle=mask2rle(stroke()))
    with pytest.raises(ValueError, match="threshold"):
        rasterize(r, threshold=threshold)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Labels, shapes, broken regions
# --------------------------------------------------------------------------------------


def test_labels_of_each_kind() -> None:
    assert labels_of(result("brushlabels", 4, 4, rle=[], brushlabels=["a", "b"])) == ["a", "b"]
    assert labels_of(result("polygonlabels", 4, 4, points=[], polygonlabels=["p"])) == ["p"]
    assert labels_of(result("rectanglelabels", 4, 4, rectanglelabels=["r"])) == ["r"]
    assert labels_of(result("ellipselabels", 4, 4, ellipselabels=["e"])) == ["e"]
    assert labels_of(result("labels", 4, 4, x=1, y=1, width=2, height=2, labels=["l"])) == ["l"]
    assert labels_of(result("choices", 4, 4, choices=["c"])) == []
    assert labels_of({"type": "brushlabels"}) == []


def test_shape_of_labels_results_comes_from_the_value() -> None:
    assert raster.shape_of(result("labels", 4, 4, points=[[0, 0]], labels=["a"])) == "polygon"
    assert raster.shape_of(result("labels", 4, 4, x=1, y=1, radiusX=1, radiusY=1)) == "ellipse"
    assert raster.shape_of(result("labels", 4, 4, x=1, y=1, width=1, height=1)) == "rectangle"
    assert raster.shape_of(result("labels", 4, 4, rle=[1], format="rle")) == "brush"
    assert raster.shape_of(result("choices", 4, 4, choices=["c"])) is None
    assert not raster.is_region(result("keypointlabels", 4, 4, x=1, y=1))
    mask = rasterize(result("labels", 10, 10, x=0, y=0, width=50, height=100, labels=["a"]))
    np.testing.assert_array_equal(mask, box(10, 10, (0, 10), (0, 5)))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (result("polygonlabels", 10, 10, points=[[1, 1], [5, 5]]), "at least 3"),
        (result("polygonlabels", 10, 10, points=[[1, 1], [5, 5], [150, 3]]), "outside"),
        (result("polygonlabels", 10, 10, points=[[1, 1], [5, 5], [float("nan"), 3]]), "finite"),
        (result("polygonlabels", 10, 10, points=[[1, 1], [5, 5], [3]]), "pair"),
        (result("polygonlabels", 10, 10, points="1,2"), "points"),
        (result("rectanglelabels", 10, 10, x=-20, y=0, width=5, height=5), "outside"),
        (result("rectanglelabels", 10, 10, x=0, y=0, width=-5, height=5), "negative"),
        (result("rectanglelabels", 10, 10, x=0, y=0, width=5), "height"),
        (result("rectanglelabels", 10, 10, x=0, y=0, width=5, height="5"), "number"),
        (result("ellipselabels", 10, 10, x=50, y=50, radiusX=5, radiusY=float("inf")), "finite"),
        (result("ellipselabels", 10, 10, x=50, y=50, radiusX=30, radiusY=30, rotation=None), None),
        (result("brushlabels", 10, 10, format="rle", rle=[0, 0, 1]), "bad brush RLE"),
        (
            result("brushlabels", 10, 10, format="rle", rle=mask2rle(np.zeros((5, 5), np.uint8))),
            "another size",
        ),
        (result("brushlabels", 10, 10, format="png", rle=[1]), "format"),
        (result("brushlabels", 10, 10, format="rle"), "no 'rle'"),
        (result("choices", 10, 10, choices=["a"]), "not an area"),
        (
            {
                **result("polygonlabels", 10, 10, points=[[1, 1], [5, 5], [3, 9]]),
                "original_width": None,
            },
            "original_width",
        ),
        (
            {
                **result("polygonlabels", 10, 10, points=[[1, 1], [5, 5], [3, 9]]),
                "original_height": 0,
            },
            "original_height",
        ),
        (
            {
                **result("polygonlabels", 10, 10, points=[[1, 1], [5, 5], [3, 9]]),
                "original_height": 10.5,
            },
            "original_height",
        ),
        ({"id": "r1", "type": "polygonlabels", "original_width": 5, "original_height": 5}, "value"),
    ],
)
def test_broken_regions_raise_region_error(bad: dict, match: str | None) -> None:
    if match is None:  # rotation None means no rotation: fine
        assert rasterize(bad).any()
        return
    with pytest.raises(RegionError, match=match) as info:
        rasterize(bad)
    assert "r1" in str(info.value)
    assert info.value.region_id == "r1"
    assert isinstance(info.value, ValueError)


def test_size_limit() -> None:
    r = result("rectanglelabels", 5000, 5000, x=0, y=0, width=1, height=1)
    with pytest.raises(RegionError, match="limit"):
        rasterize(r, max_pixels=1000)


def test_empty_and_degenerate_shapes_give_empty_masks() -> None:
    thin = result("ellipselabels", 9, 7, x=50, y=40, radiusX=30, radiusY=1e-300, rotation=0)
    assert not rasterize(thin).any()
    assert not rasterize(result("rectanglelabels", 9, 7, x=10, y=10, width=0, height=50)).any()
    assert not rasterize(result("ellipselabels", 9, 7, x=50, y=50, radiusX=0, radiusY=3)).any()
    flat = result("polygonlabels", 9, 7, points=[[10, 10], [50, 10], [90, 10]])
    assert not rasterize(flat).any()
