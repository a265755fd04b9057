"""The console script as a user runs it: schema, migrate, and the serve guard."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

CLI = str(Path(sys.executable).parent / "analytics-gateway")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )


def test_schema_prints_sdl_with_the_root_types():
    printed = _run("schema")
    assert printed.returncode == 0
    assert "type Query {" in printed.stdout
    assert "ingestProductEvents(events: [ProductEventInput!]!): IngestResult!" in printed.stdout


def test_migrate_brings_an_empty_database_to_head(database_url, tmp_path):
    # A database of its own on the same server, so the session's one is untouched.
    url = make_url(database_url)
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("CREATE DATABASE cli_migrate_check")
    try:
        target = url.set(database="cli_migrate_check").render_as_string(hide_password=False)
        done = _run("migrate", env={"DATABASE_URL": target})
        assert done.returncode == 0, done.stderr
        check = url.set(drivername="postgresql", database="cli_migrate_check")
        with psycopg.connect(check.render_as_string(hide_password=False)) as conn:
            tables = {
                r[0]
                for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            }
            head = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        assert {"product_events", "products", "quarantine", "alembic_version"} <= tables
        assert head is not None
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS cli_migrate_check WITH (FORCE)")


def test_serve_refuses_a_public_address_without_an_admin_token():
    refused = _run(
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8765",
        env={
            "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:9/none",
            "GATEWAY_ADMIN_TOKEN": "",
        },
    )
    assert refused.returncode == 2
    assert "GATEWAY_ADMIN_TOKEN" in refused.stderr
