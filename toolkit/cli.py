"""The `lstk` command line: argument parsing and printing over the library."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console
from rich.progress import Progress

from toolkit import importer, provision, runtime
from toolkit.errors import EXIT_FAILURES, EXIT_UNREACHABLE, EXIT_USAGE, LstkError, UsageError
from toolkit.server import Client, connect_settings
from toolkit.settings import Settings, lstk_home, resolve
from toolkit.spec import load as load_spec

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
    with_s3: bool = typer.Option(
        False, "--with-s3", help="docker: add S3-compatible storage (compose overlay)"
    ),
) -> None:
    """Start Label Studio (or reuse the running one), with an admin and an API token."""
    options: dict[str, Any] = {"port": port, "files_root": files_root}
    if with_s3:
        options["with_s3"] = True
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
            projects = f", {result.projects} project(s)" if result.authenticated else ""
            out.print(f"  version {result.version}{projects}")
        for name, health in result.services.items():
            out.print(f"  {name}: {health}")
        for name, size in result.volumes.items():
            out.print(f"  volume {name}: {size / 1e6:.1f} MB")
        if result.error:
            out.print(f"  {result.error}", markup=False)
    if not (result.reachable and result.authenticated):
        raise typer.Exit(EXIT_UNREACHABLE)


@app.command()
def token() -> None:
    """Print the API token in use."""
    sys.stdout.write(settings().api_key + "\n")


@app.command()
def logs(
    tail: int = typer.Option(200, "--tail", help="Lines to show"),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines"),
) -> None:
    """Show Label Studio's logs (and PostgreSQL's, for the docker runtime)."""
    runtime.logs(G.home, tail=tail, follow=follow)


@app.command()
def backup(dest: Path = typer.Argument(..., help="A new folder for the backup")) -> None:
    """Back up the docker stack: database dump, data volume, secrets, checksums."""
    from toolkit.runtime import backup as ops

    result = ops.backup(G.home, dest)
    counts = result.manifest.get("counts", {})
    out.print(f"Backup written to {result.path} ({counts.get('projects', '?')} project(s)).")


@app.command()
def restore(
    src: Path = typer.Argument(..., help="A folder written by `lstk backup`"),
    force: bool = typer.Option(False, "--force", help="Replace a stack that holds data"),
) -> None:
    """Restore a backup into the docker stack (an empty one, unless --force)."""
    from toolkit.runtime import backup as ops

    manifest = ops.restore(G.home, src, force=force)
    out.print(f"Restored the backup of {manifest['created_at']}; Label Studio is up.")


@app.command()
def upgrade(version: str = typer.Argument(..., help="Label Studio version, e.g. 1.23.3")) -> None:
    """Back up, move Label Studio to VERSION, wait healthy; roll back on failure."""
    from toolkit.runtime import backup as ops

    result = ops.upgrade(G.home, version)
    out.print(
        f"Upgraded {result.old_image} -> {result.new_image} (server reports {result.version})."
    )
    out.print(f"The backup taken before the upgrade is in {result.backup}.")


# -- projects and data ----------------------------------------------------------------
class Bar:
    """A rich progress bar fed by the library's progress callbacks."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("", total=None)

    def update(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done, total=total or None)


@contextmanager
def progress_bar(quiet: bool) -> Iterator[Bar | None]:
    """A progress bar on a terminal; nothing when piped or with --json."""
    if quiet or not err.is_terminal:
        yield None
        return
    with Progress(console=err, transient=True) as progress:
        yield Bar(progress)


def connected() -> Client:
    return connect_settings(settings())


@app.command()
def apply(
    spec_file: Path = typer.Argument(..., help="Project spec (YAML)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan, change nothing"),
    force: bool = typer.Option(False, "--force", help="Allow removing labels in use"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create the spec's project, or update only what differs."""
    spec = load_spec(spec_file)
    result = provision.apply(connected(), spec, dry_run=dry_run, force=force)
    if as_json:
        print_json(result.as_dict())
        return
    the_plan = result.plan
    verb = {"create": "create project", "update": "update project", "none": "no changes for"}
    title = spec.project.title or spec.project.id
    prefix = "would " if dry_run and the_plan.action != "none" else ""
    out.print(f"{prefix}{verb[the_plan.action]} {title!r}")
    for change in the_plan.changes if the_plan.action == "update" else []:
        out.print(f"  ~ {change.describe()}", markup=False)
    if result.regions_removed:
        out.print(f"  removed {result.regions_removed} region(s) with removed labels")
    if result.project_id:
        out.print(f"project id: {result.project_id}")


@app.command("import")
def import_(
    spec_file: Path = typer.Argument(..., help="Project spec (YAML)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Import the spec's images (+ masks as pre-annotations); skip what is there."""
    spec = load_spec(spec_file)
    conf = settings()
    client = connect_settings(conf)
    with progress_bar(as_json) as bar:
        files = importer.FileServing.of(conf.state)
        summary = importer.import_data(
            client, spec, files=files, progress=bar and bar.update, cache_dir=conf.home
        )
    if as_json:
        print_json(summary.as_dict())
    else:
        out.print(
            f"{summary.new} new, {summary.skipped} skipped, {len(summary.failed)} failed "
            f"({summary.predictions} with pre-annotations; mode: {summary.mode}; "
            f"project {summary.project_id})"
        )
        for key, reason in summary.failed:
            out.print(f"  failed: {key}: {reason}", markup=False)
    if summary.failed:
        raise typer.Exit(EXIT_FAILURES)


@app.command()
def export(
    spec_file: Path = typer.Argument(..., help="Project spec (YAML)"),
    out_dir: Path | None = typer.Option(None, "--out", help="Dataset folder (default export.out)"),
    since: str | None = typer.Option(None, "--since", help="`last`: only tasks changed since"),
    include_predictions: bool = typer.Option(
        False, "--include-predictions", help="Use predictions where a task has no annotation"
    ),
    preview: int = typer.Option(0, "--preview", help="Write preview.png with N overlays"),
    strict: bool = typer.Option(False, "--strict", help="Broken regions make the exit code 1"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write the training set: image/mask pairs, metadata.jsonl, optional maps and COCO."""
    from toolkit import exporter

    if since not in (None, "last"):
        raise UsageError(f"--since takes `last`, got {since!r}.")
    spec = load_spec(spec_file)
    conf = settings()
    client = connect_settings(conf)
    files_root = conf.state.files_root if conf.state else None
    with progress_bar(as_json) as bar:
        summary = exporter.export(
            client,
            spec,
            out=out_dir,
            since_last=since == "last",
            include_predictions=include_predictions,
            preview=preview,
            strict=strict,
            progress=bar and bar.update,
            files_root=files_root,
        )
    if as_json:
        print_json(summary.as_dict())
    else:
        out.print(
            f"{summary.pairs} pairs in {summary.out} ({summary.written} written, "
            f"{summary.removed} removed, {summary.unchanged} unchanged; {summary.tasks} tasks "
            f"read, {len(summary.warnings)} warning(s), {len(summary.failed)} failed)"
        )
        for note in summary.notes:
            out.print(f"  note: {note}", markup=False)
        for warning in [*summary.failed, *summary.warnings][:20]:
            out.print(
                f"  task {warning.task_id} annotation {warning.annotation_id}: {warning.message}",
                markup=False,
            )
        if summary.preview:
            out.print(f"  preview: {summary.preview}")
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


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
    except Exception as exc:  # noqa: BLE001 - the contract: one paragraph, no traceback
        if G.debug:
            traceback.print_exc()
        err.print(
            f"Error: unexpected {type(exc).__name__}: {exc}. Re-run with --debug for the "
            "traceback, and report it if it looks like a bug in lstk.",
            markup=False,
        )
        code = EXIT_FAILURES
    return code if isinstance(code, int) else 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
