"""The bounded queue of tracked rows and the background thread that delivers them."""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from dataclasses import dataclass

from analytics_gateway_sdk._breaker import CircuitBreaker
from analytics_gateway_sdk._kinds import Kind, Row
from analytics_gateway_sdk._transport import FatalFailure, RetryableFailure, Transport

logger = logging.getLogger("analytics_gateway_sdk")

Batch = tuple[Kind, list[Row]]


class RowQueue:
    """Rows waiting to be sent, at most `capacity`; a full queue drops and counts."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.enqueued = 0
        self.dropped = 0
        self._rows: deque[tuple[Kind, Row]] = deque()
        self._lock = threading.Lock()

    def put(self, kind: Kind, row: Row) -> int:
        """Queue a row; the queue's length after, or 0 when it was full and the row dropped."""
        with self._lock:
            if len(self._rows) >= self.capacity:
                self.dropped += 1
                return 0
            self._rows.append((kind, row))
            self.enqueued += 1
            return len(self._rows)

    def drop(self, count: int = 1) -> None:
        """Count rows dropped before they reached the queue."""
        with self._lock:
            self.dropped += count

    def take(self, limit: int) -> list[Batch]:
        """Remove up to `limit` rows, oldest first, grouped into one batch per kind."""
        with self._lock:
            taken = [self._rows.popleft() for _ in range(min(limit, len(self._rows)))]
        batches: dict[str, Batch] = {}
        for kind, row in taken:
            batches.setdefault(kind.name, (kind, []))[1].append(row)
        return list(batches.values())

    def __len__(self) -> int:
        return len(self._rows)


@dataclass(frozen=True)
class SenderOptions:
    """The sender's knobs (see Tracker's options)."""

    batch_size: int
    flush_interval: float
    backoff_base: float
    backoff_max: float


class Sender:
    """One daemon thread: every flush interval (or sooner when a batch is full) it sends
    the queue in batches; a batch that failed retryably is kept and resent, with the
    same row ids, until the gateway takes it or the sender stops."""

    def __init__(
        self,
        queue: RowQueue,
        transport: Transport,
        breaker: CircuitBreaker,
        options: SenderOptions,
    ) -> None:
        self.sent = self.duplicates = self.retried = self.rejected = self.dropped = 0
        self._queue = queue
        self._transport = transport
        self._breaker = breaker
        self._options = options
        self._held: list[Batch] = []
        self._settled = 0
        self._settled_changed = threading.Condition()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="analytics-gateway-sdk", daemon=True)
        self._thread.start()

    @property
    def held(self) -> int:
        """Rows taken from the queue and not yet delivered."""
        return sum(len(rows) for _, rows in list(self._held))

    def wake(self) -> None:
        """Send now rather than at the next interval."""
        self._wake.set()

    def flush(self, timeout: float) -> bool:
        """Wait until every row queued before the call is settled; False on timeout."""
        target = self._queue.enqueued
        self._wake.set()
        with self._settled_changed:
            return self._settled_changed.wait_for(
                lambda: self._settled >= target and not self._held, timeout
            )

    def stop(self, timeout: float) -> bool:
        """Flush within `timeout`, stop the thread, count what is left as dropped."""
        flushed = self.flush(timeout)
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=0.5)
        if not self._thread.is_alive():
            left = self._held + self._queue.take(len(self._queue))
            self._held = []
            self._settle([row for _, rows in left for row in rows], dropped=True)
            self._transport.close()
        return flushed

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self._options.flush_interval)
            self._wake.clear()
            try:
                self._drain()
            except Exception:
                # A bug here must not kill tracking for the rest of the process.
                logger.exception("analytics gateway sender failed; its batch is dropped")
                if self._held:
                    self._settle(self._held.pop(0)[1], dropped=True)

    def _drain(self) -> None:
        while not self._stopped.is_set():
            if not self._held:
                self._held = self._queue.take(self._options.batch_size)
                if not self._held:
                    return
            kind, rows = self._held[0]
            outcome = self._deliver(kind, rows)
            if outcome is None:
                return
            self._held.pop(0)
            self._settle(rows, dropped=not outcome)

    def _settle(self, rows: list[Row], dropped: bool) -> None:
        if dropped:
            self.dropped += len(rows)
        with self._settled_changed:
            self._settled += len(rows)
            self._settled_changed.notify_all()

    def _deliver(self, kind: Kind, rows: list[Row]) -> bool | None:
        """True when delivered, False when refused for good, None when stopped first."""
        attempt = 0
        while True:
            wait = self._breaker.wait_time()
            if wait and self._stopped.wait(wait):
                return None
            if attempt:
                self.retried += len(rows)
            try:
                delivered = self._transport.send(kind, rows)
            except RetryableFailure as failure:
                if not failure.busy:
                    self._breaker.record_failure()
                attempt += 1
                logger.debug("analytics gateway send failed (%s); retrying", failure)
                wait = failure.retry_after or self._breaker.wait_time() or self._backoff(attempt)
                if self._stopped.wait(wait):
                    return None
                continue
            except FatalFailure as failure:
                self._breaker.record_success()
                logger.error(
                    "analytics gateway refused %d %s rows: %s", len(rows), kind.name, failure
                )
                return False
            self._breaker.record_success()
            self.sent += delivered.accepted + delivered.duplicates
            self.duplicates += delivered.duplicates
            self.rejected += delivered.rejected
            if delivered.rejected:
                logger.warning(
                    "analytics gateway rejected %d %s rows (kept in its quarantine): %s",
                    delivered.rejected,
                    kind.name,
                    "; ".join(delivered.reasons[:5]),
                )
            return True

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half the step fixed, half random."""
        step = min(self._options.backoff_max, self._options.backoff_base * 2 ** (attempt - 1))
        return float(step / 2 + random.uniform(0, step / 2))
