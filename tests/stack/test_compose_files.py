"""The compose files as Compose itself reads them, and the secrets they need."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import cannot_run
from toolkit.errors import LstkError
from toolkit.runtime import docker

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "compose"


@pytest.fixture(autouse=True)
def compose_installed() -> None:
    try:
        docker.compose_command()
    except LstkError as exc:
        cannot_run(str(exc))


@pytest.fixture
def stack_dir(tmp_path: Path) -> docker.Stack:
    for name in (docker.COMPOSE_FILE, docker.S3_OVERLAY):
        (tmp_path / name).write_text((COMPOSE / name).read_text())
    stack = docker.Stack(tmp_path, (docker.S3_OVERLAY,))
    docker.ensure_env(stack, port=18999, files_root=tmp_path / "files", username=None)
    return stack


def config(stack: docker.Stack) -> dict:
    return yaml.safe_load(stack.compose("config"))


def test_compose_accepts_base_and_overlay(stack_dir: docker.Stack) -> None:
    base = docker.Stack(stack_dir.directory)
    services = config(base)["services"]
    assert set(services) == {"db", "label-studio"}
    assert "ports" not in services["db"]  # PostgreSQL is not published on the host
    assert services["label-studio"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert {"healthcheck", "restart"} <= set(services["db"]) & set(services["label-studio"])
    with_s3 = config(stack_dir)["services"]
    assert {"s3", "s3-init"} <= set(with_s3)
    assert with_s3["label-studio"]["environment"]["STORAGE_TYPE"] == "s3"


def test_generated_env_has_strong_secrets_and_pins(stack_dir: docker.Stack) -> None:
    values = stack_dir.env()
    assert (stack_dir.env_file.stat().st_mode & 0o077) == 0
    assert len(values["POSTGRES_PASSWORD"]) >= 32
    assert len(values["LABEL_STUDIO_SECRET_KEY"]) >= 48
    assert len(values["LABEL_STUDIO_USER_TOKEN"]) == 40
    rendered = config(docker.Stack(stack_dir.directory))
    ls_env = rendered["services"]["label-studio"]["environment"]
    assert ls_env["POSTGRE_PASSWORD"] == values["POSTGRES_PASSWORD"]
    assert ls_env["CSRF_TRUSTED_ORIGINS"] == ls_env["LABEL_STUDIO_HOST"] == "http://localhost:18999"
    image = rendered["services"]["label-studio"]["image"]
    assert not image.endswith(":latest") and ":" in image


def test_missing_secret_is_refused_by_name(stack_dir: docker.Stack) -> None:
    values = stack_dir.env()
    del values["POSTGRES_PASSWORD"]
    docker.write_env(stack_dir.env_file, values)
    result = subprocess.run(
        docker.Stack(stack_dir.directory).command("config"), capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_no_secret_is_tracked_in_git() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "compose/.env" not in tracked
    example = (COMPOSE / ".env.example").read_text()
    for line in example.splitlines():
        if any(word in line for word in ("PASSWORD=", "SECRET_KEY=", "USER_TOKEN=")):
            assert "change-me" in line, line
