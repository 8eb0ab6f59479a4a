"""Test tiers and the shared real Label Studio.

Every test gets its tier marker from its folder (tests/unit -> unit, ...). A tier that
cannot run on this machine skips with the reason; in CI (CI=true) it fails instead.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from toolkit.runtime import local
from toolkit.server import Client
from toolkit.settings import State

TIERS = ("unit", "ls", "stack", "e2e")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))


def cannot_run(reason: str) -> None:
    """Skip locally; fail in CI, where every tier must run."""
    if IN_CI:
        pytest.fail(f"tier cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A real Label Studio started by the local runtime, as `lstk up --runtime local` does."""

    home: Path
    files_root: Path
    state: State

    @property
    def url(self) -> str:
        return self.state.url

    @property
    def token(self) -> str:
        return self.state.token

    def client(self) -> Client:
        return Client(self.url, self.token)

    def env(self) -> dict[str, str]:
        """Environment for running `lstk` against this server through its state file."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
        env["LSTK_HOME"] = str(self.home)
        return env


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not local.server_installed():
        cannot_run("the Label Studio server package is not installed (pip install 'lstk[server]')")
    base = tmp_path_factory.mktemp("label-studio")
    home, files_root = base / "home", base / "files"
    files_root.mkdir()
    # The S3 stand-in of the import tests listens on loopback, which Label Studio's SSRF
    # guard refuses as a storage endpoint.
    state = local.up(
        home,
        port=free_port(),
        files_root=files_root,
        server_env={"SSRF_PROTECTION_ENABLED": "false"},
    ).state
    try:
        yield LiveServer(home=home, files_root=files_root, state=state)
    finally:
        local.down(home)
