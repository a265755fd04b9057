"""ingestApiRequests and configureEndpoint: the ingest guarantees, per-row rejections,
endpoint registration and configuration."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from db.tables import api_requests, quarantine
from tests.factories import (
    CONFIGURE_ENDPOINT,
    INGEST_API_REQUESTS,
    api_request,
    endpoint_query,
    ingest_api_requests,
    iso,
)

ENDPOINT = endpoint_query("name firstSeen lastSeen config { avgOrderValue }")


async def ingest(gql, rows, now):
    return (await gql(INGEST_API_REQUESTS, {"requests": rows}, now=now))["ingestApiRequests"]


async def stored(db):
    async with db.read() as conn:
        rows = (await conn.execute(select(api_requests))).mappings()
        return {row["request_id"]: dict(row) for row in rows}


async def test_requests_are_stored_with_every_field_and_get_defaults(gql, db, now):
    full = api_request(
        now - timedelta(minutes=2),
        method="POST",
        statusCode=503,
        latencyMs=812.5,
        region="eu-west",
        deviceType="mobile",
        documentType="invoice",
        errorReason="UPSTREAM_TIMEOUT",
        userId="u1",
        sessionId="s1",
    )
    bare = api_request(now - timedelta(minutes=1), errorReason="IGNORED")
    assert await ingest(gql, [full, bare], now) == {"accepted": 2, "duplicates": 0, "rejected": []}
    rows = await stored(db)
    assert rows[full["requestId"]] | {"received_at": None} == {
        "request_id": full["requestId"],
        "endpoint": "/api/orders",
        "ts": now - timedelta(minutes=2),
        "method": "POST",
        "status_code": 503,
        "latency_ms": 812.5,
        "region": "eu-west",
        "device_type": "mobile",
        "document_type": "invoice",
        "error_reason": "UPSTREAM_TIMEOUT",
        "user_id": "u1",
        "session_id": "s1",
        "received_at": None,
    }
    assert rows[bare["requestId"]]["method"] == "GET"
    assert rows[bare["requestId"]]["error_reason"] is None  # ignored for a success


async def test_same_request_id_is_a_duplicate_within_and_across_batches_first_write_wins(
    gql, db, now
):
    first = api_request(now - timedelta(minutes=3), latencyMs=10.0)
    again = dict(first, latencyMs=99.0)
    assert await ingest(gql, [first, again], now) == {
        "accepted": 1,
        "duplicates": 1,
        "rejected": [],
    }
    other = api_request(now - timedelta(minutes=1))
    assert await ingest(gql, [again, other], now) == {
        "accepted": 1,
        "duplicates": 1,
        "rejected": [],
    }
    assert (await stored(db))[first["requestId"]]["latency_ms"] == 10.0


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"statusCode": 99}, "statusCode", "100..599"),
        ({"statusCode": 600}, "statusCode", "100..599"),
        ({"latencyMs": -0.5}, "latencyMs", "negative"),
        ({"endpoint": ""}, "endpoint", "empty"),
        ({"endpoint": "   "}, "endpoint", "empty"),
        ({"requestId": ""}, "requestId", "empty"),
        ({"method": ""}, "method", "empty"),
        ({"ahead": timedelta(minutes=5, seconds=1)}, "timestamp", "ahead"),
    ],
)
async def test_invalid_rows_are_rejected_per_row_and_quarantined(
    gql, db, now, change, field, fragment
):
    bad = api_request(now - timedelta(minutes=1), **change)
    if "ahead" in change:
        bad = api_request(now + bad.pop("ahead"))
    good = api_request(now - timedelta(minutes=1))
    result = await ingest(gql, [good, bad], now)
    assert result["accepted"] == 1
    assert result["duplicates"] == 0
    [rejection] = result["rejected"]
    assert rejection["index"] == 1
    assert rejection["field"] == field
    assert fragment in rejection["message"]
    async with db.read() as conn:
        [kept] = (await conn.execute(select(quarantine))).mappings()
    assert kept["kind"] == "API_REQUEST"
    assert kept["field"] == field
    assert kept["raw"]["requestId"] == bad["requestId"]
    assert set(await stored(db)) == {good["requestId"]}


async def test_boundary_values_are_accepted(gql, now):
    rows = [
        api_request(now - timedelta(minutes=1), statusCode=100, latencyMs=0.0),
        api_request(now - timedelta(minutes=1), statusCode=599),
        api_request(now + timedelta(minutes=5)),
    ]
    assert (await ingest_api_requests(gql, rows, now))["accepted"] == 3


async def test_ingest_registers_endpoints_with_first_and_last_seen(gql, now):
    times = [now - timedelta(hours=h) for h in (5, 1, 3)]
    await ingest_api_requests(gql, [api_request(t) for t in times], now)
    await ingest_api_requests(gql, [api_request(now - timedelta(hours=9))], now)
    data = await gql(ENDPOINT, {"name": "/api/orders"}, now=now)
    assert data["endpoint"] == {
        "name": "/api/orders",
        "firstSeen": iso(now - timedelta(hours=9)),
        "lastSeen": iso(now - timedelta(hours=1)),
        "config": None,
    }
    assert (await gql(ENDPOINT, {"name": "/api/unknown"}, now=now))["endpoint"] is None


async def test_configure_creates_an_unseen_endpoint_and_ingest_keeps_its_config(gql, now):
    config = {"name": "/api/new", "avgOrderValue": 25.0, "costPerRequest": 0.01}
    made = (await gql(CONFIGURE_ENDPOINT, {"input": config}, now=now))["configureEndpoint"]
    assert made == {
        "name": "/api/new",
        "firstSeen": None,
        "lastSeen": None,
        "config": {"avgOrderValue": 25.0, "costPerRequest": 0.01, "revenueCritical": False},
    }
    seen_at = now - timedelta(minutes=4)
    await ingest_api_requests(gql, [api_request(seen_at, endpoint="/api/new")], now)
    data = await gql(ENDPOINT, {"name": "/api/new"}, now=now)
    assert data["endpoint"]["firstSeen"] == iso(seen_at)
    assert data["endpoint"]["lastSeen"] == iso(seen_at)
    assert data["endpoint"]["config"] == {"avgOrderValue": 25.0}


async def test_configure_replaces_the_whole_configuration(gql, now):
    first = {"name": "/x", "avgOrderValue": 3.0, "costPerRequest": 1.0, "revenueCritical": True}
    await gql(CONFIGURE_ENDPOINT, {"input": first}, now=now)
    second = {"name": "/x", "costPerRequest": 2.0}
    made = (await gql(CONFIGURE_ENDPOINT, {"input": second}, now=now))["configureEndpoint"]
    assert made["config"] == {
        "avgOrderValue": None,
        "costPerRequest": 2.0,
        "revenueCritical": False,
    }


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"name": ""}, "input.name"),
        ({"name": "  "}, "input.name"),
        ({"name": "/x", "avgOrderValue": -1.0}, "avgOrderValue must not be negative"),
        ({"name": "/x", "costPerRequest": -0.01}, "costPerRequest must not be negative"),
    ],
)
async def test_configure_rejects_bad_input_clearly(gql, config, fragment):
    [error] = await gql.errors(CONFIGURE_ENDPOINT, {"input": config})
    assert fragment in error.message
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert (await gql(ENDPOINT, {"name": config["name"]}))["endpoint"] is None
