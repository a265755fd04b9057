"""The app's shutdown ends its background passes before it closes the database: a
pass stuck in a statement is cancelled on the server, not left running there."""

from __future__ import annotations

import asyncio
import time

import psycopg
from sqlalchemy.engine import make_url

from db.engine import Database
from gateway.app import create_app
from gateway.settings import Settings

WAITING = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def test_shutdown_cancels_a_maintenance_pass_that_waits_in_the_database(
    db: Database, settings: Settings, database_url: str
) -> None:
    async with await psycopg.AsyncConnection.connect(_libpq(database_url)) as holder:
        # The partition pass takes this lock first (db.partitions.ensure_partitions):
        # held here, the app's first maintenance pass waits on it in the server.
        await holder.execute("SELECT pg_advisory_xact_lock(hashtext('fact partitions'))")
        app = create_app(Database(database_url, pool_size=2), settings, owns_database=True)
        async with app.router.lifespan_context(app):
            for _ in range(100):
                if (await (await holder.execute(WAITING)).fetchone()) == (1,):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the maintenance pass never waited on the lock")
            started = time.perf_counter()
        assert time.perf_counter() - started < 10
        # Checked at once: the pass's statement ended before shutdown returned.
        assert await (await holder.execute(WAITING)).fetchone() == (0,)
        await holder.rollback()
