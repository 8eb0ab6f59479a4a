"""The compose stack as a user runs it through lstk: nothing is lost across down/up,
backup/wipe/restore, a Label Studio crash mid-import, and a failed upgrade."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tests.ls.helpers import sample_images, write_spec
from tests.stack.conftest import StackUnderTest
from toolkit.keys import KEY_FIELD

SPEC = """
project:
  title: {title}
  tools: [brush, polygon]
  labels: [remove, protect]
data:
  images: ./{folder}/images
  masks: ./{folder}/masks
  mode: {mode}
"""


def snapshot(stack: StackUnderTest) -> dict[str, object]:
    """Projects, tasks (by key), annotations and the bytes of every served image."""
    client = stack.client()
    result: dict[str, object] = {}
    for project in client.paginate("/api/projects"):
        tasks = list(client.paginate("/api/tasks", project=project["id"], fields="all"))
        result[project["title"]] = {
            "config": project["label_config"],
            "tasks": sorted(
                (
                    t["data"].get(KEY_FIELD),
                    len(t["annotations"]),
                    len(t["predictions"]),
                    hashlib.sha256(client.request("GET", t["data"]["image"]).content).hexdigest(),
                )
                for t in tasks
            ),
            "annotations": sorted(
                json.dumps(a["result"], sort_keys=True) for t in tasks for a in t["annotations"]
            ),
        }
    return result


def import_project(stack: StackUnderTest, title: str, folder: str, mode: str, count: int) -> Path:
    sample_images(stack.files / folder, count)
    spec = write_spec(stack.files / folder, SPEC.format(title=title, folder=".", mode=mode))
    assert stack.lstk("apply", str(spec)).returncode == 0
    result = stack.lstk("import", str(spec), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["new"] == count
    return spec


def annotate_from_predictions(stack: StackUnderTest, project_id: int) -> None:
    client = stack.client()
    for task in client.paginate("/api/tasks", project=project_id, fields="all"):
        result = task["predictions"][0]["result"]
        client.json("POST", f"/api/tasks/{task['id']}/annotations", json={"result": result})


def test_status_reports_services_and_volumes(stack: StackUnderTest) -> None:
    result = stack.lstk("status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["runtime"] == "docker" and status["version"] == "1.23.2"
    assert set(status["services"]) == {"db", "label-studio"}
    assert status["services"]["db"] == f"healthy ({stack.env['POSTGRES_IMAGE']})"
    assert status["services"]["label-studio"].endswith(f"({stack.env['LABEL_STUDIO_IMAGE']})")
    assert any(name.endswith("_pg-data") for name in status["volumes"])
    logs = stack.lstk("logs", "--tail", "20")
    assert logs.returncode == 0 and "label-studio" in logs.stdout + logs.stderr
    env_file = stack.compose_dir / ".env"
    assert env_file.stat().st_mode & 0o077 == 0
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    assert len(values["POSTGRES_PASSWORD"]) >= 32 and len(values["LABEL_STUDIO_SECRET_KEY"]) >= 48


def test_provision_import_annotate_then_down_up_keeps_everything(stack: StackUnderTest) -> None:
    import_project(stack, "Stack local files", "local", "local-files", 4)
    import_project(stack, "Stack uploads", "uploads", "upload", 3)
    projects = {p["title"]: p["id"] for p in stack.client().paginate("/api/projects")}
    annotate_from_predictions(stack, projects["Stack local files"])
    spec = stack.files / "local" / "project.yaml"
    exported = stack.lstk("export", str(spec), "--out", str(stack.files / "dataset"), "--json")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["pairs"] == 4
    for line in (stack.files / "dataset" / "metadata.jsonl").read_text().splitlines():
        row = json.loads(line)
        mask = np.asarray(Image.open(stack.files / "dataset" / row["mask_file_name"]))
        name = Path(row["file_name"]).stem
        expected = np.asarray(Image.open(stack.files / "local" / "masks" / f"{name}.png"))
        np.testing.assert_array_equal(mask, expected)
    before = snapshot(stack)
    assert stack.lstk("down").returncode == 0
    assert stack.lstk("status").returncode == 3
    up = stack.lstk("up")
    assert up.returncode == 0, up.stderr
    assert snapshot(stack) == before


def test_backup_wipe_restore_gives_identical_data(stack: StackUnderTest, tmp_path: Path) -> None:
    before = snapshot(stack)
    assert before, "the previous test leaves projects to back up"
    backup = stack.lstk("backup", str(tmp_path / "backup"))
    assert backup.returncode == 0, backup.stderr
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    for name, info in manifest["files"].items():
        digest = hashlib.sha256((tmp_path / "backup" / name).read_bytes()).hexdigest()
        assert digest == info["sha256"]
    assert manifest["counts"]["projects"] == len(before)

    assert stack.lstk("down", "--volumes", "--yes").returncode == 0
    assert stack.lstk("up").returncode == 0
    assert snapshot(stack) == {}
    restored = stack.lstk("restore", str(tmp_path / "backup"))
    assert restored.returncode == 0, restored.stderr  # an empty stack takes the restore
    assert snapshot(stack) == before
    again = stack.lstk("restore", str(tmp_path / "backup"))
    assert again.returncode == 2 and "--force" in again.stderr
    assert stack.lstk("restore", str(tmp_path / "backup"), "--force").returncode == 0
    assert snapshot(stack) == before


def test_label_studio_stopped_mid_import_rerun_has_no_duplicates(stack: StackUnderTest) -> None:
    folder = stack.files / "crash"
    sample_images(folder, 150)
    spec = write_spec(folder, SPEC.format(title="Stack crash", folder=".", mode="local-files"))
    assert stack.lstk("apply", str(spec)).returncode == 0
    project_id = next(
        p["id"] for p in stack.client().paginate("/api/projects") if p["title"] == "Stack crash"
    )
    script = (
        "import sys, time; from toolkit import importer; from toolkit.server import connect;"
        "from toolkit.spec import load; from toolkit.importer import FileServing;"
        "from toolkit.settings import resolve;"
        "s = resolve(); importer.import_data(connect(), load(sys.argv[1]),"
        " files=FileServing.of(s.state), batch_tasks=10,"
        " progress=lambda done, total: time.sleep(0.5))"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(spec)], env=stack.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    count = lambda: len(list(stack.client().paginate("/api/tasks", project=project_id)))  # noqa: E731
    while count() < 20:
        assert proc.poll() is None, "the import finished before it could be interrupted"
        time.sleep(0.1)
    subprocess.run(["docker", "stop", "-t", "0", _container(stack, "label-studio")], check=True)
    assert proc.wait(timeout=600) != 0  # the import saw the server go away
    subprocess.run(["docker", "start", _container(stack, "label-studio")], check=True)
    rerun = stack.lstk("import", str(spec), "--json")  # waits for the server to come back
    assert rerun.returncode == 0, rerun.stderr
    tasks = list(stack.client().paginate("/api/tasks", project=project_id, fields="task_only"))
    keys = [t["data"][KEY_FIELD] for t in tasks]
    assert len(keys) == len(set(keys)) == 150


def _container(stack: StackUnderTest, service: str) -> str:
    project = stack.env["COMPOSE_PROJECT_NAME"]
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}",
         "--filter", f"label=com.docker.compose.service={service}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert len(out) == 1, out
    return out[0]


def test_failed_upgrade_rolls_back_and_a_good_one_switches(stack: StackUnderTest) -> None:
    before = snapshot(stack)
    failed = stack.lstk("upgrade", "0.0.0-missing")
    assert failed.returncode == 1
    assert "rolled back" in failed.stderr and "Traceback" not in failed.stderr
    assert stack.lstk("status").returncode == 0
    assert snapshot(stack) == before
    image = stack.env["LABEL_STUDIO_IMAGE"]
    subprocess.run(["docker", "tag", image, f"{image}-next"], check=True)
    version = image.rsplit(":", 1)[1] + "-next"
    done = stack.lstk("upgrade", version)
    assert done.returncode == 0, done.stderr
    env_text = (stack.compose_dir / ".env").read_text()
    assert f"LABEL_STUDIO_IMAGE={image}-next" in env_text
    assert snapshot(stack) == before


def test_data_volume_belongs_to_uid_1001(stack: StackUnderTest) -> None:
    out = subprocess.run(
        ["docker", "exec", _container(stack, "label-studio"), "stat", "-c", "%u:%g %a",
         "/label-studio/data"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert out[0] == "1001:0"
    assert not out[1].endswith("7")  # not world-writable
