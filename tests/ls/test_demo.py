"""`make demo` end to end: examples/inpainting/demo.py in a copy of the example folder.

It starts its own local Label Studio (as a newcomer's first run does), so it also checks
the local runtime's cold start; a second run must reuse everything and add nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import free_port
from toolkit.runtime import local

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inpainting"


def run_demo(root: Path, port: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
    env.update(LSTK_HOME=str(root / ".lstk"), LSTK_PORT=str(port), LSTK_RUNTIME="local")
    return subprocess.run(
        [sys.executable, str(root / "examples" / "inpainting" / "demo.py")],
        capture_output=True, text=True, env=env, cwd=root, timeout=900,
    )  # fmt: skip


def test_demo_runs_the_whole_loop_twice(tmp_path: Path) -> None:
    example = tmp_path / "examples" / "inpainting"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("dataset", ".lstk"))
    port = free_port()
    try:
        first = run_demo(tmp_path, port)
        assert first.returncode == 0, first.stderr
        assert "6 new" in first.stdout and "accepted 6 prediction(s)" in first.stdout
        assert f"http://127.0.0.1:{port}" in first.stdout
        second = run_demo(tmp_path, port)
        assert second.returncode == 0, second.stderr
        assert "0 new, 6 already there" in second.stdout
        assert "accepted 0 prediction(s)" in second.stdout
    finally:
        local.down(tmp_path / ".lstk")

    dataset = example / "dataset"
    rows = [json.loads(line) for line in (dataset / "metadata.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    assert (dataset / "preview.png").exists()
    for row in rows:
        image = Image.open(dataset / row["file_name"])
        mask = np.asarray(Image.open(dataset / row["mask_file_name"]))
        assert image.size == (mask.shape[1], mask.shape[0]) == (row["width"], row["height"])
        source = np.asarray(Image.open(example / "masks" / f"{Path(row['file_name']).stem}.png"))
        # export.dilate is 4 px: every source mask pixel is in, and the mask grew a little.
        assert (mask[source > 0] == 255).all()
        assert source.sum() // 255 < (mask == 255).sum() < 3 * (source.sum() // 255) + 5000
