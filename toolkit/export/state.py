"""The incremental state of an export folder: ``.lstk-export.json``.

It records which project and options the folder was made with, the server time of the
last complete run (``synced_at``), and for every task that has pairs: the task's
``updated_at`` when it was exported, its name, its pairs (their metadata lines and files)
and its warnings. ``--since last`` compares it with the server; the end of every run
rebuilds ``metadata.jsonl`` (and ``coco.json``) from it.

It is written atomically (temporary file, then rename) at the start of a run, every few
seconds during it, and at the end, so a run killed at any point leaves a state that
matches the files on disk closely enough for the next run to finish the job.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError
from toolkit.files import write_atomic

STATE_FILE = ".lstk-export.json"
FORMAT = 1


def options_fingerprint(options: dict[str, Any]) -> str:
    """A short stable hash of everything that changes the bytes a task's pairs are made of."""
    text = json.dumps(options, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class TaskEntry:
    """What the export holds for one task."""

    updated_at: str | None  # the task's updated_at when exported; None = retry next run
    name: str
    options: str  # fingerprint of the options its files were made with
    pairs: list[dict[str, Any]] = field(default_factory=list)  # metadata.jsonl lines
    files: list[str] = field(default_factory=list)  # relative paths, all of its files
    warnings: list[tuple[int | None, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "updated_at": self.updated_at,
            "name": self.name,
            "options": self.options,
            "pairs": self.pairs,
            "files": self.files,
            "warnings": [list(w) for w in self.warnings],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TaskEntry:
        return cls(
            updated_at=raw.get("updated_at"),
            name=str(raw["name"]),
            options=str(raw.get("options", "")),
            pairs=list(raw.get("pairs", [])),
            files=[str(f) for f in raw.get("files", [])],
            warnings=[(w[0], str(w[1])) for w in raw.get("warnings", [])],
        )


@dataclass
class ExportState:
    project_id: int | None = None
    server: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    synced_at: str | None = None  # server time at the start of the last complete run
    complete: bool = False
    tasks: dict[int, TaskEntry] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "tool": "lstk",
            "project_id": self.project_id,
            "server": self.server,
            "options": self.options,
            "fingerprint": self.fingerprint,
            "synced_at": self.synced_at,
            "complete": self.complete,
            "tasks": {str(k): v.to_json() for k, v in sorted(self.tasks.items())},
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ExportState:
        return cls(
            project_id=raw.get("project_id"),
            server=str(raw.get("server", "")),
            options=dict(raw.get("options") or {}),
            fingerprint=str(raw.get("fingerprint", "")),
            synced_at=raw.get("synced_at"),
            complete=bool(raw.get("complete")),
            tasks={int(k): TaskEntry.from_json(v) for k, v in (raw.get("tasks") or {}).items()},
        )


def load(out: Path) -> ExportState | None:
    """The state of an export folder; None when it has none."""
    path = out / STATE_FILE
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError(
                f"unknown format {raw.get('format') if isinstance(raw, dict) else raw!r}"
            )
        return ExportState.from_json(raw)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise UsageError(
            f"{path} is damaged or from another version ({exc}). Delete it to start a fresh "
            "export in that folder (the next export then rewrites every pair)."
        ) from None


def save(out: Path, state: ExportState) -> None:
    write_atomic(out / STATE_FILE, json.dumps(state.to_json(), indent=1).encode(), durable=True)
