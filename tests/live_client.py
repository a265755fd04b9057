"""A real graphql-transport-ws client and a real uvicorn gateway on 127.0.0.1 for tests."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from tests.factories import ADMIN_SECRET


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """Serve app with uvicorn on a free port for the block; its ws:// GraphQL URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "the test gateway did not start"
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


class Subscriber:
    """One graphql-transport-ws connection (authenticated with the admin secret)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = 0

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        """Start an operation; its id."""
        self._ids += 1
        operation = str(self._ids)
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": operation, "type": "subscribe", "payload": payload}))
        return operation

    async def message(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next protocol message (pings are answered and skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), max(0.01, deadline - time.monotonic()))
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            return message

    async def next_data(self, timeout: float = 5.0) -> dict[str, Any]:
        """The data of the next `next` message; fails on anything else."""
        message = await self.message(timeout)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message["payload"]
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def silent_for(self, seconds: float) -> bool:
        """True when no message arrives within seconds."""
        try:
            await self.message(seconds)
        except TimeoutError:
            return True
        return False


@asynccontextmanager
async def subscriber(url: str) -> AsyncIterator[Subscriber]:
    """A connected, acknowledged client; the admin secret travels only in
    connection_init (no Authorization header), as browsers must send it."""
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN_SECRET}"}}
        await ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        yield Subscriber(ws)
