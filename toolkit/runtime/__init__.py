"""Runtimes that host Label Studio: a local pip process, or the Docker Compose stack."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import LstkError, UsageError
from toolkit.runtime import local
from toolkit.runtime.common import UpResult
from toolkit.server import Client
from toolkit.settings import Settings, load_state

RUNTIMES = ("docker", "local")


def docker_available() -> bool:
    """True when a Docker engine answers (the default runtime is docker then)."""
    try:
        from toolkit.runtime import docker
    except ImportError:
        return False
    return docker.engine_available()


def pick_runtime(requested: str | None, home: Path) -> str:
    if requested:
        if requested not in RUNTIMES:
            raise UsageError(f"Unknown runtime {requested!r}: use one of {', '.join(RUNTIMES)}.")
        return requested
    previous = load_state(home)
    if previous:
        return previous.runtime
    return "docker" if docker_available() else "local"


def up(home: Path, runtime: str | None = None, **options: Any) -> UpResult:
    """Start (or reuse) Label Studio in the chosen runtime and write the state file."""
    chosen = pick_runtime(runtime, home)
    if chosen == "docker":
        from toolkit.runtime import docker

        return docker.up(home, **options)
    if options.pop("with_s3", False):
        raise UsageError("--with-s3 adds a service to the compose stack: use --runtime docker.")
    return local.up(home, **options)


def down(home: Path, *, delete_data: bool = False) -> bool:
    state = load_state(home)
    if state is None:
        return False
    if state.runtime == "docker":
        from toolkit.runtime import docker

        return docker.down(home, delete_data=delete_data)
    return local.down(home, delete_data=delete_data)


def logs(home: Path, *, tail: int = 200, follow: bool = False) -> None:
    """Print the server's logs to stdout."""
    state = load_state(home)
    if state is None:
        raise UsageError(f"Nothing was started from {home}; there are no logs to show.")
    if state.runtime == "docker":
        from toolkit.runtime import docker

        docker.logs(home, tail=tail, follow=follow)
    else:
        local.follow_log(home, tail=tail, follow=follow)


@dataclass
class Status:
    url: str
    reachable: bool
    runtime: str | None
    authenticated: bool = False
    version: str | None = None
    projects: int | None = None
    services: dict[str, str] = field(default_factory=dict)
    volumes: dict[str, int] = field(default_factory=dict)  # bytes per named volume
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def status(settings: Settings) -> Status:
    """Is Label Studio reachable with these settings, which version, how many projects."""
    result = Status(url=settings.url, reachable=False, runtime=settings.runtime)
    state = settings.state
    if state and state.runtime == "local":
        alive = local.is_label_studio(state.pid)
        result.services["label-studio"] = "running" if alive else "stopped"
    elif state and state.runtime == "docker":
        from toolkit.runtime import docker

        result.services.update(docker.service_health(settings.home))
        if result.services:
            result.volumes.update(docker.volume_sizes(docker.Stack.of(state)))
    client = Client(settings.url, settings.api_key, retries=0)
    if client.health() != 200:
        result.error = "no answer on /health; start it with `lstk up`"
        return result
    try:
        result.version = client.version()
        result.reachable = True
        result.projects = int(client.get("/api/projects", page_size=1).get("count", 0))
        result.authenticated = True
    except LstkError as exc:  # status reports problems, it does not raise them
        result.error = str(exc)
    return result
