"""Images for an export: where a task's image comes from, and the file written beside it.

A task's image is read from the source folder when it is reachable (the spec's
``data.images``, through the importer's ``lstk_key``; or the local-files document root),
else from Label Studio with the API key: local files (``/data/local-files/?d=...``),
uploads (``/data/upload/...``), cloud storage URIs through the task's resolve endpoint, and
plain URLs (without the key unless they point at the same server).

The written image is the one the annotator saw: browsers, and so the Label Studio editor,
apply a JPEG's EXIF orientation, so regions are drawn on the *transposed* picture. An image
without an orientation tag is copied byte for byte; one with a tag is transposed
(``PIL.ImageOps.exif_transpose``) and saved again in its own format (JPEG with the
original's quantisation tables and subsampling, EXIF kept without the orientation tag).
"""

from __future__ import annotations

import base64
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from PIL import Image, ImageOps, JpegImagePlugin

from toolkit.images import EXIF_ORIENTATION
from toolkit.server import Client

CLOUD_SCHEMES = ("s3://", "gs://", "azure-blob://")
EXTENSIONS = {
    "JPEG": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "MPO": (".jpg", ".jpeg"),
    "PNG": (".png",),
    "WEBP": (".webp",),
    "GIF": (".gif",),
    "BMP": (".bmp",),
    "TIFF": (".tif", ".tiff"),
}
TIMEOUT = 120.0


class ImageError(Exception):
    """A task's image cannot be read; the task fails, the export goes on."""


@dataclass(frozen=True)
class Picture:
    """An image ready to be written: its bytes, extension and displayed size."""

    data: bytes
    ext: str
    width: int
    height: int
    transposed: bool
    origin: str  # "source" (the local folder) or "server"


class Images:
    """Finds and reads task images; safe to use from several threads."""

    def __init__(
        self,
        client: Client,
        *,
        source_root: Path | None = None,
        files_root: Path | None = None,
    ) -> None:
        self.client = client
        self.source_root = source_root.absolute() if source_root else None
        self.files_root = files_root.absolute() if files_root else None
        origin = urlsplit(client.url)
        self._origin = (origin.scheme, origin.netloc)

    # -- where ---------------------------------------------------------------------
    def local_path(self, url: str, key: str | None) -> Path | None:
        """The image's file on this machine, when the source folder holds it."""
        if key and self.source_root is not None and "://" not in key:
            candidate = _inside(self.source_root, key)
            if candidate is not None:
                return candidate
        if key and "://" not in key and PurePosixPath(key).is_absolute():
            path = Path(key)
            if path.is_file():
                return path
        parsed = urlsplit(url)
        if parsed.path.startswith("/data/local-files"):
            rel = parse_qs(parsed.query).get("d", [""])[0]
            if rel and self.files_root is not None:
                candidate = _inside(self.files_root, rel)
                if candidate is not None:
                    return candidate
            if rel and self.source_root is not None:
                return _by_suffix(self.source_root, rel)
        return None

    # -- reading -------------------------------------------------------------------
    def read(self, task_id: int, url: str, key: str | None) -> Picture:
        """The task's image, from the source folder when it has it, else the server."""
        path = self.local_path(url, key)
        if path is not None:
            try:
                return prepare(path.read_bytes(), url_ext(url, key), origin="source")
            except (OSError, ImageError):
                pass  # unreadable here: the server's copy may be fine
        return self.read_server(task_id, url, key)

    def read_server(self, task_id: int, url: str, key: str | None = None) -> Picture:
        return prepare(self.download(task_id, url), url_ext(url, key), origin="server")

    def download(self, task_id: int, url: str) -> bytes:
        if url.startswith("data:"):
            return _data_uri(url)
        try:
            resp = self._request(task_id, url)
        except requests.RequestException as exc:
            raise ImageError(f"cannot fetch image {url}: {exc}") from None
        if resp.status_code != 200:
            raise ImageError(f"HTTP {resp.status_code} fetching image {url}")
        return resp.content

    def _request(self, task_id: int, url: str) -> requests.Response:
        if url.startswith(CLOUD_SCHEMES):
            token = base64.urlsafe_b64encode(url.encode()).decode()
            path = f"/tasks/{task_id}/resolve/"
            resp = self.client.request("GET", path, params={"fileuri": token})
        elif url.startswith("/"):
            resp = self.client.request("GET", url)
        elif url.startswith(("http://", "https://")):
            parsed = urlsplit(url)
            if (parsed.scheme, parsed.netloc) == self._origin:
                resp = self.client.request("GET", url)
            else:  # another host: never send it the Label Studio key
                resp = self.client.session.get(url, timeout=TIMEOUT)
        else:
            raise ImageError(f"cannot fetch image {url!r}: unknown kind of URL")
        return resp


def _data_uri(url: str) -> bytes:
    head, _, payload = url.partition(",")
    if not head.endswith(";base64"):
        raise ImageError("only base64 data: URIs are supported for images")
    try:
        return base64.b64decode(payload)
    except ValueError as exc:
        raise ImageError(f"bad data: URI ({exc})") from None


def _inside(root: Path, rel: str) -> Path | None:
    """``root / rel`` when that is a file inside ``root``: no escaping with ``..`` (checked
    on the path itself; links inside the folder are followed, as the server does)."""
    clean = os.path.normpath(rel.replace("\\", "/").lstrip("/"))
    if clean == ".." or clean.startswith("../") or os.path.isabs(clean):
        return None
    candidate = root / clean
    return candidate if candidate.is_file() else None


def _by_suffix(root: Path, rel: str) -> Path | None:
    """A local-files path (relative to an unknown document root) inside ``root``: the
    folders at the start of ``rel`` must be the last folders of ``root``."""
    parts = PurePosixPath(rel).parts
    tail = root.parts
    for k in range(min(len(parts) - 1, len(tail)), 0, -1):
        if tuple(parts[:k]) == tuple(tail[-k:]):
            return _inside(root, "/".join(parts[k:]))
    return None


def url_ext(url: str, key: str | None = None) -> str:
    from toolkit.export.naming import source_path, split_ext

    return split_ext(PurePosixPath(source_path(url, key)).name)[1]


def prepare(data: bytes, ext_hint: str = "", *, origin: str = "server") -> Picture:
    """Check that ``data`` is a readable image and make the bytes to write: the same bytes
    when no EXIF orientation applies, else the transposed picture in its own format."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format or ""
                orientation = int(img.getexif().get(EXIF_ORIENTATION, 1) or 1)
                if orientation in range(2, 9):
                    return _transposed(img, fmt, ext_hint, origin)
                width, height = img.size
                # Decode (at 1/8 scale for JPEG) to catch truncated or corrupt files.
                img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
                img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"not a readable image ({exc})") from None
    if width <= 0 or height <= 0:
        raise ImageError("the image is empty")
    return Picture(data, _ext(fmt, ext_hint), width, height, False, origin)


def _ext(fmt: str, hint: str) -> str:
    accepted = EXTENSIONS.get(fmt)
    if accepted is None:
        return hint or (f".{fmt.lower()}" if fmt.isalnum() else ".bin")
    return hint if hint in accepted else accepted[0]


def _transposed(source: Image.Image, fmt: str, hint: str, origin: str) -> Picture:
    source.load()
    out = ImageOps.exif_transpose(source)
    params: dict[str, Any] = {}
    exif = out.info.get("exif")
    if exif:
        params["exif"] = exif
    icc = source.info.get("icc_profile")
    if icc:
        params["icc_profile"] = icc
    if fmt in ("JPEG", "MPO"):
        save_as, ext = "JPEG", _ext("JPEG", hint)
        if getattr(source, "quantization", None):
            params["qtables"] = source.quantization
        sampling = JpegImagePlugin.get_sampling(source)
        if sampling >= 0:
            params["subsampling"] = sampling
        if "qtables" not in params:
            params["quality"] = 95
    elif fmt == "WEBP":
        save_as, ext = "WEBP", ".webp"
        params["quality"] = 95
    else:
        save_as, ext = "PNG", ".png"
        if out.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
            out = out.convert("RGB")
    buffer = io.BytesIO()
    out.save(buffer, save_as, **params)
    return Picture(buffer.getvalue(), ext, out.width, out.height, True, origin)
