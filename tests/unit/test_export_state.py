"""Incremental state, atomic writes, the sweep of unowned files, and image preparation."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from toolkit.errors import UsageError
from toolkit.export import outputs
from toolkit.export import state as st
from toolkit.export.media import ImageError, Images, prepare
from toolkit.files import FILE_MODE, PRIVATE, write_atomic
from toolkit.server import Client


def test_state_round_trip(tmp_path: Path) -> None:
    state = st.ExportState(
        project_id=7,
        server="http://x",
        options={"a": 1},
        fingerprint="f",
        synced_at="2026-01-01T00:00:00.000000Z",
        complete=True,
        tasks={
            3: st.TaskEntry(
                "2026-01-01T00:00:00.000000Z",
                "img",
                "f",
                [{"file_name": "images/img.jpg"}],
                ["images/img.jpg", "masks/img.png"],
                [(12, "polygon region skipped")],
            ),
            2: st.TaskEntry(None, "other", "f"),
        },
    )
    st.save(tmp_path, state)
    again = st.load(tmp_path)
    assert again == state
    assert list(again.tasks) == [2, 3]  # saved in task order
    assert oct((tmp_path / st.STATE_FILE).stat().st_mode & 0o777) == oct(FILE_MODE)


def test_state_missing_and_damaged(tmp_path: Path) -> None:
    assert st.load(tmp_path) is None
    (tmp_path / st.STATE_FILE).write_text("{not json")
    with pytest.raises(UsageError, match="damaged"):
        st.load(tmp_path)
    (tmp_path / st.STATE_FILE).write_text('{"format": 99}')
    with pytest.raises(UsageError, match="another version"):
        st.load(tmp_path)


def test_options_fingerprint_ignores_key_order() -> None:
    a = st.options_fingerprint({"x": 1, "y": [1, 2]})
    assert a == st.options_fingerprint({"y": [1, 2], "x": 1})
    assert a != st.options_fingerprint({"x": 2, "y": [1, 2]})


def test_write_atomic_replaces_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    write_atomic(target, b"one")
    write_atomic(target, b"two", durable=True)
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_write_atomic_keeps_the_old_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_sweep_removes_unowned_and_temporary_files_only(tmp_path: Path) -> None:
    owned = ["images/a.jpg", "masks/a.png", "labels/remove/a.png"]
    for rel in [
        *owned,
        "images/orphan.jpg",
        "labels/old_label/a.png",
        "masks/.a.png.x.lstk-tmp",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("the user's own file at the top stays")
    (tmp_path / ".metadata.jsonl.123.lstk-tmp").write_text("left by a killed run")
    removed = outputs.sweep(tmp_path, set(owned))
    assert removed == 3
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == sorted([*owned, "notes.txt"])
    assert not (tmp_path / "labels" / "old_label").exists()


def _jpeg(size: tuple[int, int], orientation: int | None) -> bytes:
    width, height = size
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2] = (255, 0, 0)  # left half red, right half blue (as stored)
    pixels[:, width // 2 :] = (0, 0, 255)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x010F] = "Maker"
    if orientation is not None:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, exif=exif.tobytes())
    return buffer.getvalue()


def test_prepare_copies_an_image_without_orientation_byte_for_byte() -> None:
    data = _jpeg((60, 40), None)
    picture = prepare(data, ".jpeg")
    assert (picture.data, picture.ext, picture.width, picture.height) == (data, ".jpeg", 60, 40)
    assert not picture.transposed
    assert prepare(_jpeg((60, 40), 1)).data == _jpeg((60, 40), 1)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_prepare_transposes_by_exif_orientation(orientation: int) -> None:
    data = _jpeg((60, 40), orientation)
    picture = prepare(data, ".jpg")
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    assert (picture.width, picture.height) == expected.size
    assert picture.transposed and picture.ext == ".jpg"
    written = Image.open(io.BytesIO(picture.data))
    assert written.format == "JPEG"
    assert written.getexif().get(0x0112) in (None, 1)
    assert written.getexif().get(0x010F) == "Maker"  # the rest of EXIF is kept
    difference = np.abs(np.asarray(written.convert("RGB"), int) - np.asarray(expected, int))
    assert difference.mean() < 3  # the same picture, re-encoded once


def test_prepare_fixes_a_wrong_extension_and_rejects_broken_files() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6)).save(buffer, "PNG")
    assert prepare(buffer.getvalue(), ".jpg").ext == ".png"
    assert prepare(buffer.getvalue(), "").ext == ".png"
    with pytest.raises(ImageError, match="not a readable image"):
        prepare(b"not an image")
    truncated = _jpeg((300, 200), None)[:-400]
    with pytest.raises(ImageError):
        prepare(truncated)


def test_local_paths_never_leave_their_root(tmp_path: Path) -> None:
    root = tmp_path / "data" / "images"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.jpg").write_bytes(b"x")
    (tmp_path / "secret.jpg").write_bytes(b"x")
    images = Images(Client("http://127.0.0.1:9", "k"), source_root=root)
    assert images.local_path("/data/upload/1/a.jpg", "sub/a.jpg") == root / "sub" / "a.jpg"
    assert images.local_path("/x", "../../secret.jpg") is None
    # a local-files URL whose path ends in the source folder
    url = "/data/local-files/?d=data/images/sub/a.jpg"
    assert images.local_path(url, None) == root / "sub" / "a.jpg"
    assert images.local_path("/data/local-files/?d=other/sub/a.jpg", None) is None
    served = Images(Client("http://127.0.0.1:9", "k"), files_root=tmp_path)
    assert served.local_path(url, None) == root / "sub" / "a.jpg"
    assert served.local_path("/data/local-files/?d=../etc/passwd", None) is None


def test_write_atomic_with_a_private_mode(tmp_path: Path) -> None:
    write_atomic(tmp_path / "secret", "token", mode=PRIVATE)
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600
