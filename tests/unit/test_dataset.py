"""toolkit.dataset: an export folder as a map-style dataset (numpy, PIL, torch)."""

from __future__ import annotations

import importlib.util
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit.dataset import InpaintingDataset, read_metadata

HAS_TORCH = importlib.util.find_spec("torch") is not None


def make_export(root: Path, count: int = 4, *, complete: bool = True) -> list[dict]:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "control").mkdir()
    rows = []
    for i in range(count):
        width, height = 40 + 8 * i, 24
        pixels = np.full((height, width, 3), i * 10, dtype=np.uint8)
        Image.fromarray(pixels).save(root / "images" / f"img{i}.png")
        mask = np.zeros((height, width), dtype=np.uint8)
        mask[: i * 2, : i * 3] = 255
        Image.fromarray(mask).save(root / "masks" / f"img{i}.png")
        Image.new("RGB", (width, height), (255, 0, 0)).save(root / "control" / f"img{i}.png")
        rows.append(
            {
                "file_name": f"images/img{i}.png",
                "mask_file_name": f"masks/img{i}.png",
                "control_file_name": f"control/img{i}.png",
                "task_id": 100 + i,
                "labels": ["remove"],
                "flags": ["unusable"] if i == 3 else [],
                "width": width,
                "height": height,
                "mask_pixels": int(np.count_nonzero(mask)),
                "split": "val" if i == 1 else "train",
            }
        )
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / ".lstk-export.json").write_text(json.dumps({"format": 1, "complete": complete}))
    return rows


def test_numpy_items(tmp_path: Path) -> None:
    rows = make_export(tmp_path)
    ds = InpaintingDataset(tmp_path)
    assert len(ds) == 4 and read_metadata(tmp_path) == rows
    item = ds[2]
    assert item["image"].shape == (24, 56, 3) and item["image"].dtype == np.uint8
    assert item["mask"].shape == (24, 56) and item["mask"].dtype == np.uint8
    assert np.count_nonzero(item["mask"]) == 24 and set(np.unique(item["mask"])) == {0, 255}
    assert item["control"].shape == (24, 56, 3)
    assert (item["name"], item["task_id"], item["split"]) == ("img2", 102, "train")
    assert item["meta"] == rows[2]
    assert [x["name"] for x in ds] == ["img0", "img1", "img2", "img3"]
    with pytest.raises(IndexError):
        ds[4]


def test_splits_filters_pil_and_transform(tmp_path: Path) -> None:
    make_export(tmp_path)
    assert [x["name"] for x in InpaintingDataset(tmp_path, "val")] == ["img1"]
    assert len(InpaintingDataset(tmp_path, "train")) == 3
    assert len(InpaintingDataset(tmp_path, skip_empty=True)) == 3  # img0's mask is empty
    usable = InpaintingDataset(tmp_path, where=lambda r: "unusable" not in r["flags"])
    assert len(usable) == 3
    pil = InpaintingDataset(tmp_path, as_pil=True)[1]
    assert isinstance(pil["image"], Image.Image) and pil["image"].mode == "RGB"
    assert pil["mask"].mode == "L" and pil["mask"].size == pil["image"].size
    flipped = InpaintingDataset(tmp_path, transform=lambda item: item["mask"][:, ::-1])
    assert flipped[3][0, -1] == 255
    with pytest.raises(ValueError, match="split"):
        InpaintingDataset(tmp_path, "test")


def test_incomplete_export_warns_and_missing_one_explains(tmp_path: Path) -> None:
    make_export(tmp_path / "a", complete=False)
    with pytest.warns(UserWarning, match="did not finish"):
        InpaintingDataset(tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="not an lstk export"):
        InpaintingDataset(tmp_path / "nothing")


def test_a_mask_of_another_size_is_an_error(tmp_path: Path) -> None:
    make_export(tmp_path)
    Image.new("L", (5, 5)).save(tmp_path / "masks" / "img0.png")
    with pytest.raises(ValueError, match="masks/img0.png is 5x5"):
        InpaintingDataset(tmp_path)[0]


@pytest.mark.skipif(HAS_TORCH, reason="torch is installed")
def test_torch_view_explains_how_to_get_torch(tmp_path: Path) -> None:
    make_export(tmp_path)
    with pytest.raises(ImportError, match="pip install torch"):
        InpaintingDataset(tmp_path).torch()


def test_dataset_pickles_for_loader_workers(tmp_path: Path) -> None:
    make_export(tmp_path)
    ds = pickle.loads(pickle.dumps(InpaintingDataset(tmp_path, "train")))
    assert len(ds) == 3 and ds[0]["image"].shape == (24, 40, 3)


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
def test_torch_view_with_a_dataloader(tmp_path: Path) -> None:
    import torch
    from torch.utils.data import DataLoader

    make_export(tmp_path)
    view = InpaintingDataset(tmp_path).torch(size=32)
    item = view[2]
    assert item["image"].shape == (3, 32, 32) and item["mask"].shape == (1, 32, 32)
    assert item["image"].min() >= -1 and item["image"].max() <= 1
    assert set(torch.unique(item["mask"]).tolist()) <= {0.0, 1.0}
    batches = list(DataLoader(view, batch_size=2, num_workers=2))
    assert [b["image"].shape[0] for b in batches] == [2, 2]
    assert batches[0]["control"].shape == (2, 3, 32, 32)
    assert batches[1]["task_id"].tolist() == [102, 103]
