from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.runtime import local
from toolkit.runtime.backup import image_repository
from toolkit.runtime.common import admin_credentials
from toolkit.settings import State


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("heartexlabs/label-studio:1.23.2", "heartexlabs/label-studio"),
        ("registry:5000/ls", "registry:5000/ls"),
        ("registry:5000/team/ls:1.2", "registry:5000/team/ls"),
        ("ls@sha256:0123", "ls"),
    ],
)
def test_upgrade_keeps_the_repository_of_an_image(image: str, repository: str) -> None:
    assert image_repository(image) == repository


def test_a_recorded_pid_of_another_program_is_not_label_studio() -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert local.pid_alive(other.pid)
        assert not local.is_label_studio(other.pid)
    finally:
        other.kill()
        other.wait()
    assert not local.is_label_studio(other.pid)


def test_admin_credentials_say_when_the_password_was_generated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LABEL_STUDIO_USERNAME", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_PASSWORD", raising=False)
    user, password, generated = admin_credentials(None, None, None)
    assert generated and len(password) >= 20 and user == "admin@lstk.local"
    previous = State(url="u", token="t", runtime="local", username="a@b.c", password="kept")
    assert admin_credentials(None, None, previous) == ("a@b.c", "kept", False)
    monkeypatch.setenv("LABEL_STUDIO_PASSWORD", "from-env")
    assert admin_credentials(None, None, None)[1:] == ("from-env", False)


def test_free_port_check(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert not local.port_free(sock.getsockname()[1])
    assert os.path.isdir(tmp_path)
