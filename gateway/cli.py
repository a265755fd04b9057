"""`analytics-gateway`: serve, migrate, demo, load, retention and schema."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from typer.core import TyperCommand, TyperGroup

from db.engine import Database
from db.migrate import upgrade_to_head
from db.retention import RetentionReport
from gateway import logs
from gateway.admin_secret import admin_secret_file, ensure_admin_secret
from gateway.guard import is_loopback
from gateway.runtime import database_url
from gateway.settings import Settings, get_settings


def _without_type(option: Any) -> Any:
    """--help takes no value: show no `<bool>` type beside it."""
    if option is not None:
        option.metavar = ""
    return option


class _Command(TyperCommand):
    def get_help_option(self, ctx: Any) -> Any:
        return _without_type(super().get_help_option(ctx))


class _Group(TyperGroup):
    def get_help_option(self, ctx: Any) -> Any:
        return _without_type(super().get_help_option(ctx))


app = typer.Typer(
    help="The analytics gateway: one GraphQL API over products, endpoints and ML models.",
    no_args_is_help=True,
    add_completion=False,
    cls=_Group,
)
# soft_wrap: messages carry paths and URLs that must stay whole for copy and grep.
console = Console(stderr=True, soft_wrap=True)


# In-flight requests get this long to finish after SIGTERM or Ctrl-C.
DRAIN_SECONDS = 10


def _guard_address(settings: Settings, host: str) -> None:
    """Never expose the data on a non-loopback address without a chosen token."""
    if not is_loopback(host) and settings.admin_token is None:
        console.print(
            f"[red]refusing to listen on {host} without GATEWAY_ADMIN_TOKEN[/red]: "
            "set a token, or bind to 127.0.0.1"
        )
        raise typer.Exit(2)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def _stops_on_sigterm() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the embedded Postgres is stopped. (uvicorn
    drains, then re-raises the signal it caught; without a handler that would kill
    the process before any cleanup ran.)"""
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _with_admin_secret(settings: Settings, header_line: bool) -> tuple[Settings, bool]:
    """Settings with an admin secret, and whether its header line was printed: a
    created one is printed once (demo: always, as a header to paste into GraphiQL)."""
    settings, created = ensure_admin_secret(settings)
    secret = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if created is not None:
        console.print(
            f"created an admin token, saved in {admin_secret_file(settings)} (mode 0600): "
            f"{created}",
            markup=False,
            highlight=False,
        )
    shown = header_line or created is not None
    if shown:
        console.print("GraphiQL headers pane (paste as is):", markup=False)
        console.print(f'{{"Authorization": "Bearer {secret}"}}', markup=False, highlight=False)
    return settings, shown


def _migrate(url: str) -> None:
    """Migrate to head, or explain which database could not be reached."""
    try:
        upgrade_to_head(url)
    except OperationalError as error:
        shown = make_url(url).render_as_string(hide_password=True)
        console.print(f"[red]cannot reach the database at {shown}[/red]: {error.orig}")
        raise typer.Exit(1) from None


def _where(settings: Settings, host: str, port: int, header_shown: bool) -> None:
    """Say where each surface is, and where the token goes (unless the header line
    with the secret itself was just printed)."""
    base = f"http://{host}:{port}"
    graphiql = f"{base}/graphql" if settings.graphiql else "off (GATEWAY_GRAPHIQL=false)"
    for name, where in (
        ("GraphQL API", f"{base}/graphql"),
        ("GraphiQL", graphiql),
        ("Console", f"{base}/console"),
        ("Pipes", f"{base}/v0/pipes/<name>.json"),
        ("Metrics", f"{base}/metrics"),
    ):
        console.print(f"{name:<12} [bold]{where}[/bold]", highlight=False)
    # The secret itself is printed only when it is created, and by `demo`: never into
    # the logs of every server start.
    if not header_shown:
        console.print(
            'GraphiQL headers pane: {"Authorization": "Bearer <token>"}',
            markup=False,
            highlight=False,
        )


def _serve(secured: tuple[Settings, bool], url: str, host: str, port: int) -> None:
    settings, header_shown = secured
    logs.configure(settings.log_format, settings.log_level)
    database = Database(
        url,
        pool_size=settings.db_pool_size,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        pool_timeout_seconds=settings.db_pool_timeout_seconds,
    )
    settings = settings.model_copy(update={"host": host})
    _where(settings, host, port, header_shown)
    # log_config None: keep the gateway's own handlers (text or JSON lines) for uvicorn too.
    # No uvicorn access log: gateway.http logs each request once, without the query
    # string, which may carry ?token=.
    from gateway.app import create_app  # here: `load` and `migrate` need no schema

    served = create_app(database, settings)
    # What is alive now (the modules, the schema, the app: about a million objects)
    # lives as long as the process, so the collector no longer visits it: a full
    # collection over all of it took 40-60 ms, inside a request (one in 40 of
    # products(first: 20) at 10M events); after the freeze the longest took 7.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        served,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=DRAIN_SECONDS,
    )


@app.command(cls=_Command)
def serve(
    host: str = typer.Option(None, metavar="HOST", help="address to bind (default: GATEWAY_HOST)"),
    port: int = typer.Option(
        None, metavar="PORT", help="port to listen on (default: GATEWAY_PORT)"
    ),
) -> None:
    """Migrate the database to head, then serve the API."""
    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    _guard_address(settings, host)
    with _stops_on_sigterm(), database_url(settings) as url:
        _migrate(url)
        _serve(_with_admin_secret(settings, header_line=False), url, host, port)


@app.command(cls=_Command)
def migrate() -> None:
    """Bring the database to the latest schema, and nothing else."""
    with database_url(get_settings()) as url:
        _migrate(url)
    console.print("database is at the latest migration")


@app.command(cls=_Command)
def retention() -> None:
    """Create the coming partitions and drop what the retention settings expire, once."""
    settings = get_settings()
    with database_url(settings) as url:
        _migrate(url)
        report = asyncio.run(_maintain_once(url, settings))
    console.print(
        f"dropped {len(report.dropped_partitions)} partitions, {report.raw_rows} raw rows "
        f"and {report.rollup_rows} rollup rows"
    )


async def _maintain_once(url: str, settings: Settings) -> RetentionReport:
    from gateway.maintenance import maintain

    database = Database(url, pool_size=1)
    try:
        return await maintain(database, settings, datetime.now(UTC))
    finally:
        await database.dispose()


@app.command(cls=_Command)
def schema() -> None:
    """Print the served GraphQL schema as SDL."""
    from schema.root import schema as served

    sys.stdout.write(served.as_str() + "\n")


@app.command(cls=_Command)
def demo(
    host: str = typer.Option(None, metavar="HOST", help="address to bind (default: GATEWAY_HOST)"),
    port: int = typer.Option(
        None, metavar="PORT", help="port to listen on (default: GATEWAY_PORT)"
    ),
    serve_after: bool = typer.Option(
        True, "--serve/--no-serve", metavar="", help="serve the API after loading"
    ),
) -> None:
    """Load a realistic demo data set, then serve the API over it."""
    from gateway.demo import load_demo

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    _guard_address(settings, host)
    with _stops_on_sigterm(), database_url(settings) as url:
        _migrate(url)
        console.print("loading the demo data set ...")
        for line in asyncio.run(load_demo(url, settings)):
            console.print(line)
        if serve_after:
            _serve(_with_admin_secret(settings, header_line=True), url, host, port)


@app.command(cls=_Command)
def load(
    file: Path = typer.Argument(..., metavar="FILE", help="the file to load"),
    kind: str | None = typer.Option(
        None,
        metavar="KIND",
        help="product-events, api-requests, predictions or metrics (required for ndjson)",
    ),
    file_format: str = typer.Option(
        "ndjson",
        "--format",
        metavar="FORMAT",
        help="ndjson (one input object a line) or api-logs-csv",
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
            asyncio.run(_maintain_once(url, settings))  # recent days get their partitions first
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
