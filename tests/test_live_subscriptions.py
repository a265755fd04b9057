"""Subscriptions over graphql-transport-ws against a real uvicorn gateway and Postgres."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import text
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from db import notify
from gateway.app import create_app
from gateway.live import LISTENER_NAME
from resolvers.access import READ, Principal
from resolvers.context import GatewayContext
from schema.root import schema
from tests.factories import (
    api_request,
    approx_metrics,
    expected_endpoint_metrics,
    expected_product_metrics,
    ingest_api_requests,
    ingest_product_events,
    product_event,
)
from tests.live_client import served, subscriber

PRODUCT_METRICS = """
subscription($id: ID!, $filter: ProductEventFilter) {
  productMetrics(productId: $id, windowMinutes: 10, filter: $filter) {
    totalEvents errorCount errorRate uniqueUsers
  }
}
"""
ENDPOINT_METRICS = """
subscription($name: String!, $filter: ApiRequestFilter) {
  endpointMetrics(name: $name, windowMinutes: 10, filter: $filter) {
    requests errorRate p95LatencyMs topErrorReason
  }
}
"""
PRODUCT_FIELDS = ("totalEvents", "errorCount", "errorRate", "uniqueUsers")
ENDPOINT_FIELDS = ("requests", "errorRate", "p95LatencyMs", "topErrorReason")


@pytest.fixture
async def gateway(db, settings):
    """A real gateway on a free 127.0.0.1 port, sharing the test database; (url, app)."""
    app = create_app(db, settings, owns_database=False)
    async with served(app) as url:
        yield url, app


def _product(rows):
    return approx_metrics({k: expected_product_metrics(rows)[k] for k in PRODUCT_FIELDS})


def _endpoint(rows):
    return approx_metrics({k: expected_endpoint_metrics(rows)[k] for k in ENDPOINT_FIELDS})


async def test_product_metrics_first_value_at_once_then_after_each_ingest(
    gateway, gql, now, statements
):
    url, _ = gateway
    old = [product_event(now - timedelta(minutes=30), productId="live")]  # outside the window
    rows = [
        product_event(now - timedelta(minutes=m), productId="live", userId=f"u{m % 2}")
        for m in (1, 2, 3)
    ]
    rows.append(product_event(now - timedelta(minutes=4), productId="live", errorCode="E1"))
    await ingest_product_events(gql, old + rows, now)
    async with subscriber(url) as client:
        await client.subscribe(PRODUCT_METRICS, {"id": "live"})
        assert (await client.next_data())["productMetrics"] == _product(rows)
        more = [product_event(now, productId="live", errorCode="E2", userId="u9")]
        await ingest_product_events(gql, more, now)
        assert (await client.next_data())["productMetrics"] == _product(rows + more)
    # Only the selected measures were computed: no percentile for these fields.
    assert not [s for s in statements.statements if "percentile_cont" in s]


async def test_endpoint_metrics_follow_the_filter(gateway, gql, now):
    url, _ = gateway
    rows = [
        api_request(
            now - timedelta(minutes=1),
            endpoint="/live",
            region=region,
            statusCode=code,
            latencyMs=latency,
            errorReason="BOOM",
        )
        for region, code, latency in [("eu", 200, 10.0), ("eu", 500, 30.0), ("us", 500, 90.0)]
    ]
    await ingest_api_requests(gql, rows, now)
    async with subscriber(url) as client:
        await client.subscribe(ENDPOINT_METRICS, {"name": "/live", "filter": {"regions": ["eu"]}})
        eu = [r for r in rows if r["region"] == "eu"]
        assert (await client.next_data())["endpointMetrics"] == _endpoint(eu)
        more = [api_request(now, endpoint="/live", region="eu", statusCode=503, latencyMs=70.0)]
        await ingest_api_requests(gql, more, now)
        assert (await client.next_data())["endpointMetrics"] == _endpoint(eu + more)


async def test_pushes_are_coalesced_to_at_most_one_a_second(gateway, gql, now):
    url, _ = gateway
    async with subscriber(url) as client:
        await client.subscribe(PRODUCT_METRICS, {"id": "burst"})
        assert (await client.next_data())["productMetrics"]["totalEvents"] == 0
        first_at = time.monotonic()
        sent = []
        for n in range(4):
            batch = [product_event(now - timedelta(seconds=n), productId="burst")]
            await ingest_product_events(gql, batch, now)
            sent += batch
        pushes = []
        while True:
            try:
                data = await client.next_data(timeout=2.5)
            except TimeoutError:
                break
            pushes.append((time.monotonic(), data["productMetrics"]["totalEvents"]))
            assert len(pushes) <= 4
    times = [first_at] + [t for t, _ in pushes]
    # The server spaces sends by a full second plus the computation; 0.9 leaves room
    # for the delivery jitter of a loaded machine, far above a burst without a throttle.
    assert all(b - a >= 0.9 for a, b in zip(times, times[1:], strict=False))
    assert pushes[-1][1] == len(sent)
    assert len(pushes) < len(sent)


async def test_an_ingest_for_another_entity_wakes_nobody(gateway, gql, now):
    url, _ = gateway
    async with subscriber(url) as client:
        await client.subscribe(PRODUCT_METRICS, {"id": "quiet"})
        await client.next_data()
        await ingest_product_events(gql, [product_event(now, productId="noisy")], now)
        assert await client.silent_for(1.5)


async def test_a_disconnecting_client_frees_its_subscription(gateway):
    url, app = gateway
    async with subscriber(url) as client:
        await client.subscribe(PRODUCT_METRICS, {"id": "gone"})
        await client.next_data()
        assert app.state.live.subscriptions == 1
    for _ in range(100):
        if app.state.live.subscriptions == 0:
            break
        await asyncio.sleep(0.05)
    assert app.state.live.subscriptions == 0


async def test_a_client_that_does_not_read_does_not_hold_up_others(gateway, gql, now):
    url, _ = gateway
    async with subscriber(url) as idle, subscriber(url) as busy:
        await idle.subscribe(PRODUCT_METRICS, {"id": "shared"})
        await busy.subscribe(PRODUCT_METRICS, {"id": "shared"})
        await busy.next_data()
        for n in range(3):  # the idle client reads nothing while these are pushed
            await ingest_product_events(gql, [product_event(now, productId="shared")], now)
            started = time.monotonic()
            assert (await busy.next_data(timeout=3))["productMetrics"]["totalEvents"] == n + 1
            assert time.monotonic() - started < 2.5


async def test_a_lost_listen_connection_is_restored_with_a_fresh_value(gateway, db, gql, now):
    url, app = gateway
    async with subscriber(url) as client:
        await client.subscribe(PRODUCT_METRICS, {"id": "phoenix"})
        assert (await client.next_data())["productMetrics"]["totalEvents"] == 0
        async with db.write() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": LISTENER_NAME},
            )
        assert killed == 1
        # Nothing was ingested: the fresh value comes from the reconnect itself.
        assert (await client.next_data(timeout=8))["productMetrics"]["totalEvents"] == 0
        assert app.state.live.listening.is_set()
        await ingest_product_events(gql, [product_event(now, productId="phoenix")], now)
        assert (await client.next_data())["productMetrics"]["totalEvents"] == 1


async def test_an_invisible_or_bad_argument_is_an_error_message(gateway):
    url, _ = gateway
    async with subscriber(url) as client:
        await client.subscribe(PRODUCT_METRICS.replace("10", "0"), {"id": "x"})
        message = await client.message()
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "windowMinutes" in errors[0]["message"]


def test_a_notice_too_long_for_notify_names_only_the_kind():
    ids = [f"product-{n:05d}-" + "x" * 60 for n in range(200)]
    assert len(notify.payload("PRODUCT_EVENT", ids[:3]).encode()) < notify.MAX_PAYLOAD_BYTES
    assert notify.parse(notify.payload("PRODUCT_EVENT", ids[:3])) == notify.Notice(
        "PRODUCT_EVENT", frozenset(ids[:3])
    )
    assert notify.parse(notify.payload("PRODUCT_EVENT", ids)) == notify.Notice(
        "PRODUCT_EVENT", None
    )


async def test_a_batch_touching_many_entities_still_wakes_their_watchers(gateway, gql, now):
    url, _ = gateway
    watched = "watched-" + "y" * 60
    async with subscriber(url) as client:
        await client.subscribe(PRODUCT_METRICS, {"id": watched})
        await client.next_data()
        batch = [product_event(now, productId=f"p{n:04d}-" + "x" * 60) for n in range(150)]
        batch.append(product_event(now, productId=watched))
        await ingest_product_events(gql, batch, now)
        assert (await client.next_data())["productMetrics"]["totalEvents"] == 1


async def test_a_subscription_sees_only_what_its_token_may_see(db, settings):
    confined = Principal(token_id="t1", scopes=frozenset({READ}), resource_ids=frozenset({"mine"}))
    context = {"gateway": GatewayContext(db, settings, principal=confined)}
    stream = await schema.subscribe(PRODUCT_METRICS, {"id": "theirs"}, context_value=context)
    first = await anext(stream)
    assert first.errors[0].extensions["code"] == "FORBIDDEN"
    await stream.aclose()


async def test_a_websocket_without_a_valid_secret_in_connection_init_is_refused(gateway):
    url, _ = gateway
    for payload in ({}, {"Authorization": "Bearer not-a-secret"}):
        async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4403
