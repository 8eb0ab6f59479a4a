"""Apply a spec's project to Label Studio: create it, or change only what differs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from toolkit import labeling
from toolkit.errors import UsageError
from toolkit.server import APIError, Client
from toolkit.spec import Spec


def find_project(client: Client, spec: Spec) -> dict[str, Any] | None:
    """The spec's project on the server: by `id`, else by exact title; None when absent."""
    if spec.project.id is not None:
        resp = client.request("GET", f"/api/projects/{spec.project.id}")
        if resp.status_code == 404:
            raise UsageError(
                f"Project id {spec.project.id} from the spec does not exist on {client.url}. "
                "Remove `id:` to create the project by title, or fix the id."
            )
        if resp.status_code >= 400:
            raise APIError("GET", f"/api/projects/{spec.project.id}", resp)
        return dict(resp.json())
    matches = [
        p for p in client.paginate("/api/projects", title=spec.project.title)
        if p.get("title") == spec.project.title
    ]  # fmt: skip
    if len(matches) > 1:
        ids = ", ".join(str(p["id"]) for p in matches)
        raise UsageError(
            f"{len(matches)} projects are titled {spec.project.title!r} (ids {ids}). "
            "Add `id:` under `project:` in the spec to say which one it means."
        )
    return dict(matches[0]) if matches else None


def require_project(client: Client, spec: Spec) -> dict[str, Any]:
    project = find_project(client, spec)
    if project is None:
        raise UsageError(
            f"Project {spec.project.title!r} does not exist on {client.url} yet. "
            f"Run `lstk apply {spec.path}` first."
        )
    return project


def desired_fields(spec: Spec) -> dict[str, Any]:
    project = spec.project
    wanted: dict[str, Any] = {
        "description": project.description,
        "expert_instruction": project.instructions,
        "show_instruction": bool(project.instructions),
        "label_config": labeling.generate(project),
    }
    if project.title:
        wanted["title"] = project.title
    return wanted


@dataclass
class Change:
    field: str
    old: Any
    new: Any

    def describe(self) -> str:
        """One line for the plan: the values when short, what changed in a label config."""
        if self.field == "label_config":
            before = set(_all_labels(self.old or ""))
            after = set(_all_labels(self.new or ""))
            added, removed = sorted(after - before), sorted(before - after)
            parts = [f"+{a}" for a in added] + [f"-{r}" for r in removed]
            return f"label_config ({', '.join(parts) or 'layout or colours'})"
        old, new = repr(self.old if self.old is not None else ""), repr(self.new)
        if len(old) + len(new) > 80:
            return self.field
        return f"{self.field}: {old} -> {new}"


def _all_labels(config: str) -> list[str]:
    try:
        return [v for values in labeling.control_labels(config)[1].values() for v in values]
    except ValueError:
        return []


@dataclass
class Plan:
    action: str  # "create" | "update" | "none"
    project_id: int | None
    changes: list[Change] = field(default_factory=list)
    removed_labels: dict[str, list[str]] = field(default_factory=dict)  # control -> labels
    affected_annotations: int = 0  # annotations with regions of removed labels

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "project_id": self.project_id,
            "changes": [c.field for c in self.changes],
            "removed_labels": self.removed_labels,
            "affected_annotations": self.affected_annotations,
        }


def plan(client: Client, spec: Spec) -> Plan:
    """What `apply` would do, without changing anything."""
    wanted = desired_fields(spec)
    validate_config(client, wanted["label_config"])
    project = find_project(client, spec)
    if project is None:
        return Plan("create", None, [Change(k, None, v) for k, v in wanted.items()])
    changes = [
        Change(key, project.get(key), value)
        for key, value in wanted.items()
        if _normalise(key, project.get(key)) != _normalise(key, value)
    ]
    result = Plan("update" if changes else "none", int(project["id"]), changes)
    if any(c.field == "label_config" for c in changes):
        result.removed_labels = _removed_labels(project.get("label_config") or "", wanted)
        if result.removed_labels:
            result.affected_annotations = len(_affected(client, result))
    return result


def _normalise(key: str, value: Any) -> Any:
    if key == "label_config" and isinstance(value, str):
        return "".join(value.split())
    return value if value is not None else ""


def _removed_labels(old_config: str, wanted: dict[str, Any]) -> dict[str, list[str]]:
    try:  # the current config may be anything a person saved in the web UI
        old = labeling.control_labels(old_config)[1] if old_config.strip() else {}
    except ValueError:
        old = {}
    new = labeling.read(wanted["label_config"]).labels
    removed = {
        ctrl: [v for v in values if v not in new.get(ctrl, [])] for ctrl, values in old.items()
    }
    return {ctrl: values for ctrl, values in removed.items() if values}


def validate_config(client: Client, config: str) -> None:
    """Let the server check the label config before anything changes."""
    resp = client.request("POST", "/api/projects/validate/", json={"label_config": config})
    if resp.status_code >= 400:
        raise UsageError(f"Label Studio refused the label config: {_server_message(resp)}")


def _server_message(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}: {resp.text[:300]}"
    if isinstance(body, dict):
        detail = body.get("validation_errors") or body.get("detail") or body
        if isinstance(detail, dict):
            parts = [
                f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                for k, v in detail.items()
            ]
            return "; ".join(parts)
        return str(detail)
    return str(body)


def _uses_removed(result: dict[str, Any], removed: dict[str, list[str]]) -> bool:
    gone = removed.get(result.get("from_name", ""), [])
    values = result.get("value", {})
    return any(label in gone for key, v in values.items() if key.endswith("labels") for label in v)


def _affected(client: Client, the_plan: Plan) -> list[dict[str, Any]]:
    """Annotations holding at least one region with a removed label."""
    hits = []
    for task in client.paginate(
        "/api/tasks", page_size=500, project=the_plan.project_id, fields="all"
    ):
        for annotation in task.get("annotations") or []:
            if any(_uses_removed(r, the_plan.removed_labels) for r in annotation.get("result", [])):
                hits.append(annotation)
    return hits


@dataclass
class ApplyResult:
    plan: Plan
    project_id: int
    applied: bool
    regions_removed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**self.plan.as_dict(), "project_id": self.project_id, "applied": self.applied}


def apply(client: Client, spec: Spec, *, dry_run: bool = False, force: bool = False) -> ApplyResult:
    """Create the project or update what differs; refuse label removals in use unless forced."""
    the_plan = plan(client, spec)
    if dry_run or the_plan.action == "none":
        return ApplyResult(the_plan, the_plan.project_id or 0, applied=False)
    wanted = {c.field: c.new for c in the_plan.changes}
    if the_plan.action == "create":
        created = client.json("POST", "/api/projects", json=wanted)
        return ApplyResult(the_plan, int(created["id"]), applied=True)
    removed = 0
    if the_plan.affected_annotations:
        if not force:
            raise UsageError(_refusal(the_plan))
        removed = _strip_removed_labels(client, the_plan)
    resp = client.request("PATCH", f"/api/projects/{the_plan.project_id}", json=wanted)
    if resp.status_code >= 400:
        already = (
            f" {removed} region(s) with the removed labels were deleted before the change "
            "was refused; fix the cause and re-run `lstk apply --force`."
            if removed
            else ""
        )
        raise UsageError(f"Label Studio refused the change: {_server_message(resp)}.{already}")
    return ApplyResult(
        the_plan, int(the_plan.project_id or 0), applied=True, regions_removed=removed
    )


def _refusal(the_plan: Plan) -> str:
    labels = sorted({label for values in the_plan.removed_labels.values() for label in values})
    return (
        f"The new label config removes or renames label(s) {labels}, used by "
        f"{the_plan.affected_annotations} annotation(s) in project {the_plan.project_id}. "
        "Keep the labels in the spec, or re-run with --force to delete those regions from "
        "the annotations and apply the change."
    )


def _strip_removed_labels(client: Client, the_plan: Plan) -> int:
    removed = 0
    for annotation in _affected(client, the_plan):
        kept = [r for r in annotation["result"] if not _uses_removed(r, the_plan.removed_labels)]
        removed += len(annotation["result"]) - len(kept)
        client.json("PATCH", f"/api/annotations/{annotation['id']}", json={"result": kept})
    return removed
