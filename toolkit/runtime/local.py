"""The local runtime: Label Studio from the installed pip package, as a background process.

Data (SQLite, uploads) lives in a persistent data dir, so a restart keeps every project.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from toolkit.errors import LstkError, UsageError
from toolkit.runtime.common import UpResult, admin_credentials, new_token
from toolkit.server import Client, wait_healthy
from toolkit.settings import State, clear_state, load_state, save_state

RUNTIME = "local"
DEFAULT_PORT = 8080
HOST = "127.0.0.1"
LOG_FILE = "label-studio.log"


def server_installed() -> bool:
    return importlib.util.find_spec("label_studio") is not None


def port_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on the port and we could bind it."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((host, port)) == 0:
            return False
    with socket.socket() as sock:
        # As the server will: connections of a previous run in TIME_WAIT do not block it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); look at its state to tell.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def is_label_studio(pid: int | None) -> bool:
    """The process is alive and is a Label Studio server (not a reused pid after a reboot)."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (not Linux): trust the pid
    return b"label_studio" in cmdline or b"label-studio" in cmdline


def running(home: Path) -> State | None:
    """The state of a local server started from `home` that is still alive."""
    state = load_state(home)
    if state and state.runtime == RUNTIME and is_label_studio(state.pid):
        return state
    return None


def process_env(state: State) -> dict[str, str]:
    env = dict(os.environ)
    env.update(state.extra.get("server_env", {}))
    env.update(
        {
            # New organisations otherwise refuse the admin's token for automation.
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            # Label Studio asks PyPI for its latest version at start-up otherwise.
            "LATEST_VERSION_CHECK": "false",
            "LOCAL_FILES_SERVING_ENABLED": "true",
            "LOCAL_FILES_DOCUMENT_ROOT": state.files_root,
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    # The server must not pick up a token meant for the client side.
    env.pop("LABEL_STUDIO_API_KEY", None)
    return env


def up(
    home: Path,
    *,
    port: int | None = None,
    data_dir: Path | None = None,
    files_root: Path | None = None,
    username: str | None = None,
    password: str | None = None,
    server_env: dict[str, str] | None = None,
    wait: float = 180.0,
) -> UpResult:
    """Start Label Studio (or reuse the one already running) and return its state.

    `server_env` adds Label Studio settings (e.g. SSRF_PROTECTION_ENABLED); they are
    kept in the state file, so a restart keeps them.
    """
    current = running(home)
    if current:
        if port and port != current.port:
            raise UsageError(
                f"Label Studio from {home} already runs on port {current.port}. "
                "Run `lstk down` first to move it to another port."
            )
        wait_healthy(current.url, wait)
        return UpResult(current, new_password=False)
    if not server_installed():
        raise UsageError(
            "The local runtime needs the Label Studio server package, which is not installed. "
            "Install it with `pip install 'lstk[server]'` (or `pip install label-studio==1.23.2`), "
            "or use `--runtime docker`."
        )
    previous = load_state(home)
    state, generated = _next_state(home, previous, port, data_dir, files_root, username, password)
    if server_env is not None:
        state.extra["server_env"] = dict(server_env)
    if not port_free(state.port or DEFAULT_PORT):
        raise UsageError(
            f"Port {state.port} is already in use, and Label Studio would silently move to "
            "another one. Stop what uses it, or pick a free port with `--port N`."
        )
    state.pid = _spawn(home, state)
    save_state(home, state)
    try:
        _wait_started(home, state, wait)
        Client(state.url, state.token).check()
    except BaseException:
        stop_process(state.pid)
        raise
    return UpResult(state, new_password=generated)


def _next_state(
    home: Path,
    previous: State | None,
    port: int | None,
    data_dir: Path | None,
    files_root: Path | None,
    username: str | None,
    password: str | None,
) -> tuple[State, bool]:
    reuse = previous if previous and previous.runtime == RUNTIME else None
    port = port or (reuse.port if reuse else None) or DEFAULT_PORT
    user, pwd, generated = admin_credentials(username, password, reuse)
    data = data_dir or (Path(reuse.data_dir) if reuse and reuse.data_dir else home / "data")
    root = files_root or (Path(reuse.files_root) if reuse and reuse.files_root else Path.cwd())
    state = State(
        extra={"server_env": reuse.extra.get("server_env", {})} if reuse else {},
        url=f"http://{HOST}:{port}",
        token=reuse.token if reuse else new_token(),
        runtime=RUNTIME,
        username=user,
        password=pwd,
        port=port,
        data_dir=str(Path(data).absolute()),
        files_root=str(Path(root).absolute()),
    )
    return state, generated


def _spawn(home: Path, state: State) -> int:
    Path(state.data_dir).mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "label_studio.server", "start",
        "--no-browser",
        "--internal-host", HOST,
        "--port", str(state.port),
        "--data-dir", state.data_dir,
    ]  # fmt: skip
    # Credentials go through the environment: a command line is visible to every user.
    env = process_env(state)
    env.update(
        LABEL_STUDIO_USERNAME=state.username,
        LABEL_STUDIO_PASSWORD=state.password,
        LABEL_STUDIO_USER_TOKEN=state.token,
    )
    log = open(home / LOG_FILE, "ab")  # noqa: SIM115 - handed to the child process
    with log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: `down` stops all of it
            cwd=state.data_dir,
        )
    return proc.pid


def _wait_started(home: Path, state: State, wait: float) -> None:
    end = time.monotonic() + wait
    while time.monotonic() < end:
        if not pid_alive(state.pid):
            tail = log_tail(home)
            raise LstkError(
                f"Label Studio exited during start-up. Last lines of {home / LOG_FILE}:\n{tail}"
            )
        with contextlib.suppress(LstkError):
            wait_healthy(state.url, 1.0)
            return
    raise LstkError(
        f"Label Studio did not answer /health within {wait:.0f} s. "
        f"See {home / LOG_FILE}; a first start runs database migrations and can be slow."
    )


def log_tail(home: Path, lines: int = 20) -> str:
    path = home / LOG_FILE
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def follow_log(home: Path, *, tail: int = 200, follow: bool = False) -> None:
    """Print the last lines of the server log; with `follow`, keep printing new ones."""
    print(log_tail(home, tail))
    path = home / LOG_FILE
    if not follow or not path.exists():
        return
    with path.open(errors="replace") as fh:
        fh.seek(0, os.SEEK_END)
        while True:
            line = fh.readline()
            if line:
                print(line, end="", flush=True)
            else:
                time.sleep(0.5)


def stop_process(pid: int | None, timeout: float = 20.0) -> None:
    """SIGTERM the process group, then SIGKILL after `timeout` seconds."""
    if not pid or not pid_alive(pid):
        return
    for sig, grace in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        end = time.monotonic() + grace
        while time.monotonic() < end:
            _reap(pid)
            if not pid_alive(pid):
                return
            time.sleep(0.1)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def down(home: Path, *, delete_data: bool = False, timeout: float = 20.0) -> bool:
    """Stop the server; True when one was running. Keeps the state file unless deleting data."""
    state = load_state(home)
    if not state or state.runtime != RUNTIME:
        return False
    was_running = is_label_studio(state.pid)
    if was_running:
        stop_process(state.pid, timeout)
    if delete_data:
        import shutil

        shutil.rmtree(state.data_dir, ignore_errors=True)
        clear_state(home)
    else:
        state.pid = None
        save_state(home, state)
    return was_running
