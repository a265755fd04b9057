"""The live-update broker: one LISTEN connection per process, many subscriptions.

Each subscription watches a few topics ((kind, entity id) pairs). A notice
from the LISTEN connection sets the wake flag of just the subscriptions
watching what it names; the flag holds at most one pending wake (latest-value
semantics), so a slow client never queues work nor holds up another. A lost
LISTEN connection is re-established, and every subscription is woken then,
because notices sent while it was down are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from db import notify
from gateway import telemetry

log = logging.getLogger(__name__)

Topic = tuple[str, str | None]  # (kind, entity id); None watches every entity of the kind
LISTENER_NAME = "gateway-live-listener"
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


class Watch:
    """One subscription's interest: its topics and a one-slot wake flag."""

    def __init__(self, topics: frozenset[Topic], min_interval: float) -> None:
        self.topics = topics
        self._wake = asyncio.Event()
        self._min_interval = min_interval

    def wake(self) -> None:
        """Ask for a fresh value; repeated wakes before it is computed merge into one."""
        self._wake.set()

    async def changes(self) -> AsyncIterator[None]:
        """Yield at once, then after each wake, at most once per min_interval.

        The interval runs from the moment the consumer comes back for the next change,
        that is after it has computed and sent the previous value, so pushes leave at
        least min_interval apart however long each computation takes.
        """
        yield
        while True:
            sent = time.monotonic()
            await self._wake.wait()
            await asyncio.sleep(max(0.0, sent + self._min_interval - time.monotonic()))
            # Cleared before the value is computed: a wake during the work asks again.
            self._wake.clear()
            yield


class Broker:
    """Routes notices from this process's LISTEN connection to the watches they concern."""

    def __init__(self, database_url: str, min_interval: float = 1.0) -> None:
        self._dsn = (
            make_url(database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self._min_interval = min_interval
        self._watches: dict[Topic, set[Watch]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    @property
    def subscriptions(self) -> int:
        """How many watches are registered (each subscription holds one)."""
        return len({w for watches in self._watches.values() for w in watches})

    @contextlib.asynccontextmanager
    async def watch(self, topics: Iterable[Topic]) -> AsyncIterator[Watch]:
        """Register a watch for the block; leaving it (or a cancelled client) frees it."""
        watch = Watch(frozenset(topics), self._min_interval)
        for topic in watch.topics:
            self._watches[topic].add(watch)
        telemetry.subscription_opened()
        try:
            yield watch
        finally:
            telemetry.subscription_closed()
            for topic in watch.topics:
                self._watches[topic].discard(watch)
                if not self._watches[topic]:
                    del self._watches[topic]

    def dispatch(self, notice: notify.Notice) -> None:
        """Wake the watches a notice concerns."""
        woken: set[Watch] = set(self._watches.get((notice.kind, None), ()))
        if notice.ids is None:
            woken.update(
                w for (kind, _), ws in self._watches.items() if kind == notice.kind for w in ws
            )
        else:
            for entity_id in notice.ids:
                woken.update(self._watches.get((notice.kind, entity_id), ()))
        for watch in woken:
            watch.wake()

    def wake_all(self) -> None:
        """Wake every watch (after a reconnect, notices may have been missed)."""
        for watches in self._watches.values():
            for watch in watches:
                watch.wake()

    async def start(self) -> None:
        """Start listening in the background; returns once the first LISTEN is in place."""
        self._task = asyncio.create_task(self._listen_forever(), name="live-broker")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), timeout=10)

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen_forever(self) -> None:
        failures, lost = 0, False
        while True:
            try:
                await self._listen(reconnected=lost)
            except (psycopg.Error, OSError) as error:
                if self.listening.is_set():
                    failures = 0
                self.listening.clear()
                lost = True
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                log.warning("live updates: LISTEN connection lost (%s); again in %ss", error, delay)
                await asyncio.sleep(delay)

    async def _listen(self, *, reconnected: bool) -> None:
        conn: psycopg.AsyncConnection[Any] = await psycopg.AsyncConnection.connect(
            self._dsn, autocommit=True, application_name=LISTENER_NAME
        )
        async with conn:
            await conn.execute(f"LISTEN {notify.CHANNEL}")
            self.listening.set()
            if reconnected:
                self.wake_all()
            async for message in conn.notifies():
                notice = notify.parse(message.payload)
                if notice is not None:
                    self.dispatch(notice)
