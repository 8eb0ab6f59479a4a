from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from toolkit.images import SWAPS_AXES, MaskMismatch, load_mask, probe_image


def rotated_jpeg(path: Path, orientation: int, size: tuple[int, int] = (60, 20)) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.new("RGB", size, "white").save(path, exif=exif.tobytes())


@pytest.mark.parametrize("orientation", range(1, 9))
def test_probe_reports_displayed_size(tmp_path: Path, orientation: int) -> None:
    rotated_jpeg(tmp_path / "a.jpg", orientation)
    size = probe_image(tmp_path / "a.jpg")
    with Image.open(tmp_path / "a.jpg") as img:
        shown = ImageOps.exif_transpose(img).size
    assert (size.width, size.height) == shown
    assert size.raw == (60, 20)


@pytest.mark.parametrize("orientation", sorted(SWAPS_AXES))
def test_raw_oriented_mask_follows_the_image(tmp_path: Path, orientation: int) -> None:
    rng = np.random.default_rng(orientation)
    pixels = rng.integers(0, 255, (20, 60, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(tmp_path / "a.png", exif=exif.tobytes())
    raw_mask = (pixels[..., 0] > 127).astype(np.uint8) * 255
    Image.fromarray(raw_mask).save(tmp_path / "m.png")
    size = probe_image(tmp_path / "a.png")
    mask = load_mask(tmp_path / "m.png", size)
    # Rotate the image's own red channel the way a viewer does; the mask must match it.
    with Image.open(tmp_path / "a.png") as img:
        shown = np.asarray(ImageOps.exif_transpose(img))[..., 0] > 127
    np.testing.assert_array_equal(mask > 0, shown)


@pytest.mark.parametrize("orientation", [1, 2, 3, 4])
def test_same_size_mask_is_taken_as_displayed(tmp_path: Path, orientation: int) -> None:
    """Its size cannot tell a raw-oriented mask apart: it is read as displayed (documented)."""
    rotated_jpeg(tmp_path / "a.jpg", orientation)
    mask = np.zeros((20, 60), dtype=np.uint8)
    mask[:5, :7] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    np.testing.assert_array_equal(
        load_mask(tmp_path / "m.png", probe_image(tmp_path / "a.jpg")), mask
    )


def test_mask_is_binarised_at_128(tmp_path: Path) -> None:
    Image.fromarray(np.array([[0, 127, 128, 255]], dtype=np.uint8)).save(tmp_path / "m.png")
    np.testing.assert_array_equal(load_mask(tmp_path / "m.png", None), [[0, 0, 255, 255]])


def test_wrong_size_mask_is_named(tmp_path: Path) -> None:
    Image.new("RGB", (30, 20)).save(tmp_path / "a.png")
    Image.new("L", (31, 20)).save(tmp_path / "m.png")
    with pytest.raises(MaskMismatch, match="31x20.*30x20"):
        load_mask(tmp_path / "m.png", probe_image(tmp_path / "a.png"))


@pytest.mark.parametrize("content", [b"", b"GIF89a", b"\x89PNG\r\n\x1a\n" + b"\0" * 20, b"text"])
def test_unreadable_images_raise_value_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(ValueError, match="not a readable image"):
        probe_image(tmp_path / "x.png")


def test_truncated_jpeg_is_caught(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(tmp_path / "a.jpg")
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "a.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError):
        probe_image(tmp_path / "a.jpg")
