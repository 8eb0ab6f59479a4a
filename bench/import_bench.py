"""Benchmark: `lstk import` against a naive loop of one SDK call per task, then per prediction.

Both sides import the same images (local-files URLs, no upload) with the same brush
masks into fresh projects on one real local Label Studio, in one run. The naive loop uses
the toolkit's RLE encoder too, so the comparison is about how tasks reach the server.

    python bench/import_bench.py [--count 2000] [--width 1024] [--height 768]
"""

from __future__ import annotations

import argparse
import platform
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from toolkit import importer, labeling, provision
from toolkit.images import load_mask
from toolkit.importer import FileServing
from toolkit.masks.rle import encode
from toolkit.runtime import local
from toolkit.server import Client
from toolkit.spec import load

SPEC = """
project:
  title: {title}
  tools: [brush]
  labels: [remove]
data:
  images: ./images
  masks: ./masks
  model_version: bench
"""


def make_data(root: Path, count: int, width: int, height: int) -> None:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8))
    base = base.resize((width, height), Image.Resampling.BICUBIC)
    for i in range(count):
        image = base.rotate(i % 360)
        image.save(root / "images" / f"{i:05d}.jpg", quality=85)
        mask = Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(mask)
        for _ in range(4):
            x, y = int(rng.integers(0, width - 200)), int(rng.integers(0, height - 200))
            draw.ellipse(
                (x, y, x + int(rng.integers(40, 200)), y + int(rng.integers(40, 200))), 255
            )
        mask.filter(ImageFilter.GaussianBlur(3)).point(lambda v: 255 if v > 127 else 0).save(
            root / "masks" / f"{i:05d}.png"
        )


def naive_loop(client: Client, project_id: int, root: Path, files: FileServing) -> float:
    """What a user writes by hand: one SDK call per task, then one per prediction."""
    sdk = client.sdk
    config = labeling.read(client.get(f"/api/projects/{project_id}")["label_config"])
    start = time.perf_counter()
    for path in sorted((root / "images").iterdir()):
        mask = load_mask(root / "masks" / f"{path.stem}.png", None)
        task = sdk.tasks.create(project=project_id, data={"image": files.url_for(path)})
        region = {
            "from_name": "brush", "to_name": config.image_name, "type": "brushlabels",
            "original_width": mask.shape[1], "original_height": mask.shape[0],
            "value": {"format": "rle", "rle": encode(mask), "brushlabels": ["remove"]},
        }  # fmt: skip
        sdk.predictions.create(task=task.id, result=[region], model_version="bench", score=1.0)
    return time.perf_counter() - start


def timed_import(
    client: Client, spec_path: Path, files: FileServing, home: Path
) -> tuple[float, int]:
    """One `lstk import`, as the CLI runs it (key cache in LSTK_HOME)."""
    start = time.perf_counter()
    summary = importer.import_data(client, load(spec_path), files=files, cache_dir=home)
    return time.perf_counter() - start, summary.new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=768)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "files"
        print(f"making {args.count} images {args.width}x{args.height} with masks ...")
        make_data(data, args.count, args.width, args.height)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        state = local.up(root / "home", port=port, files_root=data).state
        try:
            client = Client(state.url, state.token)
            files = FileServing(data, str(data))
            spec_path = data / "project.yaml"
            spec_path.write_text(SPEC.format(title="bench toolkit"))
            provision.apply(client, load(spec_path))
            toolkit_s, created = timed_import(client, spec_path, files, root / "home")
            rerun_s, again = timed_import(client, spec_path, files, root / "home")
            assert (created, again) == (args.count, 0), (created, again)
            naive_spec = data / "naive.yaml"
            naive_spec.write_text(SPEC.format(title="bench naive"))
            naive_project = provision.apply(client, load(naive_spec)).project_id
            naive_s = naive_loop(client, naive_project, data, files)
        finally:
            local.down(root / "home")
    cpu = platform.processor() or platform.machine()
    print(f"\nmachine: {cpu}, Python {platform.python_version()}")
    print(f"{args.count} tasks, {args.width}x{args.height}, one brush prediction each\n")
    print("| import | seconds | tasks/s | vs naive |")
    print("|---|---:|---:|---:|")
    for name, secs in (
        ("naive SDK loop", naive_s),
        ("lstk import", toolkit_s),
        ("lstk re-run", rerun_s),
    ):
        print(f"| {name} | {secs:.2f} | {args.count / secs:.0f} | {naive_s / secs:.1f}x |")
    print(f"\nre-run / first run: {rerun_s / toolkit_s:.1%}")


if __name__ == "__main__":
    main()
