"""When an insight is reported, how severe it is, and in which order (contract: insights).

Each boundary is tested exactly at its value: ">=" means reported.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import (
    endpoint_query,
    ingest_api_requests,
    ingest_product_events,
    iso,
    product_event,
    request_block,
)

NOW_AGE = timedelta(hours=2)
THEN_AGE = timedelta(days=3)
BRIEF = "insights(minChange: $minChange, minRows: $minRows) { measure direction severity change }"
ENDPOINT_BRIEF = endpoint_query(BRIEF).replace(
    "query($name: String!", "query($name: String!, $minChange: Float, $minRows: Int"
)


async def endpoint_insights(gql, now, min_change=0.2, min_rows=100):
    variables = {"name": "/api/orders", "minChange": min_change, "minRows": min_rows}
    return (await gql(ENDPOINT_BRIEF, variables, now=now))["endpoint"]["insights"]


@pytest.mark.parametrize(
    ("now_rows", "then_rows", "reported"),
    [(100, 100, True), (99, 100, False), (100, 99, False)],
)
async def test_both_windows_need_min_rows(gql, now, now_rows, then_rows, reported):
    rows = request_block(now, NOW_AGE, now_rows, 50) + request_block(now, THEN_AGE, then_rows, 5)
    await ingest_api_requests(gql, rows, now)
    found = await endpoint_insights(gql, now, min_rows=100)
    assert [i["measure"] for i in found] == (["errorRate"] if reported else [])


@pytest.mark.parametrize(
    ("errors_now", "min_change", "reported"),
    [
        (12, 0.2, True),  # 0.12 - 0.10 = 0.02 = 0.2 * 0.10: at the relative boundary
        (11, 0.2, False),  # 0.01 is under 0.2 * 0.10
        (11, 0.1, True),  # 0.01 = 0.1 * 0.10 = the absolute minimum: at both boundaries
        (8, 0.2, True),  # a fall of 0.02 counts the same way
        (9, 0.2, False),
    ],
)
async def test_error_rate_change_must_reach_min_change(gql, now, errors_now, min_change, reported):
    rows = request_block(now, NOW_AGE, 100, errors_now) + request_block(now, THEN_AGE, 100, 10)
    await ingest_api_requests(gql, rows, now)
    found = await endpoint_insights(gql, now, min_change=min_change)
    assert [i["measure"] for i in found] == (["errorRate"] if reported else [])


@pytest.mark.parametrize(("now_count", "reported"), [(100, True), (101, False)])
async def test_error_rate_change_must_reach_one_point_even_from_zero(gql, now, now_count, reported):
    rows = request_block(now, NOW_AGE, now_count, 1) + request_block(now, THEN_AGE, 100, 0)
    await ingest_api_requests(gql, rows, now)
    found = await endpoint_insights(gql, now, min_change=0.0)
    expected = {"measure": "errorRate", "direction": "REGRESSION", "severity": "CRITICAL"}
    # The baseline is 0, so change is null and the rise counts as the largest.
    assert found == ([expected | {"change": None}] if reported else [])


@pytest.mark.parametrize(("latency_now", "reported"), [(120.0, True), (119.99, False)])
async def test_percentile_change_must_reach_min_change(gql, now, latency_now, reported):
    rows = request_block(now, NOW_AGE, 100, latency=lambda i: latency_now) + request_block(
        now, THEN_AGE, 100, latency=lambda i: 100.0
    )
    await ingest_api_requests(gql, rows, now)
    found = await endpoint_insights(gql, now, min_change=0.2)
    assert [i["measure"] for i in found] == (["p95LatencyMs"] if reported else [])


@pytest.mark.parametrize(
    ("latency_now", "direction", "severity"),
    [
        (200.0, "REGRESSION", "CRITICAL"),  # change exactly 1
        (150.0, "REGRESSION", "WARNING"),  # change exactly 0.5
        (149.9, "REGRESSION", "INFO"),
        (30.0, "IMPROVEMENT", "INFO"),  # -70%: an improvement is always INFO
    ],
)
async def test_severity_follows_the_size_of_a_regression(
    gql, now, latency_now, direction, severity
):
    rows = request_block(now, NOW_AGE, 100, latency=lambda i: latency_now) + request_block(
        now, THEN_AGE, 100, latency=lambda i: 100.0
    )
    await ingest_api_requests(gql, rows, now)
    [found] = await endpoint_insights(gql, now)
    assert found == {
        "measure": "p95LatencyMs",
        "direction": direction,
        "severity": severity,
        "change": pytest.approx(latency_now / 100.0 - 1),
    }


def shop_events(now, age, errors, page_load, api_latency, count=100):
    return [
        product_event(
            now - age - timedelta(seconds=i),
            isError=i < errors,
            pageLoadTimeMs=page_load,
            apiLatencyMs=api_latency,
        )
        for i in range(count)
    ]


ALL_INSIGHTS = """
query($first: Int) { insights(first: $first) { target targetId measure direction severity } }
"""


async def test_insights_come_regressions_first_then_severity_change_target_and_id(gql, now):
    def endpoint(name, errors, latency):
        return [
            request_block(
                now, age, 100, errors[k], latency=lambda i, v=latency[k]: v, endpoint=name
            )
            for k, age in enumerate((NOW_AGE, THEN_AGE))
        ]

    blocks = [
        *endpoint("/api/a", (5, 20), (160.0, 100.0)),  # p95 +60%, errorRate -75%
        *endpoint("/api/b", (0, 0), (160.0, 100.0)),  # p95 +60%
        *endpoint("/api/c", (6, 2), (100.0, 100.0)),  # errorRate +200%
    ]
    await ingest_api_requests(gql, [r for block in blocks for r in block], now)
    shop = shop_events(now, NOW_AGE, 6, 130.0, 100.0) + shop_events(now, THEN_AGE, 2, 100.0, 200.0)
    await ingest_product_events(gql, shop, now)

    expected = [
        ("ENDPOINT", "/api/c", "errorRate", "REGRESSION", "CRITICAL"),
        ("PRODUCT", "shop", "errorRate", "REGRESSION", "CRITICAL"),
        ("ENDPOINT", "/api/a", "p95LatencyMs", "REGRESSION", "WARNING"),
        ("ENDPOINT", "/api/b", "p95LatencyMs", "REGRESSION", "WARNING"),
        ("PRODUCT", "shop", "p95PageLoadTimeMs", "REGRESSION", "INFO"),
        ("ENDPOINT", "/api/a", "errorRate", "IMPROVEMENT", "INFO"),
        ("PRODUCT", "shop", "p95ApiLatencyMs", "IMPROVEMENT", "INFO"),
    ]
    found = (await gql(ALL_INSIGHTS, {"first": 20}, now=now))["insights"]
    assert [tuple(i.values()) for i in found] == expected
    first_three = (await gql(ALL_INSIGHTS, {"first": 3}, now=now))["insights"]
    assert [tuple(i.values()) for i in first_three] == expected[:3]
    per_entity = endpoint_query("insights { measure }")
    assert (await gql(per_entity, {"name": "/api/a"}, now=now))["endpoint"]["insights"] == [
        {"measure": "p95LatencyMs"},
        {"measure": "errorRate"},
    ]


WINDOWS = endpoint_query(
    "insights(range: $range, baseline: $baseline) { current baseline }"
).replace("query($name: String!", "query($name: String!, $baseline: TimeRange")


async def test_default_windows_are_the_last_day_and_the_seven_days_before_it(gql, now):
    start = now - timedelta(hours=24)

    def at(when, latency, count=100):
        return request_block(now, NOW_AGE, count, latency=lambda i: latency, timestamp=iso(when))

    rows = at(start, 200.0) + at(start - timedelta(days=7), 100.0)
    # Outside both windows: just before the baseline, and `now` itself (ranges are half-open).
    rows += at(start - timedelta(days=7, seconds=1), 5000.0) + at(now, 9000.0, count=10)
    await ingest_api_requests(gql, rows, now)
    variables = {"name": "/api/orders", "range": None, "baseline": None}
    [found] = (await gql(WINDOWS, variables, now=now))["endpoint"]["insights"]
    assert found == {"current": 200.0, "baseline": 100.0}
    explicit = {"from": iso(start - timedelta(days=7)), "to": iso(start - timedelta(days=6))}
    [found] = (await gql(WINDOWS, variables | {"baseline": explicit}, now=now))["endpoint"][
        "insights"
    ]
    assert found == {"current": 200.0, "baseline": 100.0}
    # The default baseline follows range.from: a week earlier, it holds the 5000 ms rows.
    moved = {"range": {"from": iso(start - timedelta(days=7)), "to": iso(start)}}
    [found] = (await gql(WINDOWS, variables | moved, now=now))["endpoint"]["insights"]
    assert found == {"current": 100.0, "baseline": 5000.0}


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ("minChange: -0.1", "minChange"),
        ("minRows: -1", "minRows"),
        ('range: {from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z"}', "range"),
        ('baseline: {from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z"}', "baseline"),
        ("first: -1", "first"),
        ("first: 100000", "first"),
    ],
)
async def test_bad_insight_arguments_are_refused_with_their_name(gql, arguments, argument):
    [error] = await gql.errors(f"{{ insights({arguments}) {{ measure }} }}")
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert error.extensions["argument"] == argument
