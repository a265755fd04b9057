"""A real Postgres for the whole session, brought to head by the migrations.

DATABASE_URL set: a fresh database is created on that server for the run and
dropped after it. Unset: an embedded Postgres in a temporary folder. Tests
commit for real (loaders open their own connections concurrently, so one
outer transaction cannot be shared); every table is truncated after each test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from db.embedded import EmbeddedPostgres
from db.engine import Database, normalize_url
from db.migrate import upgrade_to_head
from db.tables import metadata
from gateway.app import create_app
from gateway.settings import Settings
from resolvers.access import FULL_ACCESS, Principal
from resolvers.context import GatewayContext
from schema.root import schema
from tests.factories import ADMIN_HEADERS, ADMIN_SECRET


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of an empty database that only this test run uses."""
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        embedded = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
        yield embedded.start()
        embedded.stop()
        return
    name = f"gateway_test_{uuid.uuid4().hex[:10]}"
    admin = _libpq(normalize_url(server_url))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield (
        make_url(normalize_url(server_url)).set(database=name).render_as_string(hide_password=False)
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    """Settings as a deployment would have them, pointed at the test database."""
    # "gateway" is the Host of the in-process HTTP clients (base_url http://gateway).
    return Settings(
        database_url=database_url,
        admin_token=ADMIN_SECRET,
        allowed_hosts=["127.0.0.1", "localhost", "gateway"],
    )


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    """The migrated test database (migrations run here, not create_all)."""
    upgrade_to_head(database_url)
    database = Database(database_url, pool_size=5)
    yield database
    await database.dispose()


@pytest.fixture(autouse=True)
async def _clean(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "db" not in request.fixturenames:
        return
    database: Database = request.getfixturevalue("db")
    names = ", ".join(t.name for t in metadata.sorted_tables)
    async with database.write() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))


class GraphQL:
    """Runs documents through the schema the way a client would."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def result(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        now: datetime | None = None,
        principal: Principal = FULL_ACCESS,
    ) -> Any:
        context = GatewayContext(self.db, self.settings, principal=principal)
        if now is not None:
            context.now = now
        return await schema.execute(
            query, variable_values=variables, context_value={"gateway": context}
        )

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        now: datetime | None = None,
        principal: Principal = FULL_ACCESS,
    ) -> Any:
        """The data of a document that must succeed."""
        result = await self.result(query, variables, now, principal)
        assert result.errors is None, result.errors
        return result.data

    async def errors(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        principal: Principal = FULL_ACCESS,
    ) -> list[Any]:
        """The errors of a document that must fail."""
        result = await self.result(query, variables, principal=principal)
        assert result.errors, f"expected errors, got {result.data}"
        return list(result.errors)


@pytest.fixture
def gql(db: Database, settings: Settings) -> GraphQL:
    return GraphQL(db, settings)


@pytest.fixture
async def client(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the real ASGI app."""
    app = create_app(db, settings, owns_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", headers=ADMIN_HEADERS
    ) as http:
        yield http


class StatementCounter:
    """Counts SQL statements sent while active."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)


@pytest.fixture
def statements(db: Database) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(db.engine.sync_engine, "before_cursor_execute", counter)
    yield counter
    event.remove(db.engine.sync_engine, "before_cursor_execute", counter)


@pytest.fixture
def now() -> datetime:
    """A fixed 'now' inside the tolerance of the server clock, second-aligned."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def live_gateway(db: Database, settings: Settings) -> AsyncIterator[Any]:
    """Starts the real app under uvicorn on 127.0.0.1 (a free port) with some settings
    changed; returns "127.0.0.1:<port>". Stopped after the test."""
    import asyncio
    import socket

    import uvicorn

    running: list[tuple[Any, Any]] = []

    async def start(**changes: Any) -> str:
        app = create_app(db, settings.model_copy(update=changes), owns_database=False)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        running.append((server, task))
        for _ in range(100):
            if server.started:
                break
            await asyncio.sleep(0.05)
        return f"127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for server, task in running:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
