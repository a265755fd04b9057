"""`analytics-gateway`: serve, migrate, demo, load and schema."""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from datetime import timedelta
from pathlib import Path

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from db.engine import Database
from db.migrate import upgrade_to_head
from gateway.runtime import database_url
from gateway.settings import Settings, get_settings

app = typer.Typer(
    help="The analytics gateway: one GraphQL API over products, endpoints and ML models.",
    no_args_is_help=True,
    add_completion=False,
)
# soft_wrap: messages carry paths and URLs that must stay whole for copy and grep.
console = Console(stderr=True, soft_wrap=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guard_address(settings: Settings, host: str) -> None:
    """Never expose the data on a non-loopback address without a token."""
    if not _is_loopback(host) and settings.admin_token is None:
        console.print(
            f"[red]refusing to listen on {host} without GATEWAY_ADMIN_TOKEN[/red]: "
            "set a token, or bind to 127.0.0.1"
        )
        raise typer.Exit(2)


def _migrate(url: str) -> None:
    """Migrate to head, or explain which database could not be reached."""
    try:
        upgrade_to_head(url)
    except OperationalError as error:
        shown = make_url(url).render_as_string(hide_password=True)
        console.print(f"[red]cannot reach the database at {shown}[/red]: {error.orig}")
        raise typer.Exit(1) from None


def _serve(settings: Settings, url: str, host: str, port: int) -> None:
    database = Database(url, pool_size=settings.db_pool_size)
    console.print(f"GraphQL API and GraphiQL at [bold]http://{host}:{port}/graphql[/bold]")
    from gateway.app import create_app  # here: `load` and `migrate` need no schema

    uvicorn.run(create_app(database, settings), host=host, port=port, log_level="warning")


@app.command()
def serve(
    host: str = typer.Option(None, help="address to bind (default GATEWAY_HOST)"),
    port: int = typer.Option(None, help="port (default GATEWAY_PORT)"),
) -> None:
    """Migrate the database to head, then serve the API."""
    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    _guard_address(settings, host)
    with database_url(settings) as url:
        _migrate(url)
        _serve(settings, url, host, port)


@app.command()
def migrate() -> None:
    """Bring the database to the latest schema, and nothing else."""
    with database_url(get_settings()) as url:
        _migrate(url)
    console.print("database is at the latest migration")


@app.command()
def schema() -> None:
    """Print the served GraphQL schema as SDL."""
    from schema.root import schema as served

    sys.stdout.write(served.as_str() + "\n")


@app.command()
def demo(
    host: str = typer.Option(None, help="address to bind (default GATEWAY_HOST)"),
    port: int = typer.Option(None, help="port (default GATEWAY_PORT)"),
    serve_after: bool = typer.Option(
        True, "--serve/--no-serve", help="serve the API after loading"
    ),
) -> None:
    """Load a realistic demo data set, then serve the API over it."""
    from gateway.demo import load_demo

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    _guard_address(settings, host)
    with database_url(settings) as url:
        _migrate(url)
        console.print("loading the demo data set ...")
        for line in asyncio.run(load_demo(url, settings)):
            console.print(line)
        if serve_after:
            _serve(settings, url, host, port)


@app.command()
def load(
    file: Path = typer.Argument(..., help="the file to load"),
    kind: str | None = typer.Option(
        None, help="product-events, api-requests, predictions or metrics (for ndjson)"
    ),
    file_format: str = typer.Option(
        "ndjson", "--format", help="ndjson (one input object a line) or api-logs-csv"
    ),
) -> None:
    """Bulk-load a file through the ingest validation; bad lines are counted and quarantined."""
    from gateway.load import describe, plan, run_load
    from gateway.load_formats import LoadError

    settings = get_settings()
    try:
        loading = plan(file, kind, file_format)
        with database_url(settings) as url:
            _migrate(url)
            tolerance = timedelta(seconds=settings.future_tolerance_seconds)
            summary = asyncio.run(run_load(url, loading, tolerance, console))
    except LoadError as error:
        console.print(f"[red]cannot load {escape(str(file))}[/red]: {escape(str(error))}")
        raise typer.Exit(1) from None
    for line in describe(summary):
        console.print(line, markup=False, highlight=False)


def main() -> None:
    """Console-script entry point."""
    app()
