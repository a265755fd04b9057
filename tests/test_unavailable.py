"""A database that cannot answer in time fails fast with SERVICE_UNAVAILABLE and
retryable: true: a locked table (statement timeout), an exhausted pool (acquire
timeout), a stopped server. /healthz tells within a second."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from db.embedded import EmbeddedPostgres
from db.engine import Database
from gateway.app import create_app
from resolvers.context import GatewayContext
from schema.root import schema
from tests.factories import ADMIN_HEADERS, INGEST_PRODUCT_EVENTS, product_event


async def execute(database: Database, settings, document: str, variables=None):
    context = GatewayContext(database, settings)
    return await schema.execute(
        document, variable_values=variables, context_value={"gateway": context}
    )


def assert_unavailable(result) -> None:
    [error] = result.errors
    assert error.extensions == {"code": "SERVICE_UNAVAILABLE", "retryable": True}


@pytest.fixture
async def fast(database_url: str) -> AsyncIterator[Database]:
    """A database handle with a short statement timeout and pool-acquire timeout."""
    database = Database(
        database_url, pool_size=1, statement_timeout_ms=300, pool_timeout_seconds=0.3
    )
    yield database
    await database.dispose()


async def test_a_locked_table_fails_fast_for_queries_ingest_and_health(db, fast, settings, now):
    async with db.engine.connect() as locker:
        transaction = await locker.begin()
        # stats reads the row counts, ingest writes both, /healthz reads product_events.
        await locker.execute(text("LOCK TABLE product_events, row_counts IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        query = await execute(fast, settings, "{ stats { productEvents } }")
        rows = [product_event(now - timedelta(minutes=1))]
        ingest = await execute(fast, settings, INGEST_PRODUCT_EVENTS, {"events": rows})
        app = create_app(fast, settings, owns_database=False)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http:
            health_started = time.monotonic()
            health = await http.get("/healthz")
            health_seconds = time.monotonic() - health_started
        elapsed = time.monotonic() - started
        await transaction.rollback()
    assert_unavailable(query)
    assert_unavailable(ingest)
    assert health.status_code == 503
    assert health_seconds < 1.5
    assert elapsed < 4


async def test_an_exhausted_pool_fails_fast_instead_of_waiting(fast, settings):
    # pool_size 1 and as many overflow: two held connections exhaust it.
    async with fast.engine.connect(), fast.engine.connect():
        started = time.monotonic()
        result = await execute(fast, settings, "{ stats { products } }")
        elapsed = time.monotonic() - started
    assert_unavailable(result)
    assert elapsed < 2


async def test_a_stopped_server_is_unavailable_over_http_and_not_masked(tmp_path, settings):
    server = EmbeddedPostgres(tmp_path / "pg")
    database = Database(server.start(), pool_size=1, pool_timeout_seconds=0.5)
    try:
        assert await database.ping() is False  # no fact table: never migrated
        async with database.read() as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        server.stop()
    app = create_app(database, settings, owns_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", headers=ADMIN_HEADERS
    ) as http:
        response = await http.post("/graphql", json={"query": "{ stats { products } }"})
        health = await http.get("/healthz")
    await database.dispose()
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"] == {
        "code": "SERVICE_UNAVAILABLE",
        "retryable": True,
    }
    assert health.status_code == 503
