"""API token rows read moments ago, so a request with an API token needs no
database round trip to be authenticated (gateway/auth.py reads through this).

How stale a row may be, and why that is safe:
- a revocation made by this process takes effect on the very next request
  (``forget``, called by the revoke resolver);
- a revocation made by another gateway process, or straight in the database,
  takes effect within ``ttl`` seconds (GATEWAY_TOKEN_CACHE_SECONDS, 1 s by
  default; 0 turns the cache off);
- expiry is checked against the clock on every request, cached or not.

Only tokens that were found are kept: a secret that was not found is looked up
again next time, so a token created after a refused attempt works at once, and
random secrets cannot fill the memory.
"""

from __future__ import annotations

import time

from sqlalchemy.engine import RowMapping

# A process has few live tokens; past this many entries the stale ones are dropped.
_MAX_ENTRIES = 10_000


class TokenCache:
    """Token rows by secret hash, each kept for ``ttl`` seconds after it was read."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._rows: dict[str, tuple[float, RowMapping]] = {}
        # Bumped by every forget: a row read before a revocation committed must not
        # be stored after it (the read may have started before and ended after).
        self.generation = 0

    def get(self, secret_hash: str) -> RowMapping | None:
        """The row stored for secret_hash if it is younger than ttl."""
        entry = self._rows.get(secret_hash)
        if entry is None:
            return None
        if time.monotonic() - entry[0] >= self.ttl:
            self._rows.pop(secret_hash, None)
            return None
        return entry[1]

    def put(self, secret_hash: str, row: RowMapping, read_in_generation: int) -> None:
        """Keep a row read while ``generation`` was read_in_generation (else drop it)."""
        if self.ttl <= 0 or read_in_generation != self.generation:
            return
        now = time.monotonic()
        if len(self._rows) >= _MAX_ENTRIES:
            self._rows = {h: e for h, e in self._rows.items() if now - e[0] < self.ttl}
        self._rows[secret_hash] = (now, row)

    def forget(self, token_id: str) -> None:
        """Drop the token's row: its next request reads the database again."""
        self.generation += 1
        self._rows = {h: e for h, e in self._rows.items() if e[1]["id"] != token_id}
