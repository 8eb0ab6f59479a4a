from __future__ import annotations

import stat
from pathlib import Path

import pytest

from toolkit.errors import EXIT_UNREACHABLE, ConnectionFailed, UsageError
from toolkit.settings import State, load_state, resolve, save_state


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "LSTK_HOME"):
        monkeypatch.delenv(name, raising=False)


def test_state_file_is_private_and_round_trips(tmp_path: Path) -> None:
    state = State(url="http://127.0.0.1:9", token="t" * 40, runtime="local", password="p")
    path = save_state(tmp_path / "home", state)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_state(tmp_path / "home") == state


def test_flags_beat_environment_beat_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_state(tmp_path, State(url="http://state:1", token="state-token", runtime="local"))
    assert resolve(home=tmp_path).url == "http://state:1"
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://env:2/")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "env-token")
    from_env = resolve(home=tmp_path)
    assert (from_env.url, from_env.api_key) == ("http://env:2", "env-token")
    from_flags = resolve("http://flag:3", "flag-token", tmp_path)
    assert (from_flags.url, from_flags.api_key) == ("http://flag:3", "flag-token")


def test_nothing_known_says_run_lstk_up(tmp_path: Path) -> None:
    with pytest.raises(ConnectionFailed) as info:
        resolve(home=tmp_path / "empty")
    assert "lstk up" in str(info.value)
    assert info.value.exit_code == EXIT_UNREACHABLE


def test_lstk_home_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_state(tmp_path, State(url="http://x:1", token="k", runtime="docker"))
    monkeypatch.setenv("LSTK_HOME", str(tmp_path))
    assert resolve().runtime == "docker"


def test_state_token_is_never_sent_to_another_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_state(tmp_path, State(url="http://127.0.0.1:8080", token="local-secret", runtime="local"))
    with pytest.raises(ConnectionFailed, match="API token"):
        resolve("https://remote.example.com", home=tmp_path)
    monkeypatch.setenv("LABEL_STUDIO_URL", "https://remote.example.com")
    remote = resolve(api_key="remote-key", home=tmp_path)
    assert (remote.api_key, remote.state) == ("remote-key", None)
    local = resolve("http://127.0.0.1:8080/", home=tmp_path)
    assert local.api_key == "local-secret" and local.state is not None


def test_damaged_state_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(UsageError, match="damaged"):
        resolve(home=tmp_path)
