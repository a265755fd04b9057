"""Insights name the slice that changed: causes, shares, contributions and the words,
against values computed here from the rows the test made (contract: insights section)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.factories import (
    ENDPOINT_DIMENSIONS,
    INSIGHT_FIELDS,
    PERCENTILE_TOLERANCE,
    PRODUCT_DIMENSIONS,
    change_span,
    endpoint_query,
    error_rate_of,
    expected_causes,
    ingest_api_requests,
    ingest_product_events,
    percentile_cont,
    percentile_span,
    product_event,
    product_query,
    request_block,
    slice_value,
    succeeded,
    within,
)

NOW_AGE = timedelta(hours=2)  # inside the default current window, the last 24 hours
THEN_AGE = timedelta(days=3)  # inside the default baseline, the 7 days before it
ENDPOINT_INSIGHTS = endpoint_query(f"insights {{ {INSIGHT_FIELDS} }}")


def failed(row: dict[str, Any]) -> bool:
    return not succeeded(row)


def p95_latency(rows):
    return percentile_cont([r["latencyMs"] for r in rows], 0.95)


def approx_causes(causes):
    return [
        {k: pytest.approx(v) if isinstance(v, float) else v for k, v in c.items()} for c in causes
    ]


async def test_error_rate_causes_are_the_additive_slices_of_the_rise(gql, now):
    now_rows = request_block(
        now, NOW_AGE, 100, 32, ("CARD_DECLINED", "CARD_DECLINED", "TIMEOUT"), region="ap-south"
    ) + request_block(now, NOW_AGE, 100, 16, region="us-east")
    then_rows = request_block(now, THEN_AGE, 100, 4, region="ap-south") + request_block(
        now, THEN_AGE, 100, 4, region="us-east"
    )
    await ingest_api_requests(gql, now_rows + then_rows, now)

    [insight] = (await gql(ENDPOINT_INSIGHTS, {"name": "/api/orders"}, now=now))["endpoint"][
        "insights"
    ]

    def level(rows):
        return error_rate_of(rows, failed)

    current, baseline = level(now_rows), level(then_rows)
    causes, sums = expected_causes(now_rows, then_rows, ENDPOINT_DIMENSIONS, level, failed)
    assert sums == pytest.approx(dict.fromkeys(ENDPOINT_DIMENSIONS, 1.0))
    assert insight["causes"] == approx_causes(causes[:3])
    assert [(c["dimension"], c["value"]) for c in insight["causes"][:2]] == [
        ("REGION", "ap-south"),
        ("REGION", "us-east"),
    ]
    assert sum(c["contribution"] for c in insight["causes"][:2]) == pytest.approx(1.0)
    change = current / baseline - 1
    assert insight | {"causes": None} == {
        "target": "ENDPOINT",
        "targetId": "/api/orders",
        "measure": "errorRate",
        "direction": "REGRESSION",
        "severity": "CRITICAL",
        "current": pytest.approx(current),
        "baseline": pytest.approx(baseline),
        "change": pytest.approx(change),
        "causes": None,
        "message": f"Error rate rose from {baseline * 100:.1f}% to {current * 100:.1f}% "
        f"({change * 100:+.0f}%); REGION ap-south explains "
        f"{causes[0]['contribution'] * 100:.0f}% of the rise.",
        "recommendation": "CARD_DECLINED is the most common failure in REGION ap-south: "
        "check the routing and upstream providers that serve ap-south.",
    }


def ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def approx_percentile(value):
    return None if value is None else pytest.approx(value, rel=PERCENTILE_TOLERANCE)


def contribution_span(share, slice_now, slice_then, current, baseline):
    """Where share * (slice current - slice baseline) / (current - baseline) may lie when
    each percentile is within the sketch bound (contract: InsightCause.contribution)."""
    if slice_now is None:
        return 0.0, 0.0
    now_low, now_high = percentile_span(slice_now)
    then_low, then_high = percentile_span(baseline if slice_then is None else slice_then)
    delta_low = percentile_span(current)[0] - percentile_span(baseline)[1]
    delta_high = percentile_span(current)[1] - percentile_span(baseline)[0]
    assert delta_low > 0, "the test's rise must stand clear of the sketch bound"
    ends = [
        share * moved / delta
        for moved in (now_low - then_high, now_high - then_low)
        for delta in (delta_low, delta_high)
    ]
    return min(ends), max(ends)


def check_percentile_causes(found, now_rows, then_rows, dimensions, level):
    """The causes are the slices with the largest contributions, each number within the
    sketch bound of its value over the rows, in the contract's order of the numbers shown.

    Returns the expected causes, largest first, each with its contribution's span."""
    current, baseline = level(now_rows), level(then_rows)
    spans = {}
    for dimension, field in dimensions.items():
        for value in {slice_value(r, field) for r in now_rows + then_rows}:
            s_now = [r for r in now_rows if slice_value(r, field) == value]
            s_then = [r for r in then_rows if slice_value(r, field) == value]
            share = len(s_now) / len(now_rows)
            slice_now, slice_then = level(s_now), level(s_then)
            span = contribution_span(share, slice_now, slice_then, current, baseline)
            spans[dimension, value] = (slice_now, slice_then, share, span)
    for cause in found:
        slice_now, slice_then, share, span = spans[cause["dimension"], cause["value"]]
        assert cause["current"] == approx_percentile(slice_now)
        assert cause["baseline"] == approx_percentile(slice_then)
        assert cause["share"] == pytest.approx(share)
        assert cause["contribution"] > 0, cause
        assert within(cause["contribution"], span), cause
    order = [(-c["contribution"], c["dimension"], c["value"]) for c in found]
    assert order == sorted(order)
    # No slice left out could have contributed more than the last one listed (or, with
    # fewer than three listed, anything at all).
    listed = {(c["dimension"], c["value"]) for c in found}
    floor = found[-1]["contribution"] if len(found) == 3 else 0.0
    assert all(span[0] <= floor for key, (*_, span) in spans.items() if key not in listed)
    assert len(found) <= 3


async def test_latency_causes_weigh_each_slice_by_its_share(gql, now):
    def slow_tail(i):
        return (60.0 + i) * (8 if i % 10 < 3 else 1)

    now_rows = (
        request_block(now, NOW_AGE, 140, latency=lambda i: 50.0 + i, region="us-east")
        + request_block(now, NOW_AGE, 40, latency=slow_tail, region="ap-south")
        + request_block(now, NOW_AGE, 20, latency=lambda i: 150.0 + 10 * i, region="sa-east")
    )
    then_rows = request_block(
        now, THEN_AGE, 140, latency=lambda i: 50.0 + i, region="us-east"
    ) + request_block(now, THEN_AGE, 60, latency=lambda i: 60.0 + i, region="ap-south")
    await ingest_api_requests(gql, now_rows + then_rows, now)

    [insight] = (await gql(ENDPOINT_INSIGHTS, {"name": "/api/orders"}, now=now))["endpoint"][
        "insights"
    ]

    current, baseline = p95_latency(now_rows), p95_latency(then_rows)
    found = insight["causes"]
    check_percentile_causes(found, now_rows, then_rows, ENDPOINT_DIMENSIONS, p95_latency)
    # The whole-entity STATUS_CODE 200 slice leads the list but is no place to look at.
    whole, top = found[:2]
    assert (whole["dimension"], whole["value"], whole["share"]) == ("STATUS_CODE", "200", 1.0)
    assert (top["dimension"], top["value"]) == ("REGION", "ap-south")
    change = insight["change"]
    assert within(change, change_span(current, baseline))
    # The words are templates over the numbers the insight carries.
    moved = f"went from {ms(top['baseline'])} to {ms(top['current'])}"
    assert insight | {"causes": None} == {
        "target": "ENDPOINT",
        "targetId": "/api/orders",
        "measure": "p95LatencyMs",
        "direction": "REGRESSION",
        "severity": "CRITICAL" if change >= 1 else "WARNING" if change >= 0.5 else "INFO",
        "current": approx_percentile(current),
        "baseline": approx_percentile(baseline),
        "change": change,
        "causes": None,
        "message": f"p95 latency rose from {ms(insight['baseline'])} to {ms(insight['current'])} "
        f"({change * 100:+.0f}%); REGION ap-south ({top['share'] * 100:.0f}% of requests) "
        f"{moved}.",
        "recommendation": f"Profile REGION ap-south first (its p95 latency {moved}): "
        "check the routing and upstream providers that serve ap-south.",
    }


async def test_product_insight_names_the_device_to_test_first(gql, now):
    def events(age, count, device, load):
        return [
            product_event(
                now - age - timedelta(seconds=i),
                deviceType=device,
                source="web" if device == "desktop" else "ios",
                pageLoadTimeMs=load(i),
                country=("US", "DE", "IN", "BR")[i % 4],
            )
            for i in range(count)
        ]

    # One mobile page load in five got slow; mobile pages used to be the fastest.
    now_rows = events(NOW_AGE, 120, "desktop", lambda i: 400.0) + events(
        NOW_AGE, 80, "mobile", lambda i: 1000.0 + 10 * i if i % 5 == 0 else 300.0
    )
    then_rows = events(THEN_AGE, 120, "desktop", lambda i: 400.0) + events(
        THEN_AGE, 80, "mobile", lambda i: 300.0
    )
    await ingest_product_events(gql, now_rows + then_rows, now)

    query = product_query(f"insights {{ {INSIGHT_FIELDS} }}")
    [insight] = (await gql(query, {"id": "shop"}, now=now))["product"]["insights"]

    def p95_load(rows):
        return percentile_cont([r["pageLoadTimeMs"] for r in rows], 0.95)

    current, baseline = p95_load(now_rows), p95_load(then_rows)
    found = insight["causes"]
    check_percentile_causes(found, now_rows, then_rows, PRODUCT_DIMENSIONS, p95_load)
    assert [(c["dimension"], c["value"]) for c in found] == [
        ("EVENT_TYPE", "page_view"),
        ("DEVICE_TYPE", "mobile"),
        ("SOURCE", "ios"),
    ]
    mobile = found[1]
    change = insight["change"]
    assert within(change, change_span(current, baseline))
    assert (insight["target"], insight["measure"]) == ("PRODUCT", "p95PageLoadTimeMs")
    assert (insight["current"], insight["baseline"]) == (
        approx_percentile(current),
        approx_percentile(baseline),
    )
    # The words are templates over the numbers the insight carries.
    moved = f"DEVICE_TYPE mobile went from {ms(mobile['baseline'])} to {ms(mobile['current'])}"
    assert insight["message"] == (
        f"p95 page load time rose from {ms(insight['baseline'])} to {ms(insight['current'])} "
        f"({change * 100:+.0f}%); "
        f"DEVICE_TYPE mobile (40% of events) {moved.removeprefix('DEVICE_TYPE mobile ')}."
    )
    assert insight["recommendation"] == f"Test on mobile first: the p95 page load time of {moved}."


WORDS = endpoint_query("insights { direction severity message recommendation }")


def rate_words(direction, severity, now_rows, then_rows, where, recommendation):
    """The expected words of an errorRate insight over the rows."""
    current, baseline = error_rate_of(now_rows, failed), error_rate_of(then_rows, failed)
    verb = "rose" if direction == "REGRESSION" else "fell"
    return {
        "direction": direction,
        "severity": severity,
        "message": f"Error rate {verb} from {baseline * 100:.1f}% to {current * 100:.1f}% "
        f"({(current / baseline - 1) * 100:+.0f}%); {where}.",
        "recommendation": recommendation,
    }


async def test_an_even_rise_names_no_slice_and_points_at_a_deploy(gql, now):
    regions = ("ap-south", "eu-west", "sa-east", "us-east")
    now_rows = [r for g in regions for r in request_block(now, NOW_AGE, 50, 12, region=g)]
    then_rows = [r for g in regions for r in request_block(now, THEN_AGE, 50, 4, region=g)]
    await ingest_api_requests(gql, now_rows + then_rows, now)
    [insight] = (await gql(WORDS, {"name": "/api/orders"}, now=now))["endpoint"]["insights"]
    assert insight == rate_words(
        "REGRESSION",
        "CRITICAL",
        now_rows,
        then_rows,
        "no single slice explains it",
        "No single slice explains it: look at a recent deploy "
        "(the most common failure now is TIMEOUT).",
    )


async def test_an_improvement_is_info_and_names_what_to_keep(gql, now):
    now_rows = request_block(now, NOW_AGE, 100, 2, region="ap-south") + request_block(
        now, NOW_AGE, 100, 2, region="us-east"
    )
    then_rows = request_block(now, THEN_AGE, 100, 30, region="ap-south") + request_block(
        now, THEN_AGE, 100, 2, region="us-east"
    )
    await ingest_api_requests(gql, now_rows + then_rows, now)
    [insight] = (await gql(WORDS, {"name": "/api/orders"}, now=now))["endpoint"]["insights"]
    # ap-south: (2/200 - 30/200) / (current - baseline) = 1
    assert insight == rate_words(
        "IMPROVEMENT",
        "INFO",
        now_rows,
        then_rows,
        "REGION ap-south explains 100% of the fall",
        "Nothing to fix: note what changed in REGION ap-south so the gain holds.",
    )
