"""Backup, restore and upgrade of the docker stack.

A backup is a folder: `db.dump` (pg_dump, custom format, consistent while the stack runs),
`ls-data.tar` (Label Studio's data volume: uploads, exports), `env` (the stack's secrets,
mode 0600) and `manifest.json` (versions, counts, sha256 of every file).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit import __version__
from toolkit.errors import LstkError, UsageError
from toolkit.runtime import docker
from toolkit.runtime.docker import Stack
from toolkit.server import Client, wait_healthy
from toolkit.settings import load_state, save_state

DB_DUMP = "db.dump"
DATA_TAR = "ls-data.tar"
ENV_COPY = "env"
MANIFEST = "manifest.json"
DATA_VOLUME = "ls-data"
# Kept from the stack being restored into, not from the backup: where it listens,
# which images it runs, what it is called.
LOCAL_SETTINGS = (
    "COMPOSE_PROJECT_NAME", "LABEL_STUDIO_PORT", "LABEL_STUDIO_BIND", "LABEL_STUDIO_FILES_DIR",
    "LABEL_STUDIO_PUBLIC_URL", "LABEL_STUDIO_IMAGE", "POSTGRES_IMAGE", "S3_IMAGE",
)  # fmt: skip


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stream(
    cmd: list[str],
    *,
    stdin: Path | None = None,
    stdout: Path | None = None,
    env: dict[str, str] | None = None,
) -> None:
    """Run a command with a file as stdin or stdout; raise with its stderr on failure."""
    with contextlib.ExitStack() as files:
        src = files.enter_context(stdin.open("rb")) if stdin else subprocess.DEVNULL
        dst = files.enter_context(stdout.open("wb")) if stdout else subprocess.DEVNULL
        result = subprocess.run(cmd, stdin=src, stdout=dst, stderr=subprocess.PIPE, env=env)
    if result.returncode != 0:
        raise LstkError(f"`{' '.join(cmd[:4])} ...` failed: {result.stderr.decode()[-600:]}")


def _compose_exec(stack: Stack, *args: str) -> list[str]:
    return stack.command("exec", "-T", *args)


def _volume_cmd(stack: Stack, mode: str, *tar_args: str) -> list[str]:
    image = stack.env().get("LABEL_STUDIO_IMAGE", "heartexlabs/label-studio:1.23.2")
    volume = f"{stack.volume(DATA_VOLUME)}:/data{':ro' if mode == 'read' else ''}"
    return ["docker", "run", "--rm", "-i", "--user", "0", "--entrypoint", "tar", "-v", volume,
            image, "-C", "/data", *tar_args]  # fmt: skip


@dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]


def backup(home: Path, dest: Path) -> BackupResult:
    """Write a consistent backup of the running stack to `dest` (a new folder)."""
    docker.require_engine()
    stack = docker.stack_of(home)
    dest = dest.absolute()
    if dest.exists() and any(dest.iterdir()):
        raise UsageError(f"{dest} exists and is not empty. Give a new folder for the backup.")
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, mode=0o700)
    env = stack.env()
    user, db = env.get("POSTGRES_USER", "labelstudio"), env.get("POSTGRES_DB", "labelstudio")
    _stream(
        _compose_exec(stack, "db", "pg_dump", "-U", user, "-d", db, "-Fc"),
        stdout=tmp / DB_DUMP,
        env=stack.process_env(),
    )
    _stream(_volume_cmd(stack, "read", "-cf", "-", "."), stdout=tmp / DATA_TAR)
    shutil.copyfile(stack.env_file, tmp / ENV_COPY)
    os.chmod(tmp / ENV_COPY, 0o600)
    manifest = {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "lstk_version": __version__,
        "label_studio_image": env.get("LABEL_STUDIO_IMAGE"),
        "postgres_image": env.get("POSTGRES_IMAGE"),
        "counts": _counts(home),
        "files": {
            name: {"sha256": sha256(tmp / name), "bytes": (tmp / name).stat().st_size}
            for name in (DB_DUMP, DATA_TAR, ENV_COPY)
        },
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    if dest.exists():
        dest.rmdir()
    tmp.rename(dest)
    return BackupResult(dest, manifest)


def _counts(home: Path) -> dict[str, int]:
    """Projects and tasks, to check a restore against."""
    state = load_state(home)
    if state is None:
        return {}
    with contextlib.suppress(Exception):
        client = Client(state.url, state.token, retries=1)
        projects = list(client.paginate("/api/projects"))
        return {
            "projects": len(projects),
            "tasks": sum(int(p.get("task_number") or 0) for p in projects),
            "annotations": sum(int(p.get("total_annotations_number") or 0) for p in projects),
        }
    return {}


def verify(src: Path) -> dict[str, Any]:
    """Read a backup's manifest and check every file against its checksum."""
    manifest_path = src / MANIFEST
    if not manifest_path.exists():
        raise UsageError(f"{src} is not an lstk backup (no {MANIFEST}).")
    manifest = dict(json.loads(manifest_path.read_text()))
    for name, info in manifest["files"].items():
        path = src / name
        if not path.exists() or sha256(path) != info["sha256"]:
            raise LstkError(f"Backup file {path} is missing or corrupt (checksum mismatch).")
    return manifest


def restore(home: Path, src: Path, *, force: bool = False, wait: float = 300.0) -> dict[str, Any]:
    """Restore a backup into the stack of `home`; refuse a stack with data unless forced."""
    docker.require_engine()
    manifest = verify(src.absolute())
    stack = docker.stack_of(home)
    if not force and _has_data(home, stack):
        raise UsageError(
            "The stack already holds projects. Restoring replaces all of its data; re-run "
            "with --force to do that (take a `lstk backup` first if in doubt)."
        )
    stack.compose("down", "--volumes", "--remove-orphans")
    current = stack.env()
    restored = docker.read_env(src / ENV_COPY)
    restored.update({k: current[k] for k in LOCAL_SETTINGS if k in current})
    docker.write_env(stack.env_file, restored)
    stack.compose("up", "--no-start")
    _stream(_volume_cmd(stack, "write", "-xpf", "-"), stdin=src / DATA_TAR)
    stack.compose("up", "-d", "db")
    _wait_db(stack, wait)
    user, db = (
        restored.get("POSTGRES_USER", "labelstudio"),
        restored.get("POSTGRES_DB", "labelstudio"),
    )
    restore_cmd = ["db", "pg_restore", "-U", user, "-d", db, "--no-owner", "--exit-on-error"]
    _stream(_compose_exec(stack, *restore_cmd), stdin=src / DB_DUMP, env=stack.process_env())
    stack.compose("up", "-d")
    state = docker._state(stack, restored)
    save_state(home, state)
    wait_healthy(state.url, wait)
    return manifest


def _has_data(home: Path, stack: Stack) -> bool:
    counts = _counts(home)
    if counts:
        return counts.get("projects", 0) > 0
    volumes = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"name={stack.volume('pg-data')}"],
        capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return bool(volumes)


def _wait_db(stack: Stack, wait: float) -> None:
    env = stack.env()
    user = env.get("POSTGRES_USER", "labelstudio")
    check = _compose_exec(stack, "db", "pg_isready", "-q", "-h", "127.0.0.1", "-U", user)
    end = time.monotonic() + wait
    while subprocess.run(check, capture_output=True, env=stack.process_env()).returncode != 0:
        if time.monotonic() > end:
            raise LstkError(
                f"PostgreSQL did not become ready within {wait:.0f} s; see `lstk logs`."
            )
        time.sleep(1)


@dataclass
class UpgradeResult:
    old_image: str
    new_image: str
    backup: Path
    version: str


def upgrade(home: Path, version: str, *, wait: float = 300.0) -> UpgradeResult:
    """Back up, switch Label Studio to `version`, wait healthy; roll back on failure."""
    docker.require_engine()
    stack = docker.stack_of(home)
    env = stack.env()
    old_image = env.get("LABEL_STUDIO_IMAGE", "heartexlabs/label-studio:1.23.2")
    new_image = f"{image_repository(old_image)}:{version}"
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    saved = backup(home, home / "backups" / f"pre-upgrade-{stamp}").path
    docker.write_env(stack.env_file, {**env, "LABEL_STUDIO_IMAGE": new_image})
    state = docker._state(stack, {**env, "LABEL_STUDIO_IMAGE": new_image})
    try:
        stack.compose("up", "-d")
        wait_healthy(state.url, wait)
        release = Client(state.url, state.token).version()
    except BaseException as exc:  # Ctrl-C or a crash must not leave the new image half-done
        docker.write_env(stack.env_file, env)
        restore(home, saved, force=True, wait=wait)
        if not isinstance(exc, Exception):
            raise
        raise LstkError(
            f"Upgrade to {new_image} failed ({exc}); rolled back to {old_image} from the backup "
            f"in {saved}."
        ) from None
    return UpgradeResult(old_image, new_image, saved, release)


def image_repository(image: str) -> str:
    """The image reference without its tag or digest (a registry port is not a tag)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name[: len(name) - len(last)] + last.split(":", 1)[0]
