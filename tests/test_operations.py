"""Operations: /metrics in Prometheus text format, JSON log lines with request ids."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway import logs
from gateway.app import create_app
from tests.factories import ADMIN_HEADERS, INGEST_PRODUCT_EVENTS, product_event
from tests.live_client import served, subscriber


async def scrape(
    client: httpx.AsyncClient, url: str = "/metrics"
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels), parsed by prometheus_client."""
    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_metrics_count_graphql_operations_by_name_and_outcome(client):
    ok = ("gateway_graphql_requests_total", (("operation", "StatsNow"), ("outcome", "ok")))
    bad = ("gateway_graphql_requests_total", (("operation", "Broken"), ("outcome", "error")))
    before = await scrape(client)
    for _ in range(3):
        await client.post("/graphql", json={"query": "query StatsNow { stats { products } }"})
    await client.post("/graphql", json={"query": "query Broken { stats { nope } }"})
    after = await scrape(client)
    assert after[ok] - before.get(ok, 0) == 3
    assert after[bad] - before.get(bad, 0) == 1
    latency = ("gateway_graphql_request_seconds_count", ok[1])
    assert after[latency] - before.get(latency, 0) == 3


async def test_metrics_count_ingested_rows_by_kind_and_outcome(client, now):
    events = [product_event(now, eventId="a"), product_event(now, eventId="a")]
    events.append(product_event(now, eventId="b", productId=""))
    key = "gateway_ingest_rows_total"
    before = await scrape(client)
    response = await client.post(
        "/graphql", json={"query": INGEST_PRODUCT_EVENTS, "variables": {"events": events}}
    )
    assert response.json()["data"]["ingestProductEvents"]["accepted"] == 1
    # The NDJSON endpoint counts too: one new row, the stored one again, a bad line.
    lines = [
        {"event_id": "c", "timestamp": now.isoformat(), "product_id": "p", "event_type": "x"},
        {"event_id": "a", **{k: events[0][c] for k, c in _SNAKE.items()}},
        {"event_id": "d", "timestamp": now.isoformat(), "product_id": "p"},
    ]
    body = b"\n".join(json.dumps(line).encode() for line in lines)
    sent = await client.post("/v0/events", params={"name": "product_events"}, content=body)
    assert sent.json()["successful_rows"] == 1
    after = await scrape(client)
    for outcome in ("accepted", "duplicate", "rejected"):
        labels = (("kind", "PRODUCT_EVENT"), ("outcome", outcome))
        assert after[(key, labels)] - before.get((key, labels), 0) == 2, outcome


_SNAKE = {"timestamp": "timestamp", "product_id": "productId", "event_type": "eventType"}


async def test_metrics_report_pool_and_open_subscriptions(db, settings):
    app = create_app(db, settings, owns_database=False)
    async with served(app) as url:
        metrics = url.replace("ws://", "http://").replace("/graphql", "/metrics")
        async with httpx.AsyncClient(headers=ADMIN_HEADERS) as http:

            async def open_now() -> float:
                samples = await scrape(http, metrics)
                assert samples[("gateway_db_pool_waiting", ())] == 0
                return samples[("gateway_subscriptions_open", ())]

            before = await open_now()
            async with subscriber(url) as first, subscriber(url) as second:
                for client in (first, second):
                    await client.subscribe(_PRODUCT_METRICS, {"id": "watched"})
                    await client.next_data()
                assert await open_now() == before + 2
            # Closing a websocket ends its subscription on the server shortly after.
            for _ in range(50):
                if await open_now() == before:
                    break
                await asyncio.sleep(0.1)
            assert await open_now() == before


_PRODUCT_METRICS = """
subscription($id: ID!) { productMetrics(productId: $id, windowMinutes: 10) { totalEvents } }
"""


async def test_metrics_need_a_token(client):
    response = await client.get("/metrics", headers={"Authorization": ""})
    assert response.status_code == 401


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """JSON log lines into a buffer, the previous logging setup restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    buffer = io.StringIO()
    logs.configure("json", stream=buffer)
    yield buffer
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


async def test_json_log_lines_carry_the_request_id(client, json_logs):
    response = await client.get("/healthz", headers={"X-Request-ID": "req-42"})
    assert response.headers["x-request-id"] == "req-42"
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    [access] = [line for line in lines if line["logger"] == "gateway.http"]
    assert access["request_id"] == "req-42"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/healthz", 200)


async def test_every_request_gets_an_id_when_it_sent_none(client):
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
