"""Where the database lives for this process: DATABASE_URL, or the embedded one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from db.embedded import EmbeddedPostgres
from db.engine import normalize_url
from gateway.settings import Settings


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The URL to use; an embedded Postgres is started for the block when none is set."""
    if settings.database_url:
        yield normalize_url(settings.database_url)
        return
    server = EmbeddedPostgres(settings.data_dir)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()
