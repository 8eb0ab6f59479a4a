"""Where images come from: a folder, or a manifest (.txt, .jsonl, .csv) of paths or URLs.

Each image gets a stable identity (`key`): its path relative to the source root, or its
URL. The importer keeps the key in task data, so re-imports skip what is there.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import UsageError
from toolkit.spec import Spec

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".webp")
IMAGE_COLUMNS = ("image", "path", "url", "file", "file_name")
MASK_COLUMNS = ("mask", "mask_path", "mask_file_name")


@dataclass(frozen=True)
class Item:
    """One image to import, with its pre-annotation mask when there is one."""

    key: str
    path: Path | None = None  # a local file
    url: str | None = None  # a remote image, used as is
    mask: Path | None = None
    score: float | None = None


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://", "s3://", "gs://", "azure-blob://"))


def collect(spec: Spec) -> list[Item]:
    """Every image the spec's data section names, in a stable order."""
    data = spec.data
    if data.manifest is not None:
        items = list(_from_manifest(data.manifest, data.images or data.manifest.parent))
    elif data.images is not None:
        items = list(_from_folder(data.images))
    else:
        return []
    if data.masks is not None:
        masks = _mask_index(data.masks)
        items = [_with_mask(item, masks, data.images) for item in items]
    return items


def _from_folder(root: Path) -> Iterator[Item]:
    if root.is_file():
        raise UsageError(f"data.images must be a folder, but {root} is a file. Use data.manifest.")
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            yield Item(key=path.relative_to(root).as_posix(), path=path)


def _mask_index(masks: Path) -> dict[str, Path]:
    """Mask files by relative path without suffix; the first suffix of MASK_SUFFIXES wins."""
    found: dict[str, Path] = {}
    for path in masks.rglob("*"):
        suffix = path.suffix.lower()
        if suffix in MASK_SUFFIXES:
            stem = path.relative_to(masks).with_suffix("").as_posix()
            current = found.get(stem)
            if current is None or MASK_SUFFIXES.index(suffix) < MASK_SUFFIXES.index(
                current.suffix.lower()
            ):
                found[stem] = path
    return found


def _with_mask(item: Item, masks: dict[str, Path], images_root: Path | None) -> Item:
    """Give the item the mask with the same relative path and stem as its image."""
    if item.mask is not None or item.path is None:
        return item
    inside = images_root is not None and item.path.is_relative_to(images_root)
    rel = Path(item.key) if inside else Path(item.path.name)
    mask = masks.get(rel.with_suffix("").as_posix())
    return Item(item.key, item.path, item.url, mask, item.score) if mask else item


def _from_manifest(manifest: Path, root: Path) -> Iterator[Item]:
    suffix = manifest.suffix.lower()
    if suffix == ".jsonl":
        rows = _jsonl_rows(manifest)
    elif suffix == ".csv":
        with manifest.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    elif suffix == ".txt":
        rows = [{"image": line.strip()} for line in manifest.read_text().splitlines()]
        rows = [r for r in rows if r["image"] and not r["image"].startswith("#")]
    else:
        raise UsageError(f"Manifest {manifest} must end in .txt, .jsonl or .csv.")
    for number, row in enumerate(rows, 1):
        yield _manifest_item(manifest, number, row, root)


def _jsonl_rows(manifest: Path) -> list[dict[str, str]]:
    rows = []
    for number, line in enumerate(manifest.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{manifest}, line {number}: not valid JSON ({exc.msg}).") from None
        rows.append(row if isinstance(row, dict) else {"image": str(row)})
    return rows


def _manifest_item(manifest: Path, number: int, row: dict[str, str], root: Path) -> Item:
    image = next((str(row[c]) for c in IMAGE_COLUMNS if row.get(c)), None)
    if image is None:
        raise UsageError(
            f"{manifest}, row {number}: no image column; name it one of {', '.join(IMAGE_COLUMNS)}."
        )
    mask_text = next((str(row[c]) for c in MASK_COLUMNS if row.get(c)), None)
    mask = _local(mask_text, manifest.parent) if mask_text else None
    try:
        score = float(row["score"]) if row.get("score") not in (None, "") else None
    except (TypeError, ValueError):
        raise UsageError(
            f"{manifest}, row {number}: score {row['score']!r} is not a number."
        ) from None
    if is_url(image):
        return Item(key=image, url=image, mask=mask, score=score)
    path = _local(image, manifest.parent)
    key = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
    return Item(key=key, path=path, mask=mask, score=score)


def _local(text: str, base: Path) -> Path:
    path = Path(text)
    return (path if path.is_absolute() else base / path).resolve()
