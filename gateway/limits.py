"""Per-process limits that span requests: the per-token rate limit and the
throttled record of when each token was last used."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from db.engine import Database
from db.tokens import mark_used

log = logging.getLogger("gateway.access")

# Buckets idle this long are forgotten, so random secrets cannot grow the map.
_IDLE_SECONDS = 300.0


class RateLimiter:
    """A token bucket per key: ``rate`` requests a second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def charge(self, key: str) -> float | None:
        """Take one request from key's bucket; None if allowed, else seconds to wait."""
        now = time.monotonic()
        level, at = self._buckets.get(key, (self.burst, now))
        level = min(self.burst, level + (now - at) * self.rate)
        if level < 1.0:
            self._buckets[key] = (level, now)
            return (1.0 - level) / self.rate
        self._buckets[key] = (level - 1.0, now)
        if len(self._buckets) > 10_000:
            self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        self._buckets = {
            k: (level, at) for k, (level, at) in self._buckets.items() if now - at < _IDLE_SECONDS
        }


class TokenUsage:
    """lastUsedAt without a write per request: each token is written at most once
    per ``interval`` seconds, pending uses of other tokens riding along."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._pending: dict[str, datetime] = {}
        self._written: dict[str, float] = {}

    async def used(self, token_id: str, database: Database) -> None:
        """Note a use now; write the pending uses when this token's last write is old."""
        self._pending[token_id] = datetime.now(UTC)
        if time.monotonic() - self._written.get(token_id, -self.interval) >= self.interval:
            await self.flush(database)

    async def flush(self, database: Database) -> None:
        """Write every pending use (a failure is logged: lastUsedAt is advisory)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        now = time.monotonic()
        for token_id in pending:
            self._written[token_id] = now
        try:
            async with database.write() as conn:
                await mark_used(conn, pending)
        except (SQLAlchemyError, OSError) as error:
            log.warning("could not record token use: %s", type(error).__name__)
