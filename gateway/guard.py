"""The ASGI layer in front of every route: the Host header check (against DNS
rebinding) and the request body limit, enforced while reading, before parsing."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Whether an address or name is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(configured: Collection[str], bound_to: str) -> frozenset[str] | None:
    """The Host names to accept: the configured ones, else the loopback names when the
    gateway is bound to loopback; None (any) when bound elsewhere with none configured."""
    if configured:
        return None if "*" in configured else frozenset(h.lower() for h in configured)
    return LOOPBACK_NAMES | {bound_to.lower()} if is_loopback(bound_to) else None


def _host_name(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8000
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


async def _respond(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """Refuses foreign Host headers (HTTP 421, websocket close) and bodies over
    max_body_bytes (413, read no further than the limit)."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None, max_body_bytes: int) -> None:
        self.app = app
        self.hosts = hosts
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if not self._host_allowed(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "host not allowed"})
            else:
                await _respond(send, 421, "this gateway does not answer to that Host name")
            return
        if scope["type"] == "http":
            await self._limited(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _host_allowed(self, scope: Scope) -> bool:
        if self.hosts is None:
            return True
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        return _host_name(host) in self.hosts

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_body_bytes:
                await _respond(send, 413, f"request body over {self.max_body_bytes} bytes")
                return
            # The server frames the body by its Content-Length: it cannot grow past it,
            # so the app may stream it as it arrives.
            await self.app(scope, receive, send)
            return
        # A chunked body of unknown size: read it up to the limit before the app sees it.
        chunks: list[Message] = []
        size = 0
        while True:
            message = await receive()
            chunks.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                await _respond(send, 413, f"request body over {self.max_body_bytes} bytes")
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, receive), send)


def _replay(chunks: list[Message], receive: Receive) -> Any:
    pending = list(chunks)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
