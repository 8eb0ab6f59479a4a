"""`lstk apply` against a real Label Studio: idempotent, plans, server validation, --force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import LiveServer
from tests.ls.helpers import lstk, write_spec
from toolkit import labeling, provision
from toolkit.errors import UsageError
from toolkit.spec import load

SPEC = """
project:
  title: {title}
  description: {description}
  instructions: Paint over every object that should disappear.
  tools: [brush, polygon]
  labels:
    - {{name: remove, color: "#ff3b30"}}
    - {{name: {second}, color: "#34c759"}}
  flags: [unusable]
"""


def spec_text(title: str, description: str = "first", second: str = "protect") -> str:
    return SPEC.format(title=title, description=description, second=second)


def test_apply_twice_makes_one_project(label_studio: LiveServer, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, spec_text("Apply twice"))
    first = lstk(label_studio, "apply", str(spec), "--json")
    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)
    assert created["action"] == "create"
    second = json.loads(lstk(label_studio, "apply", str(spec), "--json").stdout)
    assert second == {**second, "action": "none", "project_id": created["project_id"]}
    client = label_studio.client()
    same = [p for p in client.paginate("/api/projects") if p["title"] == "Apply twice"]
    assert len(same) == 1
    config = labeling.read(same[0]["label_config"])
    assert config.labels == {"brush": ["remove", "protect"], "polygon": ["remove", "protect"]}
    assert config.colors["remove"] == "#ff3b30"
    assert same[0]["expert_instruction"].startswith("Paint over")


def test_dry_run_changes_nothing_and_update_changes_only_what_differs(
    label_studio: LiveServer, tmp_path: Path
) -> None:
    client = label_studio.client()
    provision.apply(client, load(write_spec(tmp_path, spec_text("Dry run"))))
    spec = write_spec(tmp_path, spec_text("Dry run", description="second"))
    dry = lstk(label_studio, "apply", str(spec), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would update" in dry.stdout and "description: 'first' -> 'second'" in dry.stdout
    project = provision.find_project(client, load(spec))
    assert project is not None and project["description"] == "first"
    result = provision.apply(client, load(spec))
    assert [c.field for c in result.plan.changes] == ["description"]
    assert client.get(f"/api/projects/{result.project_id}")["description"] == "second"


def test_server_rejects_a_bad_raw_config_before_any_change(
    label_studio: LiveServer, tmp_path: Path
) -> None:
    spec = write_spec(
        tmp_path,
        "project:\n  title: Bad config\n"
        "  label_config: <View><BrushLabels name='b' toName='nowhere'><Label value='x'/>"
        "</BrushLabels></View>\n",
    )
    result = lstk(label_studio, "apply", str(spec))
    assert result.returncode == 2
    assert "Label Studio refused the label config" in result.stderr
    assert "Traceback" not in result.stderr
    titles = [p["title"] for p in label_studio.client().paginate("/api/projects")]
    assert "Bad config" not in titles


def test_removing_a_label_in_use_needs_force(label_studio: LiveServer, tmp_path: Path) -> None:
    client = label_studio.client()
    result = provision.apply(client, load(write_spec(tmp_path, spec_text("Rename labels"))))
    pid = result.project_id
    task = client.json("POST", f"/api/projects/{pid}/import?return_task_ids=true",
                       json=[{"image": "/data/upload/x.png"}])["task_ids"][0]  # fmt: skip
    region = {
        "from_name": "polygon", "to_name": "image", "type": "polygonlabels",
        "original_width": 10, "original_height": 10,
        "value": {"points": [[0, 0], [50, 0], [50, 50]], "polygonlabels": ["protect"]},
    }  # fmt: skip
    keep = {**region, "value": {**region["value"], "polygonlabels": ["remove"]}}
    client.json("POST", f"/api/tasks/{task}/annotations", json={"result": [region, keep]})

    renamed = load(write_spec(tmp_path, spec_text("Rename labels", second="keep")))
    with pytest.raises(UsageError, match=r"used by 1 annotation\(s\)") as info:
        provision.apply(client, renamed)
    assert "--force" in str(info.value)
    assert "protect" in client.get(f"/api/projects/{pid}")["label_config"]

    forced = provision.apply(client, renamed, force=True)
    assert forced.regions_removed == 1
    config = labeling.read(client.get(f"/api/projects/{pid}")["label_config"])
    assert config.labels["polygon"] == ["remove", "keep"]
    annotation = client.get(f"/api/tasks/{task}")["annotations"][0]
    assert [r["value"]["polygonlabels"] for r in annotation["result"]] == [["remove"]]
