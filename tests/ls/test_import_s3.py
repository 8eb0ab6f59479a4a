"""Import from an S3-compatible bucket through Label Studio's import storage.

The bucket is served by moto's S3 server on loopback: a real HTTP S3 endpoint that
Label Studio's own boto3 client talks to.
"""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from PIL import Image

from tests.conftest import LiveServer, free_port
from tests.ls.helpers import write_spec
from toolkit import importer, provision
from toolkit.spec import load

boto3 = pytest.importorskip("boto3")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def put_images(endpoint: str, bucket: str, names: list[str]) -> None:
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
        region_name="us-east-1",
    )  # fmt: skip
    if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=bucket)
    for name in names:
        buf = io.BytesIO()
        Image.new("RGB", (32, 24), "navy").save(buf, format="PNG")
        s3.put_object(Bucket=bucket, Key=name, Body=buf.getvalue())


def test_s3_bucket_import_is_idempotent(
    label_studio: LiveServer, s3_endpoint: str, tmp_path
) -> None:
    put_images(s3_endpoint, "photos", ["street/a.png", "street/b.png", "street/notes.txt"])
    spec = load(
        write_spec(
            tmp_path,
            f"""
project:
  title: S3 import
  labels: [remove]
data:
  s3:
    bucket: photos
    prefix: street
    endpoint_url: {s3_endpoint}
    region: us-east-1
    access_key_id: test
    secret_access_key: ${{S3_SECRET:-test}}
""",
        )
    )
    client = label_studio.client()
    provision.apply(client, spec)
    first = importer.import_data(client, spec)
    assert (first.mode, first.new) == ("s3", 2)
    again = importer.import_data(client, spec)
    assert again.new == 0
    put_images(s3_endpoint, "photos", ["street/c.png"])
    third = importer.import_data(client, spec)
    assert third.new == 1
    tasks = list(client.paginate("/api/tasks", project=first.project_id, fields="all"))
    # The tasks API hands out the image as a resolve URL carrying the base64 of the s3 URI.
    uris = sorted(base64.b64decode(t["data"]["image"].split("fileuri=")[1]).decode() for t in tasks)
    assert uris == [
        "s3://photos/street/a.png",
        "s3://photos/street/b.png",
        "s3://photos/street/c.png",
    ]
    image = client.request("GET", tasks[0]["data"]["image"])  # redirects to a presigned URL
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert len(client.get("/api/storages/s3", project=first.project_id)) == 1
