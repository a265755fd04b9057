"""Alembic environment: metadata from db.tables, the URL from the gateway."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from alembic import context
from db.facts.all import FACTS  # noqa: F401  (declares the rollup tables in the metadata)
from db.migrate import MIGRATION_LOCK_ID, include_object, url_for_alembic
from db.tables import metadata

config = context.config
target_metadata = metadata


def _run(connection: Connection) -> None:
    # One process migrates at a time when several gateways start together.
    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    context.configure(
        connection=connection, target_metadata=target_metadata, include_object=include_object
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(url_for_alembic(config.get_main_option("sqlalchemy.url")))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=url_for_alembic(None), target_metadata=target_metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
