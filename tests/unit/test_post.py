"""Inpainting masks, label-index maps and colour maps, checked against hand-made sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.masks import post
from toolkit.masks.post import (
    control_map,
    dilate_mask,
    feather_mask,
    inpaint_mask,
    parse_color,
    remove_small,
    semantic_mask,
)

pytestmark = pytest.mark.unit


def dot(height: int = 21, width: int = 31, row: int = 10, col: int = 15) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[row, col] = True
    return mask


def disc_offsets(radius: float, height: int = 21, width: int = 31) -> np.ndarray:
    """Every pixel whose integer offset from (10, 15) is within ``radius``."""
    rows, cols = np.mgrid[:height, :width]
    return (rows - 10) ** 2 + (cols - 15) ** 2 <= radius * radius


def test_union_of_bool_and_uint8_masks() -> None:
    a = np.zeros((4, 6), dtype=bool)
    a[0, 0] = True
    b = np.zeros((4, 6), dtype=np.uint8)
    b[3, 5] = 255
    c = np.zeros((4, 6), dtype=np.uint8)
    c[1, 1] = 1
    out = post.union([a, b, c])
    assert out.dtype == np.bool_
    assert out.sum() == 3 and out[0, 0] and out[3, 5] and out[1, 1]
    assert not a[3, 5]  # inputs untouched


def test_union_errors_and_empty() -> None:
    with pytest.raises(ValueError, match="size"):
        post.union([np.zeros((2, 2)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match="2-D"):
        post.union([np.zeros((2, 2, 3))])
    with pytest.raises(ValueError, match="shape"):
        post.union([])
    assert not post.union([], shape=(3, 4)).any()


@pytest.mark.parametrize("radius", [0, 1, 1.5, 2, 3, 5, 7])
def test_dilate_is_a_euclidean_disc(radius: float) -> None:
    np.testing.assert_array_equal(dilate_mask(dot(), radius), disc_offsets(radius))


def test_dilate_does_not_wrap_and_handles_full_and_empty() -> None:
    corner = dot(row=0, col=0)
    out = dilate_mask(corner, 2)
    assert out[0, 2] and out[2, 0] and out[1, 1] and not out[2, 2] and not out[-1, -1]
    assert not dilate_mask(np.zeros((5, 5), bool), 3).any()
    assert dilate_mask(np.ones((5, 5), bool), 3).all()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), radius=st.integers(0, 4))
def test_dilate_matches_brute_force(seed: int, radius: int) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random((12, 17)) < 0.05
    expected = np.zeros_like(mask)
    for r, c in zip(*np.nonzero(mask), strict=True):
        rows, cols = np.mgrid[:12, :17]
        expected |= (rows - r) ** 2 + (cols - c) ** 2 <= radius * radius
    np.testing.assert_array_equal(dilate_mask(mask, radius), expected)


def test_remove_small_uses_8_connectivity() -> None:
    mask = np.zeros((12, 12), dtype=bool)
    mask[0, 0] = True  # 1 px
    mask[5, 5] = mask[6, 6] = mask[7, 7] = True  # 3 px, diagonal: one component
    mask[9:12, 9:12] = True  # 9 px
    out = remove_small(mask, 3)
    expected = mask.copy()
    expected[0, 0] = False
    np.testing.assert_array_equal(out, expected)
    only_big = remove_small(mask, 4)
    assert only_big.sum() == 9 and only_big[10, 10]
    np.testing.assert_array_equal(remove_small(mask, 0), mask)


def test_feather_ramp_by_hand() -> None:
    out = feather_mask(dot(), 2)
    assert out.dtype == np.uint8
    # 255 * (1 - d / 3) at the distances of the nearest offsets
    for (dr, dc), value in {
        (0, 0): 255,
        (0, 1): 170,
        (1, 1): round(255 * (1 - math.sqrt(2) / 3)),
        (0, 2): 85,
        (1, 2): round(255 * (1 - math.sqrt(5) / 3)),
        (2, 2): round(255 * (1 - math.sqrt(8) / 3)),
        (0, 3): 0,
        (3, 3): 0,
    }.items():
        assert out[10 + dr, 15 + dc] == value, (dr, dc)
        assert out[10 - dr, 15 - dc] == value, (dr, dc)
    # the soft edge only ever adds coverage: the mask itself stays 255
    blob = np.zeros((20, 20), dtype=bool)
    blob[5:15, 4:12] = True
    soft = feather_mask(blob, 3)
    assert (soft[blob] == 255).all()
    assert (soft[dilate_mask(blob, 3) & ~blob] > 0).all()
    assert (soft[~dilate_mask(blob, 4)] == 0).all()


def test_feather_zero_is_hard() -> None:
    out = feather_mask(dot(), 0)
    assert set(np.unique(out)) == {0, 255}
    assert out.sum() == 255


def test_inpaint_mask_defaults_are_a_hard_union() -> None:
    a, b = dot(row=2, col=3), dot(row=18, col=20)
    out = inpaint_mask([a, b.astype(np.uint8) * 255])
    assert out.dtype == np.uint8 and out.shape == (21, 31)
    np.testing.assert_array_equal(out, (a | b).astype(np.uint8) * 255)


def test_inpaint_mask_steps_in_order() -> None:
    speck = dot(row=1, col=1)
    blob = np.zeros((21, 31), dtype=bool)
    blob[8:13, 12:19] = True  # 35 px
    # min_area drops the speck before anything grows it
    out = inpaint_mask([speck, blob], min_area=2, dilate=1)
    np.testing.assert_array_equal(out > 0, dilate_mask(blob, 1))
    # invert: inpaint everything but the labels; dilate then grows the inpaint area
    inverted = inpaint_mask([blob], invert=True, dilate=1)
    np.testing.assert_array_equal(inverted > 0, dilate_mask(~blob, 1))
    assert (inverted[10, 15] == 0) and (inverted[8, 12] == 255)
    # feather on top of dilation
    soft = inpaint_mask([blob], dilate=2, feather=3)
    np.testing.assert_array_equal(soft, feather_mask(dilate_mask(blob, 2), 3))


def test_inpaint_mask_with_no_regions() -> None:
    assert not inpaint_mask([], shape=(4, 5)).any()
    assert (inpaint_mask([], shape=(4, 5), invert=True) == 255).all()


@pytest.mark.parametrize("kwargs", [{"dilate": -1}, {"feather": -2}, {"min_area": -1}])
def test_inpaint_mask_rejects_negative_options(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        inpaint_mask([dot()], **kwargs)


def test_semantic_mask_later_labels_win() -> None:
    remove = np.zeros((3, 4), dtype=bool)
    remove[:, :3] = True
    protect = np.zeros((3, 4), dtype=np.uint8)
    protect[1, 1:] = 255
    other = np.ones((3, 4), dtype=bool)
    sem = semantic_mask(
        {"remove": remove, "protect": protect, "other": other}, ["remove", "protect"]
    )
    assert sem.dtype == np.uint8
    np.testing.assert_array_equal(
        sem,
        [[1, 1, 1, 0], [1, 2, 2, 2], [1, 1, 1, 0]],
    )
    swapped = semantic_mask({"remove": remove, "protect": protect}, ["protect", "remove"])
    np.testing.assert_array_equal(swapped, [[2, 2, 2, 0], [2, 2, 2, 1], [2, 2, 2, 0]])


def test_semantic_mask_edges() -> None:
    assert not semantic_mask({}, ["a"], shape=(2, 2)).any()
    with pytest.raises(ValueError, match="shape"):
        semantic_mask({}, ["a"])
    with pytest.raises(ValueError, match="unique"):
        semantic_mask({}, ["a", "a"], shape=(2, 2))
    many = [f"l{i}" for i in range(300)]
    sem = semantic_mask({"l299": np.ones((2, 2), bool)}, many)
    assert sem.dtype == np.uint16 and (sem == 300).all()


def test_control_map_colours() -> None:
    sem = np.array([[0, 1], [2, 1]], dtype=np.uint8)
    out = control_map(sem, ["#ff3b30", (52, 199, 89)])
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], (0, 0, 0))
    np.testing.assert_array_equal(out[0, 1], (255, 59, 48))
    np.testing.assert_array_equal(out[1, 0], (52, 199, 89))
    grey = control_map(sem, ["#fff", "#000"], background="#808080")
    np.testing.assert_array_equal(grey[0, 0], (128, 128, 128))
    with pytest.raises(ValueError, match="colours"):
        control_map(sem, ["#ffffff"])
    with pytest.raises(ValueError):
        control_map(sem, [(1, 2)])


@pytest.mark.parametrize(
    ("text", "rgb"),
    [
        ("#ff3b30", (255, 59, 48)),
        ("#FF3B30", (255, 59, 48)),
        ("34c759", (52, 199, 89)),
        ("#abc", (170, 187, 204)),
        (" #000000 ", (0, 0, 0)),
    ],
)
def test_parse_color(text: str, rgb: tuple[int, int, int]) -> None:
    assert parse_color(text) == rgb


@pytest.mark.parametrize("text", ["#12345", "red", "#gg0000", "", "#ff3b30ff", None])
def test_parse_color_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="rrggbb"):
        parse_color(text)  # type: ignore[arg-type]


def test_palette_is_distinct_and_stable() -> None:
    colours = post.palette(50)
    assert len(set(colours)) == 50
    assert (0, 0, 0) not in colours
    assert colours[:3] == [(128, 0, 0), (0, 128, 0), (128, 128, 0)]
    assert post.palette(50) == colours
