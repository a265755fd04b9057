"""AnalyticsMiddleware: one API request row per HTTP request, for any ASGI app."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from analytics_gateway_sdk.tracker import Tracker

logger = logging.getLogger("analytics_gateway_sdk")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
UserIds = str | tuple[str | None, str | None] | None

# The endpoint of a request a Starlette router saw and no route matched (404s,
# slash redirects): one name, so scanners cannot blow up the endpoint count.
UNMATCHED = "(unmatched)"
CLIENT_CLOSED = 499


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (Starlette/FastAPI put the route in the scope),
    with the templates-free prefix of any Mount it went through."""
    path = getattr(scope.get("route"), "path", None)
    if not isinstance(path, str):
        return None
    root = scope.get("root_path", "")
    mounted = root[len(scope["app_root_path"]) :] if "app_root_path" in scope else ""
    return mounted + path


def _is_error(status: int) -> bool:
    """The contract's error: anything outside 200 <= status < 400."""
    return not 200 <= status < 400


class AnalyticsMiddleware:
    """Records method, route template, status, latency, region and user/session ids of
    every HTTP request into `tracker`, and flushes it when the app shuts down.

    `user_id(scope)` returns a user id, or a (user_id, session_id) pair. Sampling keeps
    a request with probability `sampler(scope)` when given, else `sample_rate`; errors
    and requests of at least `slow_ms` are always kept.
    """

    def __init__(
        self,
        app: ASGIApp,
        tracker: Tracker,
        region: str | None = None,
        user_id: Callable[[Scope], UserIds] | None = None,
        sample_rate: float = 1.0,
        sampler: Callable[[Scope], float] | None = None,
        slow_ms: float | None = None,
    ) -> None:
        self.app = app
        self.tracker = tracker
        self.region = region
        self.user_id = user_id
        self.sample_rate = sample_rate
        self.sampler = sampler
        self.slow_ms = slow_ms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._flushing_on_shutdown(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception as error:
            # Unhandled: the server answers 500, whatever was sent before.
            self._record(scope, 500, started, started_at, type(error).__name__)
            raise
        except asyncio.CancelledError:
            # The client went away mid-request (nginx's 499), not the app failing.
            self._record(scope, CLIENT_CLOSED, started, started_at, "CancelledError")
            raise
        self._record(scope, status, started, started_at, None)

    def _flushing_on_shutdown(self, send: Send) -> Send:
        async def send_then_flush(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.tracker.flush()
            await send(message)

        return send_then_flush

    def _keeps(self, scope: Scope, status: int, latency_ms: float) -> bool:
        if _is_error(status) or (self.slow_ms is not None and latency_ms >= self.slow_ms):
            return True
        rate = self.sampler(scope) if self.sampler is not None else self.sample_rate
        return rate >= 1.0 or random.random() < rate

    def _record(
        self, scope: Scope, status: int, started: float, at: datetime, reason: str | None
    ) -> None:
        try:
            latency_ms = (time.perf_counter() - started) * 1000.0
            if not self._keeps(scope, status, latency_ms):
                return
            endpoint = route_template(scope) or (UNMATCHED if "router" in scope else scope["path"])
            user, session = self._user_ids(scope)
            self.tracker.track_request(
                endpoint,
                status,
                latency_ms,
                method=scope.get("method"),
                timestamp=at,
                region=self.region,
                error_reason=reason,
                user_id=user,
                session_id=session,
            )
        except Exception:
            logger.exception("analytics gateway: request not recorded")

    def _user_ids(self, scope: Scope) -> tuple[str | None, str | None]:
        if self.user_id is None:
            return None, None
        ids = self.user_id(scope)
        return ids if isinstance(ids, tuple) else (ids, None)
