"""Which images a project already has: the `lstk_key` of every task.

Listing every task is the slow part of a re-import (Label Studio loads each task's
predictions to list it), so the keys are cached on disk next to a fingerprint of the
project's task set: (task count, highest task id). Task ids only grow, so any task added
or deleted since the cache was written changes the fingerprint, and the keys are then
listed again from the server.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from toolkit.files import write_atomic
from toolkit.server import Client

KEY_FIELD = "lstk_key"
NEWEST_FIRST = json.dumps({"ordering": ["-tasks:id"]})


@dataclass(frozen=True)
class Fingerprint:
    count: int
    max_id: int


def fingerprint(client: Client, project_id: int) -> Fingerprint:
    body = client.get(
        "/api/tasks", project=project_id, page_size=1, fields="task_only", include="id",
        query=NEWEST_FIRST,
    )  # fmt: skip
    tasks = body.get("tasks") or []
    return Fingerprint(int(body.get("total") or 0), int(tasks[0]["id"]) if tasks else 0)


def list_keys(client: Client, project_id: int) -> set[str]:
    """Every task's key, from the server."""
    keys = set()
    # `include` keeps Label Studio from serialising every task's counters and users.
    listing = client.paginate(
        "/api/tasks", page_size=1000, project=project_id, fields="task_only", include="id,data"
    )
    for task in listing:
        key = (task.get("data") or {}).get(KEY_FIELD)
        if key:
            keys.add(str(key))
    return keys


class KeyIndex:
    """The keys of one project, read through an on-disk cache when given a folder."""

    def __init__(self, client: Client, project_id: int, cache_dir: Path | None = None) -> None:
        self.client = client
        self.project_id = project_id
        self.path: Path | None = None
        self.fingerprint = Fingerprint(0, 0)
        self.keys: set[str] = set()
        if cache_dir is not None:
            server = hashlib.sha256(client.url.encode()).hexdigest()[:12]
            self.path = cache_dir / "keys" / f"{server}-{project_id}.json"

    def load(self) -> set[str]:
        self.fingerprint = fingerprint(self.client, self.project_id)
        cached = self._read()
        if cached is not None and cached[0] == self.fingerprint:
            self.keys = cached[1]
        else:
            self.keys = list_keys(self.client, self.project_id)
            self._write()
        return set(self.keys)

    def record(self, keys: list[str], task_ids: list[int]) -> None:
        """Tasks this process created: the fingerprint that follows is known without asking."""
        self.keys.update(keys)
        self.fingerprint = Fingerprint(
            self.fingerprint.count + len(task_ids), max([self.fingerprint.max_id, *task_ids])
        )
        self._write()

    def _read(self) -> tuple[Fingerprint, set[str]] | None:
        if self.path is None or not self.path.exists():
            return None
        try:
            raw = json.loads(self.path.read_text())
            return Fingerprint(**raw["fingerprint"]), set(raw["keys"])
        except (ValueError, KeyError, TypeError):
            return None

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"fingerprint": self.fingerprint.__dict__, "keys": sorted(self.keys)}
        write_atomic(self.path, json.dumps(body))
