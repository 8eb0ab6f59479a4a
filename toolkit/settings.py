"""Where the URL, the token and the state directory come from.

Resolution order: explicit arguments (CLI flags) > environment > the state file
that `lstk up` writes in LSTK_HOME.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import ConnectionFailed, UsageError
from toolkit.files import PRIVATE, write_atomic

STATE_FILE = "state.json"
ENV_URL = "LABEL_STUDIO_URL"
ENV_API_KEY = "LABEL_STUDIO_API_KEY"
ENV_HOME = "LSTK_HOME"


def lstk_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The state directory: the argument, else $LSTK_HOME, else ./.lstk."""
    return Path(home or os.environ.get(ENV_HOME) or ".lstk").absolute()


@dataclass
class State:
    """What `lstk up` remembers about the stack it started."""

    url: str
    token: str
    runtime: str  # "local" | "docker"
    username: str = ""
    password: str = ""
    pid: int | None = None
    port: int | None = None
    data_dir: str = ""
    files_root: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def state_path(home: Path) -> Path:
    return home / STATE_FILE


def load_state(home: Path) -> State | None:
    path = state_path(home)
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        known = {k: raw[k] for k in State.__dataclass_fields__ if k in raw}
        return State(**known)
    except (ValueError, TypeError) as exc:
        raise UsageError(
            f"The state file {path} is damaged ({exc}). Delete it and run `lstk up` again "
            "(the data of the stack is kept elsewhere and survives)."
        ) from None


def save_state(home: Path, state: State) -> Path:
    """Write the state file atomically, readable by its owner only (it holds secrets)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state_path(home)
    write_atomic(path, json.dumps(asdict(state), indent=2), mode=PRIVATE)
    return path


def clear_state(home: Path) -> None:
    state_path(home).unlink(missing_ok=True)


@dataclass(frozen=True)
class Settings:
    url: str
    api_key: str
    home: Path
    state: State | None

    @property
    def runtime(self) -> str | None:
        return self.state.runtime if self.state else None


def resolve(
    url: str | None = None,
    api_key: str | None = None,
    home: str | os.PathLike[str] | None = None,
) -> Settings:
    """Settings for talking to Label Studio; raises when no URL or token can be found.

    The state file's token (and what it says about the stack) applies only to the server
    that `lstk up` started: pointing --url elsewhere never sends that token there.
    """
    home_path = lstk_home(home)
    state = load_state(home_path)
    final_url = (url or os.environ.get(ENV_URL) or (state.url if state else "")).rstrip("/")
    if state is not None and final_url != state.url.rstrip("/"):
        state = None
    final_key = api_key or os.environ.get(ENV_API_KEY) or (state.token if state else "")
    if not final_url or not final_key:
        missing = "URL" if not final_url else "API token"
        raise ConnectionFailed(
            f"No Label Studio {missing} is known (no flag, no ${ENV_URL}/${ENV_API_KEY}, "
            f"no state file in {home_path}). Run `lstk up` to start one, or pass "
            "--url and --api-key for an existing server."
        )
    return Settings(url=final_url, api_key=final_key, home=home_path, state=state)
