"""Small helpers shared by the ls-tier tests: sample images, spec files, the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tests.conftest import LiveServer


def lstk(
    server: LiveServer, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolkit.cli", *args],
        capture_output=True,
        text=True,
        env=server.env(),
        cwd=cwd,
        timeout=600,
    )


def write_spec(folder: Path, text: str) -> Path:
    path = folder / "project.yaml"
    path.write_text(text)
    return path


def sample_images(
    folder: Path, count: int, size: tuple[int, int] = (96, 64)
) -> dict[str, np.ndarray]:
    """JPEG images in folder/images and a mask per image in folder/masks; returns the masks."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    masks = {}
    rng = np.random.default_rng(count)
    width, height = size
    for i in range(count):
        name = f"img{i:04d}"
        pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "images" / f"{name}.jpg", quality=80)
        mask = Image.new("L", size, 0)
        x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
        ImageDraw.Draw(mask).ellipse((x0, y0, x0 + width // 3, y0 + height // 3), fill=255)
        mask.save(folder / "masks" / f"{name}.png")
        masks[f"{name}.jpg"] = np.asarray(mask)
    return masks
