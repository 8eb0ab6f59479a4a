"""Benchmark: `lstk export` against Label Studio's own exports, in one run.

One real local Label Studio gets a project of N tasks (default 1,000) with 1024x1024
images and detailed brush annotations (several soft-edged strokes each; every fourth task
also has a polygon), and a project of 4N tasks made the same way. Then, each route in a
fresh process (and, for the server-side ones, a freshly started server), it measures wall
time and peak memory:

- toolkit: `toolkit.exporter.export` writing images, union masks and metadata.jsonl
  (images from the source folder; and a second time through Label Studio);
- toolkit --since last, with nothing changed and with 10 tasks changed;
- Label Studio's BRUSH_TO_PNG export (`GET /api/projects/{id}/export?exportType=BRUSH_TO_PNG`,
  the zip streamed to disk);
- the SDK route: the JSON export, then label-studio-sdk's `Converter(...).convert(...,
  "BRUSH_TO_PNG")`;
- the toolkit on the 4N-task project, for memory scaling;
- how tasks are read: the toolkit's keyset stream over the paginated tasks API, against a
  snapshot export (create, wait, download, parse).

Peak memory: the client's peak RSS (ru_maxrss of the child process doing the work) and
the server's peak RSS above its RSS before the route (VmHWM after resetting it through
/proc/PID/clear_refs; Linux only, needs permission to write it).

    python bench/export_bench.py [--tasks 1000] [--scale 4] [--port 8095] [--work DIR]

Prints a markdown table for docs/benchmarks.md. Takes 20-30 minutes for 1,000 tasks,
most of it in the server-side BRUSH_TO_PNG export and the SDK converter.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

LABEL_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <BrushLabels name="brush" toName="image">
    <Label value="remove" background="#ff0000"/><Label value="protect" background="#00ff00"/>
  </BrushLabels>
  <PolygonLabels name="polygon" toName="image">
    <Label value="remove" background="#ff0000"/><Label value="protect" background="#00ff00"/>
  </PolygonLabels>
</View>"""

SPEC = """
project:
  id: {id}
  tools: [brush, polygon]
  labels:
    - {{name: remove, color: "#ff0000"}}
    - {{name: protect, color: "#00ff00"}}
data:
  images: {images}
export:
  out: {out}
  annotations: union
  formats: [inpaint]
"""
SIZE = 1024
BATCH = 25


# -- data ------------------------------------------------------------------------------
def make_image(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (SIZE // 32, SIZE // 32, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((SIZE, SIZE), Image.Resampling.BICUBIC)
    image.save(path, quality=88)


def brush_alpha(seed: int) -> np.ndarray:
    """A detailed brush annotation: 3-7 thick strokes with anti-aliased (blurred) edges."""
    rng = np.random.default_rng(seed)
    canvas = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(3, 8))):
        points = [tuple(int(v) for v in rng.integers(0, SIZE, 2))]
        for _ in range(int(rng.integers(4, 12))):
            x, y = points[-1]
            step = rng.integers(-150, 150, 2)
            x, y = np.clip((x + step[0], y + step[1]), 0, SIZE - 1)
            points.append((int(x), int(y)))
        draw.line(points, fill=255, width=int(rng.integers(8, 60)), joint="curve")
    return np.asarray(canvas.filter(ImageFilter.GaussianBlur(1.2)))


def results_for(i: int, rle: bytes) -> list[dict[str, Any]]:
    results = [
        {
            "id": f"b{i}",
            "from_name": "brush",
            "to_name": "image",
            "type": "brushlabels",
            "original_width": SIZE,
            "original_height": SIZE,
            "value": {"format": "rle", "rle": list(rle), "brushlabels": ["remove"]},
        }
    ]
    if i % 4 == 0:
        results.append(
            {
                "id": f"p{i}",
                "from_name": "polygon",
                "to_name": "image",
                "type": "polygonlabels",
                "original_width": SIZE,
                "original_height": SIZE,
                "value": {
                    "points": [[10.5, 60.2], [35.1, 55.7], [42.3, 80.9], [18.4, 92.6]],
                    "polygonlabels": ["remove"],
                },
            }
        )
    return results


def build(work: Path, tasks: int, scale: int, url: str, token: str) -> dict[str, Any]:
    from toolkit.masks.rle import encode_bytes
    from toolkit.server import Client

    client = Client(url, token, timeout=600)
    files = work / "files"
    images = files / "images"
    first = images / "s0"
    first.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    masks: list[bytes] = []
    for i in range(tasks):
        path = first / f"img{i:05d}.jpg"
        if not path.exists():
            make_image(path, i)
        masks.append(encode_bytes(brush_alpha(i)))
    for s in range(1, scale):  # the bigger project's images: hard links to the same files
        (images / f"s{s}").mkdir(exist_ok=True)
        for path in sorted(first.iterdir()):
            target = images / f"s{s}" / path.name
            if not target.exists():
                os.link(path, target)
    generated = time.perf_counter() - started
    stream_bytes = sum(len(m) for m in masks)
    projects = {}
    for name, sets in (("small", 1), ("big", scale)):
        project = client.json(
            "POST",
            "/api/projects",
            json={"title": f"Export bench {name}", "label_config": LABEL_CONFIG},
        )
        pid = int(project["id"])
        storage = {"project": pid, "path": str(images), "title": "bench"}
        client.json("POST", "/api/storages/localfiles", json=storage)
        started = time.perf_counter()
        batch = []
        for s in range(sets):
            for i in range(tasks):
                key = f"s{s}/img{i:05d}.jpg"
                data = {"image": f"/data/local-files/?d=images/{key}", "lstk_key": key}
                batch.append({"data": data, "annotations": [{"result": results_for(i, masks[i])}]})
                if len(batch) == BATCH:
                    _import(client, pid, batch)
                    batch = []
        if batch:
            _import(client, pid, batch)
        took = time.perf_counter() - started
        projects[name] = {"id": pid, "tasks": tasks * sets, "import_s": took}
        print(f"  {name}: project {pid}, {tasks * sets} tasks imported in {took:.0f} s", flush=True)
    return {
        "projects": projects,
        "generate_s": generated,
        "mean_rle_bytes": stream_bytes / max(1, tasks),
    }


def _import(client: Any, pid: int, batch: list[dict[str, Any]]) -> None:
    body = json.dumps(batch, separators=(",", ":"))
    client.json(
        "POST",
        f"/api/projects/{pid}/import",
        data=body,
        headers={"Content-Type": "application/json"},
    )


# -- routes, each run in a child process ----------------------------------------------
def child(route: str, args: dict[str, Any]) -> dict[str, Any]:
    from toolkit.server import Client

    client = Client(args["url"], args["token"], timeout=3600)
    started = time.perf_counter()
    out = Path(args["out"])
    info: dict[str, Any] = {}
    if route == "toolkit":
        from toolkit.exporter import export
        from toolkit.spec import load

        summary = export(client, load(args["spec"]), out=out, since_last=args.get("since", False))
        info = {k: summary.as_dict()[k] for k in ("pairs", "written", "tasks", "incremental")}
        info["failed"] = len(summary.failed)
    elif route == "brush_to_png":
        resp = client.request(
            "GET",
            f"/api/projects/{args['project']}/export",
            params={"exportType": "BRUSH_TO_PNG"},
            stream=True,
        )
        size = _save(resp, out / "brush.zip")
        info = {"status": resp.status_code, "zip_bytes": size}
    elif route == "sdk":
        from label_studio_sdk.converter import Converter

        path = f"/api/projects/{args['project']}/export"
        resp = client.request("GET", path, params={"exportType": "JSON"}, stream=True)
        _save(resp, out / "export.json")
        exported = time.perf_counter() - started
        config = client.get(f"/api/projects/{args['project']}")["label_config"]
        converter = Converter(config, project_dir=None, download_resources=False)
        (out / "png").mkdir(parents=True, exist_ok=True)
        converter.convert(str(out / "export.json"), str(out / "png"), "BRUSH_TO_PNG", is_dir=False)
        info = {"json_export_s": round(exported, 1), "pngs": len(list((out / "png").iterdir()))}
    elif route == "stream":
        from toolkit.export.fetch import TaskStream

        count = sum(len(page) for page in TaskStream(client, args["project"]).pages())
        info = {"tasks": count}
    elif route == "snapshot":
        pid = args["project"]
        options = {"task_filter_options": {"only_with_annotations": True}}
        made = client.json("POST", f"/api/projects/{pid}/exports", json=options)
        while made.get("status") not in ("completed", "failed"):
            time.sleep(0.5)
            made = client.get(f"/api/projects/{pid}/exports/{made['id']}")
        ready = time.perf_counter() - started
        path = f"/api/projects/{pid}/exports/{made['id']}/download"
        resp = client.request("GET", path, params={"exportType": "JSON"}, stream=True)
        _save(resp, out / "snapshot.json")
        with open(out / "snapshot.json") as fh:
            count = len(json.load(fh))
        info = {"tasks": count, "snapshot_ready_s": round(ready, 1)}
    else:
        raise SystemExit(f"unknown route {route}")
    seconds = time.perf_counter() - started
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
    peak = (
        _status_kb(os.getpid(), "VmHWM")
        or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {"seconds": seconds, "client_mb": peak, **info}


def _save(resp: Any, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with open(path, "wb") as fh:
        for chunk in resp.iter_content(1 << 20):
            fh.write(chunk)
            size += len(chunk)
    return size


# -- driver ---------------------------------------------------------------------------
class Server:
    def __init__(self, home: Path, files: Path, port: int) -> None:
        self.home, self.files, self.port = home, files, port
        self.state: Any = None

    def start(self) -> None:
        from toolkit.runtime import local

        self.state = local.up(self.home, port=self.port, files_root=self.files).state

    def restart(self) -> None:
        from toolkit.runtime import local
        from toolkit.server import Client

        local.down(self.home)
        time.sleep(1)
        self.start()
        # Warm up (imports, caches of a first request) so that they do not count as the
        # memory of the route measured next.
        client = Client(self.state.url, self.state.token)
        for project in client.get("/api/projects")["results"]:
            client.get("/api/tasks", project=project["id"], page_size=2, fields="all")
            client.get(f"/api/projects/{project['id']}/export/formats")

    def stop(self) -> None:
        from toolkit.runtime import local

        local.down(self.home)

    def rss_mb(self) -> float | None:
        return _status_kb(self.state.pid, "VmRSS")

    def reset_peak(self) -> bool:
        try:
            Path(f"/proc/{self.state.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def peak_mb(self) -> float | None:
        return _status_kb(self.state.pid, "VmHWM")


def _status_kb(pid: int, key: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def measure(server: Server, route: str, args: dict[str, Any], *, fresh: bool) -> dict[str, Any]:
    if fresh:
        server.restart()
    args = {**args, "url": server.state.url, "token": server.state.token}
    if not args.get("since"):
        shutil.rmtree(args["out"], ignore_errors=True)
    before = server.rss_mb()
    reset = server.reset_peak()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", route, json.dumps(args)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{route} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    peak = server.peak_mb() if reset else None
    result["server_mb"] = (peak - before) if (peak is not None and before is not None) else None
    print(f"  {route}: {json.dumps(result)}", flush=True)
    return result


def touch_annotations(url: str, token: str, project: int, count: int) -> None:
    """Change `count` annotations (new polygon), as annotators would between exports."""
    from toolkit.server import Client

    client = Client(url, token)
    tasks = client.get("/api/tasks", project=project, page_size=count, fields="all")["tasks"]
    for task in tasks:
        annotation = task["annotations"][0]
        result = annotation["result"] + [
            {
                "id": "extra",
                "from_name": "polygon",
                "to_name": "image",
                "type": "polygonlabels",
                "original_width": SIZE,
                "original_height": SIZE,
                "value": {"points": [[60, 10], [90, 12], [80, 40]], "polygonlabels": ["remove"]},
            }
        ]
        client.json("PATCH", f"/api/annotations/{annotation['id']}", json={"result": result})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--scale", type=int, default=4, help="the big project has tasks x scale")
    parser.add_argument("--port", type=int, default=8095)
    parser.add_argument("--work", type=Path, default=None, help="keep data here (default: temp)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], json.loads(args.child[1]))))
        return

    work = args.work or Path(tempfile.mkdtemp(prefix="lstk-export-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    server = Server(work / "home", work / "files", args.port)
    (work / "files").mkdir(exist_ok=True)
    print(f"work dir {work}", flush=True)
    server.start()
    try:
        print("building projects...", flush=True)
        built = build(work, args.tasks, args.scale, server.state.url, server.state.token)
        small, big = built["projects"]["small"], built["projects"]["big"]
        rows = run_routes(server, work, small, big)
    finally:
        server.stop()
    report(args, built, rows)


def run_routes(server: Server, work: Path, small: dict, big: dict) -> list[tuple[str, dict]]:
    def spec(project: dict, name: str, images: bool = True) -> str:
        path = work / f"{name}.yaml"
        source = str(work / "files" / "images") if images else "null"
        path.write_text(SPEC.format(id=project["id"], images=source, out=work / "out" / name))
        return str(path)

    def out(name: str) -> str:
        return str(work / "out" / name)

    small_spec, served_spec, big_spec = (
        spec(small, "toolkit"),
        spec(small, "served", False),
        spec(big, "big"),
    )
    incremental = {"spec": small_spec, "out": out("toolkit"), "since": True}
    # Server-side routes first: by the time the toolkit's first export starts, the import is
    # more than --since last's safety margin (5 minutes) in the past, as in real use.
    pid = small["id"]
    routes: list[tuple[str, str, dict[str, Any], bool]] = [
        ("Label Studio BRUSH_TO_PNG", "brush_to_png", {"project": pid, "out": out("b")}, True),
        ("JSON export + SDK converter", "sdk", {"project": pid, "out": out("sdk")}, True),
        ("read tasks: paginated tasks API", "stream", {"project": pid, "out": out("s")}, True),
        ("read tasks: snapshot export", "snapshot", {"project": pid, "out": out("n")}, True),
        ("toolkit export", "toolkit", {"spec": small_spec, "out": out("toolkit")}, True),
        ("toolkit --since last, nothing changed", "toolkit", incremental, False),
        ("toolkit --since last, 10 tasks changed", "toolkit", incremental, False),
        ("toolkit export, images through Label Studio", "toolkit",
         {"spec": served_spec, "out": out("served")}, True),
        (f"toolkit export, {big['tasks']} tasks", "toolkit",
         {"spec": big_spec, "out": out("big")}, True),
    ]  # fmt: skip
    rows = []
    for name, route, args, fresh in routes:
        if name.endswith("10 tasks changed"):  # annotators at work between two exports
            touch_annotations(server.state.url, server.state.token, small["id"], 10)
        rows.append((name, measure(server, route, args, fresh=fresh)))
    return rows


def report(args: argparse.Namespace, built: dict[str, Any], rows: list[tuple[str, dict]]) -> None:
    from importlib.metadata import version

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print()
    print(
        f"Measured {time.strftime('%Y-%m-%d')} on {cpu}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"label-studio {version('label-studio')}, label-studio-sdk {version('label-studio-sdk')}, "
        f"numba {version('numba')}; {args.tasks} tasks of {SIZE}x{SIZE}, mean brush stream "
        f"{built['mean_rle_bytes'] / 1024:.0f} KiB."
    )
    print()
    print("| route | wall s | client peak MiB | server peak +MiB | notes |")
    print("|---|---:|---:|---:|---|")
    for name, r in rows:
        notes = {k: v for k, v in r.items() if k not in ("seconds", "client_mb", "server_mb")}
        server = f"{r['server_mb']:.0f}" if r.get("server_mb") is not None else "n/a"
        details = ", ".join(f"{k} {v}" for k, v in notes.items())
        print(f"| {name} | {r['seconds']:.1f} | {r['client_mb']:.0f} | {server} | {details} |")
    by = dict(rows)
    toolkit, brush = by["toolkit export"], by["Label Studio BRUSH_TO_PNG"]
    big = next(r for n, r in rows if n.startswith("toolkit export, ") and "tasks" in n)
    print()
    print(
        f"toolkit vs BRUSH_TO_PNG: {brush['seconds'] / toolkit['seconds']:.1f}x faster; "
        f"peak client memory {big['client_mb'] / toolkit['client_mb']:.2f}x for "
        f"{args.scale}x the tasks"
    )


if __name__ == "__main__":
    main()
