"""Bring a database to the Alembic head, from the CLI, the server or the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config
from sqlalchemy import create_engine

from alembic import command
from db.engine import normalize_url

# Key of the advisory lock that serialises concurrent migrations.
MIGRATION_LOCK_ID = 7_311_001

_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for this checkout, pointed at url when given."""
    config = Config(str(_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(_ROOT / "alembic"))
    if url:
        config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def url_for_alembic(configured: str | None) -> str:
    """The URL alembic's own CLI should use: configured, else the gateway's settings."""
    if configured:
        return configured
    from gateway.settings import get_settings

    settings = get_settings()
    if settings.database_url:
        return normalize_url(settings.database_url)
    from db.embedded import EmbeddedPostgres

    return EmbeddedPostgres(settings.data_dir).start()


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's filter: the fact tables' partitions are made at run time, not declared."""
    from db.partitions import is_partition

    return not (type_ == "table" and reflected and compare_to is None and is_partition(name))


def upgrade_to_head(url: str) -> None:
    """Apply every pending migration to the database at url (blocking)."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        engine.dispose()
