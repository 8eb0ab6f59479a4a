"""The S3 overlay: Label Studio keeps uploads in the object store, and imports a bucket
through an S3 import storage that uses the stack's own endpoint."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import free_port
from tests.ls.helpers import sample_images, write_spec
from tests.stack.conftest import StackUnderTest, running_stack

boto3 = pytest.importorskip("boto3")


@pytest.fixture(scope="module")
def s3_stack(
    standin_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackUnderTest]:
    base = tmp_path_factory.mktemp("s3stack")
    port = str(free_port())
    with running_stack(standin_images, base, "--with-s3", S3_PORT=port) as stack:
        yield stack


def s3_client(stack: StackUnderTest):  # noqa: ANN201
    values = dict(
        line.split("=", 1) for line in (stack.compose_dir / ".env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )  # fmt: skip
    client = boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{values['S3_PORT']}", region_name="us-east-1",
        aws_access_key_id=values["S3_ACCESS_KEY"], aws_secret_access_key=values["S3_SECRET_KEY"],
    )  # fmt: skip
    return client, values


def test_uploads_land_in_the_media_bucket(s3_stack: StackUnderTest, tmp_path: Path) -> None:
    sample_images(tmp_path, 2)
    spec = write_spec(tmp_path, "project:\n  title: S3 media\n  labels: [remove]\n"
                                "data:\n  images: ./images\n  mode: upload\n")  # fmt: skip
    assert s3_stack.lstk("apply", str(spec)).returncode == 0
    result = s3_stack.lstk("import", str(spec), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["new"] == 2
    client = s3_stack.client()
    project = next(p for p in client.paginate("/api/projects") if p["title"] == "S3 media")
    for task in client.paginate("/api/tasks", project=project["id"], fields="task_only"):
        served = client.request("GET", task["data"]["image"])
        source = (tmp_path / "images" / task["data"]["lstk_key"]).read_bytes()
        assert hashlib.sha256(served.content).digest() == hashlib.sha256(source).digest()
    s3, values = s3_client(s3_stack)
    stored = s3.list_objects_v2(Bucket=values.get("S3_MEDIA_BUCKET", "lstk-media"))
    assert len(stored.get("Contents", [])) >= 2


def test_bucket_import_through_the_stack_endpoint(s3_stack: StackUnderTest, tmp_path: Path) -> None:
    s3, values = s3_client(s3_stack)
    bucket = values.get("S3_IMPORT_BUCKET", "lstk-import")
    for name in ("a.png", "b.png"):
        buf = io.BytesIO()
        Image.new("RGB", (20, 10), "teal").save(buf, format="PNG")
        s3.put_object(Bucket=bucket, Key=f"street/{name}", Body=buf.getvalue())
    spec = write_spec(
        tmp_path,
        "project:\n  title: S3 bucket\n  labels: [remove]\n"
        f"data:\n  s3:\n    bucket: {bucket}\n    prefix: street\n    presign: false\n"
        "    access_key_id: ${S3_ACCESS_KEY}\n    secret_access_key: ${S3_SECRET_KEY}\n",
    )
    env = {**s3_stack.env, "S3_ACCESS_KEY": values["S3_ACCESS_KEY"],
           "S3_SECRET_KEY": values["S3_SECRET_KEY"]}  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, env=env
        )

    assert run("apply", str(spec)).returncode == 0
    first = run("import", str(spec), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["new"] == 2
    assert json.loads(run("import", str(spec), "--json").stdout)["new"] == 0
    client = s3_stack.client()
    project = next(p for p in client.paginate("/api/projects") if p["title"] == "S3 bucket")
    task = next(iter(client.paginate("/api/tasks", project=project["id"], fields="task_only")))
    image = client.request("GET", task["data"]["image"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
