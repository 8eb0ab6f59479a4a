"""Read an lstk export folder for training.

    from toolkit.dataset import InpaintingDataset

    train = InpaintingDataset("dataset", split="train")
    item = train[0]          # {"image": HxWx3 uint8, "mask": HxW uint8 (255 = inpaint), ...}
    loader = torch.utils.data.DataLoader(train.torch(size=512), batch_size=8, shuffle=True)

The index is ``metadata.jsonl`` (one line per pair, written by ``lstk export``). Items are
numpy arrays by default, PIL images with ``as_pil=True``. :meth:`InpaintingDataset.torch`
gives a view of float tensors for a ``torch.utils.data.DataLoader``; torch is imported
only then, so it is not a dependency of the toolkit.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from toolkit import images
from toolkit.export.outputs import METADATA
from toolkit.export.state import STATE_FILE

EXTRA_FILES = {"control": "control_file_name", "semantic": "semantic_file_name"}

__all__ = ["InpaintingDataset", "TorchView", "read_metadata"]


def read_metadata(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The pairs of an export folder, as written in its metadata.jsonl."""
    path = Path(root) / METADATA
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: {Path(root)} is not an lstk export folder "
            "(run `lstk export SPEC --out DIR` first)."
        )
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}, line {number}: not valid JSON ({exc.msg})") from None
    return rows


def _export_complete(root: Path) -> bool | None:
    try:
        return bool(json.loads((root / STATE_FILE).read_text()).get("complete"))
    except (OSError, ValueError, AttributeError):
        return None


class InpaintingDataset:
    """A map-style dataset over an export folder: ``len(ds)``, ``ds[i]``.

    - ``split``: ``"train"``, ``"val"``, or None for every pair.
    - ``skip_empty``: leave out pairs whose inpainting mask is empty.
    - ``where``: keep only pairs whose metadata passes this test (e.g. no ``unusable`` flag).
    - ``as_pil``: items hold PIL images (RGB image, L mask) instead of numpy arrays.
    - ``transform``: called with each item dict, returns the item to use.

    An item has ``image`` (HxWx3 uint8, RGB), ``mask`` (HxW uint8, 255 = inpaint, values
    in between where the export feathered the edge), ``control`` / ``semantic`` when the
    export wrote them, ``name``, ``task_id``, ``split``, ``labels`` and ``meta`` (the whole
    metadata line).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str | None = None,
        *,
        skip_empty: bool = False,
        where: Callable[[dict[str, Any]], bool] | None = None,
        as_pil: bool = False,
        transform: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self.root = Path(root)
        if split not in (None, "train", "val"):
            raise ValueError(f"split must be 'train', 'val' or None, got {split!r}")
        if _export_complete(self.root) is False:
            warnings.warn(
                f"the export in {self.root} did not finish (it was interrupted or is still "
                "running); run `lstk export` again to complete it",
                stacklevel=2,
            )
        rows = read_metadata(self.root)
        if split is not None:
            rows = [r for r in rows if r.get("split") == split]
        if skip_empty:
            rows = [r for r in rows if r.get("mask_pixels") != 0]
        if where is not None:
            rows = [r for r in rows if where(r)]
        self.records: list[dict[str, Any]] = rows
        self.as_pil = as_pil
        self.transform = transform

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Any]:
        for index in range(len(self)):
            yield self[index]

    def __getitem__(self, index: int) -> Any:
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an integer, got {type(index).__name__}")
        row = self.records[index]  # IndexError past the end, as a sequence should
        image = self.load_image(row)
        mask = self.load_mask(row, image.size)
        item: dict[str, Any] = {
            "image": image if self.as_pil else np.asarray(image),
            "mask": mask if self.as_pil else np.asarray(mask),
            "name": Path(row["file_name"]).stem,
            "task_id": row.get("task_id"),
            "split": row.get("split"),
            "labels": list(row.get("labels") or []),
            "meta": row,
        }
        for key, column in EXTRA_FILES.items():
            if row.get(column):
                with Image.open(self.root / row[column]) as extra:
                    extra.load()
                    item[key] = extra if self.as_pil else np.asarray(extra)
        return self.transform(item) if self.transform is not None else item

    def load_image(self, row: dict[str, Any]) -> Image.Image:
        return images.load_image(self.root / row["file_name"])

    def load_mask(self, row: dict[str, Any], size: tuple[int, int]) -> Image.Image:
        """The inpainting mask (all 0 when the export wrote none)."""
        if not row.get("mask_file_name"):
            return Image.new("L", size, 0)
        with Image.open(self.root / row["mask_file_name"]) as m:
            mask = m.convert("L")
        if mask.size != size:
            raise ValueError(
                f"{row['mask_file_name']} is {mask.size[0]}x{mask.size[1]} but its image is "
                f"{size[0]}x{size[1]}; re-run `lstk export` on {self.root}"
            )
        return mask

    def torch(
        self,
        size: int | Sequence[int] | None = None,
        *,
        normalize: bool = True,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> TorchView:
        """A view that returns float tensors, for ``torch.utils.data.DataLoader``;
        ``transform`` gets each item with PIL images first (for augmentation)."""
        return TorchView(self, size=size, normalize=normalize, transform=transform)


class TorchView:
    """Tensors for training (needs torch).

    Each item: ``image`` (float32, 3xHxW, in [-1, 1] with ``normalize``, else [0, 1]),
    ``mask`` (float32, 1xHxW, 1 = inpaint), ``control`` (float32 3xHxW in [0, 1]) when the
    export wrote control maps, ``task_id`` and ``name``. ``size`` (an int for squares, or
    ``(width, height)``) resizes images (bicubic), masks and maps (nearest) so items batch
    together; without it every image keeps its own size. ``transform`` is called with the
    item (PIL images) before it becomes tensors.

    A plain class rather than a ``torch.utils.data.Dataset`` subclass (a DataLoader needs
    only ``__len__`` and ``__getitem__``), so it pickles for worker processes.
    """

    def __init__(
        self,
        dataset: InpaintingDataset,
        *,
        size: int | Sequence[int] | None = None,
        normalize: bool = True,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        _torch()  # fail here, with the fix, rather than in a worker
        self.dataset = InpaintingDataset.__new__(InpaintingDataset)
        self.dataset.__dict__.update(dataset.__dict__, as_pil=True, transform=None)
        if isinstance(size, int):
            size = (size, size)
        self.size = tuple(int(s) for s in size) if size is not None else None
        self.normalize = normalize
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        torch = _torch()
        item = self.dataset[index]
        if self.transform is not None:
            item = self.transform(item)
        image, mask = item["image"], item["mask"]
        if self.size is not None:
            image = image.resize(self.size, Image.Resampling.BICUBIC)
            mask = mask.resize(self.size, Image.Resampling.NEAREST)
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
        if self.normalize:
            pixels = pixels * 2.0 - 1.0
        out: dict[str, Any] = {
            "image": pixels.contiguous(),
            "mask": torch.from_numpy(np.asarray(mask, dtype=np.float32) / 255.0)[None],
            "task_id": int(item["task_id"] or 0),
            "name": item["name"],
        }
        control = item.get("control")
        if control is not None:
            control = control.convert("RGB")
            if self.size is not None:
                control = control.resize(self.size, Image.Resampling.NEAREST)
            array = np.asarray(control, dtype=np.float32) / 255.0
            out["control"] = torch.from_numpy(array).permute(2, 0, 1).contiguous()
        return out


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError(
            "InpaintingDataset.torch() needs PyTorch, which is not installed: "
            "`pip install torch` (the numpy/PIL items work without it)."
        ) from None
    return torch
