"""Generate the example's sample images and their object masks (deterministic).

Street-like scenes with objects to remove (cars, people, signs); each mask is exactly the
objects' pixels, standing in for a segmentation model's output. One photo is stored
rotated with an EXIF orientation tag, as phones do, with its mask in displayed orientation.

    python examples/inpainting/make_samples.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).parent
SIZES = [(640, 427), (480, 640), (512, 512), (800, 450), (640, 480), (427, 640)]
EXIF_ROTATED = "street-05.jpg"  # stored landscape, shown portrait (orientation 6)


def draw_object(
    canvas: ImageDraw.ImageDraw,
    kind: str,
    at: tuple[int, int, float],
    fill: tuple[int, ...] | int,
    tyre: tuple[int, ...] | int,
) -> None:
    """One car, person or sign with its base at (x, y), scaled by k."""
    x, y, k = at

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
        return (int(x + x0 * k), int(y + y0 * k), int(x + x1 * k), int(y + y1 * k))

    if kind == "car":
        canvas.rounded_rectangle(box(0, -35, 110, 0), radius=int(10 * k), fill=fill)
        canvas.ellipse(box(12, -12, 34, 10), fill=tyre)
        canvas.ellipse(box(76, -12, 98, 10), fill=tyre)
    elif kind == "person":
        canvas.ellipse(box(8, -70, 24, -54), fill=fill)
        canvas.rectangle(box(6, -54, 26, 0), fill=fill)
    else:
        canvas.rectangle(box(14, -60, 18, 0), fill=fill)
        top = box(0, -80, 32, -56)
        canvas.polygon([top[:2], (top[2], top[1]), ((top[0] + top[2]) // 2, top[3])], fill=fill)


def scene(rng: np.random.Generator, width: int, height: int) -> tuple[Image.Image, Image.Image]:
    horizon = int(height * rng.uniform(0.45, 0.6))
    sky = np.linspace([120, 170, 230], [200, 220, 240], horizon).astype(np.uint8)
    ground = np.linspace([90, 90, 95], [60, 60, 65], height - horizon).astype(np.uint8)
    rows = np.concatenate([sky, ground])[:, None, :].repeat(width, axis=1).astype(np.int16)
    rows += rng.integers(-8, 9, rows.shape, dtype=np.int16)
    image = Image.fromarray(rows.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 6))):  # buildings: background, kept
        x = int(rng.integers(0, width - 60))
        w, h = int(rng.integers(60, width // 3)), int(rng.integers(horizon // 3, horizon))
        shade = int(rng.integers(110, 190))
        draw.rectangle((x, horizon - h, x + w, horizon), fill=(shade, shade - 10, shade - 25))
    mask = Image.new("L", (width, height), 0)
    objects = ImageDraw.Draw(mask)
    k = width / 320  # objects scale with the picture
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.choice(["car", "person", "sign"])
        x = int(rng.integers(5, int(width - 115 * k)))
        y = int(rng.integers(horizon + int(20 * k), height - 5))
        color = tuple(int(c) for c in rng.integers(30, 230, 3))
        wheel = (20, 20, 20)
        for canvas, fill, tyre in ((draw, color, wheel), (objects, 255, 255)):
            draw_object(canvas, str(kind), (x, y, k), fill, tyre)
    return image.filter(ImageFilter.SMOOTH), mask


def main() -> None:
    rng = np.random.default_rng(7)
    (HERE / "images").mkdir(exist_ok=True)
    (HERE / "masks").mkdir(exist_ok=True)
    for i, (width, height) in enumerate(SIZES):
        name = f"street-{i:02d}.jpg"
        image, mask = scene(rng, width, height)
        if name == EXIF_ROTATED:
            exif = Image.Exif()
            exif[0x0112] = 6  # viewers rotate 90 degrees clockwise to display it
            stored = image.transpose(Image.Transpose.ROTATE_90)
            stored.save(HERE / "images" / name, quality=88, exif=exif.tobytes())
        else:
            image.save(HERE / "images" / name, quality=88)
        mask.save(HERE / "masks" / f"street-{i:02d}.png", optimize=True)


if __name__ == "__main__":
    main()
