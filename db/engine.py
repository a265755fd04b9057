"""The async engine, created once per process, and the units of work on it."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


def normalize_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and pin the psycopg 3 driver."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername in ("postgresql", "postgresql+psycopg2", "postgresql+asyncpg"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Database:
    """One engine for the process; every reader and writer takes connections from it.

    Each unit of work opens its own connection, because Strawberry resolves
    sibling fields concurrently and one connection cannot run two statements
    at once.
    """

    def __init__(
        self,
        url: str,
        pool_size: int = 10,
        statement_timeout_ms: int = 0,
        pool_timeout_seconds: float = 30.0,
    ) -> None:
        self.url = normalize_url(url)
        self._options = (statement_timeout_ms, pool_timeout_seconds)
        # Buckets and day boundaries are UTC whatever the server's TimeZone; a
        # statement timeout (0: none) makes a locked or slow database fail fast.
        # JIT off: the gateway's statements run for milliseconds to a second, and
        # LLVM compiling them cost more than it saved (the 20-product list at 10M
        # events: 550-710 ms without JIT, 610-660 ms with it, 187 ms of it compiling).
        options = f"-c TimeZone=UTC -c statement_timeout={int(statement_timeout_ms)} -c jit=off"
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            pool_timeout=pool_timeout_seconds,
            connect_args={"options": options, "connect_timeout": 5},
        )
        self._gate: asyncio.Semaphore | None = None

    def sibling(self, pool_size: int) -> Database:
        """A new engine on the same database with the same timeouts (for another loop)."""
        return Database(self.url, pool_size, *self._options)

    def gated(self, connections: int) -> Database:
        """The same engine, holding at most `connections` connections at once
        (one request's view, so one request cannot drain the pool)."""
        view = copy.copy(self)
        view._gate = asyncio.Semaphore(connections)
        return view

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for queries; nothing it does is committed."""
        async with AsyncExitStack() as stack:
            if self._gate is not None:
                await stack.enter_async_context(self._gate)
            yield await stack.enter_async_context(self.engine.connect())

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        async with AsyncExitStack() as stack:
            if self._gate is not None:
                await stack.enter_async_context(self._gate)
            yield await stack.enter_async_context(self.engine.begin())

    async def ping(self, timeout: float = 1.0) -> bool:
        """True when the database answers a query on a fact table within timeout."""
        try:
            async with asyncio.timeout(timeout):
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1 FROM product_events LIMIT 1"))
        except (SQLAlchemyError, OSError, TimeoutError):
            return False
        return True

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
