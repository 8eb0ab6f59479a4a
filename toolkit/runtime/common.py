"""What every runtime shares: admin credentials and generated secrets."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from toolkit.settings import State

DEFAULT_USERNAME = "admin@lstk.local"
ENV_USERNAME = "LABEL_STUDIO_USERNAME"
ENV_PASSWORD = "LABEL_STUDIO_PASSWORD"


def new_token() -> str:
    """A legacy API token: 40 hex characters, the length Label Studio issues itself."""
    return secrets.token_hex(20)


def new_password() -> str:
    return secrets.token_urlsafe(18)


def admin_credentials(
    username: str | None, password: str | None, previous: State | None
) -> tuple[str, str, bool]:
    """Admin login: arguments > environment > what an earlier `lstk up` chose > generated.

    The flag says the password was generated now, so `lstk up` shows it once.
    """
    user = (
        username
        or os.environ.get(ENV_USERNAME)
        or (previous.username if previous else "")
        or DEFAULT_USERNAME
    )
    pwd = password or os.environ.get(ENV_PASSWORD) or (previous.password if previous else "")
    return (user, pwd, False) if pwd else (user, new_password(), True)


@dataclass
class UpResult:
    state: State
    new_password: bool  # the admin password was generated now: show it once
