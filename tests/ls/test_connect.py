"""Connecting to a real Label Studio with both kinds of API key, and the errors users see."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer
from toolkit.errors import ConnectionFailed
from toolkit.server import Client, connect


def lstk(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolkit.cli", *args],
        capture_output=True,
        text=True,
        env=server.env(),
        timeout=300,
    )


@pytest.fixture(scope="module")
def pat(label_studio: LiveServer) -> str:
    """A Personal Access Token, created the way the web UI creates one."""
    body = label_studio.client().json("POST", "/api/token/")
    return str(body["token"])


def test_legacy_token_works(label_studio: LiveServer) -> None:
    client = connect(label_studio.url, label_studio.token)
    assert client.get("/api/current-user/whoami")["email"] == label_studio.state.username


def test_personal_access_token_works(label_studio: LiveServer, pat: str) -> None:
    client = connect(label_studio.url, pat)
    assert client.uses_pat
    assert client.get("/api/current-user/whoami")["email"] == label_studio.state.username
    assert client.version() == "1.23.2"
    # The SDK client made from ours speaks with the same key.
    assert client.sdk.users.whoami().email == label_studio.state.username


def test_expired_access_token_is_refreshed(label_studio: LiveServer, pat: str) -> None:
    client = Client(label_studio.url, pat)
    client.check()
    client._access = "not-a-valid-access-token"
    client.check()  # a 401 makes the client exchange the PAT again
    assert client._access != "not-a-valid-access-token"


def test_wrong_token_is_a_short_error_with_exit_3(label_studio: LiveServer) -> None:
    with pytest.raises(ConnectionFailed, match="rejected the API token"):
        connect(label_studio.url, "0" * 40)
    result = lstk(label_studio, "--api-key", "0" * 40, "status")
    assert result.returncode == 3
    assert "rejected the API token" in result.stdout and "start it with" not in result.stdout
    result = subprocess.run(
        [sys.executable, "-c", "from toolkit.cli import main; import sys; "
         "sys.exit(main(['--api-key', '0'*40, '--url', sys.argv[1], 'token']))",
         label_studio.url],
        capture_output=True, text=True, env=label_studio.env(), timeout=60,
    )  # fmt: skip
    assert result.returncode == 0  # `token` prints the configured key without checking it


def test_wrong_pat_names_the_personal_access_token(label_studio: LiveServer, pat: str) -> None:
    head, payload, _ = pat.split(".")
    with pytest.raises(ConnectionFailed, match="Personal Access Token"):
        connect(label_studio.url, f"{head}.{payload}.forged")


@pytest.fixture
def legacy_disabled(label_studio: LiveServer, pat: str) -> Iterator[None]:
    admin = Client(label_studio.url, pat)
    admin.json("POST", "/api/jwt/settings", json={"legacy_api_tokens_enabled": False})
    try:
        yield
    finally:
        admin.json("POST", "/api/jwt/settings", json={"legacy_api_tokens_enabled": True})


@pytest.mark.usefixtures("legacy_disabled")
def test_disabled_legacy_tokens_get_both_fixes(label_studio: LiveServer, pat: str) -> None:
    with pytest.raises(ConnectionFailed) as info:
        connect(label_studio.url, label_studio.token)
    message = str(info.value)
    assert "legacy tokens disabled" in message
    assert "Personal Access Token" in message
    assert "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN" in message
    connect(label_studio.url, pat).check()  # a PAT still works


def test_cli_error_has_no_traceback(label_studio: LiveServer) -> None:
    result = lstk(label_studio, "--api-key", "f" * 40, "status", "--json")
    assert result.returncode == 3
    result = lstk(label_studio, "--url", "http://127.0.0.1:9", "--api-key", "x", "status")
    assert result.returncode == 3
    assert "Traceback" not in result.stderr + result.stdout
