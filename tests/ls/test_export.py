"""`export` against a real Label Studio.

Projects, tasks, annotations and predictions are made through the REST API here. Expected
masks are computed in this file, independently of the export code: shapes from pixel-centre
geometry with numpy, brush strokes encoded with the Label Studio SDK's own RLE encoder.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from label_studio_sdk.converter.brush import mask2rle
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from tests.conftest import LiveServer
from toolkit.dataset import InpaintingDataset
from toolkit.errors import UsageError
from toolkit.export import core
from toolkit.exporter import STATE_FILE, ExportSummary, export
from toolkit.server import Client
from toolkit.spec import Spec, load

LABEL_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <BrushLabels name="brush" toName="image">
    <Label value="remove" background="#ff0000"/><Label value="protect" background="#00ff00"/>
  </BrushLabels>
  <PolygonLabels name="polygon" toName="image">
    <Label value="remove"/><Label value="protect"/>
  </PolygonLabels>
  <RectangleLabels name="rectangle" toName="image"><Label value="remove"/></RectangleLabels>
  <EllipseLabels name="ellipse" toName="image"><Label value="remove"/></EllipseLabels>
  <Choices name="flags" toName="image" choice="multiple"><Choice value="unusable"/></Choices>
</View>"""

SPEC = """
project:
  id: {id}
  tools: [brush, polygon, rectangle, ellipse]
  labels:
    - {{name: remove, color: "#ff0000"}}
    - {{name: protect, color: "#00ff00"}}
  flags: [unusable]
data:
  images: {images}
export:
  out: ./dataset
  labels: [remove]
  annotations: {annotations}
  split: {{val: 0.5, seed: 1}}
  formats: [{formats}]
"""


# -- independent geometry: pixel centres inside shapes given in image pixels -----------
def centres(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)


def in_polygon(points: list[tuple[float, float]], width: int, height: int) -> np.ndarray:
    x, y = centres(width, height)
    inside = np.zeros(x.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
        if y0 == y1:
            continue
        crosses = (y0 > y) != (y1 > y)
        x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < x_at)
    return inside


def in_rotated_rect(
    left: float, top: float, w: float, h: float, degrees: float, width: int, height: int
) -> np.ndarray:
    """Rotated clockwise on screen about its top-left corner, as Label Studio draws it."""
    x, y = centres(width, height)
    t = math.radians(degrees)
    dx, dy = x - left, y - top
    u = dx * math.cos(t) + dy * math.sin(t)
    v = -dx * math.sin(t) + dy * math.cos(t)
    return (u >= 0) & (u <= w) & (v >= 0) & (v <= h)


def in_ellipse(
    cx: float, cy: float, rx: float, ry: float, degrees: float, width: int, height: int
) -> np.ndarray:
    x, y = centres(width, height)
    t = math.radians(degrees)
    dx, dy = x - cx, y - cy
    u = (dx * math.cos(t) + dy * math.sin(t)) / rx
    v = (-dx * math.sin(t) + dy * math.cos(t)) / ry
    return u * u + v * v <= 1.0


def stroke(width: int, height: int, seed: int) -> np.ndarray:
    """A soft-edged brush stroke, like the editor's anti-aliased alpha."""
    rng = np.random.default_rng(seed)
    canvas = Image.new("L", (width, height), 0)
    points = [tuple(int(v) for v in rng.integers(5, (width - 5, height - 5))) for _ in range(4)]
    ImageDraw.Draw(canvas).line(points, fill=255, width=7)
    return np.asarray(canvas.filter(ImageFilter.GaussianBlur(1.2)))


# -- Label Studio results, in percent as the editor stores them ------------------------
def brush_result(alpha: np.ndarray, label: str, rid: str) -> dict[str, Any]:
    height, width = alpha.shape
    return {
        "id": rid,
        "from_name": "brush",
        "to_name": "image",
        "type": "brushlabels",
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {"format": "rle", "rle": mask2rle(alpha), "brushlabels": [label]},
    }


def polygon_result(points: list[tuple[float, float]], label: str, size: tuple[int, int], rid: str):
    width, height = size
    return {
        "id": rid,
        "from_name": "polygon",
        "to_name": "image",
        "type": "polygonlabels",
        "original_width": width,
        "original_height": height,
        "value": {
            "points": [[x * 100 / width, y * 100 / height] for x, y in points],
            "polygonlabels": [label],
            "closed": True,
        },
    }


def rect_result(left, top, w, h, degrees, size, rid: str) -> dict[str, Any]:
    width, height = size
    return {
        "id": rid,
        "from_name": "rectangle",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": width,
        "original_height": height,
        "value": {
            "x": left * 100 / width,
            "y": top * 100 / height,
            "width": w * 100 / width,
            "height": h * 100 / height,
            "rotation": degrees,
            "rectanglelabels": ["remove"],
        },
    }


def ellipse_result(cx, cy, rx, ry, degrees, size, rid: str) -> dict[str, Any]:
    width, height = size
    return {
        "id": rid,
        "from_name": "ellipse",
        "to_name": "image",
        "type": "ellipselabels",
        "original_width": width,
        "original_height": height,
        "value": {
            "x": cx * 100 / width,
            "y": cy * 100 / height,
            "radiusX": rx * 100 / width,
            "radiusY": ry * 100 / height,
            "rotation": degrees,
            "ellipselabels": ["remove"],
        },
    }


def flag_result(*choices: str) -> dict[str, Any]:
    return {
        "from_name": "flags",
        "to_name": "image",
        "type": "choices",
        "value": {"choices": list(choices)},
    }


# -- a project made through the REST API ----------------------------------------------
@dataclass
class Project:
    server: LiveServer
    folder: Path
    id: int
    tasks: dict[str, int] = field(default_factory=dict)

    @property
    def client(self) -> Client:
        return self.server.client()

    @classmethod
    def create(cls, server: LiveServer, name: str) -> Project:
        folder = server.files_root / f"export-{name}"
        (folder / "images").mkdir(parents=True)
        client = server.client()
        title = f"Export {name}"
        project = client.json(
            "POST", "/api/projects", json={"title": title, "label_config": LABEL_CONFIG}
        )
        storage = {"project": project["id"], "path": str(folder / "images"), "title": "images"}
        client.json("POST", "/api/storages/localfiles", json=storage)
        return cls(server, folder, int(project["id"]))

    def add_image(self, name: str, image: Image.Image, **save: Any) -> int:
        path = self.folder / "images" / name
        image.save(path, **save)
        rel = path.relative_to(self.server.files_root).as_posix()
        task = {"data": {"image": f"/data/local-files/?d={rel}", "lstk_key": name}}
        self.client.json("POST", f"/api/projects/{self.id}/import", json=[task])
        listed = self.client.get("/api/tasks", project=self.id, page_size=1000)["tasks"]
        self.tasks[name] = next(t["id"] for t in listed if t["data"].get("lstk_key") == name)
        return self.tasks[name]

    def annotate(self, name: str, result: list[dict], *, user: int | None = None) -> int:
        body: dict[str, Any] = {"result": result}
        if user is not None:
            body["completed_by"] = user
        made = self.client.json("POST", f"/api/tasks/{self.tasks[name]}/annotations", json=body)
        return int(made["id"])

    def spec(self, *, annotations: str = "latest", formats: str = "inpaint", images=True) -> Spec:
        text = SPEC.format(
            id=self.id,
            images="./images" if images else "null",
            annotations=annotations,
            formats=formats,
        )
        path = self.folder / "project.yaml"
        path.write_text(text)
        return load(path)

    def export(self, spec: Spec | None = None, **kw: Any) -> ExportSummary:
        return export(self.client, spec or self.spec(), **kw)


def picture(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (max(2, height // 8), max(2, width // 8), 3), dtype=np.uint8)
    return Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR)


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def as_255(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, 255, 0).astype(np.uint8)


def metadata(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]


# -- the tests ------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools
def test_masks_match_an_independent_rasterisation(label_studio: LiveServer) -> None:
    project = Project.create(label_studio, "shapes")
    expected: dict[str, dict[str, np.ndarray]] = {}
    for name, size, seed in (("wide.png", (160, 96), 1), ("tall.jpg", (96, 160), 2)):
        width, height = size
        project.add_image(name, picture(width, height, seed), quality=90)
        alpha = stroke(width, height, seed)
        poly = [
            (0.31 * width + 0.13, 0.12 * height + 0.21),
            (0.93 * width - 0.27, 0.2 * height),
            (0.8 * width + 0.11, 0.77 * height + 0.3),
            (0.55 * width, 0.6 * height - 0.17),
        ]
        protect = [(2.2, 3.4), (0.4 * width + 0.3, 5.1), (0.2 * width, 0.5 * height + 0.2)]
        rect = (0.1 * width + 0.37, 0.55 * height + 0.19, 0.3 * width + 0.41, 0.15 * height, 30.0)
        ell = (0.5 * width + 0.33, 0.35 * height + 0.29, 0.18 * width + 0.1, 0.09 * height, 25.0)
        project.annotate(
            name,
            [
                brush_result(alpha, "remove", "b1"),
                polygon_result(poly, "remove", size, "p1"),
                polygon_result(protect, "protect", size, "p2"),
                rect_result(*rect, size, "r1"),
                ellipse_result(*ell, size, "e1"),
                flag_result("unusable"),
            ],
        )
        remove = (
            (alpha > 0)
            | in_polygon(poly, width, height)
            | in_rotated_rect(*rect, width, height)
            | in_ellipse(*ell, width, height)
        )
        expected[Path(name).stem] = {
            "remove": remove,
            "protect": in_polygon(protect, width, height),
        }
    project.add_image("unlabelled.png", picture(50, 40, 3))  # no annotation: no pair

    spec = project.spec(formats="inpaint, per-label, semantic, control, coco")
    summary = project.export(spec, preview=2)
    out = spec.export.out
    assert summary.exit_code == 0, summary.as_dict()
    assert (summary.pairs, summary.written, summary.warnings) == (2, 2, [])
    rows = {Path(r["file_name"]).stem: r for r in metadata(out)}
    assert sorted(rows) == ["tall", "wide"]
    for stem, masks in expected.items():
        row = rows[stem]
        height, width = masks["remove"].shape
        image = Image.open(out / row["file_name"])
        assert image.size == (width, height) == (row["width"], row["height"])
        assert (out / row["file_name"]).read_bytes() == (
            project.folder / "images" / f"{stem}{Path(row['file_name']).suffix}"
        ).read_bytes()
        np.testing.assert_array_equal(
            read_png(out / row["mask_file_name"]), as_255(masks["remove"])
        )
        for label in ("remove", "protect"):
            per_label = read_png(out / row["label_file_names"][label])
            np.testing.assert_array_equal(per_label, as_255(masks[label]))
        semantic = read_png(out / row["semantic_file_name"])
        want = np.where(masks["protect"], 2, np.where(masks["remove"], 1, 0))
        np.testing.assert_array_equal(semantic, want)
        control = read_png(out / row["control_file_name"])
        assert control.shape == (height, width, 3)
        assert (control[masks["protect"]] == (0, 255, 0)).all()
        assert row["labels"] == ["remove", "protect"] and row["flags"] == ["unusable"]
        assert row["annotator"] == "admin@lstk.local" and row["split"] in ("train", "val")
        assert row["mask_pixels"] == int(masks["remove"].sum())

    from pycocotools.coco import COCO

    coco = COCO(str(out / "coco.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["remove", "protect"]
    for image in coco.loadImgs(coco.getImgIds()):
        stem = Path(image["file_name"]).stem
        for category, label in ((1, "remove"), (2, "protect")):
            anns = coco.loadAnns(coco.getAnnIds(imgIds=image["id"], catIds=[category]))
            union = np.zeros((image["height"], image["width"]), dtype=bool)
            for ann in anns:
                union |= coco.annToMask(ann).astype(bool)
            # polygons are re-rasterised by pycocotools with its own rule: edges may differ
            disagree = np.count_nonzero(union ^ expected[stem][label])
            assert disagree <= 0.03 * max(1, expected[stem][label].sum()) + 40

    labels = json.loads((out / "labels.json").read_text())
    assert [(x["index"], x["name"]) for x in labels["labels"]] == [(1, "remove"), (2, "protect")]
    assert Image.open(out / "preview.png").size[0] == 2 * 256

    data = InpaintingDataset(out)
    assert len(data) == 2
    for item in data:
        assert item["image"].shape[:2] == item["mask"].shape
        np.testing.assert_array_equal(item["mask"], as_255(expected[item["name"]]["remove"]))


def test_latest_union_and_all_with_two_annotators(label_studio: LiveServer) -> None:
    project = Project.create(label_studio, "annotators")
    size = (120, 72)
    project.add_image("street.png", picture(*size, 5))
    project.add_image("skipped.png", picture(*size, 6))
    user = {"email": "second.annotator@export.test", "username": "second-annotator"}
    second = project.client.json("POST", "/api/users", json=user)
    left = [(5.3, 5.2), (50.4, 5.1), (50.2, 60.7), (5.1, 60.3)]
    right = [(60.2, 10.3), (110.6, 10.1), (110.3, 65.2), (60.4, 65.1)]
    first_id = project.annotate("street.png", [polygon_result(left, "remove", size, "a")])
    time.sleep(0.01)
    second_id = project.annotate(
        "street.png", [polygon_result(right, "remove", size, "b")], user=second["id"]
    )
    cancelled = project.annotate("street.png", [polygon_result(right, "remove", size, "c")])
    project.client.json("PATCH", f"/api/annotations/{cancelled}", json={"was_cancelled": True})
    only_cancelled = project.annotate("skipped.png", [polygon_result(left, "remove", size, "d")])
    project.client.json("PATCH", f"/api/annotations/{only_cancelled}", json={"was_cancelled": True})
    mask_left, mask_right = in_polygon(left, *size), in_polygon(right, *size)

    summaries = {}
    for mode in ("latest", "union", "all"):
        spec = project.spec(annotations=mode)
        summaries[mode] = project.export(spec, out=project.folder / mode)
    latest, union, every = (project.folder / m for m in ("latest", "union", "all"))

    assert summaries["latest"].cancelled == 2 and summaries["latest"].skipped == 1
    (row,) = metadata(latest)
    assert (row["file_name"], row["annotation_id"]) == ("images/street.png", second_id)
    assert row["annotator"] == "second.annotator@export.test"
    np.testing.assert_array_equal(read_png(latest / row["mask_file_name"]), as_255(mask_right))

    (row,) = metadata(union)
    assert row["annotation_ids"] == sorted([first_id, second_id])
    assert row["annotation_id"] == second_id and len(row["annotators"]) == 2
    want = as_255(mask_left | mask_right)
    np.testing.assert_array_equal(read_png(union / row["mask_file_name"]), want)

    rows = metadata(every)
    assert [r["file_name"] for r in rows] == [
        f"images/street-a{first_id}.png",
        f"images/street-a{second_id}.png",
    ]
    for r, mask in zip(rows, (mask_left, mask_right), strict=True):
        np.testing.assert_array_equal(read_png(every / r["mask_file_name"]), as_255(mask))
    assert rows[0]["split"] == rows[1]["split"]  # one image never straddles train and val


def test_since_last_updates_only_what_changed(
    label_studio: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project.create(label_studio, "incremental")
    size = (80, 48)
    square = [(10.2, 10.3), (40.1, 10.4), (40.3, 40.2), (10.4, 40.1)]
    kept, to_delete, to_cancel = {}, {}, {}
    for i in range(6):
        project.add_image(f"img{i}.png", picture(*size, 10 + i))
    for i in range(5):
        kept[i] = project.annotate(f"img{i}.png", [polygon_result(square, "remove", size, "s")])
    gone_task = project.tasks["img4.png"]
    to_delete, to_cancel = kept.pop(0), kept.pop(1)
    spec = project.spec()
    out = spec.export.out
    # The server's clock has whole seconds: changes are made a second before each export,
    # so that the export's start time, rounded down, comes after them.
    time.sleep(1.1)
    first = project.export(spec)
    assert (first.pairs, first.written, first.incremental) == (5, 5, False)
    before = {p.name: p.stat() for p in (out / "masks").iterdir()}

    # The change log would catch everything changed in the 5 minutes before the last run;
    # without that margin only tasks changed since then are read, which this test checks.
    monkeypatch.setattr(core, "SINCE_MARGIN", timedelta(0))
    project.client.request("DELETE", f"/api/annotations/{to_delete}")
    project.client.json("PATCH", f"/api/annotations/{to_cancel}", json={"was_cancelled": True})
    project.client.request("DELETE", f"/api/tasks/{gone_task}")
    triangle = [(5.3, 40.2), (70.1, 44.4), (40.6, 2.2)]
    project.annotate("img5.png", [polygon_result(triangle, "remove", size, "t")])
    time.sleep(1.1)
    second = project.export(spec, since_last=True)

    assert second.incremental and second.exit_code == 0
    assert second.tasks == 3  # img0 (deleted annotation), img1 (cancelled), img5 (new)
    assert (second.written, second.removed, second.pairs) == (1, 3, 3)
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["img2.png", "img3.png", "img5.png"]
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        "img2.png",
        "img3.png",
        "img5.png",
    ]
    for name in ("img2.png", "img3.png"):  # untouched: not even rewritten
        now = (out / "masks" / name).stat()
        assert (now.st_ino, now.st_mtime_ns) == (before[name].st_ino, before[name].st_mtime_ns)
    np.testing.assert_array_equal(
        read_png(out / "masks" / "img5.png"), as_255(in_polygon(triangle, *size))
    )
    assert [r["task_id"] for r in metadata(out)] == [
        project.tasks["img2.png"],
        project.tasks["img3.png"],
        project.tasks["img5.png"],
    ]

    third = project.export(spec, since_last=True)
    assert (third.tasks, third.written, third.removed, third.pairs) == (0, 0, 0, 3)

    # A full export of the same server state gives the same folder.
    fresh = project.export(spec, out=project.folder / "fresh")
    assert fresh.pairs == 3
    assert tree(out) == tree(project.folder / "fresh")


def tree(root: Path) -> dict[str, bytes]:
    skip = {STATE_FILE, ".lstk-export.lock"}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in skip
    }


def test_exif_rotated_photo_is_exported_as_displayed(label_studio: LiveServer) -> None:
    project = Project.create(label_studio, "exif")
    stored = np.zeros((60, 100, 3), dtype=np.uint8)  # 100 wide, 60 high as stored
    stored[:, :50] = (255, 0, 0)
    stored[:, 50:] = (0, 0, 255)
    photo = Image.fromarray(stored)
    exif = photo.getexif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: 60 wide, 100 high
    project.add_image("phone.jpg", photo, quality=95, exif=exif.tobytes())
    displayed = (60, 100)
    top_half = [(0.2, 0.3), (59.7, 0.3), (59.6, 49.8), (0.4, 49.6)]
    project.annotate("phone.jpg", [polygon_result(top_half, "remove", displayed, "t")])
    spec = project.spec()
    assert project.export(spec).exit_code == 0
    (row,) = metadata(spec.export.out)
    image = Image.open(spec.export.out / row["file_name"])
    assert image.size == displayed and (row["width"], row["height"]) == displayed
    assert image.getexif().get(0x0112) in (None, 1)
    expected = ImageOps.exif_transpose(Image.open(project.folder / "images" / "phone.jpg"))
    shown = np.asarray(image.convert("RGB"), dtype=int)
    assert np.abs(shown - np.asarray(expected.convert("RGB"), dtype=int)).mean() < 3
    assert shown[10, 30, 0] > 200 and shown[90, 30, 2] > 200  # red on top, blue below
    mask = read_png(spec.export.out / row["mask_file_name"])
    np.testing.assert_array_equal(mask, as_255(in_polygon(top_half, *displayed)))


def test_images_come_through_label_studio_without_the_source_folder(
    label_studio: LiveServer, tmp_path: Path
) -> None:
    project = Project.create(label_studio, "served")
    size = (64, 40)
    project.add_image("local.png", picture(*size, 20))
    upload = io.BytesIO()
    picture(*size, 21).save(upload, "PNG")
    client = project.client
    made = client.request(
        "POST",
        f"/api/projects/{project.id}/import",
        files={"file": ("uploaded pic.png", upload.getvalue())},
    )
    assert made.status_code == 201, made.text
    listed = client.get("/api/tasks", project=project.id, page_size=100)["tasks"]
    uploaded = next(t for t in listed if t["data"]["image"].startswith("/data/upload/"))
    project.tasks["uploaded"] = uploaded["id"]
    box = [(3.3, 3.2), (30.1, 3.4), (30.2, 20.6)]
    project.annotate("local.png", [polygon_result(box, "remove", size, "x")])
    project.annotate("uploaded", [polygon_result(box, "remove", size, "y")])

    spec = project.spec(images=False)  # no source folder: every image through the server
    summary = project.export(spec, out=tmp_path / "out")
    assert summary.exit_code == 0, summary.as_dict()
    files = sorted(p.name for p in (tmp_path / "out" / "images").iterdir())
    assert files == ["local.png", "uploaded_pic.png"]
    assert (tmp_path / "out" / "images" / "local.png").read_bytes() == (
        project.folder / "images" / "local.png"
    ).read_bytes()
    assert (tmp_path / "out" / "images" / "uploaded_pic.png").read_bytes() == upload.getvalue()


def test_broken_regions_warn_strict_fails_and_predictions_count(
    label_studio: LiveServer,
) -> None:
    project = Project.create(label_studio, "broken")
    size = (50, 30)
    for name in ("a.png", "b.png", "c.png"):
        project.add_image(name, picture(*size, 30))
    good = [(5.2, 5.3), (30.4, 5.1), (30.2, 20.6)]
    bad_rle = brush_result(stroke(50, 30, 1), "remove", "bad")
    bad_rle["value"]["rle"] = bad_rle["value"]["rle"][:40]  # truncated
    annotation = project.annotate(
        "a.png",
        [
            polygon_result(good, "remove", size, "ok"),
            polygon_result([(1.0, 1.0), (9.0, 9.0)], "remove", size, "line"),
            bad_rle,
        ],
    )
    prediction = project.client.json(
        "POST",
        "/api/predictions",
        json={
            "task": project.tasks["b.png"],
            "model_version": "m1",
            "score": 0.5,
            "result": [polygon_result(good, "remove", size, "pr")],
        },
    )
    spec = project.spec()
    summary = project.export(spec)
    assert summary.exit_code == 0 and summary.pairs == 1
    assert [(w.task_id, w.annotation_id) for w in summary.warnings] == [
        (project.tasks["a.png"], annotation)
    ] * 2
    assert "3 are needed" in summary.warnings[0].message
    assert "bad brush RLE" in summary.warnings[1].message
    (row,) = metadata(spec.export.out)
    mask = read_png(spec.export.out / row["mask_file_name"])
    np.testing.assert_array_equal(mask, as_255(in_polygon(good, *size)))

    strict = project.export(spec, strict=True)
    assert strict.exit_code == 1 and len(strict.warnings) == 2  # kept tasks still count

    with_predictions = project.export(spec, include_predictions=True, since_last=True)
    assert not with_predictions.incremental  # another option: a full export
    rows = {r["file_name"]: r for r in metadata(spec.export.out)}
    assert sorted(rows) == ["images/a.png", "images/b.png"]
    row = rows["images/b.png"]
    assert (row["source"], row["prediction_id"], row["model_version"]) == (
        "prediction",
        prediction["id"],
        "m1",
    )
    assert row["annotation_id"] is None


def test_the_folder_must_be_an_export_of_this_project(
    label_studio: LiveServer, tmp_path: Path
) -> None:
    project = Project.create(label_studio, "folders")
    spec = project.spec()
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        project.export(spec, out=tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    other = Project.create(label_studio, "folders-other")
    project.export(spec, out=tmp_path / "a")
    with pytest.raises(UsageError, match=f"export of project {project.id}"):
        other.export(other.spec(), out=tmp_path / "a")
    assert os.listdir(tmp_path / "a")


def test_cli_export_json_since_last_and_strict(label_studio: LiveServer) -> None:
    from tests.ls.helpers import lstk

    project = Project.create(label_studio, "cli")
    size = (40, 30)
    project.add_image("one.png", picture(*size, 40))
    good = polygon_result([(2.2, 2.1), (30.3, 4.4), (20.1, 25.6)], "remove", size, "ok")
    line = polygon_result([(1.0, 1.0), (9.0, 9.0)], "remove", size, "line")
    project.annotate("one.png", [good, line])
    spec = project.spec()
    first = lstk(label_studio, "export", str(spec.path), "--json", "--preview", "1")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["pairs"], summary["written"], len(summary["warnings"])) == (1, 1, 1)
    assert summary["preview"] and Path(summary["preview"]).is_file()
    again = lstk(label_studio, "export", str(spec.path), "--since", "last", "--json", "--strict")
    assert again.returncode == 1, again.stderr  # the warning still describes the dataset
    assert json.loads(again.stdout)["incremental"] is True
    assert not (spec.export.out / "preview.png").exists()
