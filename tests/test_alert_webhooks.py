"""Webhook notifications against real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from db import alert_rules
from gateway.alerting import Alerting, WebhookPolicy
from tests.factories import api_request, ingest_api_requests

CREATE = "mutation($input: AlertInput!) { createAlert(input: $input) { id } }"
HISTORY = "query($id: ID!) { alert(id: $id) { history { state message } } }"
FAST = WebhookPolicy(timeout=0.3, attempts=3, backoff=0.05)


class Receiver:
    """A tiny HTTP server: answers 500 to the first `failures` POSTs, then 204;
    `silent` never answers at all."""

    def __init__(self, failures: int = 0, silent: bool = False) -> None:
        self.failures, self.silent = failures, silent
        self.bodies: list[dict] = []
        self.attempts = 0
        self.released = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        body = await reader.readexactly(length)
        self.attempts += 1
        if self.silent:
            await self.released.wait()
        status = (
            b"500 Internal Server Error" if self.attempts <= self.failures else b"204 No Content"
        )
        if not status.startswith(b"500"):
            self.bodies.append(json.loads(body))
        writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def receivers():
    """Start receivers on free 127.0.0.1 ports; their URLs."""
    servers, started = [], []

    async def start(receiver: Receiver) -> str:
        server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
        servers.append(server)
        started.append(receiver)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"

    yield start
    for receiver in started:
        receiver.released.set()
    for server in servers:
        server.close()
        await server.wait_closed()


async def firing_alert(gql, now, url):
    await ingest_api_requests(gql, [api_request(now, endpoint="/hooked", statusCode=500)], now)
    variables = {
        "input": {
            "name": "hooked errors",
            "target": "ENDPOINT",
            "targetId": "/hooked",
            "measure": "errorRate",
            "threshold": 0.5,
            "channels": [{"kind": "webhook", "url": url}],
        }
    }
    return (await gql(CREATE, variables))["createAlert"]["id"]


async def test_a_webhook_that_fails_twice_gets_the_change_on_the_third_attempt(
    gql, db, now, receivers
):
    receiver = Receiver(failures=2)
    alert_id = await firing_alert(gql, now, await receivers(receiver))
    alerting = Alerting(db, 0, FAST)
    changes = await alert_rules.evaluate(db, now + timedelta(seconds=1), wait_for_lock=True)
    alerting.notify(changes)
    await asyncio.wait_for(alerting.settled(), 5)
    assert receiver.attempts == 3
    [body] = receiver.bodies
    assert body["alertId"] == alert_id
    assert body["name"] == "hooked errors"
    assert body["state"] == "FIRING"
    assert body["value"] == 1.0
    assert body["threshold"] == 0.5
    assert "above the threshold" in body["message"]
    assert body["at"]
    [event] = (await gql(HISTORY, {"id": alert_id}))["alert"]["history"]
    assert event["message"].endswith("delivered on attempt 3")


async def test_a_webhook_that_never_answers_does_not_hold_up_evaluation(gql, db, now, receivers):
    receiver = Receiver(silent=True)
    alert_id = await firing_alert(gql, now, await receivers(receiver))
    alerting = Alerting(db, 0, FAST)
    started = time.monotonic()
    changes = await alert_rules.evaluate(db, now + timedelta(seconds=1), wait_for_lock=True)
    alerting.notify(changes)
    assert time.monotonic() - started < 1.0  # evaluation and notify did not wait for it
    await asyncio.wait_for(alerting.settled(), 5)
    assert receiver.attempts == 3
    [event] = (await gql(HISTORY, {"id": alert_id}))["alert"]["history"]
    assert "failed after 3 attempts (ReadTimeout)" in event["message"]


async def test_only_one_process_evaluates_at_a_time_and_loops_share_the_rounds(gql, db, now):
    await firing_alert(gql, now, "http://127.0.0.1:9/unused")
    async with db.write() as conn:
        await conn.execute(select(func.pg_advisory_xact_lock(alert_rules.ALERT_LOCK_ID)))
        # Another process is evaluating: the loop's round skips instead of waiting.
        assert await alert_rules.evaluate(db, now, wait_for_lock=False) is None
    assert await alert_rules.evaluate(db, now, wait_for_lock=False) is not None
    # A loop round right after another process's evaluation leaves it at that.
    later = now + timedelta(seconds=10)
    skipped = await alert_rules.evaluate(
        db, later, wait_for_lock=False, skip_if_since=later - timedelta(seconds=15)
    )
    assert skipped is None
    done = await alert_rules.evaluate(
        db, later, wait_for_lock=False, skip_if_since=later - timedelta(seconds=5)
    )
    assert done is not None
