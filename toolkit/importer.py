"""Import images (and model masks as pre-annotations) into a project, idempotently.

Identity of an image is its key (see `toolkit.sources`), kept in task data as
``lstk_key``. A re-run imports only keys the project does not have, so an interrupted
import re-run completes with no duplicates: each batch is one request, which Label
Studio saves in one transaction.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from toolkit import labeling, provision
from toolkit.errors import UsageError
from toolkit.images import MaskMismatch, load_mask, probe_image
from toolkit.keys import KEY_FIELD, KeyIndex
from toolkit.masks.rle import encode
from toolkit.server import APIError, Client
from toolkit.settings import State
from toolkit.sources import Item, collect
from toolkit.spec import S3Source, Spec

BATCH_BYTES = 8 * 1024 * 1024  # well under Label Studio's 250 MB request limit
BATCH_TASKS = 500
Progress = Callable[[int, int], None]  # (items done, items in all)


@dataclass(frozen=True)
class FileServing:
    """How the server sees local files: its document root, on this machine and inside it."""

    root: Path  # the document root as this machine sees it
    server_root: str  # the same folder as the server sees it (differs inside a container)

    def url_for(self, path: Path) -> str:
        return "/data/local-files/?d=" + quote(path.relative_to(self.root).as_posix())

    def server_path(self, folder: Path) -> str:
        rel = folder.relative_to(self.root).as_posix()
        return self.server_root.rstrip("/") + ("" if rel == "." else "/" + rel)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", self.root.resolve())

    def sees(self, path: Path) -> bool:
        """Source paths are absolute and resolved already (see `toolkit.sources`)."""
        return path.is_relative_to(self.root)

    @classmethod
    def of(cls, state: State | None) -> FileServing | None:
        """The file serving of a stack that `lstk up` started, if any."""
        if state is None or not state.files_root:
            return None
        root = Path(state.files_root)
        return cls(root, str(state.extra.get("server_files_root", root)))


@dataclass
class ImportSummary:
    project_id: int
    mode: str
    new: int = 0
    skipped: int = 0
    predictions: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "mode": self.mode,
            "new": self.new,
            "skipped": self.skipped,
            "predictions": self.predictions,
            "failed": [{"key": k, "reason": r} for k, r in self.failed],
        }


def choose_mode(spec: Spec, items: list[Item], files: FileServing | None) -> str:
    """`auto`: local files when the server can see every local image, else upload."""
    wanted = spec.data.mode
    local = [i.path for i in items if i.path is not None]
    visible = files is not None and all(files.sees(p) for p in local)
    if wanted == "local-files" and not visible:
        where = f"its document root {files.root}" if files else "no document root is known"
        raise UsageError(
            f"data.mode is local-files, but the server cannot see the images ({where}). "
            "Start it with `lstk up --files-root DIR` (a folder holding the images), or set "
            "data.mode: upload."
        )
    if wanted == "url" and local:
        raise UsageError(
            "data.mode is url, but the source has local files. List URLs in data.manifest, "
            "or set data.mode: auto."
        )
    if wanted != "auto":
        return wanted
    if not local:
        return "url"
    return "local-files" if visible else "upload"


def import_data(
    client: Client,
    spec: Spec,
    *,
    files: FileServing | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    batch_tasks: int = BATCH_TASKS,
    cache_dir: Path | None = None,
) -> ImportSummary:
    """Import the spec's images (+ masks as predictions); skip what the project has.

    `cache_dir` (the CLI passes LSTK_HOME) keeps the project's keys between runs, so a
    re-run need not list every task (see `toolkit.keys`).
    """
    project = provision.require_project(client, spec)
    project_id = int(project["id"])
    if spec.data.s3 is not None:
        return import_s3(client, project_id, spec.data.s3)
    config = labeling.read_project(project)
    items = _unique(collect(spec))
    index = KeyIndex(client, project_id, cache_dir)
    have = index.load()
    todo = [item for item in items if item.key not in have]
    summary = ImportSummary(project_id, choose_mode(spec, todo, files) if todo else "none")
    summary.skipped = len(items) - len(todo)

    def report() -> None:
        if progress:
            progress(summary.skipped + summary.new + len(summary.failed), len(items))

    report()
    if not todo:
        return summary
    if summary.mode == "local-files" and files is not None:
        ensure_local_storage(client, project_id, files, _common_folder(todo))
    make_task = _TaskMaker(spec, config, summary.mode, files, client, project_id)
    count = workers or min(8, (os.cpu_count() or 2) * 2)
    with ThreadPoolExecutor(max_workers=count) as pool:
        prepared = _bounded_map(pool, make_task, todo, window=count * 4)
        try:
            for batch in _batches(prepared, summary, batch_tasks):
                task_ids = _send(client, project_id, batch)
                index.record([t["data"][KEY_FIELD] for t in batch], task_ids)
                summary.new += len(task_ids)
                summary.predictions += sum(1 for t in batch if t.get("predictions"))
                report()
        finally:
            prepared.close()  # on error or Ctrl-C: cancel what has not started
    report()
    return summary


T = TypeVar("T")
R = TypeVar("R")


def _bounded_map(
    pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], window: int
) -> Generator[R, None, None]:
    """pool.map in order, with at most `window` items submitted ahead of the consumer."""
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def import_s3(client: Client, project_id: int, source: S3Source) -> ImportSummary:
    """Import a bucket through Label Studio's own S3 import storage (created once, synced).

    Label Studio remembers which keys a storage imported, so a re-sync adds only new ones.
    """
    fields = {
        "project": project_id,
        "title": f"lstk s3://{source.bucket}/{source.prefix}",
        "bucket": source.bucket,
        "prefix": source.prefix,
        "regex_filter": source.regex_filter,
        "use_blob_urls": True,
        "presign": source.presign,
        "s3_endpoint": source.endpoint_url or "",
        "region_name": source.region or "",
        "aws_access_key_id": source.access_key_id or "",
        "aws_secret_access_key": source.secret_access_key or "",
    }
    storages = client.get("/api/storages/s3", project=project_id)
    match = next(
        (
            s
            for s in storages
            if (s["bucket"], s.get("prefix") or "") == (source.bucket, source.prefix)
        ),
        None,
    )
    if match is None:
        resp = client.request("POST", "/api/storages/s3", json=fields)
    else:
        resp = client.request("PATCH", f"/api/storages/s3/{match['id']}", json=fields)
    if resp.status_code >= 400:
        raise UsageError(
            f"Label Studio refused the S3 source s3://{source.bucket}/{source.prefix}: "
            f"{resp.text[:300]}. Check data.s3 (endpoint, keys, bucket)."
        )
    storage_id = resp.json()["id"]
    before = _task_count(client, project_id)
    synced = client.request("POST", f"/api/storages/s3/{storage_id}/sync")
    if synced.status_code >= 400:
        raise UsageError(f"Label Studio could not sync the S3 source: {synced.text[:300]}")
    status = client.get(f"/api/storages/s3/{storage_id}")
    if status.get("status") == "failed":
        reason = (status.get("traceback") or "").strip().splitlines()[-1:] or ["unknown"]
        raise UsageError(f"Label Studio's S3 sync failed: {reason[0]}")
    summary = ImportSummary(project_id, "s3")
    summary.new = _task_count(client, project_id) - before
    summary.skipped = max(0, int(status.get("last_sync_count") or 0) - summary.new)
    return summary


def _task_count(client: Client, project_id: int) -> int:
    return int(client.get(f"/api/projects/{project_id}").get("task_number", 0))


def _unique(items: Iterable[Item]) -> list[Item]:
    seen: dict[str, Item] = {}
    for item in items:
        seen.setdefault(item.key, item)
    return list(seen.values())


def _common_folder(items: list[Item]) -> Path:
    paths = [str(i.path.parent) for i in items if i.path is not None]
    return Path(os.path.commonpath(paths))


def ensure_local_storage(client: Client, project_id: int, files: FileServing, folder: Path) -> None:
    """Label Studio serves a local file only under a local storage of the project."""
    wanted = files.server_path(folder)
    storages = client.get("/api/storages/localfiles", project=project_id)
    if any(Path(wanted).is_relative_to(s["path"]) for s in storages):
        return
    resp = client.request(
        "POST",
        "/api/storages/localfiles",
        json={"project": project_id, "path": wanted, "title": "lstk images", "use_blob_urls": True},
    )
    if resp.status_code >= 400:
        raise UsageError(
            f"Label Studio refused to serve local files from {wanted}: {resp.text[:300]}. "
            "Check that the folder is under the server's LOCAL_FILES_DOCUMENT_ROOT."
        )


class _TaskMaker:
    """Turns an Item into a task dict (or an error string), in worker threads."""

    def __init__(
        self,
        spec: Spec,
        config: labeling.ConfigInfo,
        mode: str,
        files: FileServing | None,
        client: Client,
        project_id: int,
    ) -> None:
        self.config = config
        self.mode = mode
        self.files = files
        self.client = client
        self.project_id = project_id
        self.model_version = spec.data.model_version
        self.brush = config.control_for("BrushLabels")
        self.mask_label = (
            spec.data.mask_label or (config.labels.get(self.brush or "", [""]) or [""])[0]
        )

    def __call__(self, item: Item) -> tuple[Item, dict[str, Any] | str]:
        try:
            return item, self._task(item)
        except (OSError, ValueError, MaskMismatch, APIError) as exc:
            return item, str(exc) or type(exc).__name__

    def _task(self, item: Item) -> dict[str, Any]:
        size = probe_image(item.path) if item.path is not None else None
        # Predictions first: a bad mask must fail the item before its image is uploaded.
        predictions = [self._prediction(item, size)] if item.mask is not None else []
        data = {self.config.image_field: self._url(item), KEY_FIELD: item.key}
        return {"data": data, "predictions": predictions} if predictions else {"data": data}

    def _url(self, item: Item) -> str:
        if item.url is not None:
            return item.url
        assert item.path is not None
        if self.mode == "local-files" and self.files is not None:
            return self.files.url_for(item.path)
        return upload(self.client, self.project_id, item.path)

    def _prediction(self, item: Item, size: Any) -> dict[str, Any]:
        if self.brush is None:
            raise ValueError("the project has no brush tool, so masks cannot become predictions")
        assert item.mask is not None
        mask = load_mask(item.mask, size)
        height, width = mask.shape
        region = {
            "from_name": self.brush,
            "to_name": self.config.image_name,
            "type": "brushlabels",
            "original_width": width,
            "original_height": height,
            "image_rotation": 0,
            "value": {"format": "rle", "rle": encode(mask), "brushlabels": [self.mask_label]},
        }
        score = item.score if item.score is not None else 1.0
        return {"model_version": self.model_version, "score": score, "result": [region]}


def upload(client: Client, project_id: int, path: Path) -> str:
    """Upload one file without making a task; return the URL a task uses for it."""
    # Bytes, not a file handle: a request retried after a token refresh sends them again.
    resp = client.request(
        "POST",
        f"/api/projects/{project_id}/import",
        params={"commit_to_project": "false"},
        files={"file": (path.name, path.read_bytes())},
    )
    if resp.status_code >= 400:
        raise APIError("POST", "import (upload)", resp)
    upload_id = resp.json()["file_upload_ids"][0]
    stored = client.get(f"/api/import/file-upload/{upload_id}")["file"]
    return f"/data/{stored}"


def _batches(
    prepared: Iterable[tuple[Item, dict[str, Any] | str]],
    summary: ImportSummary,
    batch_tasks: int,
) -> Iterator[list[dict[str, Any]]]:
    """Group prepared tasks into requests; failed items go into the summary."""
    batch: list[dict[str, Any]] = []
    size = 0
    for item, task in prepared:
        if isinstance(task, str):
            summary.failed.append((item.key, task))
            continue
        task_bytes = len(json.dumps(task, separators=(",", ":")))
        if batch and (size + task_bytes > BATCH_BYTES or len(batch) >= batch_tasks):
            yield batch
            batch, size = [], 0
        batch.append(task)
        size += task_bytes
    if batch:
        yield batch


def _send(client: Client, project_id: int, batch: list[dict[str, Any]]) -> list[int]:
    """Create a batch of tasks in one request; return their ids."""
    body = json.dumps(batch, separators=(",", ":"))
    resp = client.request(
        "POST",
        f"/api/projects/{project_id}/import",
        params={"return_task_ids": "true"},
        data=body,
        headers={"Content-Type": "application/json"},
    )
    if resp.status_code >= 400:
        raise APIError("POST", f"/api/projects/{project_id}/import", resp)
    return [int(i) for i in resp.json().get("task_ids", [])]
