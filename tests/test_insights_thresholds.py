"""When an insight is reported, how severe it is, and in which order (contract: insights).

Each boundary is tested exactly at its value (">=" means reported) wherever the answer
is exact: errorRate always (counts are exact), percentiles in windows the rollups cannot
answer (no whole UTC hour in either), where they are percentile_cont itself. In the
default windows percentiles come from sketches within 1% (README, percentile bound), so
the values tested there stand clear of each boundary by more than that.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.factories import (
    PERCENTILE_TOLERANCE,
    change_span,
    endpoint_query,
    ingest_api_requests,
    ingest_product_events,
    iso,
    product_event,
    request_block,
    within,
)

NOW_AGE = timedelta(hours=2)
THEN_AGE = timedelta(days=3)
BRIEF = "insights(minChange: $minChange, minRows: $minRows) { measure direction severity change }"
ENDPOINT_BRIEF = endpoint_query(BRIEF).replace(
    "query($name: String!", "query($name: String!, $minChange: Float, $minRows: Int"
)


EXACT_BRIEF = endpoint_query(
    BRIEF.replace("insights(", "insights(range: $range, baseline: $baseline, ")
).replace(
    "query($name: String!",
    "query($name: String!, $minChange: Float, $minRows: Int, $baseline: TimeRange",
)


async def endpoint_insights(gql, now, min_change=0.2, min_rows=100):
    variables = {"name": "/api/orders", "minChange": min_change, "minRows": min_rows}
    return (await gql(ENDPOINT_BRIEF, variables, now=now))["endpoint"]["insights"]


def sub_hour(now: datetime, age: timedelta) -> tuple[dict[str, str], datetime]:
    """A 40-minute window inside one UTC hour, `age` before the last whole hour (so no
    rollup answers it), and the time 100 requests made before it end inside it."""
    hour = now.replace(minute=0, second=0) - age
    window = {"from": iso(hour + timedelta(minutes=10)), "to": iso(hour + timedelta(minutes=50))}
    return window, hour + timedelta(minutes=30)


async def exact_endpoint_insights(gql, now, latency_now, latency_then, min_change=0.2):
    """The insights of 100 requests at latency_now against 100 at latency_then, in
    windows without a whole UTC hour: their percentiles are exact."""
    current, current_rows_at = sub_hour(now, NOW_AGE)
    baseline, baseline_rows_at = sub_hour(now, THEN_AGE)
    rows = request_block(current_rows_at, timedelta(0), 100, latency=lambda i: latency_now)
    rows += request_block(baseline_rows_at, timedelta(0), 100, latency=lambda i: latency_then)
    await ingest_api_requests(gql, rows, now)
    variables = {"name": "/api/orders", "minChange": min_change, "minRows": 100}
    variables |= {"range": current, "baseline": baseline}
    return (await gql(EXACT_BRIEF, variables, now=now))["endpoint"]["insights"]


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
    found = await exact_endpoint_insights(gql, now, latency_now, 100.0, min_change=0.2)
    assert [i["measure"] for i in found] == (["p95LatencyMs"] if reported else [])


@pytest.mark.parametrize(("latency_now", "reported"), [(125.0, True), (115.0, False)])
async def test_sketched_percentile_change_clear_of_min_change_is_decided_alike(
    gql, now, latency_now, reported
):
    low, high = change_span(latency_now, 100.0)
    assert (low >= 0.2) if reported else (high < 0.2)  # clear of the boundary
    rows = request_block(now, NOW_AGE, 100, latency=lambda i: latency_now) + request_block(
        now, THEN_AGE, 100, latency=lambda i: 100.0
    )
    await ingest_api_requests(gql, rows, now)
    found = await endpoint_insights(gql, now, min_change=0.2)
    assert [i["measure"] for i in found] == (["p95LatencyMs"] if reported else [])


def severity_of(direction: str, change: float) -> str:
    if direction == "IMPROVEMENT":
        return "INFO"
    return "CRITICAL" if change >= 1 else "WARNING" if change >= 0.5 else "INFO"


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
    [found] = await exact_endpoint_insights(gql, now, latency_now, 100.0)
    assert found == {
        "measure": "p95LatencyMs",
        "direction": direction,
        "severity": severity,
        "change": pytest.approx(latency_now / 100.0 - 1),
    }


@pytest.mark.parametrize(
    ("latency_now", "direction", "severity"),
    [
        (205.0, "REGRESSION", "CRITICAL"),
        (190.0, "REGRESSION", "WARNING"),
        (155.0, "REGRESSION", "WARNING"),
        (145.0, "REGRESSION", "INFO"),
        (30.0, "IMPROVEMENT", "INFO"),
    ],
)
async def test_sketched_severity_clear_of_its_boundaries_is_decided_alike(
    gql, now, latency_now, direction, severity
):
    span = change_span(latency_now, 100.0)
    assert {severity_of(direction, change) for change in span} == {severity}  # clear
    rows = request_block(now, NOW_AGE, 100, latency=lambda i: latency_now) + request_block(
        now, THEN_AGE, 100, latency=lambda i: 100.0
    )
    await ingest_api_requests(gql, rows, now)
    [found] = await endpoint_insights(gql, now)
    assert (found["measure"], found["direction"], found["severity"]) == (
        "p95LatencyMs",
        direction,
        severity,
    )
    assert within(found["change"], span)


def approx(percentile: float):
    return pytest.approx(percentile, rel=PERCENTILE_TOLERANCE)


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
    # Percentiles of whole hours and days come from sketches, within 1%.
    assert found == {"current": approx(200.0), "baseline": approx(100.0)}
    explicit = {"from": iso(start - timedelta(days=7)), "to": iso(start - timedelta(days=6))}
    [found] = (await gql(WINDOWS, variables | {"baseline": explicit}, now=now))["endpoint"][
        "insights"
    ]
    assert found == {"current": approx(200.0), "baseline": approx(100.0)}
    # The default baseline follows range.from: a week earlier, it holds the 5000 ms rows.
    moved = {"range": {"from": iso(start - timedelta(days=7)), "to": iso(start)}}
    [found] = (await gql(WINDOWS, variables | moved, now=now))["endpoint"]["insights"]
    assert found == {"current": approx(100.0), "baseline": approx(5000.0)}


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
