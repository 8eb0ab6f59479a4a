"""The one error type the CLI turns into a short message and an exit code."""

from __future__ import annotations

# Exit codes from the CLI contract.
EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class LstkError(Exception):
    """A failure the user can fix; the message names the cause and the fix."""

    exit_code = EXIT_FAILURES

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(LstkError):
    exit_code = EXIT_USAGE


class ConnectionFailed(LstkError):
    """Label Studio cannot be reached or does not accept the token."""

    exit_code = EXIT_UNREACHABLE
