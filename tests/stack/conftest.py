"""The compose stack on a real Docker engine, with locally built stand-in images.

No registry is reachable where these tests run, so compose/standin/build.sh builds images
that keep the official images' contract (cached between runs) and the stack is pointed
at them through its image variables.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import cannot_run, free_port
from toolkit.runtime import docker
from toolkit.server import Client
from toolkit.settings import State, load_state

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "compose" / "standin" / "build.sh"


@pytest.fixture(scope="session")
def standin_images() -> dict[str, str]:
    if not docker.engine_available():
        cannot_run("no Docker engine answers (`docker info` fails)")
    built = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.fail(f"building the stand-in images failed:\n{built.stderr[-2000:]}")
    lines = [line for line in built.stdout.splitlines() if "=" in line and "_IMAGE" in line]
    return dict(line.strip().split("=", 1) for line in lines)


@dataclass
class StackUnderTest:
    home: Path
    compose_dir: Path
    files: Path
    env: dict[str, str]

    def lstk(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "toolkit.cli", *args],
            capture_output=True, text=True, env=self.env, timeout=timeout, cwd=self.files,
        )  # fmt: skip

    @property
    def state(self) -> State:
        state = load_state(self.home)
        assert state is not None
        return state

    def client(self) -> Client:
        return Client(self.state.url, self.state.token)


@contextmanager
def running_stack(
    images: dict[str, str], base: Path, *up_args: str, **extra_env: str
) -> Iterator[StackUnderTest]:
    """A stack of its own (compose files copied to `base`, a unique project name), brought
    up with `lstk up --runtime docker`, and taken down with its volumes afterwards."""
    compose_dir = base / "compose"
    compose_dir.mkdir()
    for name in ("docker-compose.yml", "docker-compose.s3.yml"):
        shutil.copy(REPO / "compose" / name, compose_dir / name)
    files = base / "files"
    files.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
    env.update(images)
    env.update(
        LSTK_HOME=str(base / "home"),
        LSTK_COMPOSE_DIR=str(compose_dir),
        COMPOSE_PROJECT_NAME=f"lstktest{uuid.uuid4().hex[:8]}",
        **extra_env,
    )
    under_test = StackUnderTest(base / "home", compose_dir, files, env)
    port = str(free_port())
    up = under_test.lstk("up", "--runtime", "docker", "--port", port, "--files-root", str(files),
                         *up_args)  # fmt: skip
    assert up.returncode == 0, up.stderr + up.stdout
    try:
        yield under_test
    finally:
        under_test.lstk("down", "--volumes", "--yes")


@pytest.fixture(scope="module")
def stack(
    standin_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackUnderTest]:
    with running_stack(standin_images, tmp_path_factory.mktemp("stack")) as under_test:
        yield under_test
