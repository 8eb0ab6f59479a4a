"""``export``: a project's finished annotations -> an inpainting training set, incrementally.

See docs/export.md for the layout, the options and the decisions behind them.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

from toolkit import labeling, provision
from toolkit.errors import EXIT_FAILURES, EXIT_OK, UsageError
from toolkit.export import fetch, naming, outputs, render
from toolkit.export import state as state_mod
from toolkit.export.media import Images
from toolkit.export.render import Options
from toolkit.export.state import ExportState, TaskEntry
from toolkit.masks import post
from toolkit.server import Client
from toolkit.spec import Spec

#: ``--since last`` re-reads tasks changed up to this long before the previous run started:
#: a change committed late (a long import transaction) or clocks a little apart are caught.
SINCE_MARGIN = timedelta(minutes=5)
CHECKPOINT_SECONDS = 2.0
Progress = Callable[[int, int], None]  # (tasks done, tasks to do so far)


class ExportWarning(NamedTuple):
    """A problem with one task or annotation; ``annotation_id`` is None for task-level ones
    and for predictions (the message names the prediction)."""

    task_id: int
    annotation_id: int | None
    message: str


@dataclass
class ExportSummary:
    """What an export did. ``warnings`` cover the whole dataset as it stands (those of
    tasks kept from earlier runs included); ``failed`` are this run's failed tasks."""

    out: Path
    project_id: int
    incremental: bool
    pairs: int = 0  # pairs in the dataset after the run
    written: int = 0  # pairs written by this run
    removed: int = 0  # pairs removed by this run (annotation deleted or cancelled, task gone)
    skipped: int = 0  # tasks read that make no pair (no submitted annotation)
    cancelled: int = 0  # cancelled annotations ignored in the tasks read
    tasks: int = 0  # tasks read from Label Studio
    warnings: list[ExportWarning] = field(default_factory=list)
    failed: list[ExportWarning] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    strict: bool = False
    preview: Path | None = None

    @property
    def unchanged(self) -> int:
        return max(0, self.pairs - self.written)

    @property
    def exit_code(self) -> int:
        """1 when tasks failed, or with ``strict`` when there are warnings; else 0."""
        if self.failed or (self.strict and self.warnings):
            return EXIT_FAILURES
        return EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "project_id": self.project_id,
            "incremental": self.incremental,
            "pairs": self.pairs,
            "written": self.written,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": self.skipped,
            "cancelled": self.cancelled,
            "tasks": self.tasks,
            "warnings": [w._asdict() for w in self.warnings],
            "failed": [w._asdict() for w in self.failed],
            "notes": self.notes,
            "preview": str(self.preview) if self.preview else None,
            "exit_code": self.exit_code,
        }


def resolve_options(
    spec: Spec, project: dict[str, Any], include_predictions: bool = False
) -> Options:
    """The export options of a spec for a project on the server (labels come from the spec,
    or from the project's label config when the spec gives a raw ``label_config``)."""
    config = labeling.read_project(project)
    names = spec.project.label_names or config.all_labels
    given = {label.name: label.color for label in spec.project.labels}
    fallback = ["#{:02x}{:02x}{:02x}".format(*rgb) for rgb in post.palette(len(names))]
    colors = [given.get(n) or config.colors.get(n) or fallback[i] for i, n in enumerate(names)]
    chosen = spec.export.labels
    if chosen is not None:
        unknown = [label for label in chosen if label not in names]
        if unknown:
            raise UsageError(
                f"export.labels names {unknown}, which project {project.get('id')} does not "
                f"have (its labels: {names}). Fix export.labels in {spec.path}."
            )
    formats = tuple(f for f in ("inpaint", "per-label", "semantic", "control", "coco")
                    if f in spec.export.formats)  # fmt: skip
    if "coco" in formats:
        try:
            import pycocotools.mask  # noqa: F401
        except ImportError:
            raise UsageError(
                "export.formats lists coco, which needs pycocotools: "
                "`pip install pycocotools`, or drop coco from export.formats."
            ) from None
    return Options(
        labels=tuple(names),
        colors=tuple(colors),
        label_dirs=tuple(_label_dirs(names)),
        chosen=frozenset(chosen) if chosen is not None else None,
        mode=spec.export.annotations,
        threshold=spec.export.threshold,
        dilate=spec.export.dilate,
        feather=spec.export.feather,
        min_area=spec.export.min_area,
        val=spec.export.split.val,
        seed=spec.export.split.seed,
        formats=formats,
        include_predictions=include_predictions,
        image_field=config.image_field,
        image_name=config.image_name,
    )


def _label_dirs(labels: list[str]) -> list[str]:
    names = naming.Names()
    return [names.claim(naming.sanitize(label), i) for i, label in enumerate(labels)]


def export(
    client: Client,
    spec: Spec,
    *,
    out: str | os.PathLike[str] | None = None,
    since_last: bool = False,
    include_predictions: bool = False,
    preview: int = 0,
    strict: bool = False,
    progress: Progress | None = None,
    files_root: str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> ExportSummary:
    """Write the spec's project as image/mask pairs into ``out`` (default ``export.out``).

    - ``since_last``: read only tasks changed since the previous complete export into
      ``out`` (falls back to a full export, with a note, when there is none or the options
      changed); pairs of deleted tasks and of deleted or cancelled annotations go.
    - ``include_predictions``: a task without submitted annotations uses its predictions.
    - ``preview``: write ``preview.png``, a contact sheet of that many pairs.
    - ``strict``: broken regions make :attr:`ExportSummary.exit_code` 1.
    - ``progress(done, total)`` is called as tasks finish.
    - ``files_root``: the server's local-files document root on this machine, if known,
      to read local-files images from disk.

    Raises UsageError (bad spec, folder not an export), ConnectionFailed (server).
    """
    target = Path(out if out is not None else spec.export.out).absolute()
    project = provision.require_project(client, spec)
    options = resolve_options(spec, project, include_predictions)
    if preview < 0:
        raise UsageError(f"--preview takes a number of pairs >= 0, got {preview}.")
    source_root = spec.data.images or (spec.data.manifest.parent if spec.data.manifest else None)
    images = Images(
        client,
        source_root=source_root,
        files_root=Path(files_root) if files_root else None,
    )
    if target.is_dir():  # refuse a foreign folder before leaving a lock file in it
        _check_folder(target, state_mod.load(target), int(project["id"]))
    target.mkdir(parents=True, exist_ok=True)
    with _locked(target):
        run = _Run(client, int(project["id"]), target, options, images, progress, workers)
        return run.go(since_last=since_last, preview=preview, strict=strict)


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One export at a time per folder."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(out / outputs.LOCK, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UsageError(
                f"Another export is writing to {out} right now. Wait for it to finish, or "
                "export to another folder with --out."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _check_folder(out: Path, previous: ExportState | None, project_id: int) -> None:
    if previous is None:
        foreign = [p.name for p in out.iterdir() if p.name not in (outputs.LOCK,)]
        if foreign:
            raise UsageError(
                f"{out} is not empty and holds no lstk export ({', '.join(sorted(foreign)[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}). An export owns its folder and removes "
                "files it did not write, so pick an empty or new folder with --out."
            )
    elif previous.project_id not in (None, project_id):
        raise UsageError(
            f"{out} holds an export of project {previous.project_id}, not {project_id}. "
            "Export each project to its own folder (--out)."
        )


class _Run:
    """One export run: plans tasks in id order, renders them in worker threads, keeps the
    state in step, and writes the dataset-wide files at the end."""

    def __init__(
        self,
        client: Client,
        project_id: int,
        out: Path,
        options: Options,
        images: Images,
        progress: Progress | None,
        workers: int | None,
    ) -> None:
        self.client = client
        self.project_id = project_id
        self.out = out
        self.options = options
        self.fingerprint = state_mod.options_fingerprint(options.describe())
        self.images = images
        self.progress = progress
        self.workers = max(1, workers or min(4, os.cpu_count() or 1))
        self.names = naming.Names()
        self.seen: set[int] = set()
        self.done = 0
        self.streams: list[fetch.TaskStream] = []
        self.state = ExportState()
        self.summary = ExportSummary(out=out, project_id=project_id, incremental=False)
        self._saved = time.monotonic()

    # -- the run ---------------------------------------------------------------------
    def go(self, *, since_last: bool, preview: int, strict: bool) -> ExportSummary:
        previous = state_mod.load(self.out)
        _check_folder(self.out, previous, self.project_id)
        summary = self.summary
        summary.strict = strict
        incremental = False
        if previous is not None:
            self.state = previous
            if since_last:
                if not previous.synced_at:
                    summary.notes.append("no complete export here yet: did a full export")
                elif previous.fingerprint != self.fingerprint:
                    summary.notes.append("export options changed: did a full export")
                elif previous.server and previous.server != self.client.url:
                    summary.notes.append(
                        f"the last export here came from {previous.server}: did a full export"
                    )
                else:
                    incremental = True
        elif since_last:
            summary.notes.append("no previous export here: did a full export")
        summary.incremental = incremental
        for task_id, entry in self.state.tasks.items():
            suffixes = [Path(m["file_name"]).stem[len(entry.name) :] for m in entry.pairs]
            self.names.claim(entry.name, task_id, suffixes or [""], prefer=entry.name)
        started = fetch.server_time(self.client)
        emails = fetch.users(self.client)
        self.ctx = render.Context(self.out, self.options, self.fingerprint, self.images, emails)
        st = self.state
        st.project_id, st.server = self.project_id, self.client.url
        st.options, st.fingerprint, st.complete = self.options.describe(), self.fingerprint, False
        state_mod.save(self.out, st)

        if incremental:
            assert previous is not None and previous.synced_at
            self._remove_deleted()
            since = fetch.parse_time(previous.synced_at) - SINCE_MARGIN
            retry = [
                task_id
                for task_id, entry in st.tasks.items()
                if entry.updated_at is None or entry.options != self.fingerprint
            ]
            changed = fetch.TaskStream(self.client, self.project_id, since=since)
            again = fetch.TaskStream(self.client, self.project_id, ids=retry)
            self.streams = [changed, again] if retry else [changed]
        else:
            self.streams = [fetch.TaskStream(self.client, self.project_id)]
        self._process(fetch.ahead(fetch.chain(*(s.pages for s in self.streams))))
        if not incremental:
            self._remove_unseen()

        outputs.sweep(self.out, outputs.referenced(st))
        summary.pairs = outputs.write_metadata(self.out, st)
        outputs.write_labels(self.out, self.options)
        if "coco" in self.options.formats:
            outputs.write_coco(self.out, st, self.options)
        else:
            (self.out / outputs.COCO).unlink(missing_ok=True)
        if preview > 0:
            summary.preview = outputs.write_preview(self.out, st, preview, self.options.seed)
        else:
            (self.out / outputs.PREVIEW).unlink(missing_ok=True)
        st.synced_at = fetch.format_time(started)
        st.complete = True
        state_mod.save(self.out, st)
        summary.warnings = [
            ExportWarning(task_id, annotation_id, message)
            for task_id, entry in sorted(st.tasks.items())
            for annotation_id, message in entry.warnings
        ]
        return summary

    # -- tasks -----------------------------------------------------------------------
    def _process(self, pages: Iterator[list[dict[str, Any]]]) -> None:
        pending: deque[tuple[render.Job, Future[TaskEntry]]] = deque()
        limit = self.workers * 2
        with ThreadPoolExecutor(self.workers, thread_name_prefix="lstk-export") as pool:
            try:
                for page in pages:
                    for task in page:
                        job = self._plan(task)
                        if job is None:
                            self._tick()
                            continue
                        pending.append((job, pool.submit(render.render, job, self.ctx)))
                        while len(pending) >= limit:
                            self._finish(*pending.popleft())
                while pending:
                    self._finish(*pending.popleft())
            finally:
                for _, future in pending:
                    future.cancel()
                self._checkpoint(force=True)

    def _plan(self, task: dict[str, Any]) -> render.Job | None:
        """Decide, in task order, what a task becomes; None when nothing is to be written."""
        task_id = int(task["id"])
        if task_id in self.seen:
            return None
        self.seen.add(task_id)
        self.summary.tasks += 1
        entry = self.state.tasks.get(task_id)
        sources, cancelled = render.pair_sources(
            task, self.options.mode, self.options.include_predictions
        )
        self.summary.cancelled += cancelled
        if (
            self.summary.incremental
            and entry is not None
            and entry.updated_at is not None
            and entry.updated_at == task.get("updated_at")
            and entry.options == self.fingerprint
        ):
            return None  # read again only because of the safety margin
        if not sources:
            self.summary.skipped += 1
            if entry is not None:
                self._drop(task_id)
            return None
        data = task.get("data") or {}
        url = data.get(self.options.image_field)
        key = data.get(render.KEY_FIELD)
        base, _ = naming.base_name(
            naming.source_path(url if isinstance(url, str) else "", str(key) if key else None)
        )
        name = self.names.claim(
            base, task_id, [s.suffix for s in sources], prefer=entry.name if entry else None
        )
        return render.plan(task, self.options, name)

    def _finish(self, job: render.Job, future: Future[TaskEntry]) -> None:
        old = self.state.tasks.get(job.task_id)
        try:
            entry = future.result()
        except render.TaskFailed as exc:
            self.summary.failed.append(ExportWarning(job.task_id, None, str(exc)))
            if old is not None:
                old.updated_at = None  # keep what it had; try again next run
            else:
                self.state.tasks[job.task_id] = TaskEntry(None, job.name, self.fingerprint)
            self._tick()
            return
        if old is not None:
            for rel in set(old.files) - set(entry.files):
                (self.out / rel).unlink(missing_ok=True)
            kept = {m["file_name"] for m in entry.pairs}
            self.summary.removed += sum(1 for m in old.pairs if m["file_name"] not in kept)
        self.state.tasks[job.task_id] = entry
        self.summary.written += len(entry.pairs)
        self._tick()

    def _tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            total = sum(s.total or 0 for s in self.streams)
            self.progress(self.done, max(total, self.done))
        self._checkpoint()

    def _checkpoint(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._saved >= CHECKPOINT_SECONDS:
            state_mod.save(self.out, self.state)
            self._saved = now

    def _drop(self, task_id: int) -> None:
        entry = self.state.tasks.pop(task_id, None)
        if entry is None:
            return
        for rel in entry.files:
            (self.out / rel).unlink(missing_ok=True)
        self.summary.removed += len(entry.pairs)
        self.names.release(task_id)

    def _remove_deleted(self) -> None:
        known = list(self.state.tasks)
        if not known:
            return
        present = fetch.existing(self.client, self.project_id, known)
        for task_id in known:
            if task_id not in present:
                self._drop(task_id)
        self._checkpoint(force=True)

    def _remove_unseen(self) -> None:
        for task_id in [t for t in self.state.tasks if t not in self.seen]:
            self._drop(task_id)
