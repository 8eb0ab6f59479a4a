"""File names and the train/val split of an export.

A pair's name comes from its source image: the path under the spec's image folder (kept by
the importer as ``lstk_key``), else the file name in the task's URL. Names are sanitised to
a portable subset (ASCII letters, digits, ``.``, ``_``, ``-``), can never climb out of the
export folder, and are unique without regard to case. A task keeps its name from one
export to the next; a newcomer whose name is taken gets its task id appended.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
from collections.abc import Iterable
from pathlib import PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

MAX_NAME = 96  # characters of a base name; suffixes and extensions stay well under 255 bytes
FALLBACK = "image"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RUNS = re.compile(r"_{2,}")
# Label Studio prefixes uploaded files with 8 hex digits and a dash.
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-(?=.)")
# Names Windows reserves for devices, with any extension.
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
SEPARATOR = "__"  # joins the folders of a nested source path


def sanitize(text: str, *, max_len: int = MAX_NAME) -> str:
    """One safe file-name component: letters and digits (accents dropped), ``.``, ``_``
    and ``-``; no leading dot, no ``..``, never empty, never a reserved device name."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _UNSAFE.sub("_", text)
    text = _RUNS.sub("_", text).strip("._-")
    text = text.replace("..", "_")
    text = text[:max_len].rstrip("._-")
    if not text:
        return FALLBACK
    if text.split(".")[0].lower() in _RESERVED:
        text = f"{text}_"
    return text


def split_ext(name: str) -> tuple[str, str]:
    """``("photo", ".jpg")`` for ``"photo.JPG"``; the extension is lower-cased."""
    stem, ext = posixpath.splitext(name)
    if not stem or not re.fullmatch(r"\.[A-Za-z0-9]{1,8}", ext or "."):
        return name, ""
    return stem, ext.lower()


def source_path(url: str, key: str | None = None) -> str:
    """The source file path an image name is made from (not yet sanitised).

    ``key`` (the importer's ``lstk_key``) wins when it is a relative path: its folders are
    kept, so ``a/x.jpg`` and ``b/x.jpg`` stay apart. Otherwise the file name of the URL:
    the ``d=`` path of a local-files URL, an upload's name without Label Studio's random
    prefix, the last path segment of any other URL.
    """
    if key and not key.startswith(("http://", "https://", "s3://", "gs://", "azure-blob://")):
        parts = [p for p in PurePosixPath(key.replace("\\", "/")).parts if p not in ("/", "..")]
        if parts and not PurePosixPath(key).is_absolute():
            return "/".join(parts)
        if parts:
            return parts[-1]
    parsed = urlsplit(url)
    if parsed.path.startswith("/data/local-files"):
        target = parse_qs(parsed.query).get("d", [""])[0]
        return posixpath.basename(target.rstrip("/")) or FALLBACK
    base = posixpath.basename(unquote(parsed.path).rstrip("/"))
    if parsed.path.startswith("/data/upload/"):
        base = _UPLOAD_PREFIX.sub("", base)
    return base or FALLBACK


def base_name(path: str) -> tuple[str, str]:
    """``(name, ext)`` for a source path: folders joined by ``__``, every part sanitised."""
    parts = [p for p in path.split("/") if p]
    stem, ext = split_ext(parts[-1] if parts else FALLBACK)
    pieces = [sanitize(p) for p in parts[:-1]] + [sanitize(stem)]
    name = SEPARATOR.join(pieces)
    if len(name) > MAX_NAME:  # keep the file name, shorten the folders
        name = name[-MAX_NAME:].lstrip("._-") or sanitize(stem)
    return name, ext


class Names:
    """Unique, case-insensitive names for the pairs of an export.

    ``claim`` reserves every pair name a task needs; a task that already has a name (from
    the previous export) keeps it.
    """

    def __init__(self) -> None:
        self._owner: dict[str, int] = {}  # casefolded pair name -> task id
        self._held: dict[int, set[str]] = {}  # task id -> casefolded pair names

    def owner(self, name: str) -> int | None:
        return self._owner.get(name.casefold())

    def free(self, names: Iterable[str], task_id: int) -> bool:
        return all(self._owner.get(n.casefold(), task_id) == task_id for n in names)

    def hold(self, names: Iterable[str], task_id: int) -> None:
        held = self._held.setdefault(task_id, set())
        for name in names:
            key = name.casefold()
            self._owner[key] = task_id
            held.add(key)

    def release(self, task_id: int) -> None:
        for key in self._held.pop(task_id, ()):
            if self._owner.get(key) == task_id:
                del self._owner[key]

    def claim(
        self,
        base: str,
        task_id: int,
        suffixes: Iterable[str] = ("",),
        *,
        prefer: str | None = None,
    ) -> str:
        """The first of ``prefer`` (the name the task had), ``base``, ``base-<task id>``,
        ``base-<task id>-2``... whose pair names (``name + suffix`` for each suffix) are all
        free; holds them for the task, after letting go of what it held before."""
        suffixes = list(suffixes) or [""]
        self.release(task_id)
        candidates = [c for c in (prefer, base, f"{base}-{task_id}") if c]
        n = 2
        while True:
            for candidate in candidates:
                names = [candidate + s for s in suffixes]
                if self.free(names, task_id):
                    self.hold(names, task_id)
                    return candidate
            candidates = [f"{base}-{task_id}-{n}"]
            n += 1


def split_of(key: str, val: float, seed: int = 0) -> str:
    """``"val"`` or ``"train"``, from a hash of the seed and the image's name: the same
    image lands in the same split on every export, whatever else the project holds."""
    if val <= 0:
        return "train"
    if val >= 1:
        return "val"
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return "val" if fraction < val else "train"
