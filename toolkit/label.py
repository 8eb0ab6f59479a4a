"""Labeling helpers: turn model predictions into annotations with Label Studio's own action.

This stands in for a human annotator (in the demo, or to bootstrap a model-assisted loop).
Label Studio skips predictions that already became an annotation, so it is safe to re-run.
"""

from __future__ import annotations

import re

from toolkit.server import Client


def accept_predictions(client: Client, project_id: int, model_version: str | None = None) -> int:
    """Copy every not-yet-accepted prediction into an annotation; return how many were made."""
    body: dict[str, object] = {"selectedItems": {"all": True, "excluded": []}}
    if model_version is not None:
        body["model_version"] = model_version
    answer = client.json(
        "POST",
        "/api/dm/actions",
        params={"id": "predictions_to_annotations", "project": project_id},
        json=body,
    )
    match = re.search(r"Created (\d+) annotations", str((answer or {}).get("detail", "")))
    return int(match.group(1)) if match else 0
