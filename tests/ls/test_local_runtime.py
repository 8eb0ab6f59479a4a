"""`lstk up --runtime local` as a user runs it: status, token, busy port, restart keeps data."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import LiveServer, free_port
from toolkit.runtime import local


def lstk(
    server: LiveServer, *args: str, home: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = server.env()
    if home:
        env["LSTK_HOME"] = home
    return subprocess.run(
        [sys.executable, "-m", "toolkit.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_status_and_token_use_the_state_file(label_studio: LiveServer) -> None:
    result = lstk(label_studio, "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["reachable"] is True
    assert status["version"] == "1.23.2"
    assert status["runtime"] == "local"
    assert status["url"] == label_studio.url
    token = lstk(label_studio, "token")
    assert token.stdout.strip() == label_studio.token


def test_logs_show_the_server_log(label_studio: LiveServer) -> None:
    result = lstk(label_studio, "logs", "--tail", "50")
    assert result.returncode == 0, result.stderr
    assert "/health" in result.stdout or "Starting" in result.stdout or "django" in result.stdout


def test_up_again_reuses_the_running_server(label_studio: LiveServer) -> None:
    result = lstk(label_studio, "up", "--runtime", "local")
    assert result.returncode == 0, result.stderr
    assert label_studio.url in result.stdout
    assert "password:" not in result.stdout  # shown once, at creation only
    assert local.running(label_studio.home).pid == label_studio.state.pid


def test_busy_port_is_refused(label_studio: LiveServer, tmp_path) -> None:
    port = label_studio.state.port
    result = lstk(label_studio, "up", "--runtime", "local", "--port", str(port), home=str(tmp_path))
    assert result.returncode == 2
    assert f"Port {port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert local.running(tmp_path) is None


def test_restart_keeps_projects_and_status_exits_3_when_down(label_studio: LiveServer) -> None:
    client = label_studio.client()
    project = client.json("POST", "/api/projects", json={"title": "survives restarts"})
    try:
        down = lstk(label_studio, "down")
        assert down.returncode == 0, down.stderr
        assert not local.pid_alive(label_studio.state.pid)
        assert lstk(label_studio, "status").returncode == 3
    finally:
        up = lstk(label_studio, "up")
        assert up.returncode == 0, up.stderr
    label_studio.state = local.running(label_studio.home)
    titles = [p["title"] for p in label_studio.client().paginate("/api/projects")]
    assert "survives restarts" in titles
    label_studio.client().request("DELETE", f"/api/projects/{project['id']}")


def test_cold_start_in_a_new_home_gets_an_admin_and_a_working_token(
    label_studio: LiveServer, tmp_path
) -> None:
    port = free_port()
    result = lstk(label_studio, "up", "--runtime", "local", "--port", str(port), home=str(tmp_path))
    try:
        assert result.returncode == 0, result.stderr
        assert "password:" in result.stdout
        state = local.running(tmp_path)
        assert state is not None and state.port == port
        assert (tmp_path / "state.json").stat().st_mode & 0o077 == 0
        assert len(state.password) >= 20
        assert state.password not in (tmp_path / "label-studio.log").read_text()
        status = lstk(label_studio, "status", home=str(tmp_path))
        assert status.returncode == 0, status.stderr
    finally:
        lstk(label_studio, "down", home=str(tmp_path))
    assert local.running(tmp_path) is None
