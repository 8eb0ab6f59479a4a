"""One task -> its pairs: the image and, per pair, the masks of every requested format.

Which annotations make pairs (``export.annotations``):

- ``latest`` (default): one pair per task, from the submitted annotation updated last;
- ``union``: one pair per task, every submitted annotation's regions together;
- ``all``: one pair per submitted annotation, named ``<name>-a<annotation id>``.

Cancelled (skipped) annotations never count. With ``include_predictions`` a task without
any submitted annotation uses its predictions the same way (``-p<prediction id>``).

Masks are drawn at the size of the image written beside them. Regions record the size of
the image they were drawn on (``original_width``/``original_height``); when it differs
from the image but has the same aspect ratio (a resized copy), vector shapes are drawn at
the image's size (their coordinates are percentages) and brush masks are resized (bilinear
on the alpha, then the threshold). A region drawn on an image of another shape is broken.
Broken regions are left out of the masks and reported as warnings naming task and
annotation.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from toolkit.export import fetch
from toolkit.export.media import ImageError, Images, Picture
from toolkit.export.naming import split_of
from toolkit.export.state import TaskEntry
from toolkit.files import write_atomic
from toolkit.keys import KEY_FIELD
from toolkit.masks import post, raster

ASPECT_TOLERANCE = 0.01  # relative difference of width and height scale still "same shape"
COCO_DIR = ".lstk-export.d/coco"


@dataclass(frozen=True)
class Options:
    """Everything that decides the bytes of an export (its fingerprint is in the state)."""

    labels: tuple[str, ...]  # every label, in project order: semantic index = position + 1
    colors: tuple[str, ...]
    label_dirs: tuple[str, ...]  # folder under labels/ for each label
    chosen: frozenset[str] | None  # labels that make the inpainting mask; None = every region
    mode: str  # latest | union | all
    threshold: int
    dilate: int
    feather: int
    min_area: int
    val: float
    seed: int
    formats: tuple[str, ...]
    include_predictions: bool
    image_field: str  # task data key of the image
    image_name: str  # the Image tag's name (results' to_name)

    def describe(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "colors": list(self.colors),
            "label_dirs": list(self.label_dirs),
            "chosen": sorted(self.chosen) if self.chosen is not None else None,
            "annotations": self.mode,
            "threshold": self.threshold,
            "dilate": self.dilate,
            "feather": self.feather,
            "min_area": self.min_area,
            "split": {"val": self.val, "seed": self.seed},
            "formats": list(self.formats),
            "include_predictions": self.include_predictions,
            "image_field": self.image_field,
            "image_name": self.image_name,
        }


@dataclass
class PairSource:
    """The annotations (or predictions) one pair is made of, oldest first."""

    kind: str  # "annotation" | "prediction"
    items: list[dict[str, Any]]
    suffix: str  # "" or "-a<id>" / "-p<id>"

    @property
    def latest(self) -> dict[str, Any]:
        return self.items[-1]


def _stamp(item: Mapping[str, Any]) -> tuple[Any, int]:
    text = item.get("updated_at") or item.get("created_at")
    moment = fetch.parse_time(text) if isinstance(text, str) else None
    return (moment.timestamp() if moment else 0.0), int(item.get("id") or 0)


def pair_sources(
    task: Mapping[str, Any], mode: str, include_predictions: bool
) -> tuple[list[PairSource], int]:
    """The pairs a task makes, and how many cancelled annotations it has."""
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict)]
    submitted = [a for a in annotations if not a.get("was_cancelled")]
    cancelled = len(annotations) - len(submitted)
    if submitted:
        kind, prefix, items = "annotation", "a", submitted
    elif include_predictions and task.get("predictions"):
        kind, prefix = "prediction", "p"
        items = [p for p in task["predictions"] if isinstance(p, dict)]
    else:
        return [], cancelled
    items = sorted(items, key=_stamp)
    if mode == "latest":
        return [PairSource(kind, [items[-1]], "")], cancelled
    if mode == "union":
        return [PairSource(kind, items, "")], cancelled
    return [PairSource(kind, [item], f"-{prefix}{item['id']}") for item in items], cancelled


@dataclass
class Job:
    """One task's work, planned in task order on the main thread, done by a worker."""

    task_id: int
    updated_at: str | None
    name: str
    url: str
    key: str | None
    sources: list[PairSource]


@dataclass
class Context:
    out: Path
    options: Options
    fingerprint: str
    images: Images
    emails: dict[int, str] = field(default_factory=dict)


def plan(task: Mapping[str, Any], options: Options, name: str) -> Job:
    sources, _ = pair_sources(task, options.mode, options.include_predictions)
    data = task.get("data") or {}
    key = data.get(KEY_FIELD)
    return Job(
        task_id=int(task["id"]),
        updated_at=task.get("updated_at"),
        name=name,
        url=data.get(options.image_field) if isinstance(data.get(options.image_field), str) else "",
        key=str(key) if key else None,
        sources=sources,
    )


# --------------------------------------------------------------------------------------
# Regions
# --------------------------------------------------------------------------------------


@dataclass
class Region:
    result: dict[str, Any]
    shape: str
    labels: list[str]
    mask: np.ndarray  # bool, image size


def _same_shape(ow: int, oh: int, width: int, height: int) -> bool:
    return abs(ow / width - oh / height) <= ASPECT_TOLERANCE * max(ow / width, oh / height)


def region_mask(result: dict[str, Any], width: int, height: int, threshold: int) -> np.ndarray:
    """A result's pixels at the image's size (see the module notes); RegionError if broken."""
    ow, oh = raster.image_size(result)
    if (ow, oh) == (width, height):
        return raster.rasterize(result, threshold=threshold)
    if not _same_shape(ow, oh, width, height):
        raise raster.RegionError(
            f"drawn on a {ow}x{oh} image, but the image is {width}x{height}", result
        )
    if raster.shape_of(result) == "brush":
        alpha = Image.fromarray(raster.brush_alpha(result))
        alpha = alpha.resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(alpha) >= threshold
    return raster.rasterize(
        {**result, "original_width": width, "original_height": height}, threshold=threshold
    )


def regions_of(
    item: Mapping[str, Any],
    options: Options,
    width: int,
    height: int,
    warn: list[str],
) -> tuple[list[Region], list[str]]:
    """The area regions of one annotation or prediction on this image, and its flags."""
    regions: list[Region] = []
    flags: list[str] = []
    for result in item.get("result") or []:
        if not isinstance(result, dict):
            warn.append(f"a result is not an object: {result!r:.60}")
            continue
        to_name = result.get("to_name")
        if to_name not in (None, options.image_name):
            continue
        kind = str(result.get("type", "")).lower()
        if kind == "choices":
            value = result.get("value") or {}
            flags += [str(c) for c in value.get("choices") or []]
            continue
        shape = raster.shape_of(result)
        if shape is None:
            continue
        try:
            mask = region_mask(result, width, height, options.threshold)
        except raster.RegionError as exc:
            warn.append(f"{shape} region skipped: {exc}")
            continue
        regions.append(Region(result, shape, raster.labels_of(result), mask))
    return regions, flags


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


def png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG", compress_level=3)
    return buffer.getvalue()


def link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` becomes the same file as ``src`` (a hard link), or a copy; atomically."""
    tmp = dst.with_name(f".{dst.name}.link.lstk-tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        write_atomic(dst, src.read_bytes())
        return
    os.replace(tmp, dst)


def _write(out: Path, rel: str, data: bytes) -> None:
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


# --------------------------------------------------------------------------------------
# A task
# --------------------------------------------------------------------------------------


class TaskFailed(Exception):
    """A task cannot be exported (its image is unreadable); the export goes on."""


def _recorded_sizes(job: Job) -> set[tuple[int, int]]:
    sizes = set()
    for source in job.sources:
        for item in source.items:
            for result in item.get("result") or []:
                if isinstance(result, dict) and raster.shape_of(result):
                    with contextlib.suppress(raster.RegionError):
                        sizes.add(raster.image_size(result))
    return sizes


def picture_for(job: Job, ctx: Context) -> Picture:
    """The task's image; the server's copy when the source folder's differs in size from
    what the regions were drawn on (the source file changed after import)."""
    if not job.url:
        raise TaskFailed(f"task data has no image under {ctx.options.image_field!r}")
    try:
        picture = ctx.images.read(job.task_id, job.url, job.key)
        sizes = _recorded_sizes(job)
        if picture.origin == "source" and sizes and (picture.width, picture.height) not in sizes:
            with contextlib.suppress(ImageError):  # no better copy: the regions will say
                served = ctx.images.read_server(job.task_id, job.url, job.key)
                if (served.width, served.height) in sizes:
                    picture = served
    except ImageError as exc:
        raise TaskFailed(str(exc)) from None
    return picture


def render(job: Job, ctx: Context) -> TaskEntry:
    """Write the task's files and return its state entry. Raises TaskFailed."""
    out = ctx.out
    picture = picture_for(job, ctx)
    width, height = picture.width, picture.height
    entry = TaskEntry(updated_at=job.updated_at, name=job.name, options=ctx.fingerprint)
    first_image: Path | None = None
    for source in job.sources:
        pair = job.name + source.suffix
        image_rel = f"images/{pair}{picture.ext}"
        if first_image is None:
            _write(out, image_rel, picture.data)
            first_image = out / image_rel
        else:
            link_or_copy(first_image, out / image_rel)
        entry.files.append(image_rel)
        meta = _render_pair(job, ctx, source, pair, image_rel, width, height, entry)
        entry.pairs.append(meta)
    return entry


def _render_pair(
    job: Job,
    ctx: Context,
    source: PairSource,
    pair: str,
    image_rel: str,
    width: int,
    height: int,
    entry: TaskEntry,
) -> dict[str, Any]:
    options, out = ctx.options, ctx.out
    shape = (height, width)
    inpaint = np.zeros(shape, dtype=bool)
    label_masks: dict[str, np.ndarray] = {}
    present: list[str] = []
    flags: list[str] = []
    coco: list[dict[str, Any]] = []
    want_coco = "coco" in options.formats
    known = set(options.labels)
    for item in source.items:
        warn: list[str] = []
        regions, item_flags = regions_of(item, options, width, height, warn)
        flags += [f for f in item_flags if f not in flags]
        for message in warn:
            entry.warnings.append(_warning(source, item, message))
        for region in regions:
            if options.chosen is None or options.chosen & set(region.labels):
                inpaint |= region.mask
            for label in region.labels:
                if label not in present:
                    present.append(label)
                if label in known:
                    if label in label_masks:
                        label_masks[label] |= region.mask
                    else:
                        label_masks[label] = region.mask.copy()
            if want_coco:
                coco += _coco_instances(region, options, item, width, height)
    meta: dict[str, Any] = {"file_name": image_rel}
    mask_pixels = None
    if "inpaint" in options.formats:
        mask = post.inpaint_mask(
            [inpaint],
            dilate=options.dilate,
            feather=options.feather,
            min_area=options.min_area,
            shape=shape,
        )
        meta["mask_file_name"] = f"masks/{pair}.png"
        _write(out, meta["mask_file_name"], png_bytes(mask, "L"))
        mask_pixels = int(np.count_nonzero(mask))
    else:
        meta["mask_file_name"] = None
    if "per-label" in options.formats:
        files = {}
        for label, folder in zip(options.labels, options.label_dirs, strict=True):
            rel = f"labels/{folder}/{pair}.png"
            m = label_masks.get(label)
            pixels = np.zeros(shape, np.uint8) if m is None else m.astype(np.uint8) * np.uint8(255)
            _write(out, rel, png_bytes(pixels, "L"))
            files[label] = rel
        meta["label_file_names"] = files
    semantic = None
    if "semantic" in options.formats or "control" in options.formats:
        semantic = post.semantic_mask(label_masks, list(options.labels), shape=shape)
    if "semantic" in options.formats and semantic is not None:
        meta["semantic_file_name"] = f"semantic/{pair}.png"
        mode = "L" if semantic.dtype == np.uint8 else "I;16"
        _write(out, meta["semantic_file_name"], png_bytes(semantic, mode))
    if "control" in options.formats and semantic is not None:
        meta["control_file_name"] = f"control/{pair}.png"
        colour = post.control_map(semantic, list(options.colors))
        _write(out, meta["control_file_name"], png_bytes(colour, "RGB"))
    for key in ("mask_file_name", "semantic_file_name", "control_file_name"):
        if meta.get(key):
            entry.files.append(meta[key])
    entry.files += list(meta.get("label_file_names", {}).values())
    if want_coco:
        rel = f"{COCO_DIR}/{pair}.json"
        fragment = {"file_name": image_rel, "width": width, "height": height, "objects": coco}
        _write(out, rel, json.dumps(fragment, separators=(",", ":")).encode())
        entry.files.append(rel)
    meta.update(_describe(job, ctx, source, present, flags, width, height, mask_pixels))
    return meta


def _warning(source: PairSource, item: Mapping[str, Any], message: str) -> tuple[int | None, str]:
    if source.kind == "prediction":
        return None, f"prediction {item.get('id')}: {message}"
    return item.get("id"), message


def _describe(
    job: Job,
    ctx: Context,
    source: PairSource,
    present: list[str],
    flags: list[str],
    width: int,
    height: int,
    mask_pixels: int | None,
) -> dict[str, Any]:
    order = {label: i for i, label in enumerate(ctx.options.labels)}
    labels = sorted(present, key=lambda x: (order.get(x, len(order)), x))
    latest = source.latest
    meta: dict[str, Any] = {"task_id": job.task_id, "source": source.kind}
    if source.kind == "annotation":
        people = [fetch.annotator(a, ctx.emails) for a in source.items]
        meta.update(
            annotation_id=latest.get("id"),
            annotation_ids=sorted(int(a["id"]) for a in source.items if "id" in a),
            annotator=people[-1],
            annotators=sorted({p for p in people if p}),
        )
    else:
        meta.update(
            annotation_id=None,
            prediction_id=latest.get("id"),
            model_version=latest.get("model_version"),
            score=latest.get("score"),
        )
    meta.update(
        labels=labels,
        flags=flags,
        updated_at=latest.get("updated_at") or latest.get("created_at"),
        width=width,
        height=height,
        mask_pixels=mask_pixels,
        split=split_of(job.name, ctx.options.val, ctx.options.seed),
    )
    return meta


# --------------------------------------------------------------------------------------
# COCO
# --------------------------------------------------------------------------------------


def _coco_instances(
    region: Region,
    options: Options,
    item: Mapping[str, Any],
    width: int,
    height: int,
) -> list[dict[str, Any]]:
    from pycocotools import mask as coco_mask

    rle = coco_mask.encode(np.asfortranarray(region.mask.astype(np.uint8)))
    area = int(coco_mask.area(rle))
    if area == 0:
        return []
    bbox = [round(float(v), 2) for v in coco_mask.toBbox(rle)]
    polygon = _polygon(region, width, height)
    if polygon is not None:
        segmentation: Any = [polygon]
    else:
        segmentation = {"size": [height, width], "counts": rle["counts"].decode("ascii")}
    out = []
    for label in region.labels:
        if label not in options.labels:
            continue
        out.append(
            {
                "category_id": options.labels.index(label) + 1,
                "segmentation": segmentation,
                "area": area,
                "bbox": bbox,
                "iscrowd": 0,
                "ls_annotation_id": item.get("id"),
                "ls_region_id": region.result.get("id"),
            }
        )
    return out


def _polygon(region: Region, width: int, height: int) -> list[float] | None:
    """Pixel-space outline for polygons and rectangles (clipped to the image)."""
    value = region.result.get("value") or {}
    if region.shape == "polygon":
        points = np.asarray(value["points"], dtype=np.float64) * [width / 100.0, height / 100.0]
    elif region.shape == "rectangle":
        points = raster.rectangle_corners(
            float(value["x"]) * width / 100.0,
            float(value["y"]) * height / 100.0,
            float(value["width"]) * width / 100.0,
            float(value["height"]) * height / 100.0,
            float(value.get("rotation") or 0.0),
        )
    else:
        return None
    points = np.clip(points, 0, [width, height])
    return [round(float(v), 2) for v in points.reshape(-1)]


def coco_categories(labels: Sequence[str]) -> list[dict[str, Any]]:
    return [{"id": i + 1, "name": name, "supercategory": ""} for i, name in enumerate(labels)]
