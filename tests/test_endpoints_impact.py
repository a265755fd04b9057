"""latencyHistogram and businessImpact, checked against values computed here."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta

import pytest

from tests.factories import (
    CONFIGURE_ENDPOINT,
    api_request,
    api_requests_mix,
    endpoint_query,
    ingest_api_requests,
    iso,
    succeeded,
)

NAME = {"name": "/api/orders"}
HISTOGRAM = endpoint_query(
    "latencyHistogram(bucketMs: $width, filter: $filter) { lowerMs upperMs requests successRate }"
).replace("$name: String!", "$name: String!, $width: Float")
IMPACT = endpoint_query(
    "businessImpact(range: $range) { revenueAttribution infrastructureCost avgSessionSeconds "
    "userEngagement score costEfficiency engagementQuality }"
)


@pytest.mark.parametrize("width", [100.0, 250.0, 7.5, 5000.0])
async def test_latency_histogram_counts_requests_per_band(gql, now, width):
    rows = api_requests_mix(now, count=90, seed=12)
    rows.append(api_request(now - timedelta(minutes=1), latencyMs=2 * width))  # on a boundary
    await ingest_api_requests(gql, rows, now)
    bands = defaultdict(list)
    for row in rows:
        bands[math.floor(row["latencyMs"] / width)].append(row)
    expected = [
        {
            "lowerMs": pytest.approx(k * width),
            "upperMs": pytest.approx((k + 1) * width),
            "requests": len(bands[k]),
            "successRate": pytest.approx(sum(map(succeeded, bands[k])) / len(bands[k])),
        }
        for k in sorted(bands)
    ]
    data = await gql(HISTOGRAM, NAME | {"width": width}, now=now)
    assert data["endpoint"]["latencyHistogram"] == expected


async def test_latency_histogram_defaults_to_100_ms_and_takes_filters(gql, now):
    rows = [
        api_request(now - timedelta(minutes=1), latencyMs=value, region=region)
        for value, region in [(0.0, "a"), (99.9, "a"), (100.0, "a"), (450.0, "b"), (120.0, "b")]
    ]
    await ingest_api_requests(gql, rows, now)
    data = await gql(HISTOGRAM, NAME | {"filter": {"regions": ["a"]}}, now=now)
    assert [
        (b["lowerMs"], b["upperMs"], b["requests"]) for b in data["endpoint"]["latencyHistogram"]
    ] == [(0.0, 100.0, 2), (100.0, 200.0, 1)]


@pytest.mark.parametrize("width", [0.0, -10.0])
async def test_latency_histogram_rejects_a_bucket_width_that_is_not_positive(gql, now, width):
    await ingest_api_requests(gql, [api_request(now - timedelta(minutes=1))], now)
    [error] = await gql.errors(HISTOGRAM, NAME | {"width": width})
    assert "bucketMs must be above 0" in error.message
    assert error.extensions["code"] == "BAD_USER_INPUT"


def session_rows(now):
    """Three sessions (90 s, 0 s, 600 s long) of two users, plus requests without a
    session and one session request outside the range."""
    start = now - timedelta(hours=2)
    plan = [
        (0, "s1", "u1", 200),
        (30, "s1", "u1", 500),
        (90, "s1", "u1", 201),
        (40, "s2", "u2", 200),
        (100, "s3", "u2", 404),
        (700, "s3", None, 200),
        (5, None, "u3", 200),
        (7000, None, None, 503),
    ]
    rows = [
        api_request(start + timedelta(seconds=s), sessionId=sid, userId=uid, statusCode=code)
        for s, sid, uid, code in plan
    ]
    outside = api_request(now - timedelta(days=3), sessionId="s2", userId="u9")
    return rows, outside


def impact_of(rows, order_value, unit_cost, session_seconds):
    """The contract's BusinessImpact formulas, computed the plain way."""
    successes = sum(1 for r in rows if succeeded(r))
    users = len({r["userId"] for r in rows if r["userId"] is not None})
    revenue = None if order_value is None else successes * order_value
    cost = None if unit_cost is None else len(rows) * unit_cost
    engagement = None if session_seconds is None else users * session_seconds

    def ratio(numerator, divisor):
        if numerator is None or not divisor:
            return None
        return pytest.approx(numerator / divisor)

    blended = None if revenue is None or engagement is None else 0.6 * revenue + 0.4 * engagement
    return {
        "revenueAttribution": revenue,
        "infrastructureCost": cost,
        "avgSessionSeconds": session_seconds,
        "userEngagement": engagement,
        "score": ratio(blended, cost),
        "costEfficiency": ratio(revenue, cost),
        "engagementQuality": ratio(engagement, len(rows)),
    }


async def test_business_impact_follows_the_contract_formulas(gql, now):
    rows, outside = session_rows(now)
    await ingest_api_requests(gql, [*rows, outside], now)
    config = {"name": "/api/orders", "avgOrderValue": 20.0, "costPerRequest": 0.05}
    await gql(CONFIGURE_ENDPOINT, {"input": config}, now=now)
    data = await gql(IMPACT, NAME | {"range": {"from": iso(now - timedelta(days=1))}}, now=now)
    expected = impact_of(rows, 20.0, 0.05, (90 + 0 + 600) / 3)
    assert data["endpoint"]["businessImpact"] == pytest.approx(expected)


async def test_business_impact_without_config_leaves_money_unknown(gql, now):
    rows, _ = session_rows(now)
    await ingest_api_requests(gql, rows, now)
    data = await gql(IMPACT, NAME, now=now)
    assert data["endpoint"]["businessImpact"] == pytest.approx(impact_of(rows, None, None, 230.0))
    assert data["endpoint"]["businessImpact"]["score"] is None


async def test_business_impact_ratios_are_null_when_cost_is_zero(gql, now):
    rows, _ = session_rows(now)
    await ingest_api_requests(gql, rows, now)
    config = {"name": "/api/orders", "avgOrderValue": 5.0, "costPerRequest": 0.0}
    await gql(CONFIGURE_ENDPOINT, {"input": config}, now=now)
    impact = (await gql(IMPACT, NAME, now=now))["endpoint"]["businessImpact"]
    assert impact["infrastructureCost"] == 0.0
    assert impact["score"] is None
    assert impact["costEfficiency"] is None
    assert impact["revenueAttribution"] == 5.0 * sum(1 for r in rows if succeeded(r))


async def test_business_impact_over_an_empty_range_has_no_sessions(gql, now):
    await ingest_api_requests(gql, [api_request(now - timedelta(minutes=1), sessionId="s")], now)
    config = {"name": "/api/orders", "avgOrderValue": 5.0, "costPerRequest": 0.1}
    await gql(CONFIGURE_ENDPOINT, {"input": config}, now=now)
    empty = {"from": iso(now - timedelta(days=5)), "to": iso(now - timedelta(days=4))}
    impact = (await gql(IMPACT, NAME | {"range": empty}, now=now))["endpoint"]["businessImpact"]
    assert impact == impact_of([], 5.0, 0.1, None)
