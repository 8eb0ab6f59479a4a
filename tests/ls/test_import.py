"""`lstk import` against a real Label Studio: modes, pre-annotations, idempotence, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import LiveServer
from tests.ls.helpers import lstk, sample_images, write_spec
from toolkit import importer, provision
from toolkit.importer import FileServing
from toolkit.masks.rle import decode
from toolkit.spec import load

SPEC = """
project:
  title: {title}
  tools: [brush]
  labels: [remove, protect]
data:
  images: ./images
  masks: ./masks
  mode: {mode}
  model_version: unit-model
"""


def project_tasks(server: LiveServer, project_id: int) -> list[dict]:
    return list(server.client().paginate("/api/tasks", project=project_id, fields="all"))


def setup(server: LiveServer, folder: Path, title: str, count: int, mode: str = "auto"):
    masks = sample_images(folder, count)
    spec = load(write_spec(folder, SPEC.format(title=title, mode=mode)))
    provision.apply(server.client(), spec)
    return spec, masks


def test_local_files_import_twice_no_duplicates_and_masks_round_trip(
    label_studio: LiveServer,
) -> None:
    folder = label_studio.files_root / "twice"
    spec, masks = setup(label_studio, folder, "Import twice", 12)
    first = lstk(label_studio, "import", str(spec.path), "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["new"], summary["skipped"], summary["mode"]) == (12, 0, "local-files")
    second = json.loads(lstk(label_studio, "import", str(spec.path), "--json").stdout)
    assert (second["new"], second["skipped"]) == (0, 12)

    tasks = project_tasks(label_studio, summary["project_id"])
    assert sorted(t["data"]["lstk_key"] for t in tasks) == sorted(masks)
    client = label_studio.client()
    for task in tasks:
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == "unit-model"
        region = prediction["result"][0]
        assert region["value"]["brushlabels"] == ["remove"]
        pixels = decode(region["value"]["rle"], region["original_width"], region["original_height"])
        np.testing.assert_array_equal(pixels, masks[task["data"]["lstk_key"]])
        image = client.request("GET", task["data"]["image"])
        assert image.status_code == 200
        assert image.content == (folder / "images" / task["data"]["lstk_key"]).read_bytes()


def test_upload_mode_outside_the_document_root(label_studio: LiveServer, tmp_path: Path) -> None:
    spec, masks = setup(label_studio, tmp_path, "Import upload", 3)
    summary = importer.import_data(
        label_studio.client(), spec, files=FileServing.of(label_studio.state)
    )
    assert (summary.mode, summary.new) == ("upload", 3)
    client = label_studio.client()
    for task in project_tasks(label_studio, summary.project_id):
        assert task["data"]["image"].startswith("/data/upload/")
        served = client.request("GET", task["data"]["image"])
        assert served.content == (tmp_path / "images" / task["data"]["lstk_key"]).read_bytes()


def test_local_files_mode_refused_when_server_cannot_see_them(
    label_studio: LiveServer, tmp_path: Path
) -> None:
    spec, _ = setup(label_studio, tmp_path, "Import refused", 1, mode="local-files")
    result = lstk(label_studio, "import", str(spec.path))
    assert result.returncode == 2
    assert "--files-root" in result.stderr


def test_broken_files_are_listed_and_skipped(label_studio: LiveServer, tmp_path: Path) -> None:
    spec, _ = setup(label_studio, tmp_path, "Import broken", 2)
    (tmp_path / "images" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "images" / "empty.png").write_bytes(b"")
    Image.new("RGB", (40, 30)).save(tmp_path / "images" / "mismatch.png")
    Image.new("L", (30, 40)).save(tmp_path / "masks" / "mismatch.png")
    result = lstk(label_studio, "import", str(spec.path), "--json")
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["new"] == 2
    failed = {f["key"]: f["reason"] for f in summary["failed"]}
    assert set(failed) == {"corrupt.jpg", "empty.png", "mismatch.png"}
    assert "30x40" in failed["mismatch.png"] and "40x30" in failed["mismatch.png"]
    keys = {t["data"]["lstk_key"] for t in project_tasks(label_studio, summary["project_id"])}
    assert keys == {"img0000.jpg", "img0001.jpg"}


def test_exif_rotated_photo_gets_mask_in_displayed_orientation(
    label_studio: LiveServer, tmp_path: Path
) -> None:
    spec, _ = setup(label_studio, tmp_path, "Import exif", 0)
    stored = np.zeros((40, 100, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed portrait (rotated 90 degrees clockwise)
    Image.fromarray(stored).save(tmp_path / "images" / "phone.jpg", exif=exif.tobytes())
    raw_mask = np.zeros((40, 100), dtype=np.uint8)
    raw_mask[:, :10] = 255  # the stored image's left edge: the displayed image's top edge
    Image.fromarray(raw_mask).save(tmp_path / "masks" / "phone.png")
    summary = importer.import_data(label_studio.client(), spec)
    assert summary.new == 1, summary.failed
    (task,) = project_tasks(label_studio, summary.project_id)
    region = task["predictions"][0]["result"][0]
    assert (region["original_width"], region["original_height"]) == (40, 100)
    pixels = decode(region["value"]["rle"], 40, 100)
    assert pixels[:10].all() and not pixels[10:].any()


def test_killed_import_rerun_completes_without_duplicates(label_studio: LiveServer) -> None:
    folder = label_studio.files_root / "killed"
    spec, masks = setup(label_studio, folder, "Import killed", 120)
    project_id = provision.require_project(label_studio.client(), spec)["id"]
    script = (
        "import sys, time; from toolkit import importer; from toolkit.server import Client;"
        "from toolkit.spec import load; from toolkit.importer import FileServing;"
        "from pathlib import Path;"
        "slow = lambda done, total: time.sleep(0.5);"
        "importer.import_data(Client(sys.argv[1], sys.argv[2]), load(sys.argv[3]),"
        " files=FileServing(Path(sys.argv[4]), sys.argv[4]), progress=slow, batch_tasks=10)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, label_studio.url, label_studio.token, str(spec.path),
         str(label_studio.files_root)],
        env={**os.environ},
    )  # fmt: skip
    try:
        while len(project_tasks(label_studio, project_id)) < 20:
            assert proc.poll() is None, "the import finished before it could be interrupted"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = len(project_tasks(label_studio, project_id))
    assert 20 <= partial < 120
    rerun = lstk(label_studio, "import", str(spec.path), "--json")
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["new"] == 120 - partial
    keys = [t["data"]["lstk_key"] for t in project_tasks(label_studio, project_id)]
    assert sorted(keys) == sorted(masks)


@pytest.mark.parametrize("kind", ["txt", "jsonl", "csv"])
def test_manifest_sources(label_studio: LiveServer, tmp_path: Path, kind: str) -> None:
    masks = sample_images(tmp_path, 2)
    lines = {
        "txt": "images/img0000.jpg\nhttp://127.0.0.1:9/remote.jpg\n",
        "jsonl": '{"image": "images/img0000.jpg", "mask": "masks/img0000.png", "score": 0.5}\n'
        '{"image": "http://127.0.0.1:9/remote.jpg"}\n',
        "csv": "image,mask,score\nimages/img0000.jpg,masks/img0000.png,0.5\n"
        "http://127.0.0.1:9/remote.jpg,,\n",
    }[kind]
    (tmp_path / f"list.{kind}").write_text(lines)
    text = f"project:\n  title: Manifest {kind}\n  labels: [remove]\n"
    text += f"data:\n  manifest: ./list.{kind}\n  images: ./images\n"
    spec = load(write_spec(tmp_path, text))
    provision.apply(label_studio.client(), spec)
    summary = importer.import_data(label_studio.client(), spec)
    assert summary.new == 2 and not summary.failed
    tasks = {t["data"]["lstk_key"]: t for t in project_tasks(label_studio, summary.project_id)}
    assert set(tasks) == {"img0000.jpg", "http://127.0.0.1:9/remote.jpg"}
    assert (
        tasks["http://127.0.0.1:9/remote.jpg"]["data"]["image"] == "http://127.0.0.1:9/remote.jpg"
    )
    if kind != "txt":
        prediction = tasks["img0000.jpg"]["predictions"][0]
        assert prediction["score"] == 0.5
        rle = prediction["result"][0]["value"]["rle"]
        np.testing.assert_array_equal(decode(rle, 96, 64), masks["img0000.jpg"])


def test_key_cache_follows_deletions_and_outside_additions(
    label_studio: LiveServer, tmp_path: Path
) -> None:
    folder = label_studio.files_root / "cached"
    spec, masks = setup(label_studio, folder, "Import cached", 5)
    client = label_studio.client()
    files = FileServing.of(label_studio.state)
    first = importer.import_data(client, spec, files=files, cache_dir=tmp_path)
    assert first.new == 5
    cache = json.loads(next((tmp_path / "keys").glob("*.json")).read_text())
    assert sorted(cache["keys"]) == sorted(masks) and cache["fingerprint"]["count"] == 5
    assert importer.import_data(client, spec, files=files, cache_dir=tmp_path).new == 0

    tasks = project_tasks(label_studio, first.project_id)
    client.request("DELETE", f"/api/tasks/{tasks[0]['id']}")
    again = importer.import_data(client, spec, files=files, cache_dir=tmp_path)
    assert again.new == 1  # the deleted image comes back, the others are not duplicated
    client.json("POST", f"/api/projects/{first.project_id}/import",
                json=[{"image": "/x.png", "lstk_key": "img0001.jpg"}])  # fmt: skip
    Image.new("RGB", (8, 8)).save(folder / "images" / "img0001.jpg")
    # Someone else imported a task for img0001.jpg: the fingerprint changed, so the keys
    # are listed again and nothing is imported twice.
    assert importer.import_data(client, spec, files=files, cache_dir=tmp_path).new == 0
    keys = [t["data"]["lstk_key"] for t in project_tasks(label_studio, first.project_id)]
    assert sorted(keys) == sorted([*masks, "img0001.jpg"])
