"""Which annotations make pairs, masks at the image's size, and a task's files."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from label_studio_sdk.converter.brush import mask2rle
from PIL import Image

from toolkit.export import render
from toolkit.export.media import Picture, prepare
from toolkit.masks import raster


def annotation(id_: int, updated: str, *, cancelled: bool = False, result: list | None = None):
    return {
        "id": id_,
        "updated_at": updated,
        "was_cancelled": cancelled,
        "completed_by": 1,
        "result": result or [],
    }


def test_latest_union_all_and_cancelled() -> None:
    task = {
        "annotations": [
            annotation(1, "2026-01-01T10:00:00Z"),
            annotation(2, "2026-01-01T09:00:00.500000Z"),
            annotation(3, "2026-01-01T11:00:00Z", cancelled=True),
        ],
        "predictions": [{"id": 9, "result": []}],
    }
    latest, cancelled = render.pair_sources(task, "latest", True)
    assert cancelled == 1
    assert [s.latest["id"] for s in latest] == [1]
    (union,) = render.pair_sources(task, "union", False)[0]
    assert [a["id"] for a in union.items] == [2, 1]  # oldest first
    every = render.pair_sources(task, "all", False)[0]
    assert [(s.suffix, s.latest["id"]) for s in every] == [("-a2", 2), ("-a1", 1)]


def test_timestamps_compare_as_times_not_text() -> None:
    # Django drops zero microseconds: "…:34Z" is later than "…:33.999999Z"
    task = {
        "annotations": [
            annotation(5, "2026-01-01T10:00:34Z"),
            annotation(4, "2026-01-01T10:00:33.999999Z"),
        ]
    }
    assert render.pair_sources(task, "latest", False)[0][0].latest["id"] == 5


def test_predictions_count_only_without_submitted_annotations() -> None:
    only_cancelled = {
        "annotations": [annotation(1, "2026-01-01T10:00:00Z", cancelled=True)],
        "predictions": [
            {"id": 7, "updated_at": "2026-01-01T08:00:00Z", "result": []},
            {"id": 8, "updated_at": "2026-01-01T09:00:00Z", "result": []},
        ],
    }
    assert render.pair_sources(only_cancelled, "latest", False) == ([], 1)
    sources, _ = render.pair_sources(only_cancelled, "latest", True)
    assert [(s.kind, s.latest["id"]) for s in sources] == [("prediction", 8)]
    sources, _ = render.pair_sources(only_cancelled, "all", True)
    assert [s.suffix for s in sources] == ["-p7", "-p8"]
    annotated = {**only_cancelled, "annotations": [annotation(2, "2026-01-01T10:00:00Z")]}
    assert render.pair_sources(annotated, "latest", True)[0][0].kind == "annotation"


def brush(mask: np.ndarray, label: str = "remove", **extra: Any) -> dict[str, Any]:
    height, width = mask.shape
    return {
        "id": "b1",
        "type": "brushlabels",
        "from_name": "brush",
        "to_name": "image",
        "original_width": width,
        "original_height": height,
        "value": {"format": "rle", "rle": mask2rle(mask), "brushlabels": [label]},
        **extra,
    }


def test_region_mask_scales_a_brush_of_a_resized_copy() -> None:
    small = np.zeros((30, 40), dtype=np.uint8)
    small[10:20, 8:24] = 255
    mask = render.region_mask(brush(small), 80, 60, threshold=1)
    assert mask.shape == (60, 80)
    expected = np.zeros((60, 80), dtype=bool)
    expected[20:40, 16:48] = True
    # bilinear edges: a one-pixel band may differ
    assert np.count_nonzero(mask ^ expected) <= 2 * (20 + 32) + 4
    assert mask[22:38, 18:46].all() and not mask[:18].any()


def test_region_mask_draws_vectors_at_the_image_size() -> None:
    polygon = {
        "type": "polygonlabels",
        "original_width": 50,  # drawn on a half-size copy
        "original_height": 25,
        "value": {"points": [[10, 10], [60, 10], [60, 50], [10, 50]], "polygonlabels": ["x"]},
    }
    mask = render.region_mask(polygon, 100, 50, threshold=1)
    assert mask.shape == (50, 100)
    assert np.count_nonzero(mask) == 50 * 20
    with pytest.raises(raster.RegionError, match="drawn on a 25x50 image"):
        render.region_mask({**polygon, "original_width": 25, "original_height": 50}, 100, 50, 1)


class FakeImages:
    def __init__(self, picture: Picture) -> None:
        self.picture = picture

    def read(self, task_id: int, url: str, key: str | None) -> Picture:
        return self.picture

    def read_server(self, task_id: int, url: str, key: str | None = None) -> Picture:
        return self.picture


def options(**overrides: Any) -> render.Options:
    base = dict(
        labels=("remove", "protect"),
        colors=("#ff0000", "#00ff00"),
        label_dirs=("remove", "protect"),
        chosen=frozenset({"remove"}),
        mode="latest",
        threshold=1,
        dilate=0,
        feather=0,
        min_area=0,
        val=0.0,
        seed=0,
        formats=("inpaint", "per-label", "semantic", "control", "coco"),
        include_predictions=False,
        image_field="image",
        image_name="image",
    )
    base.update(overrides)
    return render.Options(**base)


def png_picture(width: int, height: int) -> Picture:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buffer, "PNG")
    return prepare(buffer.getvalue(), ".png")


def test_render_writes_every_format_and_reports_broken_regions(tmp_path: Path) -> None:
    remove = np.zeros((40, 60), dtype=np.uint8)
    remove[5:15, 5:25] = 200
    protect = np.zeros((40, 60), dtype=np.uint8)
    protect[10:30, 20:40] = 255
    results = [
        brush(remove),
        {**brush(protect, "protect"), "id": "b2"},
        {
            "id": "p1",
            "type": "polygonlabels",
            "to_name": "image",
            "original_width": 60,
            "original_height": 40,
            "value": {"points": [[1, 1], [2, 2]], "polygonlabels": ["remove"]},
        },
        {"type": "choices", "to_name": "image", "value": {"choices": ["unusable"]}},
        {**brush(remove), "to_name": "other_image"},  # another object tag: ignored
    ]
    task = {
        "id": 4,
        "updated_at": "2026-01-01T10:00:00Z",
        "data": {"image": "/data/upload/1/abcdef12-pic.png"},
        "annotations": [annotation(11, "2026-01-01T10:00:00Z", result=results)],
    }
    opts = options()
    ctx = render.Context(tmp_path, opts, "fp", FakeImages(png_picture(60, 40)), {1: "a@x"})
    entry = render.render(render.plan(task, opts, "pic"), ctx)

    (meta,) = entry.pairs
    assert meta["file_name"] == "images/pic.png"
    assert meta["annotator"] == "a@x" and meta["annotation_id"] == 11
    assert meta["labels"] == ["remove", "protect"] and meta["flags"] == ["unusable"]
    assert entry.warnings == [(11, "polygon region skipped: region p1: polygon has 2 points, "
                               "at least 3 are needed")]  # fmt: skip
    mask = np.asarray(Image.open(tmp_path / meta["mask_file_name"]))
    np.testing.assert_array_equal(mask, np.where(remove > 0, 255, 0))  # only "remove"
    assert meta["mask_pixels"] == 200
    per_label = np.asarray(Image.open(tmp_path / meta["label_file_names"]["protect"]))
    np.testing.assert_array_equal(per_label, np.where(protect > 0, 255, 0))
    semantic = np.asarray(Image.open(tmp_path / meta["semantic_file_name"]))
    assert semantic[7, 7] == 1 and semantic[20, 30] == 2 and semantic[35, 50] == 0
    assert semantic[12, 22] == 2  # overlap: the later label wins
    control = np.asarray(Image.open(tmp_path / meta["control_file_name"]).convert("RGB"))
    assert tuple(control[7, 7]) == (255, 0, 0) and tuple(control[20, 30]) == (0, 255, 0)
    fragment = json.loads((tmp_path / render.COCO_DIR / "pic.json").read_text())
    assert [o["category_id"] for o in fragment["objects"]] == [1, 2]
    assert fragment["objects"][0]["bbox"] == [5.0, 5.0, 20.0, 10.0]
    assert sorted(entry.files) == sorted(
        [
            "images/pic.png",
            "masks/pic.png",
            "labels/remove/pic.png",
            "labels/protect/pic.png",
            "semantic/pic.png",
            "control/pic.png",
            f"{render.COCO_DIR}/pic.json",
        ]
    )


def test_render_all_mode_links_one_image_per_pair(tmp_path: Path) -> None:
    square = np.zeros((10, 10), dtype=np.uint8)
    square[2:5, 2:5] = 255
    task = {
        "id": 4,
        "updated_at": "2026-01-01T10:00:00Z",
        "data": {"image": "/data/upload/1/pic.png"},
        "annotations": [
            annotation(11, "2026-01-01T10:00:00Z", result=[brush(square)]),
            annotation(12, "2026-01-01T11:00:00Z", result=[]),
        ],
    }
    opts = options(mode="all", formats=("inpaint",), val=0.5)
    ctx = render.Context(tmp_path, opts, "fp", FakeImages(png_picture(10, 10)))
    entry = render.render(render.plan(task, opts, "pic"), ctx)
    names = [m["file_name"] for m in entry.pairs]
    assert names == ["images/pic-a11.png", "images/pic-a12.png"]
    first, second = (tmp_path / n for n in names)
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_ino == second.stat().st_ino  # a hard link, not a copy
    assert [m["mask_pixels"] for m in entry.pairs] == [9, 0]
    assert len({m["split"] for m in entry.pairs}) == 1  # one image, one split
