"""alertEvents over a websocket, and live updates across two `serve` processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from tests.factories import (
    ADMIN_HEADERS,
    ADMIN_SECRET,
    INGEST_API_REQUESTS,
    api_request,
    ingest_api_requests,
)
from tests.live_client import free_port, served, subscriber

ALERT_EVENTS = "subscription($id: ID) { alertEvents(alertId: $id) { alertId state value message } }"
CREATE = "mutation($input: AlertInput!) { createAlert(input: $input) { id } }"
ENDPOINT_REQUESTS = """
subscription($name: String!) { endpointMetrics(name: $name, windowMinutes: 10) { requests } }
"""


async def test_alert_events_streams_each_state_change(db, settings, gql, now):
    rule = {
        "name": "n",
        "target": "ENDPOINT",
        "targetId": "/ev",
        "measure": "requests",
        "threshold": 1,
        "condition": "GTE",
    }
    alert_id = (await gql(CREATE, {"input": rule}))["createAlert"]["id"]
    other_rule = {**rule, "targetId": "/elsewhere"}
    other_id = (await gql(CREATE, {"input": other_rule}))["createAlert"]["id"]
    app = create_app(db, settings, owns_database=False)
    async with served(app) as url, subscriber(url) as one, subscriber(url) as every:
        await one.subscribe(ALERT_EVENTS, {"id": alert_id})
        await every.subscribe(ALERT_EVENTS, {"id": None})
        await asyncio.sleep(0.3)  # both subscriptions registered
        await ingest_api_requests(gql, [api_request(now, endpoint="/ev")], now)
        await gql("mutation { evaluateAlerts { id } }", now=now + timedelta(seconds=1))
        fired = (await one.next_data())["alertEvents"]
        assert fired["alertId"] == alert_id
        assert fired["state"] == "FIRING"
        assert fired["value"] == 1.0
        seen = [(await every.next_data())["alertEvents"] for _ in range(2)]
        assert {(e["alertId"], e["state"]) for e in seen} == {
            (alert_id, "FIRING"),
            (other_id, "NO_DATA"),
        }
        await gql("mutation { evaluateAlerts { id } }", now=now + timedelta(hours=1))
        assert (await one.next_data())["alertEvents"]["state"] == "NO_DATA"


def _serve(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GATEWAY_ADMIN_TOKEN": ADMIN_SECRET,
        "GATEWAY_PORT": str(port),
        "GATEWAY_HOST": "127.0.0.1",
    }
    cli = Path(sys.executable).parent / "analytics-gateway"
    return subprocess.Popen(
        [str(cli), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def _ready(port: int) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"the gateway on port {port} did not come up")


async def test_two_serve_processes_both_push_after_an_ingest_sent_to_one(db, database_url, now):
    ports = [free_port(), free_port()]
    processes = [_serve(database_url, port) for port in ports]
    try:
        await asyncio.gather(*(_ready(port) for port in ports))
        urls = [f"ws://127.0.0.1:{port}/graphql" for port in ports]
        async with subscriber(urls[0]) as first, subscriber(urls[1]) as second:
            for client in (first, second):
                await client.subscribe(ENDPOINT_REQUESTS, {"name": "/multi"})
                assert (await client.next_data())["endpointMetrics"]["requests"] == 0
            rows = [api_request(now, endpoint="/multi"), api_request(now, endpoint="/multi")]
            async with httpx.AsyncClient(headers=ADMIN_HEADERS) as http:
                answer = await http.post(
                    f"http://127.0.0.1:{ports[0]}/graphql",
                    json={"query": INGEST_API_REQUESTS, "variables": {"requests": rows}},
                )
            assert answer.json()["data"]["ingestApiRequests"]["accepted"] == 2
            for client in (first, second):
                assert (await client.next_data())["endpointMetrics"]["requests"] == 2
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
