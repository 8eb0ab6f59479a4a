"""The `lstk` command line: argument parsing and printing over the library."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console

from toolkit import runtime
from toolkit.errors import EXIT_UNREACHABLE, EXIT_USAGE, LstkError, UsageError
from toolkit.settings import Settings, lstk_home, resolve

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Label Studio stacks, projects, imports and inpainting exports.",
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Globals:
    url: str | None = None
    api_key: str | None = None
    home: Path = Path(".lstk")
    debug: bool = False


G = Globals()


@app.callback()
def _globals(
    url: str | None = typer.Option(None, "--url", help="Label Studio URL (env: LABEL_STUDIO_URL)"),
    api_key: str | None = typer.Option(
        None, "--api-key", help="API token or Personal Access Token (env: LABEL_STUDIO_API_KEY)"
    ),
    home: Path | None = typer.Option(None, "--home", help="State directory (env: LSTK_HOME)"),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    G.url, G.api_key, G.home, G.debug = url, api_key, lstk_home(home), debug


def settings() -> Settings:
    return resolve(G.url, G.api_key, G.home)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# -- stack ---------------------------------------------------------------------------
@app.command()
def up(
    runtime_name: str | None = typer.Option(
        None, "--runtime", help="docker | local (default: docker when an engine answers)"
    ),
    port: int | None = typer.Option(None, "--port", help="Port on 127.0.0.1 (default 8080)"),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Where the data lives"),
    files_root: Path | None = typer.Option(
        None, "--files-root", help="Folder served as local files (default: current dir)"
    ),
) -> None:
    """Start Label Studio (or reuse the running one), with an admin and an API token."""
    options: dict[str, Any] = {"port": port, "files_root": files_root}
    if data_dir:
        options["data_dir"] = data_dir
    result = runtime.up(G.home, runtime_name, **options)
    state = result.state
    out.print(f"Label Studio is up at {state.url} ({state.runtime} runtime)")
    out.print(f"  login: {state.username}")
    if result.new_password:
        out.print(f"  password: {state.password}  (shown once; kept in {G.home}/state.json)")
    out.print("  token: `lstk token`   status: `lstk status`   stop: `lstk down`")


@app.command()
def down(
    volumes: bool = typer.Option(False, "--volumes", help="Also delete all data"),
    yes: bool = typer.Option(False, "--yes", help="Do not ask before deleting data"),
) -> None:
    """Stop Label Studio; with --volumes, delete its data too."""
    if volumes and not yes:
        if not sys.stdin.isatty():
            raise UsageError("`lstk down --volumes` deletes every project; add --yes to confirm.")
        typer.confirm("Delete all Label Studio data (projects, tasks, annotations)?", abort=True)
    stopped = runtime.down(G.home, delete_data=volumes)
    out.print("Stopped." if stopped else "Nothing was running.")
    if volumes:
        out.print("Data deleted.")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output")) -> None:
    """Is Label Studio up? Version, URL, runtime, services, project count. Exit 3 when down."""
    result = runtime.status(settings())
    if as_json:
        print_json(result.as_dict())
    else:
        state = "up" if result.reachable else "DOWN"
        out.print(f"Label Studio {state} at {result.url} (runtime: {result.runtime or 'external'})")
        if result.reachable:
            out.print(f"  version {result.version}, {result.projects} project(s)")
        for name, health in result.services.items():
            out.print(f"  {name}: {health}")
        if result.error and not result.reachable:
            out.print(f"  {result.error}; start it with `lstk up`")
    if not result.reachable:
        raise typer.Exit(EXIT_UNREACHABLE)


@app.command()
def token() -> None:
    """Print the API token in use."""
    sys.stdout.write(settings().api_key + "\n")


# -- entry point ---------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors become one short paragraph and the contract's exit code."""
    try:
        code = app(args=argv, standalone_mode=False)
    except LstkError as exc:
        if G.debug:
            traceback.print_exc()
        err.print(f"Error: {exc}", markup=False)
        code = exc.exit_code
    except click.exceptions.Abort:
        err.print("Aborted.")
        code = 1
    except click.ClickException as exc:
        exc.show()
        code = EXIT_USAGE
    except KeyboardInterrupt:
        err.print("Interrupted; re-run the command to finish (work done so far is kept).")
        code = 130
    return code if isinstance(code, int) else 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
