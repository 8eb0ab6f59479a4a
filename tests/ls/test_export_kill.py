"""An export killed half-way and run again ends complete and identical to one that ran
through (SIGKILL: no clean-up code runs in the killed process)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
from PIL import Image

from tests.conftest import LiveServer
from tests.ls.test_export import Project, brush_result, picture, polygon_result, stroke, tree
from toolkit.exporter import STATE_FILE

RUN = """
import sys, time
from toolkit.server import Client
from toolkit.spec import load
from toolkit.exporter import export

url, token, spec, out = sys.argv[1:5]
# One worker, and a pause after every task, so that the parent can kill the run half-way.
export(Client(url, token), load(spec), out=out, workers=1,
       progress=lambda done, total: time.sleep(0.15))
print("finished")
"""


def test_killed_export_completes_on_rerun_identical_to_an_uninterrupted_one(
    label_studio: LiveServer,
) -> None:
    project = Project.create(label_studio, "kill")
    size = (72, 48)
    count = 16
    for i in range(count):
        name = f"img{i:02d}.jpg" if i % 2 else f"img{i:02d}.png"
        project.add_image(name, picture(*size, 100 + i), quality=88)
        results = [brush_result(stroke(*size, i), "remove", "b")]
        if i % 3 == 0:
            triangle = [(3.3, 4.1), (40.2 + i, 6.6), (20.5, 40.4)]
            results.append(polygon_result(triangle, "protect", size, "p"))
        project.annotate(name, results)
    spec = project.spec(formats="inpaint, per-label, semantic, control, coco")
    killed = project.folder / "killed"

    args = [label_studio.url, label_studio.token, str(spec.path), str(killed)]
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while proc.poll() is None:
            masks = killed / "masks"
            if masks.is_dir() and len(list(masks.glob("*.png"))) >= count // 3:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, f"the export was not killed half-way: {err}"
    state = json.loads((killed / STATE_FILE).read_text())
    assert state["complete"] is False
    assert not (killed / "metadata.jsonl").exists()
    assert 0 < len(list((killed / "masks").glob("*.png"))) < count

    rerun = project.export(spec, out=killed)
    assert rerun.exit_code == 0 and rerun.pairs == count
    straight = project.export(spec, out=project.folder / "straight")
    assert straight.pairs == count
    assert tree(killed) == tree(project.folder / "straight")
    assert json.loads((killed / STATE_FILE).read_text())["complete"] is True
    assert not [p for p in killed.rglob("*") if p.name.endswith(".lstk-tmp")]
    rows = [json.loads(line) for line in (killed / "metadata.jsonl").read_text().splitlines()]
    assert len(rows) == count
    for row in rows:
        mask = np.asarray(Image.open(killed / row["mask_file_name"]))
        assert mask.shape == (row["height"], row["width"])


class Stop(Exception):
    pass


def test_interrupted_export_after_an_option_change_is_finished_by_since_last(
    label_studio: LiveServer,
) -> None:
    project = Project.create(label_studio, "resume")
    size = (48, 32)
    for i in range(8):
        project.add_image(f"img{i}.png", picture(*size, 200 + i))
        project.annotate(f"img{i}.png", [brush_result(stroke(*size, i), "remove", "b")])
    spec = project.spec()
    out = spec.export.out
    assert project.export(spec).pairs == 8

    changed = project.spec(formats="inpaint, semantic")  # another option: every pair redone

    def stop_half_way(done: int, total: int) -> None:
        if done == 3:
            raise Stop

    try:
        project.export(changed, progress=stop_half_way, workers=1)
    except Stop:
        pass
    else:
        raise AssertionError("the export was not interrupted")
    assert json.loads((out / STATE_FILE).read_text())["complete"] is False

    finished = project.export(changed, since_last=True)
    assert finished.incremental and finished.pairs == 8
    assert 0 < finished.written < 8  # the pairs not yet redone, not the whole project
    project.export(changed, out=project.folder / "fresh")
    assert tree(out) == tree(project.folder / "fresh")
