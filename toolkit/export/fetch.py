"""Reading a project's tasks from Label Studio for export, as a bounded stream.

Tasks come from the data manager's task list (``GET /api/tasks?fields=all``), which returns
each task with its annotations and predictions. Pages are taken by *keyset*: every request
asks for the first page of tasks with ``id`` greater than the last one seen, in id order,
so tasks added or deleted while the export runs never shift a page (page numbers would).
The page size adapts so that a page holds about :data:`PAGE_BYTES` of JSON, and one page
is fetched ahead in a background thread while the previous one is rendered.

Measured against the alternatives (docs/export.md): snapshot exports build the whole
project server-side before the first byte arrives and must be held or re-parsed as one
JSON document; ``/api/tasks/{id}`` per task costs a request each.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from toolkit.server import APIError, Client

PAGE_BYTES = 4 * 1024 * 1024  # aim for pages of about this much JSON
MIN_PAGE, MAX_PAGE, FIRST_PAGE = 2, 500, 20
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # what data manager Datetime filters accept
COUNT_CHUNK = 200  # task ids per existence check (keeps the query string short)

T = TypeVar("T")


def server_time(client: Client) -> datetime:
    """The server's clock (its HTTP ``Date``), to compare with the ``updated_at`` it writes."""
    resp = client.request("GET", "/api/version")
    stamp = resp.headers.get("Date")
    if stamp:
        try:
            return parsedate_to_datetime(stamp).astimezone(timezone.utc)
        except (TypeError, ValueError):
            pass
    return datetime.now(timezone.utc)


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(DATETIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _filter(field: str, operator: str, kind: str, value: Any) -> dict[str, Any]:
    return {"filter": f"filter:tasks:{field}", "operator": operator, "type": kind, "value": value}


class TaskStream:
    """The tasks of a project in id order, with annotations and predictions.

    ``since``: only tasks whose ``updated_at`` is later (Label Studio moves a task's
    ``updated_at`` whenever one of its annotations or predictions is created, changed or
    deleted). ``ids``: only these tasks. ``total`` is known after the first page.
    """

    def __init__(
        self,
        client: Client,
        project_id: int,
        *,
        since: datetime | None = None,
        ids: Iterable[int] | None = None,
        page_bytes: int = PAGE_BYTES,
    ) -> None:
        self.client = client
        self.project_id = project_id
        self.since = since
        self.ids = sorted(set(ids)) if ids is not None else None
        self.page_bytes = page_bytes
        self.total: int | None = len(self.ids) if self.ids is not None else None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for page in self.pages():
            yield from page

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        if self.ids is not None:
            for start in range(0, len(self.ids), COUNT_CHUNK):
                yield from self._pages(self.ids[start : start + COUNT_CHUNK])
        else:
            yield from self._pages(None)

    def _pages(self, included: list[int] | None) -> Iterator[list[dict[str, Any]]]:
        last, size = 0, FIRST_PAGE
        while True:
            items = [_filter("id", "greater", "Number", last)]
            if self.since is not None:
                items.append(_filter("updated_at", "greater", "Datetime", format_time(self.since)))
            query: dict[str, Any] = {
                "filters": {"conjunction": "and", "items": items},
                "ordering": ["tasks:id"],
            }
            if included is not None:
                query["selectedItems"] = {"all": False, "included": included}
            params = {
                "project": self.project_id,
                "page": 1,
                "page_size": size,
                "fields": "all",
                "resolve_uri": "false",
                "query": json.dumps(query, separators=(",", ":")),
            }
            resp = self.client.request("GET", "/api/tasks", params=params)
            if resp.status_code >= 400:
                raise APIError("GET", "/api/tasks", resp)
            body = resp.json()
            tasks = body.get("tasks", []) if isinstance(body, dict) else body
            if self.total is None and isinstance(body, dict) and "total" in body:
                self.total = int(body["total"])
            if not tasks:
                return
            for task in tasks:
                compact(task)
            yield tasks
            # No early stop on a short page: a server's TASK_API_PAGE_SIZE_MAX may cut pages
            # shorter than asked; only an empty page means the end.
            last = int(tasks[-1]["id"])
            per_task = max(1, len(resp.content) // len(tasks))
            size = max(MIN_PAGE, min(MAX_PAGE, self.page_bytes // per_task))


def compact(task: dict[str, Any]) -> None:
    """Hold brush RLE streams as bytes rather than lists of ints (8x less memory)."""
    for group in ("annotations", "predictions"):
        for item in task.get(group) or ():
            for result in item.get("result") or ():
                value = result.get("value") if isinstance(result, dict) else None
                rle = value.get("rle") if isinstance(value, dict) else None
                if isinstance(rle, list):
                    # not bytes: left as is, the rasteriser reports the region as broken
                    with contextlib.suppress(TypeError, ValueError):
                        value["rle"] = bytes(rle)


def existing(client: Client, project_id: int, ids: Iterable[int]) -> set[int]:
    """Which of ``ids`` are still tasks of the project.

    Counts tasks per chunk of ids (one cheap request each, the list's ``total``) and only
    narrows down chunks that lost tasks, so a check of thousands of unchanged tasks costs
    a few dozen requests.
    """
    wanted = sorted(set(ids))
    present: set[int] = set()
    stack = [wanted[i : i + COUNT_CHUNK] for i in range(0, len(wanted), COUNT_CHUNK)]
    while stack:
        chunk = stack.pop()
        body = _select(client, project_id, chunk, page_size=1 if len(chunk) > 8 else len(chunk))
        count = int(body.get("total", 0))
        if count == len(chunk):
            present.update(chunk)
        elif count == 0:
            continue
        elif len(chunk) <= 8:
            present.update(int(t["id"]) for t in body.get("tasks", []) if int(t["id"]) in chunk)
        else:
            half = len(chunk) // 2
            stack += [chunk[:half], chunk[half:]]
    return present


def _select(client: Client, project_id: int, ids: list[int], page_size: int) -> dict[str, Any]:
    query = {"selectedItems": {"all": False, "included": ids}}
    params = {
        "project": project_id,
        "page": 1,
        "page_size": page_size,
        "include": "id",
        "query": json.dumps(query, separators=(",", ":")),
    }
    resp = client.request("GET", "/api/tasks", params=params)
    if resp.status_code >= 400:
        raise APIError("GET", "/api/tasks", resp)
    body = resp.json()
    return body if isinstance(body, dict) else {"total": len(body), "tasks": body}


def users(client: Client) -> dict[int, str]:
    """User id -> email (or username) for naming annotators; empty when not allowed."""
    resp = client.request("GET", "/api/users")
    if resp.status_code >= 400:
        return {}
    body = resp.json()
    people = body.get("results", []) if isinstance(body, dict) else body
    return {
        int(u["id"]): str(u.get("email") or u.get("username") or u["id"])
        for u in people
        if isinstance(u, dict) and "id" in u
    }


def annotator(item: dict[str, Any], emails: dict[int, str]) -> str | None:
    """Who made an annotation: their email when known."""
    who = item.get("completed_by")
    if isinstance(who, dict):
        return str(who.get("email") or who.get("username") or who.get("id"))
    if isinstance(who, int) and who in emails:
        return emails[who]
    created = str(item.get("created_username") or "").strip()
    if created:
        return created.rsplit(",", 1)[0].strip() or created
    return str(who) if who is not None else None


def ahead(source: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Iterate ``source`` in a background thread, ``depth`` items ahead of the consumer.

    Errors in the producer are raised in the consumer; closing the generator stops the
    producer at its next item.
    """
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put(("item", item)):
                    return
        except BaseException as exc:  # handed to the consumer
            put(("error", exc))
            return
        put(("done", None))

    worker = threading.Thread(target=produce, name="lstk-export-fetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, payload = box.get()
            if kind == "item":
                yield payload
            elif kind == "error":
                raise payload
            else:
                return
    finally:
        stop.set()
        worker.join(timeout=5)


def chain(*streams: Callable[[], Iterable[T]]) -> Iterator[T]:
    """The items of several lazily made streams, one after the other."""
    for make in streams:
        yield from make()
