"""The docker runtime: the Compose stack in compose/ (Label Studio + PostgreSQL).

The stack runs from a compose directory holding docker-compose.yml and its `.env`;
`.env` carries every secret and is written with strong random values when missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import LstkError, UsageError
from toolkit.files import PRIVATE, write_atomic
from toolkit.runtime.common import DEFAULT_USERNAME, UpResult, new_password, new_token
from toolkit.server import Client, wait_healthy
from toolkit.settings import State, load_state, save_state

RUNTIME = "docker"
COMPOSE_FILE = "docker-compose.yml"
S3_OVERLAY = "docker-compose.s3.yml"
SERVER_FILES_ROOT = "/label-studio/files"
ENV_COMPOSE_DIR = "LSTK_COMPOSE_DIR"
# Variables that `lstk up` takes from its own environment into a new .env (tests point
# the image variables at locally built stand-ins this way).
PASSED_THROUGH = (
    "LABEL_STUDIO_IMAGE", "POSTGRES_IMAGE", "S3_IMAGE", "COMPOSE_PROJECT_NAME", "S3_PORT",
)  # fmt: skip


# -- engine and compose ----------------------------------------------------------------
def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload, no-any-return]
    except FileNotFoundError:
        raise no_engine(f"`{cmd[0]}` is not installed") from None
    except subprocess.TimeoutExpired as exc:
        raise LstkError(
            f"`{' '.join(cmd[:3])} ...` did not finish within {exc.timeout:.0f} s; "
            "see `lstk logs` and `docker info`."
        ) from None


def no_engine(reason: str) -> LstkError:
    return LstkError(
        f"The docker runtime needs a running Docker engine, but {reason}. Install Docker "
        "(and Compose), start the daemon (`sudo systemctl start docker`), or use "
        "`lstk up --runtime local`."
    )


def engine_available() -> bool:
    if shutil.which("docker") is None:
        return False
    with contextlib.suppress(subprocess.TimeoutExpired):
        return (
            _run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=10).returncode == 0
        )
    return False


def compose_command() -> list[str]:
    """`docker compose` (v2) when present, else `docker-compose` (1.29)."""
    if shutil.which("docker") and _run(["docker", "compose", "version"]).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise no_engine("neither `docker compose` nor `docker-compose` is installed")


def require_engine() -> None:
    if not engine_available():
        raise no_engine("`docker info` gets no answer from the daemon")


# -- the stack -------------------------------------------------------------------------
def default_compose_dir() -> Path:
    """$LSTK_COMPOSE_DIR, else the compose/ folder of the source tree."""
    if os.environ.get(ENV_COMPOSE_DIR):
        return Path(os.environ[ENV_COMPOSE_DIR]).absolute()
    return Path(__file__).resolve().parents[2] / "compose"


@dataclass(frozen=True)
class Stack:
    """One compose stack: its folder (compose files + .env) and overlays."""

    directory: Path
    overlays: tuple[str, ...] = ()

    @property
    def env_file(self) -> Path:
        return self.directory / ".env"

    def env(self) -> dict[str, str]:
        return read_env(self.env_file)

    @property
    def project(self) -> str:
        return self.env().get("COMPOSE_PROJECT_NAME", "lstk")

    def command(self, *args: str) -> list[str]:
        """The compose command line for this stack (both compose flavours take these flags)."""
        cmd = [*compose_command(), "-p", self.project, "--project-directory", str(self.directory)]
        cmd += ["--env-file", str(self.env_file)]
        for name in (COMPOSE_FILE, *self.overlays):
            cmd += ["-f", str(self.directory / name)]
        return [*cmd, *args]

    def process_env(self) -> dict[str, str]:
        """The environment for compose: .env is the only source of the stack's settings
        (compose would otherwise let a variable of the calling shell win over .env)."""
        settings = self.env()
        return {k: v for k, v in os.environ.items() if k not in settings}

    def compose(self, *args: str, check: bool = True, timeout: float = 900) -> str:
        result = _run(
            self.command(*args), cwd=self.directory, env=self.process_env(), timeout=timeout
        )
        if check and result.returncode != 0:
            raise LstkError(
                f"`compose {' '.join(args)}` failed: {_last_lines(result.stderr or result.stdout)}"
            )
        return result.stdout

    def volume(self, name: str) -> str:
        return f"{self.project}_{name}"

    @classmethod
    def of(cls, state: State) -> Stack:
        extra = state.extra
        return cls(Path(extra["compose_dir"]), tuple(extra.get("overlays", ())))


def _last_lines(text: str, count: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-count:])


def read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def write_env(path: Path, values: dict[str, str]) -> None:
    """Write .env atomically with mode 0600 (it holds the stack's only copy of its secrets)."""
    lines = "".join(f"{key}={value}\n" for key, value in values.items())
    header = "# Written by `lstk up`; documented in .env.example. Keep it secret.\n"
    write_atomic(path, header + lines, mode=PRIVATE)


def ensure_env(
    stack: Stack, *, port: int | None, files_root: Path | None, username: str | None
) -> tuple[dict[str, str], bool]:
    """Create .env with strong generated secrets when missing; apply port/files changes.

    Also says whether the admin password was generated now (to show it once).
    """
    values = stack.env()
    fresh = not values
    generated = fresh and not os.environ.get("LABEL_STUDIO_PASSWORD")
    if fresh:
        values = {
            "COMPOSE_PROJECT_NAME": "lstk",
            "LABEL_STUDIO_PORT": "8080",
            "LABEL_STUDIO_USERNAME": username
            or os.environ.get("LABEL_STUDIO_USERNAME")
            or DEFAULT_USERNAME,
            "LABEL_STUDIO_PASSWORD": os.environ.get("LABEL_STUDIO_PASSWORD") or new_password(),
            "LABEL_STUDIO_USER_TOKEN": new_token(),
            "LABEL_STUDIO_SECRET_KEY": secrets.token_urlsafe(48),
            "POSTGRES_PASSWORD": secrets.token_urlsafe(32),
            "S3_ACCESS_KEY": "lstk" + secrets.token_hex(8),
            "S3_SECRET_KEY": secrets.token_urlsafe(32),
        }
        values.update({k: os.environ[k] for k in PASSED_THROUGH if os.environ.get(k)})
    if port is not None:
        values["LABEL_STUDIO_PORT"] = str(port)
    if files_root is not None:
        values["LABEL_STUDIO_FILES_DIR"] = str(Path(files_root).absolute())
    values.setdefault("LABEL_STUDIO_FILES_DIR", str(Path.cwd()))
    public = f"http://localhost:{values['LABEL_STUDIO_PORT']}"
    if fresh or values.get("LABEL_STUDIO_PUBLIC_URL", "").startswith("http://localhost:"):
        values["LABEL_STUDIO_PUBLIC_URL"] = public
    if values != stack.env():
        write_env(stack.env_file, values)
    return values, generated


def up(
    home: Path,
    *,
    port: int | None = None,
    files_root: Path | None = None,
    compose_dir: Path | None = None,
    with_s3: bool = False,
    username: str | None = None,
    password: str | None = None,
    data_dir: Path | None = None,
    wait: float = 300.0,
) -> UpResult:
    """Start the stack (or reuse it), wait until healthy, and write the state file."""
    if data_dir is not None:
        raise UsageError(
            "--data-dir is for the local runtime; the docker runtime keeps its data in named "
            "volumes (see compose/README.md)."
        )
    if password:
        raise UsageError("Set the admin password in compose/.env (LABEL_STUDIO_PASSWORD).")
    require_engine()
    previous = load_state(home)
    overlays = (S3_OVERLAY,) if with_s3 else ()
    if compose_dir is None and previous and previous.runtime == RUNTIME:
        stack = Stack.of(previous)
        stack = Stack(stack.directory, overlays or stack.overlays)
    else:
        stack = Stack(Path(compose_dir or default_compose_dir()).absolute(), overlays)
    if not (stack.directory / COMPOSE_FILE).exists():
        raise UsageError(
            f"No {COMPOSE_FILE} in {stack.directory}. Run from a checkout of lstk or set "
            f"${ENV_COMPOSE_DIR} to a folder holding the compose files."
        )
    values, generated = ensure_env(stack, port=port, files_root=files_root, username=username)
    Path(values["LABEL_STUDIO_FILES_DIR"]).mkdir(parents=True, exist_ok=True)
    stack.compose("up", "-d", "--remove-orphans")
    state = _state(stack, values)
    save_state(home, state)
    wait_healthy(state.url, wait)
    Client(state.url, state.token).check()
    return UpResult(state, new_password=generated)


def _state(stack: Stack, values: dict[str, str]) -> State:
    return State(
        url=f"http://127.0.0.1:{values['LABEL_STUDIO_PORT']}",
        token=values["LABEL_STUDIO_USER_TOKEN"],
        runtime=RUNTIME,
        username=values["LABEL_STUDIO_USERNAME"],
        password=values["LABEL_STUDIO_PASSWORD"],
        port=int(values["LABEL_STUDIO_PORT"]),
        files_root=values["LABEL_STUDIO_FILES_DIR"],
        extra={
            "compose_dir": str(stack.directory),
            "overlays": list(stack.overlays),
            "project": values.get("COMPOSE_PROJECT_NAME", "lstk"),
            "server_files_root": SERVER_FILES_ROOT,
        },
    )


def stack_of(home: Path) -> Stack:
    state = load_state(home)
    if state is None or state.runtime != RUNTIME:
        raise UsageError(f"No docker stack is recorded in {home}. Start one with `lstk up`.")
    return Stack.of(state)


def down(home: Path, *, delete_data: bool = False) -> bool:
    require_engine()
    stack = stack_of(home)
    was_running = bool(service_health(home))
    stack.compose("down", *(["--volumes"] if delete_data else []), "--remove-orphans")
    return was_running


def containers(stack: Stack) -> list[dict[str, object]]:
    """`docker inspect` of the stack's containers, found by the compose project label."""
    ids = _run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={stack.project}"]
    ).stdout.split()
    if not ids:
        return []
    return list(json.loads(_run(["docker", "inspect", *ids]).stdout or "[]"))


def service_health(home: Path) -> dict[str, str]:
    """Per service: its health (healthy / unhealthy / starting / running / exited ...)
    and the image it runs, e.g. `healthy (postgres:16.10-bookworm)`."""
    state = load_state(home)
    if state is None or state.runtime != RUNTIME or not engine_available():
        return {}
    health = {}
    for info in containers(Stack.of(state)):
        labels = info["Config"]["Labels"]  # type: ignore[index]
        status = info["State"]  # type: ignore[index]
        service = labels.get("com.docker.compose.service", info["Name"])
        running = status["Status"] == "running" and status.get("Health")
        state_text = status["Health"]["Status"] if running else status["Status"]
        health[service] = f"{state_text} ({info['Config']['Image']})"  # type: ignore[index]
    return health


def volume_sizes(stack: Stack) -> dict[str, int]:
    """Bytes used by each named volume of the stack."""
    out = _run(["docker", "system", "df", "-v", "--format", "{{json .Volumes}}"]).stdout
    sizes: dict[str, int] = {}
    with contextlib.suppress(json.JSONDecodeError):
        for volume in json.loads(out or "[]") or []:
            name = volume.get("Name", "")
            if name.startswith(f"{stack.project}_"):
                sizes[name] = _parse_size(volume.get("Size", "0B"))
    return sizes


def _parse_size(text: str) -> int:
    units = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            with contextlib.suppress(ValueError):
                return int(float(text[: -len(unit)]) * units[unit])
    return 0


def logs(home: Path, *, tail: int = 200, follow: bool = False) -> None:
    stack = stack_of(home)
    args = ("logs", "--tail", str(tail), *(["-f"] if follow else []))
    subprocess.run(stack.command(*args), env=stack.process_env())
