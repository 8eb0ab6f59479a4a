"""What an export writes from its state at the end of a run.

``metadata.jsonl`` (one line per pair, sorted by file name), ``labels.json`` (label index
and colour, for the semantic and control maps), ``coco.json`` (assembled from per-pair
fragments, streamed so memory stays flat), ``preview.png`` (a contact sheet), and the sweep
that removes files no task owns (left by a killed run, or by formats no longer asked for).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from toolkit.export.render import COCO_DIR, Options, coco_categories
from toolkit.export.state import STATE_FILE, ExportState
from toolkit.files import TMP_SUFFIX, write_atomic

METADATA = "metadata.jsonl"
LABELS = "labels.json"
COCO = "coco.json"
PREVIEW = "preview.png"
LOCK = ".lstk-export.lock"
MANAGED_DIRS = ("images", "masks", "labels", "semantic", "control", ".lstk-export.d")
ROOT_FILES = frozenset({METADATA, LABELS, COCO, PREVIEW, STATE_FILE, LOCK})
TILE = 256  # preview tile size, px
CAPTION = 14


def pairs(state: ExportState) -> list[dict[str, Any]]:
    """Every pair's metadata, sorted by image file name."""
    rows = [meta for entry in state.tasks.values() for meta in entry.pairs]
    return sorted(rows, key=lambda m: m["file_name"])


def write_metadata(out: Path, state: ExportState) -> int:
    rows = pairs(state)
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    write_atomic(out / METADATA, text.encode())
    return len(rows)


def write_labels(out: Path, options: Options) -> None:
    labels = [
        {"index": i + 1, "name": name, "color": color, "folder": f"labels/{folder}"}
        for i, (name, color, folder) in enumerate(
            zip(options.labels, options.colors, options.label_dirs, strict=True)
        )
    ]
    body = {"background": 0, "labels": labels, "inpaint_labels": _chosen(options)}
    write_atomic(out / LABELS, (json.dumps(body, indent=1, ensure_ascii=False) + "\n").encode())


def _chosen(options: Options) -> list[str] | None:
    if options.chosen is None:
        return None
    return [label for label in options.labels if label in options.chosen]


def write_coco(out: Path, state: ExportState, options: Options) -> None:
    """coco.json: images in file-name order, ids counted from 1; instances likewise."""
    path = out / COCO
    rows = pairs(state)
    tmp = path.with_name(f".{COCO}.{os.getpid()}{TMP_SUFFIX}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write('{"info": {"description": "lstk export"}, "licenses": [],\n"categories": ')
            fh.write(json.dumps(coco_categories(options.labels), ensure_ascii=False))
            fh.write(',\n"images": [')
            for n, row in enumerate(rows, 1):
                image = {
                    "id": n,
                    "file_name": row["file_name"],
                    "width": row["width"],
                    "height": row["height"],
                    "ls_task_id": row["task_id"],
                }
                fh.write(("," if n > 1 else "") + "\n" + json.dumps(image, ensure_ascii=False))
            fh.write('\n],\n"annotations": [')
            count = 0
            for n, objects in enumerate(_fragments(out, rows), 1):
                for obj in objects:
                    count += 1
                    record = {"id": count, "image_id": n, **obj}
                    fh.write(("," if count > 1 else "") + "\n" + json.dumps(record))
            fh.write("\n]}\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fragments(out: Path, rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for row in rows:
        stem = Path(row["file_name"]).stem
        fragment = out / COCO_DIR / f"{stem}.json"
        try:
            yield json.loads(fragment.read_text())["objects"]
        except (OSError, ValueError, KeyError):
            yield []


def referenced(state: ExportState) -> set[str]:
    return {f for entry in state.tasks.values() for f in entry.files}


def sweep(out: Path, keep: set[str]) -> int:
    """Remove files under the managed folders that no task owns, temporary files, and
    folders left empty. Returns how many files went."""
    removed = 0
    for top in MANAGED_DIRS:
        root = out / top
        if not root.is_dir():
            continue
        for folder, _dirs, files in os.walk(root, topdown=False):
            here = Path(folder)
            for name in files:
                rel = (here / name).relative_to(out).as_posix()
                if rel not in keep or name.endswith(TMP_SUFFIX):
                    (here / name).unlink(missing_ok=True)
                    removed += 1
            if here != out and not any(here.iterdir()):
                here.rmdir()
    for path in out.glob(f".*{TMP_SUFFIX}"):
        path.unlink(missing_ok=True)
    return removed


# --------------------------------------------------------------------------------------
# Preview
# --------------------------------------------------------------------------------------


def preview_rows(state: ExportState, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` pairs picked by a stable hash of their names (the same pairs on every run
    while they exist), in file-name order."""
    rows = [r for r in pairs(state) if r.get("mask_file_name") or r.get("control_file_name")]

    def rank(row: dict[str, Any]) -> bytes:
        return hashlib.sha256(f"{seed}\x00{row['file_name']}".encode()).digest()

    chosen = sorted(rows, key=rank)[:count]
    return sorted(chosen, key=lambda r: r["file_name"])


def write_preview(out: Path, state: ExportState, count: int, seed: int) -> Path | None:
    """A contact sheet: each pair's image with its mask in translucent red, and its name."""
    rows = preview_rows(state, count, seed)
    path = out / PREVIEW
    if not rows:
        path.unlink(missing_ok=True)
        return None
    columns = math.ceil(math.sqrt(len(rows)))
    lines = math.ceil(len(rows) / columns)
    sheet = Image.new("RGB", (columns * TILE, lines * (TILE + CAPTION)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for n, row in enumerate(rows):
        x, y = (n % columns) * TILE, (n // columns) * (TILE + CAPTION)
        tile = _tile(out, row)
        sheet.paste(tile, (x + (TILE - tile.width) // 2, y + (TILE - tile.height) // 2))
        caption = Path(row["file_name"]).stem
        if len(caption) > 40:
            caption = caption[:37] + "..."
        draw.text((x + 3, y + TILE + 1), caption, fill=(230, 230, 230), font=font)
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG")
    write_atomic(path, buffer.getvalue())
    return path


def _tile(out: Path, row: dict[str, Any]) -> Image.Image:
    with Image.open(out / row["file_name"]) as img:
        img.draft("RGB", (TILE, TILE))
        image = img.convert("RGB")
    image.thumbnail((TILE, TILE), Image.Resampling.BILINEAR)
    mask_file = row.get("mask_file_name")
    if mask_file:
        with Image.open(out / mask_file) as m:
            mask = m.convert("L").resize(image.size, Image.Resampling.BILINEAR)
        red = Image.new("RGB", image.size, (255, 40, 40))
        alpha = Image.fromarray((np.asarray(mask, dtype=np.float32) * 0.55).astype(np.uint8))
        image = Image.composite(red, image, alpha)
    elif row.get("control_file_name"):
        with Image.open(out / row["control_file_name"]) as c:
            control = c.convert("RGB").resize(image.size, Image.Resampling.NEAREST)
        image = Image.blend(image, control, 0.5)
    return image
