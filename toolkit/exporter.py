"""Export a project's finished annotations as an inpainting training set.

    from toolkit import exporter, server, spec

    client = server.connect()
    summary = exporter.export(client, spec.load("project.yaml"), since_last=True)
    print(summary.as_dict())

Writes ``images/``, ``masks/`` (and ``labels/``, ``semantic/``, ``control/``, ``coco.json``
as ``export.formats`` asks), ``metadata.jsonl``, ``labels.json``, ``preview.png`` and the
incremental state ``.lstk-export.json``. See docs/export.md; the parts live in
:mod:`toolkit.export`.
"""

from __future__ import annotations

from toolkit.export.core import (
    SINCE_MARGIN,
    ExportSummary,
    ExportWarning,
    Progress,
    export,
    resolve_options,
)
from toolkit.export.naming import sanitize, split_of
from toolkit.export.state import STATE_FILE

__all__ = [
    "SINCE_MARGIN",
    "STATE_FILE",
    "ExportSummary",
    "ExportWarning",
    "Progress",
    "export",
    "resolve_options",
    "sanitize",
    "split_of",
]
