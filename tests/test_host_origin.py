"""Against DNS rebinding and cross-site use: a foreign Host header is refused on
HTTP and websockets, a websocket from a foreign Origin is refused, and CORS
answers only configured origins. Websocket callers authenticate in connection_init."""

from __future__ import annotations

import asyncio
import base64
import json
import os

import httpx
import websockets

from gateway.app import create_app
from tests.factories import ADMIN_HEADERS, ADMIN_SECRET, bearer, create_token

STATS = {"query": "{ stats { products } }"}


async def _handshake(address: str, host: str, origin: str | None) -> int:
    """The status a websocket upgrade gets (101: accepted)."""
    ip, port = address.split(":")
    reader, writer = await asyncio.open_connection(ip, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /graphql HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: graphql-transport-ws",
        *([f"Origin: {origin}"] if origin else []),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    return int(status.split()[1])


async def test_loopback_host_names_are_served_and_a_foreign_host_is_refused(live_gateway):
    address = await live_gateway(allowed_hosts=[])
    port = address.split(":")[1]
    async with httpx.AsyncClient(headers=ADMIN_HEADERS) as http:
        statuses = {
            host: (
                await http.post(f"http://{address}/graphql", json=STATS, headers={"host": host})
            ).status_code
            for host in (
                f"127.0.0.1:{port}",
                f"localhost:{port}",
                "evil.example",
                f"evil.example:{port}",
            )
        }
    assert statuses == {
        f"127.0.0.1:{port}": 200,
        f"localhost:{port}": 200,
        "evil.example": 421,
        f"evil.example:{port}": 421,
    }


async def test_configured_hosts_replace_the_loopback_default(db, settings):
    app = create_app(
        db, settings.model_copy(update={"allowed_hosts": ["api.example"]}), owns_database=False
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), headers=ADMIN_HEADERS
    ) as http:
        named = await http.post("http://api.example/graphql", json=STATS)
        loopback = await http.post("http://127.0.0.1/graphql", json=STATS)
    assert (named.status_code, loopback.status_code) == (200, 421)


async def test_a_rebound_websocket_with_foreign_host_and_origin_is_refused(live_gateway):
    address = await live_gateway(allowed_hosts=[])
    rebound = await _handshake(address, "evil.example", "http://evil.example")
    foreign_origin = await _handshake(address, address, "http://evil.example")
    same_origin = await _handshake(address, address, f"http://{address}")
    assert (rebound, foreign_origin, same_origin) == (403, 403, 101)


async def test_a_configured_origin_may_open_a_websocket(live_gateway):
    address = await live_gateway(allowed_hosts=[], allowed_origins=["https://app.example"])
    assert await _handshake(address, address, "https://app.example") == 101
    assert await _handshake(address, address, "https://other.example") == 403


async def test_cors_answers_only_configured_origins(db, settings):
    app = create_app(
        db,
        settings.model_copy(update={"allowed_origins": ["https://app.example"]}),
        owns_database=False,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as http:
        preflight = {
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization",
        }
        allowed = await http.options(
            "/graphql", headers={"origin": "https://app.example", **preflight}
        )
        other = await http.options(
            "/graphql", headers={"origin": "https://evil.example", **preflight}
        )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


async def _over_websocket(address: str, payload: dict | None, document: str) -> dict:
    """connection_init with payload, then one operation; its first message (or the close)."""
    async with websockets.connect(
        f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"], open_timeout=5
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        except websockets.ConnectionClosed as closed:
            return {"closed": closed.rcvd.code if closed.rcvd else None}
        assert ack["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": document}}))
        return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def test_websockets_authenticate_in_connection_init(live_gateway, client):
    address = await live_gateway()
    reader, _ = await create_token(client, scopes=["READ"])
    tokens = "{ apiTokens { id } }"
    admin = await _over_websocket(address, {"Authorization": f"Bearer {ADMIN_SECRET}"}, tokens)
    read = await _over_websocket(address, bearer(reader), tokens)
    stats = await _over_websocket(address, bearer(reader), "{ stats { products } }")
    missing = await _over_websocket(address, {}, tokens)
    wrong = await _over_websocket(address, bearer("agw_wrong"), tokens)
    assert admin["type"] == "next"
    assert "errors" not in admin["payload"]
    assert read["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert stats["payload"] == {"data": {"stats": {"products": 0}}}
    assert missing == {"closed": 4403}
    assert wrong == {"closed": 4403}
