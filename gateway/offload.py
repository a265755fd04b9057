"""A worker thread with its own event loop and database engine, for requests whose
GraphQL work is CPU-heavy (a large ingest batch: variable coercion, conversion,
row checks, statement building), so the main loop keeps answering others."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from db.engine import Database

T = TypeVar("T")
SWITCH_INTERVAL = 0.001


class Offload:
    """Runs coroutines on one background loop with a database of its own (an engine's
    connections belong to the loop that opened them)."""

    def __init__(self, database: Database, pool_size: int = 2) -> None:
        self._database = database
        self._pool_size = pool_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._db: Database | None = None
        self._running = 0

    def _start(self) -> tuple[asyncio.AbstractEventLoop, Database]:
        if self._loop is None or self._db is None:
            # The worker's CPU work holds the GIL in slices; shorter slices keep the
            # main loop's answers quick while it runs (the default is 5 ms).
            sys.setswitchinterval(SWITCH_INTERVAL)
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="gateway-offload", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
            self._db = self._database.sibling(self._pool_size)
        return self._loop, self._db

    async def run(self, work: Callable[[Database], Awaitable[T]]) -> T:
        """work(database) on the worker loop; awaited here without blocking this loop."""
        loop, database = self._start()

        async def wrapped() -> T:
            # A full collection over a large batch's objects holds the GIL for
            # hundreds of milliseconds; reference counting frees them anyway.
            self._running += 1
            gc.disable()
            try:
                return await work(database)
            finally:
                self._running -= 1
                if self._running == 0:
                    gc.enable()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(wrapped(), loop))

    async def close(self) -> None:
        """Dispose of the worker's engine and stop its loop."""
        if self._loop is None or self._db is None:
            return
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._db.dispose(), self._loop))
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)
        self._loop.close()
        self._loop = self._db = self._thread = None
