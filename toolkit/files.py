"""Writing files so that an interrupted run never leaves half of one behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TMP_SUFFIX = ".lstk-tmp"  # temporary files; a run removes any that a killed run left
PRIVATE = 0o600  # files holding secrets: the owner alone reads them


def _file_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()  # what open() would give a new file


def write_atomic(
    path: Path, data: bytes | str, *, mode: int | None = None, durable: bool = False
) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a
    part: a temporary file in the same folder, then renamed over it. ``mode`` defaults to
    what a new file gets; ``durable`` also flushes it to disk first (survives a power cut,
    not only a killed process). The temporary file is created private, so a secret is
    never readable by others, not even for a moment."""
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
